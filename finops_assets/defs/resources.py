import math
import os
import re
from collections.abc import Callable, Mapping

import dagster as dg

from finops_assets.lib.billing.ingest import MAX_LINE_ITEM_COST_LIMIT
from finops_assets.lib.billing.owners import DEFAULT_DEPARTMENT_KEYS, DEFAULT_TEAM_KEYS
from finops_assets.resources.code_host import CodeHostResource, DiffAnalyzerResource
from finops_assets.resources.settings import FinopsSettings
from finops_assets.resources.warehouse import FinopsWarehouse

DEFAULT_DATA_DIR = "data"
DEFAULT_WAREHOUSE = "data/warehouse/finops.duckdb"


def _secret(environ: Mapping[str, str], variable: str):
    """dg.EnvVar when the variable is set (the value never enters config or run storage), else None."""
    return dg.EnvVar(variable) if environ.get(variable) else None


class ConfigurationError(Exception):
    """A FINOPS_* variable with a value the code location cannot use: one line naming the variable,
    the value and what it must be."""


def _setting(environ: Mapping[str, str], variable: str, default: str, parse: Callable, must_be: str,
             valid: Callable = lambda v: True):
    """The variable's value (trimmed), parsed; ConfigurationError when it cannot be parsed or is not `valid`."""
    raw = environ.get(variable)
    text = default if raw is None else raw.strip()
    try:
        value = parse(text)
    except ValueError:
        value = None
    if value is None or not valid(value):
        raise ConfigurationError(f"{variable} must be {must_be}, got {raw!r}")
    return value


def _number(environ: Mapping[str, str], variable: str, default: str, must_be: str = "a number",
            valid: Callable = lambda v: True) -> float:
    return _setting(environ, variable, default, float, must_be, lambda v: math.isfinite(v) and valid(v))


def _currency(text: str) -> str | None:
    """'' (not set: decided from the bill) or an ISO 4217 code, upper-cased ("usd " -> "USD"); ASCII
    only, so no letter upper-cases into one ("usı" is not "USI")."""
    return text.upper() if not text or (text.isascii() and re.fullmatch(r"[A-Z]{3}", text.upper())) else None


def _keys(environ: Mapping[str, str], variable: str, default: tuple[str, ...]) -> list[str]:
    value = environ.get(variable, "")
    return [k.strip() for k in value.split(",") if k.strip()] or list(default)


def build_resources(environ: Mapping[str, str]) -> dict:
    """The code location's resources from an explicit mapping of settings: the code location passes
    os.environ, `finops-assets run` the environment with its own --data-dir and --warehouse on top.
    Plain settings are read here, at load time (they are not secrets); tokens stay dg.EnvVar, so
    their values are resolved at launch and never enter run config."""
    data_dir = environ.get("FINOPS_DATA_DIR", DEFAULT_DATA_DIR)
    return {
        "warehouse": FinopsWarehouse(
            snapshot_path=environ.get("FINOPS_WAREHOUSE", DEFAULT_WAREHOUSE),
            writer_path=environ.get("FINOPS_WRITER_WAREHOUSE", ""),
            memory_limit=environ.get("FINOPS_DUCKDB_MEMORY_LIMIT", "4GB"),
        ),
        "settings": FinopsSettings(
            data_dir=data_dir,
            department_tag_keys=_keys(environ, "FINOPS_DEPARTMENT_TAG_KEYS", DEFAULT_DEPARTMENT_KEYS),
            team_tag_keys=_keys(environ, "FINOPS_TEAM_TAG_KEYS", DEFAULT_TEAM_KEYS),
            cost_metric=environ.get("FINOPS_COST_METRIC", "auto"),
            reporting_currency=_setting(environ, "FINOPS_REPORTING_CURRENCY", "", _currency,
                                        "a three-letter currency code such as USD"),
            max_line_item_cost=_number(environ, "FINOPS_MAX_LINE_ITEM_COST", "1e9", "a number > 0 and <= 1e15",
                                       lambda v: 0 < v <= MAX_LINE_ITEM_COST_LIMIT),
            k_sigma=_number(environ, "FINOPS_K_SIGMA", "3", "a number > 0", lambda v: v > 0),
            dollar_floor=_number(environ, "FINOPS_DOLLAR_FLOOR", "10", "a number >= 0", lambda v: v >= 0),
            pct_floor=_number(environ, "FINOPS_PCT_FLOOR", "0.2", "a number >= 0", lambda v: v >= 0),
            deployment_window_hours=_number(environ, "FINOPS_DEPLOYMENT_WINDOW_HOURS", "6", "a number from 2 to 24",
                                            lambda v: 2 <= v <= 24),
        ),
        "code_host": CodeHostResource(
            kind=environ.get("FINOPS_CODE_HOST", "local"),
            repos_dir=environ.get("FINOPS_REPOS_DIR", os.path.join(data_dir, "repos")),
            github_token=_secret(environ, "GITHUB_TOKEN"),
            github_base_url=environ.get("FINOPS_GITHUB_API_URL", "https://api.github.com"),
        ),
        "diff_analyzer": DiffAnalyzerResource(
            anthropic_api_key=_secret(environ, "ANTHROPIC_API_KEY"),
            model=environ.get("FINOPS_CLAUDE_MODEL", "claude-sonnet-4-5"),
            anthropic_base_url=environ.get("ANTHROPIC_BASE_URL") or None,
            time_limit_seconds=_number(environ, "FINOPS_ANALYSIS_TIME_LIMIT_SECONDS", "300", "a number of seconds > 0",
                                       lambda v: v > 0),
        ),
    }


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources=build_resources(os.environ))
