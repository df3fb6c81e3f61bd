"""The billing assets under Dagster: checks that fail when the data is wrong, idempotent partitions."""

import dagster as dg
import duckdb
import pytest

from finops_assets.defs.billing.assets import billing_rollup, billing_rollup_hourly, focus_billing
from finops_assets.resources.settings import FinopsSettings
from finops_assets.resources.warehouse import FinopsWarehouse


@pytest.fixture
def resources(data_dir, warehouse_path):
    return {"warehouse": FinopsWarehouse(snapshot_path=str(warehouse_path)),
            "settings": FinopsSettings(data_dir=str(data_dir))}


def _checks(result) -> dict[str, bool]:
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


def test_rows_lost_after_ingestion_fail_the_blocking_reconciliation_check(resources):
    first = dg.materialize([focus_billing], resources=resources)
    assert _checks(first) == {"rows_reconcile_per_file": True, "every_file_loaded": True}
    with resources["warehouse"].write() as conn:  # a row disappears behind the pipeline's back
        conn.execute("delete from focus_billing where source_row = 17")
    second = dg.materialize([focus_billing], resources=resources, raise_on_error=False)
    assert _checks(second)["rows_reconcile_per_file"] is False
    assert not second.success  # blocking: downstream would not run


def test_a_partition_materialized_twice_gives_identical_rollups(resources):
    dg.materialize([focus_billing], resources=resources)
    snapshots = []
    for _ in range(2):
        result = dg.materialize([billing_rollup, billing_rollup_hourly], partition_key="2024-09-18",
                                resources=resources, selection=[billing_rollup, billing_rollup_hourly])
        assert result.success and all(_checks(result).values())
        with resources["warehouse"].read() as conn:
            snapshots.append((conn.sql("select * from billing_rollup order by all").fetchall(),
                              conn.sql("select * from billing_rollup_hourly order by all").fetchall()))
    assert snapshots[0] == snapshots[1]
    with resources["warehouse"].read() as conn:
        days, daily, hourly = conn.sql(
            "select (select list(distinct usage_date::varchar) from billing_rollup), "
            "(select sum(billed_cost) from billing_rollup), (select sum(billed_cost) from billing_rollup_hourly)").fetchall()[0]
    assert days == ["2024-09-18"]
    assert daily == pytest.approx(hourly) and daily > 0


def test_rollup_metadata_reports_rows_and_cost(resources):
    dg.materialize([focus_billing], resources=resources)
    result = dg.materialize([billing_rollup], partition_key="2024-09-18", resources=resources)
    metadata = result.asset_materializations_for_node("billing_rollup")[0].metadata
    with duckdb.connect(resources["warehouse"].writer_file, read_only=True) as conn:
        rows, billed = conn.sql("select count(*), sum(billed_cost) from billing_rollup").fetchall()[0]
    assert metadata["dagster/row_count"].value == rows > 0
    assert metadata["billed_cost_total"].value == pytest.approx(float(billed))
