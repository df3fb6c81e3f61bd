"""The GitHub code host: the CodeHost protocol (lib/codehost/host.py) over the GitHub REST API, via PyGithub.

Guardrails, the same as the built-in host's:
- every diff goes through `guard_diff`, and secret files (fixed patterns plus the repository's
  .gitignore at that commit) are named but their contents are never requested or kept;
- `open_draft_pull_request` writes only to a `finops/...` branch and opens a *draft* PR; nothing here
  calls an endpoint that writes to the default branch.

Every PyGithub / HTTP failure surfaces as CodeHostError naming the repository, what was asked and
the HTTP status. Server errors (5xx) on idempotent requests are retried with exponential backoff by
urllib3; rate limits are reported (with the reset time) rather than slept on, so a run fails fast
and the schedule retries later.
"""

import math
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import PurePosixPath

import github
import requests
from github import Auth, Github, GithubException
from github.Repository import Repository
from urllib3.util import Retry

from finops_assets.lib.analysis.patches import PatchError, check_patchable
from finops_assets.lib.codehost.host import (
    CodeHostError,
    CommitDiff,
    FileDiff,
    GitignoreRules,
    PullRequestRecord,
    check_regular_file,
    gitignore_paths,
    guard_diff,
    is_secret_file,
    is_secret_path,
)
from finops_assets.lib.deployments.repository_names import (
    RepositoryNameError,
    validate_repository,
)

RETRIED_STATUSES = (500, 502, 503, 504)
BRANCH_PREFIX = "finops/"
# GitHub reports a few more statuses than the protocol's four; map them onto the nearest one.
_STATUS = {"added": "added", "removed": "removed", "modified": "modified", "renamed": "renamed",
           "copied": "added", "changed": "modified", "unchanged": "modified"}


def _rate_limit_reset(headers: dict) -> str:
    """When the rate limit resets, as an ISO 8601 UTC time, from the X-RateLimit-Reset epoch header."""
    reset = (headers or {}).get("x-ratelimit-reset")
    if reset is None:
        retry_after = (headers or {}).get("retry-after")
        return f"in {retry_after} s" if retry_after else "an unknown time"
    try:
        return datetime.fromtimestamp(int(reset), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (TypeError, ValueError, OverflowError):
        return str(reset)


def describe_github_error(exc: GithubException, where: str, retries: int) -> str:
    """A one-line explanation of a GitHub error: `where` (repository and what was asked) plus the status."""
    status = exc.status
    headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
    detail = exc.message or (exc.data.get("message") if isinstance(exc.data, dict) else None) or ""
    if isinstance(exc, github.RateLimitExceededException) or status == 429 or (
            status == 403 and headers.get("x-ratelimit-remaining") == "0"):
        return f"{where}: GitHub rate limited until {_rate_limit_reset(headers)} (HTTP {status})"
    if status == 404:
        return f"{where}: not found on GitHub (HTTP 404)"
    if status in (401, 403):
        return f"{where}: GitHub refused the credentials or permissions (HTTP {status}): {detail}".rstrip(": ")
    if status is not None and status >= 500:
        return f"{where}: GitHub server error (HTTP {status}) after {retries} retries"
    return f"{where}: GitHub answered HTTP {status}: {detail}".rstrip(": ")


@contextmanager
def github_errors(where: str, retries: int) -> Iterator[None]:
    """Turn PyGithub and transport failures inside the block into CodeHostError."""
    try:
        yield
    except GithubException as exc:
        raise CodeHostError(describe_github_error(exc, where, retries)) from exc
    except requests.exceptions.RequestException as exc:  # connection refused, timeout, retries exhausted
        raise CodeHostError(f"{where}: could not reach GitHub ({type(exc).__name__}: {exc})") from exc


def _github_auth(token: str | None, app_id: int | None, private_key: str | None,
                 installation_id: int | None) -> Auth.Auth:
    if token:
        return Auth.Token(token)
    app_parts = {"app_id": app_id, "private_key": private_key, "installation_id": installation_id}
    if any(value is not None for value in app_parts.values()):
        missing = [name for name, value in app_parts.items() if value is None or value == ""]
        if missing:
            raise ValueError(f"GitHub App authentication needs app_id, private_key and installation_id; "
                             f"missing: {', '.join(missing)}")
        return Auth.AppAuth(app_id, private_key).get_installation_auth(installation_id)
    raise ValueError("GitHub code host needs credentials: a token, or app_id + private_key + installation_id "
                     "(GitHub App installation)")


class GitHubCodeHost:
    name = "github"

    def __init__(self, token: str | None = None, *, app_id: int | None = None, private_key: str | None = None,
                 installation_id: int | None = None, base_url: str = "https://api.github.com", retries: int = 3,
                 backoff_factor: float = 0.5, timeout: float = 15,
                 seconds_between_requests: float | None = 0.25, seconds_between_writes: float | None = 1.0):
        """`seconds_between_*` are PyGithub's politeness delays (its defaults); tests pass None."""
        auth = _github_auth(token, app_id, private_key, installation_id)
        self.retries = retries
        self._gitignore_files: dict[tuple[str, str], list[str] | None] = {}
        self._trees: dict[tuple[str, str], dict[str, tuple[str, str]] | None] = {}   # path -> (mode, blob sha)
        self._texts: dict[tuple[str, str, str], str | None] = {}
        # 5xx only, and only on idempotent methods (urllib3's default): a POST that failed with 502 may
        # have happened, and the PR flow below re-checks before creating instead.
        # raise_on_status=False hands the last 5xx to PyGithub, so the error names the status.
        # respect_retry_after_header=False: a rate limit is reported, not slept on inside a run.
        retry = Retry(total=retries, status_forcelist=RETRIED_STATUSES, backoff_factor=backoff_factor,
                      raise_on_status=False, respect_retry_after_header=False)
        self.client = Github(auth=auth, base_url=base_url.rstrip("/"), timeout=max(1, math.ceil(timeout)),
                             retry=retry, seconds_between_requests=seconds_between_requests,
                             seconds_between_writes=seconds_between_writes)

    # ---- helpers -------------------------------------------------------------------------------
    def errors(self, where: str):
        return github_errors(where, self.retries)

    def _repo(self, repository: str) -> Repository:
        try:  # the name goes into a URL sent with our token: only a plain 'owner/name', checked before any request
            validate_repository(repository)
        except RepositoryNameError as exc:
            raise CodeHostError(f"refusing repository {repository!r}: {exc}") from None
        with self.errors(f"repository {repository}"):
            return self.client.get_repo(repository)

    def _text(self, repo: Repository, path: str, ref: str) -> str | None:
        """A file's text at `ref`, None when there is no such file."""
        try:
            content = repo.get_contents(path, ref=ref)
        except GithubException as exc:
            if exc.status == 404:
                return None
            raise
        if isinstance(content, list):  # a directory of that name
            return None
        return content.decoded_content.decode("utf-8", errors="replace")

    def _tree(self, repo: Repository, ref: str) -> dict[str, tuple[str, str]] | None:
        """Every entry of the commit's tree, path -> (git mode, object sha), from one recursive listing kept for
        this host's lifetime (a commit does not change); None when GitHub truncated the listing (a huge tree)."""
        key = (repo.full_name, ref)
        if key not in self._trees:
            tree = repo.get_git_tree(ref, recursive=True)
            self._trees[key] = None if tree.raw_data.get("truncated") else {e.path: (e.mode, e.sha) for e in tree.tree}
        return self._trees[key]

    def _modes(self, repo: Repository, ref: str, path: str) -> dict[str, str]:
        """The git mode of `path` and of every folder above it that exists at `ref` (see check_regular_file).
        From the recursive listing, or, when that was truncated, one tree request per folder level."""
        parts = path.split("/")
        wanted = ["/".join(parts[:depth]) for depth in range(1, len(parts) + 1)]
        listing = self._tree(repo, ref)
        if listing is not None:
            return {p: listing[p][0] for p in wanted if p in listing}
        modes, tree_sha = {}, ref
        for depth, name in enumerate(parts, 1):
            entry = next((e for e in repo.get_git_tree(tree_sha).tree if e.path == name), None)
            if entry is None:
                break
            modes["/".join(parts[:depth])] = entry.mode
            if entry.type != "tree":
                break
            tree_sha = entry.sha
        return modes

    def _gitignore(self, repo: Repository, ref: str, paths: list[str]) -> GitignoreRules:
        """The rules of every .gitignore in a folder above any of `paths`: one tree listing per commit tells
        which exist (kept for this host's lifetime, as are their texts: a commit does not change)."""
        key = (repo.full_name, ref)
        if key not in self._gitignore_files:
            listing = self._tree(repo, ref)
            # A huge tree is listed partially: then every candidate folder is asked for instead.
            self._gitignore_files[key] = None if listing is None else gitignore_paths(
                [p for p, (mode, _sha) in listing.items() if mode in ("100644", "100755")])
        known = self._gitignore_files[key]
        if known is None:
            folders = {""} | {str(parent) for p in paths for parent in PurePosixPath(p).parents if str(parent) != "."}
            wanted = sorted(f"{folder}/.gitignore" if folder else ".gitignore" for folder in folders)
        else:
            wanted = gitignore_paths(known, tuple(paths))
        for path in wanted:
            if (*key, path) not in self._texts:
                self._texts[(*key, path)] = self._text(repo, path, ref)
        return GitignoreRules.from_files({p: self._texts[(*key, p)] for p in wanted if self._texts[(*key, p)] is not None})

    @staticmethod
    def _file_diff(file, gitignore: GitignoreRules) -> FileDiff | None:
        """One changed file as a FileDiff with a unified-diff header; None for a binary file (no patch).
        A secret file (by its new or its old path) keeps only its name: GitHub already sent its patch, we do
        not keep it."""
        status = _STATUS.get(file.status, "modified")
        old_path = file.previous_filename or file.filename
        named = FileDiff(file.filename, status, "", file.previous_filename, file.sha)
        if is_secret_file(named, gitignore):
            return named
        if file.patch is None and status != "renamed":  # binary (or too large for the API): no text to analyse
            return None
        old_side = "/dev/null" if status == "added" else f"a/{old_path}"
        new_side = "/dev/null" if status == "removed" else f"b/{file.filename}"
        return FileDiff(file.filename, status, f"--- {old_side}\n+++ {new_side}\n" + (file.patch or ""),
                        file.previous_filename, file.sha)

    # ---- CodeHost ------------------------------------------------------------------------------
    def commit_diff(self, repository: str, commit_sha: str) -> CommitDiff:
        repo = self._repo(repository)
        with self.errors(f"{repository} commit {commit_sha}"):
            commit = repo.get_commit(commit_sha)
            sha = commit.sha
            parent = commit.parents[0].sha if commit.parents else None
            message = (commit.commit.message or "").strip()
            changed = list(commit.files)
            gitignore = self._gitignore(repo, sha, [n for c in changed for n in (c.filename, c.previous_filename) if n])
            files = [d for c in changed if (d := self._file_diff(c, gitignore)) is not None]
            secret_blobs = self._secret_blobs(repo, [sha, parent], gitignore)
        return guard_diff(repository, sha, parent, message, files, gitignore, secret_blobs=secret_blobs)

    def _secret_blobs(self, repo: Repository, refs: list[str | None], gitignore: GitignoreRules) -> frozenset[str]:
        """The blob ids of the secret files in the commit's and its parent's trees. GitHub reports renames
        (previous_filename) but not copies, so a changed file with one of these ids is a copy of a secret
        file and is withheld. Limits: a truncated (huge) tree is not scanned, a copy edited on the way has
        another id, and .gitignore rules count only where they lie above a changed file."""
        found = set()
        for ref in filter(None, refs):
            listing = self._tree(repo, ref)
            found |= {blob for path, (mode, blob) in (listing or {}).items()
                      if mode in ("100644", "100755") and is_secret_path(path, gitignore)}
        return frozenset(found)

    def file_at(self, repository: str, commit_sha: str, path: str) -> str:
        # The fixed patterns are checked before any request; .gitignore needs one (for .gitignore itself).
        if is_secret_path(path):
            raise CodeHostError(f"{repository}: {path} is a secret file: it is never read")
        repo = self._repo(repository)
        with self.errors(f"{repository} commit {commit_sha} file {path}"):
            if is_secret_path(path, self._gitignore(repo, commit_sha, [path])):
                raise CodeHostError(f"{repository}: {path} is ignored by .gitignore at {commit_sha}, "
                                    f"so it is treated as a secret and never read")
            check_regular_file(f"{repository} commit {commit_sha}", path, self._modes(repo, commit_sha, path))
            content = repo.get_contents(path, ref=commit_sha)
            if isinstance(content, list):
                raise CodeHostError(f"{repository} commit {commit_sha}: {path} is a directory, not a file")
            # The contents API answers a symlink to a file with that file's content: only `path` itself is read.
            if content.type != "file" or content.path != path:
                raise CodeHostError(f"{repository} commit {commit_sha}: {path} is a {content.type} "
                                    f"({content.path}), not a regular file: only regular files are read")
            if content.encoding != "base64":  # the contents API sends no content for files over 1 MB
                raise CodeHostError(f"{repository} commit {commit_sha}: {path} is too large for the contents API")
            return content.decoded_content.decode("utf-8", errors="replace")

    def open_draft_pull_request(self, repository: str, base_sha: str, branch: str, path: str, new_text: str,
                                title: str, body: str) -> PullRequestRecord:
        if not branch.startswith(BRANCH_PREFIX):
            raise CodeHostError(f"{repository}: refusing to write branch {branch!r}: only {BRANCH_PREFIX}* branches")
        if is_secret_path(path):
            raise CodeHostError(f"{repository}: refusing to write secret file {path}")
        try:  # the PR job checked the patch; the host refuses on its own as well
            check_patchable(path)
        except PatchError as exc:
            raise CodeHostError(f"{repository}: refusing to write {path!r}: {exc}") from None
        repo = self._repo(repository)
        default_branch = repo.default_branch
        if branch == default_branch:
            raise CodeHostError(f"{repository}: refusing to write the default branch {default_branch!r}")
        owner = repository.split("/")[0]
        where = f"{repository} draft PR from {branch} at {base_sha}"
        with self.errors(where):
            if is_secret_path(path, self._gitignore(repo, base_sha, [path])):
                raise CodeHostError(f"{repository}: refusing to write {path}: .gitignore marks it secret")
            check_regular_file(f"{repository}: refusing to write at {base_sha}", path,
                               self._modes(repo, base_sha, path), writing=True)
            for existing in repo.get_pulls(state="open", head=f"{owner}:{branch}"):
                return self._record(repository, existing, branch, created=False)
            self._ensure_branch(repo, branch, base_sha)
            head_sha = self._commit_file(repo, branch, path, new_text, f"finops: {title}")
            pull = repo.create_pull(base=default_branch, head=branch, title=title, body=body, draft=True)
        return self._record(repository, pull, branch, created=True, head_sha=head_sha)

    # ---- draft PR steps --------------------------------------------------------------------------
    @staticmethod
    def _ensure_branch(repo: Repository, branch: str, base_sha: str) -> None:
        """Create refs/heads/<branch> at base_sha; an existing branch (an earlier, interrupted run) is reused."""
        try:
            repo.create_git_ref(ref=f"refs/heads/{branch}", sha=base_sha)
        except GithubException as exc:
            if exc.status != 422 or "already exists" not in str(exc.data).lower():
                raise

    @staticmethod
    def _commit_file(repo: Repository, branch: str, path: str, new_text: str, message: str) -> str:
        """Write `new_text` to `path` on `branch` (never the default branch: the caller checked) and return
        the branch head. An identical file (a re-run) is not committed again."""
        try:
            current = repo.get_contents(path, ref=branch)
        except GithubException as exc:
            if exc.status != 404:
                raise
            current = None
        if isinstance(current, list):
            raise CodeHostError(f"{repo.full_name}: {path} is a directory on {branch}")
        if current is not None and (current.type != "file" or current.path != path):
            raise CodeHostError(f"{repo.full_name}: refusing to write {path} on {branch}: it is a {current.type} "
                                f"({current.path}), not a regular file")
        if current is None:
            result = repo.create_file(path, message, new_text, branch=branch)
        elif current.decoded_content == new_text.encode("utf-8"):
            return repo.get_git_ref(f"heads/{branch}").object.sha
        else:
            result = repo.update_file(path, message, new_text, current.sha, branch=branch)
        return result["commit"].sha

    @staticmethod
    def _record(repository: str, pull, branch: str, created: bool, head_sha: str | None = None) -> PullRequestRecord:
        return PullRequestRecord(repository=repository, number=pull.number, url=pull.html_url, branch=branch,
                                 base_branch=pull.base.ref, head_sha=head_sha or pull.head.sha,
                                 draft=bool(pull.draft), created=created)

