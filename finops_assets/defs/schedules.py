
import dagster as dg

from finops_assets.lib.common.refresh import refresh_window

# The whole graph. Unpartitioned assets (ingestion, side inputs, the snapshot) run once per run;
# daily ones run once for the run's whole partition range (single-run backfill policy).
finops_daily_job = dg.define_asset_job(
    "finops_daily",
    selection=dg.AssetSelection.all(),
    description="Ingest new bill deliveries, rebuild the last days, publish the analysts' snapshot.",
)

REFRESH_DAYS = 3  # providers restate the last days of a bill as the month fills in

@dg.schedule(job=finops_daily_job, cron_schedule="0 6 * * *", execution_timezone="UTC")
def finops_daily_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """06:00 UTC, after the exports land: reload and rebuild the last REFRESH_DAYS days."""
    first, last = refresh_window(context.scheduled_execution_time.date(), REFRESH_DAYS)
    return dg.RunRequest(
        run_key=f"daily-{last.isoformat()}",
        tags={
            "dagster/asset_partition_range_start": first.isoformat(),
            "dagster/asset_partition_range_end": last.isoformat(),
        },
    )
