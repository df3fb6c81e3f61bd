"""The CLI says things well: --version, --help with defaults, one instance shared with the UI, a
summary at the end of `run`; the partitions start where the bill starts; explicit resources."""

import os
import shutil
import subprocess
import sys
import tomllib
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from finops_assets.cli import build_parser, main, project_dagster_home
from finops_assets.defs.partitions import DEFAULT_PARTITION_START, partition_start
from finops_assets.defs.resources import ConfigurationError, build_resources
from finops_assets.webhooks.server import startup_lines

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def test_version_is_the_package_version(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    expected = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert capsys.readouterr().out.strip() == f"finops-assets {expected}"


def test_every_option_with_a_default_says_it_in_its_help():
    parser = build_parser()
    commands = next(a for a in parser._actions if a.choices and "run" in a.choices).choices
    for name, command in commands.items():
        text = " ".join(command.format_help().split())
        for action in command._actions:
            if action.option_strings and action.default not in (None, False) and action.dest != "help":
                assert action.help, f"{name} {action.option_strings[0]} has no help"
                assert "default" in action.help.lower() or f"(default: {action.default})" in text, (name, action.dest)


def _env(**extra) -> dict[str, str]:
    drop = ("DAGSTER_HOME", "FINOPS_DATA_DIR", "FINOPS_WAREHOUSE", "FINOPS_EPHEMERAL_INSTANCE")
    return {**{k: v for k, v in os.environ.items() if k not in drop}, **extra}


def test_run_without_dagster_home_records_in_the_project_instance_dg_dev_opens(data_dir, warehouse_path, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(PROJECT_ROOT / "dagster.yaml", project / "dagster.yaml")
    result = subprocess.run([sys.executable, "-m", "finops_assets.cli", "run", "--data-dir", str(data_dir),
                             "--warehouse", str(warehouse_path)], cwd=project, env=_env(),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    home = project / ".dagster_home"
    assert (home / "dagster.yaml").resolve() == (project / "dagster.yaml").resolve()  # the project's config
    with dg.DagsterInstance.from_config(str(home)) as instance:  # what `make dev` (DAGSTER_HOME=home) opens
        runs = instance.get_runs()
        assert len(runs) == 2 and all(r.job_name == "finops_daily" and r.is_success for r in runs)
        assert instance.get_latest_materialization_event(dg.AssetKey("billing_rollup")) is not None
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1  # dagster.yaml's pools
    # The summary, on stdout.
    assert "billing files: 1 loaded, 0 failed" in result.stdout
    assert "rows quarantined: 0" in result.stdout and "anomalies: " in result.stdout
    assert f"snapshot: {warehouse_path.resolve()}" in result.stdout


def test_a_dagster_yaml_of_yours_in_the_project_home_is_kept(tmp_path):
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    (tmp_path / "nowhere").mkdir()
    assert project_dagster_home(tmp_path / "nowhere") is None  # not a project: in memory
    home = tmp_path / ".dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("# mine\n")
    assert project_dagster_home(tmp_path) == home.resolve()
    assert (home / "dagster.yaml").read_text() == "# mine\n"


def test_the_summary_names_quarantine_rules_and_failed_files(data_dir, warehouse_path, capsys, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    (data_dir / "billing" / "august.csv").write_text(
        "ChargePeriodStart,ChargePeriodEnd,BilledCost,ChargeCategory,ProviderName,BillingCurrency,ResourceId,Tags\n"
        '2024-08-15T10:00:00Z,2024-08-15T11:00:00Z,12.5,Usage,AWS,USD,r-1,"{}"\n'
        '2024-08-15T10:00:00Z,2024-08-15T11:00:00Z,12.5,NotACategory,AWS,USD,r-2,"{}"\n')
    (data_dir / "billing" / "broken.csv").write_text("ChargePeriodStart,ServiceName\n2024-09-01,x\n")
    assert main(["run", "--data-dir", str(data_dir), "--warehouse", str(warehouse_path)]) == 3
    out = capsys.readouterr().out
    assert "billing files: 2 loaded, 1 failed" in out
    with duckdb.connect(str(warehouse_path), read_only=True) as conn:
        rule, n = conn.execute("select rule, count(*) from billing_quarantine group by rule").fetchall()[0]
    assert n >= 1 and f"rows quarantined: {n} ({rule} {n})" in out


def test_partitions_start_where_the_bill_starts(tmp_path):
    billing = tmp_path / "data" / "billing"
    billing.mkdir(parents=True)
    env = {"FINOPS_DATA_DIR": str(tmp_path / "data"), "FINOPS_WAREHOUSE": str(tmp_path / "w" / "f.duckdb")}
    assert partition_start(env) == DEFAULT_PARTITION_START  # nothing known
    (billing / "late.csv").write_text("ChargePeriodStart\n2019-01-01T00:00:00Z\n")  # CSV is never scanned at load
    assert partition_start(env) == DEFAULT_PARTITION_START
    shutil.copy(PROJECT_ROOT / "data" / "billing" / "focus_2026-06.parquet", billing)
    assert partition_start(env, today=date(2026, 12, 1)) == "2026-06-01"  # Parquet statistics
    assert partition_start(env, today=date(2026, 5, 1)) == "2026-05-01"  # never after today
    (tmp_path / "w").mkdir()
    with duckdb.connect(env["FINOPS_WAREHOUSE"]) as conn:  # the snapshot wins once a run published it
        conn.execute("create table focus_billing as select date '2026-05-20' as usage_date, false as is_duplicate "
                     "union all select date '2026-04-01', true")
    assert partition_start(env, today=date(2026, 12, 1)) == "2026-05-20"
    assert partition_start({**env, "FINOPS_PARTITION_START": " 2025-01-01 "}) == "2025-01-01"  # override wins
    with pytest.raises(ConfigurationError, match="FINOPS_PARTITION_START must be a date YYYY-MM-DD, got '2025-13'"):
        partition_start({**env, "FINOPS_PARTITION_START": "2025-13"})


def test_the_code_location_partitions_fit_the_checkout_sample():
    result = subprocess.run([sys.executable, "-c", "from finops_assets.defs.partitions import daily_partitions as p;"
                             "print(p.get_first_partition_key())"],
                            cwd=PROJECT_ROOT, env=_env(FINOPS_PARTITION_START=""), capture_output=True, text=True,
                            timeout=120)
    assert result.stdout.strip() == "2026-06-01", result.stderr[-2000:]


def test_resources_come_from_the_mapping_given_not_the_environment(monkeypatch):
    monkeypatch.setenv("FINOPS_K_SIGMA", "not a number")
    monkeypatch.setenv("FINOPS_WAREHOUSE", "/elsewhere.duckdb")
    resources = build_resources({"FINOPS_DATA_DIR": "/d", "FINOPS_WAREHOUSE": "/w.duckdb", "FINOPS_K_SIGMA": "2"})
    assert resources["warehouse"].snapshot_path == "/w.duckdb"
    assert (resources["settings"].data_dir, resources["settings"].k_sigma) == ("/d", 2)
    assert resources["code_host"].repos_dir == "/d/repos"


def test_run_leaves_the_environment_alone(data_dir, warehouse_path, monkeypatch):
    monkeypatch.delenv("FINOPS_DATA_DIR", raising=False)
    monkeypatch.delenv("FINOPS_WAREHOUSE", raising=False)
    assert main(["run", "--data-dir", str(data_dir), "--warehouse", str(warehouse_path)]) == 0
    assert "FINOPS_DATA_DIR" not in os.environ and "FINOPS_WAREHOUSE" not in os.environ


def test_webhook_receiver_names_the_sources_with_a_secret_never_the_value(tmp_path):
    lines = startup_lines({"github": "s3cr3t-value", "argocd": None, "circleci": None}, tmp_path / "deployments")
    text = "\n".join(lines)
    assert lines[0] == "webhook secrets configured for: github"
    assert "argocd (set FINOPS_ARGOCD_WEBHOOK_SECRET)" in text and "s3cr3t-value" not in text
    assert f"{tmp_path / 'deployments'}/webhook-*.jsonl" in text


def test_the_webhook_receivers_files_are_git_ignored(tmp_path):
    names = ["data/deployments/webhook-20260101T000000000000Z-0123456789abcdef.jsonl",
             "data/deployments/.deliveries/github-abc", "data/deployments/.webhook.lock",
             "data/deployments/.tmp-1.partial", ".dagster_home/dagster.yaml", ".dagster_home_pg/dagster.yaml"]
    result = subprocess.run(["git", "check-ignore", "--no-index", *names], cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert result.stdout.split() == names
    kept = subprocess.run(["git", "check-ignore", "--no-index", "data/deployments/deployments.jsonl"],
                          cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert kept.returncode == 1  # the sample's own events stay tracked
