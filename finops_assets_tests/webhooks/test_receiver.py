"""The webhook receiver end to end: the real Starlette app under uvicorn on 127.0.0.1, real HTTP
requests signed like GitHub, Argo CD (via its signing relay) and CircleCI sign them, and the event
store's files checked on disk and through the side-input loader."""

import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn

from finops_assets.lib.deployments.event_store import DeploymentEventStore, id_digest
from finops_assets.lib.deployments.events import CONTRACT_FIELDS
from finops_assets.lib.inputs.side_inputs import SIDE_INPUTS, parse_side_input
from finops_assets.webhooks.app import create_app
from finops_assets.webhooks.server import secrets_from_env

SECRETS = {"github": "gh-secret", "argocd": "argo-secret", "circleci": "cci-secret"}
NOW = datetime(2026, 7, 1, 12, 0, 0, tzinfo=UTC)
SHA = "3471aafcc49cfd66abc0bfe2f90750d312ef2342"


# ---- server ---------------------------------------------------------------------------------

class Clock:
    """The app's clock, fixed so replay windows are deterministic; tests may move it."""

    def __init__(self, now: datetime = NOW):
        self.now = now.timestamp()

    def __call__(self) -> float:
        return self.now


@contextmanager
def running(app):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(5)
        sock.close()


class Receiver:
    def __init__(self, base_url: str, data_dir: Path, store: DeploymentEventStore, clock: Clock):
        self.data_dir, self.store, self.clock = data_dir, store, clock
        self.http = httpx.Client(base_url=base_url, timeout=10)

    def files(self) -> list[Path]:
        return sorted((self.data_dir / "deployments").glob("webhook-*.jsonl"))

    def all_files(self) -> list[str]:
        folder = self.data_dir / "deployments"
        return sorted(p.name for p in folder.iterdir()) if folder.exists() else []

    # GitHub: X-Hub-Signature-256 over the raw body.
    def github(self, event: str, payload, delivery: str, secret: str = SECRETS["github"], raw: bytes | None = None,
               signature: str | None = None) -> httpx.Response:
        body = raw if raw is not None else json.dumps(payload).encode()
        headers = {"X-GitHub-Event": event, "X-GitHub-Delivery": delivery, "Content-Type": "application/json",
                   "X-Hub-Signature-256": signature or "sha256=" + _hmac(secret, body)}
        return self.http.post("/webhooks/github", content=body, headers=headers)

    # Argo CD via its signing relay: sha256 HMAC of "<timestamp>.<body>".
    def argocd(self, payload, timestamp: int | None = None, secret: str = SECRETS["argocd"],
               raw: bytes | None = None) -> httpx.Response:
        body = raw if raw is not None else json.dumps(payload).encode()
        ts = str(int(self.clock.now) if timestamp is None else timestamp)
        headers = {"X-Argo-Timestamp": ts, "X-Argo-Signature": "sha256=" + _hmac(secret, ts.encode() + b"." + body),
                   "Content-Type": "application/json"}
        return self.http.post("/webhooks/argocd", content=body, headers=headers)

    # CircleCI: circleci-signature: v1=<hex HMAC of the body>.
    def circleci(self, payload, secret: str = SECRETS["circleci"], raw: bytes | None = None) -> httpx.Response:
        body = raw if raw is not None else json.dumps(payload).encode()
        headers = {"circleci-signature": "v1=" + _hmac(secret, body), "circleci-event-type": "workflow-completed",
                   "Content-Type": "application/json", "User-Agent": "CircleCI-Webhook/1.0"}
        return self.http.post("/webhooks/circleci", content=body, headers=headers)


def _hmac(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class SwappableApp:
    """One uvicorn server for the module (starting and stopping one costs ~0.15 s); each test
    mounts a fresh app with its own store and clock behind it."""

    app = None

    async def __call__(self, scope, receive, send):
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def server():
    mount = SwappableApp()
    with running(mount) as url:
        yield mount, url


@pytest.fixture
def receiver(server, tmp_path):
    mount, url = server
    data_dir = tmp_path / "data"
    store, clock = DeploymentEventStore(data_dir / "deployments"), Clock()
    mount.app = create_app(store, dict(SECRETS), replay_window_seconds=300, clock=clock)
    client = Receiver(url, data_dir, store, clock)
    yield client
    client.http.close()


# ---- realistic payloads (trimmed to the fields a receiver reads, plus some it does not) ---------

def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


REPOSITORY = {"id": 81123, "name": "checkout", "full_name": "acme/checkout", "private": True,
              "default_branch": "main", "html_url": "https://github.com/acme/checkout",
              "owner": {"login": "acme", "type": "Organization"}}


def gh_deployment_status(deployment_id: int = 145988746, environment: str = "production",
                         state: str = "success", sha: str = SHA) -> dict:
    return {
        "action": "created",
        "deployment_status": {
            "url": f"https://api.github.com/repos/acme/checkout/deployments/{deployment_id}/statuses/1",
            "id": 1, "node_id": "DES_kwDOA", "state": state, "environment": environment,
            "creator": {"login": "github-actions[bot]"}, "description": "Deployment finished",
            "target_url": "https://github.com/acme/checkout/actions/runs/9001",
            "log_url": "https://github.com/acme/checkout/actions/runs/9001/job/1",
            "created_at": _iso(NOW - timedelta(minutes=2)), "updated_at": _iso(NOW - timedelta(minutes=1)),
        },
        "deployment": {
            "url": f"https://api.github.com/repos/acme/checkout/deployments/{deployment_id}",
            "id": deployment_id, "node_id": "DE_kwDOA", "task": "deploy", "sha": sha, "ref": "main",
            "environment": environment, "payload": {}, "original_environment": environment,
            "creator": {"login": "alice"}, "created_at": _iso(NOW - timedelta(minutes=5)),
        },
        "workflow_run": {"id": 9001, "html_url": "https://github.com/acme/checkout/actions/runs/9001",
                         "head_commit": {"id": sha, "message": "Cache product lookups"}},
        "repository": dict(REPOSITORY),
        "sender": {"login": "alice"},
    }


def gh_workflow_run(run_id: int = 9002, action: str = "completed", conclusion: str | None = "success",
                    name: str = "Deploy production", branch: str = "main") -> dict:
    return {
        "action": action,
        "workflow_run": {
            "id": run_id, "name": name, "path": ".github/workflows/release.yml", "display_title": "Release",
            "run_number": 412, "run_attempt": 1, "event": "push", "status": "completed" if conclusion else "in_progress",
            "conclusion": conclusion, "head_branch": branch, "head_sha": SHA,
            "head_commit": {"id": SHA, "message": "Tune connection pool\n\nSigned-off-by: bob",
                            "author": {"name": "Bob"}},
            "html_url": f"https://github.com/acme/checkout/actions/runs/{run_id}",
            "created_at": _iso(NOW - timedelta(minutes=9)), "updated_at": _iso(NOW - timedelta(minutes=1)),
            "run_started_at": _iso(NOW - timedelta(minutes=9)),
            "actor": {"login": "bob"}, "triggering_actor": {"login": "bob"},
        },
        "workflow": {"id": 161335, "name": name, "path": ".github/workflows/release.yml"},
        "repository": dict(REPOSITORY),
        "sender": {"login": "bob"},
    }


def argocd_payload(app: str = "payments-api", sync: str = "Succeeded", health: str = "Healthy",
                   environment: str = "production", finished_at: datetime = NOW - timedelta(seconds=30),
                   revision: str = SHA) -> dict:
    """The body the module docstring's notification template renders to."""
    return {
        "app": app, "revision": revision, "syncStatus": sync, "health": health, "environment": environment,
        "destination": {"name": "in-cluster", "server": "https://kubernetes.default.svc", "namespace": "payments"},
        "repoURL": "https://github.com/acme/payments-deploy.git", "targetRevision": "main",
        "finishedAt": _iso(finished_at), "commitMessage": "Bump payments-api to 2.14.0", "author": "Carol <carol@acme.example>",
        "url": f"https://argocd.acme.example/applications/{app}",
    }


def circleci_payload(event_id: str = "3888f21b-eaa7-38e3-8f3d-75a63bba8895",
                     workflow_id: str = "fda08377-fe7e-46b1-8992-3a7aaecac9c3", status: str = "success",
                     name: str = "build-test-deploy", branch: str = "main", event_type: str = "workflow-completed",
                     happened_at: datetime = NOW - timedelta(seconds=20)) -> dict:
    return {
        "type": event_type, "id": event_id, "happened_at": happened_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z",
        "webhook": {"id": "cf8c4fdd-0587-4da1-b4ca-4846e9640af9", "name": "finops deployments"},
        "workflow": {"id": workflow_id, "name": name, "status": status,
                     "created_at": _iso(NOW - timedelta(minutes=6)), "stopped_at": _iso(NOW - timedelta(seconds=25)),
                     "url": f"https://app.circleci.com/pipelines/github/acme/search/130/workflows/{workflow_id}"},
        "pipeline": {
            "id": "1285fe1d-d3a6-44fc-8886-8979558254c4", "number": 130, "created_at": _iso(NOW - timedelta(minutes=6)),
            "trigger": {"type": "webhook"}, "trigger_parameters": {},
            "vcs": {"provider_name": "github", "origin_repository_url": "https://github.com/acme/search",
                    "target_repository_url": "https://github.com/acme/search", "revision": SHA, "branch": branch,
                    "commit": {"subject": "Shrink index shards", "body": "",
                               "author": {"name": "Dana", "email": "dana@acme.example"},
                               "authored_at": _iso(NOW - timedelta(minutes=20))}},
        },
        "project": {"id": "84996744-a854-4f5e-aea3-04e2851dc1d2", "name": "search", "slug": "github/acme/search"},
        "organization": {"id": "f22b6566-597d-46d5-ba74-99ef5bb3d85c", "name": "acme"},
    }


def _only_event(receiver: Receiver) -> dict:
    files = receiver.files()
    assert len(files) == 1, receiver.all_files()
    lines = files[0].read_text().splitlines()
    assert len(lines) == 1
    return json.loads(lines[0])


# ---- accepted deliveries --------------------------------------------------------------------

def test_github_deployment_status_is_stored_in_the_contract_and_loads(receiver):
    response = receiver.github("deployment_status", gh_deployment_status(), delivery="d-1")
    assert response.status_code == 201, response.text
    assert response.json() == {"status": "stored", "id": "github-deployment-acme/checkout-145988746"}

    [path] = receiver.files()
    assert path.name.endswith(f"-{id_digest('github-deployment-acme/checkout-145988746')}.jsonl")
    event = _only_event(receiver)
    assert set(event) == set(CONTRACT_FIELDS)
    assert event == {
        "id": "github-deployment-acme/checkout-145988746", "deployed_at": "2026-07-01T11:58:00Z", "service_name": "checkout",
        "environment": "production", "commit_sha": SHA, "commit_message": "Cache product lookups", "branch": "main",
        "repository": "acme/checkout", "ci_system": "github_actions", "triggered_by": "alice",
        "pipeline_url": "https://github.com/acme/checkout/actions/runs/9001/job/1"}
    # Nothing but the event file and the store's own dot-files in the loader's folder.
    assert [n for n in receiver.all_files() if not n.startswith(".")] == [path.name]

    parsed = parse_side_input(receiver.data_dir, SIDE_INPUTS["deployment_events"])
    assert parsed.rejected == [] and [r["id"] for r in parsed.rows] == ["github-deployment-acme/checkout-145988746"]
    assert receiver.store.list_events() == [(path.name, event)]


def test_github_workflow_run_and_ping(receiver):
    assert receiver.github("ping", {"zen": "Design for failure.", "hook_id": 1}, delivery="p-1").status_code == 200
    response = receiver.github("workflow_run", gh_workflow_run(), delivery="w-1")
    assert response.status_code == 201, response.text
    event = _only_event(receiver)
    assert (event["id"], event["ci_system"], event["environment"], event["branch"]) == (
        "github-run-9002-1", "github_actions", "production", "main")
    assert event["commit_message"].startswith("Tune connection pool") and event["triggered_by"] == "bob"


def test_argocd_sync_is_stored(receiver):
    response = receiver.argocd(argocd_payload())
    assert response.status_code == 201, response.text
    event = _only_event(receiver)
    assert (event["ci_system"], event["service_name"], event["repository"], event["commit_sha"]) == (
        "argocd", "payments-api", "acme/payments-deploy", SHA)
    assert event["deployed_at"] == "2026-07-01T11:59:30Z"


def test_circleci_workflow_is_stored(receiver):
    response = receiver.circleci(circleci_payload())
    assert response.status_code == 201, response.text
    event = _only_event(receiver)
    assert event == {
        "id": "circleci-fda08377-fe7e-46b1-8992-3a7aaecac9c3", "deployed_at": "2026-07-01T11:59:35Z",
        "service_name": "search", "environment": "production", "commit_sha": SHA,
        "commit_message": "Shrink index shards", "branch": "main", "repository": "acme/search",
        "ci_system": "circleci", "triggered_by": "Dana",
        "pipeline_url": "https://app.circleci.com/pipelines/github/acme/search/130/workflows/"
                        "fda08377-fe7e-46b1-8992-3a7aaecac9c3"}
    assert parse_side_input(receiver.data_dir, SIDE_INPUTS["deployment_events"]).rejected == []


# ---- authentication -------------------------------------------------------------------------

def test_bad_or_missing_signatures_are_401_and_write_nothing(receiver):
    assert receiver.github("deployment_status", gh_deployment_status(), "d-1", secret="wrong").status_code == 401
    assert receiver.github("deployment_status", gh_deployment_status(), "d-2", signature="sha1=abc").status_code == 401
    unsigned = receiver.http.post("/webhooks/github", json=gh_deployment_status(),
                                  headers={"X-GitHub-Event": "deployment_status", "X-GitHub-Delivery": "d-3"})
    assert unsigned.status_code == 401 and "X-Hub-Signature-256" in unsigned.json()["error"]
    assert receiver.argocd(argocd_payload(), secret="wrong").status_code == 401
    assert receiver.circleci(circleci_payload(), secret="wrong").status_code == 401
    # A body altered after signing is refused too.
    body = json.dumps(gh_deployment_status()).encode()
    tampered = receiver.github("deployment_status", None, "d-4", raw=body.replace(b"alice", b"mallory"),
                               signature="sha256=" + _hmac(SECRETS["github"], body))
    assert tampered.status_code == 401
    assert receiver.files() == []
    # The rejected deliveries were not marked as seen: the genuine ones still go through.
    assert receiver.github("deployment_status", gh_deployment_status(), "d-1").status_code == 201


def test_unconfigured_secret_is_503(server, tmp_path):
    mount, url = server
    store = DeploymentEventStore(tmp_path / "data" / "deployments")
    mount.app = create_app(store, {"github": None, "argocd": "", "circleci": None}, clock=Clock())
    client = Receiver(url, tmp_path / "data", store, Clock())
    assert client.github("deployment_status", gh_deployment_status(), "d-1").status_code == 503
    assert client.argocd(argocd_payload()).status_code == 503
    response = client.circleci(circleci_payload())
    assert response.status_code == 503 and "not configured" in response.json()["error"]
    assert client.http.get("/healthz").status_code == 200
    assert client.files() == []
    client.http.close()


# ---- replay protection ----------------------------------------------------------------------

def test_replayed_github_delivery_is_409(receiver):
    assert receiver.github("deployment_status", gh_deployment_status(), "d-1").status_code == 201
    replay = receiver.github("deployment_status", gh_deployment_status(), "d-1")
    assert replay.status_code == 409 and "replay" in replay.json()["error"]
    # Ignored deliveries count as handled too.
    assert receiver.github("push", {"ref": "refs/heads/main"}, "d-2").status_code == 202
    assert receiver.github("push", {"ref": "refs/heads/main"}, "d-2").status_code == 409
    assert len(receiver.files()) == 1


def test_failed_delivery_is_not_marked_seen_so_the_sender_can_retry(receiver):
    assert receiver.github("deployment_status", None, "d-1", raw=b'{"deployment": ').status_code == 400
    broken = gh_deployment_status()
    del broken["deployment"]["sha"]
    assert receiver.github("deployment_status", broken, "d-1").status_code == 422
    assert receiver.github("deployment_status", gh_deployment_status(), "d-1").status_code == 201


def test_circleci_replays_and_stale_events_are_409(receiver):
    assert receiver.circleci(circleci_payload()).status_code == 201
    replay = receiver.circleci(circleci_payload())
    assert replay.status_code == 409 and "replay" in replay.json()["error"]
    stale = receiver.circleci(circleci_payload(event_id="e-2", workflow_id="w-2",
                                               happened_at=NOW - timedelta(seconds=301)))
    assert stale.status_code == 409 and "replay window" in stale.json()["error"]
    assert len(receiver.files()) == 1


def test_argocd_stale_timestamp_and_repeated_signature_are_409(receiver):
    now = int(receiver.clock.now)
    stale = receiver.argocd(argocd_payload(), timestamp=now - 301)
    assert stale.status_code == 409 and "replay window" in stale.json()["error"]
    future = receiver.argocd(argocd_payload(), timestamp=now + 301)
    assert future.status_code == 409
    assert receiver.files() == []
    assert receiver.argocd(argocd_payload(), timestamp=now - 10).status_code == 201
    repeated = receiver.argocd(argocd_payload(), timestamp=now - 10)
    assert repeated.status_code == 409 and "replay" in repeated.json()["error"]
    # Later, the same timestamp falls out of the window as well.
    receiver.clock.now += 600
    assert receiver.argocd(argocd_payload(app="other"), timestamp=now).status_code == 409
    assert len(receiver.files()) == 1


# ---- malformed and incomplete requests ------------------------------------------------------

def test_malformed_json_is_400(receiver):
    for response in (
        receiver.github("deployment_status", None, "d-1", raw=b"{not json"),
        receiver.argocd(None, raw=b"[1, 2"),
        receiver.circleci(None, raw=b"\xff\xfe"),
        receiver.circleci(None, raw=b'["a list"]'),
    ):
        assert response.status_code == 400, response.text
        assert "malformed JSON" in response.json()["error"]
    assert receiver.files() == []


@pytest.mark.parametrize(("send", "field"), [
    (lambda r: r.github("deployment_status", _without(gh_deployment_status(), "deployment", "sha"), "d-1"),
     "deployment.sha"),
    (lambda r: r.github("deployment_status", _without(gh_deployment_status(), "deployment_status", "state"), "d-1"),
     "deployment_status.state"),
    (lambda r: r.github("workflow_run", _without(gh_workflow_run(), "repository", "default_branch"), "d-1"),
     "repository.default_branch"),
    (lambda r: r.argocd(_without(argocd_payload(), "revision")), "revision"),
    (lambda r: r.argocd(argocd_payload(revision="1.4.2")), "revision"),
    (lambda r: r.circleci(_without(circleci_payload(), "happened_at")), "happened_at"),
    (lambda r: r.circleci(_without(circleci_payload(), "pipeline", "vcs", "revision")), "pipeline.vcs.revision"),
])
def test_missing_or_invalid_field_is_422_naming_it(receiver, send, field):
    response = send(receiver)
    assert response.status_code == 422, response.text
    assert response.json()["error"].startswith(field + ":")
    assert receiver.files() == []


def _without(payload: dict, *path: str) -> dict:
    node = payload
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return payload


def test_oversized_body_is_413_and_writes_nothing(receiver):
    padded = gh_deployment_status()
    padded["deployment"]["description"] = "x" * (1024 * 1024)
    response = receiver.github("deployment_status", padded, "d-1")
    assert response.status_code == 413
    # Without a declared length (chunked upload) the streamed size is enforced as well.
    body = json.dumps(padded).encode()
    chunked = receiver.http.post(
        "/webhooks/github", content=(body[i:i + 65536] for i in range(0, len(body), 65536)),
        headers={"X-GitHub-Event": "deployment_status", "X-GitHub-Delivery": "d-2",
                 "X-Hub-Signature-256": "sha256=" + _hmac(SECRETS["github"], body)})
    assert chunked.status_code == 413
    assert receiver.files() == []


# ---- filtering ------------------------------------------------------------------------------

@pytest.mark.parametrize("send", [
    lambda r: r.github("deployment_status", gh_deployment_status(environment="staging"), "d-1"),
    lambda r: r.github("deployment_status", gh_deployment_status(state="failure"), "d-1"),
    lambda r: r.github("workflow_run", gh_workflow_run(conclusion="failure"), "d-1"),
    lambda r: r.github("workflow_run", gh_workflow_run(action="requested", conclusion=None), "d-1"),
    lambda r: r.github("workflow_run", gh_workflow_run(branch="feature/cache"), "d-1"),
    lambda r: r.github("workflow_run", _renamed(gh_workflow_run(name="Unit tests"), ".github/workflows/ci.yml"), "d-1"),
    lambda r: r.github("check_suite", {"action": "completed"}, "d-1"),
    lambda r: r.argocd(argocd_payload(environment="staging")),
    lambda r: r.argocd(argocd_payload(sync="Failed")),
    lambda r: r.argocd(argocd_payload(health="Degraded")),
    lambda r: r.circleci(circleci_payload(status="failed")),
    lambda r: r.circleci(circleci_payload(name="lint", branch="feature/x")),
    lambda r: r.circleci(circleci_payload(event_type="job-completed")),
])
def test_non_production_or_failed_deployments_are_ignored(receiver, send):
    response = send(receiver)
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "ignored" and response.json()["reason"]
    assert receiver.files() == []


def _renamed(payload: dict, path: str) -> dict:
    payload["workflow_run"]["path"] = payload["workflow"]["path"] = path
    return payload


def test_prod_environment_name_is_case_insensitive(receiver):
    assert receiver.github("deployment_status", gh_deployment_status(environment="Prod"), "d-1").status_code == 201
    assert _only_event(receiver)["environment"] == "production"


# ---- deduplication and concurrency ----------------------------------------------------------

def test_same_deployment_under_two_delivery_ids_is_stored_once(receiver):
    first = receiver.github("deployment_status", gh_deployment_status(), "d-1")
    second = receiver.github("deployment_status", gh_deployment_status(), "d-2")
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json() == {"status": "duplicate", "id": "github-deployment-acme/checkout-145988746"}
    assert receiver.circleci(circleci_payload(event_id="e-1")).status_code == 201
    assert receiver.circleci(circleci_payload(event_id="e-2")).status_code == 200  # same workflow, new event id
    assert len(receiver.files()) == 2


def test_concurrent_distinct_events_are_all_stored_once(receiver):
    def post(number: int) -> httpx.Response:
        return receiver.github("deployment_status", gh_deployment_status(deployment_id=1000 + number),
                               delivery=f"d-{number}")

    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(post, range(20)))
    assert [r.status_code for r in responses] == [201] * 20
    files = receiver.files()
    assert len(files) == 20
    ids = [json.loads(p.read_text())["id"] for p in files]
    assert sorted(ids) == sorted(f"github-deployment-acme/checkout-{1000 + n}" for n in range(20))
    assert not [n for n in receiver.all_files() if n.endswith(".partial")]
    parsed = parse_side_input(receiver.data_dir, SIDE_INPUTS["deployment_events"])
    assert len(parsed.rows) == 20 and parsed.duplicates_dropped == 0 and parsed.rejected == []


def test_concurrent_copies_of_one_event_are_stored_once(receiver):
    def post(number: int) -> httpx.Response:
        return receiver.github("deployment_status", gh_deployment_status(), delivery=f"copy-{number}")

    with ThreadPoolExecutor(max_workers=12) as pool:
        codes = sorted(r.status_code for r in pool.map(post, range(12)))
    assert codes == [200] * 11 + [201]
    assert len(receiver.files()) == 1


def test_healthz(receiver):
    assert receiver.http.get("/healthz").status_code == 200


# ---- the store on its own -------------------------------------------------------------------

def _event(event_id: str, **changes) -> dict:
    event = {"id": event_id, "deployed_at": "2026-07-01T10:00:00Z", "service_name": "checkout",
             "environment": "production", "commit_sha": SHA, "commit_message": "", "branch": "main",
             "repository": "acme/checkout", "ci_system": "github_actions", "triggered_by": "alice",
             "pipeline_url": ""}
    return event | changes


@pytest.mark.parametrize(("changes", "field"), [
    ({"service_name": ""}, "service_name"), ({"deployed_at": "2026-07-01 10:00"}, "deployed_at"),
    ({"commit_sha": "abc123"}, "commit_sha"), ({"repository": "checkout"}, "repository"),
    ({"branch": None}, "branch"),
])
def test_store_rejects_contract_violations_naming_the_field(tmp_path, changes, field):
    store = DeploymentEventStore(tmp_path / "deployments")
    with pytest.raises(ValueError, match=f"^{field}:"):
        store.append(_event("x", **changes))
    assert list(tmp_path.rglob("*.jsonl")) == []


def test_store_names_only_grow_so_a_cursor_never_skips(tmp_path):
    store = DeploymentEventStore(tmp_path / "deployments")
    assert store.append(_event("a"), received_at=NOW)
    assert store.append(_event("b"), received_at=NOW - timedelta(hours=1))  # the clock stepped back
    assert not store.append(_event("a"), received_at=NOW + timedelta(hours=1))
    names = [name for name, _ in store.list_events()]
    assert [event["id"] for _, event in store.list_events()] == ["a", "b"]
    assert [event["id"] for _, event in store.list_events(after=names[0])] == ["b"]
    assert store.list_events(after=names[1]) == []
    assert not store.seen_delivery("github", "../../etc/passwd")
    store.record_delivery("github", "../../etc/passwd")
    assert store.seen_delivery("github", "../../etc/passwd") and not store.seen_delivery("circleci", "../../etc/passwd")
    assert [p.parent.name for p in (tmp_path / "deployments").rglob("github-*")] == [".deliveries"]


def test_store_lock_admits_one_writer_per_id(tmp_path):
    # Released together, 16 writers of one id all race the check-then-write; the flock lets one in.
    stores = [DeploymentEventStore(tmp_path / "deployments") for _ in range(16)]
    barrier = threading.Barrier(len(stores))

    def write(store: DeploymentEventStore) -> bool:
        barrier.wait()
        return store.append(_event("same-id"))

    with ThreadPoolExecutor(max_workers=len(stores)) as pool:
        results = list(pool.map(write, stores))
    assert sorted(results) == [False] * 15 + [True]
    assert len(list((tmp_path / "deployments").glob("webhook-*.jsonl"))) == 1


def test_server_reads_secrets_from_the_environment():
    env = {"FINOPS_GITHUB_WEBHOOK_SECRET": "g", "FINOPS_CIRCLECI_WEBHOOK_SECRET": ""}
    assert secrets_from_env(env) == {"github": "g", "argocd": None, "circleci": None}


def test_serve_runs_the_receiver_on_the_data_folder(tmp_path):
    """serve() as `finops-assets serve-webhooks` runs it: secrets from the environment, events into
    <data_dir>/deployments/ where the loader reads them."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "FINOPS_GITHUB_WEBHOOK_SECRET": SECRETS["github"]}
    env.pop("FINOPS_CIRCLECI_WEBHOOK_SECRET", None)
    code = f"from pathlib import Path; from finops_assets.webhooks.server import serve; serve(Path({str(tmp_path)!r}), port={port})"
    process = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        client = Receiver(f"http://127.0.0.1:{port}", tmp_path, None, Clock())
        deadline = time.monotonic() + 5
        while True:
            try:
                if client.http.get("/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline, process.stderr.read().decode()
                time.sleep(0.05)
        assert client.github("deployment_status", gh_deployment_status(), "d-1").status_code == 201
        assert client.circleci(circleci_payload()).status_code == 503
        assert len(client.files()) == 1
        assert len(parse_side_input(tmp_path, SIDE_INPUTS["deployment_events"]).rows) == 1
        client.http.close()
    finally:
        process.terminate()
        process.wait(5)


# ---- names from outside ---------------------------------------------------------------------

HOSTILE_REPOSITORIES = ["../..", ".git/hooks", "acme/svc?x=1#", "acme/svc.git"]


@pytest.mark.parametrize("name", HOSTILE_REPOSITORIES)
def test_hostile_repository_names_are_422_and_write_nothing(receiver, name):
    status = gh_deployment_status()
    status["repository"]["full_name"] = name
    run = gh_workflow_run()
    run["repository"]["full_name"] = name
    responses = [receiver.github("deployment_status", status, "d-1"), receiver.github("workflow_run", run, "w-1")]
    if not name.endswith(".git"):  # in a URL, a '.git' suffix is the usual spelling, not part of the name
        circle = circleci_payload()
        circle["pipeline"]["vcs"]["target_repository_url"] = f"https://github.com/{name}"
        argo = argocd_payload()
        argo["repoURL"] = f"https://github.com/{name}"
        responses += [receiver.circleci(circle), receiver.argocd(argo)]
    for response in responses:
        assert response.status_code == 422, response.text
        assert response.json()["error"].startswith("repository"), response.text
    assert receiver.files() == []


# ---- hostile bodies and dates ---------------------------------------------------------------

def _nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


@pytest.mark.parametrize("depth", [100, 100_000])
def test_deeply_nested_json_is_400_on_every_route(receiver, depth):
    body = _nested(depth)
    for response in (receiver.github("deployment_status", None, "d-1", raw=body),
                     receiver.argocd(None, raw=body), receiver.circleci(None, raw=body)):
        assert response.status_code == 400, response.text
        assert "nested deeper than" in response.json()["error"]
    assert receiver.all_files() == []


def test_ordinary_nesting_is_accepted(receiver):
    status = gh_deployment_status()
    status["deployment"]["payload"] = {"a": {"b": {"c": {"d": {"e": ["f", {"g": 1}]}}}}}
    assert receiver.github("deployment_status", status, "d-1").status_code == 201


EXTREME_DATES = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00Z",
                 "1969-12-31T23:59:59Z", "2150-01-01T00:00:00Z"]


@pytest.mark.parametrize("moment", EXTREME_DATES)
def test_extreme_dates_are_422_naming_the_field(receiver, moment):
    status = gh_deployment_status()
    status["deployment_status"]["created_at"] = moment
    run = gh_workflow_run()
    run["workflow_run"]["updated_at"] = moment
    argo = argocd_payload()
    argo["finishedAt"] = moment
    stopped = circleci_payload()
    stopped["workflow"]["stopped_at"] = moment
    happened = circleci_payload(event_id="e-2")
    happened["happened_at"] = moment
    for response, field in ((receiver.github("deployment_status", status, "d-1"), "deployment_status.created_at"),
                            (receiver.github("workflow_run", run, "w-1"), "workflow_run.updated_at"),
                            (receiver.argocd(argo), "finishedAt"),
                            (receiver.circleci(stopped), "workflow.stopped_at")):
        assert response.status_code == 422, response.text
        assert response.json()["error"].startswith(field + ":"), response.text
    # happened_at decides freshness: an impossible one is 422, a merely old or future one 409.
    response = receiver.circleci(happened)
    assert response.status_code in (409, 422) and response.status_code != 500, response.text
    assert "happened_at" in response.json()["error"]
    assert receiver.files() == []


def test_circleci_events_dated_in_the_future_are_refused_like_stale_ones(receiver):
    future = receiver.circleci(circleci_payload(event_id="e-1", happened_at=NOW + timedelta(seconds=301)))
    assert future.status_code == 409 and "future" in future.json()["error"], future.text
    far = receiver.circleci(circleci_payload(event_id="e-2", happened_at=NOW + timedelta(days=3650)))
    assert far.status_code == 409
    assert receiver.files() == []
    # A little clock skew is fine.
    assert receiver.circleci(circleci_payload(event_id="e-3", happened_at=NOW + timedelta(seconds=30))).status_code == 201


def test_the_store_refuses_dates_outside_the_bounds(tmp_path):
    store = DeploymentEventStore(tmp_path / "deployments")
    for moment in ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"):
        with pytest.raises(ValueError, match="^deployed_at:"):
            store.append(_event("x", deployed_at=moment))
    assert list(tmp_path.rglob("*.jsonl")) == []
