"""What the report's figures show, read from the data each page records beside its PNGs
(zoo/report/figure_data.py reads it from the matplotlib objects, not the PNG) and
checked against numbers derived here, independently, from the store and metrics.json:
panels per model, a line per cell and seed with its points, colours and markers per the
README's scheme, axis labels and units, chance level and the legend collapse rule."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

from zoo.report.scheme import MARKERS, PALETTE

SWEPT = ["dataset", "model", "optimizer", "schedule", "regularizer", "launch"]


@pytest.fixture(scope="module")
def small(tmp_path_factory, small_sweep):
    return small_sweep(tmp_path_factory.mktemp("figures") / "small")


@pytest.fixture(scope="module")
def large(tmp_path_factory, zoo, read_page):
    """120 made-up cells (mlp and cnn, every status): the legend must collapse."""
    from zoo.report.synthetic import write_synthetic_sweep

    out = tmp_path_factory.mktemp("figures") / "large"
    write_synthetic_sweep(out, 120)
    proc = zoo("report", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, read_page(out / "report.html").figure_data


def _val_epochs(out: Path, row: dict) -> list[dict]:
    metrics = json.loads((out / "cells" / row["slug"] / "metrics.json").read_text())
    return [e for e in metrics["epochs"] if e.get("val_acc") is not None]


@pytest.fixture(scope="session")
def assert_val_lines_are_the_cells(db_rows, lines_named):
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
            lines = {line["gid"]: line for line in lines_named(panel, "cell=")}
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

    return _assert_val_lines_are_the_cells


@pytest.mark.integration
def test_val_acc_has_a_panel_per_model_and_a_line_per_cell_and_seed(small, assert_val_lines_are_the_cells):
    out, data = small
    pairs = assert_val_lines_are_the_cells(out, data["val-acc-per-epoch"])
    assert len(pairs) == 8  # 2 models x 2 optimizers x 2 seeds


@pytest.mark.integration
def test_val_acc_colour_is_the_combination_and_dashes_the_seed(small, assert_val_lines_are_the_cells):
    out, data = small
    pairs = assert_val_lines_are_the_cells(out, data["val-acc-per-epoch"])
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


@pytest.mark.integration
def test_past_ten_lines_the_legend_collapses_to_the_first_varying_axis(large, lines_named,
                                                                       assert_val_lines_are_the_cells):
    out, data = large
    figure = data["val-acc-per-epoch"]
    pairs = assert_val_lines_are_the_cells(out, figure)
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
               ((line["gid"], line) for line in lines_named(panel, "ended "))}
    bad = [r for r, _ in pairs if r["status"] in ("diverged", "failed", "timeout")]
    assert bad and len(crosses) == len(bad)
    for row, line in pairs:
        if row in bad:
            cross = crosses[f"ended {row['status']} cell={row['slug']} seed={row['seed']}"]
            assert (cross["x"], cross["y"], cross["marker"]) == ([line["x"][-1]], [line["y"][-1]], "x")


@pytest.fixture(scope="session")
def sweep_summaries(db_rows):
    def _summaries(out: Path) -> dict[tuple, dict]:
        """Mean test accuracy and wall time over each combination's ok seeds, from the store."""
        groups: dict[tuple, list[dict]] = {}
        for row in db_rows(out):
            if row["status"] == "ok":
                groups.setdefault(tuple(str(row[a]) for a in SWEPT + ["nprocs", "device"]), []).append(row)
        return {key: {"x": statistics.fmean(r["wall_time"] for r in rows),
                      "y": statistics.fmean(r["test_acc"] for r in rows), "row": rows[0]}
                for key, rows in groups.items()}

    return _summaries


@pytest.fixture(scope="session")
def figure_points(lines_named, gid_fields):
    def _points(panel: dict) -> dict[tuple, dict]:
        found = {}
        for line in lines_named(panel, "point "):
            fields = gid_fields(line["gid"])
            found[tuple(fields[a] for a in SWEPT + ["nprocs", "device"])] = line
        return found

    return _points


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


@pytest.mark.integration
def test_acc_vs_time_identifies_every_combination_by_model_and_optimizer(small, lines_named, sweep_summaries,
                                                                         figure_points):
    out, data = small
    panel, = data["acc-vs-time"]["panels"]
    assert (panel["xlabel"], panel["ylabel"]) == ("wall time per cell (s)", "test accuracy (fraction)")
    expected = sweep_summaries(out)
    points = figure_points(panel)
    assert sorted(points) == sorted(expected) and len(points) == 4
    for key, line in points.items():
        assert (line["x"][0], line["y"][0]) == pytest.approx((expected[key]["x"], expected[key]["y"]))
    _assert_identified(points, {k: v["row"] for k, v in expected.items()}, data["acc-vs-time"]["legends"],
                       "model", "optimizer")
    pareto, = lines_named(panel, "pareto")
    front = _front([(v["x"], v["y"]) for v in expected.values()])
    # A staircase through the front, carried on to the slowest point.
    assert pareto["x"][:-1] == pytest.approx([x for x, _ in front])
    assert pareto["y"][:-1] == pytest.approx([y for _, y in front])
    assert pareto["x"][-1] == pytest.approx(max(v["x"] for v in expected.values()))


@pytest.mark.integration
def test_scaling_is_drawn_only_when_nprocs_varies(small, large, db_rows, lines_named):
    assert "scaling" not in small[1]  # every cell ran one process
    panels = large[1]["scaling"]["panels"]
    assert panels and all(p["xlabel"] == "processes per cell (nprocs)"
                          and p["ylabel"] == "training throughput (images/s)" for p in panels)
    nprocs = sorted({r["nprocs"] for r in db_rows(large[0]) if r["status"] == "ok"})
    assert panels[0]["xticks"] == nprocs and all(lines_named(p, "median ") for p in panels)


@pytest.mark.integration
def test_time_to_target_bars_are_the_stored_times(small, db_rows, gid_fields):
    out, data = small
    panel, = data["time-to-target"]["panels"]
    reached: dict[tuple, list[float]] = {}
    for r in db_rows(out):
        if r["status"] == "ok" and r["time_to_target"] is not None:
            key = tuple(str(r[a]) for a in SWEPT + ["nprocs", "device"])
            reached.setdefault(key, []).append(r["time_to_target"])
    expected = {key: statistics.fmean(times) for key, times in reached.items()}
    assert len(expected) == 4
    bars = {tuple(gid_fields(b["gid"])[a] for a in SWEPT + ["nprocs", "device"]): b["width"]
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
        assert bar["colour"] == colours[gid_fields(bar["gid"])["model"]]


@pytest.mark.integration
def test_several_datasets_get_panels_of_their_own_with_their_own_chance(tmp_path, zoo, read_page):
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


@pytest.mark.integration
def test_markup_in_names_stays_text_in_the_figure_data(tmp_path, zoo, read_page):
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


@pytest.mark.parametrize("epochs", [1, 2, 7])
def test_epoch_ticks_are_whole_numbers_even_for_one_epoch(tmp_path, epochs):
    # One epoch used to be labelled 0.95, 0.975, 1.0, 1.025...: matplotlib's integer
    # locator gives up on a range under one unit.
    pytest.importorskip("matplotlib")
    from zoo.report.sources import load_sweep
    from zoo.report.synthetic import write_synthetic_sweep
    from zoo.report.val_curves import val_acc_figure

    out = tmp_path / "s"
    write_synthetic_sweep(out, 2, epochs=epochs, statuses=["ok"])
    fig = val_acc_figure(load_sweep(out))
    fig.canvas.draw()
    for ax in fig.axes:
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks
        assert 1 <= min(ticks) and max(ticks) <= epochs


@pytest.mark.parametrize("epochs, ticks", [([1, 2], [1, 2]), ([1], [1]), ([3], [3]), ([1, 2, 3, 4], [1, 2, 3, 4])])
def test_an_epoch_axis_shows_every_epoch_drawn_and_ticks_only_whole_ones(epochs, ticks):
    # Two epochs make an axis of 0.95..2.05: taking it for a single epoch centred it on 2
    # and cut epoch 1 off the page.
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from zoo.report import style

    fig, ax = plt.subplots()
    try:
        ax.plot(epochs, [0.5] * len(epochs), marker="o")
        style.integer_x_ticks(ax)
        low, high = ax.get_xlim()
        assert low < min(epochs) and max(epochs) < high
        assert [t for t in ax.get_xticks() if low <= t <= high] == ticks
    finally:
        plt.close(fig)
