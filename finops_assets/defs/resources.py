import os

import dagster as dg

from finops_assets.lib.billing.owners import DEFAULT_DEPARTMENT_KEYS, DEFAULT_TEAM_KEYS
from finops_assets.resources.code_host import CodeHostResource, DiffAnalyzerResource
from finops_assets.resources.settings import FinopsSettings
from finops_assets.resources.warehouse import FinopsWarehouse


def _secret(variable: str):
    """dg.EnvVar when the variable is set (the value never enters config or run storage), else None."""
    return dg.EnvVar(variable) if os.environ.get(variable) else None


def _keys(variable: str, default: tuple[str, ...]) -> list[str]:
    value = os.environ.get(variable, "")
    return [k.strip() for k in value.split(",") if k.strip()] or list(default)


@dg.definitions
def resources() -> dg.Definitions:
    # Plain settings are read at load time (they are not secrets); tokens come through dg.EnvVar.
    data_dir = os.environ.get("FINOPS_DATA_DIR", "data")
    return dg.Definitions(
        resources={
            "warehouse": FinopsWarehouse(
                snapshot_path=os.environ.get("FINOPS_WAREHOUSE", "data/warehouse/finops.duckdb"),
                writer_path=os.environ.get("FINOPS_WRITER_WAREHOUSE", ""),
                memory_limit=os.environ.get("FINOPS_DUCKDB_MEMORY_LIMIT", "4GB"),
            ),
            "settings": FinopsSettings(
                data_dir=data_dir,
                department_tag_keys=_keys("FINOPS_DEPARTMENT_TAG_KEYS", DEFAULT_DEPARTMENT_KEYS),
                team_tag_keys=_keys("FINOPS_TEAM_TAG_KEYS", DEFAULT_TEAM_KEYS),
                cost_metric=os.environ.get("FINOPS_COST_METRIC", "auto"),
                reporting_currency=os.environ.get("FINOPS_REPORTING_CURRENCY", ""),
                max_line_item_cost=float(os.environ.get("FINOPS_MAX_LINE_ITEM_COST", "1e9")),
                k_sigma=float(os.environ.get("FINOPS_K_SIGMA", "3")),
                dollar_floor=float(os.environ.get("FINOPS_DOLLAR_FLOOR", "10")),
                pct_floor=float(os.environ.get("FINOPS_PCT_FLOOR", "0.2")),
                deployment_window_hours=float(os.environ.get("FINOPS_DEPLOYMENT_WINDOW_HOURS", "6")),
            ),
            "code_host": CodeHostResource(
                kind=os.environ.get("FINOPS_CODE_HOST", "local"),
                repos_dir=os.environ.get("FINOPS_REPOS_DIR", os.path.join(data_dir, "repos")),
                github_token=_secret("GITHUB_TOKEN"),
                github_base_url=os.environ.get("FINOPS_GITHUB_API_URL", "https://api.github.com"),
            ),
            "diff_analyzer": DiffAnalyzerResource(
                anthropic_api_key=_secret("ANTHROPIC_API_KEY"),
                model=os.environ.get("FINOPS_CLAUDE_MODEL", "claude-sonnet-4-5"),
                anthropic_base_url=os.environ.get("ANTHROPIC_BASE_URL") or None,
                time_limit_seconds=float(os.environ.get("FINOPS_ANALYSIS_TIME_LIMIT_SECONDS", "300")),
            ),
        }
    )
