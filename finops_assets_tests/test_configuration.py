"""FINOPS_* settings read when the code location loads: a value it cannot use is one clear line
naming the variable, the value and what it must be, never a loader's traceback."""

import os
import subprocess
import sys

import pytest

from finops_assets.cli import main
from finops_assets.defs.resources import ConfigurationError, resources

BAD_VALUES = [
    ("FINOPS_MAX_LINE_ITEM_COST", "abc", "a number"),
    ("FINOPS_MAX_LINE_ITEM_COST", "1e16", "<= 1e15"),
    ("FINOPS_MAX_LINE_ITEM_COST", "0", "> 0"),
    ("FINOPS_K_SIGMA", "abc", "a number"),
    ("FINOPS_K_SIGMA", "nan", "a number"),
    ("FINOPS_K_SIGMA", "-1", "> 0"),
    ("FINOPS_DOLLAR_FLOOR", "ten", "a number"),
    ("FINOPS_DOLLAR_FLOOR", "inf", "a number"),
    ("FINOPS_PCT_FLOOR", "20%", "a number"),
    ("FINOPS_PCT_FLOOR", "-0.1", ">= 0"),
    ("FINOPS_DEPLOYMENT_WINDOW_HOURS", "6h", "a number"),
    ("FINOPS_DEPLOYMENT_WINDOW_HOURS", "48", "from 2 to 24"),
    ("FINOPS_ANALYSIS_TIME_LIMIT_SECONDS", "5m", "a number"),
    ("FINOPS_ANALYSIS_TIME_LIMIT_SECONDS", "0", "> 0"),
    ("FINOPS_REPORTING_CURRENCY", "US", "three-letter"),
    ("FINOPS_REPORTING_CURRENCY", "dollars", "three-letter"),
    ("FINOPS_REPORTING_CURRENCY", "US1", "three-letter"),
    ("FINOPS_REPORTING_CURRENCY", "€UR", "three-letter"),
    ("FINOPS_REPORTING_CURRENCY", "usı", "three-letter"),  # dotless i: "USI" only once upper-cased
]


@pytest.mark.parametrize(("variable", "value", "must_be"), BAD_VALUES)
def test_a_bad_setting_is_one_error_naming_the_variable_the_value_and_the_rule(monkeypatch, variable, value, must_be):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as refused:
        resources()
    message = str(refused.value)
    assert message.startswith(f"{variable} must be ") and message.endswith(f", got {value!r}"), message
    assert must_be in message and "\n" not in message


def test_good_settings_are_trimmed_and_the_currency_upper_cased(monkeypatch):
    for variable, value in [("FINOPS_REPORTING_CURRENCY", " usd "), ("FINOPS_MAX_LINE_ITEM_COST", " 1e12 "),
                            ("FINOPS_K_SIGMA", "2.5"), ("FINOPS_DOLLAR_FLOOR", "0"), ("FINOPS_PCT_FLOOR", "0"),
                            ("FINOPS_DEPLOYMENT_WINDOW_HOURS", "24"), ("FINOPS_ANALYSIS_TIME_LIMIT_SECONDS", "30")]:
        monkeypatch.setenv(variable, value)
    settings = resources().resources["settings"]
    assert settings.reporting_currency == "USD"
    assert (settings.max_line_item_cost, settings.k_sigma, settings.dollar_floor, settings.pct_floor,
            settings.deployment_window_hours) == (1e12, 2.5, 0, 0, 24)
    assert resources().resources["diff_analyzer"].time_limit_seconds == 30


def test_unset_settings_keep_their_defaults(monkeypatch):
    for variable, _, _ in BAD_VALUES:
        monkeypatch.delenv(variable, raising=False)
    settings = resources().resources["settings"]
    assert settings.reporting_currency == ""  # decided from the bill
    assert (settings.max_line_item_cost, settings.k_sigma, settings.dollar_floor, settings.pct_floor,
            settings.deployment_window_hours) == (1e9, 3, 10, 0.2, 6)


def test_run_with_a_bad_setting_prints_one_error_line_and_exits_non_zero(data_dir, warehouse_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "FINOPS_DATA_DIR", "FINOPS_WAREHOUSE")}
    result = subprocess.run([sys.executable, "-m", "finops_assets.cli", "run", "--data-dir", str(data_dir),
                             "--warehouse", str(warehouse_path)], env={**env, "FINOPS_MAX_LINE_ITEM_COST": "abc"},
                            capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == ["error: FINOPS_MAX_LINE_ITEM_COST must be a number > 0 and <= 1e15, "
                                                  "got 'abc'"], result.stderr[-3000:]
    assert "[1/2]" not in result.stdout
    assert not warehouse_path.parent.exists()  # nothing was written


@pytest.mark.parametrize(("variable", "value"), [("FINOPS_REPORTING_CURRENCY", "usd x"), ("FINOPS_K_SIGMA", "abc")])
def test_main_reports_a_bad_setting_as_one_error_line(monkeypatch, capsys, data_dir, warehouse_path, variable, value):
    for name in ("DAGSTER_HOME", "FINOPS_DATA_DIR", "FINOPS_WAREHOUSE"):
        monkeypatch.delenv(name, raising=False)  # run_pipeline sets the last two: restored afterwards
    monkeypatch.setenv("FINOPS_DATA_DIR", "unused")
    monkeypatch.setenv("FINOPS_WAREHOUSE", "unused")
    monkeypatch.setenv(variable, value)
    assert main(["run", "--data-dir", str(data_dir), "--warehouse", str(warehouse_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {variable} must be ") and err[0].endswith(f"got {value!r}"), err


def test_a_reporting_currency_with_spaces_and_lower_case_converts_nothing(data_dir, warehouse_path):
    import duckdb

    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "FINOPS_DATA_DIR", "FINOPS_WAREHOUSE")}
    result = subprocess.run([sys.executable, "-m", "finops_assets.cli", "run", "--data-dir", str(data_dir),
                             "--warehouse", str(warehouse_path)], env={**env, "FINOPS_REPORTING_CURRENCY": "usd "},
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    with duckdb.connect(str(warehouse_path), read_only=True) as conn:
        assert conn.execute("select count(*) from focus_billing").fetchone()[0] == 1000
        assert conn.execute("select count(*) from billing_quarantine").fetchone()[0] == 0
