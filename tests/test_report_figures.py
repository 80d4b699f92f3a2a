"""What the report's figures show, read from the data each page records beside its PNGs
(zoo/report/figure_data.py reads the matplotlib objects before they are rendered) and
checked against numbers derived here, independently, from the store and metrics.json:
panels per model, a line per cell and seed with its points, colours and markers per the
README's scheme, axis labels and units, chance level and the legend collapse rule."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

from tests.report_helpers import read_page, real_run
from tests.test_bench_helpers import db_rows, zoo
from zoo.report.scheme import MARKERS, PALETTE

SWEPT = ["dataset", "model", "optimizer", "schedule", "regularizer", "launch"]


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """2 models x 2 optimizers x 2 seeds, every cell ok; drawn by `zoo report`."""
    from zoo.report.synthetic import write_synthetic_sweep

    out = tmp_path_factory.mktemp("figures") / "small"
    write_synthetic_sweep(out, 4, repeats=2, statuses=["ok"],
                          axes={"models": ["mlp", "cnn"], "optimizers": ["sgd", "adam"],
                                "schedules": ["constant"], "regularizers": ["none"],
                                "launches": [("single", 1)]})
    _measure_serving(out)
    proc = zoo("report", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, read_page(out / "report.html").figure_data


@pytest.fixture(scope="module")
def large(tmp_path_factory):
    """120 made-up cells (mlp and cnn, every status): the legend must collapse."""
    from zoo.report.synthetic import write_synthetic_sweep

    out = tmp_path_factory.mktemp("figures") / "large"
    write_synthetic_sweep(out, 120)
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


def _lines(panel: dict, prefix: str) -> list[dict]:
    return [line for line in panel["lines"] if (line["gid"] or "").startswith(prefix)]


def _gid_fields(gid: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in gid.split()[1:] if "=" in part)


def _val_epochs(out: Path, row: dict) -> list[dict]:
    metrics = json.loads((out / "cells" / row["slug"] / "metrics.json").read_text())
    return [e for e in metrics["epochs"] if e.get("val_acc") is not None]


def _assert_val_lines_are_the_cells(out: Path, data: dict) -> list[tuple[dict, dict]]:
    """One panel per model, sorted; in each, exactly one line per stored cell and seed
    of that model, whose points are its metrics.json's epochs.  Returns (row, line)."""
    rows = [r for r in db_rows(out) if _val_epochs(out, r)]
    models = sorted({r["model"] for r in rows})
    panels = data["panels"]
    assert [p["title"] for p in panels] == [f"{m}: validation accuracy per epoch" for m in models]
    pairs = []
    for panel, model in zip(panels, models):
        assert (panel["xlabel"], panel["ylabel"]) == ("epoch", "validation accuracy (fraction)")
        assert panel["xticks"] and all(t == int(t) for t in panel["xticks"])
        lines = {line["gid"]: line for line in _lines(panel, "cell=")}
        mine = [r for r in rows if r["model"] == model]
        assert sorted(lines) == sorted(f"cell={r['slug']} seed={r['seed']}" for r in mine)
        for row in mine:
            line = lines[f"cell={row['slug']} seed={row['seed']}"]
            epochs = _val_epochs(out, row)
            assert line["x"] == [e["epoch"] for e in epochs]
            assert line["y"] == pytest.approx([e["val_acc"] for e in epochs], abs=1e-12)
            pairs.append((row, line))
        # Chance level from the classes the store recorded for the cells' data.
        chance = [line for line in panel["lines"] if (line["gid"] or "").startswith("chance")]
        assert [c["y"][0] for c in chance] == [pytest.approx(1 / mine[0]["num_classes"])]
    return pairs


def test_val_acc_has_a_panel_per_model_and_a_line_per_cell_and_seed(small):
    out, data = small
    pairs = _assert_val_lines_are_the_cells(out, data["val-acc-per-epoch"])
    assert len(pairs) == 8  # 2 models x 2 optimizers x 2 seeds


def test_val_acc_colour_is_the_combination_and_dashes_the_seed(small):
    out, data = small
    pairs = _assert_val_lines_are_the_cells(out, data["val-acc-per-epoch"])
    # Within a panel the optimizer and the seed vary: a colour per optimizer, in natural
    # order from the palette's start, and a dash pattern per seed, as the legend says.
    optimizers = sorted({r["optimizer"] for r, _ in pairs})
    legend = data["val-acc-per-epoch"]["legends"][0]
    entries = {e["text"]: e for e in legend["entries"]}
    assert legend["title"] == "colour: optimizer; dashes: seed"
    assert [e["text"] for e in legend["entries"][:4]] == optimizers + ["seed 0", "seed 1"]
    assert [entries[o]["colour"] for o in optimizers] == [c.lower() for c in PALETTE[:2]]
    assert entries["seed 0"]["linestyle"] != entries["seed 1"]["linestyle"]
    for row, line in pairs:
        assert line["colour"] == entries[row["optimizer"]]["colour"]
        assert line["linestyle"] == entries[f"seed {row['seed']}"]["linestyle"]


def test_past_ten_lines_the_legend_collapses_to_the_first_varying_axis(large):
    out, data = large
    figure = data["val-acc-per-epoch"]
    pairs = _assert_val_lines_are_the_cells(out, figure)
    legend = figure["legends"][0]
    # The README: past 10 distinct lines, one colour per value of the first axis that
    # varies (here the optimizer), in natural order.
    optimizers = sorted({r["optimizer"] for r, _ in pairs})
    assert legend["title"] == "colour: optimizer"
    assert [e["text"] for e in legend["entries"][:len(optimizers)]] == optimizers
    colour = {e["text"]: e["colour"] for e in legend["entries"]}
    assert all(line["colour"] == colour[row["optimizer"]] for row, line in pairs)
    # Cells that ended badly end in a black cross at their last epoch.
    crosses = {g: line for panel in figure["panels"] for g, line in
               ((line["gid"], line) for line in _lines(panel, "ended "))}
    bad = [r for r, _ in pairs if r["status"] in ("diverged", "failed", "timeout")]
    assert bad and len(crosses) == len(bad)
    for row, line in pairs:
        if row in bad:
            cross = crosses[f"ended {row['status']} cell={row['slug']} seed={row['seed']}"]
            assert (cross["x"], cross["y"], cross["marker"]) == ([line["x"][-1]], [line["y"][-1]], "x")


def _summaries(out: Path) -> dict[tuple, dict]:
    """Mean test accuracy and wall time over each combination's ok seeds, from the store."""
    groups: dict[tuple, list[dict]] = {}
    for row in db_rows(out):
        if row["status"] == "ok":
            groups.setdefault(tuple(str(row[a]) for a in SWEPT + ["nprocs", "device"]), []).append(row)
    return {key: {"x": statistics.fmean(r["wall_time"] for r in rows),
                  "y": statistics.fmean(r["test_acc"] for r in rows), "row": rows[0]}
            for key, rows in groups.items()}


def _points(panel: dict) -> dict[tuple, dict]:
    found = {}
    for line in _lines(panel, "point "):
        fields = _gid_fields(line["gid"])
        found[tuple(fields[a] for a in SWEPT + ["nprocs", "device"])] = line
    return found


def _front(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Points no other beats on both time (lower) and accuracy (higher), by definition."""
    return sorted(p for p in points if not any(q != p and q[0] <= p[0] and q[1] >= p[1] for q in points))


def _assert_identified(points: dict[tuple, dict], rows: dict[tuple, dict], legends: list[dict],
                       colour_axis: str, marker_axis: str) -> None:
    """Colour per value of colour_axis, marker per value of marker_axis, both as the
    legends say; every point is told apart from every other."""
    colours = {e["text"]: e["colour"] for e in legends[0]["entries"]}
    values = {str(r[marker_axis]) for r in rows.values()}
    markers = {e["text"]: e["marker"] for e in legends[1]["entries"] if e["text"] in values}
    assert sorted(markers) == sorted(values)
    assert legends[0]["title"] == f"colour: {colour_axis}"
    assert legends[1]["title"] == f"marker: {marker_axis}"
    assert sorted(colours) == sorted({str(r[colour_axis]) for r in rows.values()})
    for key, line in points.items():
        row = rows[key]
        assert line["colour"] == colours[str(row[colour_axis])]
        assert line["marker"] == markers[str(row[marker_axis])]
    assert len({(line["colour"], line["marker"]) for line in points.values()}) == len(points)
    assert set(colours.values()) <= {c.lower() for c in PALETTE} and set(markers.values()) <= set(MARKERS)


def test_acc_vs_time_identifies_every_combination_by_model_and_optimizer(small):
    out, data = small
    panel, = data["acc-vs-time"]["panels"]
    assert (panel["xlabel"], panel["ylabel"]) == ("wall time per cell (s)", "test accuracy (fraction)")
    expected = _summaries(out)
    points = _points(panel)
    assert sorted(points) == sorted(expected) and len(points) == 4
    for key, line in points.items():
        assert (line["x"][0], line["y"][0]) == pytest.approx((expected[key]["x"], expected[key]["y"]))
    _assert_identified(points, {k: v["row"] for k, v in expected.items()}, data["acc-vs-time"]["legends"],
                       "model", "optimizer")
    pareto, = _lines(panel, "pareto")
    front = _front([(v["x"], v["y"]) for v in expected.values()])
    # A staircase through the front, carried on to the slowest point.
    assert pareto["x"][:-1] == pytest.approx([x for x, _ in front])
    assert pareto["y"][:-1] == pytest.approx([y for _, y in front])
    assert pareto["x"][-1] == pytest.approx(max(v["x"] for v in expected.values()))


def test_acc_vs_latency_has_a_point_per_measured_row(small):
    out, data = small
    figure = data["acc-vs-latency"]
    panel, = figure["panels"]
    assert (panel["xlabel"], panel["ylabel"]) == ("latency at batch 1 (ms, p50 to p99)",
                                                  "test accuracy (fraction)")
    trained = {(r["cell"], r["seed"]): r for r in db_rows(out)}
    measured = [r for r in db_rows(out, "inference") if r["status"] == "ok"]
    points = _lines(panel, "point ")
    assert len(points) == len(measured) == 15  # 8 cells x 2 backends, one row failed
    by_key = {(f["model"], f["optimizer"], f["seed"], f["backend"]): line
              for line in points for f in [_gid_fields(line["gid"])]}
    whiskers = {line["gid"]: line for line in _lines(panel, "whisker ")}
    for row in measured:
        cell = trained[(row["cell"], row["seed"])]
        line = by_key[(cell["model"], cell["optimizer"], str(row["seed"]), row["backend"])]
        assert (line["x"], line["y"]) == ([row["p50_ms"]], [pytest.approx(cell["test_acc"])])
        whisker = whiskers["whisker " + line["gid"][len("point "):]]
        assert whisker["x"] == [row["p50_ms"], row["p99_ms"]]
    # The same colour per model as in acc-vs-time.
    time_colours = {e["text"]: e["colour"] for e in data["acc-vs-time"]["legends"][0]["entries"]}
    assert figure["legends"][0]["title"] == "colour: model"
    assert {e["text"]: e["colour"] for e in figure["legends"][0]["entries"]} == time_colours


def test_scaling_is_drawn_only_when_nprocs_varies(small, large):
    assert "scaling" not in small[1]  # every cell ran one process
    panels = large[1]["scaling"]["panels"]
    assert panels and all(p["xlabel"] == "processes per cell (nprocs)"
                          and p["ylabel"] == "training throughput (images/s)" for p in panels)
    nprocs = sorted({r["nprocs"] for r in db_rows(large[0]) if r["status"] == "ok"})
    assert panels[0]["xticks"] == nprocs and all(_lines(p, "median ") for p in panels)


def test_time_to_target_bars_are_the_stored_times(small):
    out, data = small
    panel, = data["time-to-target"]["panels"]
    reached: dict[tuple, list[float]] = {}
    for r in db_rows(out):
        if r["status"] == "ok" and r["time_to_target"] is not None:
            key = tuple(str(r[a]) for a in SWEPT + ["nprocs", "device"])
            reached.setdefault(key, []).append(r["time_to_target"])
    expected = {key: statistics.fmean(times) for key, times in reached.items()}
    assert len(expected) == 4
    bars = {tuple(_gid_fields(b["gid"])[a] for a in SWEPT + ["nprocs", "device"]): b["width"]
            for b in panel["bars"]}
    assert bars == pytest.approx(expected)
    assert panel["xlabel"] == "time until validation accuracy first reached the target (s)"
    # Named by what varies, fastest on top.
    labels = panel["yticklabels"]
    assert sorted(labels) == sorted(f"{m}/{o}" for m in ("mlp", "cnn") for o in ("sgd", "adam"))
    assert list(bars.values()) == sorted(bars.values())
    # Coloured by model as acc-vs-time is, as its legend says.
    legend, = data["time-to-target"]["legends"]
    colours = {e["text"]: e["colour"] for e in legend["entries"]}
    assert legend["title"] == "colour: model" and colours == {
        e["text"]: e["colour"] for e in data["acc-vs-time"]["legends"][0]["entries"]}
    for bar in panel["bars"]:
        assert bar["colour"] == colours[_gid_fields(bar["gid"])["model"]]


def test_run_figures_draw_the_runs_steps_epochs_chance_and_schedule(tmp_path_factory):
    case = real_run(tmp_path_factory)
    data = read_page(case.html).figure_data
    metrics = json.loads((case.run / "metrics.json").read_text())
    assert sorted(data) == ["accuracy", "confusion", "loss", "lr"]
    for name, key in (("loss", "loss"), ("accuracy", "acc")):
        panel, = data[name]["panels"]
        assert panel["xlabel"] == "optimizer step"
        raw, = _lines(panel, "train per step")
        smoothed, = _lines(panel, "train smoothed")  # the caption promises it
        assert raw["n"] == smoothed["n"] == metrics["epochs"][-1]["step"]
        for which in ("train", "val"):
            line, = _lines(panel, f"{which}_{key}")
            assert line["x"] == [e["step"] for e in metrics["epochs"]]
            assert line["y"] == pytest.approx([e[f"{which}_{key}"] for e in metrics["epochs"]])
    chance, = _lines(data["accuracy"]["panels"][0], "chance")
    assert chance["y"][0] == pytest.approx(1 / 10)  # the test set's classes
    lr, = _lines(data["lr"]["panels"][0], "lr")
    assert len(set(lr["y"])) > 10 and lr["y"][0] > lr["y"][-1]  # cosine decays
    confusion, = data["confusion"]["panels"]
    assert confusion["images"] == [[10, 10]] and data["confusion"]["colourbars"] == ["images"]


def test_a_constant_learning_rate_gets_a_sentence_not_a_plot(tmp_path):
    from zoo.report.run_plots import lr_note, lr_plot
    from zoo.report.sources import RunData

    run = RunData(tmp_path, {}, {}, {"train/lr": ([1, 2, 3], [0.01, 0.01, 0.01])})
    assert lr_plot(run) is None
    assert lr_note(run) == "The learning rate was constant at 0.01 over all 3 logged steps (no plot)."
    run.scalars["train/lr"] = ([1, 2, 3], [0.01, 0.01, 0.001])
    assert lr_plot(run) is not None and lr_note(run) == ""


def test_several_datasets_get_panels_of_their_own_with_their_own_chance(tmp_path):
    from zoo.report.synthetic import write_synthetic_sweep

    out = tmp_path / "two-datasets"
    write_synthetic_sweep(out, 4, statuses=["ok"],
                          axes={"datasets": [("mnist", 10), ("shapes", 4)], "models": ["mlp", "cnn"],
                                "optimizers": ["sgd"], "schedules": ["constant"],
                                "regularizers": ["none"], "launches": [("single", 1)]})
    assert zoo("report", str(out)).returncode == 0
    panels = read_page(out / "report.html").figure_data["val-acc-per-epoch"]["panels"]
    assert [p["title"] for p in panels] == [f"{m} on {d}: validation accuracy per epoch"
                                            for d, m in (("mnist", "cnn"), ("mnist", "mlp"),
                                                         ("shapes", "cnn"), ("shapes", "mlp"))]
    for panel, classes in zip(panels, (10, 10, 4, 4)):
        chance, = [line for line in panel["lines"] if (line["gid"] or "").startswith("chance")]
        assert chance["gid"] == f"chance classes={classes}" and chance["y"][0] == pytest.approx(1 / classes)
    # A dataset's panels share their y-axis.
    assert panels[0]["ylim"] == panels[1]["ylim"] and panels[2]["ylim"] == panels[3]["ylim"]


def test_markup_in_names_stays_text_in_the_figure_data(tmp_path):
    from zoo.report.synthetic import write_synthetic_sweep

    out = tmp_path / "markup"
    name = "</script><img src=x onerror=alert(1)>&amp;"
    write_synthetic_sweep(out, 2, statuses=["ok"],
                          axes={"models": [name, "mlp"], "optimizers": ["sgd"], "schedules": ["constant"],
                                "regularizers": ["none"], "launches": [("single", 1)]})
    assert zoo("report", str(out)).returncode == 0
    text = (out / "report.html").read_text()
    assert "<img src=x" not in text and "</script><img" not in text
    data = read_page(out / "report.html").figure_data  # a strict parse: no tag was injected
    assert f"{name}: validation accuracy per epoch" in [p["title"] for p in data["val-acc-per-epoch"]["panels"]]
    assert name in [e["text"] for e in data["acc-vs-time"]["legends"][0]["entries"]]


def test_encoding_takes_colour_marker_and_text_from_the_varying_axes_in_kind_order():
    from zoo.report.scheme import SWEEP_AXES, encode

    base = {"dataset": "mnist", "schedule": "constant", "regularizer": "none", "launch": "single",
            "nprocs": 1, "device": "cpu", "threads": 1}
    points = [{**base, "model": m, "optimizer": o, "nprocs": n}
              for m, o, n in [("mlp", "sgd", 1), ("cnn", "adam", 2), ("mlp", "adam", 1)]]
    enc = encode(points, SWEEP_AXES, every_row=[{**base, "model": "alexnet", "optimizer": "sgd"}])
    assert (enc.colour_axis, enc.marker_axis, enc.label_axes) == ("model", "optimizer", ["nprocs"])
    # Value order over the whole sweep, so alexnet (not drawn here) keeps the first colour.
    assert enc.colour_values == ["alexnet", "cnn", "mlp"]
    assert [enc.colour(p) for p in points] == [PALETTE[2], PALETTE[1], PALETTE[2]]
    assert [enc.marker(p) for p in points] == [MARKERS[1], MARKERS[0], MARKERS[0]]
    assert [enc.label(p) for p in points] == ["nprocs 1", "nprocs 2", "nprocs 1"]
    assert enc.identity(points[1]) == "cnn/adam/nprocs 2"
    one = encode(points[:1], SWEEP_AXES)
    assert (one.colour_axis, one.marker_axis, one.label_axes) == (None, None, [])


def test_pareto_front_keeps_the_points_nothing_beats_on_both_measures():
    from zoo.report.scheme import pareto_front

    points = [(10, 0.9), (5, 0.8), (20, 0.95), (12, 0.85), (5, 0.7), (30, 0.95)]
    assert pareto_front(points) == [1, 0, 2]
    assert pareto_front([(1, 0.5)]) == [0]


def test_accuracy_axes_reach_chance_only_when_the_data_comes_near_it():
    from zoo.report.points import accuracy_limits

    (low, high), shown = accuracy_limits([0.12, 0.27, 0.9], [0.1])  # a model at chance
    assert shown and low < 0.1 and high > 0.9
    (low, high), shown = accuracy_limits([0.70, 0.78], [0.1])  # everything learned
    assert not shown and 0.6 < low < 0.7 and 0.78 < high < 0.85
    (low, high), shown = accuracy_limits([0.09, 0.11], [0.1])  # everything at chance
    assert shown and low < 0.09 and 0.11 < high < 0.2


def test_serving_rows_that_all_failed_give_their_reasons_and_no_latency_figure(tmp_path):
    from zoo.bench import infer_store
    from zoo.bench.store import Store
    from zoo.report.synthetic import write_synthetic_sweep

    out = tmp_path / "served"
    write_synthetic_sweep(out, 2, statuses=["ok"])
    reason = "the onnx export disagrees with the trained model on 256 test images: max |diff| 9.44"
    store = Store(out / "results.db")
    try:
        infer_store.ensure_table(store)
        for row in db_rows(out):
            infer_store.record(store, row["cell"], row["seed"], "onnxruntime", "cpu", slug=row["slug"],
                               status="failed", reason=reason)
    finally:
        store.close()
    assert zoo("report", str(out)).returncode == 0
    page = read_page(out / "report.html")
    assert "acc-vs-latency" not in page.figure_data
    assert [r[-1] for r in page.tables["inference-problems-table"]["rows"]] == [reason, reason]
    assert [r[-1] for r in page.tables["inference-table"]["rows"]] == ["failed", "failed"]
    assert "No serving row finished ok" in (out / "report.html").read_text()
