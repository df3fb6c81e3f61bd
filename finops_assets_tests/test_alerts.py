"""The run-failure sensor on a real failed run in a temporary instance: the on-call file gets one line
with the job, run id, failing step and a one-line reason."""

import json
from datetime import UTC, datetime

import dagster as dg

from finops_assets.definitions import defs
from finops_assets.lib.common.run_failures import failure_record
from finops_assets.lib.common.text import first_line
from finops_assets.resources.warehouse import FinopsWarehouse


@dg.op
def load_the_bill():
    raise dg.Failure(description="no billing file under /data/billing\n  (second line of detail)")


@dg.job
def nightly():
    load_the_bill()


def test_a_failed_run_is_recorded_for_on_call_with_its_step_and_one_line_reason(tmp_path):
    sensor = defs().resolve_sensor_def("run_failure_alert")
    # The steps write elsewhere (FINOPS_WRITER_WAREHOUSE): the record still goes where analysts look.
    warehouse = FinopsWarehouse(snapshot_path=str(tmp_path / "warehouse" / "finops.duckdb"),
                                writer_path=str(tmp_path / "local" / "finops.writer.duckdb"))
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
    assert len(lines) == 1 and not (tmp_path / "local").exists()
    record = json.loads(lines[0])
    assert record["job"] == "nightly" and record["run_id"] == result.run_id
    assert record["step"] == "load_the_bill"
    assert record["reason"] == "no billing file under /data/billing"
    assert record["failed_at"].endswith("+00:00")


def test_the_sensor_is_on_by_default_and_watches_this_code_location(tmp_path):
    # Two failed runs, evaluated as the daemon does: any job of this code location is recorded (a
    # test run has no code location, like the sensor's test context), a job of another one is not.
    from dagster._core.remote_origin import (
        RegisteredCodeLocationOrigin,
        RemoteJobOrigin,
        RemoteRepositoryOrigin,
    )

    sensor = defs().resolve_sensor_def("run_failure_alert")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    warehouse = FinopsWarehouse(snapshot_path=str(tmp_path / "warehouse" / "finops.duckdb"))
    with dg.instance_for_test() as instance:
        started = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, resources={"warehouse": warehouse}))
        ours = nightly.execute_in_process(instance=instance, raise_on_error=False)
        origin = RemoteJobOrigin(RemoteRepositoryOrigin(RegisteredCodeLocationOrigin("elsewhere"), "__repository__"),
                                 "their_job")
        theirs = dg.DagsterRun(job_name="their_job", run_id="0" * 8 + "-0000-0000-0000-" + "0" * 12,
                               remote_job_origin=origin)
        instance.add_run(theirs)
        instance.report_run_failed(theirs)
        sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=started.cursor,
                                                     resources={"warehouse": warehouse}))
    lines = (tmp_path / "warehouse" / "run_failures.jsonl").read_text().splitlines()
    assert [json.loads(line)["run_id"] for line in lines] == [ours.run_id]


def test_a_reason_is_one_visible_line_and_bounded():
    assert first_line("\n\n  boom\x1b[31m red\u200b\nTraceback ...") == "boom [31m red"
    assert first_line("") == "" and first_line("\u200b\n\u202e\n") == ""   # nothing visible on any line
    assert first_line("\u3164\ufe0f\n rm -rf \u202eexe.txt") == "rm -rf exe.txt"  # default-ignorable and bidi
    assert len(first_line("x" * 2000)) == 500
    when = datetime(2026, 3, 1, tzinfo=UTC)
    assert failure_record("j", "r", None, "\n \u200b \n", when)["reason"] == "unknown reason"
    assert len(failure_record("j", "r", None, "x" * 2000, when)["reason"]) == 500
