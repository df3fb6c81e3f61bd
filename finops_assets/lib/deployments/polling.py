"""Deployment events for teams that cannot send webhooks: poll GitHub's Deployments API.

Each successful deployment becomes an event in the one contract (lib/deployments/events.py
`DeploymentEvent`, the same check the webhooks, the store and the jsonl loader apply), with a
stable id, so polling the same window twice yields the same ids and the event loader drops the
repeats. A deployment that breaks the contract is refused with the quarantine's rule and reason
(`poll_deployments(...).refused`, logged by `poll_github_deployments`), never stored, and the rest go on.
"""

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from github import GithubException

from finops_assets.lib.codehost.github import GitHubCodeHost
from finops_assets.lib.deployments.events import DeploymentEvent, DeploymentEventError
from finops_assets.lib.deployments.repository_names import validate_repository

log = logging.getLogger(__name__)

CI_SYSTEM = "github_deployments"
# A deployment created a little before `since` can still succeed after it; look back this far for
# those, and stop paging (GitHub lists deployments newest first) past it.
CREATED_LOOKBACK = timedelta(hours=6)


@dataclass(frozen=True)
class Refused:
    """A deployment GitHub listed whose event breaks the contract."""
    repository: str
    deployment_id: int
    rule: str
    reason: str


@dataclass
class PollResult:
    events: list[DeploymentEvent] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)


def _since_utc(moment: datetime) -> datetime:
    """The lower bound of the query (not an event time): a naive bound is taken as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def event_from_github(repository: str, deployment, status, commit_message: str,
                      environment: str = "production") -> DeploymentEvent:
    """The contract event for one GitHub deployment and its successful status (PyGithub objects or
    anything with their attributes), or DeploymentEventError."""
    return DeploymentEvent.from_raw({
        "id": f"github-deployment-{repository}-{deployment.id}",
        # PyGithub reads GitHub's 'Z' times as aware UTC datetimes; a naive one is refused by the contract.
        "deployed_at": status.created_at,
        "service_name": repository.split("/", 1)[1],
        "environment": deployment.environment or environment,
        "commit_sha": deployment.sha,
        "commit_message": commit_message,
        "branch": deployment.ref or "",
        "repository": repository,
        "ci_system": CI_SYSTEM,
        "triggered_by": deployment.creator.login if deployment.creator else "",
        "pipeline_url": status.target_url or deployment.url,
    })


def poll_deployments(host: GitHubCodeHost, repositories: list[str], since: datetime,
                     environment: str = "production") -> PollResult:
    """Deployments to `environment` whose latest status is "success" and whose success came after
    `since`: the contract events, oldest first, and the refused ones."""
    since = _since_utc(since)
    for repository in repositories:  # all checked before the first request: a name shapes the URL
        validate_repository(repository)
    result = PollResult()
    for repository in repositories:
        with host.errors(f"{repository} deployments to {environment}"):
            repo = host.client.get_repo(repository)
            for deployment in repo.get_deployments(environment=environment):
                if _since_utc(deployment.created_at) < since - CREATED_LOOKBACK:
                    break
                latest = next(iter(deployment.get_statuses()), None)  # statuses come newest first
                if latest is None or latest.state != "success" or _since_utc(latest.created_at) <= since:
                    continue
                try:
                    # Checked before the commit is fetched: the SHA shapes that request's URL.
                    checked = event_from_github(repository, deployment, latest, "", environment)
                    message = _commit_message(repo, checked.commit_sha)
                    result.events.append(event_from_github(repository, deployment, latest, message, environment))
                except DeploymentEventError as exc:
                    result.refused.append(Refused(repository, deployment.id, exc.rule, str(exc)))
    result.events.sort(key=lambda event: (event.deployed_at, event.id))
    return result


def poll_github_deployments(host: GitHubCodeHost, repositories: list[str], since: datetime,
                            environment: str = "production") -> list[dict]:
    """`poll_deployments`' events as the contract's JSON records (what the store writes); each refused
    deployment is logged as a warning with its rule and reason."""
    result = poll_deployments(host, repositories, since, environment)
    for refused in result.refused:
        log.warning("GitHub deployment %s of %s refused: %s: %s", refused.deployment_id, refused.repository,
                    refused.rule, refused.reason)
    return [event.to_record() for event in result.events]


def _commit_message(repo, sha: str) -> str:
    """The deployed commit's message; "" when the commit cannot be fetched (e.g. force-pushed away)."""
    try:
        return (repo.get_commit(sha).commit.message or "").strip()
    except GithubException:
        return ""
