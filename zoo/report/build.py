"""A report from a directory: read it, draw it, lay out the page, write the files."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from zoo.atomic import write_bytes_atomic
from zoo.errors import ReportError, one_line
from zoo.report import html, sources
from zoo.report.run_plots import lr_note
from zoo.report.style import Plot, require_matplotlib


@dataclass
class Written:
    html: Path
    size: int
    plots: list[Plot]
    pngs: list[Path] = field(default_factory=list)


def _fmt(value, spec: str = ".4f") -> str:
    return "-" if value is None else format(value, spec)


def _generated() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S %Z")


def run_page(run: sources.RunData, plots: list[Plot]) -> str:
    job, metrics = run.job, run.metrics
    test = metrics.get("test") or {}
    status = metrics.get("status", "running")
    settings = (f"{job.get('model')} / {job.get('optimizer')} / {job.get('schedule')} / "
                f"{job.get('regularizer')} on {job.get('dataset')}, {job.get('epochs')} epochs, "
                f"batch {job.get('batch_size')}, seed {job.get('seed')}, "
                f"{metrics.get('device', job.get('device'))}")
    outcome = f"status {status}" + (f" ({metrics.get('reason')})" if metrics.get("reason") else "")
    if test:
        outcome += f"; test loss {_fmt(test.get('loss'))}, test accuracy {_fmt(test.get('acc'))}"
    blocks = [html.heading(f"Run report: {run.path.name}", 1),
              html.paragraph(f"{settings}. {outcome}. Generated {_generated()} from {run.path}.",
                             "meta"),
              html.heading("Epochs", anchor="epochs")]
    keys = ["epoch", "step", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "images_per_s",
            "seconds"]
    specs = {"epoch": "d", "step": "d", "lr": ".6g", "images_per_s": ".0f", "seconds": ".1f"}
    rows = [[_fmt(e.get(k), specs.get(k, ".4f")) for k in keys] for e in run.epochs]
    blocks.append(html.table([k.replace("_", " ") for k in keys], rows, table_id="epochs-table")
                  if rows else html.paragraph("No epoch has finished yet.", "note"))
    blocks.append(html.heading("Figures", anchor="figures"))
    if lr_note(run):  # said before the figures, where a learning-rate plot would be looked for
        blocks.append(html.paragraph(lr_note(run), "meta"))
    blocks += [html.figure(p) for p in plots]
    if run.confusion_note:
        blocks.append(html.paragraph(run.confusion_note, "note"))
    if run.confusion:
        names = run.class_names or [str(c) for c in range(len(run.confusion))]
        blocks.append("<details><summary>Confusion matrix as numbers</summary>" + html.table(
            ["true \\ predicted"] + names,
            [[name] + [str(n) for n in row] for name, row in zip(names, run.confusion)],
            table_id="confusion-table", sortable=False) + "</details>")
    if run.per_class:
        blocks += [html.heading("Per class (test set)", anchor="per-class"),
                   html.paragraph("Precision: of the images predicted as the class, the share that "
                                  "are; recall: of the class's images, the share found; F1: their "
                                  "harmonic mean. '-' where there is nothing to divide by."),
                   html.table(["class", "images", "precision", "recall", "F1"],
                              [[s["class"], str(s["support"])]
                               + [_fmt(s[k]) for k in ("precision", "recall", "f1")]
                               for s in run.per_class], table_id="per-class-table")]
    return html.page(f"zoo report: {run.path.name}", blocks)


def _problem_rows(sweep: sources.SweepData) -> list[list[str]]:
    return [[r["slug"], str(r["seed"]), sources.status_text(r["status"]), str(r.get("epochs_done") or 0),
             r.get("reason") or ""]
            for r in sweep.rows if sources.status_kind(r["status"]) in ("problem", "skipped", "pruned")]


def _serving_blocks(sweep: sources.SweepData) -> list[str]:
    """`zoo results --inference`'s table; the reasons of rows that are not ok go into a
    table of their own, where a long reason wraps instead of stretching every row."""
    from zoo.bench.infer_tables import inference_table, joined

    measured = joined(sweep.inference, sweep.rows)
    headers, rows = inference_table(measured)
    problems = [[r["slug"], str(r["seed"]), r["backend"], r["device"], r["status"], r["reason"] or ""]
                for r in measured if sources.status_text(r["status"]) != "ok"]
    if "status" in headers:  # "failed: <reason>" -> "failed"
        rows = [row[:-1] + [row[-1].split(": ", 1)[0]] for row in rows]
    blocks = [html.heading("Serving", anchor="inference"),
              html.paragraph(f"What serving costs (`zoo bench-infer`), the table "
                             f"`zoo results {sweep.path} --inference` prints."),
              html.table(headers, rows, table_id="inference-table")]
    if problems:
        blocks += [html.paragraph(f"{len(problems)} of {len(measured)} serving rows are not ok:"),
                   html.table(["cell", "seed", "backend", "device", "status", "reason"], problems,
                              table_id="inference-problems-table", wide=("reason",))]
    return blocks


def _http_blocks(sweep: sources.SweepData) -> list[str]:
    """The steps `zoo bench-serve` recorded, as `zoo results --serving` prints them."""
    from zoo.bench.serve_tables import serving_table

    headers, rows = serving_table(sweep.serving, sweep.rows)
    return [html.heading("Serving over HTTP", anchor="serving"),
            html.paragraph(f"What `zoo bench-serve` measured against `zoo serve` (requests kept in "
                           f"flight, answers per second, round-trip latency), the table "
                           f"`zoo results {sweep.path} --serving` prints."),
            html.table(headers, rows, table_id="serving-table")]


def _best_blocks(sweep: sources.SweepData) -> list[str]:
    """The best cells with the settings that vary, when there are enough to rank."""
    from zoo.report.search import best_rows

    headers, rows, ranked = best_rows(sweep)
    if ranked < 3:  # with one or two cells the results table says it all
        return []
    return [html.heading("Best cells", anchor="best"),
            html.paragraph(f"The {len(rows)} best of {ranked} cells (and seeds) with a validation "
                           f"accuracy, by final validation accuracy as `zoo results --best` ranks "
                           f"them; a pruned cell takes part with the accuracy where it stopped "
                           f"(epochs trained says when)."),
            html.table(headers, rows, table_id="best-table")]


def sweep_page(sweep: sources.SweepData, plots: list[Plot], other: sources.SweepData | None = None,
               notes: list[str] = ()) -> str:
    from zoo.bench.best import MARK, marked
    from zoo.bench.tables import compare, pivot, summarize

    tally = Counter(sources.status_text(r["status"]) for r in sweep.rows)
    running = [r["slug"] for r in sweep.rows if sources.status_kind(r["status"]) == "running"]
    environment = sorted({f"{r.get('host')}, Paddle {r.get('paddle_version')}, zoo {r.get('zoo_version')}"
                          for r in sweep.rows if r.get("host")})
    blocks = [html.heading(f"Sweep report: {sweep.path.name}", 1),
              html.paragraph(f"{len(sweep.rows)} results (cells x seeds): "
                             + ", ".join(f"{n} {s}" for s, n in sorted(tally.items()))
                             + f". Generated {_generated()} from {sweep.path}"
                             + (f" on results from {'; '.join(environment)}" if environment else "") + ".",
                             "meta")]
    if running:
        blocks.append(html.paragraph(f"The sweep is still running: {len(running)} cell(s) in progress "
                                     f"({', '.join(running[:5])}{' ...' if len(running) > 5 else ''}); "
                                     f"this page shows the cells finished so far.", "note"))
    if sweep.left_out:
        blocks.append(html.paragraph(f"{sweep.left_out} stored results are not in the latest grid "
                                     f"(other settings or combinations) and are left out, as in "
                                     f"`zoo results`.", "note"))
    summaries = summarize(sweep.rows, sweep.axes)
    headers, rows = pivot(summaries, winner=marked(summaries), axes=sweep.axes)
    blocks += [html.heading("Results", anchor="results"),
               html.paragraph(f"The table `zoo results {sweep.path}` prints; click a column "
                              f"header to sort. {MARK} marks the highest validation accuracy, "
                              f"the combination `zoo export {sweep.path} --best` exports. With "
                              f"several seeds per combination: 95% intervals of the mean "
                              f"(bootstrap and Student's t, the wider), the interquartile "
                              f"mean from 5 seeds, the time-to-target median and hit rate, and '{MARK[:-1]}, not resolved)' when the "
                              f"seeds cannot tell the best from the runner-up."),
               html.table(headers, rows, table_id="results-table", wide=("reason",))]
    blocks += _best_blocks(sweep)
    if other is not None:
        headers, rows = compare(summarize(sweep.rows, sweep.axes), summarize(other.rows, sweep.axes),
                                sweep.axes)
        blocks += [html.heading(f"Compared with {other.path.name}", anchor="compare"),
                   html.paragraph(f"The table `zoo results {sweep.path} --compare {other.path}` prints."),
                   html.table(headers, rows, table_id="compare-table")]
    if sweep.inference:
        blocks += _serving_blocks(sweep)
    if sweep.serving:
        blocks += _http_blocks(sweep)
    blocks.append(html.heading("Figures", anchor="figures"))
    blocks += [html.figure(p) for p in plots]
    blocks += [html.paragraph(note, "note") for note in notes]
    if sweep.inference and not any(p.name == "acc-vs-latency" for p in plots):
        blocks.append(html.paragraph("No serving row finished ok, so there is no accuracy against "
                                     "latency figure; the serving table above says why.", "note"))
    if not any(p.name == "time-to-target" for p in plots):
        blocks.append(html.paragraph("No cell recorded a time to target accuracy (zoo bench "
                                     "--target-acc A records one).", "note"))
    problems = _problem_rows(sweep)
    blocks.append(html.heading("Cells that did not finish ok", anchor="problems"))
    blocks.append(html.table(["cell", "seed", "status", "epochs done", "reason"], problems,
                             table_id="problems-table", wide=("reason",))
                  if problems else html.paragraph("None: every finished cell is ok."))
    return html.page(f"zoo report: {sweep.path.name}", blocks)


def build_run(path: Path, catalog_factory: Callable | None = None, data_dir: str | None = None):
    from zoo.report.run_plots import run_plots

    require_matplotlib()
    run = sources.load_run(path)
    if catalog_factory is not None:
        sources.add_confusion(run, catalog_factory(), data_dir)
    plots = run_plots(run)
    return run_page(run, plots), plots


def build_sweep(path: Path, other_path: Path | None = None):
    from zoo.report.search_plots import search_plots
    from zoo.report.sweep_plots import sweep_plots

    require_matplotlib()
    sweep = sources.load_sweep(path)
    other = None
    if other_path is not None:
        try:
            other_kind = sources.kind_of(other_path)
        except ReportError as exc:
            raise ReportError(f"--compare: {exc}") from None
        if other_kind != "sweep":
            raise ReportError(f"--compare {other_path}: not a bench run directory (no results.db)")
        other = sources.load_sweep(other_path)
    plots = sweep_plots(sweep, other)
    searched, notes = search_plots(sweep)
    at = 1 if plots and plots[0].name == "val-acc-per-epoch" else 0  # beside the curves they sum up
    plots[at:at] = searched
    return sweep_page(sweep, plots, other, notes), plots


def write_atomic(path: Path, data: bytes) -> None:
    """``zoo.atomic``'s temporary file, then rename: a browser or a mail client never reads
    half a report, also while ``zoo bench --report`` rewrites it."""
    try:
        write_bytes_atomic(path, data)
    except OSError as exc:
        raise ReportError(f"cannot write {path}: {exc.strerror or one_line(exc)}") from None


def make_report(target: Path, *, out: Path | None = None, png_dir: Path | None = None,
                compare: Path | None = None, catalog_factory: Callable | None = None,
                data_dir: str | None = None) -> Written:
    kind = sources.kind_of(target)
    if kind == "run":
        if compare is not None:
            raise ReportError(f"--compare overlays two sweeps; {target} is a single run")
        page, plots = build_run(target, catalog_factory, data_dir)
    else:
        page, plots = build_sweep(target, compare)
    out = out or target / "report.html"
    if out.is_dir():
        raise ReportError(f"--out {out}: is a directory (give a file name, e.g. {out / 'report.html'})")
    if png_dir is not None and png_dir.exists() and not png_dir.is_dir():
        raise ReportError(f"--png {png_dir}: exists and is not a directory")
    data = page.encode("utf-8")
    written = Written(out, len(data), plots)
    pngs = [(png_dir / f"{p.name}.png", p.png) for p in plots] if png_dir is not None else []
    for path, png in pngs:
        write_atomic(path, png)
        written.pngs.append(path)
    write_atomic(out, data)
    return written
