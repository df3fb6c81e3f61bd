"""The one owner of every DuckDB connection: a writer file for Dagster steps, a published copy for analysts."""

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from filelock import FileLock
from pydantic import Field

from finops_assets.lib.publishing.snapshot import (
    MB,
    PublishRefused,
    check_duckdb_or_new,
    check_free_space,
    check_not_an_input,
    check_writable_file,
    publish_refusal,
)


def writer_path_for(snapshot_path: str) -> str:
    """data/warehouse/finops.duckdb -> data/warehouse/finops.writer.duckdb; any other name keeps its
    suffix and gains .writer.duckdb (finops.db -> finops.db.writer.duckdb), so the writer is always
    a .duckdb file and never shared with a finops.duckdb beside it."""
    path = Path(snapshot_path)
    if path.suffix == ".duckdb":
        return str(path.with_name(f"{path.stem}.writer.duckdb"))
    return str(path.with_name(f"{path.name}.writer.duckdb"))


class FinopsWarehouse(dg.ConfigurableResource):
    """DuckDB warehouse. Steps write `writer_path` (one at a time: the duckdb_write pool, then a file
    lock); analysts read `snapshot_path`, which `publish_snapshot` replaces atomically."""

    snapshot_path: str = Field(description="The analysts' DuckDB file, replaced atomically at the end of every run")
    writer_path: str = Field(default="", description="The file Dagster steps write; default <snapshot>.writer.duckdb")
    lock_timeout_s: float = Field(default=1800.0, description="How long a writer waits for another writer")
    memory_limit: str = Field(default="4GB", description="DuckDB memory_limit; larger work spills to disk")
    min_free_mb: int = Field(default=100, description="Free space a run needs beside the warehouse files, "
                                                      "on top of room for one more copy of the writer file")

    @property
    def writer_file(self) -> str:
        return self.writer_path or writer_path_for(self.snapshot_path)

    @property
    def staging_dir(self) -> Path:
        """Scratch space for staged input files, on the warehouse's disk."""
        path = Path(self.writer_file).parent
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _lock(self) -> FileLock:
        return FileLock(f"{self.writer_file}.lock", timeout=self.lock_timeout_s)

    def _connect(self, path: str, read_only: bool) -> duckdb.DuckDBPyConnection:
        config = {"memory_limit": self.memory_limit}
        if not read_only:
            config["temp_directory"] = f"{path}.tmp"
        conn = duckdb.connect(path, read_only=read_only, config=config)
        conn.execute("set TimeZone = 'UTC'")
        return conn

    @contextmanager
    def write(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write connection; the file lock makes writers outside the pool wait, not fail."""
        Path(self.writer_file).parent.mkdir(parents=True, exist_ok=True)
        with self._lock():
            conn = self._connect(self.writer_file, read_only=False)
            try:
                yield conn
            finally:
                conn.close()

    @contextmanager
    def read(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection to the writer file (for checks inside the duckdb_write pool)."""
        with self._lock():
            conn = self._connect(self.writer_file, read_only=True)
            try:
                yield conn
            finally:
                conn.close()

    def _free_space_needed(self) -> int:
        """The floor plus room for the publish to copy the writer file once more."""
        writer = Path(self.writer_file)
        return self.min_free_mb * MB + (writer.stat().st_size if writer.is_file() else 0)

    def check_location(self, data_dir: str | Path | None = None) -> None:
        """WarehouseLocationError (one line: path and reason) unless both files can be written and
        their disks have room; called before any work, so a bad path never fails a run halfway.
        Refuses to overwrite a file that is not a DuckDB database, and (given `data_dir`) any
        warehouse file inside the data folder but outside its warehouse/ sub-folder."""
        files = (Path(self.snapshot_path), Path(self.writer_file), Path(f"{self.writer_file}.lock"))
        for path in files[:2]:
            if not path.is_dir():
                check_duckdb_or_new(path)
        if data_dir is not None:
            for path in files:
                check_not_an_input(path, Path(data_dir))
        check_writable_file(Path(self.snapshot_path), self._free_space_needed(), rewritten_in_place=False)
        check_writable_file(Path(self.writer_file), self._free_space_needed())

    def publish_snapshot(self) -> int:
        """Copy the checkpointed writer file over the analysts' file with one rename; returns its size.

        An analyst with the old file open keeps reading the old copy (POSIX rename semantics);
        new connections see the new one. Never half a run. Refuses (PublishRefused) to replace a
        snapshot that has billing rows with one that has none; a failed copy leaves the old
        snapshot and no temporary file."""
        target = Path(self.snapshot_path)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        with self._lock():
            conn = self._connect(self.writer_file, read_only=False)
            try:
                conn.execute("checkpoint")
                new_rows = _billing_rows(conn)
            finally:
                conn.close()
            if (reason := publish_refusal(self._published_billing_rows(), new_rows)) is not None:
                raise PublishRefused(reason)
            check_free_space(target.parent, self._free_space_needed(), f"publishing {target}")
            try:
                shutil.copyfile(self.writer_file, staging)
                os.replace(staging, target)
            except BaseException:
                staging.unlink(missing_ok=True)
                raise
        return target.stat().st_size

    def _published_billing_rows(self) -> int | None:
        """focus_billing's rows in the published snapshot; None when there is none to read."""
        if not Path(self.snapshot_path).is_file():
            return None
        try:
            conn = duckdb.connect(self.snapshot_path, read_only=True)
        except duckdb.Error:
            return None  # unreadable: nothing an analyst could lose
        try:
            return _billing_rows(conn)
        finally:
            conn.close()


def _billing_rows(conn: duckdb.DuckDBPyConnection) -> int | None:
    if not conn.execute("select count(*) from duckdb_tables() where table_name = 'focus_billing'").fetchone()[0]:
        return None
    return conn.execute("select count(*) from focus_billing").fetchone()[0]
