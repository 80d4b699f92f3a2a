"""Deterministic, resumable, rank-sharded mini-batches over a Split."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from zoo.data.splits import Split

Batch = tuple[np.ndarray, np.ndarray]


def normalize_images(images: np.ndarray) -> np.ndarray:
    """uint8 images [B, 28, 28] (0..255) -> float32 [B, 1, 28, 28] in [-1, 1]."""
    x = images.astype(np.float32)
    x /= 127.5
    x -= 1.0
    return x.reshape(len(images), 1, *images.shape[1:])


class BatchSampler:
    """Mini-batches of one split: float32 images [B,1,28,28], int64 labels [B,1].

    The order of epoch ``e`` is ``default_rng([seed, e]).permutation(N)`` (or file
    order when ``shuffle=False``): a pure function of (seed, epoch), so
    ``epoch(e, start_step=k)`` reproduces exactly the batches from step k on.

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
            yield self._batch(idx)

    def _batch(self, idx: np.ndarray) -> Batch:
        # Fancy indexing + vectorized normalization: no per-sample Python work.
        images = normalize_images(self.split.images[idx])
        labels = self.split.labels[idx].astype(np.int64).reshape(-1, 1)
        return images, labels


def full_batches(split: Split, batch_size: int) -> Iterator[Batch]:
    """Every sample once, in file order, last batch possibly smaller (for evaluation)."""
    return BatchSampler(split, batch_size, shuffle=False).epoch(0)
