"""Run the webhook receiver under uvicorn (`finops-assets serve-webhooks`)."""

import os
from pathlib import Path

import uvicorn

from finops_assets.lib.deployments.event_store import DeploymentEventStore
from finops_assets.webhooks.app import create_app

SECRET_ENV = {
    "github": "FINOPS_GITHUB_WEBHOOK_SECRET",
    "argocd": "FINOPS_ARGOCD_WEBHOOK_SECRET",
    "circleci": "FINOPS_CIRCLECI_WEBHOOK_SECRET",
}


def secrets_from_env(environ=os.environ) -> dict[str, str | None]:
    # An unset or empty variable leaves that source unconfigured: its route answers 503.
    return {source: (environ.get(name) or None) for source, name in SECRET_ENV.items()}


def serve(data_dir: Path, host: str = "127.0.0.1", port: int = 8088) -> None:
    app = create_app(DeploymentEventStore(Path(data_dir) / "deployments"), secrets_from_env())
    uvicorn.run(app, host=host, port=port, proxy_headers=False)
