"""Approvers are normalized and checked, every outside string in a PR body is escaped (checked with a real
CommonMark parser), and the body's structure cannot be forged by an analyzer answer or a bill."""

import re

import pytest
from markdown_it import MarkdownIt

from finops_assets.lib.pull_requests.approvers import (
    MAX_APPROVER_CHARS,
    escape_visible,
    parse_allowlist,
)
from finops_assets.lib.pull_requests.plan import Refusal, plan_pull_request

REPO = "acme/svc"
PATCH = "--- a/app/cache.py\n+++ b/app/cache.py\n@@ -1,2 +1,2 @@\n def ttl():\n-    return 1\n+    return 60\n"
ANALYSIS = {"cause_found": True, "confidence": "high", "repository": REPO, "offending_file": "app/cache.py",
            "anomaly_id": "an1", "commit_sha": "a" * 40, "cause_description": "TTL cut", "reasoning": "literal changed",
            "analyzer": "rule_based", "pattern": "cache_removed", "fix_description": "restore it",
            "deployment_id": "d1", "offending_lines": "2", "fix_patch": PATCH}


def plan(approver: str, allowlist=None, **changes):
    extra = {} if allowlist is None else {"allowlist": allowlist}
    return plan_pull_request({**ANALYSIS, **changes}, {"resource_id": "r1", "team": "t"}, approver, {REPO}, "a1",
                             **extra)


@pytest.mark.parametrize("approver, code", [
    ("\u200b", "U+200B"), ("Dana\u200bOncall", "U+200B"), ("\u2060", "U+2060"), ("\ufeffDana", "U+FEFF"),
    ("\u3164", "U+3164"), ("Dana\u202eOncall", "U+202E"), ("Dana\x00", "U+0000"), ("Dana\tOncall", "U+0009"),
    ("Dana\n\n## Approval\nApproved by **mallory**", "U+000A"), ("Dana\u2028Oncall", "U+2028"),
    # Default_Ignorable_Code_Point that Unicode files as marks or letters, named as typed (not after NFKC)
    ("Dana\ufe0f", "U+FE0F"), ("Da\u034fna", "U+034F"), ("Dana\u180b", "U+180B"), ("Dana\U000e0041", "U+E0041"),
    ("Dana\U0001d173", "U+1D173"), ("Dana\U0001bca0", "U+1BCA0"), ("\uffa0Dana", "U+FFA0"),
])
def test_invisible_control_and_line_break_characters_are_refused(approver, code):
    with pytest.raises(Refusal, match=f"control, format, line-break or zero-width characters .*{re.escape(code)}") as refused:
        plan(approver)
    assert "\n" not in str(refused.value) and "\u200b" not in str(refused.value)


def test_names_are_nfkc_normalized_single_spaced_and_bounded():
    assert plan("\uff24\uff41\uff4e\uff41\u3000\uff2f\uff4e\uff43\uff41\uff4c\uff4c").approver == "Dana Oncall"
    assert plan("  Dana    Oncall ").approver == "Dana Oncall"
    assert plan("Dana Oncall\n").approver == "Dana Oncall"      # surrounding whitespace is trimmed, not refused
    assert plan("Zoë Ångström").approver == "Zoë Ångström"
    assert plan("x" * MAX_APPROVER_CHARS).approver == "x" * MAX_APPROVER_CHARS
    with pytest.raises(Refusal, match="over the limit of 64"):
        plan("x" * (MAX_APPROVER_CHARS + 1))
    for blank in ("", "   ", None):
        with pytest.raises(Refusal, match="an approver is required"):
            plan(blank)
    with pytest.raises(Refusal, match="no letter or digit"):
        plan("** --")


def test_the_allowlist_admits_listed_names_only():
    allowlist = parse_allowlist("Dana Oncall,\n  lee  ,")
    assert parse_allowlist("") is None and parse_allowlist(None) is None
    assert plan("dana  ONCALL", allowlist).approver == "dana ONCALL"
    assert plan("\uff2c\uff45\uff45", allowlist).approver == "Lee"          # full-width, normalized first
    with pytest.raises(Refusal, match="not in FINOPS_PR_APPROVERS"):
        plan("Mallory", allowlist)
    assert plan("Mallory").approver == "Mallory"                            # no allowlist: any valid name


HOSTILE_TEXT = "x\n\n## Approval\nApproved by **mallory** <img src=x onerror=alert(1)> [click](http://evil) `code`"


def test_outside_strings_cannot_add_sections_links_html_or_close_the_diff_block():
    fenced_patch = PATCH.replace(" def ttl():\n", " def ttl():\n ```\n")   # a context line that is a fence
    fenced_patch = fenced_patch.replace("@@ -1,2 +1,2 @@", "@@ -1,3 +1,3 @@")
    hostile = plan("Dana Oncall", cause_description=HOSTILE_TEXT, reasoning=HOSTILE_TEXT, fix_description=HOSTILE_TEXT,
                   offending_lines="1`` ## x", deployment_id="d` **bold**", analyzer="rule_based\n## Approval",
                   pattern="cache\r\nCo-authored-by: mallory <m@evil>", fix_patch=fenced_patch)
    benign = plan("Dana Oncall", fix_patch=fenced_patch)
    # Outside strings never add a line: the body (also the local host's commit message) keeps the template's shape.
    assert len(hostile.body.splitlines()) == len(benign.body.splitlines())
    tokens = MarkdownIt("commonmark").parse(hostile.body)
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert headings == ["Cost anomaly", "Root cause", "Fix", "Approval"]
    inline = [c for t in tokens if t.type == "inline" for c in t.children]
    assert not [c for c in inline if c.type in ("html_inline", "link_open", "image")]
    assert not [t for t in tokens if t.type == "html_block"]
    strong = [inline[i + 1].content for i, c in enumerate(inline) if c.type == "strong_open"]
    assert strong == ["Dana Oncall"]
    [fence] = [t for t in tokens if t.type == "fence"]
    assert fence.content == fenced_patch and fence.info == "diff"
    assert hostile.body.count("Approved by") == 4 and hostile.body.count("Approved by **`Dana Oncall`**") == 1
    assert "\n" not in hostile.title


def test_escape_visible_shows_hidden_characters_on_one_line():
    assert escape_visible("Dana\u200b\nx") == "Dana\\u200b\\u000ax"
    assert escape_visible("Dana\U000e0041\ufe0f") == "Dana\\U000e0041\\ufe0f"   # astral: \U and 8 digits
    assert escape_visible("Zoë Ångström") == "Zoë Ångström"
    assert len(escape_visible("x" * 1000)) == 500


LINKY = ("Approve here: https://evil.example/approve or www.evil.example @acme/security-team, cc @mallory, "
         "mail sec@evil.example, see #123, GH-7, acme/svc#9, <https://a.example>, [x](http://b.example) "
         ":rocket: $x^2$ `tick` ``two``")
# What GitHub turns into a link or a notification in plain text (GFM autolinks plus GitHub's references):
# bare URLs and www., e-mail addresses, @user and @org/team, #123, GH-123, owner/repo#123.
GFM_AUTOLINK = re.compile(r"https?://|www\.|[\w.+-]+@[\w-]+\.\w|(?<![\w`])@[A-Za-z0-9-]|#\d|\bGH-\d|/[\w.-]+#\d",
                          re.IGNORECASE)


def test_outside_prose_cannot_produce_links_or_mentions():
    """md_text('Approve here: https://evil.example/approve or www.evil.example @acme/security-team') came back
    unchanged, and GitHub autolinks and notifies in plain text: every outside string is now a code span."""
    from finops_assets.lib.pull_requests.plan import md_text

    assert md_text("Approve @acme/security-team") == "`Approve @acme/security-team`"
    assert md_text("") == "" and md_text(" \n ") == ""   # nothing, not a stray "``"
    fields = ("cause_description", "reasoning", "fix_description", "offending_lines", "analyzer", "deployment_id")
    hostile = plan_pull_request({**ANALYSIS, **{f: LINKY for f in fields}},
                                {"resource_id": LINKY, "team": LINKY, "department": LINKY, "detected_at": LINKY,
                                 "days_elevated": LINKY}, "Dana @acme/security-team", {REPO}, "a1")
    tokens = MarkdownIt("commonmark").parse(hostile.body)
    inline = [c for t in tokens if t.type == "inline" for c in t.children]
    assert not [c for c in inline if c.type in ("link_open", "image", "html_inline")]
    plain = " ".join(c.content for c in inline if c.type == "text")   # what GitHub would autolink
    assert not GFM_AUTOLINK.search(plain), GFM_AUTOLINK.search(plain)
    spans = [c.content for c in inline if c.type == "code_inline"]
    assert spans.count(LINKY) == 11 and "Dana @acme/security-team" in spans   # shown literally, as typed
    # the check would catch the prose had it stayed plain text
    assert GFM_AUTOLINK.findall(LINKY) == ["https://", "www.", "@a", "@m", "sec@evil.e", "#1", "GH-7", "/svc#9",
                                           "https://", "http://"]


def test_the_excess_in_the_body_is_in_the_reporting_currency():
    anomaly = {"resource_id": "r1", "team": "t", "sigma": 7.0, "excess_cost": 1234.565, "days_elevated": 2}
    body = plan_pull_request(ANALYSIS, anomaly, "Dana Oncall", {REPO}, "a1", currency="EUR").body
    assert "sigma above baseline; excess EUR 1,234.57 over" in body and "$" not in body
    assert "excess JPY 1,235 over" in plan_pull_request(ANALYSIS, anomaly, "Dana Oncall", {REPO}, "a1",
                                                        currency="JPY").body
