"""The on-call record of a failed Dagster run: one JSON line per failure in run_failures.jsonl beside
the analysts' snapshot (pure: the sensor in defs/alerts.py gathers the facts)."""

import json
from datetime import datetime
from pathlib import Path

from finops_assets.lib.common.text import first_line

RUN_FAILURES_FILE = "run_failures.jsonl"
MAX_REASON_CHARS = 500


def failure_record(job: str, run_id: str, step: str | None, reason: object, failed_at: datetime) -> dict:
    return {"failed_at": failed_at.isoformat(timespec="seconds"), "job": job, "run_id": run_id,
            "step": step, "reason": first_line(reason, MAX_REASON_CHARS) or "unknown reason"}


def append_failure(folder: Path, record: dict) -> Path:
    """Append one line to folder/run_failures.jsonl (created with its folder if absent)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / RUN_FAILURES_FILE
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path
