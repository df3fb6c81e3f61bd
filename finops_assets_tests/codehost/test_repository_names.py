"""Repository names from outside are checked by lib/deployments/repository_names.py before a code host uses them: no
request is sent (with the token) and no folder is touched for a name that is not a plain 'owner/name'."""

import subprocess
from pathlib import Path

import pytest

from finops_assets.lib.codehost.github import GitHubCodeHost
from finops_assets.lib.codehost.host import CodeHostError
from finops_assets.lib.codehost.local_git import LocalGitCodeHost
from finops_assets.lib.pull_requests.plan import Refusal, plan_pull_request
from finops_assets_tests.standins.github_server import GitHubStandIn

BAD_NAMES = ["../..", ".git/hooks", "acme/svc?x=1#", "acme/svc#frag", "acme/../svc", "acme/svc/extra", "acme",
             "/acme/svc", "acme/svc.git", "acme/.", "acme/..", " acme/svc", "acme/svc\n", "acme%2f..%2f../svc"]
PATCH = "--- a/app.py\n+++ b/app.py\n@@ -1 +1 @@\n-a\n+b\n"


def calls(host, name: str):
    return [lambda: host.commit_diff(name, "a" * 40), lambda: host.file_at(name, "a" * 40, "app.py"),
            lambda: host.open_draft_pull_request(name, "a" * 40, "finops/x", "app.py", "b\n", "t", "b")]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_the_github_host_sends_nothing_for_a_bad_repository_name(tmp_path: Path, name: str):
    with GitHubStandIn() as server:
        host = GitHubCodeHost("secret-token", base_url=server.base_url, retries=0, seconds_between_requests=None,
                              seconds_between_writes=None)
        for call in calls(host, name):
            with pytest.raises(CodeHostError, match="refusing repository"):
                call()
        assert server.requests == []          # not even GET / with the token


@pytest.mark.parametrize("name", BAD_NAMES)
def test_the_local_host_touches_no_folder_for_a_bad_repository_name(tmp_path: Path, name: str):
    repos = tmp_path / "data" / "repos"
    repos.mkdir(parents=True)
    # Things a bad name could reach: the data folder's own git metadata and a bundle beside it.
    subprocess.run(["git", "init", "--quiet", str(tmp_path / "data")], check=True)
    before = sorted(p for p in tmp_path.rglob("*"))
    host = LocalGitCodeHost(repos)
    for call in calls(host, name):
        with pytest.raises(CodeHostError, match="refusing repository"):
            call()
    assert sorted(p for p in tmp_path.rglob("*")) == before


def test_the_pr_plan_refuses_a_bad_repository_name_even_if_registered():
    analysis = {"cause_found": True, "confidence": "high", "repository": "../..", "offending_file": "app.py",
                "anomaly_id": "an1", "commit_sha": "a" * 40, "cause_description": "c", "reasoning": "r",
                "analyzer": "rule_based", "pattern": "cache_removed", "fix_description": "f", "fix_patch": PATCH}
    with pytest.raises(Refusal, match=r"repository '\.\./\.\.' refused"):
        plan_pull_request(analysis, {}, "Dana Oncall", {"../.."}, "a1")
    assert plan_pull_request({**analysis, "repository": "acme/svc"}, {}, "Dana Oncall", {"acme/svc"}, "a1").path == "app.py"
