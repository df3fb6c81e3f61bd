import dagster as dg

from finops_assets.defs.catalog import DAILY_FRESHNESS, table_metadata
from finops_assets.defs.pools import DUCKDB_WRITE_POOL
from finops_assets.lib.common.metadata import markdown_table
from finops_assets.lib.inputs.side_inputs import (
    SIDE_INPUTS,
    parse_side_input,
    write_side_input,
)
from finops_assets.resources.settings import FinopsSettings
from finops_assets.resources.warehouse import FinopsWarehouse

DESCRIPTIONS = {
    "deployment_events": "Deployment events from deployments/*.jsonl, normalized, duplicates removed by id.",
    "team_repositories": "Which repositories each team deploys (team_repositories.csv).",
    "traffic_metrics": "Daily request volume per team (traffic.csv).",
    "incident_history": "Past incidents (incidents.csv); their windows are left out of baselines.",
}


def _side_input_asset(name: str):
    spec = SIDE_INPUTS[name]

    @dg.asset(
        name=name,
        group_name="inputs",
        kinds={"duckdb", "polars"},
        owners=["team:finops"],
        pool=DUCKDB_WRITE_POOL,
        description=DESCRIPTIONS[name],
        metadata=table_metadata(name),
        freshness_policy=DAILY_FRESHNESS,
        check_specs=[dg.AssetCheckSpec("every_row_valid", asset=name,
                                       description="No row of the input was quarantined")],
    )
    def _asset(context: dg.AssetExecutionContext, warehouse: FinopsWarehouse, settings: FinopsSettings) -> dg.MaterializeResult:
        parsed = parse_side_input(settings.data_path, spec)  # parse before taking the write lock
        with warehouse.write() as conn:
            write_side_input(conn, parsed)
        if not parsed.files:
            context.log.info(f"{name}: no {spec.relative_path} in {settings.data_path}; table is empty")
        for rejected in parsed.rejected[:20]:
            context.log.warning(f"{rejected.source_file} row {rejected.row_number}: {rejected.rule}: {rejected.reason}")
        if len(parsed.rejected) > 20:
            context.log.warning(f"{name}: {len(parsed.rejected) - 20} more rows quarantined (see input_quarantine)")
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": len(parsed.rows),
                "source": ", ".join(map(str, parsed.files)) or f"absent: {settings.data_path / spec.relative_path}",
                "rows_quarantined": len(parsed.rejected),
                "duplicates_dropped": parsed.duplicates_dropped,
                "preview": dg.MetadataValue.md(markdown_table(parsed.frame)),
            },
            check_results=[dg.AssetCheckResult(
                check_name="every_row_valid", passed=not parsed.rejected, severity=dg.AssetCheckSeverity.WARN,
                metadata={"rows_quarantined": len(parsed.rejected),
                          "first_problems": dg.MetadataValue.md(markdown_table(parsed.rejected_frame.drop("raw_record")))},
            )],
        )

    return _asset


deployment_events = _side_input_asset("deployment_events")
team_repositories = _side_input_asset("team_repositories")
traffic_metrics = _side_input_asset("traffic_metrics")
incident_history = _side_input_asset("incident_history")
