"""The new-bill sensor's rules, pure so they are tested without Dagster: when the billing folder
changed (a signature of its files), and which days need building: every day of the bill after an
ingestion that no rollup has followed yet (a re-delivery restates days already built), else the
bill's days that have no billing_rollup partition yet; as one range."""

import hashlib
from datetime import date, timedelta
from pathlib import Path

from finops_assets.lib.billing.ingest import discover_billing_files

# What `finops-assets run` runs first (cli.py's step 1); everything else is rebuilt for the bill's days.
INGESTION_ASSETS = ("focus_billing", "billing_quarantine", "billing_files")


def folder_signature(billing_dir: Path) -> str:
    """A hash of every billing file the ingestion would read: relative name, size and mtime (ns).
    A new, replaced, re-delivered, touched or removed file changes it; an unchanged folder keeps it.
    No file is opened, so it is cheap on a large bill."""
    entries = []
    for path in discover_billing_files(billing_dir):
        stat = path.stat()
        entries.append(f"{path.relative_to(billing_dir).as_posix()}\t{stat.st_size}\t{stat.st_mtime_ns}")
    return hashlib.sha256("\n".join(entries).encode()).hexdigest()


def ingested_since_built(ingested_at: float | None, built_at: float | None) -> bool:
    """Whether the bill was ingested after the last rollup (timestamps of the latest materializations
    of focus_billing and billing_rollup): then its days may have changed and are all rebuilt."""
    return ingested_at is not None and (built_at is None or ingested_at > built_at)


def missing_days(first_day: date | None, last_day: date | None, partition_keys: set[str] | list[str],
                 materialized: set[str], rebuild_all: bool = False) -> list[str]:
    """The bill's days (first_day..last_day, every calendar day between) that are daily partitions
    and have no materialization yet (or all of them with rebuild_all), in order. No bill -> none."""
    if first_day is None or last_day is None:
        return []
    keys = set(partition_keys)
    days = ((first_day + timedelta(days=n)).isoformat() for n in range((last_day - first_day).days + 1))
    return [day for day in days if day in keys and (rebuild_all or day not in materialized)]


def range_to_build(missing: list[str]) -> tuple[str, str] | None:
    """One contiguous range from the first to the last missing day (a day in between that is already
    built is rebuilt: one run, not one per gap); None when nothing is missing."""
    return (min(missing), max(missing)) if missing else None
