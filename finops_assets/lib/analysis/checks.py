"""Check on diff_analyses: every kept fix patch applies to the offending file at its commit, with
the same apply the PR job uses (patches.apply_patch) against the code host."""

import duckdb
import polars as pl

from finops_assets.lib.analysis.patches import PatchError, apply_patch
from finops_assets.lib.codehost.host import CodeHost, CodeHostError
from finops_assets.lib.common.sql import load_sql

FAILING_SCHEMA = {"analysis_id": pl.String, "repository": pl.String, "offending_file": pl.String, "reason": pl.String}


def select_kept_patches(conn: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """The kept fix patches, in memory: the caller closes the warehouse before reading the code host."""
    return conn.sql(load_sql("analysis/select_diff_analyses_kept_patches")).pl()


def patches_that_do_not_apply(kept: pl.DataFrame, host: CodeHost) -> pl.DataFrame:
    """The kept patches that do not apply, with the reason (one code-host read and one apply each)."""
    failing = []
    for row in kept.iter_rows(named=True):
        try:
            original = host.file_at(row["repository"], row["commit_sha"], row["offending_file"])
            apply_patch(original, row["fix_patch"], row["offending_file"])
        except (PatchError, CodeHostError) as exc:
            failing.append({"analysis_id": row["analysis_id"], "repository": row["repository"],
                            "offending_file": row["offending_file"], "reason": str(exc).splitlines()[0][:300]})
    return pl.DataFrame(failing, schema=FAILING_SCHEMA)
