"""deployment_event_sensor: cursor semantics, and a webhook all the way to a correlation."""

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import dagster as dg
import httpx
import pytest

from finops_assets.cli import main
from finops_assets.defs.deployments.sensors import deployment_event_sensor
from finops_assets.lib.deployments.cursor import next_cursor
from finops_assets.lib.deployments.event_store import DeploymentEventStore
from finops_assets.resources.settings import FinopsSettings
from finops_assets.webhooks.app import create_app
from finops_assets_tests.webhooks.test_receiver import running
from finops_devtools.sample.generator import generate_sample

SECRET = "test-webhook-secret"


def name(moment: datetime, digest: str) -> str:
    return f"webhook-{moment:%Y%m%dT%H%M%S%f}Z-{digest}.jsonl"


def test_cursor_never_skips_a_file_that_lands_behind_a_newer_one_nor_repeats_one():
    t0 = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    a, b, late = name(t0, "a" * 16), name(t0 + timedelta(seconds=2), "b" * 16), name(t0 + timedelta(seconds=1), "c" * 16)
    new, cursor = next_cursor({}, [a, b])
    assert new == [a, b]
    new, cursor = next_cursor(json.loads(json.dumps(cursor)), [a, late, b])  # restart: cursor is JSON
    assert new == [late]
    new, cursor = next_cursor(cursor, [a, late, b])
    assert new == []
    much_later = name(t0 + timedelta(hours=1), "d" * 16)
    new, cursor = next_cursor(cursor, [a, late, b, much_later])
    assert new == [much_later] and cursor["boundary"] >= b and much_later in cursor["seen"]


@pytest.fixture
def env(monkeypatch):
    for var in ("FINOPS_DATA_DIR", "FINOPS_WAREHOUSE", "DAGSTER_HOME", "ANTHROPIC_API_KEY", "GITHUB_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


def test_webhook_for_a_late_deployment_becomes_a_correlation_in_one_sensor_tick(tmp_path, env):
    data, warehouse = tmp_path / "data", tmp_path / "warehouse" / "finops.duckdb"
    generate_sample(data, seed=11, days=45, resources=30)
    truth = json.loads((data / "ground_truth.json").read_text())
    event = next(e for e in truth["events"] if e["expected_outcome"] == "deployment_found"
                 and e["cause"] == "deployment_correlation")
    # The causing deployment has not arrived yet: take it out of the store.
    path = data / "deployments" / "deployments.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    deployment = next(d for d in lines if d["id"] == event["deployment_id"])
    path.write_text("".join(json.dumps(d) + "\n" for d in lines if d["id"] != event["deployment_id"]))
    assert main(["run", "--data-dir", str(data), "--warehouse", str(warehouse)]) == 0

    # GitHub Actions reports the deployment to the running receiver.
    org, repo = deployment["repository"].split("/")
    payload = {
        "action": "created",
        "deployment_status": {"state": "success", "environment": "production", "created_at": deployment["deployed_at"],
                              "target_url": "https://ci.example/run/1", "creator": {"login": "github-actions[bot]"}},
        "deployment": {"id": 777, "sha": deployment["commit_sha"], "ref": "main", "environment": "production",
                       "creator": {"login": deployment["triggered_by"]}, "created_at": deployment["deployed_at"]},
        "workflow_run": {"id": 1, "head_commit": {"id": deployment["commit_sha"], "message": deployment["commit_message"]}},
        "repository": {"name": repo, "full_name": deployment["repository"], "default_branch": "main",
                       "owner": {"login": org}},
    }
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    store = DeploymentEventStore(data / "deployments")
    with running(create_app(store, {"github": SECRET, "argocd": None, "circleci": None})) as url:
        bad = httpx.post(f"{url}/webhooks/github", content=body, headers={
            "X-GitHub-Event": "deployment_status", "X-GitHub-Delivery": "d-0", "X-Hub-Signature-256": "sha256=" + "0" * 64,
            "Content-Type": "application/json"})
        assert bad.status_code == 401
        good = httpx.post(f"{url}/webhooks/github", content=body, headers={
            "X-GitHub-Event": "deployment_status", "X-GitHub-Delivery": "d-1", "X-Hub-Signature-256": signature,
            "Content-Type": "application/json"})
        assert good.status_code == 201, good.text

    env.setenv("FINOPS_DATA_DIR", str(data))
    env.setenv("FINOPS_WAREHOUSE", str(warehouse))
    from finops_assets.definitions import defs

    definitions = defs()
    settings = {"settings": FinopsSettings(data_dir=str(data))}
    with dg.instance_for_test() as instance:
        with dg.build_sensor_context(instance=instance, resources=settings) as context:
            result = deployment_event_sensor(context)
        assert len(result.run_requests) == 1
        # Evaluated again from the same cursor (a restart), it asks for the same run key: no second run.
        with dg.build_sensor_context(instance=instance, resources=settings) as context:
            again = deployment_event_sensor(context)
        assert again.run_requests[0].run_key == result.run_requests[0].run_key
        with dg.build_sensor_context(instance=instance, cursor=result.cursor, resources=settings) as context:
            assert not deployment_event_sensor(context).run_requests
        job = definitions.resolve_job_def("correlate_new_deployments")
        assert job.execute_in_process(instance=instance, tags=result.run_requests[0].tags).success
    import duckdb

    conn = duckdb.connect(str(warehouse.with_name("finops.writer.duckdb")), read_only=True)
    found = conn.execute("select c.outcome, c.commit_sha, r.path from correlated_deployments c "
                         "join routing_decisions r using (anomaly_id) join cost_anomalies a using (anomaly_id) "
                         "where a.resource_id = $r and c.rank = 1", {"r": event["resource_ids"][0]}).fetchall()
    analysed = conn.execute("select offending_file from diff_analyses where commit_sha = $s",
                            {"s": deployment["commit_sha"]}).fetchall()
    conn.close()
    assert ("deployment_found", deployment["commit_sha"], "deployment_correlation") in found
    assert (event["offending_file"],) in analysed
