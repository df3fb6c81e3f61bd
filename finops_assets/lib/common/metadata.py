"""Small helpers for materialization metadata (pure: no Dagster import)."""

import base64

import polars as pl

from finops_assets.lib.common.text import md_cell, md_header, one_line


def markdown_table(frame: pl.DataFrame, limit: int = 10) -> str:
    """The first `limit` rows as a Markdown table, numbers rounded for reading. Cells come from the data
    (resource ids, tags, commit messages, git's errors), so every header and cell goes through
    lib/common/text.py: numbers and dates as they are, any text a code span with its `|` escaped (no
    markup, link, image or HTML, and one row stays one row of the same columns)."""
    if frame.is_empty():
        return "_no rows_"
    shown = frame.head(limit).with_columns(pl.col(pl.Float64).round(4))
    lines = ["| " + " | ".join(md_header(c) for c in shown.columns) + " |", "|" + "---|" * len(shown.columns)]
    lines += ["| " + " | ".join(md_cell(v) for v in row) + " |" for row in shown.iter_rows()]
    return "\n".join(lines)


def markdown_image(png: bytes, alt: str) -> str:
    """A PNG inline in Markdown (a data: URI), as Dagster's UI renders it in Markdown metadata.
    The bytes go into run storage with the event: keep them small."""
    text = one_line(alt, 200).replace("[", "(").replace("]", ")").replace("\\", "/")
    return f"![{text}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"

