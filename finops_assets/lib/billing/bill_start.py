"""Where the bill starts, cheaply enough to decide the daily partitions when the code location loads:
the earliest of the published snapshot's first usage day and the Parquet exports' row-group
statistics (an older snapshot must not hide a data folder whose bill starts earlier, nor the other
way round). Never a scan of CSV files (a large CSV bill would make every load slow)."""

from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from finops_assets.lib.billing.ingest import discover_billing_files
from finops_assets.lib.common.sql import fetch_one, load_sql


def first_billing_day(snapshot: Path, billing_dir: Path) -> date | None:
    """The first day of the bill: the earliest source that knows one; None when neither does (no
    snapshot, no Parquet file)."""
    days = [day for day in (_snapshot_first_day(Path(snapshot)), _parquet_first_day(Path(billing_dir))) if day]
    return min(days) if days else None


def _snapshot_first_day(snapshot: Path) -> date | None:
    if not snapshot.is_file():
        return None
    try:
        with duckdb.connect(str(snapshot), read_only=True) as conn:
            (day,) = fetch_one(conn, load_sql("billing/select_first_billing_day"))
    except duckdb.Error:  # an older snapshot without the table, or a file that is not DuckDB
        return None
    return day.date() if isinstance(day, datetime) else day


def _parquet_first_day(billing_dir: Path) -> date | None:
    files = [str(p) for p in discover_billing_files(billing_dir) if p.name.endswith(".parquet")]
    if not files:
        return None
    try:
        with duckdb.connect() as conn:
            (text,) = fetch_one(conn, load_sql("billing/select_parquet_first_charge"), {"files": files})
    except duckdb.Error:  # an unreadable file: ingestion reports it; the load goes on
        return None
    return _utc_day(text) if text else None


def _utc_day(text: str) -> date | None:
    """'2026-06-01 00:00:00+00' or '2026-06-01T00:00:00Z' -> 2026-06-01 (in UTC when an offset is given)."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment.astimezone(UTC) if moment.tzinfo else moment).date()
