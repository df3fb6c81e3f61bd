"""new_bill_sensor on the official FOCUS sample: a delivery is ingested, then exactly its days are
built, then nothing; a new file is ingested again; nothing is asked while finops_daily runs."""

import json
import os
import shutil
from datetime import date

import dagster as dg
import duckdb
import pytest

from finops_assets.definitions import defs
from finops_assets.lib.billing.bill_sensor import (
    INGESTION_ASSETS,
    folder_signature,
    ingested_since_built,
    missing_days,
    range_to_build,
)
from finops_assets_tests.conftest import official_sample

RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


@pytest.fixture
def location(data_dir, warehouse_path, monkeypatch):
    monkeypatch.setenv("FINOPS_DATA_DIR", str(data_dir))
    monkeypatch.setenv("FINOPS_WAREHOUSE", str(warehouse_path))
    return defs()


def _tick(location, instance, cursor):
    sensor = location.resolve_sensor_def("new_bill_sensor")
    with dg.build_sensor_context(instance=instance, cursor=cursor, definitions=location,
                                 resources=location.resources) as context:
        return sensor.evaluate_tick(context)


def _run(location, instance, request):
    """The request as the daemon would launch it: its assets and tags on finops_daily."""
    result = location.resolve_job_def("finops_daily").execute_in_process(
        instance=instance, asset_selection=list(request.asset_selection), tags=request.tags)
    assert result.success
    return result


def _bill_days(warehouse_path):
    """Independently of the sensor: the distinct days of the bill's rows in the writer file."""
    writer = warehouse_path.with_name("finops.writer.duckdb")
    with duckdb.connect(str(writer), read_only=True) as conn:
        rows = conn.execute("select distinct usage_date from focus_billing order by 1").fetchall()
    return [d.isoformat() for (d,) in rows]


def test_a_delivery_is_ingested_then_exactly_its_days_are_built_then_nothing(location, data_dir, warehouse_path):
    with dg.instance_for_test() as instance:
        tick = _tick(location, instance, None)
        [ingest] = tick.run_requests
        assert sorted(k.to_user_string() for k in ingest.asset_selection) == sorted(INGESTION_ASSETS)
        assert RANGE_START not in ingest.tags
        assert json.loads(tick.cursor)["signature"] == folder_signature(data_dir / "billing")
        _run(location, instance, ingest)

        tick = _tick(location, instance, tick.cursor)
        [build] = tick.run_requests
        days = _bill_days(warehouse_path)
        assert (build.tags[RANGE_START], build.tags[RANGE_END]) == (days[0], days[-1])
        selected = {k.to_user_string() for k in build.asset_selection}
        assert {"billing_rollup", "cost_anomalies", "deployment_events", "analyst_snapshot"} <= selected
        assert not selected & set(INGESTION_ASSETS)
        assert build.run_key != ingest.run_key
        _run(location, instance, build)
        assert set(days) <= instance.get_materialized_partitions(dg.AssetKey("billing_rollup"))

        tick = _tick(location, instance, tick.cursor)
        assert not tick.run_requests and "every day" in tick.skip_message

        # A new delivery: a copy of the month under another name is a new file to ingest.
        shutil.copy(official_sample(), data_dir / "billing" / "focus_sample_redelivered.csv")
        tick = _tick(location, instance, tick.cursor)
        [again] = tick.run_requests
        assert sorted(k.to_user_string() for k in again.asset_selection) == sorted(INGESTION_ASSETS)
        assert again.run_key != ingest.run_key
        _run(location, instance, again)

        # Every day is built, but the delivery may restate them: all are rebuilt, as `run` does.
        tick = _tick(location, instance, tick.cursor)
        [rebuild] = tick.run_requests
        assert (rebuild.tags[RANGE_START], rebuild.tags[RANGE_END]) == (days[0], days[-1])
        assert rebuild.run_key != build.run_key


def test_nothing_is_asked_while_a_finops_daily_run_is_in_progress(location):
    with dg.instance_for_test() as instance:
        instance.create_run_for_job(location.resolve_job_def("finops_daily"), run_config={},
                                    status=dg.DagsterRunStatus.STARTED)
        tick = _tick(location, instance, None)
        assert not tick.run_requests and "started" in tick.skip_message
    with dg.instance_for_test() as instance:  # another job's run does not hold it back
        instance.create_run_for_job(location.resolve_job_def("publish_analyst_snapshot"), run_config={},
                                    status=dg.DagsterRunStatus.STARTED)
        assert _tick(location, instance, None).run_requests


def test_a_touched_or_removed_file_changes_the_signature(tmp_path):
    billing = tmp_path / "billing"
    billing.mkdir()
    (billing / "a.csv").write_text("x\n")
    first = folder_signature(billing)
    assert folder_signature(billing) == first
    (billing / "notes.txt").write_text("not a bill")
    assert folder_signature(billing) == first
    stat = (billing / "a.csv").stat()
    os.utime(billing / "a.csv", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
    touched = folder_signature(billing)
    assert touched != first
    (billing / "b.csv").write_text("y\n")
    assert folder_signature(billing) not in (first, touched)
    (billing / "b.csv").unlink()
    assert folder_signature(billing) == touched


def test_missing_days_are_the_bills_partitions_without_a_rollup():
    keys = {f"2026-06-{d:02d}" for d in range(2, 31)}  # the partitions start on June 2
    built = {"2026-06-03", "2026-06-05"}
    missing = missing_days(date(2026, 6, 1), date(2026, 6, 6), keys, built)
    assert missing == ["2026-06-02", "2026-06-04", "2026-06-06"]
    assert range_to_build(missing) == ("2026-06-02", "2026-06-06")
    assert missing_days(None, None, keys, set()) == [] and range_to_build([]) is None
    assert missing_days(date(2026, 6, 3), date(2026, 6, 3), keys, built) == []
    assert missing_days(date(2026, 6, 1), date(2026, 6, 3), keys, built, rebuild_all=True) == \
        ["2026-06-02", "2026-06-03"]


def test_a_bill_ingested_after_the_last_rollup_is_rebuilt_whole():
    assert ingested_since_built(100.0, None)
    assert ingested_since_built(100.0, 99.0)
    assert not ingested_since_built(100.0, 101.0)
    assert not ingested_since_built(None, None)
