"""A Reporter that leaves the current position in a small file for a watching runner."""

from __future__ import annotations

import json
import time
from pathlib import Path

from zoo.atomic import write_json_atomic


class FileProgress:
    """Writes {"epoch", "epochs", "step", "steps", "loss", "train"} at most twice a second,
    atomically ("train": the training images of an epoch)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.state = {"epoch": 0, "epochs": 0, "step": 0, "steps": 0}
        self.last = 0.0

    def _write(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last < 0.5:
            return
        self.last = now
        # A live view: atomic, but not worth an fsync twice a second (zoo.atomic).
        write_json_atomic(self.path, self.state, indent=None, durable=False)

    def start(self, info):
        self.state["epochs"] = info["job"].epochs
        self.state["train"] = info["train"]

    def epoch_start(self, epoch, epochs, first_step, steps):
        self.state.update(epoch=epoch, epochs=epochs, step=first_step, steps=steps)
        self._write(force=True)

    def step(self, step_in_epoch, loss, acc):
        self.state["step"] = step_in_epoch
        self.state["loss"] = loss
        self._write()

    def epoch_end(self, record):
        self._write(force=True)

    def message(self, text):
        pass

    def close(self):
        pass


def read_progress(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
