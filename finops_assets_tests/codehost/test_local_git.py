"""The built-in code host on real git repositories: guardrails, cap, bundles, branch-only writes."""

from pathlib import Path

import pytest

from finops_assets.lib.codehost.host import MAX_DIFF_CHARS, CodeHostError
from finops_assets.lib.codehost.local_git import LocalGitCodeHost
from finops_assets_tests.standins.git_repos import git

SECRET_MARKER = "AKIA-SECRET-VALUE-0123"


@pytest.fixture
def repos(tmp_path) -> Path:
    repo = tmp_path / "repos" / "acme" / "svc"
    repo.mkdir(parents=True)
    git(repo, "init", "--quiet", "--initial-branch=main")
    (repo / ".gitignore").write_text("local_settings.py\n")
    (repo / "app.py").write_text("print('v1')\n")
    git(repo, "add", ".")
    git(repo, "commit", "--quiet", "-m", "init")
    return tmp_path / "repos"


def commit_files(repo: Path, files: dict[str, str], message: str = "change") -> str:
    for path, text in files.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text)
        git(repo, "add", "-f", path)
    git(repo, "commit", "--quiet", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def test_secret_files_are_named_but_never_read_or_sent(repos):
    repo = repos / "acme" / "svc"
    sha = commit_files(repo, {".env": SECRET_MARKER, "deploy/tls.pem": SECRET_MARKER,
                              "config/db_credentials.yaml": SECRET_MARKER, "infra/terraform.tfstate": SECRET_MARKER,
                              "local_settings.py": SECRET_MARKER, "app.py": "print('v2')\n"})
    host = LocalGitCodeHost(repos)
    diff = host.commit_diff("acme/svc", sha)
    assert diff.paths == ("app.py",)
    assert set(diff.withheld_files) == {".env", "deploy/tls.pem", "config/db_credentials.yaml",
                                        "infra/terraform.tfstate", "local_settings.py"}
    assert SECRET_MARKER not in diff.text
    for path in diff.withheld_files:
        with pytest.raises(CodeHostError, match="secret"):
            host.file_at("acme/svc", sha, path)


def test_a_huge_diff_is_cut_at_40000_characters_and_says_so(repos):
    repo = repos / "acme" / "svc"
    sha = commit_files(repo, {"big.py": "".join(f"line_{i} = {i}\n" for i in range(6000))})
    diff = LocalGitCodeHost(repos).commit_diff("acme/svc", sha)
    assert diff.truncated and diff.total_chars > MAX_DIFF_CHARS and len(diff.text) <= MAX_DIFF_CHARS
    assert diff.text.endswith("\n")


def test_bundle_is_cloned_on_first_use_and_drafts_never_touch_the_default_branch(repos, tmp_path):
    source = repos / "acme" / "svc"
    sha = git(source, "rev-parse", "HEAD")
    bundles = tmp_path / "bundled"
    (bundles / "acme").mkdir(parents=True)
    git(source, "bundle", "create", str(bundles / "acme" / "svc.bundle"), "HEAD", "main")
    host = LocalGitCodeHost(bundles)
    assert host.file_at("acme/svc", sha, "app.py") == "print('v1')\n"
    clone = bundles / "acme" / "svc"
    main_before = git(clone, "rev-parse", "main")
    with pytest.raises(CodeHostError, match="only finops/"):
        host.open_draft_pull_request("acme/svc", sha, "main", "app.py", "x\n", "t", "b")
    first = host.open_draft_pull_request("acme/svc", sha, "finops/cost-fix-1", "app.py", "print('fixed')\n", "t", "b")
    second = host.open_draft_pull_request("acme/svc", sha, "finops/cost-fix-1", "app.py", "print('other')\n", "t", "b")
    assert first.created and not second.created and first.head_sha == second.head_sha
    assert git(clone, "show", "finops/cost-fix-1:app.py") == "print('fixed')"
    assert git(clone, "rev-parse", "main") == main_before
    assert git(clone, "status", "--porcelain") == ""  # the checkout is untouched


def test_unknown_repository_or_commit_is_a_clear_error(repos):
    host = LocalGitCodeHost(repos)
    with pytest.raises(CodeHostError, match="acme/nope not found"):
        host.commit_diff("acme/nope", "a" * 40)
    with pytest.raises(CodeHostError, match="not found in svc"):
        host.commit_diff("acme/svc", "b" * 40)
