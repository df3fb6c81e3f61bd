"""The pure logic of `make ui-check` (no browser, no server: the suite must not need Chromium)."""

from datetime import date
from urllib.parse import unquote

import pytest

from finops_devtools.ui_check import logic
from finops_devtools.ui_check.logic import CheckFailed


def test_child_env_keeps_the_users_data_credentials_and_instance_out():
    base = {"PATH": "/usr/bin", "HOME": "/root", "FINOPS_DATA_DIR": "/home/me/bills",
            "FINOPS_WRITER_WAREHOUSE": "/home/me/w.duckdb", "FINOPS_CODE_HOST": "github",
            "DAGSTER_HOME": "/home/me/.dagster", "DAGSTER_POSTGRES_HOST": "db", "GITHUB_TOKEN": "t",
            "ANTHROPIC_API_KEY": "k"}
    env = logic.child_env(base, "/tmp/h", "/tmp/d", "/tmp/w.duckdb")
    assert env == {"PATH": "/usr/bin", "HOME": "/root", "DAGSTER_HOME": "/tmp/h",
                   "FINOPS_DATA_DIR": "/tmp/d", "FINOPS_WAREHOUSE": "/tmp/w.duckdb"}
    assert base["FINOPS_DATA_DIR"] == "/home/me/bills"  # the caller's mapping is not changed


def test_sample_range_ends_the_day_before_the_exclusive_end():
    assert logic.sample_range({"start": "2026-06-01", "end": "2026-07-31"}) == (date(2026, 6, 1), date(2026, 7, 30))
    assert logic.sample_range({"start": "2026-06-01", "end": "2026-06-02"}) == (date(2026, 6, 1), date(2026, 6, 1))


@pytest.mark.parametrize("truth", [{}, {"start": "2026-06-01"}, {"start": "x", "end": "2026-07-31"},
                                   {"start": "2026-06-01", "end": "2026-06-01"}])
def test_sample_range_refuses_a_ground_truth_without_a_usable_range(truth):
    with pytest.raises(CheckFailed, match="ground_truth.json"):
        logic.sample_range(truth)


def _workspace(entries):
    return {"data": {"workspaceOrError": {"__typename": "Workspace", "locationEntries": entries}}}


def _entry(status, loaded, name="finops_assets"):
    return {"name": name, "loadStatus": status, "locationOrLoadError": loaded}


LOADED = {"__typename": "RepositoryLocation", "repositories": [{"name": "__repository__"}]}


def test_location_state_loaded_only_when_the_location_has_its_repository():
    assert logic.location_state(_workspace([_entry("LOADED", LOADED)])) == ("loaded", None)
    state, message = logic.location_state(_workspace([_entry("LOADED", {**LOADED, "repositories": []})]))
    assert state == "error" and "__repository__" in message


def test_location_state_names_the_load_error_on_one_line():
    error = {"__typename": "PythonError", "message": "ImportError: cannot import name 'X'\n  from y\n"}
    assert logic.location_state(_workspace([_entry("LOADED", error)])) == (
        "error", "ImportError: cannot import name 'X' from y")
    graphql_error = {"errors": [{"message": "Cannot query field"}]}
    assert logic.location_state(graphql_error) == ("error", "Cannot query field")


@pytest.mark.parametrize("answer", [
    _workspace([]),                                          # not listed yet
    _workspace([_entry("LOADING", None)]),                   # still loading
    _workspace([_entry("LOADED", LOADED, name="other")]),    # another location only
    {"data": {"workspaceOrError": None}},
])
def test_location_state_keeps_waiting_while_the_location_is_not_there(answer):
    assert logic.location_state(answer) == ("loading", None)


def test_launch_params_tag_the_range_as_the_daily_schedule_does():
    params = logic.launch_params(date(2026, 6, 1), date(2026, 7, 30))
    assert params["selector"] == {"repositoryLocationName": "finops_assets", "repositoryName": "__repository__",
                                  "jobName": "finops_daily"}
    tags = {t["key"]: t["value"] for t in params["executionMetadata"]["tags"]}
    assert tags == {"dagster/asset_partition_range_start": "2026-06-01",
                    "dagster/asset_partition_range_end": "2026-07-30", "dagster/max_retries": "0"}


def test_schedule_and_check_use_the_same_range_tags():
    # The check launches what the schedule launches: the schedule's own RunRequest (one tick), and
    # launchRun's params for the same days carry the same job and the same range tags.
    from datetime import UTC, datetime

    import dagster as dg

    from finops_assets.definitions import defs

    schedule = defs().resolve_schedule_def("finops_daily_schedule")
    tick = schedule.evaluate_tick(dg.build_schedule_context(scheduled_execution_time=datetime(2026, 7, 31, 6, tzinfo=UTC)))
    (request,) = tick.run_requests
    range_tags = {k: v for k, v in request.tags.items() if "partition" in k}
    first, last = (date.fromisoformat(request.tags[f"dagster/asset_partition_range_{end}"]) for end in ("start", "end"))
    params = logic.launch_params(first, last)
    launched = {t["key"]: t["value"] for t in params["executionMetadata"]["tags"]}
    assert {k: v for k, v in launched.items() if k != "dagster/max_retries"} == range_tags
    assert params["selector"]["jobName"] == schedule.job_name


def test_launched_run_id_or_the_reason_dagster_gave():
    ok = {"data": {"launchRun": {"__typename": "LaunchRunSuccess", "run": {"runId": "r1"}}}}
    assert logic.launched_run_id(ok) == "r1"
    invalid = {"data": {"launchRun": {"__typename": "RunConfigValidationInvalid",
                                      "errors": [{"message": "Missing a"}, {"message": "Missing b"}]}}}
    with pytest.raises(CheckFailed, match=r"RunConfigValidationInvalid\): Missing a; Missing b"):
        logic.launched_run_id(invalid)
    missing = {"data": {"launchRun": {"__typename": "PipelineNotFoundError", "message": "no job finops_daily"}}}
    with pytest.raises(CheckFailed, match="no job finops_daily"):
        logic.launched_run_id(missing)


def _run(status, **tags):
    return {"data": {"runOrError": {"__typename": "Run", "runId": "r1", "status": status,
                                    "tags": [{"key": f"dagster/{k}", "value": v} for k, v in tags.items()]}}}


def test_run_state_follows_an_announced_retry_before_calling_the_outcome():
    assert logic.run_state(_run("SUCCESS")).finished
    assert not logic.run_state(_run("STARTED")).finished
    assert not logic.run_state(_run("QUEUED")).finished
    plain_failure = logic.run_state(_run("FAILURE"))
    assert plain_failure.finished and plain_failure.retry_run_id is None
    announced = logic.run_state(_run("FAILURE", will_retry="true"))
    assert not announced.finished and announced.retry_run_id == ""
    retried = logic.run_state(_run("FAILURE", will_retry="true", auto_retry_run_id="r2"))
    assert not retried.finished and retried.retry_run_id == "r2"
    assert logic.run_state(_run("FAILURE", will_retry="false", auto_retry_run_id="r2")).finished


def test_run_state_refuses_an_unknown_run():
    with pytest.raises(CheckFailed, match="RunNotFoundError"):
        logic.run_state({"data": {"runOrError": {"__typename": "RunNotFoundError", "message": "r9"}}})


def test_failure_reason_prefers_the_first_failed_step():
    events = [{"__typename": "RunFailureEvent", "message": "Execution failed", "error": None},
              {"__typename": "ExecutionStepFailureEvent", "stepKey": "cost_anomalies",
               "error": {"message": "duckdb.IOException: Could not set lock\non file"}},
              {"__typename": "ExecutionStepFailureEvent", "stepKey": "routing_decisions", "error": {"message": "x"}}]
    answer = {"data": {"logsForRun": {"__typename": "EventConnection", "events": events}}}
    assert logic.failure_reason(answer) == "step cost_anomalies failed: duckdb.IOException: Could not set lock on file"
    answer["data"]["logsForRun"]["events"] = events[:1]
    assert logic.failure_reason(answer) == "run failed: Execution failed"
    answer["data"]["logsForRun"]["events"] = []
    assert "no failure event" in logic.failure_reason(answer)


def test_page_urls_are_dagster_routes_under_the_base():
    urls = logic.page_urls("http://127.0.0.1:4000/")
    assert urls["lineage"] == "http://127.0.0.1:4000/asset-groups"
    assert urls["cost_anomalies"] == "http://127.0.0.1:4000/assets/cost_anomalies"
    assert urls["launchpad"] == "http://127.0.0.1:4000/locations/finops_assets/jobs/create_cost_fix_pr/playground"


def test_one_line_joins_and_cuts():
    assert logic.one_line("a\n  b\tc") == "a b c"
    assert logic.one_line("x" * 10, limit=5) == "xxxx…"


def _logs(*events):
    return {"data": {"logsForRun": {"__typename": "EventConnection", "events": list(events)}}}


def _pool(*slots):
    return {"data": {"instance": {"concurrencyLimit": {
        "claimedSlots": [{"runId": run, "stepKey": step} for run, step in slots]}}}}


DIED = {"__typename": "LogMessageEvent",  # Dagster logs it with job_context.log.error
        "message": "Step routing_decisions_check finished without success or failure event. Downstream steps will not execute."}


def test_a_dead_step_holding_the_pool_slot_is_a_stuck_run():
    assert logic.slot_held_by_dead_step(_logs(DIED), _pool(("r1", "routing_decisions_check")), "r1") == (
        "routing_decisions_check")


def test_a_live_slot_holder_or_another_runs_slot_is_not_stuck():
    alive = {"__typename": "EngineEvent", "message": "Step still blocked by limit for pool duckdb_write"}
    assert logic.slot_held_by_dead_step(_logs(alive), _pool(("r1", "routing_decisions_check")), "r1") is None
    assert logic.slot_held_by_dead_step(_logs(DIED), _pool(("r1", "diff_analyses")), "r1") is None
    assert logic.slot_held_by_dead_step(_logs(DIED), _pool(("r2", "routing_decisions_check")), "r1") is None
    assert logic.slot_held_by_dead_step(_logs(DIED), _pool(), "r1") is None


def test_the_lineage_opens_every_group():
    groups = logic.asset_groups({"data": {"assetNodes": [{"groupName": "detection"}, {"groupName": "billing"},
                                                          {"groupName": "billing"}, {"groupName": None}]}})
    assert groups == ["billing", "detection"]
    url = logic.page_urls("http://h", groups)["lineage"]
    assert url.startswith("http://h/asset-groups?expanded=")
    ids = unquote(url.split("expanded=")[1]).split(",")
    assert ids == ["global@global:billing", "__repository__@finops_assets:billing",
                   "global@global:detection", "__repository__@finops_assets:detection"]
