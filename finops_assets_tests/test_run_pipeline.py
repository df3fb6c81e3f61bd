"""The whole graph through `finops-assets run`: in-process, in subprocesses, twice at once."""

import csv
import hashlib
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from finops_assets.cli import main

TABLES = ["focus_billing", "billing_quarantine", "billing_rollup", "billing_rollup_hourly",
          "deployment_events", "team_repositories", "traffic_metrics", "incident_history", "input_quarantine"]
# Columns that record when a row was written, not what it says.
VOLATILE = {"billing_quarantine": "quarantined_at"}


def table_digests(path: Path) -> dict[str, str]:
    conn = duckdb.connect(str(path), read_only=True)
    try:
        digests = {}
        for table in TABLES:
            exclude = f" exclude ({VOLATILE[table]})" if table in VOLATILE else ""
            rows = conn.sql(f"select *{exclude} from {table} order by all").fetchall()
            digests[table] = hashlib.sha256(repr(rows).encode()).hexdigest()
        return digests
    finally:
        conn.close()


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch):
    for name in ("FINOPS_DATA_DIR", "FINOPS_WAREHOUSE", "DAGSTER_HOME"):
        monkeypatch.delenv(name, raising=False)


def test_run_publishes_every_table_and_reconciles_the_official_sample(data_dir, warehouse_path):
    assert main(["run", "--data-dir", str(data_dir), "--warehouse", str(warehouse_path)]) == 0
    conn = duckdb.connect(str(warehouse_path), read_only=True)
    files = conn.sql("select rows_read, rows_accepted, rows_quarantined, status from billing_files").fetchall()
    assert files == [(1000, 1000, 0, "loaded")]
    source, rolled, hourly = conn.sql(
        "select (select sum(billed_cost) from focus_billing), (select sum(billed_cost) from billing_rollup), "
        "(select sum(billed_cost) from billing_rollup_hourly)").fetchall()[0]
    # Money is DECIMAL end to end: exactly the sum of the file's own text.
    with (data_dir / "billing" / "focus_sample.csv").open(newline="") as handle:
        independent = sum(Decimal(r["BilledCost"]) for r in csv.DictReader(handle))
    assert source == rolled == hourly == independent
    assert conn.sql("select count(*) from deployment_events").fetchall() == [(1,)]  # duplicate id dropped
    rejected = conn.sql("select input_name, row_number, rule from input_quarantine order by all").fetchall()
    assert rejected == [("deployment_events", 3, "invalid_json"), ("deployment_events", 4, "invalid_field"),
                        ("team_repositories", 2, "invalid_field"), ("traffic_metrics", 2, "invalid_field")]
    assert conn.sql("select count(*) from incident_history").fetchall() == [(0,)]  # absent file: empty table


def test_unreadable_billing_file_is_reported_and_the_rest_still_loads(data_dir, warehouse_path, capsys):
    (data_dir / "billing" / "broken.csv").write_text("ChargePeriodStart,ServiceName\n2024-09-01,x\n")
    assert main(["run", "--data-dir", str(data_dir), "--warehouse", str(warehouse_path)]) == 3
    assert "broken.csv" in capsys.readouterr().err
    conn = duckdb.connect(str(warehouse_path), read_only=True)
    status = dict(conn.sql("select split_part(source_file, '/', -1), status from billing_files").fetchall())
    assert status == {"focus_sample.csv": "loaded", "broken.csv": "failed"}
    error = conn.sql("select error from billing_files where status = 'failed'").fetchall()[0][0]
    assert "BilledCost" in error and "ChargeCategory" in error
    assert conn.sql("select count(*) from billing_rollup").fetchall()[0][0] > 0


def test_missing_data_folder_fails_with_one_line(tmp_path, capsys):
    assert main(["run", "--data-dir", str(tmp_path / "nope"), "--warehouse", str(tmp_path / "w.duckdb")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "does not exist" in err


def test_two_runs_at_once_with_an_analyst_reading_both_succeed_and_change_nothing(data_dir, warehouse_path):
    command = [sys.executable, "-m", "finops_assets.cli", "run", "--data-dir", str(data_dir),
               "--warehouse", str(warehouse_path)]
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "FINOPS_DATA_DIR", "FINOPS_WAREHOUSE")}
    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr[-2000:]
    before = table_digests(warehouse_path)

    analyst = duckdb.connect(str(warehouse_path), read_only=True)  # held open through both runs
    rows_seen_by_analyst = analyst.sql("select count(*) from billing_rollup").fetchall()
    runs = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    outcomes = [(p.wait(timeout=300), p.stderr.read()) for p in runs]
    assert [code for code, _ in outcomes] == [0, 0], [err[-2000:] for _, err in outcomes]
    assert analyst.sql("select count(*) from billing_rollup").fetchall() == rows_seen_by_analyst
    analyst.close()
    assert table_digests(warehouse_path) == before


def test_removing_a_delivery_removes_its_days_from_the_rollups(data_dir, warehouse_path):
    august = data_dir / "billing" / "august.csv"
    august.write_text(
        "ChargePeriodStart,ChargePeriodEnd,BilledCost,ChargeCategory,ProviderName,BillingCurrency,ResourceId,Tags\n"
        '2024-08-15T10:00:00Z,2024-08-15T11:00:00Z,12.5,Usage,AWS,USD,r-1,"{""team"": ""search""}"\n')
    args = ["run", "--data-dir", str(data_dir), "--warehouse", str(warehouse_path)]
    assert main(args) == 0
    query = "select team, sum(billed_cost) from billing_rollup where usage_date = date '2024-08-15' group by all"
    with duckdb.connect(str(warehouse_path), read_only=True) as conn:
        assert conn.sql(query).fetchall() == [("search", 12.5)]
    august.unlink()
    assert main(args) == 0
    with duckdb.connect(str(warehouse_path), read_only=True) as conn:
        assert conn.sql(query).fetchall() == []
        assert conn.sql("select count(*) from billing_rollup_hourly where usage_date < date '2024-09-01'").fetchall() == [(0,)]
        assert conn.sql("select count(*) from billing_files").fetchall() == [(1,)]
