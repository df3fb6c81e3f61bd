"""One DeploymentEvent contract, four entry points. For each rule on which the old validators disagreed,
the same event goes in through the jsonl loader, the event store, the webhook receiver (a real HTTP
server, GitHub's `deployment_status` payload) and the GitHub poller (PyGithub against the GitHub
stand-in), and every one of them accepts it with the same normalised value, or refuses it with the
same quarantine rule, the same field and the same reason."""

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from finops_assets.lib.codehost.github import GitHubCodeHost
from finops_assets.lib.deployments.event_store import DeploymentEventStore
from finops_assets.lib.deployments.events import (
    CONTRACT_FIELDS,
    MAX_LENGTHS,
    DeploymentEvent,
    DeploymentEventError,
    violation,
)
from finops_assets.lib.deployments.polling import (
    poll_deployments,
    poll_github_deployments,
)
from finops_assets.lib.inputs.side_inputs import SIDE_INPUTS, parse_side_input
from finops_assets.webhooks.app import create_app
from finops_assets_tests.standins.git_repos import git
from finops_assets_tests.standins.github_server import GitHubStandIn
from finops_assets_tests.webhooks.test_receiver import (
    SECRETS,
    Clock,
    Receiver,
    SwappableApp,
    gh_deployment_status,
    running,
)

SHA = "3471aafcc49cfd66abc0bfe2f90750d312ef2342"
ABSENT = object()
BASE = {"id": "dep-1", "deployed_at": "2026-07-01T10:00:00Z", "service_name": "checkout", "environment": "production",
        "commit_sha": SHA, "commit_message": "Cache product lookups", "branch": "main", "repository": "acme/checkout",
        "ci_system": "github_actions", "triggered_by": "alice", "pipeline_url": "https://ci.acme.example/run/1"}
# Where a contract field sits in GitHub's deployment_status payload.
WEBHOOK_PATHS = {"deployed_at": ("deployment_status", "created_at"), "commit_sha": ("deployment", "sha"),
                 "branch": ("deployment", "ref"), "triggered_by": ("deployment", "creator", "login"),
                 "pipeline_url": ("deployment_status", "log_url"), "environment": ("deployment", "environment"),
                 "commit_message": ("workflow_run", "head_commit", "message")}


@dataclass(frozen=True)
class Outcome:
    """What one entry point did with the event: the stored fields, or (rule, contract field, problem)."""
    stored: dict | None = None
    refused: tuple[str, str, str] | None = None


def _problem(reason: str) -> str:
    return reason.split(": ", 1)[1]


def via_loader(tmp_path: Path, event: dict) -> Outcome:
    folder = tmp_path / "loader" / "deployments"
    folder.mkdir(parents=True)
    (folder / "events.jsonl").write_text(json.dumps(event) + "\n")
    parsed = parse_side_input(folder.parent, SIDE_INPUTS["deployment_events"])
    if parsed.rows:
        # The table holds naive UTC; back to the contract's text to compare.
        return Outcome(stored=DeploymentEvent.from_raw(
            parsed.rows[0] | {"deployed_at": parsed.rows[0]["deployed_at"].replace(tzinfo=UTC)}).to_record())
    [rejected] = parsed.rejected
    return Outcome(refused=(rejected.rule, rejected.reason.split(":")[0], _problem(rejected.reason)))


def via_store(tmp_path: Path, event: dict) -> Outcome:
    store = DeploymentEventStore(tmp_path / "store" / "deployments")
    try:
        store.append(event)
    except DeploymentEventError as exc:
        return Outcome(refused=(exc.rule, exc.field, _problem(str(exc))))
    [(_name, record)] = store.list_events()
    return Outcome(stored=record)


def via_webhook(receiver: Receiver, event: dict) -> Outcome:
    payload = gh_deployment_status()
    for name, value in event.items():
        if name in WEBHOOK_PATHS and value != BASE[name]:
            *parents, leaf = WEBHOOK_PATHS[name]
            node = payload
            for key in parents:
                node = node[key]
            node[leaf] = value
    response = receiver.github("deployment_status", payload, delivery="d-1")
    if response.status_code == 422:
        body = response.json()
        return Outcome(refused=(body["rule"], body["contract_field"], _problem(body["error"])))
    assert response.status_code == 201, response.text
    [path] = receiver.files()
    return Outcome(stored=json.loads(path.read_text()))


def via_poller(tmp_path: Path, event: dict) -> Outcome:
    repo = tmp_path / "poller" / "checkout"
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    with GitHubStandIn() as server:
        server.add_repository("acme/checkout", repo)
        server.add_deployment("acme/checkout", event["commit_sha"], environment=event["environment"],
                              created_at="2026-07-01T09:50:00Z", ref=event["branch"], creator=event["triggered_by"],
                              statuses=[("success", event["deployed_at"], event["pipeline_url"])])
        host = GitHubCodeHost("test-token", base_url=server.base_url, retries=0, timeout=5,
                              seconds_between_requests=None, seconds_between_writes=None)
        result = poll_deployments(host, ["acme/checkout"], since=datetime(1990, 1, 1, tzinfo=UTC),
                                  environment=event["environment"])
    if result.events:
        return Outcome(stored=result.events[0].to_record())
    [refused] = result.refused
    return Outcome(refused=(refused.rule, refused.reason.split(":")[0], _problem(refused.reason)))


@pytest.fixture(scope="module")
def server():
    mount = SwappableApp()
    with running(mount) as url:
        yield mount, url


@pytest.fixture
def receiver(server, tmp_path):
    mount, url = server
    store, clock = DeploymentEventStore(tmp_path / "webhook" / "deployments"), Clock()
    mount.app = create_app(store, dict(SECRETS), clock=clock)
    client = Receiver(url, tmp_path / "webhook", store, clock)
    yield client
    client.http.close()


# (what the old validators disagreed on, the change to the event, where it can be sent, and the verdict:
#  {field: normalised value} when accepted, or (field, words of the reason) when refused)
ALL = ("loader", "store", "webhook", "poller")
DIFFERENCES = [
    pytest.param({"deployed_at": "2026-07-01T10:00:00"}, ALL, ("deployed_at", "has no UTC offset"),
                 id="naive time: loader and webhook took it as UTC, the store refused it; now refused everywhere"),
    pytest.param({"deployed_at": "2026-07-01T12:00:00+02:00"}, ALL, {"deployed_at": "2026-07-01T10:00:00Z"},
                 id="explicit offset: the store wanted a 'Z'; now converted to UTC everywhere"),
    pytest.param({"deployed_at": 1782900000}, ("loader", "store", "webhook"), ("deployed_at", "got int"),
                 id="unix seconds: the loader's lax pydantic took them as a time; now refused everywhere"),
    pytest.param({"deployed_at": "1999-12-31T23:59:59Z"}, ALL, ("deployed_at", "outside 2000-01-01"),
                 id="time bounds: the poller had none; now everywhere"),
    pytest.param({"commit_sha": SHA.upper()}, ALL, {"commit_sha": SHA},
                 id="upper-case sha: the store refused it, the others lower-cased it; now lower-cased everywhere"),
    pytest.param({"commit_sha": "3471aaf"}, ALL, {"commit_sha": "3471aaf"},
                 id="short sha: only the loader took 7 to 40 hex; now everywhere"),
    pytest.param({"commit_sha": "z" * 40}, ALL, ("commit_sha", "7 to 40 hexadecimal"),
                 id="non-hex sha: the poller never checked it; now refused everywhere"),
    pytest.param({"commit_sha": f"  {SHA}  "}, ALL, {"commit_sha": SHA},
                 id="surrounding spaces: only the loader stripped them; now stripped everywhere"),
    pytest.param({"repository": " acme/checkout "}, ("loader", "store"), {"repository": "acme/checkout"},
                 id="repository with spaces: the loader stripped them, the store refused; now stripped"),
    pytest.param({"environment": "Prod"}, ALL, {"environment": "production"},
                 id="environment: the webhook wrote 'production', the poller and loader kept 'Prod'; now 'production'"),
    pytest.param({"branch": "main\x1b[2J"}, ALL, ("branch", "U+001B"),
                 id="control character: accepted everywhere before; now refused everywhere"),
    pytest.param({"triggered_by": "a" * (MAX_LENGTHS["triggered_by"] + 1)}, ALL, ("triggered_by", "longer than 255"),
                 id="length limit: none anywhere before; now everywhere"),
    pytest.param({"pipeline_url": "javascript:alert(1)"}, ALL, ("pipeline_url", "http(s) URL"),
                 id="pipeline url: any text before; now empty or http(s) everywhere"),
    pytest.param({"ci_system": ABSENT}, ("loader", "store"), ("ci_system", "missing"),
                 id="ci_system: the loader defaulted it to '', the store required it; now required"),
    pytest.param({"id": "dep\u202e1"}, ("loader", "store"), ("id", "U+202E"),
                 id="id with a bidi override: accepted before; now refused"),
]


@pytest.mark.parametrize(("changes", "entries", "verdict"), DIFFERENCES)
def test_every_entry_point_gives_the_same_verdict(tmp_path, receiver, changes, entries, verdict):
    event = {k: v for k, v in (BASE | changes).items() if v is not ABSENT}
    runners = {"loader": lambda: via_loader(tmp_path, event), "store": lambda: via_store(tmp_path, event),
               "webhook": lambda: via_webhook(receiver, event), "poller": lambda: via_poller(tmp_path, event)}
    outcomes = {entry: runners[entry]() for entry in entries}
    if isinstance(verdict, dict):
        for entry, outcome in outcomes.items():
            assert outcome.refused is None, (entry, outcome)
            assert set(outcome.stored) == set(CONTRACT_FIELDS)
            assert {k: outcome.stored[k] for k in verdict} == verdict, entry
    else:
        field, words = verdict
        for entry, outcome in outcomes.items():
            assert outcome.stored is None, (entry, outcome)
            assert outcome.refused[:2] == ("invalid_field", field), (entry, outcome)
            assert words in outcome.refused[2], (entry, outcome)
        assert len({outcome.refused for outcome in outcomes.values()}) == 1, outcomes  # word for word


def test_the_webhook_names_the_payload_field_and_the_contract_field(receiver):
    payload = gh_deployment_status(sha="z" * 40)
    body = receiver.github("deployment_status", payload, delivery="d-1").json()
    assert body["field"] == "deployment.sha" and body["error"].startswith("deployment.sha: must be 7 to 40")
    assert (body["rule"], body["contract_field"]) == ("invalid_field", "commit_sha")
    assert receiver.files() == []


def test_the_poller_refuses_one_bad_deployment_and_keeps_the_rest(tmp_path, caplog):
    repo = tmp_path / "checkout"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    with GitHubStandIn() as server:
        server.add_repository("acme/checkout", repo)
        bad = server.add_deployment("acme/checkout", "not-a-sha/../../x", environment="production",
                                    created_at="2026-07-01T09:00:00Z", statuses=[("success", "2026-07-01T09:05:00Z", None)])
        good = server.add_deployment("acme/checkout", SHA, environment="production", created_at="2026-07-01T09:30:00Z",
                                     statuses=[("success", "2026-07-01T09:35:00Z", None)])
        host = GitHubCodeHost("test-token", base_url=server.base_url, retries=0, timeout=5,
                              seconds_between_requests=None, seconds_between_writes=None)
        events = poll_github_deployments(host, ["acme/checkout"], since=datetime(2026, 7, 1, tzinfo=UTC))
        requested = server.paths_requested("GET")
    assert [e["commit_sha"] for e in events] == [SHA]
    # The bad SHA never shaped a request: only the good deployment's commit was asked for.
    deployments = {f"/repos/acme/checkout/deployments/{bad}/statuses", f"/repos/acme/checkout/deployments/{good}/statuses"}
    assert set(requested) == {"/repos/acme/checkout", "/repos/acme/checkout/deployments",
                              f"/repos/acme/checkout/commits/{SHA}"} | deployments, requested
    assert f"GitHub deployment {bad} of acme/checkout refused: invalid_field: commit_sha:" in caplog.text


def test_the_model_is_frozen_and_strict():
    event = DeploymentEvent.from_raw(BASE)
    with pytest.raises(ValueError):
        event.commit_sha = "abcdef1"  # type: ignore[misc]
    with pytest.raises(DeploymentEventError, match="^service_name: must be text, got bool$"):
        DeploymentEvent.from_raw(BASE | {"service_name": True})
    with pytest.raises(DeploymentEventError, match="^id: must be text, got bytes$"):  # lax pydantic decodes bytes
        DeploymentEvent.from_raw(BASE | {"id": b"dep-1"})
    with pytest.raises(DeploymentEventError, match="^row: an event must be a JSON object$"):
        DeploymentEvent.from_raw(["not", "an", "object"])


def test_several_problems_are_one_line_in_field_order():
    with pytest.raises(DeploymentEventError) as refused:
        DeploymentEvent.from_raw(BASE | {"commit_sha": "nope", "deployed_at": "yesterday", "pipeline_url": "ftp://x"})
    reason = str(refused.value)
    assert "\n" not in reason and refused.value.field == "deployed_at"
    assert [part.split(":")[0] for part in reason.split("; ")] == ["deployed_at", "commit_sha", "pipeline_url"]


@pytest.mark.parametrize("message", ["line one\n\nline two\ttabbed", "family \U0001F468\u200d\U0001F469\u200d\U0001F467"])
def test_a_commit_message_keeps_line_breaks_tabs_and_emoji_joiners(message):
    assert DeploymentEvent.from_raw(BASE | {"commit_message": message}).commit_message == message


@pytest.mark.parametrize(("field", "value", "words"), [
    ("commit_message", "ok\u202eevil", "U+202E"), ("commit_message", "bell\x07", "U+0007"),
    ("service_name", "check\u200bout", "U+200B"), ("environment", "prod\nuction", "U+000A"),
    ("commit_message", "x" * (MAX_LENGTHS["commit_message"] + 1), "longer than 65536"),
    ("id", "x" * (MAX_LENGTHS["id"] + 1), "longer than 512"),
    ("service_name", "   ", "must not be empty"),
])
def test_text_from_outside_is_bounded_and_visible(field, value, words):
    with pytest.raises(DeploymentEventError, match=f"^{field}: .*{re.escape(words)}"):
        DeploymentEvent.from_raw(BASE | {field: value})


def test_violation_is_the_one_formatter_for_every_side_input(tmp_path):
    (tmp_path / "traffic.csv").write_text("date,department,team,requests\n2026-10-01,retail,checkout,-5\n")
    [rejected] = parse_side_input(tmp_path, SIDE_INPUTS["traffic_metrics"]).rejected
    assert (rejected.rule, rejected.reason) == ("invalid_field", "requests: requests must not be negative")
    with pytest.raises(ValidationError) as refused:
        SIDE_INPUTS["traffic_metrics"].model.model_validate({"date": "2026-10-01", "department": "retail",
                                                             "team": "checkout", "requests": "-5"})
    assert violation(refused.value).reason == rejected.reason  # the same function gives the same words
