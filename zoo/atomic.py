"""Durable file writes: a file or a folder others read appears whole or not at all.

One policy for every writer in zoo:

* A file is written under a temporary name in its own folder (a rename across file
  systems is a copy), its data fsynced, then renamed over the old one; the folder is
  fsynced after, so the rename itself survives a power cut.  Whatever fails before the
  rename leaves the old file as it was and no temporary file behind.
* A folder is filled under ``.tmp-NAME-PID`` (``staging_dir``), every file in it fsynced,
  and published by one rename (``publish_dir``).  A folder rename cannot overwrite, which
  makes it the check and the publication in one step: of two writers racing for one
  name exactly one wins.  Only when replacing is asked is the old folder moved aside
  (``.tmp-old-NAME-PID``), and put back if the rename fails.
* A folder's fsync is skipped only where the system cannot do it (Windows cannot open a
  folder; some file systems answer EINVAL); a real I/O error is raised, never ignored.
* ``durable=False`` is for a live view rewritten every half second (progress.json):
  still atomic, not fsynced, as a crash makes it meaningless anyway.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Callable, Iterator, Union

# bytes, or a function that writes the file's content to an open binary file
Content = Union[bytes, Callable[[IO[bytes]], Any]]
# What a folder answers when it cannot be fsynced, as opposed to when the disk failed.
_CANNOT_SYNC_FOLDERS = {errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EBADF,
                        errno.EACCES, errno.EPERM}
# A folder rename that fails because something is already at the target.
_TARGET_TAKEN = {errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR, errno.EISDIR}


def fsync_dir(path: Path) -> None:
    """Make the entries of folder ``path`` (a rename into it) durable."""
    if os.name == "nt":
        return
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        if exc.errno in _CANNOT_SYNC_FOLDERS:
            return
        raise
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in _CANNOT_SYNC_FOLDERS:
            raise
    finally:
        os.close(fd)


def _fill(handle: IO[bytes], content: Content, durable: bool) -> None:
    if isinstance(content, bytes):
        handle.write(content)
    else:
        content(handle)
    handle.flush()
    if durable:
        os.fsync(handle.fileno())


def write_synced(path: Path, content: Content) -> None:
    """Write and fsync ``path`` in place: for a file of a staging folder that
    ``publish_dir`` publishes as a whole (the folder is the unit that appears)."""
    with open(path, "wb") as handle:
        _fill(handle, content, durable=True)


def write_bytes_atomic(path: Path, content: Content, *, durable: bool = True) -> None:
    """Replace ``path`` by ``content`` atomically (see the module's policy); its folder is
    created if needed.  Any failure, an interrupt too, removes the temporary file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp, fd = _create_temp(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            _fill(handle, content, durable)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(path.parent)


def _create_temp(path: Path) -> tuple[Path, int]:
    """A new hidden file beside ``path``, made with the umask's mode as the file itself
    would be (tempfile.mkstemp's 0600 would make a shared report or data file private)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            return tmp, os.open(tmp, flags, 0o666)
        except FileExistsError:
            continue


def write_text_atomic(path: Path, text: str, *, durable: bool = True) -> None:
    write_bytes_atomic(path, text.encode("utf-8"), durable=durable)


def write_json_atomic(path: Path, data: Any, *, indent: int | None = 2, durable: bool = True) -> None:
    """``data`` as JSON (numpy values through ``tolist``; NaN allowed, as metrics hold it).
    It is serialised before the disk is touched: unserialisable data changes nothing."""
    text = json.dumps(data, indent=indent, default=_plain, allow_nan=True)
    write_text_atomic(path, text, durable=durable)


def _plain(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def staging_name(final: Path, old: bool = False) -> Path:
    """``.tmp-NAME-PID`` (``.tmp-old-NAME-PID`` for a replaced folder) beside ``final``:
    the pid tells a live writer's folder from a crashed one's (``zoo.checkpoint`` reaps)."""
    return final.with_name(f".tmp-{'old-' if old else ''}{final.name}-{os.getpid()}")


@contextmanager
def staging_dir(final: Path) -> Iterator[Path]:
    """A fresh, empty staging folder for ``final``, removed on leaving unless published."""
    tmp = staging_name(final)
    shutil.rmtree(tmp, ignore_errors=True)  # a leftover of an earlier crash with our pid
    tmp.mkdir()
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def publish_dir(tmp: Path, final: Path, *, replace: bool = False) -> Path:
    """Publish the filled folder ``tmp`` as ``final`` with one rename; return ``final``.

    Every file in ``tmp`` (not recursively) and ``tmp`` itself are fsynced first.  If
    ``final`` holds anything the rename fails with FileExistsError and nothing changes,
    unless ``replace``: then an existing folder (never a symlink) is moved aside first
    and removed after, or put back if the rename fails.  On any failure ``tmp`` is left
    for its caller to remove (``staging_dir`` does).
    """
    for child in tmp.iterdir():
        if child.is_file() and not child.is_symlink():
            _fsync_file(child)
    fsync_dir(tmp)
    aside = staging_name(final, old=True)
    try:
        if replace and final.is_dir() and not final.is_symlink():
            os.rename(final, aside)
        os.rename(tmp, final)
    except OSError as exc:
        if aside.exists() and not final.exists():
            os.rename(aside, final)
        if exc.errno in _TARGET_TAKEN:
            raise FileExistsError(exc.errno, os.strerror(exc.errno), str(final)) from None
        raise
    try:
        fsync_dir(final.parent)
    finally:
        shutil.rmtree(aside, ignore_errors=True)
    return final


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
