"""What a run report's figures show (zoo/report/run_plots.py), read from the figure data
the page records, against the run's metrics.json: per-step and smoothed curves, per-epoch
points, chance level, the learning-rate schedule and the confusion matrix."""

from __future__ import annotations

import json

import pytest


@pytest.mark.integration
def test_run_figures_draw_the_runs_steps_epochs_chance_and_schedule(tmp_path_factory, real_run, read_page,
                                                                    lines_named):
    case = real_run(tmp_path_factory)
    data = read_page(case.html).figure_data
    metrics = json.loads((case.run / "metrics.json").read_text())
    assert sorted(data) == ["accuracy", "confusion", "loss", "lr"]
    for name, key in (("loss", "loss"), ("accuracy", "acc")):
        panel, = data[name]["panels"]
        assert panel["xlabel"] == "optimizer step"
        raw, = lines_named(panel, "train per step")
        smoothed, = lines_named(panel, "train smoothed")  # the caption promises it
        assert raw["n"] == smoothed["n"] == metrics["epochs"][-1]["step"]
        for which in ("train", "val"):
            line, = lines_named(panel, f"{which}_{key}")
            assert line["x"] == [e["step"] for e in metrics["epochs"]]
            assert line["y"] == pytest.approx([e[f"{which}_{key}"] for e in metrics["epochs"]])
    chance, = lines_named(data["accuracy"]["panels"][0], "chance")
    assert chance["y"][0] == pytest.approx(1 / 10)  # the test set's classes
    lr, = lines_named(data["lr"]["panels"][0], "lr")
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
