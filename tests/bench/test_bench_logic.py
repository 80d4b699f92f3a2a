"""The sweep's decisions on plain data, in process and in milliseconds: how a cell's end
becomes a status, what a row records, how rows become tables, what changed between two
grids.  The end-to-end sweeps in test_bench_*.py check the same paths with real workers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zoo.bench.outcome import classify, result_values
from zoo.bench.changes import describe_changes
from zoo.bench.runner import SweepSummary
from zoo.bench.tables import compare, pivot, sort_summaries, summarize
from zoo.data.sample import MNIST_SAMPLE_DIR
from zoo.identity import differences
from zoo.exec.process import Outcome
from zoo.status import ExitCode, Status


@pytest.fixture
def log(tmp_path) -> Path:
    path = tmp_path / "worker.log"
    path.write_text("W1128 00:00:00 noise\nTraceback ...\nValueError: boom\n")
    return path


@pytest.mark.parametrize("outcome, metrics, expected", [
    (Outcome(None, True, False, 20.0), None, Status.TIMEOUT),
    (Outcome(None, False, True, 3.0), {"status": "ok"}, Status.INTERRUPTED),
    (Outcome(0, False, False, 3.0), {"status": "ok"}, Status.OK),
    (Outcome(3, False, False, 3.0), {"status": "diverged", "reason": "loss is nan"}, Status.DIVERGED),
    (Outcome(1, False, False, 3.0), {"status": "ok"}, Status.FAILED),  # ok, then died
    (Outcome(-9, False, False, 3.0), None, Status.FAILED),
    (Outcome(7, False, False, 3.0), {"status": "running"}, Status.FAILED),
])
def test_classify(outcome, metrics, expected, log):
    status, reason = classify(outcome, metrics, 20.0, log)
    assert status is expected
    if expected is Status.FAILED and not metrics or (metrics or {}).get("status") == "running":
        assert reason.startswith("worker ") and "ValueError: boom" in reason
    if outcome.returncode == -9:
        assert "killed by SIGKILL" in reason


def test_result_values_take_the_cells_own_times():
    values = result_values({"epochs": [{"train_loss": 1.0, "val_acc": 0.5}], "test": {"acc": 0.8},
                            "elapsed": 10.0, "startup": 1.5, "train_time": 8.0})
    assert values["wall_time"] == 11.5 and values["startup_time"] == 1.5
    assert values["test_acc"] == 0.8 and values["epochs_done"] == 1
    assert result_values(None) == {}
    assert "wall_time" not in result_values({"epochs": []})


def test_exit_code_of_a_sweep():
    assert SweepSummary({Status.OK: 2, Status.SKIPPED: 1}).exit_code is ExitCode.OK
    assert SweepSummary({Status.OK: 2, Status.DIVERGED: 1}).exit_code is ExitCode.FAILED
    assert SweepSummary({Status.OK: 1}, interrupted=True).exit_code is ExitCode.INTERRUPTED
    # Nothing ran at all (a gpu-only grid on a machine without one) is no success.
    assert SweepSummary({Status.SKIPPED: 3}).exit_code is ExitCode.ALL_SKIPPED == 4
    assert SweepSummary({Status.SKIPPED: 3, Status.FAILED: 1}).exit_code is ExitCode.FAILED
    assert ExitCode.of_rows(["skipped", "ok"]) is ExitCode.OK
    assert ExitCode.of_rows(["skipped", "skipped"]) is ExitCode.ALL_SKIPPED
    assert [ExitCode.of_run(s) for s in ("ok", "diverged", "interrupted", "failed")] == [0, 3, 130, 1]


def test_repeats_average_over_ok_seeds_and_count_the_rest(cell, row):
    a = cell()
    rows = [row(cell(seed=0), acc=0.8, wall=1.0), row(cell(seed=1), acc=0.9, wall=3.0),
            row(cell(seed=2), Status.DIVERGED)]
    (summary,) = summarize(rows)
    assert summary["runs"] == 3 and summary["ok_runs"] == 2
    assert summary["acc"] == pytest.approx(0.85) and summary["time"] == pytest.approx(2.0)
    assert summary["status"] == "diverged/ok" and "diverged reason" in summary["reason"]
    headers, (line,) = pivot([summary])
    shown = dict(zip(headers, line))
    assert shown["cpu test acc"] == "0.8500 ± 0.0707 (2/3 ok)"
    assert shown["model"] == a.model and shown["reason"] == "diverged reason"


def test_a_cell_with_no_ok_run_shows_its_status_never_a_number(row, cell):
    (summary,) = summarize([row(cell(), Status.FAILED)])
    headers, (line,) = pivot([summary])
    shown = dict(zip(headers, line))
    assert shown["cpu test acc"] == shown["cpu time s"] == "failed"
    (skipped,) = summarize([row(cell(device="gpu:0"), Status.SKIPPED)])
    headers, (line,) = pivot([skipped])
    assert dict(zip(headers, line))["gpu:0 test acc"] == "skipped"


def test_devices_become_column_pairs_and_missing_ones_a_dash(row, cell):
    rows = [row(cell(model="a")), row(cell(model="a", device="gpu:0"), acc=0.7),
            row(cell(model="b"))]
    headers, table = pivot(summarize(rows))
    assert headers[-10:] == [f"{d} {what}" for d in ("cpu", "gpu:0")
                             for what in ("val acc", "best val acc", "test acc", "time s", "img/s")]
    by = {line[1]: dict(zip(headers, line)) for line in table}
    assert [by["a"][f"gpu:0 {w}"] for w in ("test acc", "time s", "img/s")] == ["0.7000", "2.0", "100"]
    assert by["a"]["gpu:0 val acc"] == "-"  # no validation recorded: never a made-up number
    assert [by["b"][f"gpu:0 {w}"] for w in ("test acc", "time s")] == ["-", "-"]


def test_sorting_puts_missing_numbers_last_and_names_naturally(row, cell):
    rows = [row(cell(model="m10"), acc=0.5), row(cell(model="m2"), acc=0.9),
            row(cell(model="m3"), Status.FAILED)]
    summaries = summarize(rows)
    assert [s["model"] for s in sort_summaries(summaries, None)] == ["m2", "m3", "m10"]
    assert [s["model"] for s in sort_summaries(summaries, "acc")] == ["m2", "m10", "m3"]
    assert [s["model"] for s in sort_summaries(summaries, "time")][-1] == "m3"


def test_compare_shows_absent_and_status_cells(row, cell):
    mine = summarize([row(cell(model="a"), acc=0.9, wall=2.0), row(cell(model="b"), Status.TIMEOUT)])
    other = summarize([row(cell(model="a"), acc=0.8, wall=4.0)])
    headers, table = compare(mine, other)
    by = {line[1]: dict(zip(headers, line)) for line in table}
    assert by["a"]["Δ acc"] == "+0.1000" and by["a"]["time ratio"] == "0.50"
    assert by["b"]["acc"] == "timeout" and by["b"]["other acc"] == "absent"


def test_describe_changes_names_what_changed_per_stored_result(cell, row):
    old_identity = cell().identity
    new = cell(identity={**old_identity, "params": {"optimizers": {"learning_rate": 0.05}}})
    stale = [row(cell(epochs=2)), row(cell(model="gone")), row(cell())]
    lines = describe_changes(stale, [new])
    assert lines[0].endswith("epochs 2 -> 1, params.optimizers.learning_rate 0.01 -> 0.05")
    assert lines[1].endswith("no longer in the grid")
    assert lines[2].endswith("params.optimizers.learning_rate 0.01 -> 0.05")


def test_differences_put_settings_first_and_drop_a_swapped_entrys_parameters():
    old = {"settings": {"optimizer": "adam"}, "data": "a" * 64,
           "params": {"optimizers": {"beta1": 0.9}, "models": {"width": 8}}, "code": {"zoo": "1"}}
    new = {"settings": {"optimizer": "sgd"}, "data": "b" * 64,
           "params": {"optimizers": {}, "models": {"width": 16}}, "code": {"zoo": "2"}}
    assert differences(old, new) == ["settings.optimizer adam -> sgd",
                                     f"data fingerprint {'a' * 12} -> {'b' * 12}",
                                     "params.models.width 8 -> 16", "code.zoo 1 -> 2"]
    assert differences(None, new) == ["no recorded identity (written by an older zoo)"]


def test_cell_keys_change_with_the_identity_and_not_with_the_seed(cell):
    a = cell()
    assert a.key == cell(seed=5).key
    assert a.key != cell(identity={**a.identity, "data": "b" * 64}).key
    assert a.slug.startswith("mnist-mlp-sgd-constant-none-single1-cpu-s0-")


@pytest.mark.integration
def test_statuses_and_exit_codes_round_trip_worker_store_cli(tmp_path, monkeypatch, faulty_kit, bench,
                                                             tiny_mlp, db_rows, metrics, cell_dir, zoo):
    """A diverged run: the worker's metrics, the store's row, `zoo results` and both
    commands' exit codes all say the same thing, through the enums."""

    kit = faulty_kit(tmp_path, monkeypatch)
    out = tmp_path / "b"
    swept = bench(out, "--models", "bad_nan,mlp", *tiny_mlp, env=kit.env())
    assert swept.returncode == ExitCode.FAILED
    by = {r["model"]: r for r in db_rows(out)}
    assert metrics(cell_dir(out, "bad_nan"))["status"] == by["bad_nan"]["status"] == Status.DIVERGED
    assert by["mlp"]["status"] == Status.OK
    shown = json.loads(zoo("results", str(out), "--format", "json").stdout)
    assert {s["model"]: Status(s["status"]) for s in shown} == {"bad_nan": Status.DIVERGED,
                                                                 "mlp": Status.OK}
    trained = zoo("train", "--model", "bad_nan", "--optimizer", "sgd", "--epochs", "1", "--quiet",
                  "--data-dir", str(MNIST_SAMPLE_DIR), "--out", str(tmp_path / "run"), *tiny_mlp,
                  env=kit.env())
    assert trained.returncode == ExitCode.DIVERGED == ExitCode.of_run(Status.DIVERGED)
