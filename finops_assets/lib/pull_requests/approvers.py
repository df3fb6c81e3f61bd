"""Who may approve a cost-fix PR, and how user-controlled text is made safe where it is written down.

An approver's name is typed by a person into run config and ends up in a PR body, a commit message and the
audit log, so it is checked like any outside input: NFKC-normalized (full-width and compatibility forms
become plain letters), no control, format or zero-width characters (a zero-width space must not pass as a
name, a newline must not start a fake "Approved by" section), bounded length, and, when
FINOPS_PR_APPROVERS is set, one of the names listed there.
"""

import re
import unicodedata

from finops_assets.lib.common.text import escape_visible
from finops_assets.lib.common.text import is_hidden as _hidden

MAX_APPROVER_CHARS = 64


class ApproverError(ValueError):
    """The approver is missing or not acceptable; the message says which rule, in one line."""


def parse_allowlist(text: str | None) -> frozenset[str] | None:
    """FINOPS_PR_APPROVERS: names separated by commas or newlines; unset or empty means no allowlist."""
    names = {_folded(name) for name in re.split(r"[,\n]", text or "") if name.strip()}
    return frozenset(names) or None


def _folded(name: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", name).split()).casefold()


def normalize_approver(raw: str | None, allowlist: frozenset[str] | None = None) -> str:
    """The approver's name as it will be written (NFKC, single spaces), or ApproverError."""
    if raw is None or not raw.strip():
        raise ApproverError("an approver is required: set run config `approver` to the name of the person approving")
    name = unicodedata.normalize("NFKC", raw).strip()
    # Named as typed: U+3164 (which NFKC turns into U+1160) is reported as U+3164; a full-width space, which
    # NFKC makes a plain space, is fine. (NFKC of the whole name only composes letters and marks, so checking
    # each character's own normalization finds every hidden character of the normalized name.)
    hidden = sorted({c for c in raw.strip() if any(_hidden(n) for n in unicodedata.normalize("NFKC", c))})
    if hidden:
        codes = ", ".join(f"U+{ord(c):04X}" for c in hidden)
        raise ApproverError(f"approver '{escape_visible(raw, 80)}' contains control, format, line-break or "
                            f"zero-width characters ({codes}): type the name plainly")
    name = " ".join(name.split())
    if len(name) > MAX_APPROVER_CHARS:
        raise ApproverError(f"approver name is {len(name)} characters, over the limit of {MAX_APPROVER_CHARS}")
    if not any(c.isalnum() for c in name):
        raise ApproverError(f"approver '{escape_visible(name, 80)}' has no letter or digit: give a person's name")
    if allowlist is not None and name.casefold() not in allowlist:
        raise ApproverError(f"approver '{name}' is not in FINOPS_PR_APPROVERS (the list of people who may approve)")
    return name
