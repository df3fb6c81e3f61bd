"""The built-in diff analyzer: seed 000's five tractable code causes of cost, found by rules.

It reads only the diff and the changed files at the commit (and its parent), in Python,
JavaScript/TypeScript, Go, Kubernetes YAML and Terraform. Where the fix is mechanical it proposes a
bounded patch to the offending file: hoist a client out of its loop, restore a removed cache,
restore a raised limit. A model change or a query without an index gets a fix description but no
patch (the right fix is a decision, not an edit). Anything else is "no clear code cause found",
never a speculative fix.
"""

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from finops_assets.lib.analysis.diff_analysis import DiffAnalysis, no_clear_cause
from finops_assets.lib.codehost.host import CodeHostError, CommitDiff

FileReader = Callable[[str, str], str]  # (commit sha, path) -> text

LANGUAGE_BY_SUFFIX = {".py": "python", ".go": "go", ".ts": "javascript", ".tsx": "javascript", ".js": "javascript",
                      ".jsx": "javascript", ".mjs": "javascript", ".yaml": "yaml", ".yml": "yaml", ".tf": "terraform"}

CLIENT_CONSTRUCTORS = {
    "python": re.compile(r"\bboto3\.(client|resource)\s*\(|\b(anthropic\.Anthropic|OpenAI|storage\.Client|"
                         r"bigquery\.Client|\w+ServiceClient|\w+Client)\s*\("),
    "go": re.compile(r"\b\w+\.(NewFromConfig|NewClient)\s*\(|\bsession\.(NewSession|Must)\s*\("),
    "javascript": re.compile(r"\bnew\s+\w*Client\s*\("),
}
LOOP_HEADERS = {
    "python": re.compile(r"^\s*(async\s+)?(for|while)\b"),
    "go": re.compile(r"^\s*for\b"),
    "javascript": re.compile(r"^\s*(for|while)\b|\.(forEach|map)\s*\("),
}
FUNCTION_HEADERS = {
    "python": re.compile(r"^\s*(async\s+)?def\b|^\s*class\b"),
    "go": re.compile(r"^\s*func\b"),
    "javascript": re.compile(r"\bfunction\b|=>\s*\{\s*$"),
}
CACHE_LINE = re.compile(r"@(functools\.)?(lru_cache|cache|cached|memoize|cachetools\.\w+)\b|\bcache\.(Load|Get)\s*\("
                        r"|\bmemoize\s*\(|@Cacheable\b|\bfrom functools import .*\b(lru_cache|cache)\b"
                        r"|\bimport .*\b(cachetools|memoize)\b|return cached\b")
LIMIT_KEYS = re.compile(r"^(?P<indent>\s*)(?P<key>maxReplicas|maxReplicaCount|max_replicas|replicas|max_size|"
                        r"max_capacity|desired_capacity|maxSize|max_instances|maxInstances|concurrency|"
                        r"reserved_concurrent_executions)(?P<sep>\s*[:=]\s*)(?P<value>\d+)\s*$")
SQL_QUERY = re.compile(r"\bSELECT\b.+?\bFROM\s+(?P<table>\w+).*?\bWHERE\s+(?P<column>\w+)\s*(=|IN\b|LIKE\b|>|<)",
                       re.IGNORECASE)
CREATE_INDEX = re.compile(r"CREATE\s+(UNIQUE\s+)?INDEX\b.*\bON\s+(?P<table>\w+)\s*\((?P<columns>[^)]*)\)", re.IGNORECASE)
# List prices per million input tokens (USD), by model family: enough to tell pricier from cheaper.
MODEL_PRICES = (("claude-3-haiku", 0.25), ("haiku", 1.0), ("sonnet", 3.0), ("opus", 15.0), ("gpt-4o-mini", 0.15),
                ("gpt-4.1-mini", 0.4), ("gpt-4.1", 2.0), ("gpt-4o", 2.5), ("o1-mini", 1.1), ("o1", 15.0),
                ("gemini-1.5-flash", 0.075), ("gemini-2.5-flash", 0.3), ("gemini-2.5-pro", 1.25),
                ("gemini-1.5-pro", 1.25), ("gpt-3.5", 0.5), ("gpt-4", 30.0))
MODEL_LITERAL = re.compile(r"[\"'](?P<model>[a-z0-9][a-z0-9.\-:]*(claude|gpt|gemini|o1)[a-z0-9.\-:]*|"
                           r"(claude|gpt|gemini|o1)[a-z0-9.\-:]*)[\"']", re.IGNORECASE)


@dataclass
class FileChange:
    path: str
    language: str | None
    added: list[tuple[int, str]] = field(default_factory=list)    # (line in new file, text)
    removed: list[tuple[int, str]] = field(default_factory=list)  # (line in old file, text)


_HUNK = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@")


def parse_patch(path: str, patch: str) -> FileChange:
    change = FileChange(path, LANGUAGE_BY_SUFFIX.get(PurePosixPath(path).suffix.lower()))
    old_line = new_line = 0
    in_hunk = False  # file headers (---/+++) come before the first hunk only
    for line in patch.splitlines():
        match = _HUNK.match(line)
        if match:
            old_line, new_line, in_hunk = int(match.group(1)), int(match.group(2)), True
        elif not in_hunk or line.startswith("\\"):
            continue
        elif line.startswith("+"):
            change.added.append((new_line, line[1:]))
            new_line += 1
        elif line.startswith("-"):
            change.removed.append((old_line, line[1:]))
            old_line += 1
        else:
            old_line += 1
            new_line += 1
    return change


def unified_patch(path: str, before: str, after: str) -> str:
    return "".join(difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                        fromfile=f"a/{path}", tofile=f"b/{path}"))


def _indent(text: str) -> int:
    return len(text) - len(text.lstrip())


def enclosing_loop(lines: list[str], index: int, language: str) -> int | None:
    """Index of the loop header enclosing lines[index], stopping at the enclosing function."""
    if language == "python":
        level = _indent(lines[index])
        for i in range(index - 1, -1, -1):
            text = lines[i]
            if not text.strip() or _indent(text) >= level:
                continue
            if LOOP_HEADERS["python"].match(text):
                return i
            if FUNCTION_HEADERS["python"].match(text):
                return None
            level = _indent(text)
        return None
    depth = 0
    for i in range(index - 1, -1, -1):
        text = lines[i]
        depth += text.count("}") - text.count("{")
        if depth < 0:  # this line opens a block around the client line
            if LOOP_HEADERS[language].search(text):
                return i
            if FUNCTION_HEADERS[language].search(text):
                return None
            depth = 0
    return None


def _client_in_loop(diff: CommitDiff, change: FileChange, read: FileReader) -> DiffAnalysis | None:
    pattern = CLIENT_CONSTRUCTORS.get(change.language or "")
    if not pattern:
        return None
    for line_number, text in change.added:
        if not pattern.search(text):
            continue
        new_text = read(diff.commit_sha, change.path)
        lines = new_text.splitlines(keepends=True)
        index = line_number - 1
        if index >= len(lines) or lines[index].rstrip("\n") != text:
            continue
        loop = enclosing_loop([l.rstrip("\n") for l in lines], index, change.language)
        if loop is None:
            continue
        header_indent = lines[loop][: _indent(lines[loop])]
        hoisted = header_indent + lines[index].lstrip()
        fixed = lines[:loop] + [hoisted] + lines[loop:index] + lines[index + 1:]
        return DiffAnalysis(
            cause_found=True, pattern="sdk_client_in_loop",
            cause_description=f"A cloud SDK client is now constructed inside a loop in {change.path} "
                              f"(line {line_number}): every iteration builds a new client (new connections, "
                              "credential lookups, no connection reuse) and multiplies API calls and cost.",
            offending_file=change.path, offending_lines=f"{loop + 1}-{line_number}",
            fix_description="Hoist the client construction out of the loop so one client serves every iteration.",
            fix_patch=unified_patch(change.path, new_text, "".join(fixed)), confidence="high",
            reasoning=f"Added line {line_number} `{text.strip()}` matches a client constructor and sits inside the "
                      f"loop that starts at line {loop + 1} (`{lines[loop].strip()}`).")
    return None


def _cache_removed(diff: CommitDiff, change: FileChange, read: FileReader) -> DiffAnalysis | None:
    cache_lines = [(n, t) for n, t in change.removed if CACHE_LINE.search(t)]
    if not cache_lines or any(CACHE_LINE.search(t) for _, t in change.added if "@" in t or "cache" in t.lower()):
        return None
    first = cache_lines[0]
    only_cache = all(not t.strip() or CACHE_LINE.search(t) or _is_cache_block_line(t) for _, t in change.removed) \
        and all(not t.strip() for _, t in change.added)
    patch = None
    if only_cache and diff.parent_sha:
        try:
            patch = unified_patch(change.path, read(diff.commit_sha, change.path), read(diff.parent_sha, change.path))
        except CodeHostError:
            patch = None
    return DiffAnalysis(
        cause_found=True, pattern="cache_removed",
        cause_description=f"A cache was removed from {change.path} (`{first[1].strip()}`, old line {first[0]}): "
                          "every call now reaches the backing service, multiplying its load and cost.",
        offending_file=change.path, offending_lines=str(first[0]),
        fix_description="Restore the cache (the removed lines), or replace it with one that has an explicit "
                        "expiry if staleness was the reason for removing it.",
        fix_patch=patch, confidence="high" if patch else "medium",
        reasoning=f"Removed lines {', '.join(str(n) for n, _ in cache_lines)} are cache lookups or decorators and "
                  "nothing in the commit adds a replacement.")


def _is_cache_block_line(text: str) -> bool:
    stripped = text.strip()
    return stripped in ("}", "return cached.(string)") or stripped.startswith(("return cached", "if cached"))


def _model_price(model: str) -> float | None:
    lowered = model.lower()
    return next((price for family, price in MODEL_PRICES if family in lowered), None)


def _model_changed(diff: CommitDiff, change: FileChange, read: FileReader) -> DiffAnalysis | None:
    removed = [(n, m.group("model")) for n, t in change.removed for m in MODEL_LITERAL.finditer(t)]
    added = [(n, m.group("model")) for n, t in change.added for m in MODEL_LITERAL.finditer(t)]
    for (old_n, old_model), (new_n, new_model) in ((r, a) for r in removed for a in added):
        old_price, new_price = _model_price(old_model), _model_price(new_model)
        if old_price and new_price and new_price > old_price * 1.2:
            return DiffAnalysis(
                cause_found=True, pattern="model_id_changed",
                cause_description=f"The model id in {change.path} changed from {old_model} to {new_model}, about "
                                  f"{new_price / old_price:.0f}x the price per input token.",
                offending_file=change.path, offending_lines=str(new_n),
                fix_description=f"Go back to {old_model}, or send only the requests that need {new_model} to it "
                                "(a product decision, so no patch is proposed).",
                confidence="high",
                reasoning=f"Line {new_n} replaces the literal {old_model!r} (list price ${old_price}/M input tokens) "
                          f"with {new_model!r} (${new_price}/M).")
    return None


def _limit_raised(diff: CommitDiff, change: FileChange, read: FileReader) -> DiffAnalysis | None:
    if change.language not in ("yaml", "terraform", "python", "javascript", "go"):
        return None
    old_values = {}
    for n, t in change.removed:
        m = LIMIT_KEYS.match(t)
        if m:
            old_values[m.group("key")] = (n, t, int(m.group("value")))
    for n, t in change.added:
        m = LIMIT_KEYS.match(t)
        if not m or m.group("key") not in old_values:
            continue
        old_n, old_text, old_value = old_values[m.group("key")]
        new_value = int(m.group("value"))
        if new_value <= old_value:
            continue
        new_text = read(diff.commit_sha, change.path)
        lines = new_text.splitlines(keepends=True)
        fixed = list(lines)
        if n - 1 < len(lines) and lines[n - 1].rstrip("\n") == t:
            fixed[n - 1] = old_text + "\n"
        patch = unified_patch(change.path, new_text, "".join(fixed)) if fixed != lines else None
        return DiffAnalysis(
            cause_found=True, pattern="autoscaler_limit_raised",
            cause_description=f"{m.group('key')} in {change.path} was raised from {old_value} to {new_value}: the "
                              f"fleet may now scale to {new_value / old_value:.0f}x its former ceiling.",
            offending_file=change.path, offending_lines=str(n),
            fix_description=f"Restore {m.group('key')} to {old_value} (or a reviewed value with a budget alert).",
            fix_patch=patch, confidence="high" if patch else "medium",
            reasoning=f"Line {n} changes {m.group('key')} {old_value} -> {new_value}.")
    return None


def _query_without_index(diff: CommitDiff, change: FileChange, read: FileReader,
                         indexed: set[tuple[str, str]]) -> DiffAnalysis | None:
    if change.language not in ("python", "go", "javascript"):
        return None
    for n, t in change.added:
        m = SQL_QUERY.search(t)
        if not m:
            continue
        table, column = m.group("table").lower(), m.group("column").lower()
        if (table, column) in indexed:
            continue
        return DiffAnalysis(
            cause_found=True, pattern="query_without_index",
            cause_description=f"A new query in {change.path} (line {n}) filters {table} by {column}, and the commit "
                              f"adds no index on {table}({column}): every call scans the table, and the cost grows "
                              "with the table.",
            offending_file=change.path, offending_lines=str(n),
            fix_description=f"Add a migration: CREATE INDEX CONCURRENTLY {table}_{column}_idx ON {table} ({column});",
            confidence="medium",
            reasoning=f"Added line {n} `{t.strip()}`; no CREATE INDEX on {table}({column}) in this commit.")
    return None


def analyze_commit(diff: CommitDiff, read: FileReader) -> DiffAnalysis:
    """The first tractable cause found in the diff's files, or no clear code cause."""
    changes = [parse_patch(f.path, f.patch) for f in diff.files if f.patch]
    indexed = set()
    for change in changes:
        for _, t in change.added:
            m = CREATE_INDEX.search(t)
            if m:
                for column in m.group("columns").split(","):
                    indexed.add((m.group("table").lower(), column.strip().split()[0].lower()))
    for change in changes:
        for finder in (_client_in_loop, _cache_removed, _model_changed, _limit_raised):
            try:
                found = finder(diff, change, read)
            except CodeHostError:
                found = None
            if found:
                return found
        found = _query_without_index(diff, change, read, indexed)
        if found:
            return found
    notes = []
    if diff.withheld_files:
        notes.append(f"withheld secret files: {', '.join(diff.withheld_files)}")
    if diff.truncated:
        notes.append(f"diff cut at {len(diff.text):,} of {diff.total_chars:,} characters")
    return no_clear_cause(f"None of the five tractable patterns (client in a loop, removed cache, pricier model, "
                          f"raised limit, query without index) appears in {len(changes)} changed file(s)"
                          + (f" ({'; '.join(notes)})" if notes else "") + ".")
