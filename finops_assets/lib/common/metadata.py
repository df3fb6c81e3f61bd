"""Small helpers for materialization metadata (pure: no Dagster import)."""

import base64
import re
import unicodedata
from decimal import ROUND_HALF_UP, Decimal

import polars as pl


def markdown_table(frame: pl.DataFrame, limit: int = 10) -> str:
    """The first `limit` rows as a Markdown table, numbers rounded for reading."""
    if frame.is_empty():
        return "_no rows_"
    shown = frame.head(limit).with_columns(pl.col(pl.Float64).round(4))
    lines = ["| " + " | ".join(shown.columns) + " |", "|" + "---|" * len(shown.columns)]
    lines += ["| " + " | ".join("" if v is None else str(v) for v in row) + " |" for row in shown.iter_rows()]
    return "\n".join(lines)


# Minor units of the currencies whose cents are not two places (ISO 4217); every other code gets two.
_MINOR_UNITS = {"JPY": 0, "KRW": 0, "CLP": 0, "ISK": 0, "VND": 0, "UGX": 0, "PYG": 0,
                "BHD": 3, "KWD": 3, "OMR": 3, "JOD": 3, "TND": 3, "LYD": 3, "IQD": 3}


def format_money(amount: Decimal | float | int | None, currency: str | None) -> str:
    """An amount for people: 'USD 1,234.56', 'USD -1,234.56', 'JPY 1,235'; the currency's minor
    units (two places unless ISO 4217 says otherwise), rounded half up from the exact value (a
    Decimal stays exact; a float is read as the shortest text that round-trips). Without a currency
    just the number; None is 'n/a' (no amount, not zero)."""
    if amount is None:
        return "n/a"
    value = amount if isinstance(amount, Decimal) else Decimal(str(amount))
    code = (currency or "").strip().upper()
    prefix = f"{code} " if code else ""
    if not value.is_finite():
        return f"{prefix}{value}"
    places = _MINOR_UNITS.get(code, 2)
    rounded = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    if rounded == 0:
        rounded = abs(rounded)  # -0.001 is shown as 0.00, not -0.00
    return f"{prefix}{rounded:,.{places}f}"


def reporting_currency(conn) -> str | None:
    """The currency every amount in the warehouse is in: ingestion converts each row into it and
    records an exchange rate of 1.0 on the rows billed in it (lib/billing/ingest.py). None before a
    bill is loaded (no focus_billing, or no row)."""
    if not conn.execute("select count(*) from duckdb_tables() where table_name = 'focus_billing'").fetchall()[0][0]:
        return None
    rows = conn.execute("select billing_currency from focus_billing where not is_duplicate and exchange_rate = 1.0 "
                        "group by 1 order by count(*) desc, 1 limit 1").fetchall()
    return rows[0][0] if rows else None


def markdown_image(png: bytes, alt: str) -> str:
    """A PNG inline in Markdown (a data: URI), as Dagster's UI renders it in Markdown metadata.
    The bytes go into run storage with the event: keep them small."""
    text = alt.replace("[", "(").replace("]", ")").replace("\n", " ")
    return f"![{text}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"


# Inline markup (the text never starts a line: the caller prefixes it, so no list or heading).
_MARKDOWN_SPECIALS = re.compile(r"([\\`*_\[\]#!|~>])")


def md_escape(value: object, limit: int = 500) -> str:
    """Text from the data (resource ids, commit messages) as literal Markdown inside a line: every
    character of inline markup backslash-escaped, `<` and `&` as entities (no HTML), line breaks
    and control characters as spaces."""
    text = " ".join("".join(" " if unicodedata.category(c)[0] == "C" else c for c in str(value)).split())
    text = text if len(text) <= limit else text[: limit - 1] + "\u2026"
    return _MARKDOWN_SPECIALS.sub(r"\\\1", text.replace("&", "&amp;").replace("<", "&lt;"))
