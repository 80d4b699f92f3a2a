"""A sweep's budget (``--budget-epochs E``, ``--budget-time 2h``): what its cells may spend.

Both count what this grid's cells have spent over every session of the sweep, from the
store: the epochs they trained (``epochs_done``) and their own wall time (active plus
start-up time, summed over their sessions, as the tables show it).  So a rerun with the
same budget starts nothing, and a rerun with a bigger one goes on where the last stopped;
finished cells are never redone.  The runner checks before it starts (or resumes) a cell:
cells already running finish their current piece, so a sweep may overrun by them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable

from zoo.errors import ConfigError

if TYPE_CHECKING:
    from zoo.bench.grid import Cell
    from zoo.bench.store import Store

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")


def parse_duration(text: str, option: str = "--budget-time") -> float:
    """Seconds in ``90``, ``45s``, ``30m``, ``2h``, ``1.5h`` or ``1h30m``."""
    compact = text.strip().lower().replace(" ", "")
    try:
        seconds = float(compact)
    except ValueError:
        parts = _PART.findall(compact)
        if not parts or "".join(n + u for n, u in parts) != compact:
            raise ConfigError(f"{option} {text!r}: not a duration (e.g. 3600, 45m, 2h, 1h30m)") from None
        seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if not seconds > 0 or seconds == float("inf"):
        raise ConfigError(f"{option} {text!r}: must be more than 0 seconds")
    return seconds


@dataclass(frozen=True)
class Budget:
    epochs: int | None = None
    seconds: float | None = None

    @classmethod
    def of_options(cls, epochs: int | None, time: str | None) -> Budget | None:
        if epochs is None and time is None:
            return None
        return cls(epochs, None if time is None else parse_duration(time))

    def spent(self, rows: Iterable[dict]) -> str:
        """The one line saying the budget is spent, or "" while some is left."""
        rows = list(rows)
        epochs = sum(int(r.get("epochs_done") or 0) for r in rows)
        seconds = sum(float(r.get("wall_time") or 0.0) for r in rows)
        if self.epochs is not None and epochs >= self.epochs:
            return (f"budget spent: {epochs} epochs trained of --budget-epochs {self.epochs}; "
                    "no more cells started (rerun with a bigger budget to go on)")
        if self.seconds is not None and seconds >= self.seconds:
            return (f"budget spent: cells ran {seconds:.0f} s of --budget-time {self.seconds:.0f} s; "
                    "no more cells started (rerun with a bigger budget to go on)")
        return ""

    def meter(self, store: Store, cells: list[Cell]) -> Callable[[], str]:
        """``spent`` over the stored rows of ``cells``, read afresh at every call."""
        # ``cells`` read afresh too: an adaptive search adds cells while the sweep runs.
        return lambda: self.spent(r for r in store.rows()
                                  if (r["cell"], r["seed"]) in {(c.key, c.seed) for c in cells})
