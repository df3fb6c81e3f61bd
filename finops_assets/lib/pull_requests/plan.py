"""The guardrails and the text of a cost-fix pull request (seed 000): pure logic, no I/O.

A PR is opened only for a high-confidence analysis whose patch is a plain modification of the offending
file alone, in a repository registered in team_repositories, approved by a named person; always as a draft
on a `finops/cost-fix-<anomaly id>` branch, never on the default branch. Every string in the PR body that
came from outside (analyzer answer, bill, run config) is an inline code span: it cannot add headings, links,
HTML, @-mentions, autolinked URLs or a fake "Approved by" section, nor close the diff block early
(md_code, md_text and md_fenced in lib/common/text.py).
"""

import re
from dataclasses import dataclass

from finops_assets.lib.analysis.patches import PatchError, parse_fix_patch
from finops_assets.lib.common.money import format_money
from finops_assets.lib.common.text import md_code, md_fenced, md_text, one_line
from finops_assets.lib.deployments.repository_names import (
    RepositoryNameError,
    validate_repository,
)
from finops_assets.lib.pull_requests.approvers import ApproverError, normalize_approver

MAX_TITLE_CHARS = 200
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,100}$")


class Refusal(Exception):
    """The job must not open this PR; the message says why."""


@dataclass(frozen=True)
class PullRequestPlan:
    repository: str
    commit_sha: str
    branch: str
    path: str
    title: str
    body: str
    approver: str   # normalized


def branch_for(anomaly_id: str) -> str:
    return f"finops/cost-fix-{anomaly_id}"


def plan_pull_request(analysis: dict | None, anomaly: dict | None, approver: str, registered: set[str],
                      analysis_id: str, allowlist: frozenset[str] | None = None,
                      currency: str | None = None) -> PullRequestPlan:
    """Check every guardrail; raise Refusal with the first one that fails. `allowlist`: the folded
    names of FINOPS_PR_APPROVERS (see lib/pull_requests/approvers.py), None for no allowlist;
    `currency`: the warehouse's reporting currency (lib/billing/currency.py), for the excess cost."""
    try:
        approver = normalize_approver(approver, allowlist)
    except ApproverError as exc:
        raise Refusal(str(exc)) from None
    if analysis is None:
        raise Refusal(f"no diff analysis with analysis_id '{one_line(analysis_id, 100)}' (see the diff_analyses table)")
    if not analysis["cause_found"] or analysis["confidence"] != "high" or not analysis["fix_patch"]:
        raise Refusal(f"analysis {analysis_id} has no high-confidence fix patch (cause_found="
                      f"{analysis['cause_found']}, confidence={analysis['confidence']}, "
                      f"patch={'yes' if analysis['fix_patch'] else 'none'})")
    try:
        validate_repository(analysis["repository"])
    except RepositoryNameError as exc:
        raise Refusal(f"repository {one_line(analysis['repository'], 200)!r} refused: {exc}") from None
    if analysis["repository"] not in registered:
        raise Refusal(f"repository {analysis['repository']} is not registered in team_repositories.csv")
    if not _SAFE_ID.match(str(analysis["anomaly_id"])):
        raise Refusal(f"anomaly id {one_line(analysis['anomaly_id'], 100)!r} cannot name a branch")
    try:  # checked again here: the table row may have been edited since diff_analyses wrote it
        parse_fix_patch(analysis["fix_patch"], analysis["offending_file"])
    except PatchError as exc:
        raise Refusal(f"the patch is not a plain modification of the offending file alone: {exc}") from None
    anomaly = anomaly or {}
    title = one_line(f"[finops] Fix cost regression in {analysis['offending_file']} "
                     f"({analysis.get('pattern') or 'cost fix'})", MAX_TITLE_CHARS)
    sigma = anomaly.get("sigma", 0) or 0
    excess = anomaly.get("excess_cost", 0) or 0
    body = f"""## Cost anomaly
- Anomaly: {md_code(analysis['anomaly_id'])} on {md_code(anomaly.get('resource_id', '?'))} (team \
{md_text(anomaly.get('team', '?'))}, {md_text(anomaly.get('department', '?'))})
- Onset: {md_text(anomaly.get('detected_at', '?'))} UTC; {float(sigma):.1f} sigma above baseline; excess \
{format_money(float(excess), currency)} over {md_text(anomaly.get('days_elevated', '?'))} day(s)
- Suspect deployment: {md_code(analysis.get('deployment_id'))}, commit {md_code(analysis['commit_sha'])}

## Root cause
{md_text(analysis['cause_description'])}

Offending file: {md_code(analysis['offending_file'])} (lines {md_text(analysis.get('offending_lines') or '?')})

Reasoning ({md_text(analysis['analyzer'])}): {md_text(analysis['reasoning'], 4000)}

## Fix
{md_text(analysis.get('fix_description') or '')}

{md_fenced(analysis['fix_patch'], 'diff')}

## Approval
Approved by **{md_text(approver)}** through the `create_cost_fix_pr` job. This pull request is a
draft: review and test it before merging. Opened by finops-assets; it never pushes to the default branch.
"""
    return PullRequestPlan(analysis["repository"], analysis["commit_sha"], branch_for(analysis["anomaly_id"]),
                           analysis["offending_file"], title, body, approver)
