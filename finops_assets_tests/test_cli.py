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
from finops_assets.defs.partitions import (
    DEFAULT_PARTITION_START,
    LOADED_START_VARIABLE,
    decide_partition_start,
    partition_start,
)
from finops_assets.defs.resources import ConfigurationError, build_resources
from finops_assets.webhooks.server import startup_lines
from finops_assets_tests.conftest import official_sample

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
    drop = ("DAGSTER_HOME", "FINOPS_DATA_DIR", "FINOPS_WAREHOUSE", "FINOPS_EPHEMERAL_INSTANCE",
            "FINOPS_PARTITION_START", LOADED_START_VARIABLE)
    return {**{k: v for k, v in os.environ.items() if k not in drop}, **extra}


def test_run_without_dagster_home_records_in_the_project_instance_and_sums_up(tmp_path):
    # This file's only run of the whole graph: a real subprocess, because the instance is chosen when
    # the process starts, on the smallest bill that shows every line of the summary: the official
    # sample's first two days, one file with a quarantined row, one file that cannot be loaded; no
    # side inputs.
    data_dir, warehouse_path = tmp_path / "data", tmp_path / "warehouse" / "finops.duckdb"
    billing = data_dir / "billing"
    billing.mkdir(parents=True)
    duckdb.execute("copy (select * from read_csv($sample, all_varchar = true) where ChargePeriodStart < '2024-09-03') "
                   "to $bill (header)", {"sample": str(official_sample()), "bill": str(billing / "two_days.csv")})
    (billing / "extra.csv").write_text(
        "ChargePeriodStart,ChargePeriodEnd,BilledCost,ChargeCategory,ProviderName,BillingCurrency,ResourceId,Tags\n"
        '2024-09-01T10:00:00Z,2024-09-01T11:00:00Z,12.5,Usage,AWS,USD,r-1,"{}"\n'
        '2024-09-01T10:00:00Z,2024-09-01T11:00:00Z,12.5,NotACategory,AWS,USD,r-2,"{}"\n')
    (billing / "broken.csv").write_text("ChargePeriodStart,ServiceName\n2024-09-01,x\n")
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(PROJECT_ROOT / "dagster.yaml", project / "dagster.yaml")
    # main() as the finops-assets script calls it, then the variables a run must not export.
    script = ("import os, sys\nfrom finops_assets.cli import main\ncode = main(sys.argv[1:])\n"
              "print('exported:', [n for n in ('FINOPS_DATA_DIR', 'FINOPS_WAREHOUSE') if n in os.environ])\n"
              "sys.exit(code)\n")
    result = subprocess.run([sys.executable, "-c", script, "run", "--data-dir", str(data_dir),
                             "--warehouse", str(warehouse_path)], cwd=project, env=_env(),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 3, result.stderr[-3000:]  # completed, but a file could not be loaded
    assert "exported: []" in result.stdout  # the arguments reach the resources, not the environment
    home = project / ".dagster_home"
    assert (home / "dagster.yaml").resolve() == (project / "dagster.yaml").resolve()  # the project's config
    with dg.DagsterInstance.from_config(str(home)) as instance:  # what `make dev` (DAGSTER_HOME=home) opens
        runs = instance.get_runs()
        assert len(runs) == 2 and all(r.job_name == "finops_daily" and r.is_success for r in runs)
        assert instance.get_latest_materialization_event(dg.AssetKey("billing_rollup")) is not None
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1  # dagster.yaml's pools
    # The summary, on stdout; the file that failed, on stderr.
    assert "billing files: 2 loaded, 1 failed" in result.stdout
    with duckdb.connect(str(warehouse_path), read_only=True) as conn:
        rule, n = conn.execute("select rule, count(*) from billing_quarantine group by rule").fetchall()[0]
    assert n >= 1 and f"rows quarantined: {n} ({rule} {n})" in result.stdout
    assert "anomalies: " in result.stdout and f"snapshot: {warehouse_path.resolve()}" in result.stdout
    assert "warning: billing file" in result.stderr and "broken.csv" in result.stderr


def test_a_dagster_yaml_of_yours_in_the_project_home_is_kept(tmp_path):
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    (tmp_path / "nowhere").mkdir()
    assert project_dagster_home(tmp_path / "nowhere") is None  # not a project: in memory
    home = tmp_path / ".dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("# mine\n")
    assert project_dagster_home(tmp_path) == home.resolve()
    assert (home / "dagster.yaml").read_text() == "# mine\n"


def _snapshot_starting(path: Path, first_day: str) -> None:
    """A published snapshot whose bill starts on first_day (a duplicate row before it does not count)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    with duckdb.connect(str(path)) as conn:
        conn.execute("create table focus_billing as select $d::date as usage_date, false as is_duplicate "
                     "union all select date '2020-02-01', true", {"d": first_day})


def test_partitions_start_on_the_earliest_day_any_source_knows(tmp_path):
    billing = tmp_path / "data" / "billing"
    billing.mkdir(parents=True)
    env = {"FINOPS_DATA_DIR": str(tmp_path / "data"), "FINOPS_WAREHOUSE": str(tmp_path / "w" / "f.duckdb")}
    assert partition_start(env) == DEFAULT_PARTITION_START  # nothing known
    (billing / "late.csv").write_text("ChargePeriodStart\n2019-01-01T00:00:00Z\n")  # CSV is never scanned at load
    assert partition_start(env) == DEFAULT_PARTITION_START
    shutil.copy(PROJECT_ROOT / "data" / "billing" / "focus_2026-06.parquet", billing)
    assert partition_start(env, today=date(2026, 12, 1)) == "2026-06-01"  # Parquet statistics
    assert partition_start(env, today=date(2026, 5, 1)) == "2026-05-01"  # never after today
    _snapshot_starting(Path(env["FINOPS_WAREHOUSE"]), "2026-05-20")
    assert partition_start(env, today=date(2026, 12, 1)) == "2026-05-20"  # the snapshot starts earlier
    _snapshot_starting(Path(env["FINOPS_WAREHOUSE"]), "2026-06-15")
    assert partition_start(env, today=date(2026, 12, 1)) == "2026-06-01"  # an older snapshot hides no Parquet day
    assert partition_start({**env, "FINOPS_PARTITION_START": " 2025-01-01 "}) == "2025-01-01"  # override wins
    with pytest.raises(ConfigurationError, match="FINOPS_PARTITION_START must be a date YYYY-MM-DD, got '2025-13'"):
        partition_start({**env, "FINOPS_PARTITION_START": "2025-13"})


def test_a_started_process_keeps_the_start_its_parent_decided(tmp_path):
    env = {"FINOPS_DATA_DIR": str(tmp_path / "data"), "FINOPS_WAREHOUSE": str(tmp_path / "w" / "f.duckdb")}
    (tmp_path / "data" / "billing").mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "data" / "billing" / "focus_2026-06.parquet", tmp_path / "data" / "billing")
    decided = dict(env)
    assert decide_partition_start(decided) == "2026-06-01" and decided[LOADED_START_VARIABLE] == "2026-06-01"
    _snapshot_starting(Path(env["FINOPS_WAREHOUSE"]), "2026-06-15")  # a run publishes a later-starting bill
    (tmp_path / "data" / "billing" / "focus_2026-06.parquet").unlink()
    assert partition_start(env) == "2026-06-15"  # deciding again from the data would move it later
    assert decide_partition_start(decided) == "2026-06-01"  # a child of the deciding process does not
    assert partition_start({**decided, "FINOPS_PARTITION_START": "2026-07-01"}) == "2026-07-01"  # explicit wins
    explicit = {**env, "FINOPS_PARTITION_START": "2026-07-01"}
    assert decide_partition_start(explicit) == "2026-07-01" and LOADED_START_VARIABLE not in explicit
    with pytest.raises(ConfigurationError, match=f"{LOADED_START_VARIABLE} must be a date YYYY-MM-DD"):
        partition_start({**env, LOADED_START_VARIABLE: "soon"})


def test_the_code_location_exports_its_start_to_the_processes_it_starts(tmp_path):
    # The code server decides on the checkout's sample bill; after a run publishes a later-starting
    # snapshot, the run worker it starts (a child process, as Dagster's gRPC server spawns it) still
    # accepts the keys the code server planned.
    (tmp_path / "data").mkdir()
    shutil.copytree(PROJECT_ROOT / "data" / "billing", tmp_path / "data" / "billing")
    warehouse = tmp_path / "w" / "f.duckdb"
    script = (
        "import subprocess, sys\n"
        "from finops_assets.defs.partitions import daily_partitions as p\n"
        "print(p.get_first_partition_key())\n"
        "sys.stdout.flush()\n"
        f"import duckdb, os; os.makedirs({str(warehouse.parent)!r})\n"
        f"duckdb.connect({str(warehouse)!r}).execute(\"create table focus_billing as select date '2026-06-15' "
        "as usage_date, false as is_duplicate\").close()\n"
        f"os.unlink({str(tmp_path / 'data' / 'billing' / 'focus_2026-06.parquet')!r})\n"
        "subprocess.run([sys.executable, '-c', 'from finops_assets.defs.partitions import daily_partitions as p;"
        "print(p.get_first_partition_key())'], check=True)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True,
                            env=_env(FINOPS_DATA_DIR=str(tmp_path / "data"), FINOPS_WAREHOUSE=str(warehouse)),
                            timeout=120)
    assert result.stdout.split() == ["2026-06-01", "2026-06-01"], result.stderr[-2000:]


def test_resources_come_from_the_mapping_given_not_the_environment(monkeypatch):
    monkeypatch.setenv("FINOPS_K_SIGMA", "not a number")
    monkeypatch.setenv("FINOPS_WAREHOUSE", "/elsewhere.duckdb")
    resources = build_resources({"FINOPS_DATA_DIR": "/d", "FINOPS_WAREHOUSE": "/w.duckdb", "FINOPS_K_SIGMA": "2"})
    assert resources["warehouse"].snapshot_path == "/w.duckdb"
    assert (resources["settings"].data_dir, resources["settings"].k_sigma) == ("/d", 2)
    assert resources["code_host"].repos_dir == "/d/repos"


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
