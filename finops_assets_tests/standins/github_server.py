"""A local stand-in for the GitHub REST API, backed by real git repositories.

PyGithub talks to it over HTTP exactly as it talks to api.github.com, so tests exercise the real
client (URLs, pagination, headers, error classes) without a network. Commits, diffs, refs and file
contents come from git itself; pull requests and deployments are kept in memory.

    with GitHubStandIn() as server:
        server.add_repository("acme/checkout", path_to_git_repo)
        host = GitHubCodeHost("token", base_url=server.base_url, ...)
        server.fail_next(502, times=2)          # fault injection
        server.requests                          # what the client asked for
        server.writes                            # every contents write, refused ones included

Writing to a repository's default branch is refused with 422, so a test can prove the code under
test never tries (the attempt is still recorded in `writes`).
"""

import base64
import json
import os
import re
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

BOT_ENV = {"GIT_AUTHOR_NAME": "github-standin", "GIT_AUTHOR_EMAIL": "standin@localhost",
           "GIT_COMMITTER_NAME": "github-standin", "GIT_COMMITTER_EMAIL": "standin@localhost"}
_GIT_STATUS = {"A": "added", "M": "modified", "D": "removed", "R": "renamed", "C": "copied", "T": "changed"}
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str           # unquoted, without the query
    query: dict
    body: dict | None
    authorization: str


@dataclass
class _Fault:
    status: int
    times: int | None           # None: until cleared
    rate_limited: bool
    path_contains: str | None


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


@dataclass
class _Repo:
    full_name: str
    path: Path
    default_branch: str
    pulls: list[dict] = field(default_factory=list)
    deployments: list[dict] = field(default_factory=list)


def git(cwd: Path, *args: str, input_bytes: bytes | None = None, env: dict | None = None) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, input=input_bytes, capture_output=True,
                            env={**os.environ, **BOT_ENV, **(env or {})})
    if result.returncode != 0:
        raise ApiError(404, f"git {args[0]}: {result.stderr.decode().strip()}")
    return result.stdout.decode("utf-8", errors="replace")


def rev(repo_path: Path, revision: str) -> str | None:
    """The object id `revision` names, or None."""
    result = subprocess.run(["git", "rev-parse", "--verify", "-q", revision], cwd=repo_path, capture_output=True,
                            text=True)
    return result.stdout.strip() if result.returncode == 0 else None


class GitHubStandIn:
    def __init__(self, token: str | None = None):
        self.token = token                     # when set, any other Authorization answers 401
        self.repos: dict[str, _Repo] = {}
        self.requests: list[RecordedRequest] = []
        self.writes: list[dict] = []
        self.installation_token = "ghs_standin_installation_token"
        self.truncate_trees = False            # recursive tree listings answer `truncated: true` (a huge tree)
        self._faults: list[_Fault] = []
        self._ids = iter(range(1000, 10**9))
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None

    # ---- lifecycle --------------------------------------------------------------------------------
    def __enter__(self) -> "GitHubStandIn":
        standin = self

        class Handler(_Handler):
            server_state = standin

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # ---- test controls -----------------------------------------------------------------------------
    def add_repository(self, full_name: str, path: Path) -> None:
        default = git(path, "symbolic-ref", "--short", "HEAD").strip()
        self.repos[full_name] = _Repo(full_name, Path(path), default)

    def fail_next(self, status: int, times: int | None = 1, *, rate_limited: bool = False,
                  path_contains: str | None = None) -> None:
        """Answer the next `times` requests (None: all, until `clear_faults`) with `status`; with
        `rate_limited`, as GitHub's rate limiter does (X-RateLimit-Remaining: 0 and a reset time)."""
        with self._lock:
            self._faults.append(_Fault(status, times, rate_limited, path_contains))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def add_deployment(self, repository: str, sha: str, *, environment: str, created_at: str, ref: str = "main",
                       creator: str = "octocat", statuses: list[tuple[str, str, str | None]] = ()) -> int:
        """A deployment with its statuses, each (state, created_at, target_url), oldest first."""
        repo, deployment_id = self.repos[repository], next(self._ids)
        url = f"{self.base_url}/repos/{repository}/deployments/{deployment_id}"
        repo.deployments.append({
            "id": deployment_id, "node_id": f"DE_{deployment_id}", "url": url, "sha": sha, "ref": ref,
            "task": "deploy", "environment": environment, "original_environment": environment, "payload": {},
            "description": None, "creator": _user(creator), "created_at": created_at, "updated_at": created_at,
            "statuses_url": f"{url}/statuses", "repository_url": f"{self.base_url}/repos/{repository}",
            "_statuses": [{"id": next(self._ids), "state": state, "created_at": at, "updated_at": at,
                           "target_url": target, "log_url": target, "environment": environment,
                           "creator": _user(creator), "url": f"{url}/statuses/{i}", "deployment_url": url}
                          for i, (state, at, target) in enumerate(statuses, 1)]})
        return deployment_id

    def paths_requested(self, method: str | None = None) -> list[str]:
        return [r.path for r in self.requests if method is None or r.method == method]

    # ---- request handling (called by the handler thread) -----------------------------------------------
    def handle(self, method: str, raw_path: str, body: dict | None, authorization: str) -> tuple[int, object, dict]:
        parts = urlsplit(raw_path)
        path, query = unquote(parts.path), {k: v[0] for k, v in parse_qs(parts.query).items()}
        with self._lock:
            self.requests.append(RecordedRequest(method, path, query, body, authorization))
            fault = next((f for f in self._faults if f.path_contains is None or f.path_contains in path), None)
            if fault is not None:
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                return self._fault_response(fault)
            if self.token and not path.startswith("/app/") and authorization != f"token {self.token}":
                return 401, {"message": "Bad credentials"}, {}
            try:
                return self._route(method, path, query, body or {})
            except ApiError as exc:
                return exc.status, {"message": exc.message}, {}

    @staticmethod
    def _fault_response(fault: _Fault) -> tuple[int, object, dict]:
        if fault.rate_limited:
            reset = int(time.time()) + 1800
            return fault.status, {"message": "API rate limit exceeded for installation ID 1."}, {
                "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)}
        message = {404: "Not Found", 401: "Bad credentials", 429: "Too Many Requests"}.get(fault.status, "Server Error")
        return fault.status, {"message": message}, {}

    def _route(self, method: str, path: str, query: dict, body: dict) -> tuple[int, object, dict]:
        if method == "POST" and re.fullmatch(r"/app/installations/\d+/access_tokens", path):
            return 201, {"token": self.installation_token, "expires_at": "2999-01-01T00:00:00Z",
                         "permissions": {"contents": "write"}, "repository_selection": "all"}, {}
        match = re.fullmatch(r"/repos/([^/]+/[^/]+)(/.*)?", path)
        if not match or match.group(1) not in self.repos:
            raise ApiError(404, "Not Found")
        repo, rest = self.repos[match.group(1)], match.group(2) or ""
        routes = [
            ("GET", r"", lambda: self._repository(repo)),
            ("GET", r"/commits/(.+)", lambda ref: self._commit(repo, ref)),
            ("GET", r"/contents/(.*)", lambda p: self._contents(repo, p, query.get("ref", repo.default_branch))),
            ("PUT", r"/contents/(.+)", lambda p: self._put_contents(repo, p, body)),
            ("POST", r"/git/refs", lambda: self._create_ref(repo, body)),
            ("GET", r"/git/refs?/(heads/.+)", lambda ref: self._ref(repo, ref)),
            ("GET", r"/git/trees/(.+)", lambda ref: self._tree(repo, ref, query)),
            ("GET", r"/pulls", lambda: self._list_pulls(repo, query)),
            ("POST", r"/pulls", lambda: self._create_pull(repo, body)),
            ("GET", r"/deployments", lambda: self._list_deployments(repo, query)),
            ("GET", r"/deployments/(\d+)/statuses", lambda i: self._deployment_statuses(repo, int(i))),
        ]
        for verb, pattern, action in routes:
            found = re.fullmatch(pattern, rest)
            if verb == method and found:
                result = action(*found.groups())
                return result if isinstance(result, tuple) else (200, result, {})
        raise ApiError(404, "Not Found")

    # ---- endpoints ------------------------------------------------------------------------------------
    def _repository(self, repo: _Repo) -> dict:
        owner, name = repo.full_name.split("/")
        return {"id": abs(hash(repo.full_name)) % 10**6, "name": name, "full_name": repo.full_name,
                "owner": _user(owner), "private": True, "default_branch": repo.default_branch,
                "url": f"{self.base_url}/repos/{repo.full_name}",
                "html_url": f"https://github.example/{repo.full_name}"}

    def _resolve(self, repo: _Repo, ref: str) -> str:
        try:
            return git(repo.path, "rev-parse", "--verify", f"{ref}^{{commit}}").strip()
        except ApiError:
            raise ApiError(404, f"No commit found for SHA: {ref}") from None

    def _commit(self, repo: _Repo, ref: str) -> dict:
        sha = self._resolve(repo, ref)
        parents = git(repo.path, "rev-list", "--parents", "-n", "1", sha).split()[1:]
        message = git(repo.path, "show", "-s", "--format=%B", sha).rstrip("\n")
        base = parents[0] if parents else EMPTY_TREE
        files = []
        # GitHub reports renames (previous_filename) but not copies: -M only, as GitHub does.
        for line in git(repo.path, "diff-tree", "-r", "-M", "--raw", "--no-abbrev", base, sha).splitlines():
            meta, *names = line.split("\t")
            *_modes, _old_blob, new_blob, code = meta.lstrip(":").split()
            patch_text = git(repo.path, "diff-tree", "-p", "-M", "--no-color", base, sha, "--", *names)
            hunk_start = patch_text.find("\n@@")  # GitHub's `patch` holds the hunks only, not the headers
            entry = {"sha": None if code[0] == "D" else new_blob, "filename": names[-1],
                     "status": _GIT_STATUS.get(code[0], "modified"),
                     "additions": 0, "deletions": 0, "changes": 0}
            if hunk_start >= 0:
                entry["patch"] = patch_text[hunk_start + 1:].rstrip("\n")
                lines = entry["patch"].splitlines()
                entry["additions"] = sum(1 for l in lines if l.startswith("+"))
                entry["deletions"] = sum(1 for l in lines if l.startswith("-"))
                entry["changes"] = entry["additions"] + entry["deletions"]
            if len(names) == 2:
                entry["previous_filename"] = names[0]
            files.append(entry)
        url = f"{self.base_url}/repos/{repo.full_name}/commits/{sha}"
        return {"sha": sha, "url": url, "html_url": f"https://github.example/{repo.full_name}/commit/{sha}",
                "commit": {"message": message, "url": url},
                "parents": [{"sha": p, "url": f"{self.base_url}/repos/{repo.full_name}/commits/{p}"} for p in parents],
                "files": files, "stats": {"total": sum(f["changes"] for f in files)}}

    def _contents(self, repo: _Repo, path: str, ref: str) -> object:
        sha = self._resolve(repo, ref)
        try:
            object_sha = git(repo.path, "rev-parse", f"{sha}:{path}").strip()
        except ApiError:
            raise ApiError(404, "Not Found") from None
        listing = git(repo.path, "ls-tree", sha, "--", path).split(None, 3) if path else []
        if listing and listing[0] == "160000":   # GitHub: a submodule is described, never read
            return {**self._content_entry(repo, path, object_sha, "blob"), "type": "submodule",
                    "submodule_git_url": f"https://github.example/{path}.git"}
        if listing and listing[0] == "120000":
            # GitHub: "if the symlink's target is a normal file in the repository, the API responds with the
            # content of the file. Otherwise, the API responds with an object describing the symlink itself."
            target = subprocess.run(["git", "cat-file", "blob", object_sha], cwd=repo.path, capture_output=True,
                                    check=True).stdout.decode("utf-8", errors="replace")
            resolved = os.path.normpath(os.path.join(os.path.dirname(path), target))
            kind = rev(repo.path, f"{sha}:{resolved}") and git(repo.path, "cat-file", "-t", f"{sha}:{resolved}").strip()
            if target.startswith("/") or resolved.startswith("..") or kind != "blob":
                return {**self._content_entry(repo, path, object_sha, "blob"), "type": "symlink", "target": target}
            return self._contents(repo, resolved, sha)
        if git(repo.path, "cat-file", "-t", object_sha).strip() == "tree":
            lines = git(repo.path, "ls-tree", object_sha).splitlines()
            listing = (line.replace("\t", " ").split(" ", 3) for line in lines)   # mode, type, sha, name
            return [self._content_entry(repo, f"{path}/{name}".lstrip("/"), obj_sha, kind)
                    for _mode, kind, obj_sha, name in listing]
        data = subprocess.run(["git", "cat-file", "blob", object_sha], cwd=repo.path, capture_output=True,
                              check=True).stdout
        return {**self._content_entry(repo, path, object_sha, "blob"), "size": len(data), "encoding": "base64",
                "content": base64.encodebytes(data).decode("ascii")}

    def _content_entry(self, repo: _Repo, path: str, sha: str, kind: str) -> dict:
        url = f"{self.base_url}/repos/{repo.full_name}/contents/{path}"
        return {"type": "file" if kind == "blob" else "dir", "name": path.rsplit("/", 1)[-1], "path": path,
                "sha": sha, "url": url, "html_url": url, "git_url": url, "download_url": None}

    def _put_contents(self, repo: _Repo, path: str, body: dict) -> tuple[int, object, dict]:
        branch = body.get("branch") or repo.default_branch
        self.writes.append({"repository": repo.full_name, "path": path, "branch": branch,
                            "message": body.get("message"), "refused": branch == repo.default_branch})
        if branch == repo.default_branch:
            raise ApiError(422, f"stand-in: writes to the default branch {branch!r} are refused")
        parent = rev(repo.path, f"refs/heads/{branch}")
        if parent is None:
            raise ApiError(404, f"Branch {branch} not found")
        existing = rev(repo.path, f"{parent}:{path}")
        if existing and "sha" not in body:
            raise ApiError(422, 'Invalid request.\n\n"sha" wasn\'t supplied.')
        if existing and body["sha"] != existing:
            raise ApiError(409, f"{path} does not match {body['sha']}")
        blob = git(repo.path, "hash-object", "-w", "--stdin",
                   input_bytes=base64.b64decode(body["content"])).strip()
        with tempfile.TemporaryDirectory() as scratch:  # a private index: the checkout is left alone
            env = {"GIT_INDEX_FILE": str(Path(scratch) / "index")}
            git(repo.path, "read-tree", parent, env=env)
            git(repo.path, "update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", env=env)
            tree = git(repo.path, "write-tree", env=env).strip()
        commit = git(repo.path, "commit-tree", tree, "-p", parent, "-m", body["message"]).strip()
        git(repo.path, "update-ref", f"refs/heads/{branch}", commit, parent)
        return 201 if not existing else 200, {
            "content": self._content_entry(repo, path, blob, "blob"),
            "commit": {"sha": commit, "message": body["message"],
                       "url": f"{self.base_url}/repos/{repo.full_name}/git/commits/{commit}"}}, {}

    def _tree(self, repo: _Repo, ref: str, query: dict) -> dict:
        try:   # a commit, a branch or a tree sha (as GitHub's /git/trees/{tree_sha} takes)
            tree = git(repo.path, "rev-parse", "--verify", f"{ref}^{{tree}}").strip()
        except ApiError:
            raise ApiError(404, "Not Found") from None
        recursive = ["-r", "-t"] if query.get("recursive") not in (None, "", "0", "false") else []
        if recursive and self.truncate_trees:
            return {"sha": tree, "url": f"{self.base_url}/repos/{repo.full_name}/git/trees/{tree}", "tree": [],
                    "truncated": True}
        entries = []
        for line in git(repo.path, "ls-tree", "-z", *recursive, tree).split("\0"):
            if line:
                meta, path = line.split("\t", 1)
                mode, kind, sha = meta.split()
                entries.append({"path": path, "mode": mode, "type": kind, "sha": sha,
                                "url": f"{self.base_url}/repos/{repo.full_name}/git/{kind}s/{sha}"})
        return {"sha": tree, "url": f"{self.base_url}/repos/{repo.full_name}/git/trees/{tree}", "tree": entries,
                "truncated": False}

    def _ref_json(self, repo: _Repo, ref: str, sha: str) -> dict:
        return {"ref": ref, "node_id": f"REF_{sha[:8]}", "url": f"{self.base_url}/repos/{repo.full_name}/git/{ref}",
                "object": {"sha": sha, "type": "commit",
                           "url": f"{self.base_url}/repos/{repo.full_name}/git/commits/{sha}"}}

    def _create_ref(self, repo: _Repo, body: dict) -> tuple[int, object, dict]:
        ref, sha = body.get("ref", ""), body.get("sha", "")
        if not ref.startswith("refs/heads/"):
            raise ApiError(422, "Reference name must start with refs/heads/ (stand-in)")
        if rev(repo.path, ref):
            raise ApiError(422, "Reference already exists")
        target = rev(repo.path, f"{sha}^{{commit}}")
        if target is None:
            raise ApiError(422, "Object does not exist")
        git(repo.path, "update-ref", ref, target, "0" * 40)
        return 201, self._ref_json(repo, ref, target), {}

    def _ref(self, repo: _Repo, ref: str) -> dict:
        sha = rev(repo.path, f"refs/{ref}")
        if sha is None:
            raise ApiError(404, "Not Found")
        return self._ref_json(repo, f"refs/{ref}", sha)

    def _pull_json(self, repo: _Repo, pull: dict) -> dict:
        owner = repo.full_name.split("/")[0]

        def part(branch: str) -> dict:
            return {"ref": branch, "label": f"{owner}:{branch}", "sha": rev(repo.path, f"refs/heads/{branch}"),
                    "repo": self._repository(repo)}

        url = f"{self.base_url}/repos/{repo.full_name}/pulls/{pull['number']}"
        return {**pull, "id": pull["number"] + 5000, "url": url, "head": part(pull["head"]), "base": part(pull["base"]),
                "html_url": f"https://github.example/{repo.full_name}/pull/{pull['number']}"}

    def _list_pulls(self, repo: _Repo, query: dict) -> list:
        state, head = query.get("state", "open"), query.get("head")
        owner = repo.full_name.split("/")[0]
        return [self._pull_json(repo, p) for p in repo.pulls
                if state in ("all", p["state"]) and (head is None or head == f"{owner}:{p['head']}")
                and query.get("base", p["base"]) == p["base"]]

    def _create_pull(self, repo: _Repo, body: dict) -> tuple[int, object, dict]:
        head, base = body.get("head", ""), body.get("base", "")
        for branch in (head, base):
            if rev(repo.path, f"refs/heads/{branch}") is None:
                raise ApiError(422, f"Validation Failed: branch {branch!r} does not exist")
        if any(p["head"] == head and p["base"] == base and p["state"] == "open" for p in repo.pulls):
            raise ApiError(422, f"A pull request already exists for {repo.full_name.split('/')[0]}:{head}.")
        pull = {"number": len(repo.pulls) + 1, "state": "open", "title": body.get("title", ""),
                "body": body.get("body"), "draft": bool(body.get("draft", False)), "head": head, "base": base}
        repo.pulls.append(pull)
        return 201, self._pull_json(repo, pull), {}

    def _list_deployments(self, repo: _Repo, query: dict) -> list:
        chosen = [d for d in repo.deployments
                  if all(query.get(key, d[key]) == d[key] for key in ("environment", "sha", "ref", "task"))]
        return [{k: v for k, v in d.items() if not k.startswith("_")}
                for d in sorted(chosen, key=lambda d: (d["created_at"], d["id"]), reverse=True)]  # newest first

    def _deployment_statuses(self, repo: _Repo, deployment_id: int) -> list:
        for d in repo.deployments:
            if d["id"] == deployment_id:
                return list(reversed(d["_statuses"]))   # newest first, as GitHub
        raise ApiError(404, "Not Found")


def _user(login: str) -> dict:
    return {"login": login, "id": abs(hash(login)) % 10**6, "type": "User"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # keep-alive, as PyGithub's requests session expects
    server_state: GitHubStandIn

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        status, payload, extra = self.server_state.handle(self.command, self.path, body,
                                                          self.headers.get("Authorization", ""))
        data = json.dumps(payload).encode()
        self.send_response(status)
        headers = {"Content-Type": "application/json; charset=utf-8", "Content-Length": str(len(data)),
                   "X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "4999",
                   "X-RateLimit-Reset": str(int(time.time()) + 3600), "X-RateLimit-Used": "1",
                   "X-RateLimit-Resource": "core", "X-GitHub-Request-Id": f"STANDIN-{id(self):x}", **extra}
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def log_message(self, *args) -> None:   # keep pytest output clean
        pass
