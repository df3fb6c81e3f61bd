"""The secret-file rules, each tested both ways (withheld / analysed), through both code hosts on real git
repositories: the local git host, and the GitHub host via the real PyGithub against the stand-in."""

import subprocess
from pathlib import Path

import pytest

from finops_assets.lib.codehost.github import GitHubCodeHost
from finops_assets.lib.codehost.host import CodeHostError
from finops_assets.lib.codehost.local_git import LocalGitCodeHost
from finops_assets_tests.standins.git_repos import git
from finops_assets_tests.standins.github_server import GitHubStandIn

REPO = "acme/svc"
MARKER = "SECRET-MARKER-5150"

# Every one of these must be withheld: named in the diff, never read or sent.
SECRET = [
    ".ssh/id_ed25519", "ops/.ssh/id_ecdsa", "deploy/server.key", "deploy/LEGACY.KEY", "certs/tls.key.bak",
    ".netrc", ".npmrc", "web/.npmrc", ".pypirc", ".pgpass", "kubeconfig", "ops/kubeconfig.prod", ".kube/config",
    ".dockerconfigjson", "deploy/.docker/config.json", "gcp/service-account.json",
    "keys/prod-service_account.json", "android/release.jks", "certs/client.p12", "certs/client.pfx",
    "config/passwords.yaml", "secrets/db.yaml", "deploy/secrets/values.yaml", "infra/prod.tfvars",
    "config/local.yaml",        # listed in config/.gitignore (a nested .gitignore)
    "build/generated.py",       # root .gitignore: /build (root-anchored)
    "app/cache.tmp",            # root .gitignore: *.tmp
]
# Each is next to a rule above and must be analysed: the rules are not over-broad.
ORDINARY = [
    "src/build/tool.py",        # /build is anchored at the root: other build folders are ordinary source
    "app/keyboard.py", "app/netrc_parser.py", "docs/passwords_policy.md", "app/service.json",
    "src/kube/config_loader.py", "other/local.yaml",   # config/.gitignore does not reach other/
    "config/app.yaml", "keys.md", "app/monkey.py",
]
GITIGNORE = {".gitignore": "# build output\n/build\n*.tmp\n", "config/.gitignore": "local.yaml\n"}


def write(repo: Path, files: dict[str, str]) -> None:
    for path, text in files.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text)
        git(repo, "add", "-f", path)


@pytest.fixture(params=["local", "github"])
def world(request, tmp_path):
    repo = tmp_path / "repos" / "acme" / "svc"
    repo.mkdir(parents=True)
    git(repo, "init", "--quiet", "--initial-branch=main")
    write(repo, {**GITIGNORE, "README.md": "svc\n", ".env.production": f"TOKEN={MARKER}\n",
                 "app/settings.py": f"PASSWORD = '{MARKER}'\n", "app/old.py": "X = 1\n"})
    git(repo, "commit", "--quiet", "-m", "init")
    if request.param == "local":
        yield repo, LocalGitCodeHost(tmp_path / "repos")
        return
    with GitHubStandIn() as server:
        server.add_repository(REPO, repo)
        yield repo, GitHubCodeHost("t", base_url=server.base_url, retries=0, backoff_factor=0.001, timeout=5,
                                   seconds_between_requests=None, seconds_between_writes=None)


def test_every_secret_rule_withholds_and_every_neighbour_is_analysed(world):
    repo, host = world
    write(repo, {**{p: f"value = '{MARKER}'\n" for p in SECRET}, **{p: "ordinary = 1\n" for p in ORDINARY}})
    git(repo, "commit", "--quiet", "-m", "many files")
    sha = git(repo, "rev-parse", "HEAD")

    diff = host.commit_diff(REPO, sha)

    assert sorted(diff.withheld_files) == sorted(SECRET)
    assert sorted(diff.paths) == sorted(ORDINARY)
    assert MARKER not in diff.text
    for path in SECRET:
        with pytest.raises(CodeHostError, match="secret"):
            host.file_at(REPO, sha, path)
    for path in ORDINARY:
        assert host.file_at(REPO, sha, path) == "ordinary = 1\n"


def test_a_rename_from_or_to_a_secret_path_is_withheld(world):
    repo, host = world
    (repo / "config").mkdir(exist_ok=True)
    git(repo, "mv", ".env.production", "config/prod.txt")        # from a secret path: its content is secret
    (repo / "secrets").mkdir()
    git(repo, "mv", "app/settings.py", "secrets/settings.py")    # to a secret path
    git(repo, "mv", "app/old.py", "app/new.py")                  # an ordinary rename stays visible
    git(repo, "commit", "--quiet", "-m", "move")
    sha = git(repo, "rev-parse", "HEAD")

    diff = host.commit_diff(REPO, sha)

    assert sorted(diff.withheld_files) == ["config/prod.txt", "secrets/settings.py"]
    assert diff.paths == ("app/new.py",)
    assert MARKER not in diff.text


def test_gitignore_rules_follow_git_precedence_across_nested_files():
    from finops_assets.lib.codehost.host import GitignoreRules, is_secret_path

    rules = GitignoreRules.from_files({".gitignore": "*.log\n/build\n", "sub/.gitignore": "!keep.log\nlocal/\n"})
    assert rules.ignores("a.log") and rules.ignores("other/keep.log") and not rules.ignores("sub/keep.log")
    assert rules.ignores("sub/other.log") and rules.ignores("build/x.py") and not rules.ignores("sub/build/x.py")
    assert rules.ignores("sub/local/a.py") and not rules.ignores("local/a.py")
    # a .gitignore cannot un-secret the fixed patterns
    assert is_secret_path("sub/.env", GitignoreRules.from_files({"sub/.gitignore": "!.env\n"}))


# .gitignore files and paths whose verdict is compared with `git check-ignore` on a real repository, both ways.
CHECK_IGNORE_GITIGNORES = {
    ".gitignore": "/build\n*.tmp\nlogs/\n!logs/keep.txt\nvendor/**\n!vendor/keep.txt\nout\n!out/x.txt\n"
                  "a/**/gen/\n",
    ".config/.gitignore": "local.yaml\n",                 # a .gitignore inside a dot-folder
    "deep/.gitignore": "conf/\n!conf/app.yaml\n",         # a re-include below an excluded folder does nothing
    "deep/sub/.gitignore": "!*.tmp\n",                    # a re-include of a file whose folder is not excluded works
    ".hidden/.deeper/.gitignore": "*.yaml\n!keep.yaml\n",
}
CHECK_IGNORE_PATHS = [
    ".config/local.yaml", ".config/other.yaml", "deep/conf/app.yaml", "deep/conf/x.yaml", "deep/app.yaml",
    "deep/conf.yaml", "logs/keep.txt", "logs/a.txt", "vendor/keep.txt", "vendor/a/b.txt", "vendor/a/keep.txt",
    "deep/sub/x.tmp", "x.tmp", "build/x.py", "src/build/x.py", "out/x.txt", "src/out/y.txt", "a/b/gen/f.py",
    "a/gen/f.py", "gen/f.py", ".hidden/.deeper/a.yaml", ".hidden/.deeper/keep.yaml", ".hidden/b.yaml",
]


def test_gitignore_rules_agree_with_git_check_ignore_both_ways(tmp_path):
    from finops_assets.lib.codehost.host import GitignoreRules

    repo = tmp_path / "r"
    repo.mkdir()
    git(repo, "init", "--quiet")
    for path, text in {**CHECK_IGNORE_GITIGNORES, **{p: "x\n" for p in CHECK_IGNORE_PATHS}}.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text)
    result = subprocess.run(["git", "check-ignore", "--no-index", "--stdin"], cwd=repo, capture_output=True,
                            text=True, input="\n".join(CHECK_IGNORE_PATHS) + "\n")
    by_git = set(result.stdout.split())
    assert {".config/local.yaml", "deep/conf/app.yaml", "vendor/a/keep.txt"} <= by_git   # the cases that matter
    assert {"vendor/keep.txt", "deep/sub/x.tmp", ".hidden/.deeper/keep.yaml"}.isdisjoint(by_git)

    rules = GitignoreRules.from_files(CHECK_IGNORE_GITIGNORES)
    assert {p for p in CHECK_IGNORE_PATHS if rules.ignores(p)} == by_git


def test_gitignore_paths_keeps_gitignores_in_dot_folders():
    from finops_assets.lib.codehost.host import gitignore_paths

    assert gitignore_paths([".config/.gitignore", ".gitignore", "other/.gitignore"], (".config/local.yaml",)) == [
        ".config/.gitignore", ".gitignore"]


def test_a_gitignore_in_a_dot_folder_and_an_excluded_parent_folder_are_obeyed(world):
    repo, host = world
    write(repo, {".config/.gitignore": "local.yaml\n", "deep/.gitignore": "conf/\n!conf/app.yaml\n"})
    git(repo, "commit", "--quiet", "-m", "ignore rules")
    write(repo, {".config/local.yaml": f"token: {MARKER}\n", "deep/conf/app.yaml": f"password: {MARKER}\n",
                 ".config/other.yaml": "ordinary: 1\n", "deep/app.yaml": "ordinary: 1\n"})
    git(repo, "commit", "--quiet", "-m", "force-added")
    sha = git(repo, "rev-parse", "HEAD")

    diff = host.commit_diff(REPO, sha)

    assert sorted(diff.withheld_files) == [".config/local.yaml", "deep/conf/app.yaml"]
    assert sorted(diff.paths) == [".config/other.yaml", "deep/app.yaml"]
    assert MARKER not in diff.text
    for path in (".config/local.yaml", "deep/conf/app.yaml"):
        with pytest.raises(CodeHostError, match="ignored"):
            host.file_at(REPO, sha, path)
    assert host.file_at(REPO, sha, "deep/app.yaml") == "ordinary: 1\n"


# ---- regular files only: symlinks and submodules are neither read nor written --------------------------------
def add_special_entries(repo: Path) -> str:
    """ops/current.yaml -> limits.yaml (a symlink), linked -> ops (a symlink to a folder), vendor/lib (a
    submodule), next to the regular ops/limits.yaml; returns the commit."""
    write(repo, {"ops/limits.yaml": "max: 10\n"})
    (repo / "ops" / "current.yaml").symlink_to("limits.yaml")
    (repo / "linked").symlink_to("ops")
    git(repo, "add", "ops/current.yaml", "linked")
    head = git(repo, "rev-parse", "HEAD")
    git(repo, "update-index", "--add", "--cacheinfo", f"160000,{head},vendor/lib")
    git(repo, "commit", "--quiet", "-m", "special entries")
    assert git(repo, "ls-tree", "HEAD", "--", "ops/current.yaml").split()[0] == "120000"
    return git(repo, "rev-parse", "HEAD")


def test_symlinks_and_submodules_are_never_read(world):
    repo, host = world
    sha = add_special_entries(repo)

    assert host.file_at(REPO, sha, "ops/limits.yaml") == "max: 10\n"
    with pytest.raises(CodeHostError, match=r"ops/current\.yaml is a symlink \(git mode 120000\)"):
        host.file_at(REPO, sha, "ops/current.yaml")
    with pytest.raises(CodeHostError, match=r"vendor/lib is a submodule \(git mode 160000\)"):
        host.file_at(REPO, sha, "vendor/lib")
    with pytest.raises(CodeHostError, match=r"linked/limits\.yaml is below linked, which is a symlink"):
        host.file_at(REPO, sha, "linked/limits.yaml")
    with pytest.raises(CodeHostError, match=r"ops is a directory"):
        host.file_at(REPO, sha, "ops")


def test_a_committed_symlink_is_never_retargeted_by_a_pull_request(world):
    """The reviewer's case: the patch -limits.yaml / +/home/runner/.aws/credentials passes the plan and
    applies as text; the host refuses to write a non-regular file, so no branch appears."""
    from finops_assets.lib.analysis.patches import apply_patch
    from finops_assets.lib.pull_requests.plan import plan_pull_request

    repo, host = world
    sha = add_special_entries(repo)
    patch = "--- a/ops/current.yaml\n+++ b/ops/current.yaml\n@@ -1 +1 @@\n-limits.yaml\n+/home/runner/.aws/credentials\n"
    analysis = {"cause_found": True, "confidence": "high", "fix_patch": patch, "repository": REPO,
                "anomaly_id": "a1", "offending_file": "ops/current.yaml", "commit_sha": sha, "cause_description": "x",
                "reasoning": "x", "analyzer": "rule"}
    plan = plan_pull_request(analysis, {}, "Dana", {REPO}, "id1")
    new_text = apply_patch("limits.yaml\n", patch, plan.path)

    for path in ("ops/current.yaml", "vendor/lib", "linked/limits.yaml"):
        with pytest.raises(CodeHostError, match="symlink|submodule"):
            host.open_draft_pull_request(REPO, sha, f"finops/cost-fix-{path.replace('/', '-')}", path, new_text,
                                         plan.title, plan.body)
    assert git(repo, "branch", "--list", "finops/*") == ""
    record = host.open_draft_pull_request(REPO, sha, "finops/cost-fix-ok", "ops/limits.yaml", "max: 20\n", "t", "b")
    assert git(repo, "ls-tree", record.head_sha, "--", "ops/limits.yaml").split()[0] == "100644"
    assert git(repo, "ls-tree", record.head_sha, "--", "ops/current.yaml").split()[0] == "120000"   # untouched


def test_github_host_refuses_symlinks_when_the_tree_listing_is_truncated_and_on_a_reused_branch(tmp_path):
    repo = tmp_path / "svc"
    repo.mkdir()
    git(repo, "init", "--quiet", "--initial-branch=main")
    write(repo, {"README.md": "svc\n"})
    git(repo, "commit", "--quiet", "-m", "init")
    sha = add_special_entries(repo)
    # an interrupted run left finops/reuse where ops/limits.yaml became a symlink out of the repository
    (repo / "ops" / "limits.yaml").unlink()
    (repo / "ops" / "limits.yaml").symlink_to("/home/runner/.aws/credentials")
    git(repo, "add", "ops/limits.yaml")
    git(repo, "commit", "--quiet", "-m", "retarget")
    git(repo, "branch", "finops/reuse")
    git(repo, "reset", "--quiet", "--hard", sha)
    with GitHubStandIn() as server:
        server.add_repository(REPO, repo)
        host = GitHubCodeHost("t", base_url=server.base_url, retries=0, backoff_factor=0.001, timeout=5,
                              seconds_between_requests=None, seconds_between_writes=None)
        with pytest.raises(CodeHostError, match="refusing to write ops/limits.yaml on finops/reuse: it is a symlink"):
            host.open_draft_pull_request(REPO, sha, "finops/reuse", "ops/limits.yaml", "max: 20\n", "t", "b")
        server.truncate_trees = True
        host = GitHubCodeHost("t", base_url=server.base_url, retries=0, backoff_factor=0.001, timeout=5,
                              seconds_between_requests=None, seconds_between_writes=None)
        with pytest.raises(CodeHostError, match=r"ops/current\.yaml is a symlink"):
            host.file_at(REPO, sha, "ops/current.yaml")
        with pytest.raises(CodeHostError, match=r"below linked, which is a symlink"):
            host.file_at(REPO, sha, "linked/limits.yaml")
        with pytest.raises(CodeHostError, match=r"vendor/lib is a submodule"):
            host.open_draft_pull_request(REPO, sha, "finops/sub", "vendor/lib", "x\n", "t", "b")
        assert host.file_at(REPO, sha, "ops/limits.yaml") == "max: 10\n"
        assert [w["path"] for w in server.writes] == []


# ---- copies of secret files ------------------------------------------------------------------------------------
def test_a_copy_of_a_secret_file_is_withheld(world):
    """The reviewer's case: `.env` copied to app/settings.ini (git: C100). The local host asks git for copies
    (-C --find-copies-harder), the GitHub host (whose API reports no copies) compares blob ids with the secret
    files of the commit and its parent; either way the copy is withheld, and an ordinary copy is not."""
    repo, host = world
    write(repo, {".env": f"PASSWORD={MARKER}\n", "config/.gitignore": "local.yaml\n",
                 "config/local.yaml": f"token: {MARKER}-2\n", "app/base.ini": "[app]\nname = svc\n",
                 "app/empty.env": ""})
    git(repo, "commit", "--quiet", "-m", "base")
    for source, target in ((".env", "app/settings.ini"), ("config/local.yaml", "config/shared.yaml"),
                           ("app/base.ini", "app/copy.ini")):
        (repo / target).write_bytes((repo / source).read_bytes())
    write(repo, {"app/new.env": f"KEY={MARKER}-3\n", "app/new_copy.txt": f"KEY={MARKER}-3\n",  # added together
                 "app/__init__.py": "", "app/more.env": ""})   # empty, like empty secrets: not a copy
    git(repo, "add", "app/settings.ini", "config/shared.yaml", "app/copy.ini")
    git(repo, "commit", "--quiet", "-m", "copies")
    sha = git(repo, "rev-parse", "HEAD")

    diff = host.commit_diff(REPO, sha)

    assert sorted(diff.withheld_files) == ["app/more.env", "app/new.env", "app/new_copy.txt", "app/settings.ini",
                                           "config/shared.yaml"]
    # (GitHub sends no patch for an empty file, so the GitHub host leaves it out like a binary file)
    assert sorted(diff.paths) == (["app/__init__.py"] if isinstance(host, LocalGitCodeHost) else []) + ["app/copy.ini"]
    assert MARKER not in diff.text


def test_the_local_host_sees_an_edited_copy_of_an_unchanged_secret(tmp_path):
    repo = tmp_path / "repos" / "acme" / "svc"
    repo.mkdir(parents=True)
    git(repo, "init", "--quiet", "--initial-branch=main")
    write(repo, {".env": "".join(f"LINE{n}={MARKER}\n" for n in range(20)), "README.md": "svc\n"})
    git(repo, "commit", "--quiet", "-m", "init")
    write(repo, {"app/settings.ini": "".join(f"LINE{n}={MARKER}\n" for n in range(19)) + "EXTRA=1\n"})
    git(repo, "commit", "--quiet", "-m", "edited copy")

    diff = LocalGitCodeHost(tmp_path / "repos").commit_diff(REPO, git(repo, "rev-parse", "HEAD"))

    assert diff.withheld_files == ("app/settings.ini",) and MARKER not in diff.text


def test_github_file_at_refuses_a_contents_answer_that_is_not_the_regular_file_asked_for(tmp_path):
    """The tree listing is kept per ref; asked by branch name, it can be older than the contents API's answer.
    The contents answer is checked on its own: a symlink (or another path, a followed link) is refused."""
    repo = tmp_path / "svc"
    repo.mkdir()
    git(repo, "init", "--quiet", "--initial-branch=main")
    write(repo, {"ops/limits.yaml": "max: 10\n", "ops/other.yaml": "x: 1\n", "ops/base.yaml": "y: 2\n"})
    git(repo, "commit", "--quiet", "-m", "init")
    with GitHubStandIn() as server:
        server.add_repository(REPO, repo)
        host = GitHubCodeHost("t", base_url=server.base_url, retries=0, backoff_factor=0.001, timeout=5,
                              seconds_between_requests=None, seconds_between_writes=None)
        assert host.file_at(REPO, "main", "ops/limits.yaml") == "max: 10\n"
        for path, target in (("ops/limits.yaml", "/home/runner/.aws/credentials"), ("ops/other.yaml", "base.yaml")):
            (repo / path).unlink()
            (repo / path).symlink_to(target)
            git(repo, "add", path)
        git(repo, "commit", "--quiet", "-m", "links")
        with pytest.raises(CodeHostError, match=r"ops/limits\.yaml is a symlink"):
            host.file_at(REPO, "main", "ops/limits.yaml")
        with pytest.raises(CodeHostError, match=r"ops/other\.yaml is a file \(ops/base\.yaml\)"):
            host.file_at(REPO, "main", "ops/other.yaml")
