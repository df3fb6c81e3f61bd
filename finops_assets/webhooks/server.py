"""Run the webhook receiver under uvicorn (`finops-assets serve-webhooks`)."""

import logging
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


log = logging.getLogger("finops_assets.webhooks")


def startup_lines(secrets: dict[str, str | None], events_dir: Path) -> list[str]:
    """What the receiver says on start: which sources can be verified (names only, never a value)
    and where accepted deployments go."""
    configured = [s for s, secret in secrets.items() if secret]
    missing = [f"{s} (set {SECRET_ENV[s]})" for s, secret in secrets.items() if not secret]
    return [
        f"webhook secrets configured for: {', '.join(configured) or 'none'}",
        *([f"without a secret, answering 503: {', '.join(missing)}"] if missing else []),
        f"writing accepted deployments to {events_dir}/webhook-*.jsonl (replay markers in {events_dir}/.deliveries/)",
    ]


def serve(data_dir: Path, host: str = "127.0.0.1", port: int = 8088) -> None:
    store = DeploymentEventStore(Path(data_dir) / "deployments")
    secrets = secrets_from_env()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for line in startup_lines(secrets, store.events_dir.resolve()):
        log.info(line)
    app = create_app(store, secrets)
    uvicorn.run(app, host=host, port=port, proxy_headers=False)
