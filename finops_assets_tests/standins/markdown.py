"""Markdown as Dagster's UI would read it, for tests of text from outside: CommonMark with GFM tables
(markdown-it-py), GFM's autolinks (which markdown-it-py leaves to an extra package) looked for in the plain
text the parser leaves, and one hostile string with every way in."""

import re

from markdown_it import MarkdownIt

# One cell with every way in: a pipe, an image, a link, raw HTML, a newline, a bare URL, a www. autolink,
# an e-mail address, backtick runs (to close the code span early) and hidden characters.
HOSTILE = ("i-1 | ![x](https://a.example/t.png) [re-login](https://phish.example) <img src=x> <b>bold</b>\n"
           "see https://phish.example/login or www.x.example, mail sec@evil.example ``` ` `` **strong** "
           "\\| \u202eexe.txt \u200b&amp;")
# What GFM turns into a link in plain text: bare URLs, www., e-mail addresses.
GFM_AUTOLINK = re.compile(r"https?://|www\.|[\w.+-]+@[\w-]+\.\w", re.IGNORECASE)


def parse(markdown: str) -> list:
    return MarkdownIt("commonmark").enable("table").parse(markdown)


def inline_children(tokens: list) -> list:
    return [c for t in tokens if t.type == "inline" for c in t.children]


def assert_inert(tokens: list, own_images: int = 0) -> None:
    """No link, image or HTML anywhere (but `own_images` PNGs of ours, inline as data: URIs), and nothing GFM
    would autolink left as plain text."""
    assert not [t for t in tokens if t.type == "html_block"]
    children = inline_children(tokens)
    assert not [c for c in children if c.type in ("link_open", "html_inline")], children
    images = [c.attrs["src"] for c in children if c.type == "image"]
    assert len(images) == own_images and all(src.startswith("data:image/png;base64,") for src in images), images
    plain = " ".join(c.content for c in children if c.type == "text")
    assert not GFM_AUTOLINK.search(plain), plain


def table_rows(tokens: list) -> list[list[str]]:
    """Each row of the (single) table: the content of each th/td's inline token."""
    rows, row, in_cell = [], None, False
    for t in tokens:
        if t.type == "tr_open":
            row = []
        elif t.type == "tr_close":
            rows.append(row)
        elif t.type in ("th_open", "td_open"):
            in_cell = True
            row.append("")
        elif t.type == "inline" and in_cell:
            row[-1] = "".join(c.content for c in t.children)
        elif t.type in ("th_close", "td_close"):
            in_cell = False
    return rows
