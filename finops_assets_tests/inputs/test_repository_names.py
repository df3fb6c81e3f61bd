"""Repository names from outside (deployment events, team_repositories.csv, polling) follow the one
rule of lib/deployments/repository_names.py: a plain 'owner/name', never a path, a query or a fragment."""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from finops_assets.lib.codehost.github import GitHubCodeHost
from finops_assets.lib.deployments.event_store import (
    DeploymentEventStore,
    validate_event,
)
from finops_assets.lib.deployments.events import DeploymentEventError
from finops_assets.lib.deployments.polling import poll_github_deployments
from finops_assets.lib.deployments.repository_names import RepositoryNameError
from finops_assets.lib.inputs.side_inputs import SIDE_INPUTS, parse_side_input
from finops_assets_tests.standins.github_server import GitHubStandIn

HOSTILE = ["../..", ".git/hooks", "acme/svc?x=1#", "acme/..", "acme/svc.git", "acme/svc/extra", "-acme/svc"]
SHA = "3471aafcc49cfd66abc0bfe2f90750d312ef2342"


def _event(repository: str, event_id: str = "dep-1") -> dict:
    return {"id": event_id, "deployed_at": "2026-07-01T10:00:00Z", "service_name": "checkout",
            "environment": "production", "commit_sha": SHA, "commit_message": "", "branch": "main",
            "repository": repository, "ci_system": "github_actions", "triggered_by": "alice", "pipeline_url": ""}


@pytest.mark.parametrize("name", HOSTILE)
def test_the_event_contract_refuses_a_repository_that_is_not_owner_slash_name(tmp_path, name):
    with pytest.raises(DeploymentEventError, match="^repository") as refused:
        validate_event(_event(name))
    assert (refused.value.rule, refused.value.field) == ("invalid_field", "repository")
    with pytest.raises(ValueError, match="^repository"):
        DeploymentEventStore(tmp_path / "deployments").append(_event(name))
    assert list(tmp_path.rglob("*.jsonl")) == []


def test_plain_names_pass_the_contract():
    for name in ("acme/checkout", "Acme-Corp/svc.v2_x", "a/b"):
        assert validate_event(_event(name))["repository"] == name


def test_team_repositories_quarantines_hostile_names_and_keeps_the_rest(tmp_path: Path):
    rows = ["department,team,repository,primary_repo", "retail,checkout,acme/checkout,true"]
    rows += [f"retail,t{i},{name},false" for i, name in enumerate(HOSTILE)]
    (tmp_path / "team_repositories.csv").write_text("\n".join(rows) + "\n")
    parsed = parse_side_input(tmp_path, SIDE_INPUTS["team_repositories"])
    assert [r["repository"] for r in parsed.rows] == ["acme/checkout"]
    assert [(r.row_number, r.rule) for r in parsed.rejected] == [(i + 2, "invalid_field") for i in range(len(HOSTILE))]
    for rejected, name in zip(parsed.rejected, HOSTILE, strict=True):
        assert rejected.reason.startswith("repository:") and rejected.source_file.endswith("team_repositories.csv")
        assert json.loads(rejected.raw_record)["repository"] == name


def test_deployment_files_quarantine_hostile_names(tmp_path: Path):
    (tmp_path / "deployments").mkdir()
    lines = [_event("acme/checkout")] + [_event(name, f"dep-{i}") for i, name in enumerate(HOSTILE, start=2)]
    (tmp_path / "deployments" / "e.jsonl").write_text("\n".join(map(json.dumps, lines)) + "\n")
    parsed = parse_side_input(tmp_path, SIDE_INPUTS["deployment_events"])
    assert [r["id"] for r in parsed.rows] == ["dep-1"]
    assert [r.rule for r in parsed.rejected] == ["invalid_field"] * len(HOSTILE)
    assert all("repository" in r.reason for r in parsed.rejected)


@pytest.mark.parametrize("name", ["../..", ".git/hooks", "acme/svc?x=1#"])
def test_polling_refuses_a_hostile_name_before_asking_github(name):
    with GitHubStandIn() as server:
        host = GitHubCodeHost("test-token", base_url=server.base_url)
        with pytest.raises(RepositoryNameError):
            poll_github_deployments(host, ["acme/checkout", name], since=datetime(2024, 9, 18, tzinfo=UTC))
        assert server.requests == []


def test_poll_command_names_the_bad_repository_in_one_line(tmp_path, monkeypatch, capsys):
    from finops_assets.cli import main

    with GitHubStandIn() as server:
        monkeypatch.setenv("GITHUB_TOKEN", "test-token")
        monkeypatch.setenv("FINOPS_GITHUB_API_URL", server.base_url)
        code = main(["poll-github-deployments", "--repositories", "acme/checkout,../..", "--data-dir", str(tmp_path)])
        assert server.requests == []
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0 and err.startswith("error: repository") and "'..'" in err, err
    assert not (tmp_path / "deployments").exists()
