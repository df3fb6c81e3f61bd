"""`finops-assets bench`: ingestion + rollup throughput as ratios to DuckDB's own floors.

`floor`: DuckDB scanning the same files and summing cost per day and resource (reads 3 columns,
writes nothing). `copy_floor`: DuckDB copying every row of the same files into a DuckDB table,
the least an ingestion that keeps each row must pay. Each measurement runs in a fresh child
process, so its peak memory is its own.
"""

import multiprocessing
import resource
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import duckdb


@dataclass
class Measurement:
    seconds: float
    peak_rss_mb: float
    detail: dict


def _peak_rss_mb() -> float:
    """This process's own peak resident memory. VmHWM belongs to the address space, so unlike
    getrusage's ru_maxrss it is not inherited across fork/exec from the parent."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux: KiB, an upper bound


def _floor(files: list[str], fmt: str, memory_limit: str) -> Measurement:
    reader = (f"read_parquet({files!r})" if fmt == "parquet"
              else f"read_csv({files!r}, header = true)")  # DuckDB's own typed CSV reading
    conn = duckdb.connect(config={"memory_limit": memory_limit})
    started = time.perf_counter()
    groups, total = conn.sql(
        f"select count(*), sum(cost) from (select ChargePeriodStart::date as day, ResourceId, "
        f"sum(BilledCost) as cost from {reader} group by all)").fetchall()[0]
    elapsed = time.perf_counter() - started
    conn.close()
    return Measurement(elapsed, _peak_rss_mb(), {"groups": groups, "billed_cost": total})


def _copy_floor(files: list[str], fmt: str, warehouse_dir: str, memory_limit: str) -> Measurement:
    """DuckDB copying the same rows into a table of a DuckDB file: the least any ingestion that
    keeps every row (as focus_billing does) must pay."""
    reader = (f"read_parquet({files!r})" if fmt == "parquet"
              else f"read_csv({files!r}, header = true)")
    conn = duckdb.connect(str(Path(warehouse_dir) / "copy.duckdb"), config={"memory_limit": memory_limit})
    started = time.perf_counter()
    conn.execute(f"create table copied as select * from {reader}")
    elapsed = time.perf_counter() - started
    conn.close()
    return Measurement(elapsed, _peak_rss_mb(), {})


def _ours(files: list[str], warehouse_dir: str, memory_limit: str) -> Measurement:
    from finops_assets.lib.billing.ingest import IngestSettings, ingest_billing_files
    from finops_assets.lib.billing.rollup import rebuild_rollup_window
    from finops_assets.lib.common.sql import fetch_one
    from finops_assets.resources.warehouse import FinopsWarehouse

    warehouse = FinopsWarehouse(snapshot_path=str(Path(warehouse_dir) / "bench.duckdb"), memory_limit=memory_limit)
    phases = {}
    started = time.perf_counter()
    with warehouse.write() as conn:
        report = ingest_billing_files(conn, [Path(f) for f in files], IngestSettings(), staging_dir=warehouse.staging_dir)
        phases["ingest_s"] = time.perf_counter() - started
        first, last = fetch_one(conn, "select min(usage_date), max(usage_date) from focus_billing")
        for table in ("billing_rollup", "billing_rollup_hourly"):
            phase_start = time.perf_counter()
            rebuild_rollup_window(conn, table, first, last + timedelta(days=1), "auto")
            phases[f"{table}_s"] = time.perf_counter() - phase_start
        total = fetch_one(conn, "select sum(billed_cost)::double from billing_rollup")[0]
    elapsed = time.perf_counter() - started
    failed = [f.error for f in report.files if f.status == "failed"]
    if failed:
        raise RuntimeError(f"bench files failed to load: {failed}")
    return Measurement(elapsed, _peak_rss_mb(), phases | {
        "rows_accepted": sum(f.rows_accepted for f in report.files), "billed_cost": total})


def _in_child(function, *args) -> Measurement:
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        return pool.apply(function, args)


def run_ingestion_bench(rows: int, work_dir: Path | None = None, formats: list[str] = ("parquet", "csv"),
                        repeat: int = 1, memory_limit: str = "4GB") -> list[dict]:
    from finops_devtools.bench.bill import generate_bench_bill

    root = Path(work_dir or tempfile.mkdtemp(prefix="finops-bench-"))
    results = []
    try:
        for fmt in formats:
            data_dir = root / fmt
            started = time.perf_counter()
            files = [str(p) for p in _in_child(generate_bench_bill, data_dir, rows, fmt)]
            print(f"generated {rows:,} {fmt} rows in {len(files)} file(s) in {time.perf_counter() - started:.1f}s "
                  f"({sum(Path(f).stat().st_size for f in files) / 1e6:,.0f} MB)", flush=True)
            floors, copies, ours = [], [], []
            for attempt in range(repeat):
                warehouse_dir = root / f"warehouse-{fmt}-{attempt}"
                warehouse_dir.mkdir(parents=True, exist_ok=True)
                floors.append(_in_child(_floor, files, fmt, memory_limit))
                copies.append(_in_child(_copy_floor, files, fmt, str(warehouse_dir), memory_limit))
                ours.append(_in_child(_ours, files, str(warehouse_dir), memory_limit))
                shutil.rmtree(warehouse_dir, ignore_errors=True)
            floor, best = min(floors, key=lambda m: m.seconds), min(ours, key=lambda m: m.seconds)
            copy = min(copies, key=lambda m: m.seconds)
            if abs(floor.detail["billed_cost"] - best.detail["billed_cost"]) > 1e-6 * abs(floor.detail["billed_cost"]):
                raise RuntimeError(f"totals disagree: floor {floor.detail['billed_cost']} vs ours {best.detail['billed_cost']}")
            result = {
                "format": fmt, "rows": rows,
                "floor_s": round(floor.seconds, 2), "ours_s": round(best.seconds, 2),
                "ratio": round(best.seconds / floor.seconds, 2),
                "copy_floor_s": round(copy.seconds, 2),
                "ratio_to_copy": round(best.seconds / copy.seconds, 2),
                "rows_per_s": round(rows / best.seconds),
                "floor_peak_rss_mb": round(floor.peak_rss_mb), "ours_peak_rss_mb": round(best.peak_rss_mb),
                **{k: round(v, 2) for k, v in best.detail.items() if k.endswith("_s")},
            }
            results.append(result)
            print(" ".join(f"{k}={v}" for k, v in result.items()), flush=True)
    finally:
        if work_dir is None:
            shutil.rmtree(root, ignore_errors=True)
    return results
