"""Small helpers for materialization metadata (pure: no Dagster import)."""

import polars as pl


def markdown_table(frame: pl.DataFrame, limit: int = 10) -> str:
    """The first `limit` rows as a Markdown table, numbers rounded for reading."""
    if frame.is_empty():
        return "_no rows_"
    shown = frame.head(limit).with_columns(pl.col(pl.Float64).round(4))
    lines = ["| " + " | ".join(shown.columns) + " |", "|" + "---|" * len(shown.columns)]
    lines += ["| " + " | ".join("" if v is None else str(v) for v in row) + " |" for row in shown.iter_rows()]
    return "\n".join(lines)
