"""Where HARP writes: checked before any work, so a bad path costs a second, not a training run.

`key` names the flag or config key a path came from (`--out`, `training.output_dir`); every error
is one line naming it. A path that is empty, a file where a folder is wanted (or the reverse), or
below a folder that cannot be written is refused.
"""

from __future__ import annotations

import os
from pathlib import Path

from harp.errors import HarpError


def _encodable(path: str | Path, key: str, error: type[HarpError]) -> None:
    """No NUL byte or lone surrogate (YAML's "\\0", "\\ud800"): no file system takes them, and mkdir would raise."""
    try:
        if "\0" in str(path):
            raise ValueError
        os.fsencode(path)
    except (ValueError, UnicodeEncodeError):
        raise error(f"{key}: {str(path)!r} is not a path (a NUL byte or a lone surrogate in it)") from None


def _writable_parent(path: Path, key: str, error: type[HarpError]) -> None:
    """The nearest existing folder above (or at) `path` is a folder we may write into."""
    parent = path.absolute()
    while not parent.exists() and not parent.is_symlink():
        parent = parent.parent
    if not parent.is_dir():
        raise error(f"{key}: {parent} is a file, so {path} cannot be made")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise error(f"{key}: {parent} is not writable")


def check_output_dir(path: str | Path, key: str, error: type[HarpError] = HarpError) -> Path:
    """A folder that exists or can be made, and can be written."""
    if not str(path).strip():
        raise error(f"{key}: empty path; name a folder")
    _encodable(path, key, error)
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise error(f"{key}: {path} is a file, not a folder")
    _writable_parent(path, key, error)
    return path


def check_output_file(path: str | Path, key: str, error: type[HarpError] = HarpError) -> Path:
    """A file that can be written (replaced if it exists): not a folder, not `.`, in a folder that can be written."""
    if not str(path).strip():
        raise error(f"{key}: empty path; name a file")
    _encodable(path, key, error)
    path = Path(path)
    if path.is_dir() or path.name in ("", ".", ".."):
        raise error(f"{key}: {path} is a folder, not a file")
    _writable_parent(path.parent, key, error)
    return path
