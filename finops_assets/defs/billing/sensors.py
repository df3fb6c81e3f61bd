"""A new bill delivery is picked up and its days built without anyone typing a range: what
`finops-assets run` does in-process (cli.py's run_pipeline), in two sensor ticks on finops_daily.

Tick A: the billing folder's signature (names, sizes, mtimes) changed since the cursor -> one run of
the ingestion assets. Tick B: after an ingestion that no billing_rollup has followed, every day the
CLI would rebuild (the bill's days, and days rolled up before whose rows may have left with a
removed file: a re-delivery restates days already built); else the bill's days with no
billing_rollup partition yet -> one run of everything else over one range (first to last day, days
between included), with the same partition-range tags as the daily schedule. No tick while a
finops_daily run is queued or in progress, so the build never reads a bill half-ingested and never
races the schedule or a UI backfill."""

import json

import dagster as dg
import duckdb
from filelock import Timeout

from finops_assets.defs.partitions import daily_partitions
from finops_assets.defs.schedules import finops_daily_job
from finops_assets.lib.billing.bill_sensor import (
    INGESTION_ASSETS,
    folder_signature,
    ingested_since_built,
    missing_days,
    range_to_build,
)
from finops_assets.lib.common.sql import fetch_one, load_sql
from finops_assets.resources.settings import FinopsSettings
from finops_assets.resources.warehouse import FinopsWarehouse

ACTIVE_RUN_STATUSES = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
                       dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]
LOCK_WAIT_S = 5.0  # the sensor never waits for a writer longer than this (it runs in the code server)


def _bill_days(warehouse: FinopsWarehouse, query: str):
    """(first, last) day from one of billing's day queries, read-only; a str reason when it cannot be read."""
    reader = FinopsWarehouse(snapshot_path=warehouse.snapshot_path, writer_path=warehouse.writer_path,
                             memory_limit=warehouse.memory_limit, lock_timeout_s=LOCK_WAIT_S)
    try:
        with reader.read() as conn:
            if not conn.execute("select count(*) from duckdb_tables() where table_name = 'focus_billing'").fetchone()[0]:
                return "no bill ingested yet"
            return fetch_one(conn, load_sql(query))
    except Timeout:
        return "another process is writing the warehouse"
    except duckdb.Error as exc:
        return f"warehouse not readable yet: {str(exc).splitlines()[0]}"


@dg.sensor(job=finops_daily_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING)
def new_bill_sensor(context: dg.SensorEvaluationContext, settings: FinopsSettings, warehouse: FinopsWarehouse):
    """A new or re-delivered bill file -> ingest it; then the bill's days with no billing_rollup yet -> build them."""
    active = context.instance.get_runs(
        filters=dg.RunsFilter(job_name=finops_daily_job.name, statuses=ACTIVE_RUN_STATUSES), limit=1)
    if active:
        return dg.SkipReason(f"finops_daily run {active[0].run_id} is {active[0].status.value.lower()}: waiting for it")
    cursor = json.loads(context.cursor) if context.cursor else {}
    signature = folder_signature(settings.billing_dir)
    if signature != cursor.get("signature"):
        ingestions = cursor.get("ingestions", 0) + 1
        # The count keeps a folder that returns to an earlier state (a file removed again) from
        # reusing that state's run key, which the daemon would not run twice.
        run = dg.RunRequest(run_key=f"bill-ingest-{ingestions}-{signature[:16]}",
                            asset_selection=[dg.AssetKey(name) for name in INGESTION_ASSETS],
                            tags={"finops/trigger": "new_bill_sensor"})
        return dg.SensorResult(run_requests=[run],
                               cursor=json.dumps({"signature": signature, "ingestions": ingestions}))

    ingested = context.instance.get_latest_materialization_event(dg.AssetKey("focus_billing"))
    rolled_up = context.instance.get_latest_materialization_event(dg.AssetKey("billing_rollup"))
    rebuild_all = ingested_since_built(ingested and ingested.timestamp, rolled_up and rolled_up.timestamp)
    days = _bill_days(warehouse, "billing/select_days_to_rebuild" if rebuild_all else "billing/select_bill_days")
    if isinstance(days, str):
        return dg.SkipReason(days)
    built = context.instance.get_materialized_partitions(dg.AssetKey("billing_rollup"))
    to_build = range_to_build(missing_days(*days, daily_partitions.get_partition_keys(), built, rebuild_all))
    if to_build is None:
        return dg.SkipReason("every day of the ingested bill has billing_rollup" if days[0] else "the bill has no rows")
    first, last = to_build
    job = context.repository_def.get_job(finops_daily_job.name)
    rest = sorted(key for key in job.asset_layer.executable_asset_keys if key.to_user_string() not in INGESTION_ASSETS)
    return dg.RunRequest(
        # One build per range and ingestion: a failed build is not relaunched on every tick.
        run_key=f"bill-days-{first}..{last}-{signature[:12]}-{ingested.run_id[:8] if ingested else 'none'}",
        asset_selection=rest,
        tags={"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last,
              "finops/trigger": "new_bill_sensor"},
    )
