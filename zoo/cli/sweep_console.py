"""Terminal output of a sweep: a bar over cells, and a bar per running cell."""

from __future__ import annotations

import sys
import time

import click

from zoo.cli.console import plain_progress, progress_interval
from zoo.status import Status


class SweepConsole:
    """An overall bar counting finished cells and one line per running cell, which names
    its slot or node when cells run side by side (all bars off with --quiet)."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.overall = None
        self.cells: dict[str, object] = {}  # by slug: the bar of each running cell
        # No terminal: bars draw nothing, so a plain line per running cell now and then.
        self.interval = progress_interval() if plain_progress(quiet) else None
        self.seen: dict[str, tuple[float, int, int]] = {}  # by slug: time, epoch, step last shown

    # Progress and per-cell lines go to stderr: stdout carries only the table, so that
    # `--format json|csv` output parses and `zoo bench ... > table.md` is just the table.
    def sweep_start(self, total, done):
        click.echo(f"{total} cells, {done} already finished, {total - done} to run", err=True)
        if not self.quiet:
            from tqdm import tqdm

            self.overall = tqdm(total=total, initial=done, desc="cells", unit="cell",
                                position=0, file=sys.stderr, dynamic_ncols=True, disable=None)

    def cell_start(self, index, cell, resuming, where=""):
        if self.quiet:
            return
        from tqdm import tqdm

        old = self.cells.pop(cell.slug, None)  # a cell paused for the pruner, starting again
        if old is not None:
            old.close()
        verb = "resuming" if resuming else "running"
        place = f" on {where}" if where else ""
        taken = {getattr(bar, "pos", 0) for bar in self.cells.values()}
        position = next(p for p in range(1, len(self.cells) + 2) if p not in taken and -p not in taken)
        self.cells[cell.slug] = tqdm(total=1, desc=f"{verb} {cell.slug}{place}", unit="step",
                                     position=position, leave=False, file=sys.stderr,
                                     dynamic_ncols=True, disable=None)

    def cell_progress(self, progress, cell=None):
        if self.interval is not None and cell is not None and progress.get("steps"):
            self._plain_line(progress, cell)
        bar = self.cells.get(cell.slug) if cell is not None else next(iter(self.cells.values()), None)
        if bar is not None and not bar.disable and progress.get("node") and " on " not in bar.desc:
            bar.set_description_str(f"{bar.desc} on node {progress['node']}")  # once Ray placed it
        if bar is not None and not bar.disable and progress.get("steps"):
            bar.total = progress["steps"]
            bar.n = progress.get("step", 0)
            bar.set_postfix_str(f"epoch {progress.get('epoch')}/{progress.get('epochs')}", refresh=True)

    def _plain_line(self, progress, cell) -> None:
        now = time.monotonic()
        epoch, step = progress.get("epoch") or 0, progress.get("step") or 0
        when, last_epoch, last_step = self.seen.setdefault(cell.slug, (now, epoch, step))
        if now - when < self.interval or (epoch, step) == (last_epoch, last_step):
            return
        # Images since the last line: batch_size x nprocs per step, the last batch what is left.
        def seen(at: int) -> int:
            return min(at * cell.batch_size * cell.nprocs, progress.get("train") or 10**12)

        images = seen(step) - (seen(last_step) if epoch == last_epoch else 0)
        rate = images / (now - when) if now > when else 0.0
        loss = progress.get("loss")
        click.echo(f"running {cell.slug}: epoch {epoch}/{progress.get('epochs')} step "
                   f"{step}/{progress['steps']}  {rate:.0f} img/s  "
                   f"loss {'-' if loss is None else format(loss, '.4f')}", err=True)
        self.seen[cell.slug] = (now, epoch, step)

    def cell_end(self, cell, row):
        self.seen.pop(cell.slug, None)
        bar = self.cells.pop(cell.slug, None)
        if bar is not None:
            bar.close()
        line = f"{row['status']:<11} {cell.slug}"
        if row["status"] == Status.OK:
            acc = "-" if row["test_acc"] is None else f"{row['test_acc']:.4f}"  # a follower node
            line += f"  test acc {acc}  {row['wall_time']:.1f} s"
            if row.get("node"):
                line += f"  on {row['node']}"
        elif row["reason"]:
            line += f"  ({row['reason']})"
        if self.overall is not None:
            self.overall.write(line, file=sys.stderr)
            self.overall.update(1)
        else:
            click.echo(line, err=True)

    def close(self):
        for bar in [*self.cells.values(), self.overall]:
            if bar is not None:
                bar.close()
        self.cells.clear()
