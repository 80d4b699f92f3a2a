"""How a run tells the outside world what it is doing, and how it is asked to stop.

The trainer never prints: the CLI passes a Reporter that draws progress bars.
"""

from __future__ import annotations

import signal
from contextlib import contextmanager
from typing import Any, Protocol


class Reporter(Protocol):
    def start(self, info: dict[str, Any]) -> None: ...
    def epoch_start(self, epoch: int, epochs: int, first_step: int, steps: int) -> None: ...
    def step(self, step_in_epoch: int, loss: float, acc: float) -> None: ...
    def epoch_end(self, record: dict[str, Any]) -> None: ...
    def message(self, text: str) -> None: ...
    def close(self) -> None: ...


class NullReporter:
    def start(self, info):
        pass

    def epoch_start(self, epoch, epochs, first_step, steps):
        pass

    def step(self, step_in_epoch, loss, acc):
        pass

    def epoch_end(self, record):
        pass

    def message(self, text):
        pass

    def close(self):
        pass


class StopFlag:
    """Set by a signal; the loop stops at the next step boundary, after a checkpoint."""

    def __init__(self) -> None:
        self.reason = ""

    @property
    def requested(self) -> bool:
        return bool(self.reason)

    def request(self, reason: str) -> None:
        self.reason = self.reason or reason


@contextmanager
def stop_on_signals(flag: StopFlag):
    """SIGINT/SIGTERM ask for a clean stop instead of killing the run mid-update."""
    # Importing paddle installs its own SIGTERM handler (which aborts the process), so
    # paddle must be imported before ours is put in place, never after.
    import paddle  # noqa: F401

    names = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM"}
    previous = {sig: signal.getsignal(sig) for sig in names}

    def handler(signum, frame):
        flag.request(names.get(signum, str(signum)))

    for sig in names:
        signal.signal(sig, handler)
    try:
        yield flag
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
