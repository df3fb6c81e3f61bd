"""The on-call record of a failed Dagster run: one JSON line per failure in run_failures.jsonl beside
the warehouse (pure: the sensor in defs/alerts.py gathers the facts)."""

import json
import unicodedata
from datetime import datetime
from pathlib import Path

RUN_FAILURES_FILE = "run_failures.jsonl"
MAX_REASON_CHARS = 500


def first_line(text: object, limit: int = MAX_REASON_CHARS) -> str:
    """The first non-blank line of an error, control characters as spaces, cut to `limit`."""
    lines = [line.strip() for line in str(text or "").splitlines() if line.strip()]
    line = "".join(" " if unicodedata.category(c)[0] == "C" else c for c in (lines[0] if lines else "unknown reason"))
    line = " ".join(line.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def failure_record(job: str, run_id: str, step: str | None, reason: object, failed_at: datetime) -> dict:
    return {"failed_at": failed_at.isoformat(timespec="seconds"), "job": job, "run_id": run_id,
            "step": step, "reason": first_line(reason)}


def append_failure(folder: Path, record: dict) -> Path:
    """Append one line to folder/run_failures.jsonl (created with its folder if absent)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / RUN_FAILURES_FILE
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path
