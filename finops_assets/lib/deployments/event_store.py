"""The embedded deployment event store: the data folder's `deployments/` directory itself.

Each accepted webhook event becomes its own one-line file
`deployments/webhook-<received_at %Y%m%dT%H%M%S%fZ>-<sha256(id)[:16]>.jsonl`, so the existing
side-input loader (which reads `deployments/*.jsonl` and drops duplicate ids) picks it up unchanged,
and a sensor can use the file names as an arrival-ordered cursor.

Every event is checked against the one contract, lib/deployments/events.py `DeploymentEvent`,
and written in its JSON form (`to_record()`).

Guarantees:
- atomic: a file is written under a temporary name that the loader's `*.jsonl` glob ignores,
  fsynced, then renamed into place, so a reader never sees half an event;
- no duplicates: the id's digest is in the file name, and the check-then-write runs under an
  exclusive `flock` on `deployments/.webhook.lock`, so concurrent requests, threads or processes
  cannot both write the same id;
- monotonic names: the name is chosen inside the lock and never sorts before an existing webhook
  file, so a cursor "names > last seen" cannot skip an event even if the wall clock steps back.

Replay-protection markers (which webhook deliveries were already handled) live under
`deployments/.deliveries/`, a sub-folder the loader does not descend into.
"""

import fcntl
import hashlib
import json
import logging
import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from finops_assets.lib.deployments.events import DeploymentEvent

log = logging.getLogger(__name__)

_SOURCE = re.compile(r"^[a-z0-9_-]+$")
_NAME_TIME_FORMAT = "%Y%m%dT%H%M%S%fZ"
_WEBHOOK_NAME = re.compile(r"^webhook-(\d{8}T\d{12}Z)-([0-9a-f]{16})\.jsonl$")


def id_digest(event_id: str) -> str:
    """The 16-hex-digit digest of an event id used in file names (ids may hold any character)."""
    return hashlib.sha256(event_id.encode("utf-8")).hexdigest()[:16]


def validate_event(event: dict | DeploymentEvent) -> dict:
    """The event as the contract's JSON record, or DeploymentEventError (a ValueError) naming the field."""
    return DeploymentEvent.from_raw(event).to_record()


class DeploymentEventStore:
    def __init__(self, folder: Path):
        # `folder` is the data folder's deployments/ directory itself (what the loader reads).
        self.events_dir = Path(folder)
        self.deliveries_dir = self.events_dir / ".deliveries"
        self._lock_path = self.events_dir / ".webhook.lock"

    # ---- events ------------------------------------------------------------------------------
    def append(self, event: dict | DeploymentEvent, received_at: datetime | None = None) -> bool:
        """Store one event; False (and nothing written) when an event with this id is already stored.
        A dict is checked against the contract first (DeploymentEventError, a ValueError, if it breaks it)."""
        record = validate_event(event)
        digest = id_digest(record["id"])
        line = json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n"
        with self._locked():
            names = [p.name for p in self.events_dir.glob("webhook-*.jsonl")]
            if any(name.endswith(f"-{digest}.jsonl") for name in names):
                return False
            stamp = self._next_stamp(received_at or datetime.now(UTC), names)
            target = self.events_dir / f"webhook-{stamp.strftime(_NAME_TIME_FORMAT)}-{digest}.jsonl"
            _write_atomically(target, line.encode("utf-8"))
        return True

    def list_events(self, after: str | None = None) -> list[tuple[str, dict]]:
        """(file name, event) of webhook files in arrival order, only names > after when given."""
        out: list[tuple[str, dict]] = []
        for path in sorted(self.events_dir.glob("webhook-*.jsonl"), key=lambda p: p.name):
            if after is not None and path.name <= after:
                continue
            try:
                out.append((path.name, json.loads(path.read_text(encoding="utf-8"))))
            except (OSError, ValueError) as exc:
                # Written atomically by append, so this means outside tampering; the loader will
                # quarantine the file, the sensor should not stall on it.
                log.warning("skipping unreadable webhook event file %s: %s", path, exc)
        return out

    # ---- replay protection -------------------------------------------------------------------
    def seen_delivery(self, source: str, delivery_id: str) -> bool:
        return self._delivery_path(source, delivery_id).exists()

    def record_delivery(self, source: str, delivery_id: str) -> None:
        """Mark a delivery as handled (idempotent). Call only once it was stored or deliberately
        ignored, so a delivery whose write failed can be retried by the sender."""
        path = self._delivery_path(source, delivery_id)
        if path.exists():
            return
        self.deliveries_dir.mkdir(parents=True, exist_ok=True)
        marker = {"source": source, "delivery_id": delivery_id,
                  "recorded_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
        _write_atomically(path, (json.dumps(marker) + "\n").encode("utf-8"))

    def _delivery_path(self, source: str, delivery_id: str) -> Path:
        if not _SOURCE.match(source):
            raise ValueError(f"source must match {_SOURCE.pattern}, got {source!r}")
        # Hashed: delivery ids come from the network and must never shape a path.
        return self.deliveries_dir / f"{source}-{hashlib.sha256(delivery_id.encode('utf-8')).hexdigest()}"

    # ---- internals ---------------------------------------------------------------------------
    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.events_dir.mkdir(parents=True, exist_ok=True)
        # flock locks belong to the open file description: each call opens its own, so threads of
        # one process exclude each other as well as other processes.
        with open(self._lock_path, "a+b") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    @staticmethod
    def _next_stamp(received_at: datetime, existing_names: list[str]) -> datetime:
        """received_at in UTC, bumped past the newest existing webhook file so names only grow."""
        stamp = received_at.astimezone(UTC) if received_at.tzinfo else received_at.replace(tzinfo=UTC)
        stamps = [m.group(1) for name in existing_names if (m := _WEBHOOK_NAME.match(name))]
        if stamps:
            newest = datetime.strptime(max(stamps), _NAME_TIME_FORMAT).replace(tzinfo=UTC)
            if stamp <= newest:
                stamp = newest + timedelta(microseconds=1)
        return stamp


def _write_atomically(target: Path, data: bytes) -> None:
    """Write to a temp file in the same folder (a name no loader glob matches), fsync, rename."""
    tmp = target.parent / f".tmp-{uuid.uuid4().hex}.partial"
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    # fsync the directory so the rename itself survives a crash.
    dir_fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
