"""The pure parts of `make ui-check`: environment, partition range, GraphQL answers, page addresses.

Nothing here starts a process, opens a socket or a browser, so the normal suite tests it.
"""

import json
import re
from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import quote

from finops_assets.lib.common.text import one_line

LOCATION = "finops_assets"
REPOSITORY = "__repository__"  # the name Dagster gives the single repository of a Definitions object
MATERIALIZE_JOB = "finops_daily"
PR_JOB = "create_cost_fix_pr"
ANOMALY_ASSET = "cost_anomalies"

# Variables of the user's shell that would point the check at their data, their code host or a paid API.
_DROPPED_PREFIXES = ("FINOPS_", "DAGSTER_")
_DROPPED = {"ANTHROPIC_API_KEY", "GITHUB_TOKEN"}

# Run statuses after which a run never changes again.
TERMINAL_STATUSES = {"SUCCESS", "FAILURE", "CANCELED"}


class CheckFailed(Exception):
    """One line saying why the UI check failed."""


def child_env(base: dict[str, str], dagster_home: str, data_dir: str, warehouse: str) -> dict[str, str]:
    """`dg dev`'s environment: the caller's, less anything that reaches the user's data, credentials or
    instance, plus the check's own temporary instance, data folder and warehouse."""
    env = {k: v for k, v in base.items() if k not in _DROPPED and not k.startswith(_DROPPED_PREFIXES)}
    env.update(DAGSTER_HOME=dagster_home, FINOPS_DATA_DIR=data_dir, FINOPS_WAREHOUSE=warehouse)
    return env


def sample_range(ground_truth: dict) -> tuple[date, date]:
    """First and last billing day of a generated sample (its ground truth's `end` is exclusive)."""
    try:
        first = date.fromisoformat(ground_truth["start"])
        end = date.fromisoformat(ground_truth["end"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckFailed(f"ground_truth.json has no usable start/end ({exc})") from None
    if end <= first:
        raise CheckFailed(f"ground_truth.json: end {end} is not after start {first}")
    return first, end - timedelta(days=1)


WORKSPACE_QUERY = """
{ workspaceOrError { __typename
    ... on PythonError { message }
    ... on Workspace { locationEntries { name loadStatus
        locationOrLoadError { __typename
          ... on PythonError { message }
          ... on RepositoryLocation { repositories { name } } } } } } }
"""


def location_state(answer: dict, location: str = LOCATION) -> tuple[str, str | None]:
    """('loading' | 'loaded' | 'error', message) for the code location in a WORKSPACE_QUERY answer.

    A location that finished loading with a PythonError is 'error' with that error's first line;
    one not listed yet, or still LOADING, is 'loading'."""
    if answer.get("errors"):
        return "error", one_line(answer["errors"][0].get("message", answer["errors"][0]))
    workspace = (answer.get("data") or {}).get("workspaceOrError") or {}
    if workspace.get("__typename") == "PythonError":
        return "error", one_line(workspace.get("message", ""))
    for entry in workspace.get("locationEntries") or []:
        if entry.get("name") != location:
            continue
        loaded = entry.get("locationOrLoadError") or {}
        if loaded.get("__typename") == "PythonError":
            return "error", one_line(loaded.get("message", ""))
        if entry.get("loadStatus") != "LOADED":
            return "loading", None
        if loaded.get("__typename") == "RepositoryLocation":
            names = [r.get("name") for r in loaded.get("repositories") or []]
            if REPOSITORY in names:
                return "loaded", None
            return "error", f"location {location} loaded without repository {REPOSITORY} (has {names})"
        return "loading", None
    return "loading", None


LAUNCH_MUTATION = """
mutation($params: ExecutionParams!) { launchRun(executionParams: $params) { __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on InvalidSubsetError { message }
    ... on InvalidStepError { invalidStepKey }
    ... on PipelineNotFoundError { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on UnauthorizedError { message }
    ... on ConflictingExecutionParamsError { message }
    ... on PresetNotFoundError { message }
    ... on InvalidOutputError { stepKey invalidOutputName }
    ... on RunConflict { message }
    ... on NoModeProvidedError { message } } }
"""


def launch_params(first: date, last: date, job: str = MATERIALIZE_JOB) -> dict:
    """launchRun's ExecutionParams: the whole job over [first, last], tagged as the daily schedule does.

    No automatic retry: the check reports the first failure. (A retry can also stay QUEUED for good
    behind the duckdb_write slot that a crashed step of the failed run still holds.)"""
    return {
        "selector": {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "jobName": job},
        "runConfigData": {},
        "executionMetadata": {"tags": [
            {"key": "dagster/asset_partition_range_start", "value": first.isoformat()},
            {"key": "dagster/asset_partition_range_end", "value": last.isoformat()},
            {"key": "dagster/max_retries", "value": "0"},
        ]},
    }


def launched_run_id(answer: dict) -> str:
    """The run id from a LAUNCH_MUTATION answer, or CheckFailed with the reason Dagster gave."""
    if answer.get("errors"):
        raise CheckFailed(f"launchRun: {one_line(answer['errors'][0].get('message', answer['errors'][0]))}")
    result = (answer.get("data") or {}).get("launchRun") or {}
    kind = result.get("__typename")
    if kind == "LaunchRunSuccess":
        return result["run"]["runId"]
    if kind == "RunConfigValidationInvalid":
        detail = "; ".join(e.get("message", "") for e in result.get("errors") or [])
    else:
        detail = result.get("message") or json.dumps({k: v for k, v in result.items() if k != "__typename"})
    raise CheckFailed(f"launchRun refused ({kind}): {one_line(detail)}")


RUN_QUERY = """
query($runId: ID!) { runOrError(runId: $runId) { __typename
    ... on PythonError { message }
    ... on RunNotFoundError { message }
    ... on Run { runId status tags { key value } } } }
"""


@dataclass(frozen=True)
class RunState:
    run_id: str
    status: str
    retry_run_id: str | None  # the automatic retry Dagster will launch (or launched) for a failed run

    @property
    def finished(self) -> bool:
        """Terminal and not about to be retried: the chain of runs has its outcome."""
        return self.status in TERMINAL_STATUSES and self.retry_run_id is None


def run_state(answer: dict) -> RunState:
    if answer.get("errors"):
        raise CheckFailed(f"runOrError: {one_line(answer['errors'][0].get('message', answer['errors'][0]))}")
    run = (answer.get("data") or {}).get("runOrError") or {}
    if run.get("__typename") != "Run":
        raise CheckFailed(f"run lookup failed ({run.get('__typename')}): {one_line(run.get('message', ''))}")
    tags = {t["key"]: t["value"] for t in run.get("tags") or []}
    retry = None
    if run["status"] == "FAILURE" and tags.get("dagster/will_retry") == "true":
        retry = tags.get("dagster/auto_retry_run_id") or ""  # "" = announced, not launched yet
    return RunState(run["runId"], run["status"], retry)


LOGS_QUERY = """
query($runId: ID!) { logsForRun(runId: $runId, limit: 5000) { __typename
    ... on EventConnection { events { __typename
        ... on ExecutionStepFailureEvent { stepKey error { message } }
        ... on RunFailureEvent { error { message } }
        ... on MessageEvent { message } } } } }
"""

POOL_QUERY = """
query($pool: String!) { instance { concurrencyLimit(concurrencyKey: $pool) { claimedSlots { runId stepKey } } } }
"""
POOL = "duckdb_write"

_DIED = re.compile(r"Step (\S+) finished without success or failure event")


def slot_held_by_dead_step(logs: dict, pool: dict, run_id: str) -> str | None:
    """A step of the run whose process died without an event (Dagster logs "finished without success or
    failure event") and that still holds a slot of the pool: no other step of the pool can start, so the
    run can never finish. Returns that step's key, else None."""
    events = (((logs.get("data") or {}).get("logsForRun") or {}).get("events")) or []
    dead = {m.group(1) for e in events for m in [_DIED.search(e.get("message") or "")] if m}
    limit = ((pool.get("data") or {}).get("instance") or {}).get("concurrencyLimit") or {}
    for slot in limit.get("claimedSlots") or []:
        if slot.get("runId") == run_id and slot.get("stepKey") in dead:
            return slot["stepKey"]
    return None


def failure_reason(answer: dict) -> str:
    """The first failed step and its error (else the run failure's message), on one line."""
    events = (((answer.get("data") or {}).get("logsForRun") or {}).get("events")) or []
    for event in events:
        if event.get("__typename") == "ExecutionStepFailureEvent":
            message = (event.get("error") or {}).get("message") or "no error message"
            return one_line(f"step {event.get('stepKey')} failed: {message}")
    for event in events:
        if event.get("__typename") == "RunFailureEvent":
            message = (event.get("error") or {}).get("message") or event.get("message") or "no error message"
            return one_line(f"run failed: {message}")
    return "run failed (no failure event in its logs)"


GROUPS_QUERY = "{ assetNodes { groupName } }"


def asset_groups(answer: dict) -> list[str]:
    """The asset groups' names, sorted, from a GROUPS_QUERY answer."""
    return sorted({n["groupName"] for n in (answer.get("data") or {}).get("assetNodes") or [] if n.get("groupName")})


def page_urls(base: str, groups: list[str] = ()) -> dict[str, str]:
    """The pages to photograph, by screenshot name (Dagster 1.13's routes).

    The global lineage opens with every group collapsed to a box; `expanded` opens them. Its ids are
    `global@global:<group>`, or `<repository>@<location>:<group>` under the UI's per-location flag:
    both are given."""
    base = base.rstrip("/")
    ids = [f"{prefix}:{g}" for g in groups for prefix in ("global@global", f"{REPOSITORY}@{LOCATION}")]
    expanded = f"?expanded={quote(','.join(ids), safe='')}" if ids else ""
    return {
        "lineage": f"{base}/asset-groups{expanded}",
        "cost_anomalies": f"{base}/assets/{ANOMALY_ASSET}",
        "cost_anomalies_events": f"{base}/assets/{ANOMALY_ASSET}?view=events",
        # The UI names a location's only repository `__repository__` by the location alone.
        "launchpad": f"{base}/locations/{LOCATION}/jobs/{PR_JOB}/playground",
    }
