"""A cell folder's files as one blob and back: what an executor ships between machines
that share no file system (Ray's object store carries the blob).

``pack`` makes an uncompressed tar (checkpoints are arrays that barely compress, and a
cell's end waits for it).  ``merge`` puts a blob into a cell folder without ever leaving
it worse than before: every file lands by an atomic rename, a checkpoint folder only as
a whole and only if the folder lacks that step, so a driver killed mid-merge still holds
every checkpoint it had, and a rerun resumes from the newest good one.
"""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import uuid
from pathlib import Path, PurePosixPath

from zoo import layout


def pack(folder: Path, include=lambda relative: True) -> bytes:
    """The regular files under ``folder`` for which ``include(relative path)`` holds."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(folder).as_posix()
            if path.is_file() and not path.is_symlink() and include(relative):
                tar.add(path, arcname=relative, recursive=False)
    return buffer.getvalue()


def _safe(name: str) -> bool:
    """A member that stays inside the folder: relative, no '..', no absolute path."""
    parts = PurePosixPath(name).parts
    return bool(parts) and not PurePosixPath(name).is_absolute() and ".." not in parts


def unpack(blob: bytes, folder: Path) -> None:
    """Extract ``blob`` into ``folder`` (created): regular files only, never outside it."""
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r") as tar:
        for member in tar.getmembers():
            if not (member.isfile() and _safe(member.name)):
                continue
            target = folder / member.name
            target.parent.mkdir(parents=True, exist_ok=True)
            with tar.extractfile(member) as source, open(target, "wb") as sink:
                shutil.copyfileobj(source, sink)


def merge(blob: bytes, cell_dir: Path) -> None:
    """Bring a cell's files home (see the module's promise)."""
    incoming = cell_dir / f".incoming-{uuid.uuid4().hex[:8]}"
    try:
        unpack(blob, incoming)
        for path in sorted(incoming.rglob("*")):
            relative = path.relative_to(incoming)
            parts = relative.parts
            if parts[0] == layout.CHECKPOINTS and len(parts) >= 2:
                if len(parts) == 2 and path.is_dir():
                    target = cell_dir / relative
                    if not target.exists():  # a step already here is the same step
                        target.parent.mkdir(parents=True, exist_ok=True)
                        os.rename(path, target)
                continue
            if path.is_file():
                target = cell_dir / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(path, target)
    finally:
        shutil.rmtree(incoming, ignore_errors=True)
