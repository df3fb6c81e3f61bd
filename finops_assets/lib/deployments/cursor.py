"""The deployment sensor's cursor over the event store's file names: pure, so it is tested without Dagster."""

from datetime import UTC, datetime, timedelta

# A file can only be this late (named at receipt, renamed into place right after): names older than
# this behind the newest seen are final, so the cursor forgets them.
SETTLE = timedelta(minutes=10)


def _received_at(file_name: str) -> datetime | None:
    try:
        return datetime.strptime(file_name.split("-")[1], "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC)
    except (IndexError, ValueError):
        return None


def next_cursor(cursor: dict, names: list[str]) -> tuple[list[str], dict]:
    """(new file names, the cursor after them). The cursor keeps a boundary (every name at or below
    it is done) and the names above it already seen, so a file renamed into place after a newer one
    (two receivers at once, events out of order) is neither skipped nor processed twice."""
    boundary = cursor.get("boundary") or ""
    seen = set(cursor.get("seen", []))
    new = [n for n in names if n > boundary and n not in seen]
    seen.update(new)
    newest = max((_received_at(n) for n in seen if _received_at(n)), default=None)
    if newest is not None:
        settled = sorted(n for n in seen if (_received_at(n) or newest) <= newest - SETTLE)
        if settled:
            boundary = max(boundary, settled[-1])
            seen = {n for n in seen if n > boundary}
    return new, {"boundary": boundary, "seen": sorted(seen), "events_total": cursor.get("events_total", 0) + len(new)}
