"""Real small or read-only filesystems for tests of disk failures (tmpfs mounts; needs root)."""

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def small_filesystem(mount_point: Path, size_kb: int, read_only: bool = False) -> Iterator[Path]:
    """A tmpfs of `size_kb` mounted at `mount_point` (created), unmounted afterwards; skips the
    test where mounting is not allowed (not root, or a container without CAP_SYS_ADMIN)."""
    mount_point.mkdir(parents=True, exist_ok=True)
    options = f"size={size_kb}k" + (",ro" if read_only else "")
    if os.geteuid() != 0:
        pytest.skip("mounting a small filesystem needs root")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mount_point)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


@contextmanager
def read_only_folder(path: Path) -> Iterator[Path]:
    """A folder no one can write: a read-only tmpfs as root (root ignores mode bits), else chmod 555."""
    if os.geteuid() == 0:
        with small_filesystem(path, 64, read_only=True):
            yield path
        return
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o555)
    try:
        yield path
    finally:
        path.chmod(0o755)


@contextmanager
def read_only_file(path: Path) -> Iterator[Path]:
    """An existing file no one can write: bound read-only over itself as root, else chmod 444."""
    if os.geteuid() != 0:
        path.chmod(0o444)
        try:
            yield path
        finally:
            path.chmod(0o644)
        return
    bound = subprocess.run(["mount", "--bind", str(path), str(path)], capture_output=True, text=True)
    if bound.returncode != 0:
        pytest.skip(f"cannot bind-mount here: {bound.stderr.strip()}")
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(path)], check=True, capture_output=True)
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)
