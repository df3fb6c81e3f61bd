"""Fix patches from analyzers: accept only a plain modification of one file, then apply it with `git apply`
in a throwaway repository, so "applies cleanly" means what git means and nothing lands anywhere else.

A patch is untrusted text (an analyzer wrote it, possibly steered by a diff). git honours extended headers
(`copy to`, `rename to`, modes, binary, symlinks) that move or create files wherever they say, so the patch
is parsed here first and only its hunks for the one file are kept; git sees that rebuilt patch, never the
original text, and runs without `--unsafe-paths`.
"""

import os
import re
import subprocess
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pathspec


class PatchError(Exception):
    """The patch is unsafe or does not apply cleanly; the message says which rule, in one line."""


# CI and deployment definitions run with privileges (secrets, deploy rights): never patched, whatever an
# analyzer proposes. Git-wildmatch patterns on the repository path, case-insensitive.
PRIVILEGED_PATTERNS: tuple[str, ...] = (
    ".github/workflows/", ".github/actions/", "CODEOWNERS", ".gitlab-ci.yml", "*.gitlab-ci.yml", ".gitlab-ci/",
    "Jenkinsfile", "Jenkinsfile.groovy", "*.jenkinsfile", ".circleci/", "azure-pipelines.yml", ".azure-pipelines/",
    "bitbucket-pipelines.yml", ".buildkite/", ".travis.yml", ".drone.yml", "cloudbuild.yaml", "buildspec.yml",
    ".tekton/",
    # Argo CD / Helm release definitions: what gets deployed where, with which credentials.
    "argocd/", ".argocd/", "argo-cd/", "*applicationset*.yaml", "*applicationset*.yml", "helmfile.yaml",
    "helmfile.yaml.gotmpl", "helmfile.d/",
    # Git hooks and hook managers: code that runs on every developer's machine.
    ".git/", ".githooks/", ".husky/", ".pre-commit-config.yaml", "lefthook.yml", "lefthook.yaml",
)
_PRIVILEGED = pathspec.GitIgnoreSpec.from_lines([p.lower() for p in PRIVILEGED_PATTERNS])


def is_privileged_path(path: str) -> bool:
    return _PRIVILEGED.match_file(path.lower())


def check_patchable(path: str | None) -> str:
    """`path` if a fix patch may modify it: a plain relative path inside the repository, not privileged."""
    if not path:
        raise PatchError("the patch names no file")
    if any(unicodedata.category(c)[0] in "CZ" and c != " " for c in path) or path != path.strip():
        raise PatchError(f"unsafe path {path!r}: control, format or unusual space characters")
    parts = PurePosixPath(path).parts
    if path.startswith("/") or "\\" in path or re.match(r"^[A-Za-z]:", path):
        raise PatchError(f"unsafe path {path!r}: absolute paths and backslashes are refused")
    if any(part in ("..", ".") for part in path.split("/")) or "//" in path or path.endswith("/"):
        raise PatchError(f"unsafe path {path!r}: '..', '.' or empty components are refused")
    if any(part.lower() == ".git" for part in parts):
        raise PatchError(f"unsafe path {path!r}: nothing under .git/ is patched")
    if is_privileged_path(path):
        raise PatchError(f"privileged path {path}: CI, deployment and hook definitions are never patched")
    return path


@dataclass(frozen=True)
class FilePatch:
    path: str
    hunks: tuple[str, ...]   # each '@@ ... @@' header plus its lines, newline-terminated

    @property
    def text(self) -> str:
        """The rebuilt patch: only what was checked, in the form git reads."""
        return f"--- a/{self.path}\n+++ b/{self.path}\n" + "".join(self.hunks)


_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@(.*)$")
_INDEX = re.compile(r"^index [0-9a-f]{4,64}\.\.[0-9a-f]{4,64}(?: 100644| 100755)?$")


def parse_fix_patch(patch: str, path: str) -> FilePatch:
    """Accept only a unified diff that modifies `path` in place: optionally one `diff --git a/P b/P` and one
    `index` line, then `--- a/P`, `+++ b/P` and hunks whose line counts add up. Anything else (copy, rename,
    delete, new file, mode, binary, symlink, a second file, any other path) raises PatchError."""
    check_patchable(path)
    lines = patch.splitlines()
    i = 0
    if i < len(lines) and lines[i].startswith("diff --git "):
        if lines[i] != f"diff --git a/{path} b/{path}":
            raise PatchError(f"the patch header {lines[i][:200]!r} is not a plain change of {path}")
        i += 1
        if i < len(lines) and _INDEX.match(lines[i]):
            i += 1
    if i + 1 >= len(lines):
        raise PatchError(f"the patch has no '--- a/{path}' / '+++ b/{path}' header and hunks")
    for prefix, side in (("---", "a"), ("+++", "b")):
        name = lines[i].split("\t", 1)[0]
        if name != f"{prefix} {side}/{path}":
            raise PatchError(f"line {i + 1} {lines[i][:200]!r}: expected '{prefix} {side}/{path}' (a plain "
                             f"modification of {path}; no copy, rename, new, deleted, binary or other file)")
        i += 1
    hunks = []
    while i < len(lines):
        if not "".join(lines[i:]).strip():   # trailing blank lines
            break
        match = _HUNK.match(lines[i])
        if not match:
            raise PatchError(f"line {i + 1} {lines[i][:200]!r}: expected a hunk header '@@ -a,b +c,d @@' "
                             f"(one file per patch, no extended git headers)")
        old_left = int(match.group(2) if match.group(2) is not None else 1)
        new_left = int(match.group(4) if match.group(4) is not None else 1)
        body = [lines[i]]
        i += 1
        while old_left > 0 or new_left > 0:
            if i >= len(lines):
                raise PatchError("a hunk ends early: its line counts do not match its header")
            line = lines[i] if lines[i] else " "   # some writers drop the space of an empty context line
            kind = line[0]
            if kind == " ":
                old_left, new_left = old_left - 1, new_left - 1
            elif kind == "-":
                old_left -= 1
            elif kind == "+":
                new_left -= 1
            elif kind != "\\":
                raise PatchError(f"line {i + 1} {lines[i][:200]!r}: not a hunk line (' ', '+', '-')")
            if old_left < 0 or new_left < 0:
                raise PatchError("a hunk has more lines than its header says")
            body.append(line)
            i += 1
        while i < len(lines) and lines[i].startswith("\\"):   # "\ No newline at end of file"
            body.append(lines[i])
            i += 1
        hunks.append("".join(f"{line}\n" for line in body))
    if not hunks:
        raise PatchError(f"the patch has no hunks for {path}")
    return FilePatch(path, tuple(hunks))


def apply_patch(original: str, patch: str, path: str) -> str:
    """`original` is the text of `path` at the commit; returns the patched text or raises PatchError.
    Only the parsed, rebuilt patch reaches git, inside a throwaway repository holding that one file."""
    checked = parse_fix_patch(patch, path)
    # A clean environment: no GIT_DIR/GIT_WORK_TREE from the caller can point git at a real checkout.
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "worktree"
        root.mkdir()
        subprocess.run(["git", "init", "--quiet", str(root)], capture_output=True, check=True, env=env)
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(original)
        patch_file = Path(folder) / "fix.patch"
        patch_file.write_text(checked.text)
        result = subprocess.run(["git", "apply", "--whitespace=nowarn", str(patch_file)], cwd=root,
                                capture_output=True, text=True, env=env)
        if result.returncode != 0:
            raise PatchError(" ".join((result.stderr.strip() or "git apply failed").split()))
        return target.read_text()
