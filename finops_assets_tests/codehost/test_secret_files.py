"""The secret-file rules, each tested both ways (withheld / analysed), through both code hosts on real git
repositories: the local git host, and the GitHub host via the real PyGithub against the stand-in."""

import subprocess
from pathlib import Path

import pytest

from finops_assets.lib.codehost.host import CodeHostError
from finops_assets.lib.codehost.github import GitHubCodeHost
from finops_assets.lib.codehost.local_git import LocalGitCodeHost
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


def git(repo: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@x",
           "PATH": "/usr/bin:/bin"}
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True, env=env).stdout.strip()


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
