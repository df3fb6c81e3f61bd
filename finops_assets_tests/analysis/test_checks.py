"""The diff_analyses check on a table built by hand against a real local repository: a kept patch that
applies passes; one that no longer applies, or whose file cannot be read, fails with the reason."""

import duckdb
import pytest

from finops_assets.lib.analysis.checks import (
    patches_that_do_not_apply,
    select_kept_patches,
)
from finops_assets.lib.codehost.local_git import LocalGitCodeHost
from finops_assets_tests.standins.git_repos import git

GOOD = "--- a/app/cache.py\n+++ b/app/cache.py\n@@ -1,2 +1,2 @@\n def ttl():\n-    return 1\n+    return 60\n"
STALE = "--- a/app/cache.py\n+++ b/app/cache.py\n@@ -1,2 +1,2 @@\n def ttl():\n-    return 5\n+    return 60\n"


@pytest.fixture
def world(tmp_path):
    repo = tmp_path / "repos" / "acme" / "svc"
    (repo / "app").mkdir(parents=True)
    git(repo, "init", "--quiet", "--initial-branch=main")
    (repo / "app" / "cache.py").write_text("def ttl():\n    return 1\n")
    git(repo, "add", ".")
    git(repo, "commit", "--quiet", "-m", "ttl 1")
    conn = duckdb.connect()
    conn.execute("create table diff_analyses (analysis_id varchar, repository varchar, commit_sha varchar, "
                 "offending_file varchar, fix_patch varchar)")
    conn.execute("insert into diff_analyses values ('a1', 'acme/svc', $sha, 'app/cache.py', $p), "
                 "('a2', 'acme/svc', $sha, 'app/cache.py', null)", {"sha": git(repo, "rev-parse", "HEAD"), "p": GOOD})
    yield conn, LocalGitCodeHost(tmp_path / "repos")
    conn.close()


def kept_patches_that_do_not_apply(conn, host):
    kept = select_kept_patches(conn)
    return kept.height, patches_that_do_not_apply(kept, host)


def test_a_kept_patch_that_applies_passes(world):
    conn, host = world
    checked, failing = kept_patches_that_do_not_apply(conn, host)
    assert checked == 1 and failing.is_empty()  # the row without a patch is not checked


def test_a_patch_that_does_not_apply_fails(world):
    conn, host = world
    conn.execute("update diff_analyses set fix_patch = $p where analysis_id = 'a1'", {"p": STALE})
    checked, failing = kept_patches_that_do_not_apply(conn, host)
    assert checked == 1 and failing["analysis_id"].to_list() == ["a1"]
    assert failing["reason"][0]


@pytest.mark.parametrize("change", ["repository = 'acme/gone'", "commit_sha = 'deadbeef'",
                                    "offending_file = 'app/missing.py'"])
def test_a_patch_whose_file_cannot_be_read_fails(world, change):
    conn, host = world
    conn.execute(f"update diff_analyses set {change} where analysis_id = 'a1'")
    assert kept_patches_that_do_not_apply(conn, host)[1]["analysis_id"].to_list() == ["a1"]


def test_the_dagster_check_reads_the_code_host_with_the_warehouse_closed(world, tmp_path, monkeypatch):
    # The code-host reads are GitHub API calls in production: a writer must not wait on them.
    from finops_assets.defs.analysis.checks import kept_patches_apply
    from finops_assets.resources.code_host import CodeHostResource
    from finops_assets.resources.warehouse import FinopsWarehouse

    conn, host = world
    warehouse = FinopsWarehouse(snapshot_path=str(tmp_path / "w" / "finops.duckdb"), lock_timeout_s=0.2)
    rows = conn.execute("select * from diff_analyses").fetchall()
    with warehouse.write() as writer:
        writer.execute("create table diff_analyses (analysis_id varchar, repository varchar, commit_sha varchar, "
                       "offending_file varchar, fix_patch varchar)")
        writer.executemany("insert into diff_analyses values (?, ?, ?, ?, ?)", rows)
    reads = []

    class WriterCanOpen:
        def file_at(self, *args):
            with warehouse.write() as writer:  # times out, or DuckDB refuses, while the check holds it
                writer.execute("select 1")
            reads.append(args)
            return host.file_at(*args)

    monkeypatch.setattr(CodeHostResource, "host", lambda self: WriterCanOpen())
    result = kept_patches_apply(warehouse=warehouse, code_host=CodeHostResource())
    assert result.passed and len(reads) == 1
    assert result.metadata["kept_patches"].value == 1
