"""The product's chain on a hand-built bill, without a Dagster run: the real ingestion, both rollups,
the side inputs, baselines, anomalies and routing, in the order the assets run them."""

from datetime import date, timedelta
from pathlib import Path

import duckdb

from finops_assets.lib.billing.ingest import IngestSettings, ingest_billing_files
from finops_assets.lib.billing.rollup import rebuild_rollup_window
from finops_assets.lib.detection.pipeline import (
    DetectionSettings,
    build_anomalies,
    build_baselines,
)
from finops_assets.lib.inputs.side_inputs import (
    SIDE_INPUTS,
    ParsedInput,
    write_side_input,
)
from finops_assets.lib.routing.decisions import route_anomalies


def route_bill(conn: duckdb.DuckDBPyConnection, bill: Path, first_day: date, days: int, staging_dir: Path,
               side_rows: dict[str, list] | None = None, settings: DetectionSettings | None = None) -> None:
    """Ingest `bill`, roll up `days` days from `first_day`, write the side inputs (`side_rows` by input
    name, the others empty) and decide every anomaly's cause."""
    ingest_billing_files(conn, [bill], IngestSettings(), staging_dir=staging_dir)
    for table in ("billing_rollup", "billing_rollup_hourly"):
        rebuild_rollup_window(conn, table, first_day, first_day + timedelta(days=days), "auto")
    for spec in SIDE_INPUTS.values():
        write_side_input(conn, ParsedInput(spec, [], (side_rows or {}).get(spec.name, [])))
    settings = settings or DetectionSettings()
    build_baselines(conn, settings)
    build_anomalies(conn, settings)
    route_anomalies(conn, settings)
