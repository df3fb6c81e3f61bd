"""The guardrails and the text of a cost-fix pull request (seed 000): pure logic, no I/O.

A PR is opened only for a high-confidence analysis whose patch touches the offending file alone,
in a repository registered in team_repositories, approved by a named person; always as a draft on a
`finops/cost-fix-<anomaly id>` branch, never on the default branch.
"""

from dataclasses import dataclass

from finops_assets.lib.patches import PatchError, parse_fix_patch


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


def branch_for(anomaly_id: str) -> str:
    return f"finops/cost-fix-{anomaly_id}"


def plan_pull_request(analysis: dict | None, anomaly: dict | None, approver: str, registered: set[str],
                      analysis_id: str) -> PullRequestPlan:
    """Check every guardrail; raise Refusal with the first one that fails."""
    if not approver or not approver.strip():
        raise Refusal("an approver is required: set run config `approver` to the name of the person approving")
    if analysis is None:
        raise Refusal(f"no diff analysis with analysis_id {analysis_id!r} (see the diff_analyses table)")
    if not analysis["cause_found"] or analysis["confidence"] != "high" or not analysis["fix_patch"]:
        raise Refusal(f"analysis {analysis_id} has no high-confidence fix patch (cause_found="
                      f"{analysis['cause_found']}, confidence={analysis['confidence']}, "
                      f"patch={'yes' if analysis['fix_patch'] else 'none'})")
    if analysis["repository"] not in registered:
        raise Refusal(f"repository {analysis['repository']} is not registered in team_repositories.csv")
    try:  # checked again here: the table row may have been edited since diff_analyses wrote it
        parse_fix_patch(analysis["fix_patch"], analysis["offending_file"])
    except PatchError as exc:
        raise Refusal(f"the patch is not a plain modification of the offending file alone: {exc}") from None
    anomaly = anomaly or {}
    title = f"[finops] Fix cost regression in {analysis['offending_file']} ({analysis.get('pattern') or 'cost fix'})"
    body = f"""## Cost anomaly
- Anomaly: `{analysis['anomaly_id']}` on `{anomaly.get('resource_id', '?')}` (team {anomaly.get('team', '?')}, \
{anomaly.get('department', '?')})
- Onset: {anomaly.get('detected_at', '?')} UTC; {anomaly.get('sigma', 0) or 0:.1f} sigma above baseline; excess \
${anomaly.get('excess_cost', 0) or 0:,.2f} over {anomaly.get('days_elevated', '?')} day(s)
- Suspect deployment: `{analysis.get('deployment_id')}`, commit `{analysis['commit_sha']}`

## Root cause
{analysis['cause_description']}

Offending file: `{analysis['offending_file']}` (lines {analysis.get('offending_lines') or '?'})

Reasoning ({analysis['analyzer']}): {analysis['reasoning']}

## Fix
{analysis.get('fix_description') or ''}

```diff
{analysis['fix_patch'].rstrip()}
```

## Approval
Approved by **{approver.strip()}** through the `create_cost_fix_pr` job. This pull request is a
draft: review and test it before merging. Opened by finops-assets; it never pushes to the default branch.
"""
    return PullRequestPlan(analysis["repository"], analysis["commit_sha"], branch_for(analysis["anomaly_id"]),
                           analysis["offending_file"], title, body)
