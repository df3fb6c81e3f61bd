"""The PR job's two tables, in the lineage after diff_analyses. Written by the `create_cost_fix_pr`
op job (launched by hand), never materialized by the daily job: declared here as specs and reported
by the job (jobs.py logs an AssetMaterialization for each table it writes)."""

import dagster as dg

from finops_assets.defs.catalog import table_metadata

OWNERS = ["team:finops"]
GROUP = "analysis"

pull_requests = dg.AssetSpec(
    "pull_requests", deps=["diff_analyses"], group_name=GROUP, kinds={"duckdb", "github"}, owners=OWNERS,
    metadata=table_metadata("pull_requests"),
    description="Every cost-fix draft PR opened by the create_cost_fix_pr job (after a named approver), "
                "one row per repository and branch.")

pr_audit_log = dg.AssetSpec(
    "pr_audit_log", deps=["diff_analyses"], group_name=GROUP, kinds={"duckdb"}, owners=OWNERS,
    metadata=table_metadata("pr_audit_log"),
    description="Append-only: every attempt of the create_cost_fix_pr job (created, existing, refused, failed), "
                "who approved it and why it was refused.")
