"""``limit_train``: train on a deterministic subset, the same way for every dataset.

Generic on purpose: it works on any loaded dataset (the ``zoo.data.Dataset`` protocol), so
no dataset plugin implements it and every family draws its subset by the same rule.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from zoo.data.splits import Split

# Fixed, not the run's seed: runs with other seeds must train on the same images, or a
# comparison of seeds would also compare subsets.
SUBSET_SEED = 20_260_101


def subset_indices(labels: np.ndarray, limit: int) -> np.ndarray:
    """``limit`` indices of ``labels``, class-balanced (round robin over the classes, each
    class's images in a fixed random order), returned in ascending order."""
    labels = np.asarray(labels, dtype=np.int64)
    total = len(labels)
    if limit >= total:
        return np.arange(total)
    order = np.random.default_rng(SUBSET_SEED).permutation(total)
    shuffled = labels[order]
    by_class = np.argsort(shuffled, kind="stable")
    counts = np.bincount(shuffled)
    starts = np.cumsum(counts) - counts
    rank = np.empty(total, dtype=np.int64)  # the image's place within its class's order
    rank[by_class] = np.arange(total) - np.repeat(starts, counts)
    chosen = order[np.lexsort((np.arange(total), rank))[:limit]]
    return np.sort(chosen)


class LimitedDataset:
    """A dataset whose training split is a subset; everything else is the original's."""

    def __init__(self, data: Any, train: Split, limit: int) -> None:
        self._data, self.train, self.limit = data, train, limit

    def __getattr__(self, name: str) -> Any:
        return getattr(self._data, name)


def limit_train(data: Any, limit: int | None) -> Any:
    """``data`` training on at most ``limit`` images (validation and test stay whole, so the
    numbers remain comparable with a full run's); ``None`` leaves it as it is."""
    if limit is None:
        return data
    picked = subset_indices(data.train.labels, limit)
    train = Split(np.asarray(data.train.images)[picked], np.asarray(data.train.labels)[picked])
    return LimitedDataset(data, train, limit)
