"""Terminal output of a training run: a progress bar per epoch and one line per epoch.

When stderr is no terminal (``| tee``, nohup, a CI log) a bar draws nothing, so progress
is a plain line every ``$ZOO_PROGRESS_INTERVAL`` seconds instead (step, images/s, loss).
"""

from __future__ import annotations

import math
import os
import sys
import time
from typing import Any

import click

from zoo.errors import ConfigError

PROGRESS_ENV = "ZOO_PROGRESS_INTERVAL"
DEFAULT_PROGRESS_INTERVAL = 10.0


def progress_interval() -> float:
    """Seconds between plain progress lines: ``$ZOO_PROGRESS_INTERVAL`` (0: every step)."""
    raw = os.environ.get(PROGRESS_ENV, "").strip()
    if not raw:
        return DEFAULT_PROGRESS_INTERVAL
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not (0 <= seconds < math.inf):
        raise ConfigError(f"{PROGRESS_ENV}={raw!r}: expected a number of seconds, 0 or more")
    return seconds


def plain_progress(quiet: bool) -> bool:
    """Plain lines instead of bars: not asked to be quiet, and stderr is no terminal."""
    return not quiet and not sys.stderr.isatty()


class PlainProgress:
    """Counts steps and images; ``due()`` says when a line is due, ``line()`` gives it."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.restart()

    def restart(self) -> None:
        self.since = time.monotonic()
        self.images = 0
        self.losses: list[float] = []

    def add(self, images: int, loss: float | None = None) -> None:
        self.images += images
        if loss is not None:
            self.losses.append(loss)

    def due(self) -> bool:
        return time.monotonic() - self.since >= self.interval

    def rate(self) -> str:
        seconds = time.monotonic() - self.since
        return f"{self.images / seconds:.0f} img/s" if seconds > 0 else "- img/s"

    def loss(self) -> str:
        return f"loss {sum(self.losses) / len(self.losses):.4f}" if self.losses else "loss -"


def fmt(value: Any, spec: str = ".4f") -> str:
    return "-" if value is None else format(value, spec)


def epoch_line(record: dict[str, Any], epochs: int) -> str:
    return (f"epoch {record['epoch']}/{epochs}  train loss {fmt(record['train_loss'])} "
            f"acc {fmt(record['train_acc'])}  val loss {fmt(record['val_loss'])} "
            f"acc {fmt(record['val_acc'])}  lr {fmt(record['lr'], '.3g')}  "
            f"{fmt(record['images_per_s'], '.0f')} img/s")


class ConsoleReporter:
    """tqdm bar on stderr (unless quiet), or plain lines when stderr is no terminal;
    epoch summaries on stdout."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.bar = None
        self.epochs = 0
        self.batch_size = 0
        self.position = ""
        # Read now: a malformed interval is a one-line error before anything trains.
        self.plain = PlainProgress(progress_interval()) if plain_progress(quiet) else None

    def start(self, info: dict[str, Any]) -> None:
        job = info["job"]
        self.epochs = job.epochs
        self.batch_size, self.train_images = job.batch_size, info["train"]
        click.echo(f"training {job.model} / {job.optimizer} / {job.schedule} / {job.regularizer} "
                   f"on {job.dataset} ({info['train']} train, {info['val']} val, "
                   f"{info['test']} test) on {info['device']}, out: {job.out}")

    def epoch_start(self, epoch: int, epochs: int, first_step: int, steps: int) -> None:
        if self.plain is not None:
            self.position, self.steps = f"epoch {epoch}/{epochs}", steps
            self.plain.restart()
        if self.quiet or self.plain is not None:
            return
        from tqdm import tqdm

        self.bar = tqdm(total=steps, initial=first_step, desc=f"epoch {epoch}/{epochs}",
                        unit="step", leave=False, file=sys.stderr, dynamic_ncols=True,
                        disable=None)

    def step(self, step_in_epoch: int, loss: float, acc: float) -> None:
        if self.plain is not None:
            # One process: the epoch's last batch holds what is left of the images.
            self.plain.add(min(self.batch_size, self.train_images - (step_in_epoch - 1) * self.batch_size),
                           loss)
            if self.plain.due():
                click.echo(f"{self.position} step {step_in_epoch}/{self.steps}  "
                           f"{self.plain.rate()}  {self.plain.loss()}", err=True)
                self.plain.restart()
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
