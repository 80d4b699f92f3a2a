"""Terminal output of a training run: a progress bar per epoch and one line per epoch."""

from __future__ import annotations

import sys
from typing import Any

import click


def fmt(value: Any, spec: str = ".4f") -> str:
    return "-" if value is None else format(value, spec)


def epoch_line(record: dict[str, Any], epochs: int) -> str:
    return (f"epoch {record['epoch']}/{epochs}  train loss {fmt(record['train_loss'])} "
            f"acc {fmt(record['train_acc'])}  val loss {fmt(record['val_loss'])} "
            f"acc {fmt(record['val_acc'])}  lr {fmt(record['lr'], '.3g')}  "
            f"{fmt(record['images_per_s'], '.0f')} img/s")


class ConsoleReporter:
    """tqdm bar on stderr (unless quiet); epoch summaries on stdout."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.bar = None
        self.epochs = 0

    def start(self, info: dict[str, Any]) -> None:
        job = info["job"]
        self.epochs = job.epochs
        click.echo(f"training {job.model} / {job.optimizer} / {job.schedule} / {job.regularizer} "
                   f"on {job.dataset} ({info['train']} train, {info['val']} val, "
                   f"{info['test']} test) on {info['device']}, out: {job.out}")

    def epoch_start(self, epoch: int, epochs: int, first_step: int, steps: int) -> None:
        if self.quiet:
            return
        from tqdm import tqdm

        self.bar = tqdm(total=steps, initial=first_step, desc=f"epoch {epoch}/{epochs}",
                        unit="step", leave=False, file=sys.stderr, dynamic_ncols=True,
                        disable=None)

    def step(self, step_in_epoch: int, loss: float, acc: float) -> None:
        if self.bar is not None:
            self.bar.update(1)
            if step_in_epoch % 10 == 0:
                self.bar.set_postfix(loss=f"{loss:.4f}", acc=f"{acc:.3f}", refresh=False)

    def epoch_end(self, record: dict[str, Any]) -> None:
        self._close_bar()
        click.echo(epoch_line(record, self.epochs))

    def message(self, text: str) -> None:
        self._close_bar()
        click.echo(text)

    def close(self) -> None:
        self._close_bar()

    def _close_bar(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
