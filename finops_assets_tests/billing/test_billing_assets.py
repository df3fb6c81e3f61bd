"""The billing assets under Dagster: checks that fail when the data is wrong, idempotent partitions."""

import dagster as dg
import duckdb
import pytest

from finops_assets.defs.billing.assets import (
    billing_rollup,
    billing_rollup_hourly,
    focus_billing,
)
from finops_assets.lib.common.money import format_money
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
    # For people: the reporting currency (the official sample bills in USD) and cents, from the exact DECIMAL.
    assert metadata["billed_cost_total_text"].value == format_money(billed, "USD")
    assert "USD " in metadata["cost_by_owner"].value


@pytest.mark.parametrize("layout", ["no_folder", "empty_folder", "only_unloadable_files"])
def test_a_bill_with_nothing_loadable_fails_the_step_in_one_line_and_is_not_retried(resources, data_dir, layout):
    import shutil

    shutil.rmtree(data_dir / "billing")
    if layout != "no_folder":
        (data_dir / "billing").mkdir()
    if layout == "only_unloadable_files":
        (data_dir / "billing" / "empty.csv").write_bytes(b"")
        (data_dir / "billing" / "broken.parquet").write_text("not parquet")
    result = dg.materialize([focus_billing], resources=resources, raise_on_error=False)
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    message = failure.step_failure_data.error.message.strip()
    assert "\n" not in message.split("Failure: ", 1)[-1].strip()
    assert {"no_folder": "does not exist", "empty_folder": "no billing file",
            "only_unloadable_files": "no loadable billing file"}[layout] in message
    assert str(data_dir / "billing") in message
    assert failure.step_failure_data.user_failure_data is not None  # a dg.Failure, not a crash


def test_refused_exchange_rates_and_conversions_are_said_in_the_run(resources, data_dir):
    (data_dir / "exchange_rates.csv").write_text("currency,rate\nEUR,0\nGBP,1.25\n")
    from finops_assets_tests.billing.test_focus_ingest import line, write_csv

    write_csv(data_dir / "billing" / "gbp.csv", [line(1, h, cost="4", BillingCurrency="GBP") for h in range(2)])
    write_csv(data_dir / "billing" / "eur.csv", [line(2, h, cost="7", BillingCurrency="EUR") for h in range(3)])
    with dg.instance_for_test() as instance:
        result = dg.materialize([focus_billing], resources=resources, instance=instance)
        assert result.success
        logged = [e.user_message for e in instance.all_logs(result.run_id)]
    metadata = result.asset_materializations_for_node("focus_billing")[0].metadata
    assert metadata["reporting_currency"].value == "USD"
    assert any("exchange_rates.csv: line 2: exchange_rate_invalid" in m for m in logged)
    assert any(m == "converted 2 rows from GBP at 1.25 (exchange_rates.csv): 10.00 USD billed" for m in logged)
    assert "2 rows GBP x 1.25" in metadata["currency_conversions"].value
    assert any(m.startswith("3 row(s) billed in EUR are quarantined, not in the rollups") for m in logged)
