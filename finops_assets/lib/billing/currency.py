"""The reporting currency: decided once by ingestion, recorded in the warehouse, read by every step
that shows money (metadata, charts, routing rationales, PR bodies) through `reporting_currency`."""

import duckdb

from finops_assets.lib.common.sql import fetch_one, load_sql

# Why ingestion chose the currency (billing_reporting_currency.decided_by).
DECIDED_BY = ("setting", "usd_billed", "first_file", "default")


def record_reporting_currency(conn: duckdb.DuckDBPyConnection, currency: str, decided_by: str) -> None:
    """Write the decision; the caller's transaction makes it one change with the rows loaded in it."""
    if decided_by not in DECIDED_BY:
        raise ValueError(f"decided_by must be one of {DECIDED_BY}, got {decided_by!r}")
    conn.execute(load_sql("billing/insert_billing_reporting_currency"),
                 {"reporting_currency": currency, "decided_by": decided_by})


def reporting_currency(conn: duckdb.DuckDBPyConnection) -> str | None:
    """The currency every amount in the warehouse is in, as ingestion recorded it; None before any
    ingestion (no billing_reporting_currency table, or no row)."""
    if not fetch_one(conn, "select count(*) from duckdb_tables() where table_name = 'billing_reporting_currency' "
                           "and database_name = current_database() and schema_name = current_schema()")[0]:
        return None
    row = fetch_one(conn, load_sql("billing/select_billing_reporting_currency"))
    return row[0] if row else None
