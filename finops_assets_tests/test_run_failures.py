"""`finops-assets run` when something is wrong: one line on stderr, a non-zero exit, no work done,
and the analysts' published snapshot left as it was."""

import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from finops_assets_tests.conftest import official_sample
from finops_assets_tests.standins.filesystems import (
    read_only_file,
    read_only_folder,
    small_filesystem,
)
from finops_assets_tests.test_run_pipeline import table_digests


def run_cli(data_dir: Path, warehouse: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "FINOPS_DATA_DIR", "FINOPS_WAREHOUSE")}
    return subprocess.run([sys.executable, "-m", "finops_assets.cli", "run", "--data-dir", str(data_dir),
                           "--warehouse", str(warehouse)], env=env, capture_output=True, text=True, timeout=300)


def assert_one_line_failure(result: subprocess.CompletedProcess, *words: str, before_any_work: bool = True) -> str:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1, result.stderr[-3000:]
    assert not [line for line in lines if "Traceback" in line or "Stack Trace" in line or line.startswith("  File ")], \
        result.stderr[-3000:]
    assert "Execution of" not in result.stderr  # Dagster's failure events are not repeated
    if before_any_work:
        assert lines == errors, result.stderr[-3000:]
        assert "[1/2]" not in result.stdout  # nothing was started
    for word in words:
        assert word in errors[0], errors[0]
    return errors[0]


@pytest.fixture(scope="module")
def _published_once(tmp_path_factory) -> Path:
    """One good run of the official sample, shared: each test gets its own copy of the result."""
    root = tmp_path_factory.mktemp("published")
    (root / "data" / "billing").mkdir(parents=True)
    shutil.copy(official_sample(), root / "data" / "billing" / "focus_sample.csv")
    first = run_cli(root / "data", root / "warehouse" / "finops.duckdb")
    assert first.returncode == 0, first.stderr[-3000:]
    return root / "warehouse"


@pytest.fixture
def published(_published_once, warehouse_path):
    """A warehouse already published from the good sample, and its tables' digests."""
    shutil.copytree(_published_once, warehouse_path.parent)
    return table_digests(warehouse_path)


# ---- item 9: the warehouse path -------------------------------------------------------------

def test_read_only_warehouse_folder_fails_before_any_work(data_dir, tmp_path):
    with read_only_folder(tmp_path / "ro") as folder:
        result = run_cli(data_dir, folder / "finops.duckdb")
    assert_one_line_failure(result, str(folder), "read-only")


def test_read_only_writer_file_fails_before_any_work(data_dir, warehouse_path, published):
    writer = warehouse_path.with_name("finops.writer.duckdb")
    with read_only_file(writer):
        result = run_cli(data_dir, warehouse_path)
    assert_one_line_failure(result, str(writer), "read-only")
    assert table_digests(warehouse_path) == published


def test_warehouse_path_that_is_a_directory_fails_before_any_work(data_dir, tmp_path):
    target = tmp_path / "warehouse" / "finops.duckdb"
    target.mkdir(parents=True)
    assert_one_line_failure(run_cli(data_dir, target), str(target), "is a directory")


def test_warehouse_on_a_full_disk_fails_before_any_work(data_dir, tmp_path):
    with small_filesystem(tmp_path / "small", 1024) as folder:
        result = run_cli(data_dir, folder / "finops.duckdb")
        left = list(folder.iterdir())
    assert_one_line_failure(result, str(folder), "free")
    assert left == []  # not even a lock file


def test_a_warehouse_path_onto_the_bill_fails_before_any_work(data_dir):
    bill = data_dir / "billing" / "focus_sample.csv"
    before = bill.read_bytes()
    assert_one_line_failure(run_cli(data_dir, bill), str(bill), "not a DuckDB database")
    assert bill.read_bytes() == before
    assert sorted(p.name for p in bill.parent.iterdir()) == ["focus_sample.csv"]  # no writer, no lock


def test_a_new_warehouse_inside_an_input_folder_fails_before_any_work(data_dir):
    target = data_dir / "billing" / "2026-11.duckdb"
    assert_one_line_failure(run_cli(data_dir, target), str(target), "inside the data folder")
    assert sorted(p.name for p in target.parent.iterdir()) == ["focus_sample.csv"]


def test_a_text_file_as_warehouse_is_never_overwritten(data_dir, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("meeting notes\n")
    assert_one_line_failure(run_cli(data_dir, notes), str(notes), "not a DuckDB database")
    assert notes.read_text() == "meeting notes\n"
    assert not list(tmp_path.glob("notes.txt.*"))


def test_a_failing_step_is_reported_in_one_line(data_dir, warehouse_path):
    # A writer file with DuckDB's header but a corrupt body: focus_billing's connection fails inside the step.
    warehouse_path.parent.mkdir(parents=True)
    (warehouse_path.parent / "finops.writer.duckdb").write_bytes(b"\0" * 8 + b"DUCK" + b"corrupt" * 1000)
    line = assert_one_line_failure(run_cli(data_dir, warehouse_path), "focus_billing", before_any_work=False)
    assert "DagsterExecutionStepExecutionError" not in line


# ---- item 8: no billing to load --------------------------------------------------------------

def test_empty_data_folder_fails_and_keeps_the_published_snapshot(tmp_path, warehouse_path, published):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_one_line_failure(run_cli(empty, warehouse_path), "no billing folder", str(empty / "billing"))
    assert table_digests(warehouse_path) == published


def test_billing_folder_without_billing_files_fails_before_any_work(tmp_path, warehouse_path):
    folder = tmp_path / "readme_only"
    (folder / "billing").mkdir(parents=True)
    (folder / "billing" / "README.txt").write_text("exports go here\n")
    assert_one_line_failure(run_cli(folder, warehouse_path), "no billing file", str(folder / "billing"))
    assert not warehouse_path.exists()


def test_only_a_zero_byte_billing_file_fails_and_keeps_the_published_snapshot(tmp_path, warehouse_path, published):
    folder = tmp_path / "zero"
    (folder / "billing").mkdir(parents=True)
    (folder / "billing" / "export.csv").write_bytes(b"")
    assert_one_line_failure(run_cli(folder, warehouse_path), "billing", "export.csv")
    assert table_digests(warehouse_path) == published


def test_only_unloadable_billing_files_never_replace_the_published_snapshot(tmp_path, warehouse_path, published):
    folder = tmp_path / "broken"
    (folder / "billing").mkdir(parents=True)
    (folder / "billing" / "export.csv").write_text("ChargePeriodStart,ServiceName\n2024-09-01,x\n")
    assert_one_line_failure(run_cli(folder, warehouse_path), before_any_work=False)
    assert table_digests(warehouse_path) == published
    with duckdb.connect(str(warehouse_path), read_only=True) as conn:
        assert conn.sql("select count(*) from focus_billing").fetchall()[0][0] == 1000


def test_the_publish_step_refuses_an_empty_bill_and_says_why_in_the_log(tmp_path):
    import dagster as dg

    from finops_assets.defs.publishing.assets import analyst_snapshot
    from finops_assets.resources.warehouse import FinopsWarehouse

    warehouse = FinopsWarehouse(snapshot_path=str(tmp_path / "finops.duckdb"))
    with warehouse.write() as conn:
        conn.execute("create table focus_billing as select 1.5 as billed_cost")
    assert dg.materialize([analyst_snapshot], resources={"warehouse": warehouse}).success
    with warehouse.write() as conn:
        conn.execute("delete from focus_billing")
    with dg.instance_for_test() as instance:
        result = dg.materialize([analyst_snapshot], resources={"warehouse": warehouse}, instance=instance,
                                raise_on_error=False)
        errors = [e.user_message for e in instance.all_logs(result.run_id)
                  if e.level == logging.ERROR and e.dagster_event is None]
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data
    assert "refused to publish" in failure.user_failure_data.description
    assert any("refused to publish" in message and "1 rows" in message for message in errors), errors
    with duckdb.connect(warehouse.snapshot_path, read_only=True) as conn:
        assert conn.sql("select * from focus_billing").fetchall() == [(1.5,)]


def test_a_failed_step_and_the_steps_it_abandons_make_one_line(capfd):
    import errno

    import dagster as dg

    from finops_assets.cli import RunFailed, _execute

    @dg.asset
    def upstream(context):
        context.log.info("starting")
        raise OSError(errno.ENOSPC, "No space left on device", "/x/finops.writer.duckdb")

    @dg.asset(deps=[upstream])
    def downstream():
        pass

    @dg.asset(deps=[downstream])
    def further():
        pass

    job = dg.Definitions(assets=[upstream, downstream, further], jobs=[dg.define_asset_job("j")]).resolve_job_def("j")
    with pytest.raises(RunFailed) as failed:
        _execute(job, dg.DagsterInstance.ephemeral(), ["upstream", "downstream", "further"])
    assert str(failed.value) == "upstream: OSError: [Errno 28] No space left on device: '/x/finops.writer.duckdb'"
    assert capfd.readouterr().err.splitlines() == ["upstream: starting"]
