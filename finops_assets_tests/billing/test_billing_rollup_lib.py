"""Daily and hourly rollups (lib/billing/rollup.py) over hand-placed focus_billing rows, no Dagster."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import count
from pathlib import Path

import duckdb
import pytest

from finops_assets.lib.billing.rollup import (
    COST_METRICS,
    Reconciliation,
    rebuild_rollup_window,
    reconcile_window,
)
from finops_assets.lib.common.sql import load_sql

MAY = (date(2025, 5, 1), date(2025, 6, 1))
_rows = count(1)


@pytest.fixture
def conn(tmp_path: Path):
    connection = duckdb.connect(str(tmp_path / "w.duckdb"))
    connection.execute(load_sql("billing/create_focus_billing"))
    yield connection
    connection.close()


def add(conn, start: datetime, billed: float, *, end: datetime | None | str = "1h", effective: float | None = None,
        list_cost: float | None = None, resource: str = "r-1", department: str = "retail", team: str = "checkout",
        category: str = "Usage", duplicate: bool = False, quantity: float | None = None) -> None:
    n = next(_rows)
    end_value = start + timedelta(hours=1) if end == "1h" else end
    conn.execute(
        "insert into focus_billing (source_file, source_row, row_key, is_duplicate, charge_period_start, "
        "charge_period_end, usage_date, provider_name, sub_account_id, department, team, charge_category, "
        "service_name, resource_id, region_id, billing_currency, exchange_rate, billed_cost, effective_cost, "
        "list_cost, consumed_quantity) values ('bill.csv', $n, $n, $duplicate, $start, $end, $day, 'AWS', 'sub-1', "
        "$department, $team, $category, 'EC2', $resource, 'us-east-1', 'USD', 1.0, $billed, $effective, $list, "
        "$quantity)",
        {"n": n, "duplicate": duplicate, "start": start, "end": end_value, "day": start.date(),
         "department": department, "team": team, "category": category, "resource": resource, "billed": billed,
         "effective": effective, "list": list_cost, "quantity": quantity},
    )


def rows(conn, query: str, params: dict | None = None) -> list[tuple]:
    return conn.execute(query, params or {}).fetchall()


def seed_metric_rows(conn) -> None:
    day = datetime(2025, 5, 1, 3)
    add(conn, day, 10.0, effective=0.0, list_cost=12.0, resource="aws-style")  # AWS sample: effective 0
    add(conn, day, 10.0, effective=6.0, list_cost=12.0, resource="discounted")
    add(conn, day, 4.0, effective=None, list_cost=None, resource="no-effective")
    add(conn, day, 5.0, effective=5.0, list_cost=8.0, resource="on-demand")
    add(conn, day, -2.0, effective=-2.0, list_cost=None, resource="credit", category="Credit")


@pytest.mark.parametrize("metric, expected", [
    # 2 of the provider's 4 billed usage rows carry EffectiveCost: trusted, so 0 stays 0.
    ("auto", {"aws-style": 0.0, "discounted": 6.0, "no-effective": 4.0, "on-demand": 5.0, "credit": -2.0}),
    ("billed", {"aws-style": 10.0, "discounted": 10.0, "no-effective": 4.0, "on-demand": 5.0, "credit": -2.0}),
    ("effective", {"aws-style": 0.0, "discounted": 6.0, "no-effective": 0.0, "on-demand": 5.0, "credit": -2.0}),
    ("list", {"aws-style": 12.0, "discounted": 12.0, "no-effective": 4.0, "on-demand": 8.0, "credit": -2.0}),
])
def test_cost_metric_per_row(conn, metric, expected):
    seed_metric_rows(conn)
    for table in ("billing_rollup", "billing_rollup_hourly"):
        assert rebuild_rollup_window(conn, table, *MAY, metric) == 5
        got = dict(rows(conn, f"select resource_id, cost from {table}"))
        assert got == expected, table
        # The billed, effective and list columns are the bill's own, whatever the metric.
        assert rows(conn, f"select sum(billed_cost), sum(effective_cost), sum(list_cost) from {table}") \
            == [(27.0, 9.0, 32.0)]


def test_unknown_cost_metric_is_refused_and_leaves_the_rollup_alone(conn):
    seed_metric_rows(conn)
    rebuild_rollup_window(conn, "billing_rollup", *MAY, "billed")
    before = rows(conn, "select * from billing_rollup order by all")
    with pytest.raises(ValueError, match="amortized"):
        rebuild_rollup_window(conn, "billing_rollup", *MAY, "amortized")
    assert rows(conn, "select * from billing_rollup order by all") == before
    assert set(COST_METRICS) == {"auto", "effective", "billed", "list"}


def test_rows_of_one_owner_resource_and_day_are_summed_and_owners_kept_apart(conn):
    add(conn, datetime(2025, 5, 1, 0), 1.0, quantity=2.0)
    add(conn, datetime(2025, 5, 1, 23), 2.0, quantity=3.0)
    add(conn, datetime(2025, 5, 1, 5), 4.0, team="search")
    add(conn, datetime(2025, 5, 1, 6), 8.0, department="unallocated", team="unallocated")
    add(conn, datetime(2025, 5, 2, 0), 16.0)
    assert rebuild_rollup_window(conn, "billing_rollup", *MAY, "auto") == 4
    assert rows(conn, "select usage_date, department, team, billed_cost, consumed_quantity, line_items "
                      "from billing_rollup order by all") == [
        (date(2025, 5, 1), "retail", "checkout", 3.0, 5.0, 2),
        (date(2025, 5, 1), "retail", "search", 4.0, None, 1),
        (date(2025, 5, 1), "unallocated", "unallocated", 8.0, None, 1),
        (date(2025, 5, 2), "retail", "checkout", 16.0, None, 1),
    ]


def test_rows_superseded_by_a_newer_delivery_are_left_out(conn):
    add(conn, datetime(2025, 5, 1, 0), 5.0, duplicate=True)
    add(conn, datetime(2025, 5, 1, 0), 7.5)
    rebuild_rollup_window(conn, "billing_rollup", *MAY, "auto")
    rebuild_rollup_window(conn, "billing_rollup_hourly", *MAY, "auto")
    for table in ("billing_rollup", "billing_rollup_hourly"):
        assert rows(conn, f"select sum(billed_cost), sum(line_items) from {table}") == [(7.5, 1)]


def test_the_window_is_half_open_and_days_outside_it_are_untouched(conn):
    for day in (1, 2, 3):
        add(conn, datetime(2025, 5, day, 12), float(day))
    rebuild_rollup_window(conn, "billing_rollup", *MAY, "auto")
    conn.execute("update focus_billing set billed_cost = billed_cost * 10")
    conn.execute("delete from focus_billing where usage_date = '2025-05-02'")  # a day's rows left the bill

    assert rebuild_rollup_window(conn, "billing_rollup", date(2025, 5, 2), date(2025, 5, 3), "auto") == 0
    assert rows(conn, "select usage_date, billed_cost from billing_rollup order by 1") == [
        (date(2025, 5, 1), 1.0), (date(2025, 5, 3), 3.0)]  # 5/2 gone (no stale row), others untouched

    assert rebuild_rollup_window(conn, "billing_rollup", date(2025, 5, 1), date(2025, 5, 3), "auto") == 1
    assert rows(conn, "select usage_date, billed_cost from billing_rollup order by 1") == [
        (date(2025, 5, 1), 10.0), (date(2025, 5, 3), 3.0)]  # end date excluded


def test_rebuilding_is_idempotent(conn):
    seed_metric_rows(conn)
    add(conn, datetime(2025, 5, 2, 1), 1.0)
    snapshots = []
    for _ in range(3):
        rebuild_rollup_window(conn, "billing_rollup", *MAY, "auto")
        rebuild_rollup_window(conn, "billing_rollup_hourly", *MAY, "auto")
        snapshots.append([rows(conn, f"select * from {t} order by all") for t in ("billing_rollup", "billing_rollup_hourly")])
    assert snapshots[0] == snapshots[1] == snapshots[2]
    assert len(snapshots[0][0]) == 6


def test_hourly_rollup_buckets_by_hour_and_flags_charges_longer_than_an_hour(conn):
    add(conn, datetime(2025, 5, 1, 10, 0), 1.0, resource="hourly")
    add(conn, datetime(2025, 5, 1, 10, 30), 2.0, end=datetime(2025, 5, 1, 11, 0), resource="hourly")
    add(conn, datetime(2025, 5, 1, 0), 24.0, end=datetime(2025, 5, 2, 0), resource="daily")
    add(conn, datetime(2025, 5, 1, 7, 15), 3.0, end=None, resource="open-ended")
    assert rebuild_rollup_window(conn, "billing_rollup_hourly", *MAY, "auto") == 3
    assert rows(conn, "select usage_hour, usage_date, hourly_grain, resource_id, billed_cost, line_items "
                      "from billing_rollup_hourly order by usage_hour") == [
        (datetime(2025, 5, 1, 0), date(2025, 5, 1), False, "daily", 24.0, 1),
        (datetime(2025, 5, 1, 7), date(2025, 5, 1), True, "open-ended", 3.0, 1),
        (datetime(2025, 5, 1, 10), date(2025, 5, 1), True, "hourly", 3.0, 2),
    ]


def test_reconciliation_compares_accepted_rows_with_both_rollups(conn):
    seed_metric_rows(conn)
    add(conn, datetime(2025, 5, 1, 0), 100.0, duplicate=True)  # not part of the bill any more
    add(conn, datetime(2025, 6, 1, 0), 1000.0)  # outside the window
    empty = reconcile_window(conn, *MAY)  # creates the rollup tables if they are missing
    assert (empty.source_billed, empty.daily_billed, empty.hourly_billed) == (27.0, 0.0, 0.0)
    assert not empty.agrees("billing_rollup")

    rebuild_rollup_window(conn, "billing_rollup", *MAY, "effective")
    partial = reconcile_window(conn, *MAY)
    assert partial.agrees("billing_rollup") and not partial.agrees("billing_rollup_hourly")
    rebuild_rollup_window(conn, "billing_rollup_hourly", *MAY, "list")
    done = reconcile_window(conn, *MAY)
    assert (done.source_billed, done.daily_billed, done.hourly_billed) == (27.0, 27.0, 27.0)
    assert done.agrees("billing_rollup") and done.agrees("billing_rollup_hourly")

    conn.execute("update focus_billing set billed_cost = billed_cost + 0.01 where resource_id = 'on-demand'")
    assert not reconcile_window(conn, *MAY).agrees("billing_rollup")


def test_reconciliation_is_exact_to_the_last_decimal_place():
    billion = Decimal("1000000000")
    assert Reconciliation(billion, billion, billion).agrees("billing_rollup")
    assert not Reconciliation(billion, billion + Decimal("0.000000000001"), billion).agrees("billing_rollup")
    assert not Reconciliation(Decimal(1), Decimal(1), Decimal("1.01")).agrees("billing_rollup_hourly")
    assert Reconciliation(Decimal(3), Decimal(1), Decimal(3)).rollup_billed("billing_rollup_hourly") == 3