"""Run failures reach the on-call person: the run-failure sensor logs each failed run (job, run id,
failing step, one-line reason) and appends it to run_failures.jsonl beside the analysts' snapshot
(FINOPS_WAREHOUSE's folder, also when FINOPS_WRITER_WAREHOUSE puts the steps' file elsewhere).

A file, not a warehouse table: a run often fails because of the warehouse (lock held, disk full,
read-only folder), and the alert must not depend on what broke; the file is next to the data they
already look at, tail-able and easy to ship to a pager."""

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from finops_assets.lib.common.run_failures import append_failure, failure_record
from finops_assets.resources.warehouse import FinopsWarehouse


def _failed_step(context: dg.RunFailureSensorContext) -> tuple[str | None, str]:
    """The first failed step and its error, else the run's own failure message."""
    records = context.instance.all_logs(context.dagster_run.run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
    for record in records:
        event = record.dagster_event
        data = event.step_failure_data
        reason = (data.user_failure_data.description if data.user_failure_data and data.user_failure_data.description
                  else data.error.message if data.error else event.message)
        return event.step_key, reason
    return None, context.failure_event.message or "the run failed"


@dg.run_failure_sensor(default_status=dg.DefaultSensorStatus.RUNNING,
                       description="Every failed run of this code location: logged, and appended to "
                                   "run_failures.jsonl beside the analysts' snapshot for the on-call person")
def run_failure_alert(context: dg.RunFailureSensorContext, warehouse: FinopsWarehouse) -> None:
    step, reason = _failed_step(context)
    record = failure_record(context.dagster_run.job_name, context.dagster_run.run_id, step, reason,
                            datetime.now(UTC))
    path = append_failure(Path(warehouse.snapshot_path).parent, record)
    context.log.error(f"run {record['run_id']} of {record['job']} failed at step {record['step'] or '(none)'}: "
                      f"{record['reason']} (recorded in {path})")
