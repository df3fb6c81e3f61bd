import os
from datetime import UTC, datetime

import dagster as dg
from pydantic import Field

from finops_assets.defs.pools import DUCKDB_WRITE_POOL
from finops_assets.lib.analysis.patches import PatchError, apply_patch
from finops_assets.lib.billing.currency import reporting_currency
from finops_assets.lib.codehost.host import CodeHostError
from finops_assets.lib.common.sql import load_sql
from finops_assets.lib.common.text import one_line
from finops_assets.lib.pull_requests.approvers import escape_visible, parse_allowlist
from finops_assets.lib.pull_requests.plan import (
    Refusal,
    branch_for,
    plan_pull_request,
)
from finops_assets.resources.code_host import CodeHostResource
from finops_assets.resources.warehouse import FinopsWarehouse


class CostFixPullRequestConfig(dg.Config):
    analysis_id: str = Field(description="diff_analyses.analysis_id of the finding to fix")
    # No default: the Launchpad asks for it before the run starts (an empty or hostile name is still
    # refused by the run, with its reason on one line).
    approver: str = Field(description="Name of the on-call person approving this PR")


def _row(conn, table: str, key: str, value: str) -> dict | None:
    result = conn.execute(f"select * from {table} where {key} = $value", {"value": value})
    columns = [d[0] for d in result.description]
    found = result.fetchall()
    return dict(zip(columns, found[0])) if found else None


def _audit(warehouse: FinopsWarehouse, row: dict, publish: bool = False) -> None:
    # Audit rows are read by people and tools: every user-controlled value on one visible line.
    row = {k: escape_visible(v) if isinstance(v, str) else v for k, v in row.items()}
    with warehouse.write() as conn:
        conn.execute(load_sql("analysis/create_pr_audit_log"))
        conn.execute(load_sql("analysis/insert_pr_audit_log"), row)
    if publish:  # a refused run fails, so the after-run publish sensor skips it: publish the audit here
        warehouse.publish_snapshot()


def _report(context: dg.OpExecutionContext, table: str, analysis_id: str, failing: bool = False, **metadata) -> None:
    # The tables are assets in the lineage (defs/pull_requests/assets.py): each write shows up there. An op's
    # logged events are dropped when it then fails, so before a refusal the write is reported to the instance.
    metadata["analysis_id"] = escape_visible(analysis_id, 200)
    event = dg.AssetMaterialization(asset_key=table, metadata={**metadata, "run_id": context.run_id})
    if failing:
        context.instance.report_runless_asset_event(event)
    else:
        context.log_event(event)


@dg.op(pool=DUCKDB_WRITE_POOL, tags={"kind": "github"})
def open_cost_fix_pull_request(context: dg.OpExecutionContext, config: CostFixPullRequestConfig,
                               warehouse: FinopsWarehouse, code_host: CodeHostResource) -> dict:
    """Open a draft PR with the analysis's fix, after every guardrail passes; audit every attempt."""
    audit = {"attempted_at": datetime.now(UTC).replace(tzinfo=None), "run_id": context.run_id,
             "approver": config.approver.strip() or None, "analysis_id": config.analysis_id, "anomaly_id": None,
             "repository": None, "branch": None, "outcome": "refused", "reason": None, "pr_url": None}
    with warehouse.read() as conn:
        exists = conn.sql("select count(*) from duckdb_tables() where table_name = 'diff_analyses'").fetchall()[0][0]
        analysis = _row(conn, "diff_analyses", "analysis_id", config.analysis_id) if exists else None
        anomaly = _row(conn, "cost_anomalies", "anomaly_id", analysis["anomaly_id"]) if analysis else None
        registered = {r[0] for r in conn.sql("select repository from team_repositories").fetchall()}
        currency = reporting_currency(conn)
    if analysis:
        audit.update(anomaly_id=analysis["anomaly_id"], repository=analysis["repository"],
                     branch=branch_for(analysis["anomaly_id"]))
    try:
        plan = plan_pull_request(analysis, anomaly, config.approver, registered, config.analysis_id,
                                 parse_allowlist(os.environ.get("FINOPS_PR_APPROVERS")), currency=currency)
        audit["approver"] = plan.approver
        host = code_host.host()
        original = host.file_at(plan.repository, plan.commit_sha, plan.path)
        fixed = apply_patch(original, analysis["fix_patch"], plan.path)
    except (Refusal, PatchError, CodeHostError) as exc:
        reason = one_line(str(exc) if isinstance(exc, Refusal) else f"the patch cannot be prepared: {exc}", 1000)
        _audit(warehouse, {**audit, "reason": reason}, publish=True)
        _report(context, "pr_audit_log", config.analysis_id, failing=True, outcome="refused")
        # A refusal is final: one short line, no chained traceback, and no retry (allow_retries=False for op
        # retry policies; the job's dagster/retry_on_asset_or_op_failure tag for run retries).
        raise dg.Failure(description=f"create_cost_fix_pr refused: {escape_visible(reason, 1000)}. "
                                     "Nothing was created.", allow_retries=False) from None
    try:
        record = host.open_draft_pull_request(plan.repository, plan.commit_sha, plan.branch, plan.path, fixed,
                                              plan.title, plan.body)
    except CodeHostError as exc:
        reason = one_line(exc, 1000)
        _audit(warehouse, {**audit, "outcome": "failed", "reason": reason}, publish=True)
        _report(context, "pr_audit_log", config.analysis_id, failing=True, outcome="failed")
        raise dg.Failure(description=f"create_cost_fix_pr failed: {escape_visible(reason, 1000)}") from None
    outcome = "created" if record.created else "existing"
    with warehouse.write() as conn:
        conn.execute(load_sql("analysis/create_pull_requests"))
        conn.execute(load_sql("analysis/insert_pull_request"),
                     {"branch": record.branch, "repository": record.repository, "number": record.number,
                      "url": record.url, "draft": record.draft, "head": record.head_sha, "base": record.base_branch,
                      "analysis_id": config.analysis_id, "anomaly_id": analysis["anomaly_id"],
                      "approver": plan.approver, "host": code_host.kind,
                      "created_at": audit["attempted_at"]})
    _audit(warehouse, {**audit, "outcome": outcome, "reason": None, "pr_url": record.url})
    _report(context, "pull_requests", config.analysis_id, outcome=outcome, branch=record.branch,
            pr_url=dg.MetadataValue.url(record.url))
    _report(context, "pr_audit_log", config.analysis_id, outcome=outcome)
    context.log.info(f"{outcome} draft PR {record.url} on {record.branch}, approved by {plan.approver}")
    context.add_output_metadata({"pr_url": record.url, "branch": record.branch, "outcome": outcome,
                                 "approver": plan.approver})
    return {"url": record.url, "branch": record.branch, "outcome": outcome}


@dg.job(description="Open a draft pull request with a diff analysis's fix. Launched by hand by the on-call person, "
                    "whose name goes in run config as `approver`.",
        # A refused or failed PR run is not re-run by the instance's run_retries: a refusal would only be
        # refused (and audited) again; the on-call person relaunches after fixing the cause. A crashed run
        # worker is still retried (that is not an op failure).
        tags={"dagster/retry_on_asset_or_op_failure": "false"})
def create_cost_fix_pr():
    open_cost_fix_pull_request()
