import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import dagster as dg

from finops_assets.definitions import defs
from finops_assets.defs.pools import DUCKDB_WRITE_POOL

PROJECT_ROOT = Path(__file__).resolve().parents[1]

EXPECTED_ASSETS = {
    "focus_billing", "billing_quarantine", "billing_files", "billing_rollup", "billing_rollup_hourly",
    "deployment_events", "team_repositories", "traffic_metrics", "incident_history", "analyst_snapshot",
}


def test_code_location_loads_with_every_asset_described_and_owned():
    definitions = defs()
    dg.Definitions.validate_loadable(definitions)
    graph = definitions.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert EXPECTED_ASSETS <= keys
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.description, f"{key} has no description"
        assert node.owners == ["team:finops"], key
        assert node.group_name, key
        assert node.kinds, key


def test_every_warehouse_step_is_in_the_duckdb_pool():
    definitions = defs()
    for assets_def in definitions.resolve_asset_graph().assets_defs:
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
