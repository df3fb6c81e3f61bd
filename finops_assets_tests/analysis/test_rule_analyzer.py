"""The rule-based analyzer on small real diffs in each language it reads."""

from pathlib import Path

import pytest

from finops_assets.lib.analysis.patches import apply_patch
from finops_assets.lib.analysis.rule_analyzer import analyze_commit
from finops_assets.lib.codehost.local_git import LocalGitCodeHost
from finops_assets_tests.codehost.test_local_git import commit_files, git


def analyse(tmp_path: Path, before: dict[str, str], after: dict[str, str]):
    repo = tmp_path / "repos" / "acme" / "svc"
    repo.mkdir(parents=True)
    git(repo, "init", "--quiet", "--initial-branch=main")
    commit_files(repo, before, "before")
    sha = commit_files(repo, after, "after")
    host = LocalGitCodeHost(tmp_path / "repos")
    diff = host.commit_diff("acme/svc", sha)
    return analyze_commit(diff, lambda commit, path: host.file_at("acme/svc", commit, path)), host, sha


CASES = [
    ("sdk_client_in_loop", "handler.py",
     "import boto3\ns3 = boto3.client('s3')\n\ndef handle(keys):\n    for key in keys:\n        s3.get_object(Key=key)\n",
     "import boto3\n\ndef handle(keys):\n    for key in keys:\n        s3 = boto3.client('s3')\n        s3.get_object(Key=key)\n"),
    ("sdk_client_in_loop", "src/load.ts",
     "const c = new S3Client({});\nexport async function f(ids: string[]) {\n  for (const id of ids) {\n    await c.send(id);\n  }\n}\n",
     "export async function f(ids: string[]) {\n  for (const id of ids) {\n    const c = new S3Client({});\n    await c.send(id);\n  }\n}\n"),
    ("cache_removed", "catalog.py",
     "from functools import lru_cache\n\n@lru_cache(maxsize=128)\ndef get(x):\n    return x\n",
     "def get(x):\n    return x\n"),
    ("model_id_changed", "src/model.ts", 'export const MODEL = "gpt-4o-mini";\n', 'export const MODEL = "gpt-4o";\n'),
    ("autoscaler_limit_raised", "k8s/hpa.yaml", "spec:\n  minReplicas: 2\n  maxReplicas: 8\n",
     "spec:\n  minReplicas: 2\n  maxReplicas: 80\n"),
    ("autoscaler_limit_raised", "main.tf", 'resource "x" "y" {\n  max_size = 4\n}\n', 'resource "x" "y" {\n  max_size = 40\n}\n'),
    ("query_without_index", "store/orders.go",
     'package store\n\nconst q = "SELECT id FROM orders WHERE id = $1"\n',
     'package store\n\nconst q = "SELECT id FROM orders WHERE id = $1"\nconst byEmail = "SELECT id FROM orders WHERE email = $1"\n'),
]


@pytest.mark.parametrize("pattern, path, before, after", CASES, ids=[f"{c[0]}:{c[1]}" for c in CASES])
def test_each_tractable_pattern_is_found_in_its_file(tmp_path, pattern, path, before, after):
    analysis, host, sha = analyse(tmp_path, {path: before}, {path: after})
    assert analysis.cause_found and analysis.pattern == pattern and analysis.offending_file == path
    if analysis.fix_patch:  # a mechanical fix applies to the commit and touches that file only
        fixed = apply_patch(host.file_at("acme/svc", sha, path), analysis.fix_patch, path)
        assert fixed != after


def test_hoisted_client_is_out_of_the_loop(tmp_path):
    pattern, path, before, after = CASES[0]
    analysis, host, sha = analyse(tmp_path, {path: before}, {path: after})
    fixed = apply_patch(host.file_at("acme/svc", sha, path), analysis.fix_patch, path)
    lines = fixed.splitlines()
    assert lines.index("    s3 = boto3.client('s3')") < lines.index("    for key in keys:")


@pytest.mark.parametrize("before, after", [
    ({"handler.py": "import boto3\n\ndef f():\n    return 1\n"},
     {"handler.py": "import boto3\n\nclient = boto3.client('s3')\n\ndef f():\n    return 1\n"}),  # client outside a loop
    ({"model.py": 'MODEL = "claude-opus-4-1"\n'}, {"model.py": 'MODEL = "claude-haiku-4-5"\n'}),  # cheaper model
    ({"hpa.yaml": "maxReplicas: 10\n"}, {"hpa.yaml": "maxReplicas: 6\n"}),  # a lowered limit
    ({"README.md": "# svc\n"}, {"README.md": "# svc\n\nMore docs.\n"}),
    ({"m.sql": "CREATE TABLE t (a int);\n", "q.py": "x = 1\n"},
     {"m.sql": "CREATE TABLE t (a int);\nCREATE INDEX t_a ON t (a);\n", "q.py": 'q = "SELECT * FROM t WHERE a = 1"\n'}),
])
def test_harmless_changes_give_no_clear_code_cause(tmp_path, before, after):
    analysis, _, _ = analyse(tmp_path, before, after)
    assert not analysis.cause_found and analysis.cause_description == "no clear code cause found"
    assert analysis.fix_patch is None
