"""The one transaction helper: all of a block's statements land, or none."""

import duckdb
import pytest

from finops_assets.lib.common.transactions import transaction


def test_a_block_that_raises_leaves_the_table_as_it_was(tmp_path):
    conn = duckdb.connect(str(tmp_path / "w.duckdb"))
    conn.execute("create table t as select 1 as x")
    with pytest.raises(RuntimeError):
        with transaction(conn):
            conn.execute("delete from t")
            conn.execute("insert into t values (2)")
            raise RuntimeError("the step failed half way")
    assert conn.execute("select x from t").fetchall() == [(1,)]
    with transaction(conn):
        conn.execute("delete from t")
        conn.execute("insert into t values (3)")
    assert conn.execute("select x from t").fetchall() == [(3,)]
