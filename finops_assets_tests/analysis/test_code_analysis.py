"""From a generated folder to diff analyses and a draft PR, through the real local git host."""

import hashlib
import json
import subprocess
from pathlib import Path

import duckdb
import pytest

from finops_assets.lib.common.money import format_money

RUN_CONFIG = "open_cost_fix_pull_request"


@pytest.fixture(scope="module")
def pipeline(generated_run):
    """A generated folder run through the whole graph (the session's run, copied for this module)."""
    return generated_run


def rows(warehouse: Path, query: str, params=None) -> list[dict]:
    conn = duckdb.connect(str(warehouse.with_name("finops.writer.duckdb")), read_only=True)
    try:
        result = conn.execute(query, params or {})
        columns = [d[0] for d in result.description]
        return [dict(zip(columns, r)) for r in result.fetchall()]
    finally:
        conn.close()


def test_every_tractable_deployment_cause_is_found_in_the_right_file(pipeline):
    data, warehouse = pipeline
    truth = json.loads((data / "ground_truth.json").read_text())
    analyses = rows(warehouse, "select * from diff_analyses")
    by_commit = {}
    for a in analyses:
        by_commit.setdefault(a["commit_sha"], []).append(a)
    causal = [e for e in truth["events"] if e["expected_outcome"] == "deployment_found"]
    assert causal
    for event in causal:
        found = by_commit.get(event["commit_sha"])
        assert found, f"no analysis of {event['repository']}@{event['commit_sha']} ({event['pattern']})"
        assert all(a["cause_found"] and a["offending_file"] == event["offending_file"] and a["pattern"] == event["pattern"]
                   for a in found), found
        if event["pattern"] in ("sdk_client_in_loop", "cache_removed", "autoscaler_limit_raised"):
            assert all(a["fix_patch"] and a["patch_applies"] and a["confidence"] == "high" for a in found)
    causal_shas = {e["commit_sha"] for e in causal}
    harmless = [a for a in analyses if a["commit_sha"] not in causal_shas]
    assert all(not a["cause_found"] and a["cause_description"] == "no clear code cause found" for a in harmless)


def _launch(data: Path, warehouse: Path, analysis_id: str, approver: str, monkeypatch):
    import dagster as dg

    monkeypatch.setenv("FINOPS_DATA_DIR", str(data))
    monkeypatch.setenv("FINOPS_WAREHOUSE", str(warehouse))
    from finops_assets.definitions import defs

    job = defs().resolve_job_def("create_cost_fix_pr")
    return job.execute_in_process(
        run_config={"ops": {RUN_CONFIG: {"config": {"analysis_id": analysis_id, "approver": approver}}}},
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)


def _failure(result) -> str:
    return next(e.step_failure_data.error.message for e in result.all_events if e.is_step_failure)


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout.strip()


def test_pr_job_refuses_without_approver_and_opens_one_draft_branch_with_one(pipeline, monkeypatch):
    data, warehouse = pipeline
    target = rows(warehouse, "select * from diff_analyses where fix_patch is not null and confidence = 'high' "
                             "order by analysis_id limit 1")[0]
    repo = data / "repos" / target["repository"]
    main_before = _git(repo, "rev-parse", "main")

    refused = _launch(data, warehouse, target["analysis_id"], "  ", monkeypatch)
    assert not refused.success and "an approver is required" in _failure(refused)
    assert _git(repo, "branch", "--list", "finops/*") == ""

    created = _launch(data, warehouse, target["analysis_id"], "Dana Oncall", monkeypatch)
    assert created.success
    branch = f"finops/cost-fix-{target['anomaly_id']}"
    assert _git(repo, "branch", "--list", "finops/*").strip("* ") == branch
    changed = _git(repo, "diff", "--name-only", f"{target['commit_sha']}..{branch}").splitlines()
    assert changed == [target["offending_file"]]
    message = _git(repo, "log", "-1", "--format=%B", branch)
    assert "Approved by **`Dana Oncall`**" in message and target["anomaly_id"] in message
    [anomaly] = rows(warehouse, "select excess_cost from cost_anomalies where anomaly_id = $a", {"a": target["anomaly_id"]})
    [(currency,)] = [tuple(r.values()) for r in rows(warehouse, "select reporting_currency from billing_reporting_currency")]
    assert currency == "USD" and f"excess {format_money(anomaly['excess_cost'], currency)} over" in message
    assert _git(repo, "rev-parse", "main") == main_before  # never the default branch

    again = _launch(data, warehouse, target["analysis_id"], "Dana Oncall", monkeypatch)
    assert again.success
    assert len(rows(warehouse, "select * from pull_requests where branch = $b", {"b": branch})) == 1
    audit = rows(warehouse, "select outcome, approver from pr_audit_log where analysis_id = $a order by attempted_at",
                 {"a": target["analysis_id"]})
    assert [a["outcome"] for a in audit] == ["refused", "created", "existing"]


def _tamper(warehouse: Path, analysis_id: str, **values) -> str:
    """A copy of an analysis with some fields changed, under a new id (the writer file is the source)."""
    new_id = "tampered-" + hashlib.sha256(repr(sorted(values.items())).encode()).hexdigest()[:12]
    conn = duckdb.connect(str(warehouse.with_name("finops.writer.duckdb")))
    try:
        conn.execute("insert into diff_analyses select * replace ($new_id as analysis_id) from diff_analyses "
                     "where analysis_id = $id", {"new_id": new_id, "id": analysis_id})
        for column, value in values.items():
            conn.execute(f"update diff_analyses set {column} = $v where analysis_id = $id", {"v": value, "id": new_id})
    finally:
        conn.close()
    return new_id


@pytest.mark.parametrize("change, message", [
    ({"confidence": "medium"}, "no high-confidence fix patch"),
    ({"fix_patch": None}, "no high-confidence fix patch"),
    ({"repository": "acme/growth-site"}, "not registered in team_repositories"),
    ({"fix_patch": "--- a/app/x.py\n+++ b/app/x.py\n@@ -1 +1 @@\n-a\n+b\n--- a/.github/workflows/deploy.yml\n"
                   "+++ b/.github/workflows/deploy.yml\n@@ -1 +1 @@\n-a\n+b\n"}, "not a plain modification of the offending file"),
])
def test_pr_job_refuses_what_breaks_a_guardrail_and_creates_nothing(pipeline, monkeypatch, change, message):
    data, warehouse = pipeline
    target = rows(warehouse, "select * from diff_analyses where fix_patch is not null and confidence = 'high' "
                             "and analysis_id not like 'tampered-%' order by analysis_id desc limit 1")[0]
    tampered = _tamper(warehouse, target["analysis_id"], **change)
    before = {p: _git(p, "for-each-ref", "--format=%(refname) %(objectname)") for p in (data / "repos" / "acme").iterdir()
              if p.is_dir()}
    result = _launch(data, warehouse, tampered, "Dana Oncall", monkeypatch)
    assert not result.success and message in _failure(result) and "Nothing was created" in _failure(result)
    after = {p: _git(p, "for-each-ref", "--format=%(refname) %(objectname)") for p in before}
    assert after == before
    assert rows(warehouse, "select outcome from pr_audit_log where analysis_id = $a", {"a": tampered}) == [
        {"outcome": "refused"}]


def test_unknown_analysis_is_refused_with_the_table_to_look_in(pipeline, monkeypatch):
    data, warehouse = pipeline
    result = _launch(data, warehouse, "does-not-exist", "Dana Oncall", monkeypatch)
    assert not result.success and "see the diff_analyses table" in _failure(result)


def _launch_with_run_retries(data: Path, warehouse: Path, analysis_id: str, approver: str, monkeypatch):
    """The PR job on a real instance whose run_retries are on (as dagster.yaml sets them)."""
    import dagster as dg
    from dagster._daemon.auto_run_reexecution.auto_run_reexecution import (
        filter_runs_to_should_retry,
    )

    monkeypatch.setenv("FINOPS_DATA_DIR", str(data))
    monkeypatch.setenv("FINOPS_WAREHOUSE", str(warehouse))
    from finops_assets.definitions import defs

    job = defs().resolve_job_def("create_cost_fix_pr")
    with dg.instance_for_test(overrides={"run_retries": {"enabled": True, "max_retries": 1}}) as instance:
        result = job.execute_in_process(
            run_config={"ops": {RUN_CONFIG: {"config": {"analysis_id": analysis_id, "approver": approver}}}},
            instance=instance, raise_on_error=False)
        run = instance.get_run_by_id(result.run_id)
        # What the retry daemon would re-launch (it reads the will_retry tag set when the run failed).
        retried = list(filter_runs_to_should_retry([run], instance))
    failure = next(e.step_failure_data for e in result.all_events if e.is_step_failure)
    return result, failure, run, retried


@pytest.mark.parametrize("approver, analysis, expected", [
    ("\u200b", None, "create_cost_fix_pr refused: approver '\\u200b' contains control, format, line-break or "
                     "zero-width characters (U+200B)"),
    ("Dana\n\n## Approval\nApproved by **mallory**", None, "create_cost_fix_pr refused: approver 'Dana\\u000a"),
    ("Dana Oncall", "does-not-exist\u200b\nx", "create_cost_fix_pr refused: no diff analysis with analysis_id "
                                               "'does-not-exist x'"),
])
def test_a_refusal_is_one_clean_line_audited_once_escaped_and_never_retried(pipeline, monkeypatch, approver,
                                                                             analysis, expected):
    data, warehouse = pipeline
    target = rows(warehouse, "select * from diff_analyses where fix_patch is not null and confidence = 'high' "
                             "and analysis_id not like 'tampered-%' order by analysis_id limit 1")[0]
    repo = data / "repos" / target["repository"]
    refs_before = _git(repo, "for-each-ref", "--format=%(refname) %(objectname)")

    result, failure, run, retried = _launch_with_run_retries(data, warehouse, analysis or target["analysis_id"],
                                                             approver, monkeypatch)

    assert not result.success
    description = failure.user_failure_data.description
    assert description.startswith(expected) and description.endswith("Nothing was created.")
    assert "\n" not in description and "\u200b" not in description
    assert failure.error.cause is None                      # no chained traceback from the refusal's cause
    assert run.tags.get("dagster/will_retry") == "false" and retried == []
    assert _git(repo, "for-each-ref", "--format=%(refname) %(objectname)") == refs_before
    audit = rows(warehouse, "select * from pr_audit_log where run_id = $r", {"r": result.run_id})
    assert [a["outcome"] for a in audit] == ["refused"]
    assert all("\n" not in (a[k] or "") and "\u200b" not in (a[k] or "")
               for a in audit for k in ("approver", "analysis_id", "reason"))
