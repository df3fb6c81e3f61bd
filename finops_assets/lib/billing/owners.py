"""Who owns a charge: department and team read from the FOCUS Tags JSON object.

Tag keys differ between providers and teams: `Team`, ` team`, `user:team`, `aws:team`,
`Business Unit`. We normalize keys (case, spaces, provider prefix) and try the configured
keys in order; spend without an owner goes to the explicit `unallocated` owner, never dropped.
"""

import json
import re
from dataclasses import dataclass

UNALLOCATED = "unallocated"

DEFAULT_DEPARTMENT_KEYS: tuple[str, ...] = ("department", "dept", "business_unit", "cost_center")
DEFAULT_TEAM_KEYS: tuple[str, ...] = ("team", "owner_team", "squad")

_PREFIX = re.compile(r"^[a-z0-9_.-]+:")  # user:, aws:, tag:, k8s-label: ...
_SEPARATORS = re.compile(r"[\s\-./_]+")


def normalize_tag_key(key: str) -> tuple[str, bool]:
    """('team', was_prefixed) for ' User:Team'. Case and separators are ignored, so `CostCenter`,
    `cost_center`, `Cost Center` and `cost-center` are one key (`costcenter`)."""
    lowered = key.strip().lower()
    prefixed = bool(_PREFIX.match(lowered))
    if prefixed:
        lowered = _PREFIX.sub("", lowered, count=1)
    return _SEPARATORS.sub("", lowered), prefixed


@dataclass(frozen=True)
class OwnerRules:
    department_keys: tuple[str, ...] = DEFAULT_DEPARTMENT_KEYS
    team_keys: tuple[str, ...] = DEFAULT_TEAM_KEYS

    def __post_init__(self):
        # Configured keys go through the same normalization as the bill's keys.
        object.__setattr__(self, "department_keys", tuple(normalize_tag_key(k)[0] for k in self.department_keys))
        object.__setattr__(self, "team_keys", tuple(normalize_tag_key(k)[0] for k in self.team_keys))


@dataclass(frozen=True)
class Owner:
    department: str
    team: str
    error: str | None = None  # set when Tags is present but not a JSON object
    # The Tags as stored: canonical JSON (sorted keys, no spaces), None for no tags ('', {}, null), so
    # the same tags written two ways (key order, spacing, a Parquet map) are one line item's identity.
    canonical: str | None = None


def _pick(tags: dict[str, tuple[str, bool]], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        if key in tags:
            return tags[key][0]
    return None


def resolve_owner(tags_text: str | None, rules: OwnerRules) -> Owner:
    """Department and team for one Tags value (a JSON object, or null)."""
    if tags_text is None or not tags_text.strip():
        return Owner(UNALLOCATED, UNALLOCATED)
    try:
        parsed = json.loads(tags_text)
    except (json.JSONDecodeError, TypeError) as exc:
        return Owner(UNALLOCATED, UNALLOCATED, f"Tags is not valid JSON ({exc.msg} at char {exc.pos})", tags_text)
    if not isinstance(parsed, dict):
        return Owner(UNALLOCATED, UNALLOCATED, f"Tags must be a JSON object, got {type(parsed).__name__}", tags_text)
    normalized: dict[str, tuple[str, bool]] = {}
    for raw_key, raw_value in parsed.items():
        if raw_value is None:
            continue
        value = str(raw_value).strip()
        if not value:
            continue
        key, prefixed = normalize_tag_key(str(raw_key))
        # An unprefixed key beats a provider-prefixed one with the same name.
        if key not in normalized or (normalized[key][1] and not prefixed):
            normalized[key] = (value, prefixed)
    return Owner(
        department=_pick(normalized, rules.department_keys) or UNALLOCATED,
        team=_pick(normalized, rules.team_keys) or UNALLOCATED,
        canonical=json.dumps(parsed, sort_keys=True, separators=(",", ":"), ensure_ascii=False) if parsed else None,
    )
