"""VisualDL scalars, what a run writes besides checkpoints and metrics.json."""

from __future__ import annotations

import math
from pathlib import Path


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
