"""One way to write several statements as one change: all of them or none."""

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb


@contextmanager
def transaction(conn: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """Commit when the block ends, roll back (and re-raise) when it raises, so a failed step never
    leaves half a replacement (rows deleted, new ones not inserted) in the warehouse."""
    conn.begin()
    try:
        yield conn
    except BaseException:
        conn.rollback()
        raise
    conn.commit()
