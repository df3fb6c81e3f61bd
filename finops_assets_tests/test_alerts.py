"""The run-failure sensor on a real failed run in a temporary instance: the on-call file gets one line
with the job, run id, failing step and a one-line reason."""

import json

import dagster as dg

from finops_assets.definitions import defs
from finops_assets.lib.common.run_failures import first_line
from finops_assets.resources.warehouse import FinopsWarehouse


@dg.op
def load_the_bill():
    raise dg.Failure(description="no billing file under /data/billing\n  (second line of detail)")


@dg.job
def nightly():
    load_the_bill()


def test_a_failed_run_is_recorded_for_on_call_with_its_step_and_one_line_reason(tmp_path):
    sensor = defs().resolve_sensor_def("run_failure_alert")
    warehouse = FinopsWarehouse(snapshot_path=str(tmp_path / "warehouse" / "finops.duckdb"))
    with dg.instance_for_test() as instance:
        result = nightly.execute_in_process(instance=instance, raise_on_error=False)
        assert not result.success
        run = instance.get_run_by_id(result.run_id)
        failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE)
        with dg.build_run_status_sensor_context(sensor_name=sensor.name, dagster_event=failure,
                                                dagster_instance=instance, dagster_run=run,
                                                resources={"warehouse": warehouse}) as context:
            sensor(context.for_run_failure())
    lines = (tmp_path / "warehouse" / "run_failures.jsonl").read_text().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["job"] == "nightly" and record["run_id"] == result.run_id
    assert record["step"] == "load_the_bill"
    assert record["reason"] == "no billing file under /data/billing"
    assert record["failed_at"].endswith("+00:00")


def test_the_sensor_is_on_by_default_and_watches_this_code_location():
    sensor = defs().resolve_sensor_def("run_failure_alert")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING


def test_a_reason_is_one_visible_line_and_bounded():
    assert first_line("\n\n  boom\x1b[31m red\u200b\nTraceback ...") == "boom [31m red"
    assert first_line("") == "unknown reason"
    assert len(first_line("x" * 2000)) == 500
