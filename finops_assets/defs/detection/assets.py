import dagster as dg
import polars as pl

from finops_assets.defs.catalog import DAILY_FRESHNESS, table_metadata
from finops_assets.defs.pools import DUCKDB_WRITE_POOL
from finops_assets.lib.billing.currency import reporting_currency
from finops_assets.lib.common.metadata import markdown_table
from finops_assets.lib.common.money import format_money
from finops_assets.lib.detection.charts import chart_section, chart_series, render_chart
from finops_assets.lib.detection.pipeline import (
    build_anomalies,
    build_baselines,
    build_team_alerts,
)
from finops_assets.lib.detection.priority import TOP_ANOMALIES, top_anomaly_ids
from finops_assets.resources.settings import FinopsSettings
from finops_assets.resources.warehouse import FinopsWarehouse

OWNERS = ["team:finops"]
GROUP = "detection"


@dg.asset(
    deps=["billing_rollup", "incident_history"],
    group_name=GROUP, kinds={"duckdb"}, owners=OWNERS, pool=DUCKDB_WRITE_POOL,
    metadata=table_metadata("cost_baselines"), freshness_policy=DAILY_FRESHNESS,
)
def cost_baselines(context: dg.AssetExecutionContext, warehouse: FinopsWarehouse,
                   settings: FinopsSettings) -> dg.MaterializeResult:
    """Per resource and day: a robust weekday/weekend baseline of the cost metric over 28 days,
    leaving out incident windows and flagged days, with sigma and the anomaly flag. Retrained from
    the whole rollup on every run."""
    with warehouse.write() as conn:
        build_baselines(conn, settings.detection_settings())
        methods = conn.sql("select method, count(*) as days, count(*) filter (where is_flagged) as flagged "
                           "from cost_baselines group by 1 order by 2 desc").pl()
    rows = int(methods["days"].sum()) if methods.height else 0
    return dg.MaterializeResult(metadata={
        "dagster/row_count": rows,
        "flagged_days": int(methods["flagged"].sum()) if methods.height else 0,
        "by_method": dg.MetadataValue.md(markdown_table(methods)),
    })


@dg.asset(
    deps=["cost_baselines", "billing_rollup_hourly"],
    group_name=GROUP, kinds={"duckdb"}, owners=OWNERS, pool=DUCKDB_WRITE_POOL,
    metadata=table_metadata("cost_anomalies"), freshness_policy=DAILY_FRESHNESS,
)
def cost_anomalies(context: dg.AssetExecutionContext, warehouse: FinopsWarehouse,
                   settings: FinopsSettings) -> dg.MaterializeResult:
    """One row per anomaly episode (a resource's run of flagged days), usage charges only, with the
    onset hour, sigma, excess cost, usage/price split, recurrence and priority score."""
    with warehouse.write() as conn:
        build_anomalies(conn, settings.detection_settings())
        top = conn.sql("select anomaly_id, resource_id, anomaly_date, round(sigma, 1) as sigma, "
                       "excess_cost, days_elevated, round(priority_score, 1) as priority "
                       "from cost_anomalies order by priority_score desc nulls last, anomaly_id limit 10").pl()
        total = conn.sql("select count(*), coalesce(sum(excess_cost), 0) from cost_anomalies").fetchall()[0]
        currency = reporting_currency(conn)
        # Routing runs after this asset: a routing_decisions table now is the last run's, so no cause here.
        detection = settings.detection_settings()
        series = [chart_series(conn, anomaly_id, k_sigma=detection.k_sigma, with_cause=False,
                               baseline_days=detection.baseline_window_days)
                  for anomaly_id in top_anomaly_ids(conn, TOP_ANOMALIES)]
    top = top.with_columns(excess_cost=pl.Series([format_money(v, currency) for v in top["excess_cost"]], dtype=pl.String))
    return dg.MaterializeResult(metadata={
        "dagster/row_count": total[0],
        "excess_cost_total": float(total[1]),  # a number, so the UI plots it across runs
        "excess_cost_total_text": format_money(total[1], currency),
        "reporting_currency": currency or "",
        "top_by_priority": dg.MetadataValue.md(markdown_table(top)),
        "control_charts": dg.MetadataValue.md("\n\n".join(chart_section(s, render_chart(s)) for s in series)
                                              or "_no anomalies_"),
    })


@dg.asset(
    deps=["cost_anomalies", "routing_decisions"],
    group_name=GROUP, kinds={"duckdb"}, owners=OWNERS, pool=DUCKDB_WRITE_POOL,
    metadata=table_metadata("team_alerts"), freshness_policy=DAILY_FRESHNESS,
)
def team_alerts(context: dg.AssetExecutionContext, warehouse: FinopsWarehouse) -> dg.MaterializeResult:
    """The day's anomalies rolled up to one alert per team, top resources first."""
    with warehouse.write() as conn:
        rows = build_team_alerts(conn)
        excess = conn.sql("select coalesce(sum(excess_cost), 0) from team_alerts").fetchall()[0][0]
        currency = reporting_currency(conn)
    return dg.MaterializeResult(metadata={"dagster/row_count": rows, "excess_cost_total": float(excess),
                                          "excess_cost_total_text": format_money(excess, currency)})
