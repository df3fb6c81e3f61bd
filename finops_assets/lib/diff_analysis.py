"""The result of reading a suspect commit's diff, and the rules every analyzer's answer must pass.

Seed 000's fields plus the analyzer used. An answer is only as trusted as its checks: the
offending file must be one of the diff's files, and a fix patch must touch that file alone and
apply cleanly to the commit (lib/patches.py); otherwise the patch is dropped and the answer says so.
"""

import re
from typing import Literal

from pydantic import BaseModel, Field

from finops_assets.lib.code_host import CommitDiff

NO_CLEAR_CAUSE = "no clear code cause found"
Confidence = Literal["high", "medium", "low"]


class DiffAnalysis(BaseModel):
    cause_found: bool
    cause_description: str = Field(max_length=2000)
    offending_file: str | None = None
    offending_lines: str | None = Field(default=None, description="e.g. '41-47' in the new file")
    fix_description: str | None = Field(default=None, max_length=2000)
    fix_patch: str | None = Field(default=None, description="unified diff touching offending_file only")
    confidence: Confidence
    reasoning: str = Field(max_length=4000)
    analyzer: str = "rule_based"
    pattern: str | None = None   # rule-based: which tractable cause matched


def no_clear_cause(reasoning: str, analyzer: str = "rule_based") -> DiffAnalysis:
    return DiffAnalysis(cause_found=False, cause_description=NO_CLEAR_CAUSE, confidence="low",
                        reasoning=reasoning, analyzer=analyzer)


_PATCH_PATH = re.compile(r"^(?:---|\+\+\+) (?:[ab]/)?(\S+)", re.MULTILINE)
_GIT_HEADER = re.compile(r"^diff --git a/(\S+) b/(\S+)", re.MULTILINE)


def patch_paths(patch: str) -> set[str]:
    """Every path a unified diff names (both sides, '/dev/null' left out)."""
    paths = {p for p in _PATCH_PATH.findall(patch) if p != "/dev/null"}
    for a, b in _GIT_HEADER.findall(patch):
        paths.update({a, b})
    return paths


def check_against_diff(analysis: DiffAnalysis, diff: CommitDiff) -> DiffAnalysis:
    """Drop what the diff does not support: an offending file outside the diff voids the answer, a
    patch touching anything but the offending file is removed. Text in a diff is untrusted input."""
    if analysis.cause_found and analysis.offending_file not in diff.paths:
        return no_clear_cause(f"rejected: the answer named {analysis.offending_file!r}, which is not a file of "
                              f"this diff ({', '.join(diff.paths) or 'no files'})", analysis.analyzer)
    if analysis.fix_patch:
        touched = patch_paths(analysis.fix_patch)
        if not touched or touched != {analysis.offending_file}:
            return analysis.model_copy(update={
                "fix_patch": None,
                "reasoning": f"{analysis.reasoning} [fix patch dropped: it touches {sorted(touched) or 'nothing'}, "
                             f"not only {analysis.offending_file}]"})
    return analysis
