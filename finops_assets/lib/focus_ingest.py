"""Load FOCUS billing files into the warehouse: accepted rows, quarantined rows, a per-file ledger.

Works on an open DuckDB connection (the warehouse resource owns it), one file at a time, each in
its own transaction, so one unreadable file never stops the others. Files are incremental: an
unchanged file (same size and mtime, same settings) is skipped; a changed one is replaced.
"""

import json
import logging
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from finops_assets.lib.focus_schema import (
    NUMERIC_COLUMNS,
    SOURCE_NAMES,
    TIMESTAMP_COLUMNS,
    FocusFileError,
    map_columns,
)
from finops_assets.lib.owners import OwnerRules, resolve_owner
from finops_assets.lib.sql import fetch_one, load_sql, quote_identifier

log = logging.getLogger(__name__)

BILLING_SUFFIXES = (".csv", ".csv.gz", ".parquet")
_TEXT_TYPES = ("VARCHAR",)


@dataclass(frozen=True)
class IngestSettings:
    owner_rules: OwnerRules = OwnerRules()
    reporting_currency: str | None = None  # None: the currency of most rows in the bill
    exchange_rates: dict[str, float] = field(default_factory=dict)  # currency -> reporting units per unit

    def fingerprint(self) -> str:
        """Changes whenever settings that shape loaded rows change, forcing a reload."""
        return json.dumps(
            [self.owner_rules.department_keys, self.owner_rules.team_keys, self.reporting_currency,
             sorted(self.exchange_rates.items())]
        )


@dataclass
class FileOutcome:
    source_file: str
    status: str  # loaded | unchanged | failed | removed
    rows_read: int = 0
    rows_accepted: int = 0
    rows_quarantined: int = 0
    error: str | None = None


@dataclass
class IngestReport:
    files: list[FileOutcome]
    reporting_currency: str | None

    @property
    def failed(self) -> list[FileOutcome]:
        return [f for f in self.files if f.status == "failed"]


def discover_billing_files(billing_dir: Path) -> list[Path]:
    """Every *.csv, *.csv.gz and *.parquet under billing_dir, in a stable order."""
    if not billing_dir.is_dir():
        return []
    return sorted(
        p for p in billing_dir.rglob("*")
        if p.is_file() and not p.name.startswith(".") and p.name.lower().endswith(BILLING_SUFFIXES)
    )


def file_format(path: Path) -> str:
    return "parquet" if path.name.lower().endswith(".parquet") else "csv"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _csv_reader(path: Path) -> str:
    # all_varchar: every value is validated by our own rules, never silently coerced by a sniffer.
    return (
        f"read_csv({_literal(str(path))}, header = true, all_varchar = true, "
        "nullstr = ['NULL', ''], compression = 'auto')"
    )


def stage_csv(conn: duckdb.DuckDBPyConnection, path: Path, staging_dir: Path) -> Path:
    """Copy a CSV once into a temporary Parquet file, in file order (DuckDB preserves insertion
    order), so every later pass is a fast parallel Parquet scan and file_row_number is the CSV's
    record number (1 = first data row after the header)."""
    staged = staging_dir / f"{abs(hash(str(path)))}.parquet"
    try:
        conn.execute(f"copy (select * from {_csv_reader(path)}) to {_literal(str(staged))} "
                     "(format parquet, compression lz4_raw)")
    except duckdb.Error as exc:
        raise FocusFileError(str(path), f"cannot be read: {str(exc).splitlines()[0]}") from exc
    return staged


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
                       default_currency: str | None) -> tuple[list[str], object]:
    """Temp view focus_source over `readable` (the Parquet file, or a CSV's staged copy): canonical
    columns, source_row (1 = first data row) and the raw record. Errors name `path`."""
    reader = f"read_parquet({_literal(str(readable))}, file_row_number = true)"
    try:
        described = conn.sql(f"describe select * from {reader}").fetchall()
    except duckdb.Error as exc:
        raise FocusFileError(str(path), f"cannot be read: {str(exc).splitlines()[0]}") from exc
    types = {name: typ for name, typ, *_ in described if name != "file_row_number"}
    header = list(types)
    mapping = map_columns(str(path), header)
    selects = [
        f"{_canonical_expr(c, mapping.source_for.get(c), types.get(mapping.source_for.get(c, '')), default_currency)} as {c}"
        for c in SOURCE_NAMES
    ]
    raw = "to_json(struct_pack(" + ", ".join(
        f"{quote_identifier(h)} := src.{quote_identifier(h)}" for h in header
    ) + "))"
    conn.execute(
        "create or replace temp view focus_source as select src.file_row_number + 1 as source_row, "
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
        },
        schema={"tags": pl.String, "department": pl.String, "team": pl.String, "tags_error": pl.String},
    )
    rates = {c.upper(): r for c, r in settings.exchange_rates.items()} | {reporting_currency.upper(): 1.0}
    currency_rates = pl.DataFrame({"currency": list(rates), "rate": list(rates.values())},
                                  schema={"currency": pl.String, "rate": pl.Float64})
    for name, frame in (("tag_owners", tag_owners), ("currency_rates", currency_rates)):
        conn.register(f"{name}_frame", frame.to_arrow())
        conn.execute(f"create or replace temp table {name} as select * from {name}_frame")
        conn.unregister(f"{name}_frame")


def ensure_billing_tables(conn: duckdb.DuckDBPyConnection) -> None:
    # The rollup tables too, so readers of an ingested-but-not-rolled-up warehouse find them.
    for table in ("focus_billing", "billing_quarantine", "billing_files", "billing_rollup", "billing_rollup_hourly"):
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


def _reporting_currency(conn, settings: IngestSettings, new_counts: dict[str, Counter]) -> str:
    if settings.reporting_currency:
        return settings.reporting_currency.upper()
    total: Counter = Counter()
    for source_file, counts_json in conn.execute(
        "select source_file, currency_counts from billing_files where currency_counts is not null"
    ).fetchall():
        if source_file not in new_counts:
            total.update(json.loads(counts_json))
    for counts in new_counts.values():
        total.update(counts)
    total.pop(None, None)
    return total.most_common(1)[0][0].upper() if total else "USD"


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
        return _ingest(conn, files, to_load, outcomes, settings, Path(staging), staging_dir, full_refresh)


def _ingest(conn, files, to_load, outcomes, settings, staging: Path, staging_dir, full_refresh) -> IngestReport:
    # Profile first: the reporting currency depends on the whole bill, not on one file.
    readable: dict[str, Path] = {}
    profiles: dict[str, pl.DataFrame] = {}
    failures: dict[str, str] = {}
    for path in to_load:
        try:
            readable[str(path)] = stage_csv(conn, path, staging) if file_format(path) == "csv" else path
            create_source_view(conn, path, readable[str(path)], default_currency=settings.reporting_currency)
            profiles[str(path)] = _profile(conn, path)
        except FocusFileError as exc:
            failures[str(path)] = exc.problem
    counts = {f: _currency_counts(p) for f, p in profiles.items()}
    currency = _reporting_currency(conn, settings, counts)
    previous_currencies = {r[0] for r in conn.execute(
        "select distinct billing_currency from focus_billing where exchange_rate = 1.0").fetchall()}
    if previous_currencies and previous_currencies != {currency} and not full_refresh:
        log.info("reporting currency is now %s (was %s): reloading every file", currency, previous_currencies)
        reloaded = ingest_billing_files(conn, files, settings, full_refresh=True, staging_dir=staging_dir)
        # The files removed above are gone before the reload sees them: report them here.
        return IngestReport(files=outcomes + reloaded.files, reporting_currency=reloaded.reporting_currency)

    for path in to_load:
        source_file = str(path)
        if source_file in failures:
            outcomes.append(_record_failure(conn, path, failures[source_file]))
            continue
        try:
            outcomes.append(_load_file(conn, path, readable[source_file], settings, currency,
                                       profiles[source_file], counts[source_file]))
        except (FocusFileError, duckdb.Error) as exc:
            problem = exc.problem if isinstance(exc, FocusFileError) else str(exc).splitlines()[0]
            outcomes.append(_record_failure(conn, path, problem))

    unchanged = [p for p in files if p not in to_load]
    outcomes.extend(FileOutcome(str(p), "unchanged") for p in unchanged)
    if to_load or len(outcomes) > len(unchanged):
        _mark_duplicates(conn)
    return IngestReport(files=outcomes, reporting_currency=currency)


def _load_file(conn, path: Path, readable: Path, settings: IngestSettings, currency: str,
               profile: pl.DataFrame, counts: Counter) -> FileOutcome:
    source_file = str(path)
    header, mapping = create_source_view(conn, path, readable, default_currency=currency)
    _register_lookups(conn, profile, settings, currency)
    conn.execute(load_sql("billing/create_focus_validated_view"))
    rows_read = int(profile.get_column("row_count").sum())
    params = {"source_file": source_file}
    conn.begin()
    try:
        conn.execute(load_sql("billing/delete_billing_file_rows"), params)
        conn.execute(load_sql("billing/delete_billing_quarantine_file_rows"), params)
        accepted = fetch_one(conn, load_sql("billing/insert_focus_billing_from_source"), params)[0]
        # Counting is a cheap scan; building raw records is not, so only do it when a row failed.
        quarantined = fetch_one(conn, "select count(*) from focus_validated where not is_valid")[0]
        if quarantined:
            quarantined = fetch_one(conn, load_sql("billing/insert_billing_quarantine_from_source"), params)[0]
        conn.execute(
            load_sql("billing/insert_billing_files_entry"),
            params | {
                "file_format": file_format(path),
                "fingerprint": _fingerprint(path, settings),
                "file_mtime_ns": path.stat().st_mtime_ns,
                "rows_read": rows_read,
                "currency_counts": json.dumps({str(k): v for k, v in counts.items()}),
                "missing_optional_columns": ", ".join(mapping.missing_optional),
                "extra_columns": ", ".join(mapping.extra_columns),
            },
        )
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    return FileOutcome(source_file, "loaded", rows_read, int(accepted), int(quarantined))


def _record_failure(conn, path: Path, problem: str) -> FileOutcome:
    log.error("billing file %s could not be loaded: %s", path, problem)
    conn.execute(
        load_sql("billing/update_billing_files_failed"),
        {"source_file": str(path), "file_format": file_format(path),
         "file_mtime_ns": path.stat().st_mtime_ns, "error": problem},
    )
    return FileOutcome(str(path), "failed", error=problem)


def _delete_file(conn, source_file: str) -> None:
    params = {"source_file": source_file}
    conn.begin()
    conn.execute(load_sql("billing/delete_billing_file_rows"), params)
    conn.execute(load_sql("billing/delete_billing_quarantine_file_rows"), params)
    conn.execute(load_sql("billing/delete_billing_files_entry"), params)
    conn.commit()


def _mark_duplicates(conn) -> None:
    conn.begin()
    conn.execute(load_sql("billing/update_focus_billing_clear_duplicates"))
    # Every file that has rows counts, including a failed file whose last good version's rows are kept.
    if fetch_one(conn, "select count(*) from billing_files where rows_accepted > 0")[0] > 1:
        conn.execute(load_sql("billing/update_focus_billing_mark_duplicates"))
    conn.execute(load_sql("billing/update_billing_files_superseded"))
    conn.commit()
