import dagster as dg
import pytest

from finops_assets.definitions import defs
from finops_assets.lib.publishing.snapshot import run_already_published


@pytest.fixture
def location(data_dir, warehouse_path, monkeypatch):
    monkeypatch.setenv("FINOPS_DATA_DIR", str(data_dir))
    monkeypatch.setenv("FINOPS_WAREHOUSE", str(warehouse_path))
    return defs()


def _evaluate(location, instance, result):
    sensor = location.resolve_sensor_def("publish_after_successful_run")
    context = dg.build_run_status_sensor_context(
        sensor_name=sensor.name, dagster_instance=instance, dagster_run=result.dagster_run,
        dagster_event=result.get_run_success_event(),
        repository_def=location.get_repository_def())
    return sensor(context)


def test_a_partial_ui_run_is_followed_by_a_publish_request(location):
    with dg.instance_for_test() as instance:
        result = location.resolve_job_def("finops_daily").execute_in_process(
            instance=instance, asset_selection=[dg.AssetKey("traffic_metrics")])
        request = _evaluate(location, instance, result)
    assert isinstance(request, dg.RunRequest)
    assert request.run_key == f"publish-after-{result.run_id}"


def test_a_run_that_published_is_not_published_again(location):
    with dg.instance_for_test() as instance:
        result = location.resolve_job_def("finops_daily").execute_in_process(
            instance=instance, asset_selection=[dg.AssetKey("traffic_metrics"), dg.AssetKey("analyst_snapshot")])
        outcome = _evaluate(location, instance, result)
    assert isinstance(outcome, dg.SkipReason)


def test_whole_job_runs_count_as_published():
    assert run_already_published(None, {"billing_rollup", "analyst_snapshot"})
    assert not run_already_published({"billing_rollup"}, {"analyst_snapshot"})
