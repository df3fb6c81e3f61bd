"""The result of reading a suspect commit's diff, and the rules every analyzer's answer must pass.

Seed 000's fields plus the analyzer used. An answer is only as trusted as its checks: the
offending file must be one of the diff's files, and a fix patch must be a plain modification of that
file alone, of a path that may be patched, and apply cleanly to the commit (lib/analysis/patches.py); otherwise
the patch is dropped, the finding is kept as a description, and `patch_rejected` says why.
"""

from typing import Literal

from pydantic import BaseModel, Field

from finops_assets.lib.analysis.patches import PatchError, parse_fix_patch
from finops_assets.lib.codehost.host import CommitDiff

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
    patch_rejected: str | None = None   # why a proposed fix patch was dropped (set by the checks, never the model)


def no_clear_cause(reasoning: str, analyzer: str = "rule_based") -> DiffAnalysis:
    return DiffAnalysis(cause_found=False, cause_description=NO_CLEAR_CAUSE, confidence="low",
                        reasoning=reasoning, analyzer=analyzer)


def drop_patch(analysis: DiffAnalysis, reason: str) -> DiffAnalysis:
    """The finding without its patch, marked with the one-line reason."""
    return analysis.model_copy(update={
        "fix_patch": None, "patch_rejected": reason,
        "reasoning": f"{analysis.reasoning} [fix patch dropped: {reason}]"[:4000]})


def check_against_diff(analysis: DiffAnalysis, diff: CommitDiff) -> DiffAnalysis:
    """Drop what the diff does not support: an offending file outside the diff voids the answer; a patch
    that is not a plain modification of the offending file alone (lib/analysis/patches.py) is removed and the
    finding kept as a description. Text in a diff is untrusted input."""
    if analysis.cause_found and analysis.offending_file not in diff.paths:
        return no_clear_cause(f"rejected: the answer named {analysis.offending_file!r}, which is not a file of "
                              f"this diff ({', '.join(diff.paths) or 'no files'})", analysis.analyzer)
    if analysis.fix_patch:
        try:
            checked = parse_fix_patch(analysis.fix_patch, analysis.offending_file)
        except PatchError as exc:
            return drop_patch(analysis, str(exc))
        # Keep the rebuilt patch: exactly what was checked, and what git will be given later.
        return analysis.model_copy(update={"fix_patch": checked.text})
    return analysis
