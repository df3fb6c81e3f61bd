"""Which anomalies the metadata shows first (pure): the highest cost-weighted priority score (seed 001),
ties broken by anomaly_id, so every run over the same data and both assets that show them
(cost_anomalies' charts, routing_decisions' charts with evidence) pick the same ones."""

import duckdb

from finops_assets.lib.common.sql import load_sql

# Anomalies charted in an asset's metadata: each PNG is 11 to 20 kB (lib/detection/charts.py) and is
# stored with the materialization event in the run storage, so only the top few.
TOP_ANOMALIES = 5


def top_anomaly_ids(conn: duckdb.DuckDBPyConnection, n: int = TOP_ANOMALIES) -> list[str]:
    """The ids of the `n` anomalies with the highest priority_score (ties: the smaller anomaly_id first)."""
    return [row[0] for row in conn.execute(load_sql("detection/select_top_anomaly_ids"), {"n": n}).fetchall()]
