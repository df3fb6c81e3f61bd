from pathlib import Path

import duckdb
import pytest


@pytest.fixture
def conn(tmp_path: Path):
    """A warehouse file of the test's own, opened read-write (the ingestion works on a connection)."""
    connection = duckdb.connect(str(tmp_path / "w.duckdb"))
    yield connection
    connection.close()
