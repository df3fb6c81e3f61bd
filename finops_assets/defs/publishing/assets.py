import dagster as dg

from finops_assets.defs.catalog import DAILY_FRESHNESS
from finops_assets.defs.pools import DUCKDB_WRITE_POOL
from finops_assets.lib.publishing.snapshot import PublishRefused, WarehouseLocationError
from finops_assets.resources.warehouse import FinopsWarehouse

# Every table analysts read; later issues add theirs here.
PUBLISHED_TABLES = [
    "focus_billing", "billing_quarantine", "billing_files", "billing_rollup", "billing_rollup_hourly",
    "deployment_events", "team_repositories", "traffic_metrics", "incident_history",
    "cost_baselines", "cost_anomalies", "team_alerts", "routing_decisions", "correlated_deployments",
    "unattributed_alerts", "diff_analyses",
]


@dg.asset(
    deps=PUBLISHED_TABLES,
    group_name="publishing",
    freshness_policy=DAILY_FRESHNESS,
    kinds={"duckdb"},
    owners=["team:finops"],
    pool=DUCKDB_WRITE_POOL,
)
def analyst_snapshot(context: dg.AssetExecutionContext, warehouse: FinopsWarehouse) -> dg.MaterializeResult:
    """Replace the analysts' DuckDB file with a checkpointed copy of the warehouse, atomically."""
    try:
        size = warehouse.publish_snapshot()
    except (PublishRefused, WarehouseLocationError) as exc:
        context.log.error(str(exc))  # the old snapshot is still there: say why it was not replaced
        raise dg.Failure(description=str(exc)) from None
    with warehouse.read() as conn:
        tables = conn.sql("select table_name, estimated_size from duckdb_tables() order by table_name").pl()
    context.log.info(f"published {warehouse.snapshot_path} ({size / 1e6:.1f} MB)")
    return dg.MaterializeResult(metadata={
        "path": dg.MetadataValue.path(warehouse.snapshot_path),
        "size_bytes": size,
        "tables": dg.MetadataValue.md("\n".join(f"- `{t}` (~{n:,} rows)" for t, n in tables.iter_rows())),
    })
