"""The Dagster instance on the real PostgreSQL server, configured by the project's own dagster.postgres.yaml."""

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import dagster as dg
import psycopg2
import pytest

from finops_assets.definitions import defs

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PG = {"host": os.environ.get("FINOPS_TEST_PG_HOST", "127.0.0.1"), "port": int(os.environ.get("FINOPS_TEST_PG_PORT", "5432")),
      "user": os.environ.get("FINOPS_TEST_PG_USER", "postgres"), "password": os.environ.get("FINOPS_TEST_PG_PASSWORD", "")}


@pytest.fixture
def postgres_database():
    name = f"finops_test_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(dbname="postgres", **PG)
    admin.autocommit = True
    admin.cursor().execute(f'create database "{name}"')
    try:
        yield name
    finally:
        admin.cursor().execute(f'drop database if exists "{name}" with (force)')
        admin.close()


def test_materialization_is_recorded_in_postgres_run_event_and_schedule_storage(
        postgres_database, data_dir, warehouse_path, tmp_path, monkeypatch):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "dagster.postgres.yaml", home / "dagster.yaml")
    for key, value in {"DAGSTER_PG_HOST": PG["host"], "DAGSTER_PG_PORT": str(PG["port"]),
                       "DAGSTER_PG_USERNAME": PG["user"], "DAGSTER_PG_PASSWORD": PG["password"],
                       "DAGSTER_PG_DB": postgres_database, "FINOPS_DATA_DIR": str(data_dir),
                       "FINOPS_WAREHOUSE": str(warehouse_path)}.items():
        monkeypatch.setenv(key, value)

    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
        job = defs().resolve_job_def("finops_daily")
        result = job.execute_in_process(
            instance=instance,
            asset_selection=[dg.AssetKey(k) for k in ("focus_billing", "billing_quarantine", "billing_files", "billing_rollup")],
            tags={"dagster/asset_partition_range_start": "2024-09-01", "dagster/asset_partition_range_end": "2024-09-30"},
        )
        assert result.success
        materialization = instance.get_latest_materialization_event(dg.AssetKey("billing_rollup"))
        assert materialization.asset_materialization.metadata["dagster/row_count"].value > 0

    with psycopg2.connect(dbname=postgres_database, **PG) as conn, conn.cursor() as cursor:
        cursor.execute("select status from runs where run_id = %s", (result.run_id,))
        assert cursor.fetchall() == [("SUCCESS",)]
        cursor.execute("select asset_key, partition from event_logs "
                       "where run_id = %s and dagster_event_type = 'ASSET_MATERIALIZATION'", (result.run_id,))
        materialized = cursor.fetchall()
    # One event per ingestion table, and one per day of September for the single-run rollup.
    assert len(materialized) == 3 + 30
    assert sorted(p for k, p in materialized if "billing_rollup" in k) == [f"2024-09-{d:02d}" for d in range(1, 31)]


@pytest.mark.skipif(shutil.which("psql") is None or shutil.which("make") is None, reason="needs psql and make")
def test_make_postgres_db_creates_the_database_the_readme_names_once():
    name = f"finops_test_{uuid.uuid4().hex[:10]}"
    env = {**os.environ, "DAGSTER_PG_HOST": PG["host"], "DAGSTER_PG_PORT": str(PG["port"]),
           "DAGSTER_PG_USERNAME": PG["user"], "DAGSTER_PG_PASSWORD": PG["password"], "DAGSTER_PG_DB": name}
    admin = psycopg2.connect(dbname="postgres", **PG)
    admin.autocommit = True
    try:
        for _ in range(2):  # the second time it is already there: no error
            result = subprocess.run(["make", "-s", "postgres-db"], cwd=PROJECT_ROOT, env=env, capture_output=True,
                                    text=True, timeout=60)
            assert result.returncode == 0, result.stderr
        with admin.cursor() as cursor:
            cursor.execute("select count(*) from pg_database where datname = %s", (name,))
            assert cursor.fetchall() == [(1,)]
    finally:
        admin.cursor().execute(f'drop database if exists "{name}" with (force)')
        admin.close()
