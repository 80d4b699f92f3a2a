"""Picking a sweep's winner (zoo.bench.best): by validation accuracy, never test accuracy;
on plain rows, as the store holds them."""

from __future__ import annotations

import pytest

from zoo.bench.best import best_seed, cell_folder, marked, pick, ranked, winner_folder
from zoo.bench.tables import pivot, summarize
from zoo.errors import ZooError
from zoo.status import Status


@pytest.fixture(scope="session")
def rows_of(row, cell):
    def rows_of(spec):
        """(model, seed, val_acc, test_acc, wall) -> store rows."""
        return [row(cell(model=m, seed=s), acc=test, wall=wall, val_acc=val, best_val_acc=val,
                    num_params=1000 + len(m)) for m, s, val, test, wall in spec]

    return rows_of


def by_model(summaries):
    return {s["model"]: s for s in summaries}


def test_the_winner_has_the_best_validation_accuracy_not_the_best_test_accuracy(rows_of):
    rows = rows_of([("a", 0, 0.80, 0.95, 1.0),   # best on test: picking it would be the sin
                    ("b", 0, 0.90, 0.85, 1.0),   # best on validation: the honest pick
                    ("c", 0, 0.70, 0.70, 1.0)])
    summaries = summarize(rows)
    winner = pick(summaries)
    assert winner["model"] == "b" and winner["val_acc"] == 0.90
    assert [s["model"] for s in ranked(summaries)] == ["b", "a", "c"]
    assert marked(summaries) is winner


def test_repeats_are_ranked_by_their_mean_and_the_best_seed_is_exported(tmp_path, rows_of):
    rows = rows_of([("a", 0, 0.90, 0.9, 1.0), ("a", 1, 0.70, 0.9, 1.0),    # mean 0.80
                    ("b", 0, 0.84, 0.8, 1.0), ("b", 1, 0.86, 0.8, 1.0)])   # mean 0.85
    summaries = summarize(rows)
    assert by_model(summaries)["a"]["val_acc"] == pytest.approx(0.80)
    folder, summary, chosen = winner_folder(tmp_path, summaries, rows)
    assert summary["model"] == "b" and chosen["seed"] == 1  # b's better seed
    assert folder == tmp_path / "cells" / chosen["slug"]
    assert summary["cell_dir"] == cell_folder(chosen) == f"cells/{chosen['slug']}"
    assert summary["cell_dirs"] == [f"cells/{r['slug']}" for r in rows[2:]]


def test_only_ok_runs_count_and_ties_go_to_the_faster_cell(row, cell, rows_of):
    rows = rows_of([("slow", 0, 0.9, 0.9, 5.0), ("fast", 0, 0.9, 0.9, 2.0)])
    rows.append(row(cell(model="broken"), Status.DIVERGED, val_acc=0.99))
    winner = pick(summarize(rows))
    assert winner["model"] == "fast"
    with pytest.raises(ZooError, match="no ok run"):
        best_seed(by_model(summarize(rows))["broken"], rows)


def test_other_criteria_and_what_is_never_one(rows_of):
    rows = rows_of([("a", 0, 0.9, 0.9, 5.0), ("b", 0, 0.8, 0.9, 2.0)])
    rows[0]["images_per_s"], rows[1]["images_per_s"] = 50.0, 10.0
    rows[1]["time_to_target"] = 1.5  # only b reached the target
    summaries = summarize(rows)
    assert pick(summaries, "time")["model"] == "b"
    assert pick(summaries, "images_per_s")["model"] == "a"
    assert pick(summaries, "time_to_target")["model"] == "b"
    with pytest.raises(ZooError, match="test accuracy is never one"):
        pick(summaries, "test_acc")


def test_no_validation_accuracy_is_a_one_line_error_never_a_fallback_to_test(rows_of):
    rows = rows_of([("a", 0, None, 0.9, 1.0)])
    with pytest.raises(ZooError, match="no finished .ok. cell has a final validation accuracy") as e:
        pick(summarize(rows))
    assert "\n" not in str(e.value) and "val_fraction=0" in str(e.value)
    assert marked(summarize(rows)) is None


def test_the_table_marks_the_winner_beside_its_validation_accuracy(rows_of):
    rows = rows_of([("a", 0, 0.80, 0.95, 1.0), ("b", 0, 0.90, 0.85, 1.0)])
    summaries = summarize(rows)
    headers, table = pivot(summaries, winner=pick(summaries))
    shown = {line[1]: dict(zip(headers, line)) for line in table}
    assert shown["b"]["cpu val acc"] == "0.9000 (best)" and shown["a"]["cpu val acc"] == "0.8000"
    assert shown["a"]["cpu test acc"] == "0.9500"  # shown beside, never marked
    assert shown["a"]["params"] == "1001"  # a plain integer: the report sorts it as a number
    headers, table = pivot(summaries)
    assert not any("(best)" in c for line in table for c in line)
