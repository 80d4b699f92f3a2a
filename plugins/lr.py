"""Paddle LR scheduler classes the built-in schedules need (imported lazily)."""

from __future__ import annotations

from paddle.optimizer.lr import LRScheduler


class ConstantLR(LRScheduler):
    """A scheduler that never changes, so every run has a scheduler state to checkpoint."""

    def __init__(self, learning_rate: float) -> None:
        super().__init__(learning_rate=learning_rate)

    def get_lr(self) -> float:
        return self.base_lr
