"""zoo report: a real run and a real sweep (one cell diverged) drawn into HTML and PNGs,
checked against metrics.json, the store and ``zoo results``; bad inputs; zoo bench --report."""

from __future__ import annotations

import csv
import gzip
import io
import json
import struct
import subprocess
import sys

import pytest

from zoo.data.sample import MNIST_SAMPLE_DIR


pytestmark = pytest.mark.integration  # starts processes or trains with Paddle


@pytest.fixture(scope="module")
def kit_env(tmp_path_factory, faulty_kit):
    with pytest.MonkeyPatch.context() as monkeypatch:  # undone at once: only the env is kept
        return faulty_kit(tmp_path_factory.mktemp("kit"), monkeypatch).env()


@pytest.fixture(scope="module")
def run_case(tmp_path_factory, real_run):
    return real_run(tmp_path_factory)


@pytest.fixture(scope="module")
def sweep_case(tmp_path_factory, kit_env, real_sweep):
    return real_sweep(tmp_path_factory, kit_env)


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """Two made-up sweeps over the same 60 combinations (different numbers)."""
    from zoo.report.synthetic import write_synthetic_sweep

    base = tmp_path_factory.mktemp("synthetic")
    write_synthetic_sweep(base / "a", 60, seed=0)
    write_synthetic_sweep(base / "b", 60, seed=1)
    return base / "a", base / "b"


@pytest.fixture(scope="session")
def page_images(decode_image, embedded_png, page_parser):
    def _images(page) -> list:
        return [decode_image(embedded_png(img)) for img in page.images]

    return _images


def test_run_report_parses_and_every_figure_decodes(run_case, read_page, run_figures, page_images):
    assert run_case.report.returncode == 0, run_case.report.stderr[-3000:]
    assert f"wrote {run_case.html}" in run_case.report.stdout
    page = read_page(run_case.html)
    assert page.figures == run_figures
    images = page_images(page)
    assert len(images) == len(run_figures)
    for img, image in zip(page.images, images):
        assert (int(img["width"]), int(img["height"])) == image.size


def test_run_report_shows_the_runs_numbers(run_case, read_page):
    metrics = json.loads((run_case.run / "metrics.json").read_text())
    table = read_page(run_case.html).tables["epochs-table"]
    assert table["headers"][:6] == ["epoch", "step", "train loss", "train acc", "val loss", "val acc"]
    assert [row[:6] for row in table["rows"]] == [
        [str(e["epoch"]), str(e["step"])]
        + [f"{e[k]:.4f}" for k in ("train_loss", "train_acc", "val_loss", "val_acc")]
        for e in metrics["epochs"]]


def test_run_confusion_matrix_is_the_test_set_of_the_newest_checkpoint(run_case, read_page):
    metrics = json.loads((run_case.run / "metrics.json").read_text())
    with gzip.open(MNIST_SAMPLE_DIR / "t10k-labels-idx1-ubyte.gz") as labels:
        test_size = struct.unpack(">I", labels.read(8)[4:])[0]
    rows = read_page(run_case.html).tables["confusion-table"]["rows"]
    matrix = [[int(n) for n in row[1:]] for row in rows]
    assert len(matrix) == 10 and all(len(row) == 10 for row in matrix)
    assert sum(map(sum, matrix)) == test_size
    correct = sum(matrix[i][i] for i in range(10))
    assert correct / test_size == pytest.approx(metrics["test"]["acc"], abs=1e-12)


def test_run_png_files_are_the_pages_images(run_case, run_figures, embedded_png, read_page, decode_image):
    files = sorted(run_case.png.iterdir())
    assert [f.name for f in files] == sorted(f"{name[4:]}.png" for name in run_figures)
    embedded = {fig[4:]: embedded_png(img) for fig, img in zip(run_figures, read_page(run_case.html).images)}
    for path in files:
        decode_image(path.read_bytes())
        assert path.read_bytes() == embedded[path.stem]


def test_smoothing_follows_the_trend_without_the_noise():
    from zoo.report.run_plots import smooth, span_for

    noisy = [1.0 + (0.5 if i % 2 else -0.5) for i in range(60)]
    smoothed = smooth(noisy, span_for(len(noisy) * 10))
    assert smoothed[0] == noisy[0]  # bias-corrected: the first point is not pulled to 0
    assert max(smoothed[20:]) - min(smoothed[20:]) < 0.5 * (max(noisy) - min(noisy))
    assert sum(smoothed[20:]) / 40 == pytest.approx(1.0, abs=0.1)


def test_sweep_report_parses_and_every_figure_decodes(sweep_case, read_page, sweep_figures, page_images):
    page = read_page(sweep_case.html)
    assert page.figures == sweep_figures
    assert len(page_images(page)) == len(sweep_figures)


def test_sweep_table_equals_the_store_rows_and_zoo_results(sweep_case, kit_env, read_page, db_rows, zoo):
    page = read_page(sweep_case.html)
    table = page.tables["results-table"]
    assert table["headers"] == ["dataset", "model", "optimizer", "schedule", "regularizer", "launch",
                                "nprocs", "params", "cpu val acc", "cpu best val acc", "cpu test acc",
                                "cpu time s", "cpu img/s", "cpu to target s", "reason"]
    # test acc, time and (the sweep ran with --target-acc) time to target
    shown = {row[1]: [row[10], row[11], row[13]] for row in table["rows"]}
    stored = {row["model"]: row for row in db_rows(sweep_case.out)}
    assert set(shown) == set(stored) == {"bad_nan", "slow"}
    assert stored["bad_nan"]["status"] == "diverged" and shown["bad_nan"] == ["diverged"] * 3
    slow = stored["slow"]
    assert slow["status"] == "ok" and shown["slow"] == [
        f"{slow['test_acc']:.4f}", f"{slow['wall_time']:.1f}", f"{slow['time_to_target']:.1f}"]
    markdown = zoo("results", str(sweep_case.out), "--format", "markdown", env=kit_env).stdout
    printed = [[c.strip() for c in line.strip("|").split("|")] for line in markdown.splitlines()]
    assert [printed[0]] + printed[2:] == [table["headers"]] + table["rows"]


def test_sweep_lists_the_diverged_cell_with_its_reason(sweep_case, db_rows, read_page):
    diverged = next(r for r in db_rows(sweep_case.out) if r["status"] == "diverged")
    rows = read_page(sweep_case.html).tables["problems-table"]["rows"]
    assert rows == [[diverged["slug"], str(diverged["seed"]), "diverged", "0", diverged["reason"]]]
    assert "nan" in diverged["reason"]


def test_bench_report_is_rewritten_after_every_cell(sweep_case, page_parser, read_page):
    assert sweep_case.bench.returncode == 1, sweep_case.bench.stderr[-3000:]  # one cell diverged
    assert "not refreshed" not in sweep_case.bench.stderr
    # First written when the first cell ended, while the second had not finished.
    first = page_parser(sweep_case.first_refresh).tables["results-table"]["rows"]
    assert [row[1] for row in first] == ["bad_nan"] and first[0][10:12] == ["diverged", "diverged"]
    assert [(r["model"], r["status"]) for r in sweep_case.rows_at_first_refresh
            if r["status"] != "running"] == [("bad_nan", "diverged")]
    last = read_page(sweep_case.out / "report.html").tables["results-table"]["rows"]
    assert last == read_page(sweep_case.html).tables["results-table"]["rows"]
    assert [row[1] for row in last] == ["bad_nan", "slow"]


def test_report_while_the_sweep_runs_shows_the_cells_finished_so_far(sweep_case, page_parser):
    assert sweep_case.midway.returncode == 0, sweep_case.midway.stderr[-3000:]
    text = sweep_case.midway_html.read_text()
    rows = page_parser(text).tables["results-table"]["rows"]
    assert [(row[1], row[10]) for row in rows] == [("bad_nan", "diverged"), ("slow", "running")]
    assert "still running: 1 cell(s) in progress" in text


def test_png_option_writes_one_decodable_png_per_plot(sweep_case, sweep_figures, decode_image):
    assert sorted(p.name for p in sweep_case.png.iterdir()) == sorted(f"{f[4:]}.png" for f in sweep_figures)
    for path in sweep_case.png.iterdir():
        decode_image(path.read_bytes())


def test_pages_fetch_nothing(run_case, sweep_case, page_parser):
    for path in (run_case.html, sweep_case.html):
        text = path.read_text()
        links = page_parser(text).links
        assert links and all(link.startswith("data:image/png;base64,") for link in links), links[:3]
        for needle in ("http://", "https://", "<link", "@import", "url("):
            assert needle not in text, needle


def test_compare_overlays_two_sweeps_with_zoo_results_numbers(synthetic, tmp_path, zoo, read_page,
                                                              synthetic_figures, page_images):
    a, b = synthetic
    proc = zoo("report", str(a), "--compare", str(b), "--out", str(tmp_path / "c.html"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    page = read_page(tmp_path / "c.html")
    assert page.figures == synthetic_figures and len(page_images(page)) == len(synthetic_figures)
    results = zoo("results", str(a), "--compare", str(b), "--format", "csv")
    printed = list(csv.reader(io.StringIO(results.stdout)))
    table = page.tables["compare-table"]
    assert [table["headers"]] + table["rows"] == printed
    assert len(table["rows"]) == 60


def test_120_cells_render_with_legends_inside_the_figure_off_the_data(tmp_path, read_page, profiled_figures,
                                                                      page_images):
    from zoo.report import sweep_plots
    from zoo.report.build import make_report
    from zoo.report.sources import load_sweep
    from zoo.report.synthetic import write_synthetic_sweep

    write_synthetic_sweep(tmp_path / "s", 120)
    sweep = load_sweep(tmp_path / "s")
    for draw in (sweep_plots.val_acc_figure, sweep_plots.acc_time_figure, sweep_plots.scaling_figure):
        fig = draw(sweep)
        fig = fig[0] if isinstance(fig, tuple) else fig  # (figure, caption note)
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        assert fig.legends, draw.__name__
        for legend in fig.legends:
            box = legend.get_window_extent(renderer)
            assert box.x0 >= 0 and box.y0 >= 0 and box.x1 <= fig.bbox.x1 and box.y1 <= fig.bbox.y1, \
                (draw.__name__, box, fig.bbox)
            assert len(legend.get_texts()) <= 24
            for ax in fig.axes:
                assert not ax.get_visible() or not box.overlaps(ax.get_window_extent(renderer)), draw.__name__
    written = make_report(tmp_path / "s")
    page = read_page(written.html)
    assert len(page.tables["results-table"]["rows"]) == 120
    assert page.figures == profiled_figures and len(page_images(page)) == len(profiled_figures)


def _bad_input_cases(tmp_path, run_dir, sweep_dir):
    from zoo.bench.store import Store

    (tmp_path / "empty").mkdir()
    (tmp_path / "file.txt").write_text("x")
    Store(tmp_path / "no-rows" / "results.db").close()
    return [
        ([str(tmp_path / "missing")], "no such directory"),
        ([str(tmp_path / "empty")], "neither a run directory"),
        ([str(tmp_path / "file.txt")], "not a directory"),
        ([str(tmp_path / "no-rows")], "holds no results"),
        ([str(sweep_dir), "--out", str(tmp_path / "file.txt" / "r.html")], "cannot write"),
        ([str(sweep_dir), "--out", str(tmp_path / "empty")], "is a directory"),
        ([str(sweep_dir), "--png", str(tmp_path / "file.txt")], "--png"),
        ([str(run_dir), "--compare", str(sweep_dir)], "--compare overlays two sweeps"),
        ([str(sweep_dir), "--compare", str(tmp_path / "empty")], "--compare: "),
        ([str(sweep_dir), "--compare", str(run_dir)], "not a bench run directory"),
    ]


def test_bad_inputs_are_one_line_errors(tmp_path, run_case, synthetic, assert_one_line_error, run_zoo_each):
    cases = _bad_input_cases(tmp_path, run_case.run, synthetic[0])
    answers = run_zoo_each(*[["report", *args] for args, _ in cases])
    for (_, needle), answer in zip(cases, answers, strict=True):
        assert_one_line_error(answer, needle)
    assert not (tmp_path / "empty" / "report.html").exists()


def _without_matplotlib(*argv: str) -> subprocess.CompletedProcess:
    # A None entry in sys.modules makes `import matplotlib` fail as if it were not installed.
    code = ("import sys; sys.modules['matplotlib'] = None; from zoo.cli import main; "
            f"sys.exit(main({list(argv)!r}))")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_without_matplotlib_report_and_bench_report_say_how_to_install_it(synthetic, tmp_path,
                                                                          assert_one_line_error, tiny_mlp):
    assert_one_line_error(_without_matplotlib("report", str(synthetic[0])), "pip install 'zoo[report]'")
    out = tmp_path / "b"
    proc = _without_matplotlib("bench", "--out", str(out), "--models", "mlp", "--optimizers", "sgd",
                               "--epochs", "1", "--data-dir", str(MNIST_SAMPLE_DIR), "--report", *tiny_mlp)
    assert_one_line_error(proc, "pip install 'zoo[report]'")
    assert not (out / "cells").exists()  # refused before anything trained


def test_cli_imports_no_plotting_or_paddle_until_a_report_is_drawn():
    code = ("import sys; from zoo.cli import main; main(['list']); main(['report', '-h']); "
            "print('HEAVY', sorted(m for m in ('matplotlib', 'visualdl', 'paddle') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip().splitlines()[-1] == "HEAVY []", proc.stdout[-500:] + proc.stderr[-500:]


def test_bench_report_that_cannot_be_written_warns_once_and_the_sweep_goes_on(tmp_path, bench, tiny_mlp,
                                                                              db_rows):
    out = tmp_path / "b"
    (out / "report.html").mkdir(parents=True)  # nothing can be renamed onto a directory
    proc = bench(out, "--models", "mlp", "--optimizers", "sgd,momentum", "--report", *tiny_mlp)
    assert proc.returncode == 0, proc.stderr[-3000:]
    warnings = [line for line in proc.stderr.splitlines() if "not refreshed" in line]
    assert len(warnings) == 1 and warnings[0].startswith("zoo: warning:"), proc.stderr[-3000:]
    assert [r["status"] for r in db_rows(out)] == ["ok", "ok"]


def test_results_and_report_leave_no_sqlite_files_in_a_writable_sweep(tmp_path, zoo):
    # They only read, yet a read-only connection to a WAL database left results.db-wal
    # and results.db-shm behind in every sweep folder it looked at.
    from zoo.report.synthetic import write_synthetic_sweep

    sweep = tmp_path / "sweep"
    write_synthetic_sweep(sweep, 4, seed=0)
    before = sorted(p.name for p in sweep.iterdir())
    assert "results.db" in before and not any(n.endswith(("-wal", "-shm")) for n in before)
    for args in (["results", str(sweep)], ["results", str(sweep), "--format", "json"],
                 ["report", str(sweep), "--out", str(tmp_path / "r.html")]):
        proc = zoo(*args)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert sorted(p.name for p in sweep.iterdir()) == before, args
