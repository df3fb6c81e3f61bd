"""Webhook receiver: production deployments from GitHub, Argo CD and CircleCI into the event store.

Each route authenticates the sender, refuses replays, keeps only successful production deployments,
normalises them to the deployment event contract and appends them to DeploymentEventStore.

Responses (JSON): 201 {"status":"stored","id"} | 200 {"status":"duplicate","id"} (id already stored)
| 202 {"status":"ignored","reason"} (authentic, but not a production deployment) | 400 malformed JSON
(also: nested deeper than MAX_JSON_DEPTH) or missing protocol header | 401 missing/bad signature | 409
replayed or stale delivery | 413 body over 1 MiB | 422 a needed field is missing or the normalised
event breaks the one contract, lib/deployments/events.py `DeploymentEvent` (named in "error" and
"field" by the payload's path; a contract violation also gives "rule", the input_quarantine rule the
jsonl loader gives the same event, and "contract_field") | 503 secret not configured.
A delivery is recorded as seen only once it is stored or deliberately ignored, so a sender can retry
a delivery whose write failed (500).

GitHub (POST /webhooks/github): `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(body, secret)>`,
replay key `X-GitHub-Delivery`. Events: `deployment_status` (state "success", environment
production/prod), `workflow_run` (action "completed", conclusion "success", name or path matching
deploy_workflow_pattern, head_branch == repository.default_branch), `ping`; others are ignored.
Event ids are "github-deployment-<org/name>-<deployment.id>" (as the Deployments API poller makes
them) and "github-run-<run id>-<attempt>", so the same deployment delivered twice (two delivery ids)
is stored once.

Argo CD (POST /webhooks/argocd): Argo CD notifications' webhook service, template body:

    template.finops-deployment: |
      webhook:
        finops:
          method: POST
          path: /webhooks/argocd
          body: |
            {
              "app": "{{.app.metadata.name}}",
              "revision": "{{.app.status.operationState.syncResult.revision}}",
              "syncStatus": "{{.app.status.operationState.phase}}",
              "health": "{{.app.status.health.status}}",
              "environment": "{{index .app.metadata.labels "environment"}}",
              "destination": {"name": "{{.app.spec.destination.name}}",
                              "server": "{{.app.spec.destination.server}}",
                              "namespace": "{{.app.spec.destination.namespace}}"},
              "repoURL": "{{.app.spec.source.repoURL}}",
              "targetRevision": "{{.app.spec.source.targetRevision}}",
              "finishedAt": "{{.app.status.operationState.finishedAt}}",
              "commitMessage": {{toJson (call .repo.GetCommitMetadata .app.status.operationState.syncResult.revision).Message}},
              "author": {{toJson (call .repo.GetCommitMetadata .app.status.operationState.syncResult.revision).Author}},
              "url": "{{.context.argocdUrl}}/applications/{{.app.metadata.name}}"
            }

Required: app, revision (the commit: 7 to 40 hex, as the contract says), syncStatus, health, repoURL, finishedAt. Kept only when
syncStatus is "Succeeded" (the sync operation's phase), health is "Healthy" and the environment
(the "environment" field, else destination.name, else destination.namespace) is production/prod.
Authentication: `X-Argo-Timestamp: <unix seconds>` and
`X-Argo-Signature: sha256=<hex HMAC-SHA256("<timestamp>.<body>", secret)>`; timestamps outside
replay_window_seconds and repeated (timestamp, signature) pairs are refused with 409. NOTE: Argo CD's
webhook service only sends static headers (it cannot compute an HMAC), so these two headers must be
added by a signing relay/sidecar between the notifications controller and this receiver.

CircleCI (POST /webhooks/circleci): outbound webhooks, `circleci-signature: v1=<hex HMAC-SHA256(body,
secret)>` (comma-separated versions allowed, any v1 match passes); replay key: the event's `id`;
`happened_at` older than replay_window_seconds, or further than that in the future, is refused (409). Kept: `workflow-completed` with
workflow.status "success" and a production signal (workflow name matching deploy_workflow_pattern, or
pipeline.vcs.branch == the default branch "main"). Event id "circleci-<workflow.id>".
"""

import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from finops_assets.lib.deployments.event_store import DeploymentEventStore
from finops_assets.lib.deployments.events import (
    INVALID_FIELD,
    DeploymentEvent,
    DeploymentEventError,
    Violation,
    canonical_environment,
    parse_deployed_at,
)

MAX_BODY_BYTES = 1024 * 1024
# Real payloads nest about 6 levels; far deeper ones are only good for exhausting the parser.
MAX_JSON_DEPTH = 32


# ---- pure normalisation logic (no HTTP) -----------------------------------------------------

class MissingField(Exception):
    """A field the route needs is absent or unusable; `path` names it (dotted)."""

    def __init__(self, path: str, problem: str = "missing"):
        super().__init__(f"{path}: {problem}")
        self.path = path


class ContractViolation(MissingField):
    """The normalised event breaks the DeploymentEvent contract; named by the payload's path where a
    field was copied from one (else the contract's field), with the quarantine's rule."""

    def __init__(self, error: DeploymentEventError, paths: dict[str, str]):
        renamed = error.violation.renamed(paths)
        Exception.__init__(self, renamed.reason)
        self.path, self.rule, self.contract_field = renamed.field, error.rule, error.field


@dataclass(frozen=True)
class Ignored:
    reason: str


@dataclass(frozen=True)
class Normalised:
    """A webhook payload in the contract's field names, and the payload path each field came from."""
    fields: dict
    paths: dict[str, str]

    def event(self) -> DeploymentEvent:
        try:
            return DeploymentEvent.from_raw(self.fields)
        except DeploymentEventError as exc:
            raise ContractViolation(exc, self.paths) from None


def need(payload: dict, path: str):
    """The value at a dotted path, or MissingField naming the path."""
    value = payload
    for part in path.split("."):
        if not isinstance(value, dict) or value.get(part) is None:
            raise MissingField(path)
        value = value[part]
    if value == "":
        raise MissingField(path, "empty")
    return value


def opt(payload: dict, path: str, default: str = "") -> str:
    try:
        value = need(payload, path)
    except MissingField:
        return default
    return value if isinstance(value, str) else str(value)


def time_at(payload: dict, path: str) -> datetime:
    """The time at `path` read by the contract's own rule for deployed_at (an offset is required),
    or a 422 naming the path."""
    try:
        return parse_deployed_at(need(payload, path))
    except ValueError as exc:
        error = DeploymentEventError(Violation(INVALID_FIELD, "deployed_at", (("deployed_at", str(exc)),)))
        raise ContractViolation(error, {"deployed_at": path}) from None


def repository_from_url(url: str, path: str) -> str:
    """'org/name' from an https, ssh or scp-style git URL (the last two path segments)."""
    match = re.match(r"^(?:[a-z+]+://)?(?:[^@/]+@)?[^/:]+[:/](?P<path>.+?)(?:\.git)?/*$", url.strip())
    segments = [s for s in (match.group("path").split("/") if match else []) if s]
    if len(segments) < 2:
        raise MissingField(path, f"cannot derive 'org/name' from {url!r}")
    return "/".join(segments[-2:])


def is_production(environment: str) -> bool:
    return canonical_environment(environment) == "production"


def github_deployment_status(payload: dict) -> Normalised | Ignored:
    state = str(need(payload, "deployment_status.state"))
    environment = str(need(payload, "deployment.environment"))
    if state != "success":
        return Ignored(f"deployment_status state is {state!r}, not 'success'")
    if not is_production(environment):
        return Ignored(f"environment {environment!r} is not production")
    deployment = payload["deployment"]
    custom = deployment.get("payload") if isinstance(deployment.get("payload"), dict) else {}
    repository = str(need(payload, "repository.full_name"))
    return Normalised({
        # Same id (and time) as lib/deployments/polling.py gives this deployment, so a deployment both
        # polled and received by webhook is one event to the loader.
        "id": f"github-deployment-{repository}-{need(payload, 'deployment.id')}",
        "deployed_at": need(payload, "deployment_status.created_at"),
        # A deployment's free-form payload may name the service; otherwise the repository does.
        "service_name": str(custom.get("service_name") or custom.get("service") or repository.split("/")[-1]),
        "environment": "production",
        "commit_sha": need(payload, "deployment.sha"),
        # Only present when the deployment was made by an Actions workflow run.
        "commit_message": opt(payload, "workflow_run.head_commit.message"),
        "branch": opt(payload, "deployment.ref"),
        "repository": repository,
        "ci_system": "github_actions",
        "triggered_by": opt(payload, "deployment.creator.login") or opt(payload, "sender.login"),
        "pipeline_url": (opt(payload, "deployment_status.log_url") or opt(payload, "deployment_status.target_url")
                         or opt(payload, "workflow_run.html_url") or opt(payload, "deployment.url")),
    }, {"deployed_at": "deployment_status.created_at", "commit_sha": "deployment.sha", "branch": "deployment.ref",
        "repository": "repository.full_name", "commit_message": "workflow_run.head_commit.message"})


def github_workflow_run(payload: dict, deploy_pattern: re.Pattern) -> Normalised | Ignored:
    action = str(need(payload, "action"))
    if action != "completed":
        return Ignored(f"workflow_run action is {action!r}, not 'completed'")
    run = need(payload, "workflow_run")
    conclusion = run.get("conclusion")
    if conclusion != "success":
        return Ignored(f"workflow_run conclusion is {conclusion!r}, not 'success'")
    name, path = opt(payload, "workflow_run.name"), opt(payload, "workflow_run.path")
    if not (deploy_pattern.search(name) or deploy_pattern.search(path)):
        return Ignored(f"workflow {name!r} ({path}) does not match the deploy pattern {deploy_pattern.pattern!r}")
    branch = str(need(payload, "workflow_run.head_branch"))
    default_branch = str(need(payload, "repository.default_branch"))
    if branch != default_branch:
        return Ignored(f"branch {branch!r} is not the default branch {default_branch!r}")
    repository = str(need(payload, "repository.full_name"))
    return Normalised({
        "id": f"github-run-{need(payload, 'workflow_run.id')}-{opt(payload, 'workflow_run.run_attempt', '1')}",
        "deployed_at": need(payload, "workflow_run.updated_at"),
        "service_name": repository.split("/")[-1],
        # A successful deploy workflow on the default branch is taken as a production release.
        "environment": "production",
        "commit_sha": need(payload, "workflow_run.head_sha"),
        "commit_message": opt(payload, "workflow_run.head_commit.message"),
        "branch": branch,
        "repository": repository,
        "ci_system": "github_actions",
        "triggered_by": (opt(payload, "workflow_run.triggering_actor.login") or opt(payload, "workflow_run.actor.login")
                         or opt(payload, "sender.login")),
        "pipeline_url": opt(payload, "workflow_run.html_url"),
    }, {"deployed_at": "workflow_run.updated_at", "commit_sha": "workflow_run.head_sha", "branch": "workflow_run.head_branch",
        "repository": "repository.full_name", "commit_message": "workflow_run.head_commit.message",
        "pipeline_url": "workflow_run.html_url"})


def argocd_notification(payload: dict) -> Normalised | Ignored:
    app = str(need(payload, "app"))
    sync_status = str(need(payload, "syncStatus"))
    health = str(need(payload, "health"))
    environment = opt(payload, "environment") or opt(payload, "destination.name") or opt(payload, "destination.namespace")
    if sync_status != "Succeeded":
        return Ignored(f"sync status is {sync_status!r}, not 'Succeeded'")
    if health != "Healthy":
        return Ignored(f"health is {health!r}, not 'Healthy'")
    if not is_production(environment):
        return Ignored(f"environment {environment!r} is not production")
    revision = need(payload, "revision")
    deployed_at = time_at(payload, "finishedAt")
    branch = opt(payload, "targetRevision")
    return Normalised({
        # One sync of one revision at one time: a notification re-sent for it is the same event.
        "id": f"argocd-{app}-{str(revision)[:12].lower()}-{deployed_at:%Y%m%dT%H%M%SZ}",
        "deployed_at": deployed_at,
        "service_name": app,
        "environment": "production",
        "commit_sha": revision,
        "commit_message": opt(payload, "commitMessage"),
        "branch": "" if branch == "HEAD" else branch,
        "repository": repository_from_url(str(need(payload, "repoURL")), "repoURL"),
        "ci_system": "argocd",
        "triggered_by": opt(payload, "author"),
        "pipeline_url": opt(payload, "url"),
    }, {"deployed_at": "finishedAt", "commit_sha": "revision", "service_name": "app", "branch": "targetRevision",
        "commit_message": "commitMessage", "triggered_by": "author", "pipeline_url": "url"})


def circleci_event(payload: dict, deploy_pattern: re.Pattern, default_branch: str = "main") -> Normalised | Ignored:
    event_type = str(need(payload, "type"))
    if event_type != "workflow-completed":
        return Ignored(f"event type {event_type!r} is not 'workflow-completed'")
    status = str(need(payload, "workflow.status"))
    if status != "success":
        return Ignored(f"workflow status is {status!r}, not 'success'")
    name = str(need(payload, "workflow.name"))
    branch = opt(payload, "pipeline.vcs.branch")
    if not (deploy_pattern.search(name) or branch == default_branch):
        return Ignored(f"workflow {name!r} on branch {branch!r} is neither a deploy workflow nor on {default_branch!r}")
    repo_url = opt(payload, "pipeline.vcs.target_repository_url") or opt(payload, "pipeline.vcs.origin_repository_url")
    if repo_url:
        repository = repository_from_url(repo_url, "pipeline.vcs.target_repository_url")
    else:
        slug = str(need(payload, "project.slug")).split("/")  # e.g. gh/org/name
        if len(slug) != 3:
            raise MissingField("pipeline.vcs.target_repository_url")
        repository = "/".join(slug[1:])
    time_path = "workflow.stopped_at" if opt(payload, "workflow.stopped_at") else "happened_at"
    return Normalised({
        "id": f"circleci-{need(payload, 'workflow.id')}",
        "deployed_at": need(payload, time_path),
        "service_name": opt(payload, "project.name") or repository.split("/")[-1],
        "environment": "production",
        "commit_sha": need(payload, "pipeline.vcs.revision"),
        "commit_message": opt(payload, "pipeline.vcs.commit.subject"),
        "branch": branch,
        "repository": repository,
        "ci_system": "circleci",
        "triggered_by": opt(payload, "pipeline.vcs.commit.author.login") or opt(payload, "pipeline.vcs.commit.author.name"),
        "pipeline_url": opt(payload, "workflow.url"),
    }, {"deployed_at": time_path, "commit_sha": "pipeline.vcs.revision", "branch": "pipeline.vcs.branch",
        "commit_message": "pipeline.vcs.commit.subject", "pipeline_url": "workflow.url"})


def hmac_hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signature_matches(expected_hex: str, provided: str) -> bool:
    return hmac.compare_digest(expected_hex.encode("ascii"), provided.strip().lower().encode("utf-8", "replace"))


# ---- HTTP layer -----------------------------------------------------------------------------

class Reject(Exception):
    def __init__(self, status: int, **body):
        super().__init__(body)
        self.status, self.body = status, body


def _error(status: int, message: str) -> Reject:
    return Reject(status, error=message)


async def _read_body(request: Request) -> bytes:
    """The raw body (signatures are over exact bytes), refusing anything over MAX_BODY_BYTES
    without buffering it: the declared length is checked first, the streamed length as it arrives."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _error(413, f"body over {MAX_BODY_BYTES} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _error(413, f"body over {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _nesting_depth(value, limit: int) -> int:
    """How deep `value` nests (a scalar is 0), counted without recursion; stops past `limit`."""
    deepest, stack = 0, [(value, 1)]
    while stack and deepest <= limit:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
    return deepest


def _parse_json(body: bytes) -> dict:
    too_deep = _error(400, f"malformed JSON: nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        payload = json.loads(body)
    except RecursionError:  # the parser's own limit (about 1,000 levels)
        raise too_deep from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise _error(400, f"malformed JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise _error(400, "malformed JSON: the body must be a JSON object")
    if _nesting_depth(payload, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        raise too_deep
    return payload


def _secret(secrets: dict[str, str | None], source: str) -> str:
    secret = secrets.get(source)
    if not secret:
        raise _error(503, f"{source} webhook secret is not configured")
    return secret


def create_app(store: DeploymentEventStore, secrets: dict[str, str | None], replay_window_seconds: int = 300,
               deploy_workflow_pattern: str = r"deploy", clock: Callable[[], float] = time.time,
               circleci_default_branch: str = "main") -> Starlette:
    deploy_pattern = re.compile(deploy_workflow_pattern, re.IGNORECASE)

    async def settle(source: str, delivery_id: str, outcome: Normalised | Ignored) -> JSONResponse:
        """Store or ignore the outcome, then (only then) mark the delivery as handled."""
        if isinstance(outcome, Ignored):
            await run_in_threadpool(store.record_delivery, source, delivery_id)
            return JSONResponse({"status": "ignored", "reason": outcome.reason}, status_code=202)
        event = outcome.event()  # the contract's check: ContractViolation (422) naming the payload's field
        received_at = datetime.fromtimestamp(clock(), UTC)
        written = await run_in_threadpool(store.append, event, received_at)
        await run_in_threadpool(store.record_delivery, source, delivery_id)
        if written:
            return JSONResponse({"status": "stored", "id": event.id}, status_code=201)
        return JSONResponse({"status": "duplicate", "id": event.id}, status_code=200)

    async def refuse_seen(source: str, delivery_id: str) -> None:
        if await run_in_threadpool(store.seen_delivery, source, delivery_id):
            raise _error(409, f"{source} delivery {delivery_id!r} was already handled (replay)")

    async def github(request: Request) -> JSONResponse:
        secret = _secret(secrets, "github")
        body = await _read_body(request)
        signature = request.headers.get("x-hub-signature-256", "")
        if not signature:
            raise _error(401, "missing X-Hub-Signature-256 header")
        if not (signature.startswith("sha256=") and signature_matches(hmac_hex(secret, body), signature[7:])):
            raise _error(401, "bad X-Hub-Signature-256 signature")
        delivery_id = request.headers.get("x-github-delivery", "")
        event_name = request.headers.get("x-github-event", "")
        if not delivery_id or not event_name:
            raise _error(400, "missing X-GitHub-Delivery or X-GitHub-Event header")
        await refuse_seen("github", delivery_id)
        payload = _parse_json(body)
        if event_name == "ping":
            await run_in_threadpool(store.record_delivery, "github", delivery_id)
            return JSONResponse({"status": "ok", "event": "ping"})
        if event_name == "deployment_status":
            outcome = github_deployment_status(payload)
        elif event_name == "workflow_run":
            outcome = github_workflow_run(payload, deploy_pattern)
        else:
            outcome = Ignored(f"event {event_name!r} is not handled")
        return await settle("github", delivery_id, outcome)

    async def argocd(request: Request) -> JSONResponse:
        secret = _secret(secrets, "argocd")
        body = await _read_body(request)
        signature = request.headers.get("x-argo-signature", "")
        timestamp = request.headers.get("x-argo-timestamp", "")
        if not signature or not timestamp:
            raise _error(401, "missing X-Argo-Signature or X-Argo-Timestamp header")
        if not timestamp.isdigit():
            raise _error(401, f"X-Argo-Timestamp must be unix seconds, got {timestamp!r}")
        expected = hmac_hex(secret, timestamp.encode("ascii") + b"." + body)
        if not (signature.startswith("sha256=") and signature_matches(expected, signature[7:])):
            raise _error(401, "bad X-Argo-Signature signature")
        # Checked after the signature, so only authentic (hence signed) timestamps are judged.
        age = clock() - int(timestamp)
        if abs(age) > replay_window_seconds:
            raise _error(409, f"X-Argo-Timestamp is {age:.0f}s away from now, outside the "
                              f"{replay_window_seconds}s replay window")
        delivery_id = f"{timestamp}.{signature[7:].lower()}"
        await refuse_seen("argocd", delivery_id)
        return await settle("argocd", delivery_id, argocd_notification(_parse_json(body)))

    async def circleci(request: Request) -> JSONResponse:
        secret = _secret(secrets, "circleci")
        body = await _read_body(request)
        header = request.headers.get("circleci-signature", "")
        if not header:
            raise _error(401, "missing circleci-signature header")
        expected = hmac_hex(secret, body)
        # "v1=<hex>", possibly several comma-separated versions; any v1 match authenticates.
        provided = [part.strip()[3:] for part in header.split(",") if part.strip().startswith("v1=")]
        if not any(signature_matches(expected, candidate) for candidate in provided):
            raise _error(401, "bad circleci-signature signature")
        payload = _parse_json(body)
        delivery_id = str(need(payload, "id"))
        # Read by the contract's time rule (an offset is required; 2000 .. 2100), like deployed_at.
        happened = time_at(payload, "happened_at")
        await refuse_seen("circleci", delivery_id)
        age = clock() - happened.timestamp()
        if age > replay_window_seconds:
            raise _error(409, f"happened_at is {age:.0f}s old, outside the {replay_window_seconds}s replay window")
        # A signed event from the future could be replayed until that time comes: refused alike.
        if -age > replay_window_seconds:
            raise _error(409, f"happened_at is {-age:.0f}s in the future, outside the {replay_window_seconds}s "
                              "replay window")
        return await settle("circleci", delivery_id, circleci_event(payload, deploy_pattern, circleci_default_branch))

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    def guarded(handler):
        async def endpoint(request: Request) -> JSONResponse:
            try:
                return await handler(request)
            except Reject as reject:
                return JSONResponse(reject.body, status_code=reject.status)
            except ContractViolation as violation:
                return JSONResponse({"error": str(violation), "field": violation.path, "rule": violation.rule,
                                     "contract_field": violation.contract_field}, status_code=422)
            except MissingField as missing:
                return JSONResponse({"error": str(missing), "field": missing.path}, status_code=422)
        return endpoint

    return Starlette(routes=[
        Route("/webhooks/github", guarded(github), methods=["POST"]),
        Route("/webhooks/argocd", guarded(argocd), methods=["POST"]),
        Route("/webhooks/circleci", guarded(circleci), methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
    ])
