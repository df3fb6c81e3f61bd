"""Large commits are diffed once (not once per file), and every analysis has a time limit after which it is
recorded as an error while the others go on: real git repositories, git calls counted by a logging wrapper
on PATH, and a slow Claude answer from the Anthropic stand-in."""

import os
import time

import pytest

from finops_assets.lib.analysis.code_analysis import analyze_targets
from finops_assets.lib.codehost.local_git import LocalGitCodeHost
from finops_assets.resources.code_host import DiffAnalyzerResource
from finops_assets_tests.standins.anthropic_server import (
    AnthropicStandIn,
    slow,
    tool_use,
)
from finops_assets_tests.standins.git_repos import git

REPO = "acme/svc"
FILES = 200   # under the 40,000-character cap, so every file is in the diff


@pytest.fixture
def big_commit(tmp_path, monkeypatch):
    repo = tmp_path / "repos" / "acme" / "svc"
    repo.mkdir(parents=True)
    git(repo, "init", "--quiet", "--initial-branch=main")
    (repo / "app").mkdir()
    (repo / "app/cache.py").write_text("def ttl():\n    return 60\n")
    (repo / ".env").write_text("TOKEN=x\n")
    git(repo, "add", "-f", ".")
    git(repo, "commit", "--quiet", "-m", "init")
    for i in range(FILES):
        (repo / "app" / f"gen_{i:04d}.py").write_text(f"VALUE_{i} = {i}\n")
    (repo / "app/cache.py").write_text("def ttl():\n    return 1\n")
    (repo / ".env").write_text("TOKEN=y\n")
    git(repo, "add", "-f", ".")
    git(repo, "commit", "--quiet", "-m", "generated tables")
    # A `git` on PATH that logs each call, then runs the real one.
    bin_dir, log = tmp_path / "bin", tmp_path / "git.log"
    bin_dir.mkdir()
    (bin_dir / "git").write_text(f'#!/bin/sh\necho "$*" >> {log}\nexec /usr/bin/git "$@"\n')
    (bin_dir / "git").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return repo, git(repo, "rev-parse", "HEAD"), log


def test_a_large_commit_is_diffed_in_one_git_call_with_every_file_and_no_secret(big_commit, tmp_path):
    repo, sha, log = big_commit
    started = time.monotonic()
    diff = LocalGitCodeHost(tmp_path / "repos").commit_diff(REPO, sha)
    elapsed = time.monotonic() - started
    lines = log.read_text().splitlines()
    assert sum(1 for line in lines if " diff " in f" {line} " and "diff-tree" not in line) == 1, lines
    assert len(lines) < 12, lines                     # a handful of git calls, not one per file
    assert len(diff.files) == FILES + 1 and diff.withheld_files == (".env",) and "TOKEN" not in diff.text
    by_path = {f.path: f.patch for f in diff.files}
    assert "+VALUE_7 = 7" in by_path["app/gen_0007.py"] and "-VALUE" not in by_path["app/gen_0007.py"]
    assert "-    return 60\n+    return 1" in by_path["app/cache.py"]
    assert by_path["app/cache.py"].startswith("diff --git a/app/cache.py b/app/cache.py\n")
    assert elapsed < 10


def test_targets_sharing_a_commit_diff_it_once(big_commit, tmp_path):
    repo, sha, log = big_commit
    targets = [{"analysis_id": f"a{n}", "anomaly_id": f"an{n}", "deployment_id": "d", "repository": REPO,
                "commit_sha": sha} for n in range(3)]
    rows = analyze_targets(targets, LocalGitCodeHost(tmp_path / "repos"), DiffAnalyzerResource().analyze)
    assert [r["error"] for r in rows] == [None, None, None]
    assert sum(1 for line in log.read_text().splitlines() if line.startswith("diff-tree")) == 1


def test_an_analysis_past_its_time_limit_is_an_error_and_the_next_one_goes_on(big_commit, tmp_path):
    repo, sha, _ = big_commit
    answer = {"cause_found": True, "cause_description": "TTL cut to 1 s", "offending_file": "app/cache.py",
              "offending_lines": "2", "confidence": "medium", "reasoning": "the TTL literal changed"}
    targets = [{"analysis_id": f"a{n}", "anomaly_id": f"an{n}", "deployment_id": "d", "repository": REPO,
                "commit_sha": sha} for n in range(2)]
    with AnthropicStandIn(api_key="k") as server:
        server.enqueue(slow(30, tool_use(answer)), tool_use(answer))
        analyzer = DiffAnalyzerResource(anthropic_api_key="k", anthropic_base_url=server.base_url, max_attempts=1,
                                        time_limit_seconds=1.5)
        started = time.monotonic()
        rows = analyze_targets(targets, LocalGitCodeHost(tmp_path / "repos"), analyzer.analyze,
                               analyzer.time_limit_seconds)
        elapsed = time.monotonic() - started
    assert "timed out after 1.5 s" in rows[0]["error"] and rows[0]["cause_found"] is False
    assert rows[1]["error"] is None and rows[1]["cause_found"] and rows[1]["analyzer"] == "claude:claude-sonnet-4-5"
    assert elapsed < 10
