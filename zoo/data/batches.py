"""Deterministic, resumable, rank-sharded mini-batches over a Split."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from zoo.data.splits import Split
from zoo.data.transform import Transform, augment_table

Batch = tuple[np.ndarray, np.ndarray]


class BatchSampler:
    """Mini-batches of one split: float32 images [B, C, H, W], int64 labels [B, 1].

    The order of epoch ``e`` is ``default_rng([seed, e]).permutation(N)`` (or file
    order when ``shuffle=False``): a pure function of (seed, epoch), so
    ``epoch(e, start_step=k)`` reproduces exactly the batches from step k on.
    ``transform`` (the dataset's, ``zoo.data.transform_of``; required) turns the uint8
    images into the batch; its augmentation of sample i in epoch e is a function of
    (seed, e, i) alone, so resuming keeps it too.

    ``batch_size`` is per rank. The order is cut into global batches of
    ``batch_size * world_size`` and rank r takes slice ``[r*B:(r+1)*B]`` of each,
    so ranks get disjoint samples and the same number of steps. A partial last
    global batch is kept only with one rank and ``drop_last=False``; with several
    ranks it is dropped, because it cannot give every rank a full, equal share.
    """

    def __init__(
        self,
        split: Split,
        batch_size: int,
        seed: int = 0,
        shuffle: bool = True,
        rank: int = 0,
        world_size: int = 1,
        drop_last: bool = False,
        *,
        transform: Transform,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"need 0 <= rank < world_size, got {rank} and {world_size}")
        if seed < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        self.split = split
        self.batch_size = batch_size
        self.seed = seed
        self.shuffle = shuffle
        self.rank = rank
        self.world_size = world_size
        self.drop_last = drop_last
        self.transform = transform
        self._table: tuple[int, np.ndarray] | None = None  # (epoch, augment_table)
        if self.steps_per_epoch == 0:
            raise ValueError(
                f"{len(split)} samples give no full global batch of "
                f"{batch_size} x {world_size} ranks"
            )

    @property
    def global_batch_size(self) -> int:
        """Samples consumed per step across all ranks."""
        return self.batch_size * self.world_size

    @property
    def steps_per_epoch(self) -> int:
        """Steps in one epoch; the same on every rank."""
        full, rest = divmod(len(self.split), self.global_batch_size)
        keep_partial = rest > 0 and self.world_size == 1 and not self.drop_last
        return full + int(keep_partial)

    def order(self, epoch: int) -> np.ndarray:
        """Sample indices of ``epoch`` in visiting order (all ranks)."""
        if epoch < 0:
            raise ValueError(f"epoch must be >= 0, got {epoch}")
        if not self.shuffle:
            return np.arange(len(self.split))
        return np.random.default_rng([self.seed, epoch]).permutation(len(self.split))

    def epoch(self, epoch: int, start_step: int = 0) -> Iterator[Batch]:
        """Yield this rank's batches of ``epoch`` from ``start_step`` on."""
        steps = self.steps_per_epoch
        if not 0 <= start_step <= steps:
            raise ValueError(f"start_step must be in [0, {steps}], got {start_step}")
        order = self.order(epoch)
        for step in range(start_step, steps):
            begin = step * self.global_batch_size + self.rank * self.batch_size
            idx = order[begin : begin + self.batch_size]
            yield self._batch(idx, epoch)

    def _batch(self, idx: np.ndarray, epoch: int) -> Batch:
        # Fancy indexing + vectorized transforms: no per-sample Python work.
        images = self.transform(self.split.images[idx], idx, self.seed, epoch, self._augment(epoch))
        labels = self.split.labels[idx].astype(np.int64).reshape(-1, 1)
        return images, labels

    def _augment(self, epoch: int) -> np.ndarray | None:
        if self.transform.augment == "none":
            return None
        if self._table is None or self._table[0] != epoch:
            self._table = (epoch, augment_table(self.seed, epoch, len(self.split)))
        return self._table[1]


def full_batches(split: Split, batch_size: int, transform: Transform) -> Iterator[Batch]:
    """Every sample once, in file order, last batch possibly smaller, never augmented
    (for evaluation)."""
    plain = transform.without_augment()
    return BatchSampler(split, batch_size, shuffle=False, transform=plain).epoch(0)
