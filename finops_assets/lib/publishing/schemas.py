"""The analysts' tables as the code writes them: each table's columns come from running the very
statements and frames the pipeline writes with (lib/<domain>/sql/create_*.sql, the side inputs'
polars schemas, routing's frame schemas) against an empty in-memory DuckDB, then DESCRIBE. Nothing
is written twice, so a column added to a CREATE statement shows up in the catalog by itself, and a
test compares these columns with a real warehouse's (finops_assets_tests/test_catalog.py).

Column descriptions live in one place, COLUMN_DESCRIPTIONS below; a test checks that every
described column exists."""

from dataclasses import dataclass
from datetime import date
from functools import cache

import duckdb

from finops_assets.lib.billing.rollup import rebuild_rollup_window
from finops_assets.lib.common.sql import load_sql
from finops_assets.lib.detection.pipeline import (
    DetectionSettings,
    build_anomalies,
    build_baselines,
    build_team_alerts,
)
from finops_assets.lib.inputs.side_inputs import (
    SIDE_INPUTS,
    ParsedInput,
    write_side_input,
)
from finops_assets.lib.routing.decisions import route_anomalies

# Where analysts find a table: the published file is finops.duckdb, so DuckDB names its catalog
# `finops`, and every table is in schema `main` (lib/publishing/snapshot.py copies the warehouse whole).
SNAPSHOT_CATALOG = "finops"

# Every table an asset writes, by asset key (the asset and its table share the name).
ANALYST_TABLES = (
    "focus_billing", "billing_quarantine", "billing_files", "billing_rollup", "billing_rollup_hourly",
    "deployment_events", "team_repositories", "traffic_metrics", "incident_history",
    "cost_baselines", "cost_anomalies", "team_alerts", "routing_decisions", "correlated_deployments",
    "unattributed_alerts", "diff_analyses", "pull_requests", "pr_audit_log",
)

COLUMN_DESCRIPTIONS: dict[str, dict[str, str]] = {
    "focus_billing": {
        "source_file": "The billing file the row came from",
        "source_row": "Row number in that file (1 = first data row)",
        "is_duplicate": "Replaced by a newer delivery of the same rows: leave these out",
        "billed_cost": "FOCUS BilledCost in the reporting currency",
        "department": "Owner department from the Tags column ('unallocated' when none)",
        "team": "Owner team from the Tags column ('unallocated' when none)",
    },
    "billing_quarantine": {
        "rule": "The rule the row breaks",
        "reason": "Why, naming the column and value",
        "raw_record": "The row as read, as JSON",
    },
    "billing_files": {
        "status": "'loaded' or 'failed'",
        "error": "Why the file could not be read",
    },
    "billing_rollup": {
        "cost": "The detection metric chosen by FINOPS_COST_METRIC",
        "line_items": "FOCUS rows summed into this row",
    },
    "billing_rollup_hourly": {
        "hourly_grain": "False when the charge covers more than an hour (booked at its start)",
    },
    "cost_baselines": {
        "baseline_mean": "Robust baseline: median of the same kind of day over the "
                         f"{DetectionSettings().baseline_window_days} days before (DetectionSettings.baseline_window_days)",
        "baseline_std": "1.4826 x MAD over the same days, floored",
        "sigma": "(actual_cost - baseline_mean) / baseline_std",
        "is_flagged": "The day is anomalous",
    },
    "cost_anomalies": {
        "anomaly_id": "Stable across runs: hash of the resource and the episode's first day",
        "detected_at": "Onset, to the hour when the bill is hourly",
        "sigma": "Sigma of the episode's peak day",
        "excess_cost": "Cost above the baseline over the whole episode",
        "baseline_method": "How the peak day's baseline was made",
        "priority_score": "sigma x ln(1 + excess_cost)",
    },
    "routing_decisions": {
        "path": "The most likely cause (one of ten paths)",
        "confidence": "'high', 'medium' or 'low'",
        "rationale": "A sentence with the numbers that decided it",
        "evidence": "The evidence, as JSON",
        "deployment_id": "The deployment blamed; only on code paths",
    },
    "correlated_deployments": {
        "outcome": "'deployment_found', 'no_deployment' or 'no_repository_map'",
        "minutes_before_anomaly": "Minutes from the deployment to the onset (negative inside the onset hour)",
        "confidence_score": "0 to 1, decaying with time",
        "rank": "1 = most likely deployment of the anomaly",
    },
    "unattributed_alerts": {
        "likely_cause": "The routing path",
        "checklist": "What to check, one step a line",
    },
    "diff_analyses": {
        "fix_patch": "A fix, kept only if it is a plain modification of the offending file that applies",
        "patch_applies": "The kept patch applied cleanly at the commit",
        "patch_rejected": "Why a proposed patch was dropped",
        "analyzer": "'rule_based', 'claude:<model>' or the fallback with the reason",
    },
    "pull_requests": {
        "draft": "Always true: cost-fix PRs are drafts",
        "approver": "The on-call person who approved it (run config)",
    },
    "pr_audit_log": {
        "outcome": "'created', 'existing', 'refused' or 'failed'",
        "reason": "Why it was refused or failed, on one line",
    },
}


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    nullable: bool
    description: str | None = None


def build_empty_warehouse(conn: duckdb.DuckDBPyConnection) -> None:
    """Every analyst table, empty, created by the same code that writes it in a run."""
    for table in ("focus_billing", "billing_quarantine", "billing_files"):
        conn.execute(load_sql(f"billing/create_{table}"))
    for table in ("billing_rollup", "billing_rollup_hourly"):
        rebuild_rollup_window(conn, table, date(2000, 1, 1), date(2000, 1, 2), "auto")
    for spec in SIDE_INPUTS.values():
        write_side_input(conn, ParsedInput(spec, []))
    settings = DetectionSettings()
    build_baselines(conn, settings)
    build_anomalies(conn, settings)
    route_anomalies(conn, settings)
    build_team_alerts(conn)
    for statement in ("create_diff_analyses", "alter_diff_analyses_add_patch_rejected", "create_pull_requests",
                      "create_pr_audit_log"):  # as defs/analysis/assets.py and the PR job run them
        conn.execute(load_sql(f"analysis/{statement}"))


def describe(conn: duckdb.DuckDBPyConnection, table: str) -> list[Column]:
    """A table's columns as DuckDB reports them, with their descriptions."""
    described = COLUMN_DESCRIPTIONS.get(table, {})
    return [Column(name, type_, null == "YES", described.get(name))
            for name, type_, null, *_ in conn.execute(f"describe {table}").fetchall()]


@cache
def analyst_table_columns() -> dict[str, tuple[Column, ...]]:
    """Columns of every analyst table, computed once per process (under a second, at code-location load)."""
    conn = duckdb.connect(":memory:")
    try:
        build_empty_warehouse(conn)
        return {table: tuple(describe(conn, table)) for table in ANALYST_TABLES}
    finally:
        conn.close()


def table_name(table: str) -> str:
    """The table's name as analysts query it in the published snapshot."""
    return f"{SNAPSHOT_CATALOG}.main.{table}"
