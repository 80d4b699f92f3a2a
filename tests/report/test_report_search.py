"""What `zoo report` shows of a search or a pruned sweep: the optimization history, pruned
cells marked on the learning curves, parameter importance and the best cells, read from
the data each page records beside its PNGs (zoo/report/figure_data.py) and checked against
numbers derived here from what was written (tests/report/conftest.py: a known law, pruned
cells, an order of ending unlike the grid's); and a real `zoo bench --prune asha`."""

from __future__ import annotations

import os

import pytest


pytest.importorskip("matplotlib")


@pytest.fixture(scope="session")
def search_report(read_page):
    def _report(out):
        from zoo.report.build import make_report

        written = make_report(out)
        return read_page(written.html), written.html.read_text()

    return _report


@pytest.fixture(scope="module")
def grid(tmp_path_factory, write_search_sweep, search_report):
    out = tmp_path_factory.mktemp("search") / "grid"
    return write_search_sweep(out), *search_report(out)


@pytest.fixture(scope="module")
def pruned(tmp_path_factory, write_search_sweep, search_report):
    out = tmp_path_factory.mktemp("search") / "pruned"
    return write_search_sweep(out, prune=True), *search_report(out)


def _expected_history(written):
    """(spent, acc, status) per ended cell in the order they ended, and the staircase."""
    points, spent, best, stairs = [], 0, None, []
    for cell in sorted(written, key=lambda w: w["ended_at"]):
        spent += cell["epochs"]
        points.append((spent, cell["val_acc"], cell["status"]))
        if cell["status"] == "ok":
            best = cell["val_acc"] if best is None else max(best, cell["val_acc"])
        if best is not None:
            stairs.append((spent, best))
    return points, stairs


@pytest.mark.parametrize("case", ["grid", "pruned"])
def test_history_is_every_cell_in_the_order_it_ended_and_the_best_so_far(case, request, lines_named):
    written, page, _ = request.getfixturevalue(case)
    panel, = page.figure_data["optimization-history"]["panels"]
    points, stairs = _expected_history(written)
    for status in ("ok", "pruned"):
        mine = [(x, y) for x, y, s in points if s == status]
        drawn = lines_named(panel, f"ended {status}")
        if not mine:
            assert drawn == []
            continue
        assert drawn[0]["x"] == [x for x, _ in mine]
        assert drawn[0]["y"] == pytest.approx([y for _, y in mine])
    best, = lines_named(panel, "best so far")
    assert best["x"] == [x for x, _ in stairs] and best["y"] == pytest.approx([y for _, y in stairs])
    assert panel["xlabel"].startswith("epochs spent") and "validation accuracy" in panel["ylabel"]
    assert panel["title"] == f"Optimization history: 24 cells, {points[-1][0]} epochs"
    # the best cell is named beside the staircase (of equals, the first found)
    top = max((w for w in written if w["status"] == "ok"), key=lambda w: (w["val_acc"], -w["ended_at"]))
    legend = [e["text"].replace("\n", " ") for e in page.figure_data["optimization-history"]["legends"][0]["entries"]]
    spent = next(x for x, y, s in points if y == top["val_acc"] and s == "ok")
    assert f"the best: {top['optimizer']}, {top['schedule']}, learning_rate={top['rate']:g}, " \
           f"{top['val_acc']:.4f} after {spent} epochs" in legend[-1]
    ring, = lines_named(panel, "best cell")
    assert (ring["x"], ring["y"]) == ([spent], [pytest.approx(top["val_acc"])])
    assert ("cell pruned (accuracy where it stopped) (18)" in legend) == (case == "pruned")
    assert "cell finished ok (6)" in legend if case == "pruned" else "cell finished ok (24)" in legend


def test_a_single_cell_has_no_history(tmp_path, search_report):
    from zoo.report.synthetic import write_synthetic_sweep

    write_synthetic_sweep(tmp_path / "one", 1, statuses=["ok"])
    page, _ = search_report(tmp_path / "one")
    assert "fig-val-acc-per-epoch" in page.figures and "fig-optimization-history" not in page.figures


def test_pruned_cells_are_marked_where_they_stopped(grid, pruned, gid_fields, lines_named):
    written, page, _ = pruned
    panel, = page.figure_data["val-acc-per-epoch"]["panels"]
    marks = {gid_fields(line["gid"])["cell"]: (line["x"], line["y"]) for line in lines_named(panel, "pruned ")}
    expected = {w["cell"].slug: ([w["epochs"]], [w["val_acc"]]) for w in written if w["status"] == "pruned"}
    assert len(expected) == 18 and sorted(marks) == sorted(expected)
    for slug, (xs, ys) in expected.items():
        assert marks[slug][0] == xs and marks[slug][1] == pytest.approx(ys)
    legend = page.figure_data["val-acc-per-epoch"]["legends"][0]["entries"]
    assert {"text": "pruned: stopped here", "marker": "v"}.items() <= \
        next(e for e in legend if e["text"].startswith("pruned")).items()
    # no cell pruned: no mark, no legend entry
    _, grid_page, _ = grid
    grid_panel, = grid_page.figure_data["val-acc-per-epoch"]["panels"]
    assert lines_named(grid_panel, "pruned ") == []
    assert not any(e["text"].startswith("pruned") for e in grid_page.figure_data["val-acc-per-epoch"]["legends"][0]["entries"])


def test_importance_finds_the_setting_the_accuracy_depends_on(grid, gid_fields, search_axis):
    _, page, _ = grid
    panel, = page.figure_data["parameter-importance"]["panels"]
    shares = {gid_fields(bar["gid"])["setting"]: bar["width"] for bar in panel["bars"]}
    # The law (tests/report/conftest.py): the learning rate decides, the optimizer a little,
    # the schedule nothing.
    assert sorted(shares) == sorted(["optimizer", "schedule", search_axis])
    assert shares[search_axis] > 0.8 and shares["schedule"] < 0.05
    assert sum(shares.values()) == pytest.approx(1.0)
    assert [b["width"] for b in panel["bars"]] == sorted(shares.values(), reverse=True)
    assert panel["title"] == "Parameter importance over 24 cells that finished ok"


def test_too_few_finished_cells_say_why_there_is_no_importance(pruned):
    _, page, text = pruned
    assert "fig-parameter-importance" not in page.figures
    assert "it needs at least 8 cells that finished ok" in text and "this sweep has 6" in text


@pytest.mark.integration
def test_without_optuna_the_report_builds_and_says_how_to_get_importance(tmp_path, write_search_sweep, zoo,
                                                                         without_optuna, read_page):
    write_search_sweep(tmp_path / "grid")
    proc = zoo("report", str(tmp_path / "grid"), env=without_optuna(tmp_path, dict(os.environ)))
    assert proc.returncode == 0, proc.stderr[-3000:]
    page = read_page(tmp_path / "grid" / "report.html")
    assert "fig-parameter-importance" not in page.figures and "fig-optimization-history" in page.figures
    text = (tmp_path / "grid" / "report.html").read_text()
    assert "and Optuna is not installed (pip install &#x27;zoo[search]&#x27;)" in text


@pytest.mark.parametrize("case", ["grid", "pruned"])
def test_best_cells_table_ranks_by_final_validation_accuracy(case, request, search_axis, search_epochs):
    written, page, _ = request.getfixturevalue(case)
    table = page.tables["best-table"]
    assert table["headers"] == ["#", "optimizer", "schedule", search_axis, "val acc", "best val acc",
                                "epochs trained", "status"]
    ranked = sorted(written, key=lambda w: -w["val_acc"])[:10]
    assert [row[1:4] for row in table["rows"]] == [[w["optimizer"], w["schedule"], f"{w['rate']:g}"]
                                                   for w in ranked]
    assert [(float(r[4]), r[6], r[7]) for r in table["rows"]] == \
        [(pytest.approx(w["val_acc"], abs=5e-5), f"{w['epochs']} of {search_epochs}", w["status"]) for w in ranked]


def test_markup_in_names_stays_text(tmp_path, write_search_sweep, search_report):
    name = "</script><img src=x onerror=alert(1)>"
    written = write_search_sweep(tmp_path / "markup", schedules=[name, "constant"])
    page, text = search_report(tmp_path / "markup")  # a strict parse: no tag was injected
    assert "<img src=x" not in text
    assert name in {row[2] for row in page.tables["best-table"]["rows"]}
    # the legend names the first best cell found, whichever schedule it has
    legend = page.figure_data["optimization-history"]["legends"][0]["entries"]
    top = max(written, key=lambda w: (w["val_acc"], -w["ended_at"]))
    assert f", {top['schedule']}, " in legend[-1]["text"].replace("\n", " ")
    assert "schedule" in page.figure_data["parameter-importance"]["panels"][0]["yticklabels"]


@pytest.mark.integration
def test_a_real_asha_sweep_is_drawn_with_its_pruned_cells(tmp_path, bench, tiny_mlp, db_rows, zoo, read_page,
                                                          gid_fields, lines_named):
    out = tmp_path / "asha"
    # lr 0.1 first: asha keeps it (the first cell at a rung always goes on); the tiny
    # learning rates stay near chance after epoch 1 and are pruned there.
    proc = bench(out, "--models", "mlp", "--optimizers", "sgd", "--epochs", "3", *tiny_mlp,
                 "--set", "optimizer.learning_rate=0.1,0.00001,0.000001", "--prune", "asha")
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = db_rows(out)
    assert sorted(r["status"] for r in rows) == ["ok", "pruned", "pruned"]
    assert zoo("report", str(out)).returncode == 0
    page = read_page(out / "report.html")
    data = page.figure_data
    assert page.figures[:2] == ["fig-val-acc-per-epoch", "fig-optimization-history"]
    panel, = data["val-acc-per-epoch"]["panels"]
    assert sorted(gid_fields(line["gid"])["cell"] for line in lines_named(panel, "pruned ")) == \
        sorted(r["slug"] for r in rows if r["status"] == "pruned")
    history, = data["optimization-history"]["panels"]
    ended = sorted(rows, key=lambda r: r["ended_at"])
    assert history["xlim"][1] >= sum(int(r["epochs_done"]) for r in ended) == 3 + 1 + 1
    assert [r[-1] for r in page.tables["best-table"]["rows"]] == ["ok", "pruned", "pruned"]
    assert [r[1] for r in page.tables["best-table"]["rows"]][0] == "0.1"


def test_accuracy_against_time_has_a_point_per_parameter_value(grid, lines_named, search_axis, gid_fields):
    # Before, the cells of one combination that differ only by learning rate were one
    # point: their accuracies averaged as if they were seeds.
    written, page, _ = grid
    panel, = page.figure_data["acc-vs-time"]["panels"]
    drawn = {(f["optimizer"], f["schedule"], float(f[search_axis])): line["y"][0]
             for line in lines_named(panel, "point ") for f in [gid_fields(line["gid"])]}
    assert drawn == pytest.approx({(w["optimizer"], w["schedule"], w["rate"]): w["val_acc"] - 0.01
                                   for w in written})


def test_equal_accuracies_say_why_there_is_no_importance(tmp_path, write_search_sweep, search_report):
    # fANOVA raises on zero variance; the report must say so instead of failing.
    from zoo.bench.store import Store

    write_search_sweep(tmp_path / "flat")
    store = Store(tmp_path / "flat" / "results.db")
    try:
        store.db.execute("UPDATE results SET val_acc = 0.5")
        store.db.commit()
    finally:
        store.close()
    page, text = search_report(tmp_path / "flat")
    assert "fig-parameter-importance" not in page.figures
    assert "the 24 cells that finished ok all have the same final validation accuracy" in text


@pytest.mark.integration
def test_a_real_random_search_has_its_history(tmp_path, bench, tiny_mlp, db_rows, zoo, read_page,
                                              lines_named):
    out = tmp_path / "random"
    proc = bench(out, "--models", "mlp", "--optimizers", "sgd,adam", *tiny_mlp,
                 "--set", "optimizer.learning_rate=0.1,0.01,0.001", "--search", "random", "--trials", "3")
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = sorted(db_rows(out), key=lambda r: r["ended_at"])
    assert len(rows) == 3 and {r["status"] for r in rows} == {"ok"}
    assert zoo("report", str(out)).returncode == 0
    page = read_page(out / "report.html")
    panel, = page.figure_data["optimization-history"]["panels"]
    done, = lines_named(panel, "ended ok")
    assert done["x"] == [1, 2, 3]  # one epoch each (QUICK), summed in the order they ended
    assert sorted(done["y"]) == pytest.approx(sorted(r["val_acc"] for r in rows))
    best, = lines_named(panel, "best so far")
    assert best["y"][-1] == pytest.approx(max(r["val_acc"] for r in rows))
