"""The few lines `finops-assets run` ends with, read from the published snapshot."""

from pathlib import Path

import duckdb

from finops_assets.lib.common.sql import load_sql

TOP = 3  # rules shown by name; the rest are summed


def _rows(conn, name: str) -> list[tuple]:
    try:
        return conn.execute(load_sql(f"publishing/{name}")).fetchall()
    except duckdb.CatalogException:  # a table this run did not publish (e.g. no billing rows)
        return []


def _top(counts: list[tuple[str, int]]) -> str:
    shown = ", ".join(f"{name} {n}" for name, n in counts[:TOP])
    rest = sum(n for _, n in counts[TOP:])
    return shown + (f", {len(counts) - TOP} other rule(s) {rest}" if rest else "")


def run_summary(snapshot: Path) -> list[str]:
    with duckdb.connect(str(snapshot), read_only=True) as conn:
        files = {status: (count, superseded) for status, count, superseded in _rows(conn, "select_summary_files")}
        quarantine = _rows(conn, "select_summary_quarantine")
        causes = _rows(conn, "select_summary_causes")
        fixes = _rows(conn, "select_summary_fixes")
    loaded, superseded = files.get("loaded", (0, 0))
    failed = sum(count for status, (count, _) in files.items() if status != "loaded")
    analyses, with_fix = fixes[0] if fixes else (0, 0)
    quarantined = sum(n for _, n in quarantine)
    return [
        f"billing files: {loaded} loaded, {failed} failed; {superseded} rows superseded by newer deliveries",
        f"rows quarantined: {quarantined}" + (f" ({_top(quarantine)})" if quarantine else ""),
        f"anomalies: {sum(n for _, n in causes)}" + (" (" + ", ".join(f"{p} {n}" for p, n in causes) + ")" if causes else ""),
        f"diff analyses: {analyses}, {with_fix} with a fix",
        f"snapshot: {snapshot}",
    ]
