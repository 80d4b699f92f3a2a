"""--target-acc: the time until validation accuracy first reached the target, checked
against a run whose per-epoch validation accuracy is known beforehand.

A first sweep (no target) measures the cell's validation accuracy per epoch; training is
deterministic, so a second sweep of the same cell goes through the same accuracies.  Its
target is the accuracy of the first epoch that beat every epoch before it, so the target
is reached exactly there, not one epoch earlier or later.
"""

from __future__ import annotations

import re

import pytest

from zoo.status import Status


@pytest.fixture(scope="session")
def cell_args(tiny_mlp):
    return ("--models", "mlp", "--optimizers", "sgd", "--epochs", "3", *tiny_mlp)


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory, bench, metrics, cell_dir, cell_args):
    base = tmp_path_factory.mktemp("target")
    known, targeted = base / "known", base / "targeted"
    first = bench(known, *cell_args)
    assert first.returncode == 0, first.stderr[-3000:]
    accs = [e["val_acc"] for e in metrics(cell_dir(known, "mlp-sgd"))["epochs"]]
    # the first epoch (after the first) whose accuracy beats all before it
    epoch = next((i + 1 for i in range(1, len(accs)) if accs[i] > max(accs[:i])), None)
    assert epoch is not None, f"validation accuracy never rose: {accs}"
    target = accs[epoch - 1]
    second = bench(targeted, *cell_args, "--target-acc", repr(target))
    assert second.returncode == 0, second.stderr[-3000:]
    return {"known": known, "targeted": targeted, "accs": accs, "epoch": epoch, "target": target,
            "first": first, "second": second}


@pytest.mark.integration
def test_the_stored_time_is_the_active_time_at_the_end_of_the_epoch_that_reached_it(sweeps, metrics, cell_dir,
                                                                                    row, db_rows):
    run = metrics(cell_dir(sweeps["targeted"], "mlp-sgd"))
    epochs = run["epochs"]
    assert [e["val_acc"] for e in epochs] == sweeps["accs"]  # the same run, deterministically
    epoch = sweeps["epoch"]
    reached = epochs[epoch - 1]
    assert reached["val_acc"] >= sweeps["target"] > max(e["val_acc"] for e in epochs[:epoch - 1])
    ttt = run["time_to_target"]
    # the active time (training and validation) when that epoch's validation ended
    assert ttt == reached["elapsed"]
    assert epochs[epoch - 2]["elapsed"] < ttt < run["elapsed"]
    assert ttt >= sum(e["seconds"] for e in epochs[:epoch])  # at least its epochs' training
    (row,) = db_rows(sweeps["targeted"])
    assert row["target_acc"] == sweeps["target"] and row["time_to_target"] == ttt
    (untargeted,) = db_rows(sweeps["known"])
    assert untargeted["target_acc"] is None and untargeted["time_to_target"] is None


@pytest.mark.integration
def test_the_table_shows_the_time_to_target_only_for_a_targeted_sweep(sweeps, db_rows, zoo):
    ttt = db_rows(sweeps["targeted"])[0]["time_to_target"]
    for printed in (sweeps["second"].stdout, zoo("results", str(sweeps["targeted"])).stdout):
        header, _, line = printed.splitlines()[:3]
        columns = dict(zip(re.split(r"\s{2,}", header.strip()), re.split(r"\s{2,}", line.strip())))
        assert columns["cpu to target s"] == f"{ttt:.1f}", printed
    assert "to target" not in sweeps["first"].stdout


def test_the_table_says_when_a_cell_never_reached_the_target(row, cell):
    from zoo.bench.tables import pivot, summarize

    rows = [row(cell(model="a", target_acc=0.9), time_to_target=4.0),
            row(cell(model="b", target_acc=0.9)),  # ok, never reached it
            row(cell(model="c", target_acc=0.9), Status.DIVERGED)]
    headers, table = pivot(summarize(rows))
    shown = {line[1]: dict(zip(headers, line))["cpu to target s"] for line in table}
    assert shown == {"a": "4.0", "b": "not reached", "c": "diverged"}
    assert "cpu to target s" not in pivot(summarize([row(cell())]))[0]


@pytest.mark.integration
def test_the_reports_bars_are_the_stored_times(sweeps, db_rows):
    pytest.importorskip("matplotlib")
    from zoo.report.sources import load_sweep
    from zoo.report.sweep_plots import time_to_target_figure

    ttt = db_rows(sweeps["targeted"])[0]["time_to_target"]
    fig, _ = time_to_target_figure(load_sweep(sweeps["targeted"]))
    (ax,) = fig.axes
    assert [bar.get_width() for bar in ax.patches] == [pytest.approx(ttt)]
    # one cell: nothing varies, so the bar is named by its model (zoo.report.scheme)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["mlp"]
    assert f"{sweeps['target']:g}" in ax.get_title()
    assert time_to_target_figure(load_sweep(sweeps["known"])) == (None, "")
