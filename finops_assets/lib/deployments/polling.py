"""Deployment events for teams that cannot send webhooks: poll GitHub's Deployments API.

Each successful deployment becomes an event in the same contract as a webhook event
(lib/deployments/event_store.py CONTRACT_FIELDS), with a stable id, so polling the same window twice yields
the same ids and the event loader drops the repeats.
"""

from datetime import UTC, datetime, timedelta

from github import GithubException

from finops_assets.lib.codehost.github import GitHubCodeHost
from finops_assets.lib.deployments.repository_names import validate_repository

CI_SYSTEM = "github_deployments"
# A deployment created a little before `since` can still succeed after it; look back this far for
# those, and stop paging (GitHub lists deployments newest first) past it.
CREATED_LOOKBACK = timedelta(hours=6)


def _utc(moment: datetime) -> datetime:
    """Aware UTC; a naive datetime is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def poll_github_deployments(host: GitHubCodeHost, repositories: list[str], since: datetime,
                            environment: str = "production") -> list[dict]:
    """Deployments to `environment` whose latest status is "success" and whose success came after `since`,
    as contract events, oldest first."""
    since = _utc(since)
    for repository in repositories:  # all checked before the first request: a name shapes the URL
        validate_repository(repository)
    events = []
    for repository in repositories:
        with host.errors(f"{repository} deployments to {environment}"):
            repo = host.client.get_repo(repository)
            for deployment in repo.get_deployments(environment=environment):
                if _utc(deployment.created_at) < since - CREATED_LOOKBACK:
                    break
                latest = next(iter(deployment.get_statuses()), None)  # statuses come newest first
                if latest is None or latest.state != "success" or _utc(latest.created_at) <= since:
                    continue
                events.append({
                    "id": f"github-deployment-{repository}-{deployment.id}",
                    "deployed_at": _utc(latest.created_at).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "service_name": repository.split("/", 1)[1],
                    "environment": deployment.environment or environment,
                    "commit_sha": deployment.sha,
                    "commit_message": _commit_message(repo, deployment.sha),
                    "branch": deployment.ref or "",
                    "repository": repository,
                    "ci_system": CI_SYSTEM,
                    "triggered_by": deployment.creator.login if deployment.creator else "",
                    "pipeline_url": latest.target_url or deployment.url,
                })
    return sorted(events, key=lambda event: (event["deployed_at"], event["id"]))


def _commit_message(repo, sha: str) -> str:
    """The deployed commit's message; "" when the commit cannot be fetched (e.g. force-pushed away)."""
    try:
        return (repo.get_commit(sha).commit.message or "").strip()
    except GithubException:
        return ""
