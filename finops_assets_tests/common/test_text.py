"""Text from outside (bill tags, resource ids, commit messages, git errors, LLM answers) as Dagster shows it:
one visible line, and in Markdown metadata literal text that cannot become a link, an image or HTML, nor
break a table (the Markdown parsed as CommonMark + GFM: finops_assets_tests/standins/markdown.py)."""

import polars as pl

from finops_assets.lib.common.metadata import markdown_table
from finops_assets.lib.common.text import (
    escape_visible,
    first_line,
    md_cell,
    md_code,
    md_header,
    md_text,
    one_line,
)
from finops_assets_tests.standins.markdown import (
    HOSTILE,
    assert_inert,
    inline_children,
    parse,
    table_rows,
)


def test_the_hostile_text_would_be_live_markup_without_escaping():
    """The check below would catch it: the raw cell makes an image, a link, HTML and autolinkable text."""
    tokens = parse(f"| a | b |\n|---|---|\n| {HOSTILE.replace(chr(10), ' ')} | 1 |")
    types = {c.type for c in inline_children(tokens)}
    assert {"image", "link_open", "html_inline"} <= types
    assert len(table_rows(tokens)[1]) == 2 and "|" not in table_rows(tokens)[1][0]   # the pipe split the cell


def test_markdown_table_shows_outside_text_literally_in_the_same_columns():
    frame = pl.DataFrame({"resource_id": [HOSTILE, "i-2"], "team": ["`", None], "excess_cost": [1234.56789, -2.0],
                          "days": [3, 1], f"x | {HOSTILE}": ["www.x.example", "ok"]})
    markdown = markdown_table(frame)
    tokens = parse(markdown)
    assert_inert(tokens)
    rows = table_rows(tokens)
    assert len(rows) == 3 and all(len(r) == 5 for r in rows)   # header + 2 rows, 5 columns each: nothing split
    assert rows[0][:4] == ["resource_id", "team", "excess_cost", "days"]
    assert rows[0][4] == one_line(f"x | {HOSTILE}")
    # Shown as typed (on one line, hidden characters as spaces): the same text, not a sanitized stand-in.
    assert rows[1] == [one_line(HOSTILE), "`", "1234.5679", "3", "www.x.example"]
    assert rows[2] == ["i-2", "", "-2.0", "1", "ok"]
    codes = [c for c in inline_children(tokens) if c.type == "code_inline"]
    assert one_line(HOSTILE) in [c.content for c in codes]
    assert len(markdown.splitlines()) == 4   # header, delimiter row, one line per row


def test_numbers_and_identifiers_stay_plain_and_anything_else_is_a_code_span():
    assert [md_cell(v) for v in (3, -2.5, True, None)] == ["3", "-2.5", "True", ""]
    assert md_cell("a|b") == "`a\\|b`" and md_cell("") == ""
    assert md_header("billed_cost") == "billed_cost"
    assert md_header("_x_") == "`_x_`" and md_header("a.b") == "`a.b`"   # emphasis, a possible autolink


def test_md_code_fences_longer_than_any_backtick_run_and_pads_edge_backticks():
    assert md_code("a ``` b") == "````a ``` b````"
    assert md_code("`x") == "`` `x ``"
    assert md_code(" \n\u200b ") == "" and md_text("") == ""
    for text in ("a ``` b", "`x", "x`", "``", HOSTILE):
        [code] = [c for c in inline_children(parse(md_code(text))) if c.type == "code_inline"]
        assert code.content == one_line(text)


def test_one_line_joins_lines_hides_control_bidi_and_ignorable_characters_and_caps():
    assert one_line("a\n  b\tc") == "a b c"
    assert one_line("x" * 10, limit=5) == "xxxx\u2026"
    # ESC, zero-width space, right-to-left override, isolate, soft hyphen, Hangul filler, variation selector,
    # combining grapheme joiner, Braille blank (a "letter" drawn as nothing)
    assert one_line("a\x1b[31m\u200bb\u202ec\u2066d\u00ade\u3164f\ufe0fg\u034fh\u2800i") == "a [31m b c d e f g h i"
    assert one_line("Zo\u00eb \u00c5ngstr\u00f6m \u4e2d\u6587") == "Zo\u00eb \u00c5ngstr\u00f6m \u4e2d\u6587"
    assert first_line("\n\u200b\n  boom \n more") == "boom"
    assert escape_visible("a\u202eb\n") == "a\\u202eb\\u000a"
