import duckdb
import pytest

from finops_assets.resources.warehouse import FinopsWarehouse, writer_path_for


def test_writer_file_sits_beside_the_snapshot():
    assert writer_path_for("/x/finops.duckdb") == "/x/finops.writer.duckdb"
    # Any other name still gets a .duckdb writer, and never the one of a finops.duckdb beside it.
    assert writer_path_for("/x/finops.db") == "/x/finops.db.writer.duckdb"
    assert writer_path_for("/x/finops") == "/x/finops.writer.duckdb"
    assert FinopsWarehouse(snapshot_path="/x/a.duckdb", writer_path="/y/w.duckdb").writer_file == "/y/w.duckdb"


def test_publish_replaces_the_snapshot_while_an_analyst_keeps_the_old_one(tmp_path):
    warehouse = FinopsWarehouse(snapshot_path=str(tmp_path / "finops.duckdb"))
    with warehouse.write() as conn:
        conn.execute("create table t as select 1 as v")
    warehouse.publish_snapshot()
    analyst = duckdb.connect(warehouse.snapshot_path, read_only=True)
    with warehouse.write() as conn:  # the writer is never blocked by the analyst
        conn.execute("insert into t values (2)")
    warehouse.publish_snapshot()
    assert analyst.sql("select count(*) from t").fetchall() == [(1,)]  # a stable old snapshot
    analyst.close()
    fresh = duckdb.connect(warehouse.snapshot_path, read_only=True)
    assert fresh.sql("select count(*) from t").fetchall() == [(2,)]
    fresh.close()
    assert not list(tmp_path.glob(".*.tmp"))  # no staging file left behind


def test_a_second_writer_waits_for_the_lock_instead_of_failing(tmp_path):
    warehouse = FinopsWarehouse(snapshot_path=str(tmp_path / "finops.duckdb"), lock_timeout_s=0.2)
    with warehouse.write():
        from filelock import Timeout
        with pytest.raises(Timeout):  # same lock, taken elsewhere: it waits (here: times out quickly)
            with FinopsWarehouse(snapshot_path=warehouse.snapshot_path, lock_timeout_s=0.2).write():
                pass


def _published_warehouse(tmp_path, snapshot_dir=None, **fields) -> FinopsWarehouse:
    """A warehouse whose snapshot was published once with focus_billing holding one row."""
    snapshot_dir = snapshot_dir or tmp_path
    warehouse = FinopsWarehouse(snapshot_path=str(snapshot_dir / "finops.duckdb"),
                                writer_path=str(tmp_path / "writer.duckdb"), **fields)
    with warehouse.write() as conn:
        conn.execute("create table focus_billing as select 1.5 as billed_cost")
    warehouse.publish_snapshot()
    return warehouse


def _snapshot_rows(warehouse: FinopsWarehouse) -> list:
    with duckdb.connect(warehouse.snapshot_path, read_only=True) as conn:
        return conn.sql("select * from focus_billing").fetchall()


def test_a_failed_copy_removes_its_temporary_file_and_keeps_the_old_snapshot(tmp_path, monkeypatch):
    import errno
    import shutil

    warehouse = _published_warehouse(tmp_path)
    with warehouse.write() as conn:
        conn.execute("insert into focus_billing values (2.5)")

    def copy_until_the_disk_is_full(source, target, *args, **kwargs):
        with open(source, "rb") as src, open(target, "wb") as dst:
            dst.write(src.read(4096))  # half a copy, as a real full disk leaves it
        raise OSError(errno.ENOSPC, "No space left on device", str(target))

    monkeypatch.setattr(shutil, "copyfile", copy_until_the_disk_is_full)
    with pytest.raises(OSError, match="No space left"):
        warehouse.publish_snapshot()
    assert _snapshot_rows(warehouse) == [(1.5,)]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_publish_refuses_before_copying_when_the_snapshot_disk_lacks_room(tmp_path):
    from finops_assets.lib.publishing.snapshot import WarehouseLocationError
    from finops_assets_tests.standins.filesystems import small_filesystem

    with small_filesystem(tmp_path / "small", 3 * 1024) as folder:
        warehouse = _published_warehouse(tmp_path, snapshot_dir=folder, min_free_mb=0)
        with warehouse.write() as conn:  # a writer file larger than the small disk
            conn.execute("create table filler as select md5(random()::varchar) as h from range(300000)")  # ~6 MB
        with pytest.raises(WarehouseLocationError, match="free") as refused:
            warehouse.publish_snapshot()
        assert str(folder) in str(refused.value) and "\n" not in str(refused.value)
        assert _snapshot_rows(warehouse) == [(1.5,)]
        assert sorted(p.name for p in folder.iterdir()) == ["finops.duckdb"]


def test_publish_never_replaces_a_snapshot_with_billing_rows_by_an_empty_one(tmp_path):
    from finops_assets.lib.publishing.snapshot import PublishRefused

    warehouse = _published_warehouse(tmp_path)
    with warehouse.write() as conn:
        conn.execute("delete from focus_billing")
    with pytest.raises(PublishRefused, match="focus_billing") as refused:
        warehouse.publish_snapshot()
    assert "1 row" in str(refused.value)
    assert _snapshot_rows(warehouse) == [(1.5,)]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".finops")]


def test_an_empty_bill_may_be_published_where_there_was_none(tmp_path):
    warehouse = FinopsWarehouse(snapshot_path=str(tmp_path / "finops.duckdb"))
    with warehouse.write() as conn:
        conn.execute("create table focus_billing (billed_cost double)")
    warehouse.publish_snapshot()  # a first snapshot, or one that was empty before, is fine
    warehouse.publish_snapshot()
    assert _snapshot_rows(warehouse) == []


def test_check_location_names_the_path_and_the_reason(tmp_path):
    from finops_assets.lib.publishing.snapshot import WarehouseLocationError
    from finops_assets_tests.standins.filesystems import read_only_folder

    directory = tmp_path / "dir.duckdb"
    directory.mkdir()
    with pytest.raises(WarehouseLocationError, match="is a directory"):
        FinopsWarehouse(snapshot_path=str(directory)).check_location()
    (tmp_path / "file").write_text("x")
    with pytest.raises(WarehouseLocationError, match="not a folder"):
        FinopsWarehouse(snapshot_path=str(tmp_path / "file" / "finops.duckdb")).check_location()
    with read_only_folder(tmp_path / "ro") as folder:
        with pytest.raises(WarehouseLocationError, match="read-only"):
            FinopsWarehouse(snapshot_path=str(folder / "finops.duckdb")).check_location()
    with pytest.raises(WarehouseLocationError, match="free"):
        FinopsWarehouse(snapshot_path=str(tmp_path / "ok.duckdb"), min_free_mb=10**9).check_location()
    FinopsWarehouse(snapshot_path=str(tmp_path / "ok.duckdb")).check_location()
    assert not list(tmp_path.glob("ok*")) and not list(tmp_path.glob(".*"))  # a check writes nothing that stays


def test_duckdb_writes_its_magic_bytes_at_offset_8(tmp_path):
    from finops_assets.lib.publishing.snapshot import DUCKDB_MAGIC, DUCKDB_MAGIC_OFFSET

    for name, sql in (("empty.duckdb", None), ("table.duckdb", "create table t as select 1 as x")):
        with duckdb.connect(str(tmp_path / name)) as conn:
            if sql:
                conn.execute(sql)
        header = (tmp_path / name).read_bytes()[:DUCKDB_MAGIC_OFFSET + len(DUCKDB_MAGIC)]
        assert header[DUCKDB_MAGIC_OFFSET:] == DUCKDB_MAGIC, header


def test_check_location_refuses_to_overwrite_a_file_that_is_not_a_duckdb_database(tmp_path):
    from finops_assets.lib.publishing.snapshot import WarehouseLocationError

    notes = tmp_path / "notes.txt"
    notes.write_text("my notes, not a database\n")
    with pytest.raises(WarehouseLocationError, match=f"{notes}: exists and is not a DuckDB database"):
        FinopsWarehouse(snapshot_path=str(notes)).check_location()
    assert notes.read_text() == "my notes, not a database\n"
    writer = tmp_path / "w.duckdb"
    writer.write_bytes(b"short")
    with pytest.raises(WarehouseLocationError, match=f"{writer}: exists and is not a DuckDB database"):
        FinopsWarehouse(snapshot_path=str(tmp_path / "ok.duckdb"), writer_path=str(writer)).check_location()
    # A real DuckDB file, an empty file and no file are all fine.
    duckdb.connect(str(tmp_path / "real.duckdb")).close()
    FinopsWarehouse(snapshot_path=str(tmp_path / "real.duckdb")).check_location()
    (tmp_path / "empty.duckdb").write_bytes(b"")
    FinopsWarehouse(snapshot_path=str(tmp_path / "empty.duckdb")).check_location()
    FinopsWarehouse(snapshot_path=str(tmp_path / "absent.duckdb")).check_location()


def test_check_location_refuses_warehouse_files_inside_the_data_folder(tmp_path):
    from finops_assets.lib.publishing.snapshot import WarehouseLocationError

    data = tmp_path / "data"
    (data / "billing").mkdir(parents=True)
    for snapshot in (data / "billing" / "2026-11.duckdb", data / "finops.duckdb", data / "otel" / "x.duckdb"):
        with pytest.raises(WarehouseLocationError, match=f"{snapshot}: inside the data folder {data}"):
            FinopsWarehouse(snapshot_path=str(snapshot)).check_location(data)
    # The writer (and so its lock) is checked too, and symlinks do not get round it.
    writer = data / "deployments" / "w.duckdb"
    with pytest.raises(WarehouseLocationError, match=f"{writer}: inside the data folder"):
        FinopsWarehouse(snapshot_path=str(data / "warehouse" / "finops.duckdb"),
                        writer_path=str(writer)).check_location(data)
    (tmp_path / "link").symlink_to(data / "billing")
    with pytest.raises(WarehouseLocationError, match="inside the data folder"):
        FinopsWarehouse(snapshot_path=str(tmp_path / "link" / "finops.duckdb")).check_location(data)
    # The default place, data/warehouse/finops.duckdb, and anywhere outside the data folder are fine.
    FinopsWarehouse(snapshot_path=str(data / "warehouse" / "finops.duckdb")).check_location(data)
    FinopsWarehouse(snapshot_path=str(tmp_path / "elsewhere" / "finops.duckdb")).check_location(data)
