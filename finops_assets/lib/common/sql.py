"""SQL lives beside the logic that runs it: finops_assets/lib/<domain>/sql/<verb>_<table>.sql, one
statement per file."""

from functools import cache
from importlib.resources import files


@cache
def load_sql(name: str, package: str = "finops_assets.lib") -> str:
    """Text of `<package>/<domain>/sql/<statement>.sql`, e.g. load_sql("billing/create_focus_billing")."""
    domain, statement = name.split("/", 1)
    return files(package).joinpath(domain, "sql", f"{statement}.sql").read_text()


def quote_identifier(name: str) -> str:
    """Double-quote a column name from an input file so any header text is safe in SQL."""
    return '"' + name.replace('"', '""') + '"'


def fetch_one(conn, query: str, params: dict | None = None) -> tuple:
    """The first row of a query, fully fetched: DuckDB 2.0 lets a half-read execute() result own the
    connection (ResourceInUseException on the next statement), so never use fetchone() alone."""
    rows = conn.execute(query, params or {}).fetchall()
    return rows[0] if rows else ()
