"""What every code host gives the pipeline: a commit's diff (guarded), a file's text, a draft PR.

The built-in host reads local git repositories (lib/codehost/local_git.py); the GitHub host uses PyGithub
(lib/codehost/github.py). Both return these types, and both pass every diff through
`guard_diff`, so the guardrails of DESIGN.md section 7 hold whichever host is configured.
"""

from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Protocol

import pathspec

MAX_DIFF_CHARS = 40_000

# Never read or sent anywhere (DESIGN.md section 7), whatever the repository's .gitignore says. Git's
# wildmatch rules (pathspec), matched on the whole lower-cased path: a pattern without '/' matches a file or a
# folder at any depth, so `*secret*` withholds secrets/db.yaml as well as my_secret.txt.
SECRET_PATTERNS: tuple[str, ...] = (
    ".env", ".env.*", "*.env", "*.pem", "*.key", "*.key.*", "*.keystore", "*.jks", "*.p12", "*.pfx", "*.p8",
    "*.ppk", "*secret*", "*credential*", "*.tfstate", "*.tfstate.*", "*.tfvars", "*.tfvars.json",
    "id_rsa*", "id_dsa*", "id_ecdsa*", "id_ed25519*", ".ssh/", ".netrc", "_netrc", ".npmrc", ".pypirc", ".pgpass",
    ".htpasswd", "kubeconfig", "kubeconfig.*", "*.kubeconfig", ".kube/", ".dockerconfigjson", "**/.docker/config.json",
    "*service-account*.json", "*service_account*.json", "*serviceaccount*.json", "passwords.*", "password.*",
)
_SECRETS = pathspec.GitIgnoreSpec.from_lines(SECRET_PATTERNS)


class CodeHostError(Exception):
    """A code host could not answer (missing repository or commit, auth, rate limit, server error)."""


# Code hosts read and write regular files only. A symlink's "text" is a path (a patch could retarget it at
# /home/runner/.aws/credentials), a submodule is another repository: both are refused, by git mode.
REGULAR_FILE_MODES = ("100644", "100755")
_MODE_NAMES = {"120000": "a symlink", "160000": "a submodule", "040000": "a directory", "40000": "a directory"}


def describe_mode(mode: str) -> str:
    return f"{_MODE_NAMES.get(mode, 'not a regular file')} (git mode {mode})"


def check_regular_file(where: str, path: str, modes: dict[str, str], writing: bool = False) -> None:
    """`modes`: git mode of `path` and of each folder above it that exists in the tree (absent: not there).
    Raises CodeHostError unless `path` is a regular file (or, when `writing`, absent) under real folders."""
    parts = path.split("/")
    for depth in range(1, len(parts)):
        folder = "/".join(parts[:depth])
        if folder in modes and modes[folder] not in ("040000", "40000"):
            raise CodeHostError(f"{where}: {path} is below {folder}, which is {describe_mode(modes[folder])}: "
                                "only regular files are read or written")
    mode = modes.get(path)
    if mode is None:
        if writing:
            return
        raise CodeHostError(f"{where}: {path} does not exist")
    if mode not in REGULAR_FILE_MODES:
        raise CodeHostError(f"{where}: {path} is {describe_mode(mode)}, not a regular file: only regular files "
                            f"are {'written' if writing else 'read'}")


@dataclass(frozen=True)
class FileDiff:
    path: str
    status: str        # 'added' | 'modified' | 'removed' | 'renamed'
    patch: str         # the unified diff of this file ('--- a/..', '+++ b/..', hunks)
    old_path: str | None = None   # a rename's or copy's source: a secret source makes the file secret
    blob: str | None = None       # the new side's git blob id, when the host knows it (content-based copy check)


def folder_of(path: str) -> str:
    """The folder of a repository path, '' for the root. (Not `str(parent).removeprefix('.')`: that turned the
    folder `.config` into `config`, so a .gitignore inside a dot-folder was never applied.)"""
    parent = str(PurePosixPath(path).parent)
    return "" if parent == "." else parent


def _matches_folder(pattern, relative_folder: str) -> bool:
    """Does a .gitignore line match the folder `relative_folder` itself (not only what is inside it)?
    pathspec matches 'conf/**' against 'conf/', but git's `conf/**` (and `conf/**/`) matches only what is inside
    conf, never conf itself, so those are skipped here."""
    text = pattern.pattern.rstrip("/") if isinstance(pattern.pattern, str) else ""
    if text.endswith("/**"):
        return False
    return bool(pattern.regex.match(relative_folder + "/"))


@dataclass(frozen=True)
class GitignoreRules:
    """Every .gitignore of a tree, with git's precedence: a pattern applies below its file's folder, the
    last matching line of a file wins, a deeper .gitignore overrides a shallower one, and a file inside an
    ignored folder is ignored whatever a later `!pattern` says (git never looks inside an excluded folder:
    "it is not possible to re-include a file if a parent directory of that file is excluded")."""
    specs: tuple[tuple[str, pathspec.GitIgnoreSpec], ...] = ()   # (folder, patterns), shallowest first

    @classmethod
    def from_files(cls, files: dict[str, str]) -> "GitignoreRules":
        """`files`: each .gitignore's path in the repository -> its text."""
        folders = sorted(((folder_of(p), text) for p, text in files.items()),
                         key=lambda item: (item[0].count("/") + bool(item[0]), item[0]))
        return cls(tuple((folder, pathspec.GitIgnoreSpec.from_lines(text.splitlines())) for folder, text in folders))

    def _folder_ignored(self, folder_path: str) -> bool:
        """The folder itself is excluded by the .gitignore files of the folders above it."""
        decision = None
        for folder, spec in self.specs:
            if folder and not folder_path.startswith(folder + "/"):
                continue   # a .gitignore applies inside its own folder only (not to that folder itself)
            relative = folder_path[len(folder) + 1:] if folder else folder_path
            for pattern in spec.patterns:
                if pattern.include is not None and _matches_folder(pattern, relative):
                    decision = pattern.include
        return bool(decision)

    def ignores(self, path: str) -> bool:
        parts = path.split("/")
        for depth in range(1, len(parts)):   # shallowest ancestor first, as git walks the tree
            if self._folder_ignored("/".join(parts[:depth])):
                return True
        decision = None
        for folder, spec in self.specs:
            if folder and not path.startswith(folder + "/"):
                continue
            found = spec.check_file(path[len(folder) + 1:] if folder else path).include
            decision = found if found is not None else decision
        return bool(decision)


def gitignore_paths(tree_paths, wanted: tuple[str, ...] | None = None) -> list[str]:
    """The .gitignore files among `tree_paths`; with `wanted`, only those in a folder above one of them."""
    found = [p for p in tree_paths if PurePosixPath(p).name == ".gitignore"]
    if wanted is None:
        return found
    folders = {""} | {str(parent) for p in wanted for parent in PurePosixPath(p).parents if str(parent) != "."}
    return [p for p in found if folder_of(p) in folders]


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


def is_secret_path(path: str, gitignore: GitignoreRules = GitignoreRules()) -> bool:
    """True for files that must never be read or sent: the fixed secret patterns on the whole path, plus
    what any of the repository's .gitignore files marks (a tracked file matching one was committed by mistake)."""
    posix = str(PurePosixPath(path))
    return _SECRETS.match_file(posix.lower()) or gitignore.ignores(posix)


def is_secret_file(f: FileDiff, gitignore: GitignoreRules = GitignoreRules()) -> bool:
    """A changed file is secret if its new path or its old path (a rename or copy) is."""
    return is_secret_path(f.path, gitignore) or bool(f.old_path and is_secret_path(f.old_path, gitignore))


EMPTY_BLOB = "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"   # an empty file reveals nothing: never a "copy"


def guard_diff(repository: str, commit_sha: str, parent_sha: str | None, message: str, files: list[FileDiff],
               gitignore: GitignoreRules = GitignoreRules(), max_chars: int = MAX_DIFF_CHARS,
               secret_blobs: frozenset[str] = frozenset()) -> CommitDiff:
    """Drop secret files (keeping their names) and cap the diff at `max_chars`, reporting the cut.
    A file whose content (git blob id) is that of a secret file is a copy of it and withheld too:
    `secret_blobs` (the host's secret files around the commit) plus the blobs of this diff's secret files.
    Files are cut whole where possible; the last file that does not fit is cut at a line boundary."""
    kept, withheld = [], []
    for f in files:
        (withheld if is_secret_file(f, gitignore) else kept).append(f)
    copied = (set(secret_blobs) | {f.blob for f in withheld if f.blob}) - {EMPTY_BLOB}
    withheld += [f for f in kept if f.blob in copied]
    kept = [f for f in kept if f.blob not in copied]
    order = {id(f): i for i, f in enumerate(files)}
    withheld.sort(key=lambda f: order[id(f)])
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
                capped.append(FileDiff(f.path, f.status, head, f.old_path, f.blob))
        break
    return CommitDiff(repository=repository, commit_sha=commit_sha, parent_sha=parent_sha, message=message,
                      files=tuple(capped), withheld_files=tuple(f.path for f in withheld), truncated=truncated,
                      total_chars=total)
