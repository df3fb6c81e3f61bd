import json
from datetime import UTC, datetime, timedelta

import dagster as dg

from finops_assets.lib.deployments.event_store import DeploymentEventStore
from finops_assets.resources.settings import FinopsSettings

# A file can only be this late (named at receipt, renamed into place right after): names older than
# this behind the newest seen are final, so the cursor forgets them.
SETTLE = timedelta(minutes=10)

correlate_new_deployments = dg.define_asset_job(
    "correlate_new_deployments",
    selection=dg.AssetSelection.assets("deployment_events", "routing_decisions", "correlated_deployments",
                                       "unattributed_alerts", "team_alerts", "diff_analyses"),
    description="Reload deployment events and re-decide every open anomaly's cause, so a deployment that "
                "arrives after its anomaly was detected is still correlated and its diff analysed.",
)


def _received_at(file_name: str) -> datetime | None:
    try:
        return datetime.strptime(file_name.split("-")[1], "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC)
    except (IndexError, ValueError):
        return None


def next_cursor(cursor: dict, names: list[str]) -> tuple[list[str], dict]:
    """(new file names, the cursor after them). The cursor keeps a boundary (every name at or below
    it is done) and the names above it already seen, so a file renamed into place after a newer one
    (two receivers at once, events out of order) is neither skipped nor processed twice."""
    boundary = cursor.get("boundary") or ""
    seen = set(cursor.get("seen", []))
    new = [n for n in names if n > boundary and n not in seen]
    seen.update(new)
    newest = max((_received_at(n) for n in seen if _received_at(n)), default=None)
    if newest is not None:
        settled = sorted(n for n in seen if (_received_at(n) or newest) <= newest - SETTLE)
        if settled:
            boundary = max(boundary, settled[-1])
            seen = {n for n in seen if n > boundary}
    return new, {"boundary": boundary, "seen": sorted(seen), "events_total": cursor.get("events_total", 0) + len(new)}


@dg.sensor(job=correlate_new_deployments, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING)
def deployment_event_sensor(context: dg.SensorEvaluationContext, settings: FinopsSettings):
    """New deployment events in the event store (webhook receiver or polling) → one correlation run."""
    cursor = json.loads(context.cursor) if context.cursor else {}
    store = DeploymentEventStore(settings.data_path / "deployments")
    names = [name for name, _event in store.list_events(after=cursor.get("boundary") or None)]
    new, advanced = next_cursor(cursor, names)
    if not new:
        return dg.SensorResult(skip_reason="no new deployment events", cursor=json.dumps(advanced))
    # The run key names the batch: a restarted sensor that re-evaluates the same batch does not run it twice.
    run = dg.RunRequest(run_key=f"deployments:{new[0]}..{new[-1]}:{len(new)}",
                        tags={"finops/new_deployment_events": str(len(new)), "finops/first_event_file": new[0]})
    return dg.SensorResult(run_requests=[run], cursor=json.dumps(advanced))
