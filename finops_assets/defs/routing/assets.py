import dagster as dg

from finops_assets.defs.catalog import DAILY_FRESHNESS, table_metadata
from finops_assets.defs.pools import DUCKDB_WRITE_POOL
from finops_assets.lib.common.metadata import markdown_table
from finops_assets.lib.detection.charts import (
    chart_section,
    chart_series,
    evidence_section,
    render_chart,
)
from finops_assets.lib.detection.priority import TOP_ANOMALIES, top_anomaly_ids
from finops_assets.lib.routing.decisions import route_anomalies
from finops_assets.resources.settings import FinopsSettings
from finops_assets.resources.warehouse import FinopsWarehouse

OWNERS = ["team:finops"]
GROUP = "detection"  # one group with the anomalies they explain: the lineage reads as one story


@dg.multi_asset(
    specs=[
        dg.AssetSpec("routing_decisions", group_name=GROUP, kinds={"duckdb", "polars"}, owners=OWNERS,
                     metadata=table_metadata("routing_decisions"), freshness_policy=DAILY_FRESHNESS,
                     deps=["cost_anomalies", "focus_billing", "traffic_metrics", "deployment_events",
                           "team_repositories"],
                     description="Every anomaly's most likely cause (ten paths), confidence, rationale with "
                                 "the deciding numbers, evidence JSON and, for code causes, the deployment."),
        dg.AssetSpec("correlated_deployments", group_name=GROUP, kinds={"duckdb"}, owners=OWNERS,
                     metadata=table_metadata("correlated_deployments"), freshness_policy=DAILY_FRESHNESS,
                     deps=["cost_anomalies", "deployment_events", "team_repositories"],
                     description="Seed 000's temporal join through team_repositories, typed outcomes, "
                                 "confidence bands and a decaying score, ranked."),
        dg.AssetSpec("unattributed_alerts", group_name=GROUP, kinds={"duckdb"}, owners=OWNERS,
                     metadata=table_metadata("unattributed_alerts"), freshness_policy=DAILY_FRESHNESS,
                     deps=["cost_anomalies"],
                     description="Anomalies no deployment explains, with the likely cause and an "
                                 "investigation checklist."),
    ],
    pool=DUCKDB_WRITE_POOL,
)
def routing_decisions(context: dg.AssetExecutionContext, warehouse: FinopsWarehouse, settings: FinopsSettings):
    """Classify first, correlate second: evidence for non-code causes is checked before deployments."""
    with warehouse.write() as conn:
        counts = route_anomalies(conn, settings.detection_settings())
        paths = conn.sql("select path, confidence, count(*) as anomalies from routing_decisions "
                         "group by all order by anomalies desc").pl()
        outcomes = conn.sql("select outcome, count(distinct anomaly_id) as anomalies from correlated_deployments "
                            "group by 1 order by 2 desc").pl()
        # The same top anomalies as cost_anomalies' charts, now with their cause and its evidence.
        top = top_anomaly_ids(conn, TOP_ANOMALIES)
        detection = settings.detection_settings()
        series = [chart_series(conn, anomaly_id, k_sigma=detection.k_sigma, baseline_days=detection.baseline_window_days)
                  for anomaly_id in top]
    yield dg.MaterializeResult(asset_key="routing_decisions", metadata={
        "dagster/row_count": counts["routing_decisions"], "by_path": dg.MetadataValue.md(markdown_table(paths)),
        "top_explained": dg.MetadataValue.md("\n\n".join(f"{chart_section(s, render_chart(s))}\n\n{evidence_section(s)}"
                                                          for s in series) or "_no anomalies_")})
    yield dg.MaterializeResult(asset_key="correlated_deployments", metadata={
        "dagster/row_count": counts["correlated_deployments"],
        "by_outcome": dg.MetadataValue.md(markdown_table(outcomes))})
    yield dg.MaterializeResult(asset_key="unattributed_alerts", metadata={
        "dagster/row_count": counts["unattributed_alerts"]})
