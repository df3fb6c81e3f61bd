"""The built-in code host: local git repositories under `<data>/repos/<org>/<name>`.

A repository is a git checkout at that path, or a bundle `<org>/<name>.bundle` (how the sample ships
its repositories) cloned there on first use. A draft pull request is a branch `finops/...` made
with git plumbing (the working tree and the default branch are never touched) plus the record the
PR job writes to `pull_requests`.
"""

import os
import subprocess
import tempfile
from pathlib import Path, PurePosixPath

from finops_assets.lib.analysis.patches import PatchError, check_patchable
from finops_assets.lib.codehost.host import (
    EMPTY_BLOB,
    CodeHostError,
    CommitDiff,
    FileDiff,
    GitignoreRules,
    PullRequestRecord,
    check_regular_file,
    guard_diff,
    is_secret_file,
    is_secret_path,
)
from finops_assets.lib.deployments.repository_names import (
    RepositoryNameError,
    validate_repository,
)

BOT_IDENTITY = {"GIT_AUTHOR_NAME": "finops-assets", "GIT_AUTHOR_EMAIL": "finops-assets@localhost",
                "GIT_COMMITTER_NAME": "finops-assets", "GIT_COMMITTER_EMAIL": "finops-assets@localhost"}
_COPIES = ("-M", "-C", "--find-copies-harder")
_STATUS = {"A": "added", "M": "modified", "D": "removed", "R": "renamed", "C": "added", "T": "modified"}


class LocalGitCodeHost:
    name = "local_git"

    def __init__(self, repos_dir: Path):
        self.repos_dir = Path(repos_dir).resolve()

    # ---- repositories -------------------------------------------------------------------------
    def repository_path(self, repository: str) -> Path:
        try:  # the name becomes a folder under repos_dir: only a plain 'owner/name'
            validate_repository(repository)
        except RepositoryNameError as exc:
            raise CodeHostError(f"refusing repository {repository!r}: {exc}") from None
        path = self.repos_dir / repository
        if (path / ".git").exists() or (path / "HEAD").exists():
            return path
        bundle = self.repos_dir / f"{repository}.bundle"
        if bundle.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=path.parent) as scratch:  # clone aside, then rename: atomic
                target = Path(scratch) / "clone"
                heads = [line.split()[1] for line in self._git(path.parent, "bundle", "list-heads", str(bundle)).splitlines()]
                # A bundle without HEAD would clone with nothing checked out: take its first branch.
                branch = [] if "HEAD" in heads else ["--branch", next((h.removeprefix("refs/heads/") for h in heads
                                                                        if h.startswith("refs/heads/")), "main")]
                self._git(path.parent, "clone", "--quiet", *branch, str(bundle), str(target))
                if not path.exists():
                    os.replace(target, path)
            return path
        raise CodeHostError(f"repository {repository} not found under {self.repos_dir} "
                            f"(neither {path} nor {bundle} exists)")

    def _git(self, cwd: Path, *args: str, env: dict | None = None, input_text: str | None = None) -> str:
        result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, input=input_text,
                                env={**os.environ, **(env or {})})
        if result.returncode != 0:
            raise CodeHostError(f"git {' '.join(args[:2])} in {cwd}: {result.stderr.strip() or 'failed'}")
        return result.stdout

    def _resolve(self, path: Path, commit_sha: str) -> str:
        try:
            return self._git(path, "rev-parse", "--verify", f"{commit_sha}^{{commit}}").strip()
        except CodeHostError as exc:
            raise CodeHostError(f"commit {commit_sha} not found in {path.name}: {exc}") from exc

    def _blobs(self, path: Path, sha: str, names: list[str]) -> dict[str, str]:
        """The text of every existing file among `names` at `sha`, in one `git cat-file --batch`."""
        names = [n for n in names if "\n" not in n]
        if not names:
            return {}
        result = subprocess.run(["git", "cat-file", "--batch"], cwd=path, capture_output=True,
                                input="".join(f"{sha}:{n}\n" for n in names).encode())
        out, found, at = result.stdout, {}, 0
        for name in names:
            end = out.index(b"\n", at)
            header = out[at:end].split()
            at = end + 1
            if len(header) == 3 and header[1] == b"blob":
                size = int(header[2])
                found[name] = out[at:at + size].decode("utf-8", errors="replace")
                at += size + 1
        return found

    def _gitignore(self, path: Path, sha: str, paths: list[str]) -> GitignoreRules:
        """The rules of every .gitignore in a folder above any of `paths` (the root's included)."""
        folders = {""} | {str(parent) for p in paths for parent in PurePosixPath(p).parents if str(parent) != "."}
        candidates = sorted(f"{folder}/.gitignore" if folder else ".gitignore" for folder in folders)
        return GitignoreRules.from_files(self._blobs(path, sha, candidates))

    def _modes(self, path: Path, sha: str, file_path: str) -> dict[str, str]:
        """The git mode of `file_path` and of every folder above it that exists at `sha` (one ls-tree)."""
        parts = file_path.split("/")
        wanted = ["/".join(parts[:depth]) for depth in range(1, len(parts) + 1)]
        listing = self._git(path, "ls-tree", "-z", sha, "--", *wanted, env={"GIT_LITERAL_PATHSPECS": "1"})
        modes = {}
        for entry in listing.split("\0"):
            if "\t" in entry:
                meta, name = entry.split("\t", 1)
                modes[name] = meta.split()[0]
        return modes

    def default_branch(self, repository: str) -> str:
        path = self.repository_path(repository)
        try:
            return self._git(path, "symbolic-ref", "--short", "HEAD").strip()
        except CodeHostError:
            return "main"

    # ---- CodeHost ----------------------------------------------------------------------------
    def commit_diff(self, repository: str, commit_sha: str) -> CommitDiff:
        path = self.repository_path(repository)
        sha = self._resolve(path, commit_sha)
        parents = self._git(path, "rev-list", "--parents", "-n", "1", sha).split()[1:]
        parent = parents[0] if parents else None
        message = self._git(path, "show", "-s", "--format=%B", sha).strip()
        base = parent or self._git(path, "hash-object", "-t", "tree", "/dev/null").strip()
        # -C --find-copies-harder: a copy of any file of the parent (a secret one too, unchanged by the commit)
        # is reported with its source, which is_secret_file checks. Exact copies are found by blob id whatever the
        # repository's size; edited copies only while sources x targets stay under diff.renameLimit (git's bound
        # on the cost), past it git falls back to exact matches.
        fields = self._git(path, "diff-tree", "-r", *_COPIES, "--raw", "--no-abbrev", "-z", base, sha).split("\0")
        changes, at = [], 0
        while at < len(fields) and fields[at]:
            _old_mode, _new_mode, _old_blob, new_blob, status = fields[at].lstrip(":").split()
            width = 2 if status[0] in "RC" else 1
            names = fields[at + 1: at + 1 + width]
            source = names[0] if width == 2 else None
            if status[0] == "C" and new_blob == EMPTY_BLOB:   # an empty file "copied" from an empty one reveals nothing
                status, source = "A", None
            changes.append(FileDiff(names[-1], _STATUS.get(status[0], "modified"), "", source,
                                    None if status[0] == "D" else new_blob))
            at += 1 + width
        gitignore = self._gitignore(path, sha, [n for f in changes for n in (f.path, f.old_path) if n])
        secret = [f for f in changes if is_secret_file(f, gitignore)]
        # One `git diff` for the whole commit (not one per file: a 5,600-file commit took minutes). Secret
        # files, both sides of a rename, are excluded: their diff is never even produced.
        excluded = [f":(exclude,literal){n}" for f in secret for n in (f.path, f.old_path) if n]
        text = self._git(path, "-c", "core.quotePath=false", "diff", "--no-color", "--no-ext-diff", *_COPIES, base, sha,
                         "--", ":/", *excluded)
        chunks = {}
        for chunk in ("\n" + text).split("\ndiff --git ")[1:]:
            chunks[chunk.split("\n", 1)[0]] = "diff --git " + chunk + ("\n" if not chunk.endswith("\n") else "")
        files = []
        for f in changes:
            if f in secret:
                files.append(f)   # named, never read
                continue
            patch = chunks.get(f"a/{f.old_path or f.path} b/{f.path}")
            if patch is None:  # a name git quotes, or a pairing the exclusions changed: diff this file alone
                names = [n for n in (f.old_path, f.path) if n]
                patch = self._git(path, "diff", "--no-color", "--no-ext-diff", "-M", base, sha, "--", *names)
            files.append(FileDiff(f.path, f.status, patch, f.old_path, f.blob))
        return guard_diff(repository, sha, parent, message, files, gitignore)

    def file_at(self, repository: str, commit_sha: str, path: str) -> str:
        repo = self.repository_path(repository)
        if is_secret_path(path):  # the fixed patterns need no git call
            raise CodeHostError(f"{path} is a secret file: it is never read")
        sha = self._resolve(repo, commit_sha)
        if is_secret_path(path, self._gitignore(repo, sha, [path])):
            raise CodeHostError(f"{path} is ignored by a .gitignore at {sha}, so it is treated as a secret file: "
                                "it is never read")
        check_regular_file(f"{repository} commit {sha}", path, self._modes(repo, sha, path))
        return self._git(repo, "show", f"{sha}:{path}")

    def open_draft_pull_request(self, repository: str, base_sha: str, branch: str, path: str, new_text: str,
                                title: str, body: str) -> PullRequestRecord:
        repo = self.repository_path(repository)
        default = self.default_branch(repository)
        try:  # the PR job checked the patch; the host refuses on its own as well
            check_patchable(path)
        except PatchError as exc:
            raise CodeHostError(f"refusing to write {path!r}: {exc}") from None
        if is_secret_path(path, self._gitignore(repo, self._resolve(repo, base_sha), [path])):
            raise CodeHostError(f"refusing to write secret file {path}")
        if not branch.startswith("finops/") or branch == default:
            raise CodeHostError(f"refusing to write branch {branch!r}: only finops/* branches, never {default}")
        existing = self._git(repo, "branch", "--list", branch).strip()
        if existing:
            head = self._git(repo, "rev-parse", f"refs/heads/{branch}").strip()
            return PullRequestRecord(repository, None, f"file://{repo}#{branch}", branch, default, head, True, False)
        base = self._resolve(repo, base_sha)
        # Plumbing in a private index: the checkout and the default branch stay as they are.
        with tempfile.TemporaryDirectory() as scratch:
            env = {**BOT_IDENTITY, "GIT_INDEX_FILE": str(Path(scratch) / "index")}
            self._git(repo, "read-tree", base, env=env)
            blob = self._git(repo, "hash-object", "-w", "--stdin", input_text=new_text).strip()
            modes = self._modes(repo, base, path)
            check_regular_file(f"refusing to write {repository} at {base}", path, modes, writing=True)
            mode = modes.get(path, "100644")   # a regular file keeps its executable bit
            self._git(repo, "update-index", "--cacheinfo", f"{mode},{blob},{path}", env=env)
            tree = self._git(repo, "write-tree", env=env).strip()
            commit = self._git(repo, "commit-tree", tree, "-p", base, input_text=f"{title}\n\n{body}\n", env=env).strip()
        self._git(repo, "update-ref", f"refs/heads/{branch}", commit, "0" * 40)  # fails if it appeared meanwhile
        return PullRequestRecord(repository, None, f"file://{repo}#{branch}", branch, default, commit, True, True)
