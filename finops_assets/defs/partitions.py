"""The daily partitions start where the bill starts (so "Show all partitions" then "All" in the UI's
Materialize dialog covers the bill; the bill sensor in defs/billing/sensors.py builds new days by itself).

Decided when the code location loads, from cheap sources only, in this order:
1. FINOPS_PARTITION_START (YYYY-MM-DD) when set: an explicit start always wins;
2. FINOPS_PARTITION_START_LOADED when set: the start a parent process decided (see below);
3. the earliest of the published snapshot's first usage day (FINOPS_WAREHOUSE) and the Parquet
   exports' row-group statistics under FINOPS_DATA_DIR/billing (no data is read);
4. else DEFAULT_PARTITION_START.
CSV files are never scanned at load (a large bill would slow every reload): a CSV-only bill gets
its start from the snapshot after the first ingestion, on the next reload of the code location.
A start later than today is kept at today, so the definition always has a partition.

One start per loaded code location. Several processes import this module: the code server (which
the UI, the schedules and the sensors ask for partition keys), each run worker it starts, and each
step subprocess of a run. A run publishes a new snapshot while the code server stays loaded, so a
worker deciding again from the data could start on another day than the keys the code server
planned (and reject them). So the process that decides exports its start as
FINOPS_PARTITION_START_LOADED: run workers and step subprocesses are its children and inherit it;
a reload of the code location starts a new code server (a child of `dg dev`, not of the old
server), which decides again from the data. Where run workers are not children of the code server
(a Docker or Kubernetes run launcher), set FINOPS_PARTITION_START instead.

`finops-assets run` does not depend on this: it rebuilds the range of its own bill (see cli.py).
"""

import os
from collections.abc import Mapping, MutableMapping
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
LOADED_START_VARIABLE = "FINOPS_PARTITION_START_LOADED"


def partition_start(environ: Mapping[str, str] = os.environ, today: date | None = None) -> str:
    """The first daily partition, YYYY-MM-DD (see the module docstring for the order of sources)."""
    for name in ("FINOPS_PARTITION_START", LOADED_START_VARIABLE):
        given = (environ.get(name) or "").strip()
        if given:
            try:
                return date.fromisoformat(given).isoformat()
            except ValueError:
                raise ConfigurationError(f"{name} must be a date YYYY-MM-DD, got {given!r}") from None
    data_dir = Path(environ.get("FINOPS_DATA_DIR", DEFAULT_DATA_DIR))
    first = first_billing_day(Path(environ.get("FINOPS_WAREHOUSE", DEFAULT_WAREHOUSE)), data_dir / "billing")
    if first is None:
        return DEFAULT_PARTITION_START
    return min(first, today or datetime.now(UTC).date()).isoformat()


def build_daily_partitions(start: str) -> dg.DailyPartitionsDefinition:
    # end_offset=1: today's partition exists, because hourly bills already carry today's charges.
    return dg.DailyPartitionsDefinition(start_date=start, timezone="UTC", end_offset=1)


def decide_partition_start(environ: MutableMapping[str, str] = os.environ) -> str:
    """partition_start, exported to this process's children (run workers, step subprocesses) when it
    came from the data, so they all accept the keys this process hands out."""
    start = partition_start(environ)
    if not (environ.get("FINOPS_PARTITION_START") or "").strip():
        environ[LOADED_START_VARIABLE] = start
    return start


PARTITION_START = decide_partition_start()
daily_partitions = build_daily_partitions(PARTITION_START)
