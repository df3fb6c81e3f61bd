"""GitHubCodeHost and deployment polling, through the real PyGithub client, against a local stand-in
for the GitHub REST API that is backed by real git repositories (finops_assets_tests/standins)."""

import os
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from finops_assets.lib.codehost.github import GitHubCodeHost
from finops_assets.lib.codehost.host import MAX_DIFF_CHARS, CodeHostError
from finops_assets.lib.deployments.event_store import validate_event
from finops_assets.lib.deployments.polling import poll_github_deployments
from finops_assets_tests.standins.github_server import GitHubStandIn

REPO = "acme/checkout"
GIT_ENV = {**os.environ, "GIT_AUTHOR_NAME": "Dev", "GIT_AUTHOR_EMAIL": "dev@acme.example",
           "GIT_COMMITTER_NAME": "Dev", "GIT_COMMITTER_EMAIL": "dev@acme.example"}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, env=GIT_ENV, check=True, capture_output=True,
                          text=True).stdout.strip()


def commit(repo: Path, message: str, files: dict[str, str | None], force: tuple[str, ...] = ()) -> str:
    """Write (or, for None, delete) files and commit them; returns the new sha."""
    for name, text in files.items():
        target = repo / name
        if text is None:
            git(repo, "rm", "-q", name)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        git(repo, "add", *(["-f"] if name in force else []), name)
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def new_repo(path: Path, default_branch: str = "main") -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", default_branch)
    return path


@pytest.fixture
def server():
    with GitHubStandIn() as standin:
        yield standin


@pytest.fixture
def repo(tmp_path: Path, server: GitHubStandIn) -> Path:
    path = new_repo(tmp_path / "acme" / "checkout")
    commit(path, "initial", {
        ".gitignore": "# local files\nlocal_settings.py\nbuild/\n",
        "app/cache.py": "def ttl():\n    return 60\n",
        "README.md": "checkout service\n",
        "app/old_name.py": "VALUE = 1\n",
    })
    server.add_repository(REPO, path)
    return path


def make_host(server: GitHubStandIn, token: str = "test-token", retries: int = 2) -> GitHubCodeHost:
    # Tiny backoff and no politeness delays: the whole file runs in a few seconds.
    return GitHubCodeHost(token, base_url=server.base_url, retries=retries, backoff_factor=0.001, timeout=5,
                          seconds_between_requests=None, seconds_between_writes=None)


def content_requests(server: GitHubStandIn) -> list[str]:
    prefix = f"/repos/{REPO}/contents/"
    return [p.removeprefix(prefix) for p in server.paths_requested() if p.startswith(prefix)]


# ---- commit_diff ------------------------------------------------------------------------------------------
def test_commit_diff_returns_the_real_diff_with_paths_statuses_and_hunks(repo: Path, server: GitHubStandIn):
    parent = git(repo, "rev-parse", "HEAD")
    git(repo, "mv", "app/old_name.py", "app/new_name.py")
    (repo / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00binary")   # no text patch: left out
    git(repo, "add", "logo.png")
    sha = commit(repo, "cache: longer ttl\n\nfewer origin calls", {
        "app/cache.py": "def ttl():\n    return 3600\n", "app/warm.py": "WARM = True\n", "README.md": None})

    diff = make_host(server).commit_diff(REPO, sha)

    assert (diff.commit_sha, diff.parent_sha, diff.message) == (sha, parent, "cache: longer ttl\n\nfewer origin calls")
    by_path = {f.path: f for f in diff.files}
    assert {p: f.status for p, f in by_path.items()} == {
        "app/cache.py": "modified", "app/warm.py": "added", "README.md": "removed", "app/new_name.py": "renamed"}
    assert by_path["app/cache.py"].patch.startswith("--- a/app/cache.py\n+++ b/app/cache.py\n@@ -1,2 +1,2 @@\n")
    assert "-    return 60\n+    return 3600" in by_path["app/cache.py"].patch
    assert by_path["app/warm.py"].patch.startswith("--- /dev/null\n+++ b/app/warm.py\n@@ -0,0 +1 @@\n+WARM = True")
    assert by_path["README.md"].patch.startswith("--- a/README.md\n+++ /dev/null\n@@ -1 +0,0 @@\n-checkout service")
    assert by_path["app/new_name.py"].patch.startswith("--- a/app/old_name.py\n+++ b/app/new_name.py\n")
    assert (diff.withheld_files, diff.truncated) == ((), False)
    # The hunks are git's own: every +/- line of `git show` for cache.py is in ours.
    git_lines = [l for l in git(repo, "show", "--format=", sha, "--", "app/cache.py").splitlines()
                 if l[:1] in "+-" and not l.startswith(("+++", "---"))]
    assert git_lines and all(l in by_path["app/cache.py"].patch.splitlines() for l in git_lines)


def test_secret_files_are_only_named_and_their_contents_never_requested(repo: Path, server: GitHubStandIn):
    secrets = {".env": "DB_PASSWORD=hunter2\n", "deploy/key.pem": "-----BEGIN PRIVATE KEY-----\nMIIsecret\n",
               "config/db_credentials.yaml": "password: hunter2\n",
               "infra/terraform.tfstate": '{"secret": "hunter2"}\n',
               "local_settings.py": "API_KEY = 'hunter2'\n"}          # the last one is listed in .gitignore
    env_lines = "".join(f"SETTING_{i}=hunter2\n" for i in range(10))
    commit(repo, "prod env", {".env.production": env_lines})
    (repo / "config").mkdir()
    git(repo, "mv", ".env.production", "config/prod.txt")        # renamed *from* a secret path
    sha = commit(repo, "config", {**secrets, "config/prod.txt": env_lines + "EXTRA=1\n",
                                  "app/cache.py": "def ttl():\n    return 120\n"}, force=("local_settings.py",))

    diff = make_host(server).commit_diff(REPO, sha)

    assert sorted(diff.withheld_files) == sorted([*secrets, "config/prod.txt"])
    assert diff.paths == ("app/cache.py",)
    assert "hunter2" not in diff.text and "MIIsecret" not in diff.text
    assert content_requests(server) == [".gitignore"]      # the only file content ever asked for
    assert [r.query for r in server.requests if "/contents/" in r.path] == [{"ref": sha}]   # .gitignore at that commit


def test_a_diff_over_the_limit_is_cut_and_reports_its_full_size(repo: Path, server: GitHubStandIn):
    big = "".join(f"row_{i:05d} = {i}  # padding to make the diff large\n" for i in range(1500))
    sha = commit(repo, "big generated table", {"app/table.py": big, "app/small.py": "X = 1\n"})

    diff = make_host(server).commit_diff(REPO, sha)

    assert diff.truncated is True
    assert diff.total_chars > 60_000 and diff.total_chars > len(diff.text)
    assert len(diff.text) <= MAX_DIFF_CHARS
    assert diff.text.endswith("\n")                     # cut at a line end


# ---- file_at ----------------------------------------------------------------------------------------------
def test_file_at_reads_text_and_refuses_secret_paths_without_requesting_them(repo: Path, server: GitHubStandIn):
    sha = commit(repo, "secrets", {".env": "TOKEN=hunter2\n", "local_settings.py": "KEY = 'hunter2'\n"},
                 force=("local_settings.py",))
    host = make_host(server)
    assert host.file_at(REPO, sha, "app/cache.py") == "def ttl():\n    return 60\n"

    before = len(server.requests)
    with pytest.raises(CodeHostError, match=r"\.env is a secret file"):
        host.file_at(REPO, sha, ".env")
    assert len(server.requests) == before                  # refused before any request
    with pytest.raises(CodeHostError, match=r"local_settings\.py is ignored by \.gitignore"):
        host.file_at(REPO, sha, "local_settings.py")
    assert content_requests(server) == [".gitignore", "app/cache.py"]     # .gitignore read once per commit


# ---- open_draft_pull_request ---------------------------------------------------------------------------------
def test_open_draft_pull_request_creates_branch_commit_and_draft_pr_once(repo: Path, server: GitHubStandIn):
    base = git(repo, "rev-parse", "HEAD")
    host = make_host(server)
    args = (REPO, base, "finops/cache-ttl", "app/cache.py", "def ttl():\n    return 300\n", "restore cache TTL",
            "TTL went from 60 to 1 s; this restores it.")

    first = host.open_draft_pull_request(*args)

    assert (first.created, first.draft, first.number, first.branch, first.base_branch) == (
        True, True, 1, "finops/cache-ttl", "main")
    assert first.head_sha == git(repo, "rev-parse", "refs/heads/finops/cache-ttl")
    assert git(repo, "rev-parse", f"{first.head_sha}^") == base
    assert git(repo, "log", "-1", "--format=%s", first.head_sha) == "finops: restore cache TTL"
    assert git(repo, "show", f"{first.head_sha}:app/cache.py") == "def ttl():\n    return 300"
    assert git(repo, "rev-parse", "main") == base                      # default branch untouched
    (pull,) = server.repos[REPO].pulls
    assert (pull["draft"], pull["base"], pull["head"], pull["title"]) == (
        True, "main", "finops/cache-ttl", "restore cache TTL")
    assert [w["branch"] for w in server.writes] == ["finops/cache-ttl"]

    writes_before = [r for r in server.requests if r.method != "GET"]
    second = host.open_draft_pull_request(*args)

    assert (second.created, second.number, second.url, second.head_sha) == (False, 1, first.url, first.head_sha)
    assert len(server.repos[REPO].pulls) == 1
    assert [r for r in server.requests if r.method != "GET"] == writes_before   # nothing written again


def test_open_draft_pull_request_reuses_a_branch_left_by_an_interrupted_run(repo: Path, server: GitHubStandIn):
    base = git(repo, "rev-parse", "HEAD")
    git(repo, "branch", "finops/ttl", base)            # the ref exists, the PR does not
    record = make_host(server).open_draft_pull_request(REPO, base, "finops/ttl", "app/cache.py", "x = 1\n", "t", "b")
    assert record.created and git(repo, "show", "finops/ttl:app/cache.py") == "x = 1"
    assert git(repo, "rev-parse", "finops/ttl^") == base


def test_open_draft_pull_request_never_targets_the_default_branch(tmp_path: Path, server: GitHubStandIn):
    # A default branch that even looks like ours, so only the default-branch check can stop it.
    path = new_repo(tmp_path / "acme" / "odd", default_branch="finops/live")
    base = commit(path, "initial", {"a.txt": "a\n"})
    server.add_repository("acme/odd", path)
    host = make_host(server)

    for branch in ("finops/live", "main", "feature/x"):
        with pytest.raises(CodeHostError, match="refusing to write"):
            host.open_draft_pull_request("acme/odd", base, branch, "a.txt", "b\n", "t", "b")
    with pytest.raises(CodeHostError, match="secret"):
        host.open_draft_pull_request("acme/odd", base, "finops/x", ".env", "A=1\n", "t", "b")
    assert server.writes == [] and [r for r in server.requests if r.method != "GET"] == []
    assert git(path, "rev-parse", "finops/live") == base

    # The stand-in itself refuses (and records) a default-branch write, so the checks above are meaningful.
    gh_repo = host.client.get_repo("acme/odd")
    with pytest.raises(Exception, match="422"):
        gh_repo.create_file("a2.txt", "direct", "x", branch="finops/live")
    assert server.writes[-1]["refused"] is True


# ---- errors, retries and credentials -----------------------------------------------------------------------
def test_server_errors_are_retried_then_succeed(repo: Path, server: GitHubStandIn):
    sha = git(repo, "rev-parse", "HEAD")
    server.fail_next(502, times=2, path_contains="/commits/")

    diff = make_host(server, retries=2).commit_diff(REPO, sha)

    assert diff.commit_sha == sha
    assert len([p for p in server.paths_requested() if "/commits/" in p]) == 3


def test_persistent_server_errors_raise_after_the_retries(repo: Path, server: GitHubStandIn):
    sha = git(repo, "rev-parse", "HEAD")
    server.fail_next(503, times=None, path_contains="/commits/")

    with pytest.raises(CodeHostError) as raised:
        make_host(server, retries=2).commit_diff(REPO, sha)

    assert re.search(rf"{REPO} commit {sha}: GitHub server error \(HTTP 503\) after 2 retries", str(raised.value))
    assert len([p for p in server.paths_requested() if "/commits/" in p]) == 3


def test_missing_commit_and_repository_raise_not_found(repo: Path, server: GitHubStandIn):
    host = make_host(server)
    with pytest.raises(CodeHostError, match=rf"{REPO} commit {'f' * 40}: not found on GitHub \(HTTP 404\)"):
        host.commit_diff(REPO, "f" * 40)
    with pytest.raises(CodeHostError, match=r"repository acme/nope: not found on GitHub \(HTTP 404\)"):
        host.commit_diff("acme/nope", "f" * 40)


@pytest.mark.parametrize("status", [403, 429])
def test_rate_limits_raise_with_the_reset_time_and_are_not_retried(repo: Path, server: GitHubStandIn, status: int):
    sha = git(repo, "rev-parse", "HEAD")
    server.fail_next(status, times=None, rate_limited=True, path_contains="/commits/")

    with pytest.raises(CodeHostError) as raised:
        make_host(server).commit_diff(REPO, sha)

    match = re.search(rf"{REPO} commit {sha}: GitHub rate limited until (\S+) \(HTTP {status}\)", str(raised.value))
    assert match, str(raised.value)
    reset = datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert 1700 < (reset - datetime.now(UTC)).total_seconds() <= 1800
    assert len([p for p in server.paths_requested() if "/commits/" in p]) == 1


def test_bad_credentials_raise_an_auth_error(tmp_path: Path):
    with GitHubStandIn(token="right-token") as server:
        server.add_repository(REPO, new_repo(tmp_path / "r"))
        with pytest.raises(CodeHostError, match=r"repository acme/checkout: GitHub refused the credentials .*HTTP 401"):
            make_host(server, token="wrong-token").commit_diff(REPO, "HEAD")
        assert server.requests[-1].authorization == "token wrong-token"


def test_construction_needs_a_token_or_a_complete_github_app():
    with pytest.raises(ValueError, match="needs credentials: a token, or app_id"):
        GitHubCodeHost()
    with pytest.raises(ValueError, match="missing: private_key, installation_id"):
        GitHubCodeHost(app_id=1)
    assert GitHubCodeHost("t").name == "github"


def test_github_app_installation_auth_exchanges_a_jwt_for_an_installation_token(repo: Path, server: GitHubStandIn):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    host = GitHubCodeHost(app_id=42, private_key=key, installation_id=7, base_url=server.base_url,
                          seconds_between_requests=None, seconds_between_writes=None)

    assert host.file_at(REPO, "HEAD", "README.md") == "checkout service\n"

    token_request = next(r for r in server.requests if r.path == "/app/installations/7/access_tokens")
    assert token_request.method == "POST" and token_request.authorization.startswith("Bearer ey")
    repo_request = next(r for r in server.requests if r.path == f"/repos/{REPO}")
    assert repo_request.authorization == f"token {server.installation_token}"


# ---- deployment polling ------------------------------------------------------------------------------------
def test_polling_keeps_successful_production_deployments_after_since(repo: Path, server: GitHubStandIn):
    deployed = commit(repo, "cache: ttl 1s\n\nbody", {"app/cache.py": "def ttl():\n    return 1\n"})
    other = git(repo, "rev-parse", "HEAD~1")
    url = "https://ci.acme.example/run/"
    ok = server.add_deployment(REPO, deployed, environment="production", ref="main", creator="alice",
                               created_at="2024-09-18T21:30:00Z",
                               statuses=[("in_progress", "2024-09-18T21:31:00Z", None),
                                         ("success", "2024-09-18T21:40:00Z", url + "1")])
    server.add_deployment(REPO, other, environment="production", created_at="2024-09-18T22:00:00Z",
                          statuses=[("success", "2024-09-18T22:01:00Z", None),
                                    ("failure", "2024-09-18T22:05:00Z", None)])               # latest: failure
    server.add_deployment(REPO, deployed, environment="staging", created_at="2024-09-18T21:00:00Z",
                          statuses=[("success", "2024-09-18T21:05:00Z", None)])
    server.add_deployment(REPO, other, environment="production", created_at="2024-09-17T08:00:00Z",
                          statuses=[("success", "2024-09-17T08:05:00Z", None)])      # before `since`
    unknown_sha = "e" * 40                                                              # commit not in the repo
    no_url = server.add_deployment(REPO, unknown_sha, environment="production", ref="hotfix", creator="bob",
                                   created_at="2024-09-18T23:00:00Z",
                                   statuses=[("success", "2024-09-18T23:10:00Z", None)])

    events = poll_github_deployments(make_host(server), [REPO], since=datetime(2024, 9, 18, 12, tzinfo=UTC))

    assert [e["id"] for e in events] == [f"github-deployment-{REPO}-{ok}", f"github-deployment-{REPO}-{no_url}"]
    assert events[0] == validate_event(events[0]) == {
        "id": f"github-deployment-{REPO}-{ok}", "deployed_at": "2024-09-18T21:40:00Z", "service_name": "checkout",
        "environment": "production", "commit_sha": deployed, "commit_message": "cache: ttl 1s\n\nbody",
        "branch": "main", "repository": REPO, "ci_system": "github_deployments", "triggered_by": "alice",
        "pipeline_url": url + "1"}
    assert events[1]["commit_message"] == "" and events[1]["branch"] == "hotfix"
    assert events[1]["pipeline_url"] == f"{server.base_url}/repos/{REPO}/deployments/{no_url}"
    assert validate_event(events[1])
    assert all(r.query.get("environment") == "production" for r in server.requests if r.path.endswith("/deployments"))


def test_poll_command_stores_each_deployment_once_for_the_sensor(repo: Path, server: GitHubStandIn, tmp_path,
                                                                 monkeypatch, capsys):
    from finops_assets.cli import main
    from finops_assets.lib.deployments.event_store import DeploymentEventStore

    deployed = commit(repo, "Tune cache", {"app/cache.py": "TTL = 5\n"})
    server.add_deployment(REPO, deployed, environment="production", ref="main", creator="alice",
                          created_at="2024-09-18T21:30:00Z", statuses=[("success", "2024-09-18T21:40:00Z", None)])
    monkeypatch.setenv("GITHUB_TOKEN", "test-token")
    monkeypatch.setenv("FINOPS_GITHUB_API_URL", server.base_url)
    args = ["poll-github-deployments", "--repositories", REPO, "--since", "2024-09-18T00:00:00Z",
            "--data-dir", str(tmp_path)]
    assert main(args) == 0 and main(args) == 0  # polled twice: stored once
    assert "1 new" in capsys.readouterr().out
    stored = DeploymentEventStore(tmp_path / "deployments").list_events()
    assert [event["commit_sha"] for _, event in stored] == [deployed]
