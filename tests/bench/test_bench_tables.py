"""zoo bench / zoo results output: formats, sorting, repeats, changed grids, comparisons."""

from __future__ import annotations

import csv
import io
import json
import math
import re
import shutil

import pytest


@pytest.fixture(scope="session")
def grid_args(tiny_mlp):
    return ("--models", "mlp,bad_nan", "--optimizers", "sgd,momentum", *tiny_mlp)


@pytest.fixture(scope="module")
def kit_env(tmp_path_factory, faulty_kit):
    with pytest.MonkeyPatch.context() as monkeypatch:  # undone at once: only the env is kept
        return faulty_kit(tmp_path_factory.mktemp("kit"), monkeypatch).env()


@pytest.fixture(scope="module")
def sweep(tmp_path_factory, kit_env, bench, grid_args):
    """Four cells: mlp ok with two optimizers, bad_nan diverged with both."""
    out = tmp_path_factory.mktemp("tables") / "b"
    proc = bench(out, *grid_args, "--format", "json", env=kit_env)
    assert proc.returncode == 1, proc.stderr[-3000:]  # diverged cells make the exit status 1
    return out, proc


@pytest.fixture(scope="module")
def changed(tmp_path_factory, bench, tiny_mlp):
    """One cell run with --epochs 1, then the same grid with --epochs 2."""
    out = tmp_path_factory.mktemp("changed") / "b"
    first = bench(out, "--models", "mlp", "--optimizers", "sgd", *tiny_mlp)
    assert first.returncode == 0, first.stderr[-3000:]
    second = bench(out, "--models", "mlp", "--optimizers", "sgd", "--epochs", "2", "--format", "json", *tiny_mlp)
    return out, first, second


def _columns(line):
    """A plain table's cells: tabulate separates columns by two spaces or more."""
    return re.split(r"\s{2,}", line.strip())


def _rows(stdout):
    """Plain table -> one {header: cell} per line."""
    lines = stdout.splitlines()
    assert set(lines[1]) <= {"-", " "}, stdout
    return [dict(zip(_columns(lines[0]), _columns(line))) for line in lines[2:]]


def _table(stdout):
    """Plain table -> {(model, optimizer): the test accuracy and time cells}."""
    return {(r["model"], r["optimizer"]): [r["cpu test acc"], r["cpu time s"]] for r in _rows(stdout)}


@pytest.mark.integration
def test_json_output_is_the_whole_stdout_with_statuses_not_numbers(sweep, db_rows):
    out, proc = sweep
    data = json.loads(proc.stdout)
    by = {(s["model"], s["optimizer"]): s for s in data}
    assert set(by) == {(m, o) for m in ("mlp", "bad_nan") for o in ("sgd", "momentum")}
    for optimizer in ("sgd", "momentum"):
        ok, nan = by["mlp", optimizer], by["bad_nan", optimizer]
        assert ok["status"] == "ok" and 0 < ok["acc"] <= 1 and ok["time"] > 0 and ok["runs"] == 1
        assert nan["status"] == "diverged" and nan["acc"] is None and nan["time"] is None
        assert "nan" in nan["reason"]
    rows = {(r["model"], r["optimizer"]): r for r in db_rows(out)}
    assert by["mlp", "sgd"]["acc"] == rows["mlp", "sgd"]["test_acc"]


@pytest.mark.integration
def test_zoo_results_prints_the_table_the_bench_printed(sweep, kit_env, bench, zoo, grid_args):
    out, _ = sweep
    again = bench(out, *grid_args, env=kit_env)  # all finished: nothing trains, the table prints
    assert "4 cells, 4 already finished, 0 to run" in again.stderr
    assert again.returncode == 1  # the stored diverged cells still count
    shown = zoo("results", str(out))
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == again.stdout
    table = _table(shown.stdout)
    assert table["bad_nan", "sgd"] == ["diverged", "diverged"]
    assert float(table["mlp", "sgd"][0]) > 0


@pytest.mark.integration
def test_markdown_csv_and_sorting(sweep, zoo):
    out, _ = sweep
    markdown = zoo("results", str(out), "--format", "markdown").stdout.splitlines()
    assert markdown[0].startswith("| dataset   | model") and "cpu test acc" in markdown[0]
    assert set(markdown[1]) <= {"|", "-", ":", " "} and len(markdown) == 6
    assert all(line.startswith("|") and line.endswith("|") for line in markdown)

    rows = list(csv.DictReader(io.StringIO(zoo("results", str(out), "--format", "csv").stdout)))
    assert len(rows) == 4
    assert {"model", "optimizer", "launch", "nprocs", "device", "status", "acc", "time",
            "runs"} <= set(rows[0])
    for row in rows:
        if row["model"] == "mlp":
            assert row["status"] == "ok" and 0 < float(row["acc"]) <= 1
        else:
            assert row["status"] == "diverged" and row["acc"] == "" and row["time"] == ""

    by_acc = zoo("results", str(out), "--sort", "acc", "--format", "json")
    accs = [s["acc"] for s in json.loads(by_acc.stdout)]
    assert accs[2:] == [None, None] and accs[0] >= accs[1]
    table = _rows(zoo("results", str(out), "--sort", "acc").stdout)
    assert [r["model"] for r in table] == ["mlp", "mlp", "bad_nan", "bad_nan"]
    assert float(table[0]["cpu test acc"].split()[0]) == accs[0]


@pytest.mark.integration
def test_repeat_shows_mean_and_std(sweep, tmp_path, kit_env, bench, tiny_mlp, db_rows, zoo):
    out = tmp_path / "b"
    shutil.copytree(sweep[0], out)
    proc = bench(out, "--models", "mlp", "--optimizers", "sgd", "--repeat", "2", *tiny_mlp, env=kit_env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "2 cells, 1 already finished, 1 to run" in proc.stderr  # seed 0 was stored
    assert "3 stored results" in proc.stderr  # the other combinations are not this grid
    (line,) = _rows(proc.stdout)
    acc, plus, std = line["cpu test acc"].split()[:3]
    assert plus == "±" and float(std) >= 0
    seeds = [r["test_acc"] for r in db_rows(out) if (r["model"], r["optimizer"]) == ("mlp", "sgd")]
    assert len(seeds) == 2 and seeds[0] != seeds[1]  # two seeds, two results
    # the sample standard deviation of the two seeds' accuracies, as printed (.4f)
    assert plus == "±" and acc == f"{(seeds[0] + seeds[1]) / 2:.4f}"
    assert std == f"{abs(seeds[0] - seeds[1]) / math.sqrt(2):.4f}" and float(std) > 0
    shown = zoo("results", str(out))
    assert shown.stdout == proc.stdout  # the latest grid, not the older rows
    assert "3 stored results" in shown.stderr and "--all" in shown.stderr
    listing = json.loads(zoo("results", str(out), "--all", "--format", "json").stdout)
    assert len(listing) == 5


@pytest.mark.integration
def test_a_changed_grid_is_noted_and_kept_apart(changed, db_rows, zoo, bench, tiny_mlp):
    out, _, second = changed
    assert second.returncode == 0, second.stderr[-3000:]
    assert "1 stored results" in second.stderr and "do not match" in second.stderr
    assert ": epochs 1 -> 2" in second.stderr  # says what changed, per result
    assert "1 cells, 0 already finished, 1 to run" in second.stderr
    (summary,) = json.loads(second.stdout)
    rows = {r["epochs"]: r for r in db_rows(out)}
    assert set(rows) == {1, 2}
    # only the current grid's cell: its own accuracy, not a mean with the epochs-1 row
    assert summary["runs"] == 1 and summary["acc"] == rows[2]["test_acc"]
    shown = zoo("results", str(out), "--format", "json")
    assert json.loads(shown.stdout) == [summary]

    again = bench(out, "--models", "mlp", "--optimizers", "sgd", "--epochs", "2", *tiny_mlp)
    assert again.returncode == 0 and "1 cells, 1 already finished, 0 to run" in again.stderr
    assert {r["epochs"]: r["ended_at"] for r in db_rows(out)}[2] == rows[2]["ended_at"]

    forced = bench(out, "--models", "mlp", "--optimizers", "sgd", "--epochs", "2", "--force", *tiny_mlp)
    assert forced.returncode == 0, forced.stderr[-3000:]
    assert "1 cells, 0 already finished, 1 to run" in forced.stderr
    after = {r["epochs"]: r for r in db_rows(out)}
    assert len(db_rows(out)) == 2 and after[1] == rows[1]
    assert after[2]["status"] == "ok" and after[2]["started_at"] >= rows[2]["ended_at"]
    assert after[2]["wall_time"] != rows[2]["wall_time"]


@pytest.mark.integration
def test_compare_shows_both_accuracies_and_the_difference(sweep, changed, zoo):
    mine, other = sweep[0], changed[0]
    proc = zoo("results", str(mine), "--compare", str(other), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    rows = {(r["model"], r["optimizer"]): r for r in json.loads(proc.stdout)}
    both = rows["mlp", "sgd"]
    a, b = float(both["acc"].split()[0]), float(both["other acc"].split()[0])
    assert 0 < a <= 1 and 0 < b <= 1
    assert math.isclose(float(both["Δ acc"]), a - b, abs_tol=2e-4)
    assert rows["mlp", "momentum"]["other acc"] == "absent"
    assert rows["bad_nan", "sgd"]["acc"] == "diverged" and rows["bad_nan", "sgd"]["Δ acc"] == "-"
    table = zoo("results", str(mine), "--compare", str(other)).stdout.splitlines()
    assert "other acc" in table[0] and "Δ acc" in table[0]


@pytest.mark.integration
def test_results_of_a_missing_directory_is_a_one_line_error(tmp_path, zoo, assert_one_line_error):
    proc = zoo("results", str(tmp_path / "nonexistent"))
    assert_one_line_error(proc, "nonexistent", "results.db")
    assert proc.returncode == 2
