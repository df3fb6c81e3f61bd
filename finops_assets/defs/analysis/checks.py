import dagster as dg

from finops_assets.defs.pools import DUCKDB_WRITE_POOL
from finops_assets.lib.analysis.checks import (
    patches_that_do_not_apply,
    select_kept_patches,
)
from finops_assets.lib.common.metadata import markdown_table
from finops_assets.resources.code_host import CodeHostResource
from finops_assets.resources.warehouse import FinopsWarehouse


@dg.asset_check(asset="diff_analyses", pool=DUCKDB_WRITE_POOL,
                description="Every kept fix patch applies to the offending file at its commit (the PR job's "
                            "own apply, against the code host)")
def kept_patches_apply(warehouse: FinopsWarehouse, code_host: CodeHostResource) -> dg.AssetCheckResult:
    # Only the select holds the warehouse (its file lock and read-only connection, which keep writers
    # out); the code-host reads (GitHub API calls) and the applies run after it is closed.
    with warehouse.read() as conn:
        kept = select_kept_patches(conn)
    failing = patches_that_do_not_apply(kept, code_host.host())
    return dg.AssetCheckResult(passed=failing.is_empty(), metadata={
        "kept_patches": kept.height, "not_applying": failing.height,
        "examples": dg.MetadataValue.md(markdown_table(failing))})
