"""Daily and hourly cost per owner, rebuilt for a window of days (idempotent: delete, then insert)."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import duckdb

from finops_assets.lib.common.sql import fetch_one, load_sql
from finops_assets.lib.common.transactions import transaction

COST_METRICS = ("auto", "effective", "billed", "list")


@dataclass(frozen=True)
class Reconciliation:
    source_billed: Decimal
    daily_billed: Decimal
    hourly_billed: Decimal

    def rollup_billed(self, table: str) -> Decimal:
        return self.daily_billed if table == "billing_rollup" else self.hourly_billed

    def agrees(self, table: str) -> bool:
        """Exactly: money is summed in DECIMAL, so any difference is a lost or extra row."""
        return self.rollup_billed(table) == self.source_billed


def rebuild_rollup_window(conn: duckdb.DuckDBPyConnection, table: str, start: date, end: date, cost_metric: str) -> int:
    """Replace `table` (billing_rollup or billing_rollup_hourly) for usage dates in [start, end)."""
    if cost_metric not in COST_METRICS:
        raise ValueError(f"cost metric {cost_metric!r} is not one of {', '.join(COST_METRICS)}")
    conn.execute(load_sql(f"billing/create_{table}"))
    conn.execute(load_sql("billing/create_cost_metric_macro"))
    window = {"start": start, "end": end}
    with transaction(conn):
        # 'auto' depends on the whole bill (which providers fill EffectiveCost), not on the window.
        conn.execute(load_sql("billing/create_billing_cost_basis"))
        conn.execute(load_sql(f"billing/delete_{table}_window"), window)
        inserted = fetch_one(conn, load_sql(f"billing/insert_{table}_window"), window | {"cost_metric": cost_metric})[0]
    return int(inserted)


def reconcile_window(conn: duckdb.DuckDBPyConnection, start: date, end: date) -> Reconciliation:
    for table in ("billing_rollup", "billing_rollup_hourly"):
        conn.execute(load_sql(f"billing/create_{table}"))
    row = fetch_one(conn, load_sql("billing/select_billing_rollup_reconciliation"), {"start": start, "end": end})
    return Reconciliation(*(Decimal(v) for v in row))
