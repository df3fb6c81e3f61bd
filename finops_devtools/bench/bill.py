"""A synthetic FOCUS bill of any size for `finops-assets bench`, written by DuckDB in a streaming
COPY so memory stays flat from 1 to 100 million rows."""

from pathlib import Path

import duckdb

from finops_assets.lib.common.sql import load_sql


def generate_bench_bill(out_dir: Path, rows: int, fmt: str = "parquet", rows_per_file: int = 5_000_000,
                        memory_limit: str = "2GB") -> list[Path]:
    """Write `rows` FOCUS rows to out_dir/billing/part-NNNNN.{parquet,csv}; returns the files."""
    if fmt not in ("parquet", "csv"):
        raise ValueError(f"format must be parquet or csv, got {fmt!r}")
    billing = Path(out_dir) / "billing"
    billing.mkdir(parents=True, exist_ok=True)
    conn = duckdb.connect(config={"memory_limit": memory_limit, "preserve_insertion_order": "false"})
    files = []
    try:
        for part, first in enumerate(range(0, rows, rows_per_file)):
            path = billing / f"part-{part:05d}.{fmt}"
            count = min(rows_per_file, rows - first)
            options = "format parquet, compression zstd, row_group_size 1000000" if fmt == "parquet" else "format csv, header true"
            query = load_sql("bench/select_bench_bill_rows", package="finops_devtools").replace("$first", str(first)).replace("$count", str(count))
            # COPY takes no prepared parameters; both values are integers we computed above.
            conn.execute(f"copy ({query}) to '{path}' ({options})")
            files.append(path)
    finally:
        conn.close()
    return files
