"""A fix patch is a plain modification of the one offending file, checked in a throwaway repository: hostile
patches (copy/rename to ../.., absolute paths, .git/hooks, binary, modes, symlinks, new/deleted files, two
files) are dropped and write nothing anywhere, on real git repositories through the real local host."""

import re
import tempfile

import pytest

from finops_assets.lib.analysis.code_analysis import analyze_target
from finops_assets.lib.analysis.diff_analysis import DiffAnalysis, check_against_diff
from finops_assets.lib.analysis.patches import PatchError, apply_patch
from finops_assets.lib.codehost.host import CommitDiff, FileDiff
from finops_assets.lib.codehost.local_git import LocalGitCodeHost
from finops_assets.lib.pull_requests.plan import Refusal, plan_pull_request
from finops_assets_tests.standins.git_repos import git

REPO = "acme/svc"
OLD = "def ttl():\n    return 60\n"
NEW = "def ttl():\n    return 1\n"
GOOD_HUNK = "@@ -1,2 +1,2 @@\n def ttl():\n-    return 1\n+    return 60\n"
GOOD = f"--- a/app/cache.py\n+++ b/app/cache.py\n{GOOD_HUNK}"


@pytest.fixture
def world(tmp_path, monkeypatch):
    """A real repository with a suspect commit, and a scratch folder two levels above every temp dir, so a
    patch that escapes with '../..' lands where the test can see it."""
    repo = tmp_path / "repos" / "acme" / "svc"
    repo.mkdir(parents=True)
    git(repo, "init", "--quiet", "--initial-branch=main")
    for path, text in {"app/cache.py": OLD, ".github/workflows/deploy.yml": "on: push\nconcurrency: 1\n",
                       "README.md": "svc\n"}.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text)
    git(repo, "add", ".")
    git(repo, "commit", "--quiet", "-m", "init")
    (repo / "app/cache.py").write_text(NEW)
    (repo / ".github/workflows/deploy.yml").write_text("on: push\nconcurrency: 50\n")
    git(repo, "commit", "--quiet", "-am", "shorter ttl, more concurrency")
    sha = git(repo, "rev-parse", "HEAD")
    scratch = tmp_path / "scratch"
    (scratch / "deep").mkdir(parents=True)
    monkeypatch.setattr(tempfile, "tempdir", str(scratch / "deep"))
    return {"root": tmp_path, "repo": repo, "sha": sha, "scratch": scratch, "host": LocalGitCodeHost(tmp_path / "repos")}


def target(sha: str, n: int = 1) -> dict:
    return {"analysis_id": f"a{n}", "anomaly_id": f"an{n}", "deployment_id": f"d{n}", "repository": REPO,
            "commit_sha": sha}


def answer(patch: str, offending: str = "app/cache.py"):
    """An analyzer whose answer carries `patch` (what a steered model could write)."""
    def analyze(diff, context, read) -> DiffAnalysis:
        return DiffAnalysis(cause_found=True, cause_description="TTL cut from 60 s to 1 s", offending_file=offending,
                            offending_lines="2", fix_description="restore the TTL", fix_patch=patch, confidence="high",
                            reasoning="the TTL literal changed", analyzer="test", pattern="cache_removed")
    return analyze


def files_outside(world) -> set[str]:
    """Every file under the test's tmp root except the repositories' own git data and pytest's."""
    return {str(p.relative_to(world["root"])) for p in world["root"].rglob("*")
            if p.is_file() and "/.git/" not in str(p)}


HOSTILE = {
    "copy_to_parent": GOOD + "diff --git a/app/cache.py b/app/cache.py\nsimilarity index 100%\n"
                             "copy from app/cache.py\ncopy to ../../escaped.pth\n",
    "copy_to_absolute": GOOD + "diff --git a/app/cache.py b/app/cache.py\nsimilarity index 100%\n"
                               "copy from app/cache.py\ncopy to {abs}\n",
    "rename_to_parent": "diff --git a/app/cache.py b/app/cache.py\nsimilarity index 100%\n"
                        "rename from app/cache.py\nrename to ../../escaped.py\n",
    "rename_with_hunk": "diff --git a/app/cache.py b/app/cache.py\nsimilarity index 90%\n"
                        "rename from app/cache.py\nrename to ../../escaped.py\n" + GOOD,
    "git_hook": GOOD + "diff --git a/.git/hooks/post-checkout b/.git/hooks/post-checkout\nnew file mode 100755\n"
                       "--- /dev/null\n+++ b/.git/hooks/post-checkout\n@@ -0,0 +1,2 @@\n+#!/bin/sh\n+touch ../pwned\n",
    "mode_change": "diff --git a/app/cache.py b/app/cache.py\nold mode 100644\nnew mode 100755\n" + GOOD,
    "symlink": "diff --git a/app/cache.py b/app/cache.py\ndeleted file mode 100644\n"
               "--- a/app/cache.py\n+++ /dev/null\n@@ -1,2 +0,0 @@\n-def ttl():\n-    return 1\n"
               "diff --git a/app/cache.py b/app/cache.py\nnew file mode 120000\n--- /dev/null\n+++ b/app/cache.py\n"
               "@@ -0,0 +1 @@\n+/etc/passwd\n\\ No newline at end of file\n",
    "binary": "diff --git a/app/cache.py b/app/cache.py\nindex 1111111..2222222 100644\nGIT binary patch\n"
              "literal 5\nMcmZ?wbaZ3@00962P5=M^\n\nliteral 0\nHcmV?d00001\n\n",
    "new_file": "diff --git a/app/cache.py b/app/cache.py\nnew file mode 100644\n--- /dev/null\n+++ b/app/cache.py\n"
                "@@ -0,0 +1 @@\n+x = 1\n",
    "delete_file": "diff --git a/app/cache.py b/app/cache.py\ndeleted file mode 100644\n--- a/app/cache.py\n"
                   "+++ /dev/null\n@@ -1,2 +0,0 @@\n-def ttl():\n-    return 1\n",
    "two_files": GOOD + "--- a/README.md\n+++ b/README.md\n@@ -1 +1 @@\n-svc\n+pwned\n",
    "dotdot_in_plus": "--- a/app/cache.py\n+++ b/../../escaped.py\n" + GOOD_HUNK,
    "dotdot_same_file": "--- a/app/../app/cache.py\n+++ b/app/../app/cache.py\n" + GOOD_HUNK,
    "git_header_inside_hunk": "--- a/app/cache.py\n+++ b/app/cache.py\n@@ -1,2 +1,2 @@\n def ttl():\n"
                              "diff --git a/app/cache.py b/app/cache.py\ncopy from app/cache.py\n"
                              "copy to ../../escaped.pth\n-    return 1\n+    return 60\n",
    "hidden_second_file_in_hunk": "--- a/app/cache.py\n+++ b/app/cache.py\n@@ -1,2 +1,2 @@\n def ttl():\n"
                                  "-    return 1\n+    return 60\n--- a/README.md\n+++ b/README.md\n"
                                  "@@ -1 +1 @@\n-svc\n+pwned\n",
}


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_a_hostile_patch_is_dropped_and_writes_nothing_anywhere(world, kind):
    patch = HOSTILE[kind].replace("{abs}", str(world["scratch"] / "abs_escaped.pth"))
    before = files_outside(world)
    row = analyze_target(target(world["sha"]), world["host"], answer(patch))
    assert row["fix_patch"] is None and row["patch_applies"] is not True, row
    assert row["cause_found"] and row["offending_file"] == "app/cache.py"   # the finding itself is kept
    assert "fix patch dropped" in row["reasoning"]
    assert not row["patch_rejected"].startswith("does not apply")           # refused by the parser, not by git
    assert files_outside(world) == before                                   # nothing escaped, nothing created
    assert not (world["scratch"] / "escaped.pth").exists() and not (world["scratch"] / "abs_escaped.pth").exists()
    assert git(world["repo"], "status", "--porcelain") == ""                # the real checkout is untouched
    with pytest.raises(PatchError):
        apply_patch(NEW, patch, "app/cache.py")
    assert files_outside(world) == before


def test_a_plain_fix_of_the_offending_file_is_kept_and_applies(world):
    before = files_outside(world)
    row = analyze_target(target(world["sha"]), world["host"], answer(GOOD))
    assert row["patch_applies"] is True and row["fix_patch"] == GOOD
    assert apply_patch(NEW, GOOD, "app/cache.py") == OLD
    # git's own header lines and a trailing newline-less patch are plain modifications too
    with_git_header = f"diff --git a/app/cache.py b/app/cache.py\nindex 83db48f..bf269f4 100644\n{GOOD}".rstrip("\n")
    assert apply_patch(NEW, with_git_header, "app/cache.py") == OLD
    assert files_outside(world) == before


def test_a_rename_answer_does_not_stop_the_analysis_of_the_next_target(world):
    rows = [analyze_target(target(world["sha"], n), world["host"], answer(HOSTILE["rename_to_parent"] if n == 1 else GOOD))
            for n in (1, 2)]
    assert [r["patch_applies"] for r in rows] == [None, True]


@pytest.mark.parametrize("path, rule", [
    ("../../etc/cron.d/x", "'..'"), ("/etc/passwd", "absolute"), (".git/hooks/pre-commit", "nothing under .git/"),
    ("app/./cache.py", "'.'"), ("app//cache.py", "empty components"), ("sub/.GIT/config", "nothing under .git/"),
    ("app\\..\\x.py", "absolute"), ("app/cache.py\n", "control"), ("C:/x.py", "absolute"),
])
def test_unsafe_offending_paths_are_never_patched(path, rule):
    patch = f"--- a/{path}\n+++ b/{path}\n{GOOD_HUNK}"
    diff = CommitDiff(REPO, "a" * 40, None, "m", (FileDiff(path, "modified", patch),))
    analysis = answer(patch, offending=path)(diff, {}, None)
    checked = check_against_diff(analysis, diff)
    assert checked.fix_patch is None and "fix patch dropped" in checked.reasoning and rule in checked.patch_rejected
    with pytest.raises(PatchError, match=re.escape(rule)):
        apply_patch(NEW, patch, path)


# ---- privileged paths (item 13) -------------------------------------------------------------------------------
PRIVILEGED = [".github/workflows/deploy.yml", ".gitlab-ci.yml", "ci/.gitlab-ci.yml", "Jenkinsfile",
              "services/api/Jenkinsfile", ".circleci/config.yml", ".githooks/pre-push", ".husky/pre-commit",
              ".pre-commit-config.yaml", "argocd/apps/checkout.yaml", "deploy/checkout-applicationset.yaml",
              "helmfile.yaml", ".github/CODEOWNERS", "azure-pipelines.yml", ".buildkite/pipeline.yml"]


@pytest.mark.parametrize("path", PRIVILEGED)
def test_ci_and_deployment_definitions_are_never_patched_but_the_finding_is_kept_and_marked(path):
    patch = f"--- a/{path}\n+++ b/{path}\n@@ -1,2 +1,2 @@\n on: push\n-concurrency: 50\n+concurrency: 1\n"
    diff = CommitDiff(REPO, "a" * 40, None, "m", (FileDiff(path, "modified", patch),))
    checked = check_against_diff(answer(patch, offending=path)(diff, {}, None), diff)
    assert checked.cause_found and checked.offending_file == path and checked.fix_description == "restore the TTL"
    assert checked.fix_patch is None
    assert "privileged path" in checked.reasoning and "never patched" in checked.reasoning
    assert checked.patch_rejected and "privileged path" in checked.patch_rejected
    with pytest.raises(PatchError, match="privileged path"):
        apply_patch("on: push\nconcurrency: 50\n", patch, path)


@pytest.mark.parametrize("path", ["deploy/hpa.yaml", "modules/asg/main.tf", "app/workflows.py", "docs/jenkinsfile.md",
                                  "src/githooks.py", "deploy/values.yaml", "charts/api/values.yaml"])
def test_ordinary_files_next_to_privileged_ones_stay_patchable(path):
    patch = f"--- a/{path}\n+++ b/{path}\n@@ -1,2 +1,2 @@\n on: push\n-concurrency: 50\n+concurrency: 1\n"
    diff = CommitDiff(REPO, "a" * 40, None, "m", (FileDiff(path, "modified", patch),))
    assert check_against_diff(answer(patch, offending=path)(diff, {}, None), diff).fix_patch == patch
    assert apply_patch("on: push\nconcurrency: 50\n", patch, path) == "on: push\nconcurrency: 1\n"


def test_the_rule_analyzer_finding_in_a_workflow_file_is_a_description_only(world):
    """A real commit raising `concurrency` in a workflow: the rule analyzer proposes a patch, the guard drops it."""
    from finops_assets.lib.analysis.rule_analyzer import analyze_commit

    repo = world["repo"]
    (repo / ".github/workflows/deploy.yml").write_text("on: push\nconcurrency: 500\n")
    git(repo, "commit", "--quiet", "-am", "more concurrency")
    sha = git(repo, "rev-parse", "HEAD")
    row = analyze_target(target(sha), world["host"], lambda d, c, read: analyze_commit(d, read))
    assert row["cause_found"] and row["offending_file"] == ".github/workflows/deploy.yml"
    assert row["fix_patch"] is None and "privileged path" in row["reasoning"]


def test_the_pr_job_plan_refuses_hostile_and_privileged_patches_too():
    base = {"cause_found": True, "confidence": "high", "repository": REPO, "offending_file": "app/cache.py",
            "anomaly_id": "an1", "commit_sha": "a" * 40, "cause_description": "c", "reasoning": "r",
            "analyzer": "test", "pattern": "cache_removed", "fix_description": "f", "deployment_id": "d1"}
    for patch in (HOSTILE["copy_to_parent"], HOSTILE["rename_to_parent"], HOSTILE["mode_change"]):
        with pytest.raises(Refusal):
            plan_pull_request({**base, "fix_patch": patch}, {}, "Dana Oncall", {REPO}, "a1")
    workflow = ".github/workflows/deploy.yml"
    with pytest.raises(Refusal, match="privileged path"):
        plan_pull_request({**base, "offending_file": workflow,
                           "fix_patch": f"--- a/{workflow}\n+++ b/{workflow}\n@@ -1 +1 @@\n-a\n+b\n"},
                          {}, "Dana Oncall", {REPO}, "a1")
    assert plan_pull_request({**base, "fix_patch": GOOD}, {}, "Dana Oncall", {REPO}, "a1").path == "app/cache.py"


def test_an_analyzer_that_crashes_costs_only_its_own_row(world):
    from finops_assets.lib.analysis.code_analysis import analyze_targets

    def crashing(diff, context, read):
        raise KeyError("tool_input")

    def analyze(diff, context, read):
        return (crashing if context["deployment_id"] == "d1" else answer(GOOD))(diff, context, read)

    rows = analyze_targets([{**target(world["sha"], n), "deployment_id": f"d{n}"} for n in (1, 2)], world["host"],
                           analyze)
    assert rows[0]["error"] == "analysis failed: KeyError: 'tool_input'" and rows[0]["cause_found"] is False
    assert rows[1]["error"] is None and rows[1]["patch_applies"] is True


@pytest.mark.parametrize("path", [".github/workflows/deploy.yml", "../../escaped.py", ".git/hooks/post-checkout"])
def test_both_hosts_refuse_to_write_a_privileged_or_unsafe_path_even_if_asked(world, path):
    from finops_assets.lib.codehost.github import GitHubCodeHost
    from finops_assets.lib.codehost.host import CodeHostError
    from finops_assets_tests.standins.github_server import GitHubStandIn

    repo, sha = world["repo"], world["sha"]
    refs = git(repo, "for-each-ref")
    with pytest.raises(CodeHostError, match="refusing to write"):
        world["host"].open_draft_pull_request(REPO, sha, "finops/x", path, "x\n", "t", "b")
    with GitHubStandIn() as server:
        server.add_repository(REPO, repo)
        host = GitHubCodeHost("t", base_url=server.base_url, retries=0, seconds_between_requests=None,
                              seconds_between_writes=None)
        with pytest.raises(CodeHostError, match="refusing to write"):
            host.open_draft_pull_request(REPO, sha, "finops/x", path, "x\n", "t", "b")
        assert [r for r in server.requests if r.method != "GET"] == [] and server.writes == []
    assert git(repo, "for-each-ref") == refs
