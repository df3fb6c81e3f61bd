import dagster as dg
import polars as pl

from finops_assets.defs.catalog import DAILY_FRESHNESS, table_metadata
from finops_assets.defs.pools import DUCKDB_WRITE_POOL
from finops_assets.lib.analysis.code_analysis import analyze_targets
from finops_assets.lib.common.metadata import markdown_table
from finops_assets.lib.common.sql import load_sql
from finops_assets.lib.common.transactions import transaction
from finops_assets.resources.code_host import CodeHostResource, DiffAnalyzerResource
from finops_assets.resources.warehouse import FinopsWarehouse

DIFF_ANALYSIS_COLUMNS = [
    "analysis_id", "anomaly_id", "deployment_id", "repository", "commit_sha", "cause_found", "cause_description",
    "offending_file", "offending_lines", "fix_description", "fix_patch", "patch_applies", "confidence", "reasoning",
    "analyzer", "pattern", "patch_rejected", "diff_files", "withheld_files", "diff_truncated", "diff_chars", "error",
]


@dg.asset(
    deps=["correlated_deployments", "routing_decisions"],
    group_name="analysis", kinds={"duckdb", "github"}, owners=["team:finops"], pool=DUCKDB_WRITE_POOL,
    metadata=table_metadata("diff_analyses"), freshness_policy=DAILY_FRESHNESS,
)
def diff_analyses(context: dg.AssetExecutionContext, warehouse: FinopsWarehouse, code_host: CodeHostResource,
                  diff_analyzer: DiffAnalyzerResource) -> dg.MaterializeResult:
    """The suspect deployment's diff, read for a code-level cause (seed 000's fields plus the
    analyzer), for every high or medium confidence correlation and every code-routed anomaly's top
    deployment. A commit already analysed by the same analyzer is not analysed (or paid for) again."""
    host = code_host.host()
    with warehouse.read() as conn:
        targets = conn.sql(load_sql("analysis/select_diff_analysis_targets")).pl()
        known = set()
        if conn.sql("select count(*) from duckdb_tables() where table_name = 'diff_analyses'").fetchall()[0][0]:
            known = {r[0] for r in conn.execute("select analysis_id from diff_analyses where error is null "
                                                "and analyzer = $analyzer", {"analyzer": diff_analyzer.name}).fetchall()}
    todo = [t for t in targets.iter_rows(named=True) if t["analysis_id"] not in known]
    rows = analyze_targets(todo, host, diff_analyzer.analyze, diff_analyzer.time_limit_seconds)
    fresh = pl.DataFrame(rows, infer_schema_length=None) if rows else None
    keep = set(targets["analysis_id"].to_list())
    with warehouse.write() as conn:
        conn.execute(load_sql("analysis/create_diff_analyses"))
        conn.execute(load_sql("analysis/alter_diff_analyses_add_patch_rejected"))
        with transaction(conn):
            # Analyses of correlations that no longer exist leave; kept ones stay as they were.
            conn.execute("delete from diff_analyses where not list_contains($keep, analysis_id)",
                         {"keep": sorted(keep)})
            if fresh is not None:
                conn.register("fresh_analyses", fresh.select(DIFF_ANALYSIS_COLUMNS).to_arrow())
                conn.execute("delete from diff_analyses where analysis_id in (select analysis_id from fresh_analyses)")
                conn.execute(f"insert into diff_analyses ({', '.join(DIFF_ANALYSIS_COLUMNS)}) "
                             f"select {', '.join(DIFF_ANALYSIS_COLUMNS)} from fresh_analyses")
                conn.unregister("fresh_analyses")
        summary = conn.sql("select coalesce(pattern, 'no clear code cause') as cause, count(*) as analyses, "
                           "count(fix_patch) as with_patch from diff_analyses group by 1 order by 2 desc").pl()
        total = conn.sql("select count(*) from diff_analyses").fetchall()[0][0]
    return dg.MaterializeResult(metadata={
        "dagster/row_count": total,
        "analysed_this_run": len(rows),
        "reused": len(known & keep),
        "errors_this_run": sum(1 for r in rows if r["error"]),
        "analyzer": diff_analyzer.name,
        "code_host": code_host.kind,
        "by_cause": dg.MetadataValue.md(markdown_table(summary)),
    })
