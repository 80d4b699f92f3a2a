"""Output folders the user names: created with a one-line error for every way that fails."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from zoo.errors import ZooError, one_line


def check_name(path: Path, option: str) -> Path:
    """Refuse a path the file system cannot hold (a part longer than its NAME_MAX, the
    whole beyond PATH_MAX) or that is not valid UTF-8, before anything looks it up: a
    lookup of such a name raises an OSError from deep inside the code that tries."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        shown = str(path).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        raise ZooError(f"{option} {shown}: the path is not valid UTF-8; choose another name") from None
    full = Path(os.path.abspath(path))
    # os.path.isdir, not Path.is_dir: it answers False for a name too long to look up.
    existing = next((p for p in (full, *full.parents) if os.path.isdir(p)), Path("/"))
    name_max = _pathconf(existing, "PC_NAME_MAX", 255)
    long = next((part for part in full.parts if len(os.fsencode(part)) > name_max), None)
    if long is not None:
        raise ZooError(f"{option} {path}: the name '{long[:40]}...' is {len(os.fsencode(long))} "
                       f"bytes; this file system allows {name_max}; choose a shorter name")
    path_max = _pathconf(existing, "PC_PATH_MAX", 4096)
    if len(os.fsencode(str(full))) >= path_max:
        raise ZooError(f"{option} {path}: the path is longer than this file system allows "
                       f"({path_max} bytes); choose a shorter one")
    return path


def _pathconf(folder: Path, name: str, default: int) -> int:
    try:
        return os.pathconf(folder, name)
    except (OSError, ValueError):
        return default


def make_dir(path: Path, option: str) -> Path:
    """Create ``path`` (and parents); a bad name or place is a ZooError naming ``option``.

    Paths go into JSON job files and the SQLite store, which hold text: a name that is
    not valid UTF-8 (undecodable bytes from the shell) is refused before anything is made.
    """
    check_name(path, option)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ZooError(f"{option} {path}: a file is in the way (not a directory)") from None
    except NotADirectoryError:
        raise ZooError(f"{option} {path}: a parent of it is a file, not a directory") from None
    except OSError as exc:
        raise ZooError(f"{option} {path}: cannot create it ({exc.strerror or one_line(exc)})") from None
    return path


def lock_dir(out: Path, what: str, option: str = "--out") -> IO:
    """Create ``out`` and hold an exclusive lock on it while the returned handle is open.

    Two processes writing one run or sweep folder would each overwrite the other's
    checkpoints and rows; the second one is refused at once instead.
    """
    make_dir(out, option)
    try:
        # Opened without truncating: taking the lock must not touch the folder's files.
        handle = os.fdopen(os.open(out / ".lock", os.O_RDWR | os.O_CREAT, 0o644), "r+")
    except OSError as exc:
        raise ZooError(f"{option} {out}: cannot write there ({exc.strerror or one_line(exc)})") from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise ZooError(f"{out} is in use by another {what}; wait for it or choose another {option}") from None
    return handle
