"""Publishing the analysts' snapshot: which runs publish, where the warehouse may be written, and
when a new snapshot must not replace the published one."""

import errno
import shutil
import tempfile
from pathlib import Path

SNAPSHOT_ASSET = "analyst_snapshot"


def run_already_published(selected_assets: set[str] | None, job_assets: set[str]) -> bool:
    """Whether a run refreshed the analysts' snapshot itself: its selection (or, with no explicit
    selection, its job's assets) includes the snapshot asset."""
    return SNAPSHOT_ASSET in (selected_assets if selected_assets is not None else job_assets)


# ---- where the warehouse is written ---------------------------------------------------------

MB = 1_000_000
# OS error codes whose own text ("Errno 30 ...") says less than a plain reason.
_REASONS = {
    errno.EROFS: "read-only file system",
    errno.EACCES: "read-only for this user (permission denied)",
    errno.EPERM: "read-only for this user (operation not permitted)",
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
}


class WarehouseLocationError(Exception):
    """A warehouse file that cannot be written: one line naming the path and the reason."""


class PublishRefused(Exception):
    """The new snapshot would lose what the published one holds; the old one is kept."""


def os_reason(exc: OSError) -> str:
    return _REASONS.get(exc.errno, exc.strerror or str(exc))


# A DuckDB database file carries these bytes at offset 8 (checked on files DuckDB 2.0.1 writes).
DUCKDB_MAGIC, DUCKDB_MAGIC_OFFSET = b"DUCK", 8
# The one folder inside the data folder that may hold the warehouse (the default data/warehouse/finops.duckdb).
WAREHOUSE_FOLDER = "warehouse"


def check_not_an_input(path: Path, data_dir: Path) -> None:
    """WarehouseLocationError when `path` is inside the data folder but not in its warehouse/
    sub-folder: there the run would overwrite an input (a bill), and the next run would read the
    warehouse files as inputs."""
    data = data_dir.resolve()
    where = path.resolve()
    if where.is_relative_to(data) and not where.is_relative_to(data / WAREHOUSE_FOLDER):
        raise WarehouseLocationError(
            f"warehouse {path}: inside the data folder {data_dir}, where the next run would read it as input "
            f"(only {data_dir / WAREHOUSE_FOLDER}/ may hold the warehouse)")


def check_duckdb_or_new(path: Path) -> None:
    """WarehouseLocationError when `path` is a file with content that is not a DuckDB database: the
    run would overwrite someone's file. An absent or empty file is fine."""
    if not path.is_file() or path.stat().st_size == 0:
        return
    try:
        with open(path, "rb") as f:
            header = f.read(DUCKDB_MAGIC_OFFSET + len(DUCKDB_MAGIC))
    except OSError as exc:
        raise WarehouseLocationError(f"warehouse {path}: {os_reason(exc)}") from None
    if header[DUCKDB_MAGIC_OFFSET:] != DUCKDB_MAGIC:
        raise WarehouseLocationError(f"warehouse {path}: exists and is not a DuckDB database; refusing to overwrite it")


def check_writable_file(path: Path, need_free_bytes: int, rewritten_in_place: bool = True) -> None:
    """WarehouseLocationError unless `path` (a DuckDB file, existing or not) can be created, and
    rewritten when `rewritten_in_place` (the writer file; the snapshot is replaced by a rename, which
    only needs its folder), and its folder's disk has `need_free_bytes` free. Leaves nothing behind
    but folders."""
    if path.is_dir():
        raise WarehouseLocationError(f"warehouse {path}: is a directory, not a DuckDB file")
    folder = path.parent
    nearest = next(p for p in (folder, *folder.parents) if p.exists() or p == p.parent)
    if not nearest.is_dir():
        raise WarehouseLocationError(f"warehouse {path}: {nearest} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # Root ignores mode bits, so os.access cannot answer: actually create (an unnamed) file.
        with tempfile.TemporaryFile(dir=folder):
            pass
        if rewritten_in_place and path.exists():
            with open(path, "r+b"):
                pass
    except OSError as exc:
        raise WarehouseLocationError(f"warehouse {path}: {os_reason(exc)}") from None
    check_free_space(folder, need_free_bytes, f"warehouse {path}")


def check_free_space(folder: Path, need_free_bytes: int, what: str) -> None:
    free = shutil.disk_usage(folder).free
    if free < need_free_bytes:
        raise WarehouseLocationError(f"{what}: only {free / MB:,.1f} MB free on {folder}, "
                                     f"needs at least {need_free_bytes / MB:,.1f} MB")


def publish_refusal(published_billing_rows: int | None, new_billing_rows: int | None) -> str | None:
    """Why the new snapshot must not replace the published one, else None. An empty focus_billing
    over a snapshot with rows means the bill did not load (no billing/ folder, files that failed),
    not a month without spend: publishing it would blank every analyst's tables."""
    if published_billing_rows and not new_billing_rows:
        return (f"refused to publish: focus_billing is empty but the published snapshot has "
                f"{published_billing_rows:,} rows; kept the old snapshot (see billing_files for what did not load)")
    return None
