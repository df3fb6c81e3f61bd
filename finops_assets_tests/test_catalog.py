"""The catalog tells the contract: every analyst table's declared columns equal the real table's, the
PR job reports its two tables as materializations, and the new checks pass on a real run.

Reads the session's generated run (conftest.py), copied for this module."""

from pathlib import Path

import dagster as dg
import duckdb
import pytest

from finops_assets.lib.publishing.schemas import (
    ANALYST_TABLES,
    COLUMN_DESCRIPTIONS,
    analyst_table_columns,
)

PR_CONFIG = "open_cost_fix_pull_request"


@pytest.fixture(scope="module")
def built(generated_run):
    """A generated folder run once, then one approved PR and one refused one."""
    data, warehouse = generated_run
    with pytest.MonkeyPatch.context() as mp:
        for name in ("DAGSTER_HOME", "ANTHROPIC_API_KEY", "GITHUB_TOKEN", "FINOPS_PR_APPROVERS"):
            mp.delenv(name, raising=False)
        mp.setenv("FINOPS_DATA_DIR", str(data))
        mp.setenv("FINOPS_WAREHOUSE", str(warehouse))
        from finops_assets.definitions import defs

        definitions = defs()
        with _writer(warehouse) as conn:
            analysis_id = conn.sql("select analysis_id from diff_analyses where fix_patch is not null and "
                                   "confidence = 'high' order by analysis_id limit 1").fetchall()[0][0]
        runs = {}
        with dg.instance_for_test() as instance:
            for approver in ("Dana Oncall", ""):
                runs[approver or "refused"] = definitions.resolve_job_def("create_cost_fix_pr").execute_in_process(
                    run_config={"ops": {PR_CONFIG: {"config": {"analysis_id": analysis_id, "approver": approver}}}},
                    instance=instance, raise_on_error=False)
            yield {"data": data, "warehouse": warehouse, "definitions": definitions, "runs": runs, "instance": instance}


def _writer(warehouse: Path):
    return duckdb.connect(str(warehouse.with_name("finops.writer.duckdb")), read_only=True)


def _materialized(result) -> list[str]:
    return [e.asset_key.to_user_string() for e in result.all_events if e.is_step_materialization]


def test_every_declared_schema_equals_the_real_table(built):
    graph = built["definitions"].resolve_asset_graph()
    published = duckdb.connect(str(built["warehouse"]), read_only=True)
    try:
        for table in ANALYST_TABLES:
            declared = graph.get(dg.AssetKey(table)).metadata
            assert declared["dagster/table_name"] == f"finops.main.{table}"
            schema = declared["dagster/column_schema"]
            real = published.execute(f"describe {table}").fetchall()
            assert [(c.name, c.type, c.constraints.nullable) for c in schema.columns] == \
                [(name, type_, null == "YES") for name, type_, null, *_ in real], table
    finally:
        published.close()


def test_the_tables_that_have_column_schemas_are_every_asset_but_the_snapshot(built):
    graph = built["definitions"].resolve_asset_graph()
    with_schema = {k.to_user_string() for k in graph.get_all_asset_keys()
                   if "dagster/column_schema" in graph.get(k).metadata}
    assert with_schema == set(ANALYST_TABLES)
    assert {k.to_user_string() for k in graph.get_all_asset_keys()} - with_schema == {"analyst_snapshot"}


def test_every_described_column_exists_and_shows_in_the_schema():
    columns = analyst_table_columns()
    for table, described in COLUMN_DESCRIPTIONS.items():
        names = {c.name: c for c in columns[table]}
        for column, text in described.items():
            assert column in names, f"{table}.{column} is described but not a column"
            assert names[column].description == text


def test_the_pr_job_reports_pull_requests_and_the_audit_log(built):
    created, refused = built["runs"]["Dana Oncall"], built["runs"]["refused"]
    assert created.success and not refused.success
    assert sorted(_materialized(created)) == ["pr_audit_log", "pull_requests"]
    assert _materialized(refused) == []  # a failed op's logged events are dropped: reported to the instance
    audit_events = built["instance"].fetch_materializations(dg.AssetKey("pr_audit_log"), limit=10).records
    by_run = {e.asset_materialization.metadata["run_id"].value: e.asset_materialization.metadata["outcome"].value
              for e in audit_events}
    assert by_run == {created.run_id: "created", refused.run_id: "refused"}
    prs = built["instance"].fetch_materializations(dg.AssetKey("pull_requests"), limit=10).records
    assert [e.run_id for e in prs] == [created.run_id]
    graph = built["definitions"].resolve_asset_graph()
    for key in ("pull_requests", "pr_audit_log"):
        assert graph.get(dg.AssetKey(key)).parent_keys == {dg.AssetKey("diff_analyses")}


def test_the_new_checks_run_in_the_daily_job_and_pass_on_a_real_run(built):
    definitions = built["definitions"]
    job = definitions.resolve_job_def("finops_daily")
    new_checks = {"cost_anomalies": {"anomaly_ids_are_unique", "sigma_above_the_limit"},
                  "routing_decisions": {"one_decision_per_anomaly", "known_path_and_deployment_only_on_code_paths"},
                  "correlated_deployments": {"one_rank_one_per_anomaly"}, "diff_analyses": {"kept_patches_apply"}}
    wanted = {dg.AssetCheckKey(dg.AssetKey(a), n) for a, names in new_checks.items() for n in names}
    assert wanted <= set(job.asset_layer.asset_graph.asset_check_keys)
    resources = definitions.resources
    evaluations = {}
    for check in definitions.asset_checks:
        for key in set(check.check_keys) & wanted:
            needed = {name: resources[name] for name in check.required_resource_keys if name in resources}
            result = check(**needed)  # direct invocation: the check reads the real warehouse
            evaluations[(key.asset_key.to_user_string(), key.name)] = result.passed
    assert evaluations == {(a, n): True for a, names in new_checks.items() for n in names}, evaluations


def test_the_baseline_description_names_the_window_detection_uses():
    from finops_assets.lib.detection.pipeline import DetectionSettings

    described = COLUMN_DESCRIPTIONS["cost_baselines"]["baseline_mean"]
    assert f" {DetectionSettings().baseline_window_days} days before" in described
