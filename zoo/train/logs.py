"""What a run writes besides checkpoints: metrics.json and VisualDL scalars."""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any


def write_json_atomic(path: Path, data: Any) -> None:
    """Readers (``zoo results``, a resumed run) never see a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=2, default=_plain, allow_nan=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _plain(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


class ScalarLog:
    """VisualDL scalars under ``DIR/vdl``; a no-op on ranks other than 0."""

    def __init__(self, logdir: Path | None) -> None:
        self._writer = None
        if logdir is not None:
            from visualdl import LogWriter

            self._writer = LogWriter(logdir=str(logdir))

    def add(self, tag: str, step: int, value: float) -> None:
        if self._writer is not None and math.isfinite(value):
            self._writer.add_scalar(tag=tag, step=step, value=value)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
