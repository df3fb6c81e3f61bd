"""Checks on routing_decisions and correlated_deployments, each a query that returns the failing
rows (none = passed)."""

import duckdb
import polars as pl

from finops_assets.lib.common.sql import load_sql
from finops_assets.lib.routing.rules import DEPLOYMENT_PATHS, PATHS


def decisions_not_one_per_anomaly(conn: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return conn.sql(load_sql("routing/select_routing_decisions_not_one_per_anomaly")).pl()


def decisions_with_bad_path(conn: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return conn.sql(load_sql("routing/select_routing_decisions_bad_path"),
                    params={"paths": list(PATHS), "deployment_paths": list(DEPLOYMENT_PATHS)}).pl()


def anomalies_without_one_rank_one(conn: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return conn.sql(load_sql("routing/select_correlated_deployments_not_one_rank_one")).pl()
