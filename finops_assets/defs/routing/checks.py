import dagster as dg

from finops_assets.defs.pools import DUCKDB_WRITE_POOL
from finops_assets.lib.common.metadata import markdown_table
from finops_assets.lib.routing.checks import (
    anomalies_without_one_rank_one,
    decisions_not_one_per_anomaly,
    decisions_with_bad_path,
)
from finops_assets.resources.warehouse import FinopsWarehouse


def _result(failing, what: str) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=failing.is_empty(), metadata={
        what: failing.height, "examples": dg.MetadataValue.md(markdown_table(failing))})


@dg.asset_check(asset="routing_decisions", pool=DUCKDB_WRITE_POOL,
                description="Exactly one decision per anomaly in cost_anomalies, and none for an unknown anomaly")
def one_decision_per_anomaly(warehouse: FinopsWarehouse) -> dg.AssetCheckResult:
    with warehouse.read() as conn:
        return _result(decisions_not_one_per_anomaly(conn), "anomalies_not_decided_once")


@dg.asset_check(asset="routing_decisions", pool=DUCKDB_WRITE_POOL,
                description="Every path is a known cause, and a deployment is named only on the code paths "
                            "(deployment_correlation, latent_code_change)")
def known_path_and_deployment_only_on_code_paths(warehouse: FinopsWarehouse) -> dg.AssetCheckResult:
    with warehouse.read() as conn:
        return _result(decisions_with_bad_path(conn), "bad_decisions")


@dg.asset_check(asset="correlated_deployments", pool=DUCKDB_WRITE_POOL,
                description="Each anomaly with deployment candidates has exactly one rank 1")
def one_rank_one_per_anomaly(warehouse: FinopsWarehouse) -> dg.AssetCheckResult:
    with warehouse.read() as conn:
        return _result(anomalies_without_one_rank_one(conn), "anomalies_without_one_rank_one")
