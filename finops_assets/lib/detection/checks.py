"""Checks on cost_anomalies, each a query that returns the failing rows (none = passed)."""

import duckdb
import polars as pl

from finops_assets.lib.common.sql import load_sql


def duplicate_anomaly_ids(conn: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return conn.sql(load_sql("detection/select_cost_anomalies_duplicate_ids")).pl()


def anomalies_below_limit(conn: duckdb.DuckDBPyConnection, k_sigma: float) -> pl.DataFrame:
    return conn.sql(load_sql("detection/select_cost_anomalies_below_limit"), params={"k_sigma": k_sigma}).pl()
