"""The optional side inputs of the data folder, validated row by row with pydantic.

A bad row goes to input_quarantine with file, row number, rule and the raw record (also a row that
is not UTF-8 or that csv cannot read: the rows after it still load); an unreadable file is one
quarantine entry with row 0; an absent file yields an empty table. Nothing is dropped without a trace.
"""

import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
from pydantic import (
    BaseModel,
    ConfigDict,
    ValidationError,
    field_validator,
    model_validator,
)

from finops_assets.lib.common.sql import load_sql
from finops_assets.lib.common.transactions import transaction
from finops_assets.lib.deployments.events import DeploymentEvent, violation
from finops_assets.lib.deployments.repository_names import validate_repository

# The largest value a BIGINT column (and a polars Int64) holds.
MAX_BIGINT = 2**63 - 1


def _utc(value: datetime) -> datetime:
    """Naive timestamps are UTC by contract; aware ones are converted. Stored naive UTC."""
    try:
        return (value if value.tzinfo is None else value.astimezone(UTC)).replace(tzinfo=None)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+14:00: a ValueError makes it a quarantined row
        raise ValueError(f"{value.isoformat()} has no UTC equivalent (before year 1 or after 9999)") from None


class _Row(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="ignore")


class TeamRepository(_Row):
    department: str
    team: str
    repository: str
    primary_repo: bool = False

    @field_validator("repository")
    @classmethod
    def _repository(cls, value: str) -> str:
        return validate_repository(value)


class TrafficMetric(_Row):
    date: date
    department: str
    team: str
    requests: int

    @field_validator("requests")
    @classmethod
    def _non_negative(cls, value: int) -> int:
        if value < 0:
            raise ValueError("requests must not be negative")
        if value > MAX_BIGINT:
            raise ValueError(f"{value} is more than the largest count stored (2^63 - 1)")
        return value


class Incident(_Row):
    incident_id: str
    title: str = ""
    started_at: datetime
    first_alert_at: datetime | None = None
    resolved_at: datetime | None = None
    affected_resources: str = ""
    affected_metrics: str = ""
    root_cause: str = ""
    resolution: str = ""

    @field_validator("started_at", "first_alert_at", "resolved_at", mode="after")
    @classmethod
    def _as_utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else _utc(value)

    @field_validator("first_alert_at", "resolved_at", mode="before")
    @classmethod
    def _blank_is_none(cls, value):
        return None if value in ("", None) else value

    @model_validator(mode="after")
    def _resolved_after_start(self) -> "Incident":
        if self.resolved_at is not None and self.resolved_at < self.started_at:
            raise ValueError("resolved_at is before started_at")
        return self


@dataclass(frozen=True)
class SideInput:
    name: str          # table name
    relative_path: str  # file, or folder of *.jsonl
    model: type[BaseModel]
    schema: dict[str, pl.DataType]
    unique_key: str | None = None  # later duplicates of this field are dropped (and counted)

    def row(self, record: dict) -> dict:
        """The table row for a record, or ValidationError."""
        validated = self.model.model_validate(record)
        # The deployment contract (lib/deployments/events.py) keeps deployed_at aware; the table holds naive UTC.
        return validated.to_row() if isinstance(validated, DeploymentEvent) else validated.model_dump()


SIDE_INPUTS: dict[str, SideInput] = {
    s.name: s
    for s in (
        SideInput("deployment_events", "deployments", DeploymentEvent, {
            "id": pl.String, "deployed_at": pl.Datetime("us"), "service_name": pl.String,
            "environment": pl.String, "commit_sha": pl.String, "commit_message": pl.String,
            "branch": pl.String, "repository": pl.String, "ci_system": pl.String,
            "triggered_by": pl.String, "pipeline_url": pl.String}, unique_key="id"),
        SideInput("team_repositories", "team_repositories.csv", TeamRepository, {
            "department": pl.String, "team": pl.String, "repository": pl.String, "primary_repo": pl.Boolean}),
        SideInput("traffic_metrics", "traffic.csv", TrafficMetric, {
            "date": pl.Date, "department": pl.String, "team": pl.String, "requests": pl.Int64}),
        SideInput("incident_history", "incidents.csv", Incident, {
            "incident_id": pl.String, "title": pl.String, "started_at": pl.Datetime("us"),
            "first_alert_at": pl.Datetime("us"), "resolved_at": pl.Datetime("us"),
            "affected_resources": pl.String, "affected_metrics": pl.String,
            "root_cause": pl.String, "resolution": pl.String}, unique_key="incident_id"),
    )
}


@dataclass
class RejectedRow:
    source_file: str
    row_number: int  # 1 = first data row (CSV) or first line (JSONL); 0 = the file itself
    rule: str
    reason: str
    raw_record: str


@dataclass
class ParsedInput:
    spec: SideInput
    files: list[Path]
    rows: list[dict] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)
    duplicates_dropped: int = 0

    @property
    def frame(self) -> pl.DataFrame:
        return pl.DataFrame(self.rows, schema=self.spec.schema, orient="row") if self.rows else pl.DataFrame(schema=self.spec.schema)

    @property
    def rejected_frame(self) -> pl.DataFrame:
        return pl.DataFrame(
            [r.__dict__ for r in self.rejected],
            schema={"source_file": pl.String, "row_number": pl.Int64, "rule": pl.String,
                    "reason": pl.String, "raw_record": pl.String},
        )


# Bytes that are not UTF-8 are decoded as lone surrogates, so one such row is quarantined on its
# own instead of failing the whole file; _escaped shows them as \xNN in the quarantine.
_TEXT = {"encoding": "utf-8-sig", "errors": "surrogateescape"}
_NOT_UTF8 = re.compile("[\udc80-\udcff]")


def _escaped(text: str) -> str:
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _records(path: Path) -> Iterator[tuple[int, str, dict | None, str | None]]:
    """(row_number, raw text, parsed mapping or None, parse error) for each record of a file."""
    if path.suffix == ".jsonl":
        with path.open(**_TEXT) as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                raw = _escaped(line.rstrip("\n"))
                if _NOT_UTF8.search(line):
                    yield number, raw, None, "invalid_encoding: the line is not UTF-8"
                    continue
                try:
                    parsed = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield number, raw, None, f"invalid_json: {exc.msg} at char {exc.pos}"
                    continue
                except RecursionError:  # the parser's own nesting limit (about 1,000 levels)
                    yield number, raw, None, "invalid_json: nested too deeply to parse"
                    continue
                except ValueError as exc:  # e.g. an integer past Python's 4,300-digit limit
                    yield number, raw, None, f"invalid_json: {str(exc).split(';')[0]}"
                    continue
                if not isinstance(parsed, dict):
                    yield number, raw, None, "invalid_json: a line must be one JSON object"
                    continue
                yield number, raw, parsed, None
        return
    with path.open(newline="", **_TEXT) as handle:
        reader = csv.DictReader(handle)
        number = 0
        while True:
            number += 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:  # e.g. a field past csv's size limit: the reader goes on after it
                yield number, "{}", None, f"unreadable_row: {exc}"
                continue
            raw = json.dumps({k: _escaped(v) if isinstance(v, str) else v for k, v in row.items()}, default=str)
            if None in row:  # more values than header columns
                yield number, raw, None, f"wrong_column_count: {len(reader.fieldnames or [])} columns expected"
                continue
            if any(_NOT_UTF8.search(v) for v in row.values() if isinstance(v, str)):
                yield number, raw, None, "invalid_encoding: the row is not UTF-8"
                continue
            yield number, raw, {k.strip(): v for k, v in row.items() if k is not None}, None


def _required_header(spec: SideInput) -> set[str]:
    return {name for name, f in spec.model.model_fields.items() if f.is_required()}


def _check_header(path: Path, spec: SideInput) -> str | None:
    if path.suffix == ".jsonl":
        return None
    with path.open(newline="", **_TEXT) as handle:
        header = next(csv.reader(handle), [])
    missing = _required_header(spec) - {h.strip() for h in header}
    return f"missing column(s): {', '.join(sorted(missing))}" if missing else None


def parse_side_input(data_dir: Path, spec: SideInput) -> ParsedInput:
    target = data_dir / spec.relative_path
    files = sorted(target.glob("*.jsonl")) if target.is_dir() else ([target] if target.is_file() else [])
    parsed = ParsedInput(spec=spec, files=files)
    seen: set[str] = set()
    for path in files:
        try:
            if (problem := _check_header(path, spec)) is not None:
                parsed.rejected.append(RejectedRow(str(path), 0, "file_unreadable", f"{path}: {problem}", "{}"))
                continue
            for number, raw, record, error in _records(path):
                if error is not None:
                    parsed.rejected.append(RejectedRow(str(path), number, error.split(":")[0], error, raw))
                    continue
                try:
                    row = spec.row(record)
                except ValidationError as exc:
                    refused = violation(exc)  # the same rule and reason the webhooks and the poller give
                    parsed.rejected.append(RejectedRow(str(path), number, refused.rule, refused.reason, raw))
                    continue
                if spec.unique_key is not None:
                    if row[spec.unique_key] in seen:
                        parsed.duplicates_dropped += 1  # the same event delivered twice is not an error
                        continue
                    seen.add(row[spec.unique_key])
                parsed.rows.append(row)
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            parsed.rejected.append(RejectedRow(str(path), 0, "file_unreadable", f"{path}: {exc}", "{}"))
    return parsed


def write_side_input(conn, parsed: ParsedInput) -> None:
    """Replace the input's table and its quarantine entries in one transaction."""
    conn.execute(load_sql("inputs/create_input_quarantine"))
    conn.register("side_input_frame", parsed.frame.to_arrow())
    conn.register("rejected_frame", parsed.rejected_frame.to_arrow())
    try:
        with transaction(conn):
            # Table name comes from SIDE_INPUTS, never from input data.
            conn.execute(f"create or replace table {parsed.spec.name} as select * from side_input_frame")
            conn.execute(load_sql("inputs/delete_input_quarantine_for_input"), {"input_name": parsed.spec.name})
            conn.execute(load_sql("inputs/insert_input_quarantine_from_frame"), {"input_name": parsed.spec.name})
    finally:
        conn.unregister("side_input_frame")
        conn.unregister("rejected_frame")
