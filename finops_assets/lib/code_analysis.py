"""Read each suspect deployment's diff through the code host and keep only answers the diff supports."""

from collections.abc import Callable

from finops_assets.lib.code_host import CodeHost, CodeHostError, CommitDiff
from finops_assets.lib.diff_analysis import DiffAnalysis, check_against_diff, no_clear_cause
from finops_assets.lib.patches import PatchError, apply_patch
from finops_assets.lib.rule_analyzer import FileReader

Analyzer = Callable[[CommitDiff, dict, FileReader], DiffAnalysis]


def analyze_target(target: dict, host: CodeHost, analyze: Analyzer) -> dict:
    """One diff_analyses row for a correlation target (see select_diff_analysis_targets.sql)."""
    repository, sha = target["repository"], target["commit_sha"]
    base = {k: target[k] for k in ("analysis_id", "anomaly_id", "deployment_id", "repository", "commit_sha")}
    try:
        diff = host.commit_diff(repository, sha)
    except CodeHostError as exc:
        analysis = no_clear_cause(f"the diff could not be read: {exc}")
        return {**base, **_fields(analysis), "patch_applies": None, "diff_files": None, "withheld_files": None,
                "diff_truncated": None, "diff_chars": None, "error": str(exc)}

    def read(commit_sha: str, path: str) -> str:
        return host.file_at(repository, commit_sha, path)

    context = {k: str(target.get(k)) for k in ("resource_id", "team", "department", "service_name", "detected_at",
                                                "excess_cost", "sigma", "path", "deployment_id", "commit_sha")}
    analysis = check_against_diff(analyze(diff, context, read), diff)
    patch_applies = None
    if analysis.fix_patch:
        # Kept only if it applies cleanly to the offending file at the commit.
        try:
            apply_patch(read(diff.commit_sha, analysis.offending_file), analysis.fix_patch, analysis.offending_file)
            patch_applies = True
        except (PatchError, CodeHostError) as exc:
            patch_applies = False
            analysis = analysis.model_copy(update={
                "fix_patch": None, "reasoning": f"{analysis.reasoning} [fix patch dropped: does not apply: {exc}]"})
    return {**base, **_fields(analysis), "patch_applies": patch_applies, "diff_files": ", ".join(diff.paths),
            "withheld_files": ", ".join(diff.withheld_files) or None, "diff_truncated": diff.truncated,
            "diff_chars": diff.total_chars, "error": None}


def _fields(analysis: DiffAnalysis) -> dict:
    return analysis.model_dump(include={"cause_found", "cause_description", "offending_file", "offending_lines",
                                        "fix_description", "fix_patch", "confidence", "reasoning", "analyzer",
                                        "pattern"})
