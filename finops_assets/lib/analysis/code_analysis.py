"""Read each suspect deployment's diff through the code host and keep only answers the diff supports.

One target's trouble never stops the others: an exception or an analysis that runs past its time limit
becomes that target's row with `error` set, and the loop goes on. A commit shared by several targets is
diffed once.
"""

import threading
from collections.abc import Callable, Iterable

from finops_assets.lib.analysis.diff_analysis import (
    DiffAnalysis,
    check_against_diff,
    drop_patch,
    no_clear_cause,
)
from finops_assets.lib.analysis.patches import PatchError, apply_patch
from finops_assets.lib.analysis.rule_analyzer import FileReader
from finops_assets.lib.codehost.host import CodeHost, CodeHostError, CommitDiff

Analyzer = Callable[[CommitDiff, dict, FileReader], DiffAnalysis]
DEFAULT_TIME_LIMIT_SECONDS = 300.0
_BASE = ("analysis_id", "anomaly_id", "deployment_id", "repository", "commit_sha")


def _error_row(target: dict, reason: str, analyzer: str = "rule_based") -> dict:
    reason = " ".join(reason.split())[:1000]
    return {**{k: target[k] for k in _BASE}, **_fields(no_clear_cause(f"not analysed: {reason}", analyzer)),
            "patch_applies": None, "diff_files": None, "withheld_files": None, "diff_truncated": None,
            "diff_chars": None, "error": reason}


def analyze_target(target: dict, host: CodeHost, analyze: Analyzer, diffs: dict | None = None) -> dict:
    """One diff_analyses row for a correlation target (see select_diff_analysis_targets.sql). `diffs`
    caches commit diffs by (repository, sha) across targets."""
    repository, sha = target["repository"], target["commit_sha"]
    diffs = {} if diffs is None else diffs
    try:
        if (repository, sha) not in diffs:
            diffs[(repository, sha)] = host.commit_diff(repository, sha)
        diff = diffs[(repository, sha)]
    except CodeHostError as exc:
        return _error_row(target, f"the diff could not be read: {exc}")

    def read(commit_sha: str, path: str) -> str:
        return host.file_at(repository, commit_sha, path)

    context = {k: str(target.get(k)) for k in ("resource_id", "team", "department", "service_name", "detected_at",
                                                "excess_cost", "sigma", "path", "deployment_id", "commit_sha")}
    analysis = check_against_diff(analyze(diff, context, read), diff)
    patch_applies = None
    if analysis.fix_patch:
        # Kept only if it applies cleanly to the offending file at the commit (in a throwaway repository).
        try:
            apply_patch(read(diff.commit_sha, analysis.offending_file), analysis.fix_patch, analysis.offending_file)
            patch_applies = True
        except (PatchError, CodeHostError) as exc:
            patch_applies = False
            analysis = drop_patch(analysis, f"does not apply: {exc}")
    return {**{k: target[k] for k in _BASE}, **_fields(analysis), "patch_applies": patch_applies,
            "diff_files": ", ".join(diff.paths), "withheld_files": ", ".join(diff.withheld_files) or None,
            "diff_truncated": diff.truncated, "diff_chars": diff.total_chars, "error": None}


def analyze_targets(targets: Iterable[dict], host: CodeHost, analyze: Analyzer,
                    time_limit_seconds: float = DEFAULT_TIME_LIMIT_SECONDS) -> list[dict]:
    """A row per target; each analysis gets `time_limit_seconds`, after which it is recorded as an error."""
    diffs: dict = {}
    rows = []
    for target in targets:
        box: dict = {}

        def run(target=target, box=box) -> None:
            try:
                box["row"] = analyze_target(target, host, analyze, diffs)
            except Exception as exc:  # an analyzer bug or a hostile answer: this row fails, the others go on
                box["row"] = _error_row(target, f"analysis failed: {type(exc).__name__}: {exc}")

        # A daemon thread: a stuck analysis (a hung HTTP call, a huge git diff) cannot be killed from Python,
        # but it is left behind rather than waited for, and it does not keep the step process alive.
        worker = threading.Thread(target=run, daemon=True, name=f"diff-analysis-{target['analysis_id']}")
        worker.start()
        worker.join(time_limit_seconds)
        if worker.is_alive():
            rows.append(_error_row(target, f"analysis timed out after {time_limit_seconds:g} s (time limit)"))
        else:
            rows.append(box["row"])
    return rows


def _fields(analysis: DiffAnalysis) -> dict:
    return analysis.model_dump(include={"cause_found", "cause_description", "offending_file", "offending_lines",
                                        "fix_description", "fix_patch", "confidence", "reasoning", "analyzer",
                                        "pattern", "patch_rejected"})
