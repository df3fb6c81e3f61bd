"""Who may approve a cost-fix PR, and how user-controlled text is made safe where it is written down.

An approver's name is typed by a person into run config and ends up in a PR body, a commit message and the
audit log, so it is checked like any outside input: NFKC-normalized (full-width and compatibility forms
become plain letters), no control, format or zero-width characters (a zero-width space must not pass as a
name, a newline must not start a fake "Approved by" section), bounded length, and, when
FINOPS_PR_APPROVERS is set, one of the names listed there.
"""

import re
import unicodedata

MAX_APPROVER_CHARS = 64
# Invisible characters that Unicode files as letters or symbols, not as format characters.
_INVISIBLE = frozenset("\u115f\u1160\u3164\uffa0\u2800\u17b4\u17b5")
# Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt): drawn as nothing, wherever they are filed
# (variation selectors and the combining grapheme joiner are marks, U+3164 a letter), so never in a name.
_DEFAULT_IGNORABLE = ((0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160), (0x17B4, 0x17B5),
                      (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0x3164, 0x3164),
                      (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3),
                      (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF))


def _hidden(c: str) -> bool:
    """Drawn as nothing, or a control/format/separator character (a plain space is fine)."""
    if c == " ":
        return False
    code = ord(c)
    return (c in _INVISIBLE or unicodedata.category(c)[0] in "CZ"
            or any(low <= code <= high for low, high in _DEFAULT_IGNORABLE))


def _code_point(c: str) -> str:
    return f"\\u{ord(c):04x}" if ord(c) <= 0xFFFF else f"\\U{ord(c):08x}"


class ApproverError(ValueError):
    """The approver is missing or not acceptable; the message says which rule, in one line."""


def escape_visible(value: object, limit: int = 500) -> str:
    """One line for a log or audit row: control, format, separator and invisible characters written as
    \\uXXXX (\\UXXXXXXXX beyond U+FFFF) so they can be seen, then cut to `limit`."""
    text = "".join(_code_point(c) if _hidden(c) else c for c in str(value))
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
