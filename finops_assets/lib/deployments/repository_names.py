"""The one rule for a repository name from outside (webhooks, side inputs, code hosts): 'owner/name'.

A repository name decides a folder we read (`repos/<owner>/<name>`) and a URL we send a token to,
so it is checked once, here, wherever it enters: GitHub's own shape (owner: letters, digits and
single inner hyphens or dots/underscores as other hosts allow; name: letters, digits, '.', '_',
'-'), never '.', '..', a '.git' suffix, a path, a query or a fragment.
"""

import re

_OWNER = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,38}[A-Za-z0-9])?$")
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")


class RepositoryNameError(ValueError):
    """A repository name that is not a plain 'owner/name'."""


def validate_repository(value: object) -> str:
    """`value` if it is a plain 'owner/name', else RepositoryNameError saying why."""
    if not isinstance(value, str):
        raise RepositoryNameError(f"repository must be text 'owner/name', got {type(value).__name__}")
    parts = value.split("/")
    if len(parts) != 2:
        raise RepositoryNameError(f"repository must be 'owner/name' (one '/'), got {value!r}")
    owner, name = parts
    if not _OWNER.fullmatch(owner) or ".." in owner:
        raise RepositoryNameError(f"repository owner {owner!r} is not a valid owner name (letters, digits, '-', '_', '.')")
    if not _NAME.fullmatch(name) or name in (".", "..") or name.lower().endswith(".git"):
        raise RepositoryNameError(f"repository name {name!r} is not a valid name (letters, digits, '-', '_', '.'; "
                                  "not '.', '..' or '*.git')")
    return value


def is_valid_repository(value: object) -> bool:
    try:
        validate_repository(value)
    except RepositoryNameError:
        return False
    return True
