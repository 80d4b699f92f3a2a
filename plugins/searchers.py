"""Built-in search strategies: which cells a sweep runs (``zoo bench --search NAME``).

``grid`` is zoo's own enumeration of every cell; ``random`` draws ``--trials N`` points
from a seeded stream (no library); ``optuna`` asks Optuna's samplers (the ``search``
extra) one point at a time, as cells can start, and tells each cell's validation accuracy.
Parameters: ``--set searcher.P=V``.
"""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import zoo


def build_grid():
    return zoo.Searcher()


class RandomSearcher(zoo.Searcher):
    """Points drawn independently and uniformly (log-uniformly for a log range) from a
    stream seeded once: the same seed and space give the same points in the same order,
    so a rerun, or one with more trials, asks the same first points again."""

    samples = True
    adaptive = False

    def __init__(self, seed: int | None = None) -> None:
        self.seed = seed
        self._rng = random.Random(0)
        self._space: dict[str, Any] = {}
        self._asked = 0

    def open(self, folder: Path, space: dict, seed: int) -> list:
        self._rng = random.Random(self.seed if self.seed is not None else seed)
        self._space, self._asked = dict(space), 0
        return []

    def ask(self):
        point = {name: _draw(self._rng, axis) for name, axis in self._space.items()}
        self._asked += 1
        return zoo.Trial(self._asked - 1, point)


def _draw(rng: random.Random, axis) -> Any:
    if isinstance(axis, zoo.Choice):
        return axis.values[rng.randrange(len(axis.values))]
    if axis.step is not None:
        count = int(math.floor((axis.high - axis.low) / axis.step + 1e-9)) + 1
        value = axis.low + rng.randrange(count) * axis.step
        return int(value) if axis.integer else float(f"{value:.12g}")
    if axis.integer:
        if axis.log:  # log-uniform over the whole numbers low..high
            drawn = math.exp(rng.uniform(math.log(axis.low), math.log(axis.high + 1)))
            return min(int(drawn), int(axis.high))
        return rng.randint(int(axis.low), int(axis.high))
    if axis.log:
        return math.exp(rng.uniform(math.log(axis.low), math.log(axis.high)))
    return rng.uniform(axis.low, axis.high)


def build_random(*, seed: int | None = None):
    return RandomSearcher(seed)


def build_optuna(*, sampler: str = "TPESampler", seed: int | None = None, options: dict | None = None):
    # options: the sampler's own keyword arguments, e.g. '{"n_startup_trials": 4}' for TPE.
    return zoo.OptunaSearcher(sampler, seed, options)


@zoo.hookimpl
def zoo_register_searchers(register):
    register("grid", build_grid, description="Every cell of the grid, in order (zoo's own enumeration)")
    register("random", build_random,
             description="--trials N points drawn at random from the space, seeded "
                         "(--set searcher.seed=N; default: the sweep's seed)")
    register("optuna", build_optuna,
             description="--trials N points asked of an Optuna sampler as cells can start "
                         "(TPESampler; --set searcher.sampler=NAME, searcher.options=JSON; zoo[search])")
