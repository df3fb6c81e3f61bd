import json

import dagster as dg

from finops_assets.lib.deployments.cursor import next_cursor
from finops_assets.lib.deployments.event_store import DeploymentEventStore
from finops_assets.resources.settings import FinopsSettings

correlate_new_deployments = dg.define_asset_job(
    "correlate_new_deployments",
    selection=dg.AssetSelection.assets("deployment_events", "routing_decisions", "correlated_deployments",
                                       "unattributed_alerts", "team_alerts", "diff_analyses"),
    description="Reload deployment events and re-decide every open anomaly's cause, so a deployment that "
                "arrives after its anomaly was detected is still correlated and its diff analysed.",
)


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
