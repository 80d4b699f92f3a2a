"""The report's decisions on plain data (zoo/report/scheme.py, points.accuracy_limits):
which axis is colour, marker and text; the Pareto front; when accuracy axes reach chance."""

from __future__ import annotations

from zoo.report.scheme import MARKERS, PALETTE


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


def test_a_single_combination_is_named_without_empty_brackets():
    # Seen in an image-folder report with one ok cell: "On the Pareto front (): ...".
    from zoo.report.points import scatter_figure

    row = {"model": "mlp", "optimizer": "sgd", "x": 0.38, "y": 0.98, "num_classes": 3}
    fig, note = scatter_figure([row], ["model", "optimizer"], [row], xlabel="s", ylabel="acc", title="t")
    fig.clf()
    assert "()" not in note
    assert note.endswith("One combination: nothing varies. On the Pareto front: the only combination.")
