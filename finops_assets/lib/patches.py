"""Apply a unified diff to one file's text with `git apply`, so "applies cleanly" means what git means."""

import subprocess
import tempfile
from pathlib import Path


class PatchError(Exception):
    """The patch does not apply cleanly."""


def apply_patch(original: str, patch: str, path: str) -> str:
    """`original` is the text of `path` at the commit; returns the patched text or raises PatchError."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(original)
        (root / "fix.patch").write_text(patch if patch.endswith("\n") else patch + "\n")
        result = subprocess.run(["git", "apply", "--whitespace=nowarn", "--unsafe-paths", "--directory=.",
                                 "fix.patch"], cwd=root, capture_output=True, text=True)
        if result.returncode != 0:
            raise PatchError(result.stderr.strip() or "git apply failed")
        return target.read_text()
