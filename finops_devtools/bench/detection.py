"""`finops-assets bench --detection`: time each detection step at scale.

A synthetic daily rollup of N resources x D days (with a known set of two-day spikes), hourly and
row-level bill data for the spiking resources, and M deployments are generated in a DuckDB file,
then baselines, anomalies and routing plus correlation run on it exactly as in the pipeline.
"""

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from finops_assets.lib.common.sql import load_sql
from finops_assets.lib.detection.pipeline import (
    DetectionSettings,
    build_anomalies,
    build_baselines,
)
from finops_assets.lib.routing.decisions import route_anomalies
from finops_devtools.bench.ingestion import _peak_rss_mb

BILLING_TABLES = ("billing/create_billing_rollup", "billing/create_billing_rollup_hourly", "billing/create_focus_billing")
GENERATORS = ("bench/insert_bench_billing_rollup", "bench/insert_bench_billing_rollup_hourly",
              "bench/insert_bench_focus_billing", "bench/create_bench_deployment_events",
              "bench/create_bench_side_inputs", "bench/create_bench_traffic_metrics",
              "bench/create_bench_incident_history")


@dataclass
class DetectionBench:
    resources: int
    days: int
    deployments: int
    injected: int
    steps: dict[str, float]
    anomalies: int
    routed_to_deployment: int
    peak_rss_mb: float

    def __str__(self) -> str:
        steps = " ".join(f"{name}_s={seconds:.2f}" for name, seconds in self.steps.items())
        return (f"detection resources={self.resources} days={self.days} resource_days={self.resources * self.days} "
                f"deployments={self.deployments} injected_spikes={self.injected} anomalies={self.anomalies} "
                f"routed_to_deployment={self.routed_to_deployment} {steps} peak_rss_mb={self.peak_rss_mb:.0f}")


def run_detection_bench(resources: int = 100_000, days: int = 180, anomalies: int = 10_000,
                        deployments: int = 100_000, work_dir: Path | None = None,
                        memory_limit: str = "4GB") -> DetectionBench:
    if days < 60 or anomalies < 1 or resources < anomalies:
        raise ValueError("need days >= 60 and 1 <= anomalies <= resources")
    params = {"resources": resources, "days": days, "anomalies": anomalies, "deployments": deployments}
    with tempfile.TemporaryDirectory(dir=work_dir) as folder:
        conn = duckdb.connect(str(Path(folder) / "bench.duckdb"), config={"memory_limit": memory_limit})
        conn.execute("set TimeZone = 'UTC'")
        started = time.perf_counter()
        for name in BILLING_TABLES:
            conn.execute(load_sql(name))
        for name in GENERATORS:
            sql = load_sql(name, package="finops_devtools")
            conn.execute(sql, {k: v for k, v in params.items() if f"${k}" in sql})
        steps = {"generate": time.perf_counter() - started}
        settings = DetectionSettings()
        for step, run in (("baselines", lambda: build_baselines(conn, settings)),
                          ("anomalies", lambda: build_anomalies(conn, settings)),
                          ("routing_and_correlation", lambda: route_anomalies(conn, settings))):
            started = time.perf_counter()
            run()
            steps[step] = time.perf_counter() - started
        found = conn.sql("select count(*) from cost_anomalies").fetchall()[0][0]
        blamed = conn.sql("select count(*) from routing_decisions where deployment_id is not null").fetchall()[0][0]
        conn.close()
    return DetectionBench(resources, days, deployments, len(range(0, resources, resources // anomalies)), steps,
                          found, blamed, _peak_rss_mb())
