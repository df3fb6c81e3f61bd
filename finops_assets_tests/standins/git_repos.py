"""Real git repositories for tests: one helper that runs git with a fixed identity and no user config."""

import subprocess
from pathlib import Path

IDENTITY = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@x",
            "PATH": "/usr/bin:/bin"}


def git(repo: Path, *args: str) -> str:
    """Run git in `repo` and return its output, stripped; a failure raises."""
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True,
                          env=IDENTITY).stdout.strip()
