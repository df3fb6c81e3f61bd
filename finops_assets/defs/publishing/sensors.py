import dagster as dg

from finops_assets.defs.publishing.assets import analyst_snapshot
from finops_assets.lib.publishing.snapshot import run_already_published

publish_snapshot_job = dg.define_asset_job(
    "publish_analyst_snapshot", selection=[analyst_snapshot],
    description="Republish the analysts' DuckDB file after a run that wrote the warehouse.")


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    request_job=publish_snapshot_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
)
def publish_after_successful_run(context: dg.RunStatusSensorContext):
    """Every successful run ends with a fresh analysts' snapshot, also runs started from the UI
    for a few assets only (the finops_daily job and `finops-assets run` publish by themselves)."""
    run = context.dagster_run
    if run.job_name == publish_snapshot_job.name:
        return dg.SkipReason("that run was the publish itself")
    selected = {k.to_user_string() for k in run.asset_selection} if run.asset_selection else None
    job_assets = {k.to_user_string() for k in context.repository_def.get_job(run.job_name).asset_layer.executable_asset_keys} \
        if selected is None and context.repository_def.has_job(run.job_name) else set()
    if run_already_published(selected, job_assets):
        return dg.SkipReason(f"run {run.run_id} published the snapshot itself")
    return dg.RunRequest(run_key=f"publish-after-{run.run_id}")
