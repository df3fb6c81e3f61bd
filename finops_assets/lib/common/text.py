"""Text from outside (bill tags, resource ids, commit messages, git errors, LLM answers) made safe where
we show it: on one visible line, and in Markdown as literal text that cannot become markup (pure).

Markdown: every outside string is an inline code span (`md_code` / `md_text`). Inside a code span nothing
is markup (no emphasis, link, image, HTML, heading, table or block), and no renderer turns anything into a
link there: no bare URL (`http://`, `https://`, `www.`), e-mail address, @mention or #123 reference.
Backslash escapes could not do that: GFM autolinks `www.evil.example` whatever is escaped around it. The
code span also marks the text as quoted data, so it cannot pass for our own prose.
"""

import re
import unicodedata
from datetime import date, datetime
from decimal import Decimal

# Invisible characters that Unicode files as letters or symbols, not as format characters.
_INVISIBLE = frozenset("\u115f\u1160\u3164\uffa0\u2800\u17b4\u17b5")
# Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt): drawn as nothing, wherever they are filed
# (variation selectors and the combining grapheme joiner are marks, U+3164 a letter). Bidi controls
# (U+061C, U+200E/F, U+202A..E, U+2066..9) are among them.
_DEFAULT_IGNORABLE = ((0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160), (0x17B4, 0x17B5),
                      (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0x3164, 0x3164),
                      (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3),
                      (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF))
ELLIPSIS = "\u2026"


def is_hidden(c: str) -> bool:
    """Drawn as nothing, or a control/format/separator character (a plain space is not)."""
    if c == " ":
        return False
    code = ord(c)
    return (c in _INVISIBLE or unicodedata.category(c)[0] in "CZ"
            or any(low <= code <= high for low, high in _DEFAULT_IGNORABLE))


def cap(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, the last one an ellipsis when something was cut."""
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def escape_visible(value: object, limit: int = 500) -> str:
    """One line for a log or audit row: control, format, separator and invisible characters written as
    \\uXXXX (\\UXXXXXXXX beyond U+FFFF) so they can be seen, then cut to `limit`."""
    return cap("".join(_code_point(c) if is_hidden(c) else c for c in str(value)), limit)


def _code_point(c: str) -> str:
    return f"\\u{ord(c):04x}" if ord(c) <= 0xFFFF else f"\\U{ord(c):08x}"


def one_line(value: object, limit: int = 500) -> str:
    """Plain text on one line: line breaks, control, format (bidi, zero-width) and default-ignorable
    characters become spaces, runs of whitespace one space, cut to `limit` characters."""
    text = "".join(" " if is_hidden(c) else c for c in str(value))
    return cap(" ".join(text.split()), limit)


def first_line(value: object, limit: int = 500) -> str:
    """The first line of `value` that has something visible on it, as one_line ("" when none has)."""
    for line in str(value if value is not None else "").splitlines():
        if shown := one_line(line, limit):
            return shown
    return ""


def md_code(value: object, limit: int = 300) -> str:
    """Untrusted text as an inline code span on one line (one_line), fenced by more backticks than it
    contains (CommonMark); a text that starts or ends with a backtick is padded with one space each side
    (which CommonMark strips). Nothing ("") for a text with nothing visible, not a stray "``"."""
    text = one_line(value, limit)
    if not text:
        return ""
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    return f"{fence} {text} {fence}" if text.startswith("`") or text.endswith("`") else f"{fence}{text}{fence}"


def md_text(value: object, limit: int = 2000) -> str:
    """Untrusted prose (a rationale, a commit message, an analyzer's reasoning): md_code with room for prose."""
    return md_code(value, limit)


def md_fenced(text: str, info: str = "") -> str:
    """A fenced code block that no line of `text` can close: the fence is longer than any backtick run."""
    fence = "`" * max(3, max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    return f"{fence}{info}\n{text.rstrip()}\n{fence}"


# A name of ours such as a column name: letters and digits, underscores only between them (so never
# emphasis), no `.`, `:` or `@` (so never an autolink).
_IDENTIFIER = re.compile(r"[A-Za-z0-9]+(?:_[A-Za-z0-9]+)*")


def md_cell(value: object, limit: int = 300) -> str:
    """One GFM table cell: a number or a date as it is, anything else a code span (md_code) with its `|`
    escaped (GFM splits cells on a `|` even inside a code span and gives `\\|` back as `|`)."""
    if value is None:
        return ""
    if isinstance(value, bool | int | float | Decimal | date | datetime):
        return one_line(value, limit)
    return md_code(value, limit).replace("|", "\\|")


def md_header(name: object) -> str:
    """A table header: an identifier as it is, anything else as a cell."""
    return str(name) if _IDENTIFIER.fullmatch(str(name)) else md_cell(name)
