"""The daily partitions start where the bill starts, so "Materialize all" (All partitions) in the UI
covers the sample or your bill without typing a range.

Decided when the code location loads, from cheap sources only, in this order:
1. FINOPS_PARTITION_START (YYYY-MM-DD) when set: an explicit start always wins;
2. the published snapshot's first usage day (FINOPS_WAREHOUSE), once a run has loaded the bill;
3. the Parquet exports' row-group statistics under FINOPS_DATA_DIR/billing (no data is read);
4. else DEFAULT_PARTITION_START.
CSV files are never scanned at load (a large bill would slow every reload): a CSV-only bill gets
its start from the snapshot after the first ingestion, on the next reload of the code location.
A start later than today is kept at today, so the definition always has a partition.

`finops-assets run` does not depend on this: it rebuilds the range of its own bill (see cli.py).
"""

import os
from collections.abc import Mapping
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg

from finops_assets.defs.resources import (
    DEFAULT_DATA_DIR,
    DEFAULT_WAREHOUSE,
    ConfigurationError,
)
from finops_assets.lib.billing.bill_start import first_billing_day

DEFAULT_PARTITION_START = "2020-01-01"


def partition_start(environ: Mapping[str, str] = os.environ, today: date | None = None) -> str:
    """The first daily partition, YYYY-MM-DD (see the module docstring for the order of sources)."""
    override = (environ.get("FINOPS_PARTITION_START") or "").strip()
    if override:
        try:
            return date.fromisoformat(override).isoformat()
        except ValueError:
            raise ConfigurationError(f"FINOPS_PARTITION_START must be a date YYYY-MM-DD, got {override!r}") from None
    data_dir = Path(environ.get("FINOPS_DATA_DIR", DEFAULT_DATA_DIR))
    first = first_billing_day(Path(environ.get("FINOPS_WAREHOUSE", DEFAULT_WAREHOUSE)), data_dir / "billing")
    if first is None:
        return DEFAULT_PARTITION_START
    return min(first, today or datetime.now(UTC).date()).isoformat()


def build_daily_partitions(start: str) -> dg.DailyPartitionsDefinition:
    # end_offset=1: today's partition exists, because hourly bills already carry today's charges.
    return dg.DailyPartitionsDefinition(start_date=start, timezone="UTC", end_offset=1)


PARTITION_START = partition_start()
daily_partitions = build_daily_partitions(PARTITION_START)
