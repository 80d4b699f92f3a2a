"""Helpers shared by the ``test_report*`` modules (this module holds no tests).

The run and the sweep are real: ``zoo train`` and ``zoo bench --report`` in fresh
processes on the 1000-image MNIST subset.  Both test modules use them; each is made once
per pytest session and found again on disk by the second module.
"""

from __future__ import annotations

import base64
import io
import json
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from tests.conftest import ROOT, SMALL_MNIST
from tests.test_bench_helpers import TINY, bench_cmd, db_rows, kill_tree, wait_for, zoo

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}
RUN_FIGURES = ["fig-loss", "fig-accuracy", "fig-lr", "fig-confusion"]
# The real sweep runs one process per cell: no scaling figure (it needs nprocs to vary).
SWEEP_FIGURES = ["fig-val-acc-per-epoch", "fig-acc-vs-time", "fig-time-to-target"]
# The made-up sweeps vary nprocs, so they have one; and many cells ended, with several
# settings varying: an optimization history and parameter importance.
SYNTHETIC_FIGURES = ["fig-val-acc-per-epoch", "fig-optimization-history", "fig-parameter-importance",
                     "fig-acc-vs-time", "fig-scaling", "fig-time-to-target"]
# Past 100 made-up cells a second model comes in: two workloads, so the varying kinds
# (optimizers, schedules...) get a performance profile over them.
PROFILED_FIGURES = SYNTHETIC_FIGURES + ["fig-performance-profile"]
# bad_nan diverges at its first step; slow sleeps 1 s per step (9 steps), long enough to
# look at the sweep while its second cell runs, also on a busy machine.
SWEEP_ARGS = ("--models", "bad_nan,slow", *TINY, "--set", "model.delay=1.0", "--target-acc", "0.05")


class Page(HTMLParser):
    """A strict reading of a report: unbalanced tags fail, and it collects the tables
    (by id), figures, images and every src/href."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.tables: dict[str, dict] = {}
        self.figures: list[str] = []
        self.images: list[dict] = []
        self.links: list[str] = []
        self.figure_data: dict[str, dict] = {}  # figure name -> what it shows (figure_data.py)
        self._table = self._row = self._cell = self._json = None
        self.feed(text)
        self.close()
        assert self.stack == [], f"unclosed tags: {self.stack}"

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag not in VOID:
            self.stack.append(tag)
        self.links += [v for k, v in attrs.items() if k in ("src", "href") and v is not None]
        if tag == "table":
            self._table = self.tables.setdefault(attrs.get("id", f"table{len(self.tables)}"),
                                                 {"headers": [], "rows": [], "numeric": []})
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
            if tag == "th":
                self._table["numeric"].append(attrs.get("data-type") == "number")
        elif tag == "figure":
            self.figures.append(attrs.get("id"))
        elif tag == "img":
            self.images.append(attrs)
        elif tag == "script" and attrs.get("type") == "application/json":
            self._json = (attrs["id"].removeprefix("data-"), [])

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1:]}>"
        self.stack.pop()
        if tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if self._table["headers"]:
                self._table["rows"].append(self._row)
            else:
                self._table["headers"] = self._row
            self._row = None
        elif tag == "table":
            self._table = None
        elif tag == "script" and self._json is not None:
            name, parts = self._json
            self.figure_data[name] = json.loads("".join(parts))
            self._json = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._json is not None:
            self._json[1].append(data)


def read_page(path: Path) -> Page:
    return Page(path.read_text(encoding="utf-8"))


def decode_image(data: bytes):
    """A decoded, fully loaded Pillow image; fails unless it shows more than one colour."""
    from PIL import Image

    image = Image.open(io.BytesIO(data))
    image.load()
    low, high = image.convert("L").getextrema()
    assert low < high, f"blank image: a single grey level {low}"
    return image


def embedded_png(img: dict) -> bytes:
    prefix = "data:image/png;base64,"
    assert img["src"].startswith(prefix), img["src"][:60]
    return base64.b64decode(img["src"][len(prefix):], validate=True)


@dataclass
class RunCase:
    run: Path
    html: Path
    png: Path
    report: subprocess.CompletedProcess


@dataclass
class SweepCase:
    out: Path
    html: Path
    png: Path
    bench: subprocess.CompletedProcess
    first_refresh: str  # DIR/report.html as first written, while the sweep still ran
    rows_at_first_refresh: list[dict]
    midway: subprocess.CompletedProcess  # `zoo report` run while the second cell trained
    midway_html: Path


def _memo(base: Path, make):
    """Make once per session: the second test module finds the first one's result."""
    done = base / "case.json"
    if not done.exists():
        shutil.rmtree(base, ignore_errors=True)  # what a failed first attempt left
        base.mkdir(parents=True)
        done.write_text(json.dumps(make(base)))
    return json.loads(done.read_text())


def _proc(data: dict) -> subprocess.CompletedProcess:
    return subprocess.CompletedProcess(data["args"], data["returncode"], data["stdout"], data["stderr"])


def _dump(proc: subprocess.CompletedProcess) -> dict:
    return {"args": [str(a) for a in proc.args], "returncode": proc.returncode,
            "stdout": proc.stdout, "stderr": proc.stderr}


def real_run(tmp_path_factory) -> RunCase:
    def make(base: Path) -> dict:
        # Batch 10: 84 steps, so the per-step curve is long enough to be smoothed; a
        # cosine schedule, so that the learning rate changes and has a plot.
        train = zoo("train", "--model", "mlp", "--optimizer", "sgd", "--schedule", "cosine", "--epochs", "1",
                    "--batch-size", "10", "--data-dir", str(SMALL_MNIST), *TINY,
                    "--out", str(base / "run"), "--quiet")
        assert train.returncode == 0, train.stderr[-3000:]
        report = zoo("report", str(base / "run"), "--png", str(base / "png"))
        return _dump(report)

    base = tmp_path_factory.getbasetemp() / "report-run"
    report = _proc(_memo(base, make))
    return RunCase(base / "run", base / "run" / "report.html", base / "png", report)


def _store_rows(out: Path) -> list[dict]:
    try:
        return db_rows(out)
    except sqlite3.OperationalError:  # not created yet
        return []


def real_sweep(tmp_path_factory, env: dict) -> SweepCase:
    def make(base: Path) -> dict:
        out = base / "sweep"
        proc = subprocess.Popen(bench_cmd(out, *SWEEP_ARGS, "--report"), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
                                start_new_session=True)
        try:
            page = out / "report.html"
            wait_for(page.exists, 120, "the first report.html", proc)
            first, rows = page.read_text(), _store_rows(out)
            assert proc.poll() is None, "the sweep ended before its report could be looked at mid-way"
            wait_for(lambda: any(r["model"] == "slow" and r["status"] == "running"
                                 for r in _store_rows(out)), 60, "the slow cell to start", proc)
            midway = zoo("report", str(out), "--out", str(base / "midway.html"), env=env)
            stdout, stderr = proc.communicate(timeout=300)
        finally:
            kill_tree(proc)
        bench = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
        report = zoo("report", str(out), "--out", str(base / "report.html"), "--png", str(base / "png"),
                     env=env)
        assert report.returncode == 0, report.stderr[-3000:]
        return {"bench": _dump(bench), "first": first, "rows": rows, "midway": _dump(midway)}

    base = tmp_path_factory.getbasetemp() / "report-sweep"
    data = _memo(base, make)
    return SweepCase(base / "sweep", base / "report.html", base / "png", _proc(data["bench"]),
                     data["first"], data["rows"], _proc(data["midway"]), base / "midway.html")


# What the figure data (zoo/report/figure_data.py) says, for the figure tests.


def lines_named(panel: dict, prefix: str) -> list[dict]:
    return [line for line in panel["lines"] if (line["gid"] or "").startswith(prefix)]


def gid_fields(gid: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in gid.split()[1:] if "=" in part)


def small_sweep(out: Path) -> tuple[Path, dict]:
    """2 models x 2 optimizers x 2 seeds, every cell ok, two backends served per cell (one
    row failed); drawn by `zoo report`.  Returns the folder and its figure data."""
    from zoo.report.synthetic import write_synthetic_sweep

    write_synthetic_sweep(out, 4, repeats=2, statuses=["ok"],
                          axes={"models": ["mlp", "cnn"], "optimizers": ["sgd", "adam"],
                                "schedules": ["constant"], "regularizers": ["none"],
                                "launches": [("single", 1)]})
    _measure_serving(out)
    proc = zoo("report", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, read_page(out / "report.html").figure_data


def _measure_serving(out: Path) -> None:
    """Inference rows through the store's API, as `zoo bench-infer` writes them: two
    backends per cell, one row failed."""
    from zoo.bench import infer_store
    from zoo.bench.store import Store

    store = Store(out / "results.db")
    try:
        infer_store.ensure_table(store)
        for i, row in enumerate(db_rows(out)):
            for j, backend in enumerate(("dygraph", "onnxruntime")):
                failed = i == 0 and j == 1
                infer_store.record(store, row["cell"], row["seed"], backend, "cpu", slug=row["slug"],
                                   status="failed" if failed else "ok",
                                   reason="disagrees" if failed else "",
                                   p50_ms=None if failed else 1.0 + i + 0.5 * j,
                                   p99_ms=None if failed else 2.0 + i + 0.5 * j)
    finally:
        store.close()
