"""Load FOCUS billing files into the warehouse: accepted rows, quarantined rows, a per-file ledger.

Works on an open DuckDB connection (the warehouse resource owns it), one file at a time, each in
its own transaction, so one unreadable file never stops the others, and one bad row never fails
its file: it goes to billing_quarantine with its record number and rule. Files are incremental: an
unchanged file (same size and mtime, same settings) is skipped; a changed one is replaced.
"""

import csv
import gzip
import json
import logging
import math
import os
import re
import tempfile
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.parquet as pq

from finops_assets.lib.billing.currency import (
    record_reporting_currency,
    reporting_currency,
)
from finops_assets.lib.billing.focus_schema import (
    NUMERIC_COLUMNS,
    SOURCE_NAMES,
    TIMESTAMP_COLUMNS,
    FocusFileError,
    map_columns,
)
from finops_assets.lib.billing.owners import OwnerRules, resolve_owner
from finops_assets.lib.common.sql import fetch_one, load_sql, quote_identifier
from finops_assets.lib.common.transactions import transaction

log = logging.getLogger(__name__)

BILLING_SUFFIXES = (".csv", ".csv.gz", ".parquet")
_TEXT_TYPES = ("VARCHAR",)
# Bumped when the way rows are loaded changes (identity, money type, the recorded reporting currency
# of version 3): every file is reloaded once.
INGEST_VERSION = 3
# No single line item is this large: a $1e300 row is a broken export, not spend (FINOPS_MAX_LINE_ITEM_COST).
DEFAULT_MAX_LINE_ITEM_COST = 1e9
# DECIMAL(38, 12) holds 26 integer digits; a larger bound would let one row overflow a day's sum.
MAX_LINE_ITEM_COST_LIMIT = 1e15
# A delivery's part files differ only in their part number: the digits after "part" (part-00001,
# part_0_0001, Spark's part-00000-<uuid>-c000, part-00001-of-00003) or, failing that, one trailing
# number (export-00002, report-3, bill-2026-11-15-1). Dates (2026-11, 2026-11-15, 20261115) are
# never part numbers: they name the delivery.
_DATE = re.compile(r"(?<!\d)(?:19|20)\d{2}(?:-(?:0[1-9]|1[0-2])(?:-(?:0[1-9]|[12]\d|3[01]))?"
                   r"|_(?:0[1-9]|1[0-2])(?:_(?:0[1-9]|[12]\d|3[01]))?"
                   r"|(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])?)(?!\d)")
_PART_NUMBER = re.compile(r"(part)[-_. ]?\d+(?:[-_.]\d+(?![a-z\d]))*(?![a-z\d])")
_TRAILING_NUMBER = re.compile(r"[-_. ]\d+$")
_CSV_DELIMITERS = (",", ";", "\t", "|")
# DuckDB's CSV reader error types -> our quarantine rules.
_CSV_REJECT_RULES = {
    "TOO MANY COLUMNS": "field_count_mismatch",
    "MISSING COLUMNS": "field_count_mismatch",
    "INVALID ENCODING": "encoding_invalid",
    "INVALID UNICODE": "encoding_invalid",
    "LINE SIZE OVER MAXIMUM": "line_too_long",
    "UNQUOTED VALUE": "quote_unclosed",
}


@dataclass(frozen=True)
class IngestSettings:
    owner_rules: OwnerRules = OwnerRules()
    reporting_currency: str | None = None  # None: USD if the bill has USD rows, else the first file's
    exchange_rates: dict[str, float] = field(default_factory=dict)  # currency -> reporting units per unit
    # currency -> why its configured rate was refused (its rows are quarantined as exchange_rate_invalid)
    refused_exchange_rates: dict[str, str] = field(default_factory=dict)
    max_line_item_cost: float = DEFAULT_MAX_LINE_ITEM_COST

    def __post_init__(self):
        if self.reporting_currency is not None:
            # "usd " would read every USD row as another currency and quarantine the whole bill.
            currency = self.reporting_currency.strip().upper()
            if not re.fullmatch(r"[A-Z]{3}", currency):
                raise ValueError(f"reporting currency must be a 3-letter ISO 4217 code, got {self.reporting_currency!r}")
            object.__setattr__(self, "reporting_currency", currency)
        for currency, rate in self.exchange_rates.items():
            if not (isinstance(rate, (int, float)) and math.isfinite(rate) and rate > 0):
                raise ValueError(f"exchange rate for {currency} must be a finite number > 0, got {rate!r}")
        if not (math.isfinite(self.max_line_item_cost) and 0 < self.max_line_item_cost <= MAX_LINE_ITEM_COST_LIMIT):
            raise ValueError(f"max line item cost must be > 0 and <= {MAX_LINE_ITEM_COST_LIMIT:g}, "
                             f"got {self.max_line_item_cost!r}")

    def fingerprint(self) -> str:
        """Changes whenever settings that shape loaded rows change, forcing a reload."""
        return json.dumps(
            [INGEST_VERSION, self.owner_rules.department_keys, self.owner_rules.team_keys, self.reporting_currency,
             sorted(self.exchange_rates.items()), sorted(self.refused_exchange_rates.items()),
             self.max_line_item_cost]
        )


@dataclass
class FileOutcome:
    source_file: str
    status: str  # loaded | unchanged | failed | removed
    rows_read: int = 0
    rows_accepted: int = 0
    rows_quarantined: int = 0
    error: str | None = None


@dataclass(frozen=True)
class Conversion:
    """Rows of one currency converted into the reporting currency (for the run summary)."""
    currency: str
    rate: float
    rows: int
    converted_billed_cost: float


@dataclass
class IngestReport:
    files: list[FileOutcome]
    reporting_currency: str | None
    conversions: list[Conversion] = field(default_factory=list)
    previous_reporting_currency: str | None = None  # set when this run changed it (every file reloaded)
    unconverted: dict[str, int] = field(default_factory=dict)  # currency -> rows quarantined for want of a rate

    @property
    def failed(self) -> list[FileOutcome]:
        return [f for f in self.files if f.status == "failed"]


def discover_billing_files(billing_dir: Path, refused: list[str] | None = None) -> list[Path]:
    """Every *.csv, *.csv.gz and *.parquet under billing_dir (sub-folders and symlinks included),
    in a stable order. Nothing is skipped without a word in `refused`: a symlink (to a file or a
    folder) that leads outside the data folder (billing_dir's parent), and a file in another
    format (.zip, .bz2, .xlsx, ...). Hidden files and providers' manifests are not bills."""
    if not billing_dir.is_dir():
        return []
    refused = [] if refused is None else refused
    allowed = (billing_dir.parent.resolve(), billing_dir.resolve())
    found: list[Path] = []
    seen_folders: set[Path] = set()

    def inside(path: Path) -> bool:
        return any(path.resolve().is_relative_to(root) for root in allowed)

    for folder, subfolders, names in os.walk(billing_dir, followlinks=True):
        real = Path(folder).resolve()
        if real in seen_folders:  # a link back up the tree
            subfolders[:] = []
            continue
        seen_folders.add(real)
        for sub in list(subfolders):
            if sub.startswith(".") or not inside(Path(folder) / sub):
                subfolders.remove(sub)
                if not sub.startswith("."):
                    refused.append(f"{Path(folder) / sub}: a symlink to a folder outside the data folder "
                                   f"{allowed[0]}: not read")
        subfolders.sort()
        for name in sorted(names):
            path = Path(folder) / name
            if name.startswith(".") or "manifest" in name.lower():
                continue
            if not inside(path):
                refused.append(f"{path}: a symlink to a path outside the data folder {allowed[0]}: not read")
            elif not name.lower().endswith(BILLING_SUFFIXES):
                refused.append(f"{path}: not a billing format that is read (.csv, .csv.gz, .parquet): not read")
            elif path.is_file():
                found.append(path)
    return sorted(found)


def delivery_of(path: Path) -> str:
    """The delivery a file belongs to: its folder and its name without the part number, so
    part-00001.csv and part-00002.csv are one delivery, and 2026-10.csv and 2026-11.csv are two. The
    format stays in the name: 2026-11.csv and its gzipped copy 2026-11.csv.gz are two deliveries
    (the newer supersedes the older), never parts of one (which would count both)."""
    name = path.name.lower()
    dates: list[str] = []
    masked = _DATE.sub(lambda m: dates.append(m.group(0)) or f"\x00{len(dates) - 1}\x00", name)
    stem, dot, suffix = masked.partition(".")
    if _PART_NUMBER.search(stem):
        stem = _PART_NUMBER.sub(r"\1#", stem)
    else:
        stem = _TRAILING_NUMBER.sub("", stem)
    key = re.sub("\x00(\\d+)\x00", lambda m: dates[int(m.group(1))], stem + dot + suffix)
    return f"{path.parent}/{key}"


def file_format(path: Path) -> str:
    return "parquet" if path.name.lower().endswith(".parquet") else "csv"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class CsvReject:
    """A CSV record the reader could not split into the header's fields."""
    record: int  # 1 = first data row after the header
    rule: str
    message: str
    line: str


def _csv_header(path: Path) -> tuple[str, list[str]]:
    """The header's delimiter and column names, read here rather than sniffed: sniffing lets one
    ragged row, an open quote or a long line near the top change the dialect or fail the file."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as handle:
            raw = handle.readline(1 << 20)
    except (OSError, EOFError, zlib.error) as exc:
        raise FocusFileError(str(path), f"cannot be read: {exc}") from exc
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in raw:
        raise FocusFileError(str(path), "is not UTF-8 text (it looks like UTF-16): export it as UTF-8")
    try:
        header = raw.decode("utf-8-sig").rstrip("\r\n")
    except UnicodeDecodeError as exc:
        raise FocusFileError(str(path), f"has a header that is not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    delimiter = max(_CSV_DELIMITERS, key=lambda d: (header.count(d), d == ","))
    names = next(csv.reader([header], delimiter=delimiter), [])
    map_columns(str(path), names)  # missing or ambiguous mandatory columns fail before the file is read
    return delimiter, names


def _csv_reader(path: Path, delimiter: str, names: list[str]) -> str:
    # all_varchar: every value is validated by our own rules, never silently coerced by a sniffer.
    # store_rejects: a record with too many or too few fields, bytes that are not UTF-8, or a line
    # over 2 MB is kept aside (reject table) instead of failing the file.
    unique: list[str] = []
    for name in names:  # DuckDB's own renaming of repeated names
        candidate, n = name, 0
        while candidate.lower() in {u.lower() for u in unique}:
            n += 1
            candidate = f"{name}_{n}"
        unique.append(candidate)
    columns = "{" + ", ".join(f"{_literal(n)}: 'VARCHAR'" for n in unique) + "}"
    return (
        f"read_csv({_literal(str(path))}, header = true, auto_detect = false, columns = {columns}, "
        f"delim = {_literal(delimiter)}, quote = '\"', escape = '\"', nullstr = ['NULL', ''], compression = 'auto', "
        "store_rejects = true, rejects_table = 'focus_csv_rejects', rejects_scan = 'focus_csv_reject_scans')"
    )


def stage_csv(conn: duckdb.DuckDBPyConnection, path: Path, staging_dir: Path) -> tuple[Path, list[CsvReject]]:
    """Copy a CSV once into a temporary Parquet file, in file order (DuckDB preserves insertion
    order), so every later pass is a fast parallel Parquet scan. Returns it with the records the
    reader rejected; the staged rows' record numbers skip those (see create_source_view)."""
    staged = staging_dir / f"{abs(hash(str(path)))}.parquet"
    delimiter, names = _csv_header(path)
    conn.execute("drop table if exists focus_csv_rejects")
    conn.execute("drop table if exists focus_csv_reject_scans")
    try:
        conn.execute(f"copy (select * from {_csv_reader(path, delimiter, names)}) to {_literal(str(staged))} "
                     "(format parquet, compression lz4_raw)")
        found = conn.execute(
            # An open quote is the root cause of the field-count errors it brings: listed first.
            "select * from (select line - 1 as record, error_type::varchar as kind, first(error_message), "
            "first(csv_line) from focus_csv_rejects group by all) order by record, kind <> 'UNQUOTED VALUE', kind"
        ).fetchall()
    except duckdb.Error as exc:
        raise FocusFileError(str(path), f"cannot be read: {str(exc).splitlines()[0]}") from exc
    for record, error_type, _, text in found:
        if error_type == "UNQUOTED VALUE" and "\n" in (text or "").rstrip("\r\n"):
            # The quote never closes, so the records after it were read into this one: the reader
            # cannot tell where they end. Quarantining it would bury them; the file fails instead.
            raise FocusFileError(str(path), f"record {record} opens a quote that is never closed, so the records "
                                            "after it cannot be told apart: fix or re-export the file")
    by_record: dict[int, CsvReject] = {}
    for record, error_type, message, text in found:
        rule = _CSV_REJECT_RULES.get(error_type, "csv_record_invalid")
        if record not in by_record:  # one record, one quarantine row (its first problem)
            by_record[record] = CsvReject(int(record), rule, f"{rule}: {(message or error_type).splitlines()[0]}",
                                          text or "")
    return staged, list(by_record.values())


def _canonical_expr(canonical: str, source: str | None, source_type: str | None, default_currency: str | None) -> str:
    if source is None:
        if canonical == "billing_currency" and default_currency:
            # A bill without the column is in the reporting currency (None: not known yet, so it
            # does not vote on which currency that is).
            return f"{_literal(default_currency)}::varchar"
        return "null::varchar"
    col = f"src.{quote_identifier(source)}"
    typed_natively = source_type not in _TEXT_TYPES and (canonical in NUMERIC_COLUMNS or canonical in TIMESTAMP_COLUMNS)
    if typed_natively:
        return col
    if canonical == "tags" and source_type is not None and source_type.startswith(("MAP", "STRUCT")):
        # Parquet exports may type Tags as a map (AWS does): as JSON text it reads like a CSV's Tags.
        return f"to_json({col})::varchar"
    # 'NULL' and '' both mean null in real exports (the FOCUS sample has both); the spec's own
    # example rows write 'null'.
    return f"nullif(nullif(nullif(trim({col}::varchar), ''), 'NULL'), 'null')"


def create_source_view(conn: duckdb.DuckDBPyConnection, path: Path, readable: Path,
                       default_currency: str | None, rejects: list[CsvReject] = ()) -> tuple[list[str], object]:
    """Temp view focus_source over `readable` (the Parquet file, or a CSV's staged copy): canonical
    columns, source_row (1 = first data row, counting rejected CSV records) and the raw record.
    Errors name `path`."""
    reader = f"read_parquet({_literal(str(readable))}, file_row_number = true)"
    try:
        described = conn.sql(f"describe select * from {reader}").fetchall()
    except duckdb.Error as exc:
        problem = str(exc).splitlines()[0]
        if file_format(path) == "parquet":
            raise FocusFileError(str(path), f"is not a readable Parquet file: {problem}") from exc
        raise FocusFileError(str(path), f"cannot be read: {problem}") from exc
    types = {name: typ for name, typ, *_ in described if name != "file_row_number"}
    header = list(types)
    if readable == path:
        # DuckDB renames a repeated column (BilledCost_1); the file's own names show the ambiguity.
        map_columns(str(path), pq.read_schema(path).names)
    mapping = map_columns(str(path), header)
    selects = [
        f"{_canonical_expr(c, mapping.source_for.get(c), types.get(mapping.source_for.get(c, '')), default_currency)} as {c}"
        for c in SOURCE_NAMES
    ]
    raw = "to_json(struct_pack(" + ", ".join(
        f"{quote_identifier(h)} := src.{quote_identifier(h)}" for h in header
    ) + "))"
    # The k-th staged row is the k-th record that was not rejected: k plus the rejects before it.
    # With r_j the j-th rejected record, those are the j with r_j - j < k.
    offsets = ", ".join(str(r.record - j) for j, r in enumerate(sorted(rejects, key=lambda r: r.record), start=1))
    source_row = (f"src.file_row_number + 1 + list_count(list_filter([{offsets}], lambda o: o < src.file_row_number + 1))"
                  if rejects else "src.file_row_number + 1")
    conn.execute(
        f"create or replace temp view focus_source as select {source_row} as source_row, "
        f"{', '.join(selects)}, {raw} as raw_record from {reader} src"
    )
    # Native TIMESTAMP columns (Parquet) are UTC already: skip the text-to-timestamptz path.
    native_timestamps = all(
        types.get(mapping.source_for.get(c, ""), "VARCHAR").startswith("TIMESTAMP") for c in TIMESTAMP_COLUMNS
        if c in mapping.source_for
    )
    conn.execute(load_sql("billing/create_utc_timestamp_macro_native" if native_timestamps
                          else "billing/create_utc_timestamp_macro_text"))
    return header, mapping


def _profile(conn: duckdb.DuckDBPyConnection, path: Path) -> pl.DataFrame:
    try:
        return conn.sql(load_sql("billing/select_billing_source_profile")).pl()
    except duckdb.Error as exc:
        raise FocusFileError(str(path), f"cannot be read: {str(exc).splitlines()[0]}") from exc


def _register_lookups(conn, profile: pl.DataFrame, settings: IngestSettings, reporting_currency: str) -> None:
    tags = profile.get_column("tags").unique().to_list()
    owners = [resolve_owner(t, settings.owner_rules) for t in tags]
    tag_owners = pl.DataFrame(
        {
            "tags": tags,
            "department": [o.department for o in owners],
            "team": [o.team for o in owners],
            "tags_error": [o.error for o in owners],
            "tags_canonical": [o.canonical for o in owners],
        },
        schema={"tags": pl.String, "department": pl.String, "team": pl.String, "tags_error": pl.String,
                "tags_canonical": pl.String},
    )
    rates: dict[str, float | None] = {c.upper(): r for c, r in settings.exchange_rates.items()}
    refused = {c.upper(): why for c, why in settings.refused_exchange_rates.items()}
    rates |= {c: None for c in refused}
    rates[reporting_currency.upper()] = 1.0
    refused.pop(reporting_currency.upper(), None)
    currency_rates = pl.DataFrame(
        {"currency": list(rates), "rate": list(rates.values()), "refused_reason": [refused.get(c) for c in rates]},
        schema={"currency": pl.String, "rate": pl.Float64, "refused_reason": pl.String})
    for name, frame in (("tag_owners", tag_owners), ("currency_rates", currency_rates)):
        conn.register(f"{name}_frame", frame.to_arrow())
        conn.execute(f"create or replace temp table {name} as select * from {name}_frame")
        conn.unregister(f"{name}_frame")
    # Bounds of a plausible row: no charge starts after tomorrow (UTC), no amount beyond the setting.
    conn.execute(f"create or replace temp macro ingest_max_abs_cost() as {float(settings.max_line_item_cost)!r}::double")
    conn.execute("create or replace temp macro ingest_latest_charge() as "
                 "(current_date + interval 1 day)::timestamp")
    conn.execute(load_sql("billing/create_money_macro"))


# The tables' layout: an older warehouse (money as DOUBLE, no delivery column) is rebuilt from the files.
_SCHEMA_PROBES = (
    ("focus_billing", "billed_cost", "DECIMAL(38,12)"),
    ("focus_billing", "billing_period_end", None),
    ("billing_files", "delivery", None),
    ("billing_rollup", "billed_cost", "DECIMAL(38,12)"),
    ("billing_rollup_hourly", "billed_cost", "DECIMAL(38,12)"),
)


def ensure_billing_tables(conn: duckdb.DuckDBPyConnection) -> None:
    # The rollup tables too, so readers of an ingested-but-not-rolled-up warehouse find them.
    tables = ("focus_billing", "billing_quarantine", "billing_files", "billing_rollup", "billing_rollup_hourly",
              "billing_reporting_currency")
    existing = {(t, c): typ for t, c, typ in conn.execute(
        "select table_name, column_name, data_type from information_schema.columns "
        "where table_schema = current_schema()").fetchall()}
    present = {t for t, _ in existing}
    outdated = [t for t, c, typ in _SCHEMA_PROBES
                if t in present and ((t, c) not in existing or (typ and existing[(t, c)] != typ))]
    if outdated:
        log.warning("billing tables are of an older layout (%s): rebuilding them from the files", ", ".join(outdated))
        for table in tables:
            conn.execute(f"drop table if exists {table}")
    for table in tables:
        conn.execute(load_sql(f"billing/create_{table}"))


def _fingerprint(path: Path, settings: IngestSettings) -> str:
    stat = path.stat()
    return f"{stat.st_size}:{stat.st_mtime_ns}:{settings.fingerprint()}"


def _currency_counts(profile: pl.DataFrame) -> Counter:
    """Rows per currency (upper case). Rows without one (quarantined, or in a file without the
    column, which takes the reporting currency) do not vote on the reporting currency."""
    counts: Counter = Counter()
    for currency, rows in profile.select("billing_currency", "row_count").iter_rows():
        if currency is not None:
            counts[currency.upper()] += rows
    return counts


def _reporting_currency(conn, settings: IngestSettings, new_counts: dict[str, Counter],
                        mtimes: dict[str, int]) -> tuple[str, str]:
    """The currency and why (billing_reporting_currency.decided_by): the setting; else USD when any
    file bills in USD; else the currency of the first file delivered (oldest mtime). Never the
    majority: a big file in another currency must not flip it."""
    if settings.reporting_currency:
        return settings.reporting_currency, "setting"
    per_file: dict[str, tuple[int, Counter]] = {
        source_file: (mtime, Counter(json.loads(counts_json)))
        for source_file, mtime, counts_json in conn.execute(
            "select source_file, file_mtime_ns, currency_counts from billing_files where currency_counts is not null"
        ).fetchall()
        if source_file not in new_counts
    }
    per_file |= {f: (mtimes[f], c) for f, c in new_counts.items()}
    voting = {f: (m, c) for f, (m, c) in per_file.items() if sum(c.values())}
    if not voting:
        return "USD", "default"
    if any("USD" in c for _, c in voting.values()):
        return "USD", "usd_billed"
    first = min(voting, key=lambda f: (voting[f][0], f))
    return voting[first][1].most_common(1)[0][0], "first_file"


def ingest_billing_files(
    conn: duckdb.DuckDBPyConnection,
    files: list[Path],
    settings: IngestSettings,
    full_refresh: bool = False,
    staging_dir: Path | None = None,
) -> IngestReport:
    """Bring the warehouse in line with `files`: load new and changed ones, drop removed ones."""
    conn.execute("set TimeZone = 'UTC'")
    ensure_billing_tables(conn)
    known = dict(conn.execute("select source_file, fingerprint from billing_files").fetchall())
    present = {str(p): p for p in files}
    outcomes: list[FileOutcome] = []

    for removed in sorted(set(known) - set(present)):
        _delete_file(conn, removed)
        outcomes.append(FileOutcome(removed, "removed"))

    to_load = [p for p in files if full_refresh or known.get(str(p)) != _fingerprint(p, settings)]
    with tempfile.TemporaryDirectory(prefix="focus-staging-", dir=staging_dir) as staging:
        report = _ingest(conn, files, to_load, outcomes, settings, Path(staging), staging_dir, full_refresh)
    report.conversions = _conversions(conn, report.reporting_currency)
    report.unconverted = dict(conn.execute(
        "select regexp_extract(reason, 'BillingCurrency=([^ :;]+)', 1), count(*) from billing_quarantine "
        "where rule in ('currency_without_rate', 'exchange_rate_invalid') group by 1 order by 1").fetchall())
    return report


def _conversions(conn, reporting_currency: str | None) -> list[Conversion]:
    rows = conn.execute(
        "select billing_currency, exchange_rate, count(*), sum(billed_cost)::double from focus_billing "
        "where not is_duplicate and billing_currency <> $currency group by all order by 1, 2",
        {"currency": reporting_currency or ""}).fetchall()
    return [Conversion(c, float(r), int(n), float(total)) for c, r, n, total in rows]


def _empty_file_problem(path: Path) -> str | None:
    return "is empty (0 bytes): no header, no rows" if path.stat().st_size == 0 else None


def _ingest(conn, files, to_load, outcomes, settings, staging: Path, staging_dir, full_refresh) -> IngestReport:
    # Profile first: the reporting currency depends on the whole bill, not on one file.
    readable: dict[str, Path] = {}
    rejects: dict[str, list[CsvReject]] = {}
    profiles: dict[str, pl.DataFrame] = {}
    failures: dict[str, str] = {}
    for path in to_load:
        source_file = str(path)
        try:
            if problem := _empty_file_problem(path):
                raise FocusFileError(source_file, problem)
            if file_format(path) == "csv":
                readable[source_file], rejects[source_file] = stage_csv(conn, path, staging)
            else:
                readable[source_file], rejects[source_file] = path, []
            create_source_view(conn, path, readable[source_file], default_currency=settings.reporting_currency,
                               rejects=rejects[source_file])
            profiles[source_file] = _profile(conn, path)
            if profiles[source_file].is_empty() and not rejects[source_file]:
                raise FocusFileError(source_file, "has a header but no data rows")
        except FocusFileError as exc:
            failures[source_file] = exc.problem
    counts = {f: _currency_counts(p) for f, p in profiles.items()}
    currency, decided_by = _reporting_currency(conn, settings, counts,
                                               {str(p): p.stat().st_mtime_ns for p in to_load})
    # What the rows already loaded are in (None: nothing loaded yet, or a warehouse of an older
    # INGEST_VERSION, whose files all reload now).
    previous = reporting_currency(conn)
    if previous is not None and previous != currency and not full_refresh:
        log.info("reporting currency is now %s (was %s): reloading every file", currency, previous)
        reloaded = ingest_billing_files(conn, files, settings, full_refresh=True, staging_dir=staging_dir)
        # The files removed above are gone before the reload sees them: report them here.
        return IngestReport(files=outcomes + reloaded.files, reporting_currency=reloaded.reporting_currency,
                            previous_reporting_currency=previous)

    for path in to_load:
        source_file = str(path)
        if source_file in failures:
            outcomes.append(_record_failure(conn, path, failures[source_file]))
            continue
        try:
            outcomes.append(_load_file(conn, path, readable[source_file], settings, (currency, decided_by),
                                       profiles[source_file], counts[source_file], rejects[source_file]))
        except (FocusFileError, duckdb.Error) as exc:
            problem = exc.problem if isinstance(exc, FocusFileError) else str(exc).splitlines()[0]
            outcomes.append(_record_failure(conn, path, problem))

    unchanged = [p for p in files if p not in to_load]
    outcomes.extend(FileOutcome(str(p), "unchanged") for p in unchanged)
    # Recorded with the duplicates' marks even when no file loaded (every file failed, or only
    # removals): every later step reads it from here (lib/billing/currency.py).
    _mark_duplicates(conn, (currency, decided_by), marks=bool(to_load or len(outcomes) > len(unchanged)))
    return IngestReport(files=outcomes, reporting_currency=currency)


def _load_file(conn, path: Path, readable: Path, settings: IngestSettings, decision: tuple[str, str],
               profile: pl.DataFrame, counts: Counter, rejects: list[CsvReject]) -> FileOutcome:
    source_file = str(path)
    currency, decided_by = decision
    header, mapping = create_source_view(conn, path, readable, default_currency=currency, rejects=rejects)
    _register_lookups(conn, profile, settings, currency)
    conn.execute(load_sql("billing/create_focus_validated_view"))
    rows_read = int(profile.get_column("row_count").sum()) + len(rejects)
    params = {"source_file": source_file}
    with transaction(conn):
        conn.execute(load_sql("billing/delete_billing_file_rows"), params)
        conn.execute(load_sql("billing/delete_billing_quarantine_file_rows"), params)
        accepted = fetch_one(conn, load_sql("billing/insert_focus_billing_from_source"), params)[0]
        # Counting is a cheap scan; building raw records is not, so only do it when a row failed.
        quarantined = fetch_one(conn, "select count(*) from focus_validated where not is_valid")[0]
        if quarantined:
            quarantined = fetch_one(conn, load_sql("billing/insert_billing_quarantine_from_source"), params)[0]
        if rejects:
            conn.executemany(load_sql("billing/insert_billing_quarantine_record"), [
                params | {"row_number": r.record, "rule": r.rule, "reason": r.message,
                          "raw_record": json.dumps({"csv_record": r.line})} for r in rejects])
        # A row dated after tomorrow may be a real charge once that day comes: such a file is read
        # again next run (its fingerprint never matches) instead of being skipped as unchanged.
        future = fetch_one(conn, "select count(*) from focus_validated where cps >= ingest_latest_charge()")[0]
        conn.execute(
            load_sql("billing/insert_billing_files_entry"),
            params | {
                "delivery": delivery_of(path),
                "file_format": file_format(path),
                "fingerprint": _fingerprint(path, settings) + (":has-future-rows" if future else ""),
                "file_mtime_ns": path.stat().st_mtime_ns,
                "rows_read": rows_read,
                "currency_counts": json.dumps({str(k): v for k, v in counts.items()}),
                "missing_optional_columns": ", ".join(mapping.missing_optional),
                "extra_columns": ", ".join(mapping.extra_columns),
            },
        )
        # The rows just written are in this currency: the record changes with them, never apart.
        record_reporting_currency(conn, currency, decided_by)
    return FileOutcome(source_file, "loaded", rows_read, int(accepted), int(quarantined) + len(rejects))


def _record_failure(conn, path: Path, problem: str) -> FileOutcome:
    # The caller says it (the asset's log, the run summary); here only for debugging without Dagster.
    log.debug("billing file %s could not be loaded: %s", path, problem)
    conn.execute(
        load_sql("billing/update_billing_files_failed"),
        {"source_file": str(path), "delivery": delivery_of(path), "file_format": file_format(path),
         "file_mtime_ns": path.stat().st_mtime_ns, "error": problem},
    )
    return FileOutcome(str(path), "failed", error=problem)


def _delete_file(conn, source_file: str) -> None:
    params = {"source_file": source_file}
    with transaction(conn):
        conn.execute(load_sql("billing/delete_billing_file_rows"), params)
        conn.execute(load_sql("billing/delete_billing_quarantine_file_rows"), params)
        conn.execute(load_sql("billing/delete_billing_files_entry"), params)


def _mark_duplicates(conn, decision: tuple[str, str], marks: bool = True) -> None:
    with transaction(conn):
        record_reporting_currency(conn, *decision)
        if not marks:
            return
        conn.execute(load_sql("billing/update_focus_billing_clear_duplicates"))
        # Every file that has rows counts, including a failed file whose last good version's rows are kept.
        if fetch_one(conn, "select count(*) from billing_files where rows_accepted > 0")[0] > 1:
            conn.execute(load_sql("billing/update_focus_billing_mark_duplicates"))
        conn.execute(load_sql("billing/update_billing_files_superseded"))
