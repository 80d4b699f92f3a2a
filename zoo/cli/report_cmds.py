"""``zoo report`` and the report that ``zoo bench --report`` keeps up to date."""

from __future__ import annotations

from pathlib import Path

import click

from zoo.cli.common import catalog_from


@click.command("report")
@click.argument("target", metavar="RUN|DIR", type=click.Path())
@click.option("--out", type=click.Path(), default=None,
              help="HTML file to write (default: RUN/report.html or DIR/report.html).")
@click.option("--png", "png_dir", type=click.Path(), default=None,
              help="Also write every plot as its own PNG into this folder.")
@click.option("--compare", "other", type=click.Path(), default=None,
              help="Another bench run directory to draw over this sweep.")
@click.option("--data-dir", type=click.Path(), default=None,
              help="Test data for a run's confusion matrix (default: the data it trained on).")
@click.pass_context
def report_command(ctx, target, out, png_dir, other, data_dir):
    """Write a self-contained HTML report (and PNGs) of a run or a bench sweep.

    A run gets its loss, accuracy and learning-rate curves and the test confusion matrix;
    a sweep its results table (sortable), validation accuracy per epoch, accuracy against
    time, scaling, time to target and the cells that failed.  Works while a sweep runs.
    """
    from zoo.report.build import make_report

    written = make_report(Path(target), out=Path(out) if out else None,
                          png_dir=Path(png_dir) if png_dir else None,
                          compare=Path(other) if other else None,
                          catalog_factory=lambda: catalog_from(ctx), data_dir=data_dir)
    click.echo(f"wrote {written.html} ({len(written.plots)} plots, {written.size / 1024:.0f} KiB)")
    if written.pngs:
        click.echo(f"wrote {len(written.pngs)} PNGs to {png_dir}")
    return 0


class LiveReport:
    """The sweep's console, plus ``DIR/report.html`` rewritten after every cell.

    Drawing must never stop a sweep: the first failure is a warning, later ones are
    silent, and every cell tries again (a full disk may have been cleared meanwhile)."""

    def __init__(self, console, out: Path) -> None:
        self.console, self.out = console, out
        self.warned = self.refreshed = False

    def __getattr__(self, name):
        return getattr(self.console, name)

    def refresh(self) -> None:
        from zoo.report.build import make_report

        try:
            make_report(self.out)
            self.refreshed = True
        except Exception as exc:  # noqa: BLE001 - any failure to draw, see the class doc
            if not self.warned:
                self.warned = True
                from zoo.errors import one_line

                click.echo(f"zoo: warning: {self.out / 'report.html'} not refreshed: "
                           f"{one_line(exc)} (the sweep goes on)", err=True)

    def cell_end(self, cell, row) -> None:
        self.console.cell_end(cell, row)
        self.refresh()

    def close(self) -> None:
        # A rerun over finished cells ends no cell, but was still asked for a report.
        if not self.refreshed:
            self.refresh()
        self.console.close()


def with_live_report(console, out: Path, enabled: bool):
    """``console`` itself, or wrapped in a LiveReport when ``--report`` was given."""
    if not enabled:
        return console
    from zoo.report.style import require_matplotlib

    require_matplotlib()  # a missing extra fails before training, not after the first cell
    return LiveReport(console, out)


COMMANDS = [report_command]
