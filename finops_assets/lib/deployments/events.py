"""The one deployment event contract: `DeploymentEvent`, used by the side-input loader
(`data/deployments/*.jsonl`), the event store, the webhook receiver and the GitHub poller.

The fields are DESIGN.md's deployment event (seed 000's `deployment_events` table). The rules, the
same wherever an event enters:
- types are strict: every field is text (a number, a boolean or null is refused, never coerced);
  `deployed_at` may also be an aware `datetime` when the event is built in Python (the poller);
- surrounding whitespace is removed from every field;
- `deployed_at`: ISO 8601 with an explicit offset (`Z`, `+00:00`, `+02:00`, ...), converted to UTC;
  a timestamp without an offset is refused (never guessed to be UTC); it lies in 2000-01-01 .. 2100-01-01;
- `commit_sha`: 7 to 40 hexadecimal characters, lower-cased;
- `repository`: a plain 'owner/name' (lib/deployments/repository_names.py);
- `environment`: lower-cased, and `prod` is `production`;
- `pipeline_url`: empty, or an absolute http(s) URL;
- required, non-empty: id, deployed_at, service_name, environment, commit_sha, repository, ci_system;
  commit_message, branch, triggered_by and pipeline_url may be empty or absent (absent is "");
- length limits per field (MAX_LENGTHS); no control, format (zero-width, bidi) or line-separator
  characters; a commit message may hold tab, newline, carriage return and format characters such as
  an emoji's zero-width joiner, but no other control and no bidi control;
- unknown extra fields are ignored (CI systems and generators add their own).

A violation is a `DeploymentEventError` (a ValueError) whose text is one line, "field: problem; ...",
and whose `rule` is the `input_quarantine` rule name (`violation()` turns any pydantic
ValidationError into that form, for every side input).
"""

import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from finops_assets.lib.common.text import one_line
from finops_assets.lib.deployments.repository_names import (
    RepositoryNameError,
    validate_repository,
)

# The input_quarantine rule for a record that breaks a field's rule (names pinned by tests and README).
INVALID_FIELD = "invalid_field"

# Deployment times outside these bounds are mistakes (or probes), and the extremes overflow
# datetime arithmetic; no CI system we read predates 2000.
EARLIEST_DEPLOYED_AT = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_DEPLOYED_AT = datetime(2100, 1, 1, tzinfo=UTC)

CONTRACT_FIELDS = (
    "id", "deployed_at", "service_name", "environment", "commit_sha", "commit_message",
    "branch", "repository", "ci_system", "triggered_by", "pipeline_url",
)
REQUIRED_FIELDS = ("id", "deployed_at", "service_name", "environment", "commit_sha", "repository", "ci_system")

# In characters. Generous for real values (an Argo CD app name is up to 253, GitHub's environment
# names up to 255), small enough that a hostile value cannot bloat a table, a log or a PR body.
MAX_LENGTHS = {
    "id": 512, "service_name": 255, "environment": 255, "commit_message": 65_536, "branch": 255,
    "ci_system": 64, "triggered_by": 255, "pipeline_url": 2048,
}
ENVIRONMENT_ALIASES = {"prod": "production"}
_HEX = frozenset("0123456789abcdefABCDEF")
# Control, format (zero-width, bidi), surrogate and line/paragraph separator characters.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
# A commit message may hold tabs and line breaks, and format characters such as the zero-width
# joiner inside an emoji; bidi controls stay refused.
_MULTILINE_REFUSED_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})
_MULTILINE_ALLOWED = frozenset("\t\n\r")
# Bidi embeddings, overrides and isolates: refused even in a commit message ("Trojan Source").
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


class DeploymentEventError(ValueError):
    """An event that breaks the contract; str() is the one-line reason, `rule` the quarantine rule."""

    def __init__(self, violation: "Violation"):
        super().__init__(violation.reason)
        self.violation = violation
        self.rule, self.field = violation.rule, violation.field


@dataclass(frozen=True)
class Violation:
    rule: str        # the input_quarantine rule name
    field: str       # the first offending field ("row" when the record itself is wrong)
    problems: tuple[tuple[str, str], ...]  # (field, problem), in field order

    @property
    def reason(self) -> str:
        return "; ".join(f"{name}: {problem}" for name, problem in self.problems)

    def renamed(self, names: dict[str, str]) -> "Violation":
        """The same violation with fields renamed (e.g. to a webhook payload's paths)."""
        problems = tuple((names.get(name, name), problem) for name, problem in self.problems)
        return Violation(self.rule, names.get(self.field, self.field), problems)


def _problem(error: dict) -> str:
    kind = error["type"]
    if kind == "missing":
        return "missing"
    if kind in ("string_type", "datetime_type"):
        value = error.get("input")
        got = "null" if value is None else type(value).__name__
        return f"must be {'text' if kind == 'string_type' else 'an ISO 8601 time'}, got {got}"
    if kind in ("value_error", "assertion_error") and "error" in error.get("ctx", {}):
        return one_line(error["ctx"]["error"])
    return one_line(error["msg"])


def violation(exc: ValidationError) -> Violation:
    """The one-line rule and reason for a pydantic ValidationError (any side-input model)."""
    problems = tuple((".".join(map(str, e["loc"])) or "row", _problem(e)) for e in exc.errors())
    return Violation(INVALID_FIELD, problems[0][0] if problems else "row", problems or (("row", "invalid"),))


def _check_text(name: str, value: str, *, multiline: bool = False) -> str:
    limit = MAX_LENGTHS[name]
    if len(value) > limit:
        raise ValueError(f"longer than {limit} characters ({len(value)})")
    refused = _MULTILINE_REFUSED_CATEGORIES if multiline else _REFUSED_CATEGORIES
    for char in value:
        if multiline and char in _MULTILINE_ALLOWED:
            continue
        if char in _BIDI_CONTROLS or unicodedata.category(char) in refused:
            raise ValueError(f"contains the control or invisible character U+{ord(char):04X}")
    return value


def canonical_environment(name: str) -> str:
    """An environment's one spelling: trimmed, lower-cased, `prod` is `production`."""
    name = name.strip().lower()
    return ENVIRONMENT_ALIASES.get(name, name)


def parse_deployed_at(value: Any) -> datetime:
    """An aware UTC datetime from ISO 8601 text with an offset (or an aware datetime), in the bounds.
    Raises ValueError; naive input is refused, never taken to be UTC."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"not an ISO 8601 time: {one_line(repr(text))[:80]}") from None
    elif not isinstance(value, datetime):
        raise ValueError(f"must be an ISO 8601 time, got {'null' if value is None else type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{value.isoformat()} has no UTC offset (write 'Z' or '+00:00')")
    try:
        moment = value.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+14:00
        raise ValueError(f"{value.isoformat()} has no UTC equivalent (before year 1 or after 9999)") from None
    if not EARLIEST_DEPLOYED_AT <= moment < LATEST_DEPLOYED_AT:
        raise ValueError(f"{moment:%Y-%m-%dT%H:%M:%SZ} is outside {EARLIEST_DEPLOYED_AT:%Y-%m-%d} .. "
                         f"{LATEST_DEPLOYED_AT:%Y-%m-%d}")
    return moment


def format_utc(moment: datetime) -> str:
    """The contract's text form: 'YYYY-MM-DDTHH:MM:SSZ', with microseconds only when there are any."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if moment.microsecond else "%Y-%m-%dT%H:%M:%SZ")


class DeploymentEvent(BaseModel):
    """One deployment, as every entry point stores it (see the module docstring for the rules)."""

    model_config = ConfigDict(frozen=True, strict=True, extra="ignore", str_strip_whitespace=True)

    id: str
    deployed_at: datetime
    service_name: str
    environment: str
    commit_sha: str
    commit_message: str = ""
    branch: str = ""
    repository: str
    ci_system: str
    triggered_by: str = ""
    pipeline_url: str = ""

    SINGLE_LINE: ClassVar[tuple[str, ...]] = (
        "id", "service_name", "environment", "branch", "ci_system", "triggered_by", "pipeline_url")

    @field_validator("deployed_at", mode="before")
    @classmethod
    def _deployed_at(cls, value: Any) -> datetime:
        return parse_deployed_at(value)

    @field_validator(*SINGLE_LINE)
    @classmethod
    def _single_line(cls, value: str, info) -> str:
        _check_text(info.field_name, value)
        if info.field_name in REQUIRED_FIELDS and not value:
            raise ValueError("must not be empty")
        return value

    @field_validator("commit_message")
    @classmethod
    def _commit_message(cls, value: str) -> str:
        return _check_text("commit_message", value, multiline=True)

    @field_validator("environment")
    @classmethod
    def _environment(cls, value: str) -> str:
        return canonical_environment(value)

    @field_validator("commit_sha")
    @classmethod
    def _commit_sha(cls, value: str) -> str:
        if not 7 <= len(value) <= 40 or not set(value) <= _HEX:
            raise ValueError(f"must be 7 to 40 hexadecimal characters, got {one_line(repr(value))[:60]}")
        return value.lower()

    @field_validator("repository")
    @classmethod
    def _repository(cls, value: str) -> str:
        try:
            return validate_repository(value)
        except RepositoryNameError as exc:
            raise ValueError(one_line(str(exc))) from None

    @field_validator("pipeline_url")
    @classmethod
    def _pipeline_url(cls, value: str) -> str:
        if value:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in value):
                raise ValueError("must be empty or an absolute http(s) URL")
        return value

    # ---- one way in, two ways out ------------------------------------------------------------
    @classmethod
    def from_raw(cls, raw: Any) -> "DeploymentEvent":
        """The event, or DeploymentEventError with the quarantine rule and a one-line reason."""
        if isinstance(raw, DeploymentEvent):
            return raw
        if not isinstance(raw, dict):
            raise DeploymentEventError(Violation(INVALID_FIELD, "row", (("row", "an event must be a JSON object"),)))
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            raise DeploymentEventError(violation(exc)) from None

    def to_record(self) -> dict[str, str]:
        """The JSON form (the event store's files, the jsonl contract): every field text, UTC with 'Z'."""
        record = self.model_dump()
        record["deployed_at"] = format_utc(self.deployed_at)
        return {name: record[name] for name in CONTRACT_FIELDS}

    def to_row(self) -> dict:
        """The `deployment_events` table's row: deployed_at as naive UTC (the table's timestamp type)."""
        row = self.model_dump()
        row["deployed_at"] = self.deployed_at.replace(tzinfo=None)
        return {name: row[name] for name in CONTRACT_FIELDS}
