"""The guardrails and the text of a cost-fix pull request (seed 000): pure logic, no I/O.

A PR is opened only for a high-confidence analysis whose patch is a plain modification of the offending
file alone, in a repository registered in team_repositories, approved by a named person; always as a draft
on a `finops/cost-fix-<anomaly id>` branch, never on the default branch. Every string in the PR body that
came from outside (analyzer answer, bill, run config) is an inline code span: it cannot add headings, links,
HTML, @-mentions, autolinked URLs or a fake "Approved by" section, nor close the diff block early.
"""

import re
import unicodedata
from dataclasses import dataclass

from finops_assets.lib.analysis.patches import PatchError, parse_fix_patch
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


def one_line(value: object, limit: int = 2000) -> str:
    """Plain text on one line: control and format characters become spaces, runs of whitespace one space."""
    text = "".join(" " if unicodedata.category(c)[0] == "C" else c for c in str(value))
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def md_text(value: object, limit: int = 2000) -> str:
    """Untrusted prose as literal Markdown on one line: one inline code span (md_code). Inside a code span
    nothing is markup (no emphasis, link, image, HTML, heading, table or block), and GitHub turns nothing
    into a link or a notification there: no bare URL (`http://`, `https://`, `www.`), e-mail address,
    @user or @org/team mention, #123 / GH-123 / owner/repo#123 reference, commit id or :emoji:. Backslash
    escapes could not do that: GitHub autolinks `www.evil.example` and notifies `@acme/security-team` in
    plain text whatever is escaped around them."""
    return md_code(value, limit)


def md_code(value: object, limit: int = 300) -> str:
    """Untrusted text as an inline code span, fenced by more backticks than it contains (CommonMark); a
    text that starts or ends with a backtick is padded with one space each side (which CommonMark strips)."""
    text = one_line(value, limit)
    if not text:
        return ""
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    return f"{fence} {text} {fence}" if text.startswith("`") or text.endswith("`") else f"{fence}{text}{fence}"


def md_fenced(text: str, info: str = "") -> str:
    """A fenced code block that no line of `text` can close: the fence is longer than any backtick run."""
    fence = "`" * max(3, max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    return f"{fence}{info}\n{text.rstrip()}\n{fence}"


def plan_pull_request(analysis: dict | None, anomaly: dict | None, approver: str, registered: set[str],
                      analysis_id: str, allowlist: frozenset[str] | None = None) -> PullRequestPlan:
    """Check every guardrail; raise Refusal with the first one that fails. `allowlist`: the folded
    names of FINOPS_PR_APPROVERS (see lib/pull_requests/approvers.py), None for no allowlist."""
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
${float(excess):,.2f} over {md_text(anomaly.get('days_elevated', '?'))} day(s)
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
