import dagster as dg

from finops_assets.defs.pools import DUCKDB_WRITE_POOL
from finops_assets.lib.common.metadata import markdown_table
from finops_assets.lib.detection.checks import (
    anomalies_below_limit,
    duplicate_anomaly_ids,
)
from finops_assets.resources.settings import FinopsSettings
from finops_assets.resources.warehouse import FinopsWarehouse


@dg.asset_check(asset="cost_anomalies", blocking=True, pool=DUCKDB_WRITE_POOL,
                description="anomaly_id is unique: routing, PRs and analysts key on it")
def anomaly_ids_are_unique(warehouse: FinopsWarehouse) -> dg.AssetCheckResult:
    with warehouse.read() as conn:
        failing = duplicate_anomaly_ids(conn)
    return dg.AssetCheckResult(passed=failing.is_empty(), metadata={
        "duplicated_ids": failing.height, "examples": dg.MetadataValue.md(markdown_table(failing))})


@dg.asset_check(asset="cost_anomalies", pool=DUCKDB_WRITE_POOL,
                description="Every anomaly's peak day is above the control limit (sigma > FINOPS_K_SIGMA); "
                            "new spend in a new region or service is a signal by itself and exempt")
def sigma_above_the_limit(warehouse: FinopsWarehouse, settings: FinopsSettings) -> dg.AssetCheckResult:
    k_sigma = settings.detection_settings().k_sigma
    with warehouse.read() as conn:
        failing = anomalies_below_limit(conn, k_sigma)
    return dg.AssetCheckResult(passed=failing.is_empty(), metadata={
        "k_sigma": k_sigma, "below_limit": failing.height, "examples": dg.MetadataValue.md(markdown_table(failing))})
