"""routing_decisions, correlated_deployments and unattributed_alerts: every anomaly's evidence
(lib/detection/pipeline.py selects it) through the rules of lib/routing/rules.py, then seed 000's
temporal join for the anomalies a deployment may explain."""

import math

import duckdb
import polars as pl

from finops_assets.lib.billing.currency import reporting_currency
from finops_assets.lib.common.transactions import transaction
from finops_assets.lib.detection.pipeline import (
    DetectionSettings,
    anomaly_evidence,
    deployment_candidates,
)
from finops_assets.lib.routing.checklists import CHECKLISTS
from finops_assets.lib.routing.rules import (
    DEFAULT_SETTINGS,
    DEPLOYMENT_PATHS,
    Decision,
    RoutingContext,
    decide,
    deployment_confidence,
    evidence_json,
    rank_candidates,
)
from finops_assets.lib.routing.settings import RoutingSettings

ROUTING_SCHEMA = {"anomaly_id": pl.String, "path": pl.String, "confidence": pl.String, "rationale": pl.String,
                  "evidence": pl.String, "deployment_id": pl.String}
CORRELATION_SCHEMA = {"anomaly_id": pl.String, "outcome": pl.String, "deployment_id": pl.String,
                      "repository": pl.String, "commit_sha": pl.String, "commit_message": pl.String,
                      "deployed_at": pl.Datetime("us"), "minutes_before_anomaly": pl.Float64,
                      "confidence": pl.String, "confidence_score": pl.Float64, "rank": pl.Int64,
                      "same_service": pl.Boolean, "message": pl.String}
ALERT_SCHEMA = {"anomaly_id": pl.String, "team": pl.String, "department": pl.String, "resource_id": pl.String,
                "anomaly_date": pl.Date, "likely_cause": pl.String, "confidence": pl.String, "rationale": pl.String,
                "checklist": pl.String, "excess_cost": pl.Float64, "priority_score": pl.Float64}


def stable_evidence(value):
    """The evidence with every float at 12 significant digits: sums the bill's statements add in
    parallel differ between runs in their last bits (1e-16), and the stored JSON must not."""
    if isinstance(value, float):
        return float(f"{value:.12g}") if math.isfinite(value) else value
    if isinstance(value, dict):
        return {k: stable_evidence(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [stable_evidence(v) for v in value]
    return value


def _replace_table(conn: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    conn.register(f"{table}_frame", frame.to_arrow())
    try:
        conn.execute(f"create or replace table {table} as select * from {table}_frame")
    finally:
        conn.unregister(f"{table}_frame")


def route_anomalies(conn: duckdb.DuckDBPyConnection, settings: DetectionSettings,
                    routing: RoutingSettings = DEFAULT_SETTINGS) -> dict[str, int]:
    """routing_decisions, correlated_deployments and unattributed_alerts, replaced as a whole."""
    evidence = anomaly_evidence(conn, settings)
    context, candidates = deployment_candidates(conn, settings)
    has_map = dict(context.iter_rows())
    by_anomaly: dict[str, list[dict]] = {}
    for row in candidates.iter_rows(named=True):
        by_anomaly.setdefault(row["anomaly_id"], []).append(row)

    currency = reporting_currency(conn)  # money in the rationales is in it
    decisions, correlations, alerts = [], [], []
    for a in evidence.iter_rows(named=True):
        mapped = bool(has_map.get(a["anomaly_id"]))
        found = by_anomaly.get(a["anomaly_id"], [])
        decision = decide(a, RoutingContext(found, mapped, settings.window_hours, settings.latent_days,
                                            settings.baseline_window_days, currency), routing)
        decisions.append({"anomaly_id": a["anomaly_id"], "path": decision.path, "confidence": decision.confidence,
                          "rationale": decision.rationale, "evidence": evidence_json(stable_evidence(decision.evidence)),
                          "deployment_id": decision.deployment_id})
        if decision.path in DEPLOYMENT_PATHS or decision.path == "unclassified":
            correlations += _correlation_rows(a, decision, found, mapped, settings, routing)
        if decision.path not in DEPLOYMENT_PATHS or decision.deployment_id is None:
            alerts.append({"anomaly_id": a["anomaly_id"], "team": a["team"], "department": a["department"],
                           "resource_id": a["resource_id"], "anomaly_date": a["anomaly_date"],
                           "likely_cause": decision.path, "confidence": decision.confidence,
                           "rationale": decision.rationale, "checklist": "\n".join(CHECKLISTS[decision.path]),
                           "excess_cost": a["excess_cost"], "priority_score": a["priority_score"]})
    # One change: an analyst never sees decisions of this run beside correlations of the last.
    with transaction(conn):
        _replace_table(conn, "routing_decisions", pl.DataFrame(decisions, schema=ROUTING_SCHEMA))
        _replace_table(conn, "correlated_deployments", pl.DataFrame(correlations, schema=CORRELATION_SCHEMA))
        _replace_table(conn, "unattributed_alerts", pl.DataFrame(alerts, schema=ALERT_SCHEMA))
    return {"routing_decisions": len(decisions), "correlated_deployments": len(correlations),
            "unattributed_alerts": len(alerts)}


def _correlation_rows(a: dict, decision: Decision, found: list[dict], mapped: bool, settings: DetectionSettings,
                      routing: RoutingSettings) -> list[dict]:
    """Seed 000's temporal join, typed: every candidate ranked, or why there is none."""
    empty = {k: None for k in CORRELATION_SCHEMA}
    if not mapped:
        return [{**empty, "anomaly_id": a["anomaly_id"], "outcome": "no_repository_map",
                 "message": f"team {a['team']} ({a['department']}) has no repository in team_repositories.csv: "
                            f"add a row '{a['department']},{a['team']},<org/repo>,true' to correlate its deployments"}]
    limit = settings.latent_days * 1440 if decision.path == "latent_code_change" else settings.window_hours * 60
    window = [c for c in found if -routing.onset_hour_grace_minutes <= c["minutes_before_anomaly"] <= limit]
    if not window:
        return [{**empty, "anomaly_id": a["anomaly_id"], "outcome": "no_deployment",
                 "message": f"no production deployment of team {a['team']}'s repositories within "
                            f"{limit / 60:.0f} h before the onset"}]
    ranked = rank_candidates(window)
    if decision.deployment_id:  # the router's choice is rank 1
        ranked.sort(key=lambda c: c["deployment_id"] != decision.deployment_id)
    rows = []
    for rank, c in enumerate(ranked, start=1):
        band, score = deployment_confidence(c["minutes_before_anomaly"], routing)
        rows.append({"anomaly_id": a["anomaly_id"], "outcome": "deployment_found", "deployment_id": c["deployment_id"],
                     "repository": c["repository"], "commit_sha": c["commit_sha"], "commit_message": c["commit_message"],
                     "deployed_at": c["deployed_at"], "minutes_before_anomaly": round(c["minutes_before_anomaly"], 1),
                     "confidence": band, "confidence_score": score, "rank": rank, "same_service": c["same_service"],
                     "message": None})
    return rows
