import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import dagster as dg
import pytest

from finops_assets.definitions import defs
from finops_assets.defs.pools import DUCKDB_WRITE_POOL

PROJECT_ROOT = Path(__file__).resolve().parents[1]

EXPECTED_ASSETS = {
    "focus_billing", "billing_quarantine", "billing_files", "billing_rollup", "billing_rollup_hourly",
    "deployment_events", "team_repositories", "traffic_metrics", "incident_history",
    "cost_baselines", "cost_anomalies", "team_alerts", "routing_decisions", "correlated_deployments",
    "unattributed_alerts", "diff_analyses", "analyst_snapshot",
}
# Written by the create_cost_fix_pr job (reported, not materialized by the daily job).
PR_ASSETS = {"pull_requests", "pr_audit_log"}
EXPECTED_CHECKS = {
    "focus_billing:rows_reconcile_per_file", "focus_billing:every_file_loaded",
    "billing_rollup:billed_cost_reconciles", "billing_rollup_hourly:billed_cost_reconciles",
    "deployment_events:every_row_valid", "team_repositories:every_row_valid", "traffic_metrics:every_row_valid",
    "incident_history:every_row_valid",
    "cost_anomalies:anomaly_ids_are_unique", "cost_anomalies:sigma_above_the_limit",
    "routing_decisions:one_decision_per_anomaly", "routing_decisions:known_path_and_deployment_only_on_code_paths",
    "correlated_deployments:one_rank_one_per_anomaly", "diff_analyses:kept_patches_apply",
}


def test_code_location_loads_with_every_asset_described_and_owned():
    definitions = defs()
    dg.Definitions.validate_loadable(definitions)
    graph = definitions.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert keys == EXPECTED_ASSETS | PR_ASSETS
    assert {k.to_user_string() for k in graph.executable_asset_keys} == EXPECTED_ASSETS
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.description, f"{key} has no description"
        assert node.owners == ["team:finops"], key
        assert node.group_name, key
        assert node.kinds, key


def test_every_warehouse_step_is_in_the_duckdb_pool():
    definitions = defs()
    for assets_def in definitions.resolve_asset_graph().assets_defs:
        if not assets_def.is_executable:  # the PR job's tables: specs, written by its op (in the pool)
            continue
        for node in assets_def.node_def.node_defs if hasattr(assets_def.node_def, "node_defs") else [assets_def.node_def]:
            assert node.pool == DUCKDB_WRITE_POOL, assets_def.keys


def test_daily_schedule_rebuilds_the_last_three_days():
    definitions = defs()
    schedule = definitions.resolve_schedule_def("finops_daily_schedule")
    # Contexts are context managers: leaving one resets the instance it entered (else a later test
    # loading definitions finds a disposed instance).
    with dg.instance_for_test() as instance, dg.build_schedule_context(
            instance=instance, scheduled_execution_time=datetime(2026, 10, 5, 6, tzinfo=timezone.utc)) as context:
        request = schedule.evaluate_tick(context).run_requests[0]
    assert request.tags["dagster/asset_partition_range_start"] == "2026-10-02"
    assert request.tags["dagster/asset_partition_range_end"] == "2026-10-04"
    assert request.run_key == "daily-2026-10-04"


def test_dg_check_defs_accepts_the_project():
    dg_cli = Path(sys.executable).with_name("dg")
    result = subprocess.run([str(dg_cli), "check", "defs"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_check_is_listed_and_runs_in_the_daily_job():
    definitions = defs()
    graph = definitions.resolve_asset_graph()
    checks = {f"{k.asset_key.to_user_string()}:{k.name}" for k in graph.asset_check_keys}
    assert checks == EXPECTED_CHECKS
    job = definitions.resolve_job_def("finops_daily")
    assert {f"{k.asset_key.to_user_string()}:{k.name}" for k in job.asset_layer.asset_graph.asset_check_keys} == checks


def test_the_pr_job_op_and_every_check_use_the_duckdb_pool():
    definitions = defs()
    assert definitions.resolve_job_def("create_cost_fix_pr").graph.node_defs[0].pool == DUCKDB_WRITE_POOL
    for check in definitions.asset_checks:
        if not check.is_executable:
            continue
        assert check.node_def.pool == DUCKDB_WRITE_POOL, check.check_keys


def test_every_daily_asset_has_the_daily_freshness_policy():
    from finops_assets.defs.catalog import DAILY_FRESHNESS

    graph = defs().resolve_asset_graph()
    for key in graph.executable_asset_keys:
        assert graph.get(key).freshness_policy == DAILY_FRESHNESS, key


@pytest.mark.parametrize("config_file", ["dagster.yaml", "dagster.postgres.yaml"])
def test_both_instance_configs_free_the_write_slot_of_an_ended_run(config_file, tmp_path):
    """A step process that dies keeps its duckdb_write slot; run monitoring frees it once the run ended,
    so the retry or the next run is not queued behind a dead slot forever (seen in make ui-check)."""
    import yaml

    config = yaml.safe_load((Path(__file__).resolve().parents[1] / config_file).read_text())
    assert config["run_monitoring"]["enabled"] is True
    assert 0 < config["run_monitoring"]["free_slots_after_run_end_seconds"] <= 300
    if config_file == "dagster.yaml":
        (tmp_path / "dagster.yaml").write_text((Path(__file__).resolve().parents[1] / config_file).read_text())
        with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
            assert instance.run_monitoring_enabled
            assert instance.run_monitoring_settings["free_slots_after_run_end_seconds"] == \
                config["run_monitoring"]["free_slots_after_run_end_seconds"]


def test_the_pr_job_cannot_be_launched_without_an_approver():
    """The Launchpad marks the approver required: a launch without one is refused before any run."""
    job = defs().resolve_job_def("create_cost_fix_pr")
    op = "open_cost_fix_pull_request"
    with pytest.raises(dg.DagsterInvalidConfigError, match="approver"):
        dg.validate_run_config(job, {"ops": {op: {"config": {"analysis_id": "a1"}}}})
    dg.validate_run_config(job, {"ops": {op: {"config": {"analysis_id": "a1", "approver": "Dana Oncall"}}}})


EXPECTED_SENSORS = {  # name -> the job it launches (None: it only records)
    "new_bill_sensor": "finops_daily", "deployment_event_sensor": "correlate_new_deployments",
    "publish_after_successful_run": "publish_analyst_snapshot", "run_failure_alert": None,
}


def test_every_sensor_is_listed_and_runs_by_default():
    """`make dev` starts them all: a new bill is ingested and built with no click (new_bill_sensor)."""
    definitions = defs()
    sensors = {s.name: s for s in definitions.sensors}
    assert set(sensors) == set(EXPECTED_SENSORS)
    for name, job in EXPECTED_SENSORS.items():
        sensor = definitions.resolve_sensor_def(name)
        assert sensor.default_status == dg.DefaultSensorStatus.RUNNING, name
        assert (sensor.job_name if sensor.has_jobs else None) == job, name
