"""What every code host gives the pipeline: a commit's diff (guarded), a file's text, a draft PR.

The built-in host reads local git repositories (lib/local_git.py); the GitHub host uses PyGithub
(lib/github_host.py). Both return these types, and both pass every diff through
`guard_diff`, so the guardrails of DESIGN.md section 7 hold whichever host is configured.
"""

import fnmatch
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Protocol

MAX_DIFF_CHARS = 40_000

# Never read or sent anywhere (DESIGN.md section 7), whatever the repository's .gitignore says.
SECRET_PATTERNS: tuple[str, ...] = (
    ".env", ".env.*", "*.env", "*.pem", "*.key", "*secret*", "*credential*", "*.tfstate", "*.tfstate.*",
    "*.tfvars", "id_rsa*", "*.p12", "*.pfx",
)


class CodeHostError(Exception):
    """A code host could not answer (missing repository or commit, auth, rate limit, server error)."""


@dataclass(frozen=True)
class FileDiff:
    path: str
    status: str        # 'added' | 'modified' | 'removed' | 'renamed'
    patch: str         # the unified diff of this file ('--- a/..', '+++ b/..', hunks)


@dataclass(frozen=True)
class CommitDiff:
    repository: str
    commit_sha: str
    parent_sha: str | None
    message: str
    files: tuple[FileDiff, ...]
    withheld_files: tuple[str, ...] = ()   # secret files: named, never read or sent
    truncated: bool = False                # the diff was cut at MAX_DIFF_CHARS
    total_chars: int = 0                   # size before the cut

    @property
    def text(self) -> str:
        return "".join(f.patch if f.patch.endswith("\n") else f.patch + "\n" for f in self.files)

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(f.path for f in self.files)


@dataclass(frozen=True)
class PullRequestRecord:
    repository: str
    number: int | None         # None for the built-in host (a branch, no PR server)
    url: str
    branch: str
    base_branch: str
    head_sha: str
    draft: bool
    created: bool              # False: it already existed and was returned as is
    extra: dict = field(default_factory=dict)


class CodeHost(Protocol):
    name: str

    def commit_diff(self, repository: str, commit_sha: str) -> CommitDiff:
        """The commit's changes against its first parent, guarded (see guard_diff)."""

    def file_at(self, repository: str, commit_sha: str, path: str) -> str:
        """A file's text at a commit. Raises CodeHostError for a secret path."""

    def open_draft_pull_request(self, repository: str, base_sha: str, branch: str, path: str, new_text: str,
                                title: str, body: str) -> PullRequestRecord:
        """Create `branch` at `base_sha`, commit `new_text` to `path` on it and open a draft PR
        against the default branch; if the branch's PR already exists, return it (created=False).
        Never writes to the default branch."""


def is_secret_path(path: str, gitignore_patterns: tuple[str, ...] = ()) -> bool:
    """True for files that must never be read or sent: the fixed secret patterns, plus what the
    repository's .gitignore marks (a tracked file matching .gitignore was committed by mistake)."""
    posix = PurePosixPath(path)
    names = [posix.name.lower(), str(posix).lower()]
    for pattern in SECRET_PATTERNS:
        if any(fnmatch.fnmatch(n, pattern) for n in names):
            return True
    for pattern in gitignore_patterns:
        pattern = pattern.strip()
        if not pattern or pattern.startswith("#") or pattern.startswith("!"):
            continue
        anchored = pattern.lstrip("/").rstrip("/")
        if fnmatch.fnmatch(str(posix), anchored) or fnmatch.fnmatch(posix.name, anchored) \
                or any(fnmatch.fnmatch(part, anchored) for part in posix.parts[:-1]) \
                or str(posix).startswith(anchored + "/"):
            return True
    return False


def parse_gitignore(text: str | None) -> tuple[str, ...]:
    return tuple(line.strip() for line in (text or "").splitlines() if line.strip() and not line.startswith("#"))


def guard_diff(repository: str, commit_sha: str, parent_sha: str | None, message: str, files: list[FileDiff],
               gitignore_patterns: tuple[str, ...] = (), max_chars: int = MAX_DIFF_CHARS) -> CommitDiff:
    """Drop secret files (keeping their names) and cap the diff at `max_chars`, reporting the cut.
    Files are cut whole where possible; the last file that does not fit is cut at a line boundary."""
    kept, withheld = [], []
    for f in files:
        (withheld if is_secret_path(f.path, gitignore_patterns) else kept).append(f)
    total = sum(len(f.patch) for f in kept)
    capped, used, truncated = [], 0, False
    for f in kept:
        if used + len(f.patch) <= max_chars:
            capped.append(f)
            used += len(f.patch)
            continue
        truncated = True
        room = max_chars - used
        if room > 200:  # keep a useful head of this file, cut at a line end
            head = f.patch[:room]
            head = head[: head.rfind("\n") + 1] if "\n" in head else ""
            if head:
                capped.append(FileDiff(f.path, f.status, head))
        break
    return CommitDiff(repository=repository, commit_sha=commit_sha, parent_sha=parent_sha, message=message,
                      files=tuple(capped), withheld_files=tuple(f.path for f in withheld), truncated=truncated,
                      total_chars=total)
