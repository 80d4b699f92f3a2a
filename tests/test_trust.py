"""Trustworthy numbers: a stored result is shown again only for exactly the identity it
was computed with (parameters after every layer of defaults, the data's content, the
code), cells without a result are retried, times are the cells' own, and every bad input
is one line.  Each test here was written against a defect found by attacking the runner.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from zoo import checkpoint as ckpt
from zoo.data.sample import MNIST_SAMPLE_DIR

pytestmark = pytest.mark.integration  # starts processes or trains with Paddle


@pytest.fixture(scope="session")
def one_cell(tiny_mlp):
    return ("--models", "mlp", "--optimizers", "sgd", *tiny_mlp)


@pytest.fixture(scope="session")
def copy_data(write_idx, read_idx):
    def copy_data(tmp_path: Path, name: str, drop_train: int = 0) -> Path:
        """A copy of the small MNIST; ``drop_train`` > 0 leaves out its last training images."""
        folder = tmp_path / name
        shutil.copytree(MNIST_SAMPLE_DIR, folder, ignore=shutil.ignore_patterns("README*"))
        if drop_train:
            for base in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
                write_idx(folder / base, read_idx(folder / base)[:-drop_train])
        return folder

    return copy_data


def test_another_data_folder_with_other_content_never_reuses_a_result(tmp_path, bench, db_rows, zoo, one_cell,
                                                                      copy_data):
    out = tmp_path / "b"
    first = bench(out, *one_cell)
    assert first.returncode == 0, first.stderr[-3000:]
    (old,) = db_rows(out)
    moved = bench(out, *one_cell, "--data-dir", str(copy_data(tmp_path, "copy")))
    # the same files elsewhere are the same data: the result stands
    assert moved.returncode == 0 and "1 cells, 1 already finished, 0 to run" in moved.stderr
    other = bench(out, *one_cell, "--data-dir", str(copy_data(tmp_path, "fewer", drop_train=100)))
    assert other.returncode == 0, other.stderr[-3000:]
    assert "1 cells, 0 already finished, 1 to run" in other.stderr
    assert "data fingerprint" in other.stderr  # says what changed
    assert "fewer" in other.stderr.split("data: ")[-1]  # the data line names the folder read
    (new,) = [r for r in db_rows(out) if r["cell"] != old["cell"]]
    assert len(db_rows(out)) == 2 and new["num_classes"] == 10
    # the table shows the new data's number only, never the old one's
    shown = json.loads(zoo("results", str(out), "--format", "json").stdout)
    assert [s["acc"] for s in shown] == [new["test_acc"]]


def test_zoo_train_refuses_to_resume_on_other_data_naming_the_difference(tmp_path, tiny_mlp, zoo,
                                                                         assert_one_line_error, copy_data):
    run = tmp_path / "run"
    base = ("train", "--model", "mlp", "--optimizer", "sgd", "--epochs", "1", "--quiet",
            "--out", str(run), *tiny_mlp)
    first = zoo(*base, "--data-dir", str(MNIST_SAMPLE_DIR))
    assert first.returncode == 0, first.stderr[-3000:]
    again = zoo(*base, "--data-dir", str(copy_data(tmp_path, "fewer", drop_train=100)))
    assert_one_line_error(again, "data fingerprint", "choose a new --out")
    same = zoo(*base, "--data-dir", str(copy_data(tmp_path, "copy")))
    assert same.returncode == 0, same.stderr[-3000:]  # finished: returns at once


def test_a_changed_registry_default_is_a_new_result(tmp_path, registry_text, bench, db_rows, one_cell):
    registry = tmp_path / "registry.toml"
    env = {**os.environ, "ZOO_REGISTRY": str(registry)}
    out = tmp_path / "b"
    registry.write_text(registry_text(tail="[defaults.optimizers.sgd]\nlearning_rate = 0.01\n"))
    assert bench(out, *one_cell, env=env).returncode == 0
    registry.write_text(registry_text(tail="[defaults.optimizers.sgd]\nlearning_rate = 0.05\n"))
    second = bench(out, *one_cell, env=env)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "1 cells, 0 already finished, 1 to run" in second.stderr
    assert "params.optimizers.learning_rate 0.01 -> 0.05" in second.stderr
    identities = [json.loads(r["identity"]) for r in db_rows(out)]
    assert sorted(i["params"]["optimizers"]["learning_rate"] for i in identities) == [0.01, 0.05]


def test_wall_time_is_the_cells_own_after_a_killed_runner_and_a_rebuilt_store(tmp_path, monkeypatch,
                                                                              faulty_kit, tiny_mlp, bench_cmd,
                                                                              repo_root, wait_for, kill_tree,
                                                                              db_rows, bench, metrics,
                                                                              cell_dir):
    kit = faulty_kit(tmp_path, monkeypatch)
    out = tmp_path / "b"
    # `slow` sleeps 0.25 s in each of its 18 training steps: at least 4.5 s of work
    args = ("--models", "slow", "--epochs", "2", "--checkpoint-every", "2", *tiny_mlp)
    runner = subprocess.Popen(bench_cmd(out, *args), env=kit.env(), cwd=repo_root, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        wait_for(lambda: list((out / "cells").glob("*slow-*/checkpoints/step-000000006")), 120,
                 "a checkpoint at step 6", runner)
        os.kill(runner.pid, signal.SIGKILL)
        runner.wait(timeout=30)
    finally:
        kill_tree(runner)
    assert db_rows(out)[0]["status"] == "running"
    rerun = bench(out, *args, env=kit.env())
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    (row,) = db_rows(out)
    done = metrics(cell_dir(out, "slow"))
    assert done["resumed_from"] >= 6
    assert row["wall_time"] >= 18 * 0.25  # not just the second session's share
    assert row["wall_time"] == pytest.approx(done["elapsed"] + done["startup"])
    assert row["startup_time"] > 0
    # the store lost: rebuilt from the cells' own checkpoints, with the same times
    (out / "results.db").unlink()
    rebuilt = bench(out, *args, env=kit.env())
    assert rebuilt.returncode == 0, rebuilt.stderr[-3000:]
    (again,) = db_rows(out)
    assert again["wall_time"] == row["wall_time"] and again["test_acc"] == row["test_acc"]


HANGING = '''
import time

import zoo


def build(input_shape, num_classes):
    while True:
        time.sleep(0.5)


@zoo.hookimpl
def zoo_register_models(register):
    register("hang_factory", build, description="a factory that never returns")
'''


def test_a_factory_that_never_returns_fails_preflight_in_one_line(plugin_kit, bench_cmd, repo_root,
                                                                  assert_one_line_error):
    plugin_kit.add("zoo_hanging_factory", HANGING)
    out = plugin_kit.dir.parent / "b"
    # The limit holds for each step, loading the data too: 8 s leaves that step room on a
    # loaded machine (3 s did not, with the suite on 4 workers), and the hang still ends.
    proc = subprocess.run(bench_cmd(out, "--models", "hang_factory,mlp", "--preflight-timeout", "8"),
                          env=plugin_kit.env(), cwd=repo_root, capture_output=True, text=True, timeout=120)
    assert_one_line_error(proc, "building model 'hang_factory'", "within 8 s")
    assert not (out / "results.db").exists()


def test_missing_data_is_one_error_before_any_cell_and_a_fixed_rerun_runs(tmp_path, bench,
                                                                          assert_one_line_error, db_rows,
                                                                          one_cell):
    out, empty = tmp_path / "b", tmp_path / "empty"
    empty.mkdir()
    proc = bench(out, *one_cell, "--data-dir", str(empty))
    assert_one_line_error(proc, str(empty))
    assert not (out / "results.db").exists()  # no cell was recorded failed for it
    fixed = bench(out, *one_cell)
    assert fixed.returncode == 0 and db_rows(out)[0]["status"] == "ok"


DIE_AFTER_CHECKPOINT = '''
import os, signal

import zoo


def build(input_shape, num_classes, *, hidden: int = 16):
    import paddle

    c, h, w = input_shape

    class Net(paddle.nn.Layer):
        def __init__(self):
            super().__init__()
            self.fc = paddle.nn.Linear(c * h * w, num_classes)
            self.calls = 0

        def forward(self, x):
            if self.training:
                self.calls += 1
                marker = os.environ.get("ZOO_TEST_OOM_ONCE", "")
                # as the OOM killer would: SIGKILL, once, after checkpoints exist
                if self.calls == 3 and marker and os.path.exists(marker):
                    os.remove(marker)
                    os.kill(os.getpid(), signal.SIGKILL)
            return self.fc(paddle.flatten(x, 1))

    return Net()


@zoo.hookimpl
def zoo_register_models(register):
    register("oom_once", build, description="SIGKILLed once at its third step",
             defaults={"hidden": 16})
'''


def test_a_killed_cell_is_retried_from_its_checkpoint_on_a_rerun(plugin_kit, bench, db_rows, zoo, metrics,
                                                                 cell_dir):
    plugin_kit.add("zoo_oom_once", DIE_AFTER_CHECKPOINT)
    out = plugin_kit.dir.parent / "b"
    marker = plugin_kit.dir.parent / "oom-marker"
    marker.write_text("")
    env = {**plugin_kit.env(), "ZOO_TEST_OOM_ONCE": str(marker)}
    args = ("--models", "oom_once", "--checkpoint-every", "2")
    first = bench(out, *args, env=env)
    assert first.returncode == 1
    (row,) = db_rows(out)
    assert row["status"] == "failed" and "SIGKILL" in row["reason"]
    status = zoo("results", str(out))
    assert "1 cells have no result yet (1 failed)" in status.stderr
    second = bench(out, *args, env=env)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "1 cells, 0 already finished, 1 to run" in second.stderr
    (row,) = db_rows(out)
    assert row["status"] == "ok" and metrics(cell_dir(out, "oom_once"))["resumed_from"] == 2
    third = bench(out, *args, env=env)
    assert "1 cells, 1 already finished, 0 to run" in third.stderr


def test_diverged_cells_stay_final_unless_retried(tmp_path, monkeypatch, faulty_kit, tiny_mlp, bench, db_rows,
                                                  cell_dir):
    kit = faulty_kit(tmp_path, monkeypatch)
    out, steps = tmp_path / "b", tmp_path / "steps"
    env = {**kit.env(), "ZOO_TEST_STEP_LOG": str(steps)}  # bad_nan diverges at its first step
    args = ("--models", "bad_nan", *tiny_mlp)
    assert bench(out, *args, env=env).returncode == 1
    (first,) = db_rows(out)
    run = cell_dir(out, "bad_nan") / "metrics.json"
    written = run.stat().st_mtime_ns
    assert first["status"] == "diverged" and steps.read_text() == "rank 0\n"
    again = bench(out, *args, env=env)
    assert again.returncode == 1  # the sweep still holds a diverged cell
    assert "1 cells, 1 already finished, 0 to run" in again.stderr
    assert steps.read_text() == "rank 0\n" and db_rows(out) == [first]  # nothing reran
    retried = bench(out, *args, "--retry", "diverged", env=env)
    assert retried.returncode == 1, retried.stderr[-3000:]
    assert "1 cells, 0 already finished, 1 to run" in retried.stderr
    (row,) = db_rows(out)  # still one row for the cell and seed
    assert (row["cell"], row["seed"]) == (first["cell"], first["seed"])
    assert row["status"] == "diverged" and row["reason"].startswith("loss is nan at step 1")
    # it really trained again: a new start, a new step, a metrics.json written anew
    assert row["started_at"] > first["started_at"] and row["ended_at"] > first["ended_at"]
    assert steps.read_text() == "rank 0\n" * 2
    assert run.stat().st_mtime_ns > written and json.loads(run.read_text())["status"] == "diverged"


def test_skipped_cells_stay_final_unless_retried(tmp_path, bench, db_rows, one_cell):
    out = tmp_path / "b"
    args = (*one_cell, "--devices", "cpu,gpu:9")  # no machine here has a tenth GPU
    assert bench(out, *args).returncode == 0  # skipped is not a failure
    first = {r["device"]: r for r in db_rows(out)}
    assert first["gpu:9"]["status"] == "skipped" and "gpu:9" in first["gpu:9"]["reason"]
    # (that a rerun without --retry keeps final rows: test_diverged_cells_stay_final_...)
    time.sleep(1.1)  # started_at has one-second resolution: the retry's must differ
    retried = bench(out, *args, "--retry", "skipped")
    assert retried.returncode == 0, retried.stderr[-3000:]
    assert "2 cells, 1 already finished, 1 to run" in retried.stderr
    rows = {r["device"]: r for r in db_rows(out)}
    assert len(db_rows(out)) == 2 and rows["cpu"] == first["cpu"]  # the ok cell was kept
    gpu = rows["gpu:9"]
    assert gpu["cell"] == first["gpu:9"]["cell"] and gpu["status"] == "skipped"
    assert gpu["started_at"] > first["gpu:9"]["started_at"]  # looked at again, still no GPU
    assert "gpu:9" in gpu["reason"] and gpu["test_acc"] is None


def test_a_corrupt_results_database_is_a_one_line_error(tmp_path, assert_one_line_error, bench, zoo,
                                                        one_cell):
    out = tmp_path / "b"
    out.mkdir()
    (out / "results.db").write_bytes(b"this is not a database" * 100)
    assert_one_line_error(bench(out, *one_cell), "results.db", "cannot open")
    assert_one_line_error(zoo("results", str(out)), "results.db")


def test_a_lock_held_mid_cell_is_one_line_and_the_rerun_records_without_retraining(tmp_path, monkeypatch,
                                                                                   faulty_kit, tiny_mlp,
                                                                                   bench_cmd, repo_root,
                                                                                   wait_for, kill_tree,
                                                                                   cell_dir, bench, db_rows):
    kit = faulty_kit(tmp_path, monkeypatch)
    out = tmp_path / "b"
    args = ("--models", "slow", *tiny_mlp)
    env = {**kit.env(), "ZOO_STORE_TIMEOUT": "1"}
    runner = subprocess.Popen(bench_cmd(out, *args), env=env, cwd=repo_root, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    holder = None
    try:
        wait_for(lambda: (out / "cells").is_dir() and list((out / "cells").glob("*slow-*/job.json")),
                 120, "the cell to start", runner)
        holder = sqlite3.connect(str(out / "results.db"), isolation_level=None, timeout=30)
        holder.execute("BEGIN EXCLUSIVE")
        _, stderr = runner.communicate(timeout=300)
    finally:
        kill_tree(runner)
        if holder is not None:
            holder.rollback()
            holder.close()
    assert runner.returncode == 2 and "Traceback" not in stderr, stderr[-3000:]
    assert [line for line in stderr.splitlines() if line.startswith("zoo: error:")][0].count(
        "locked") == 1
    run = cell_dir(out, "slow")
    stamps = {p.name: p.stat().st_mtime_ns for p in ckpt.list_checkpoints(run)}
    rerun = bench(out, *args, env=kit.env())
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert db_rows(out)[0]["status"] == "ok"
    assert {p.name: p.stat().st_mtime_ns for p in ckpt.list_checkpoints(run)} == stamps


def test_a_full_disk_is_a_store_error(tmp_path):
    from zoo.bench.grid import Cell
    from zoo.bench.store import Store, StoreError

    store = Store(tmp_path / "results.db")
    store.db.execute("PRAGMA max_page_count = 4")  # what a full disk looks like to SQLite
    with pytest.raises(StoreError, match="full"):
        for seed in range(200):
            store.record(Cell(entries={"datasets": "d", "models": "m", "optimizers": "o",
                                       "schedules": "s", "regularizers": "r", "launchers": "single"},
                              nprocs=1, device="cpu", epochs=1,
                              batch_size=1, seed=seed, params={"x": {"y": "z" * 500}}),
                         status="ok", reason="")
    store.close()


def test_results_reads_a_read_only_copy_without_writing_to_it(tmp_path, read_only_user, bench, repo_root,
                                                              one_cell):
    import tempfile

    user = read_only_user()
    out = tmp_path / "b"
    assert bench(out, *one_cell).returncode == 0
    shared = Path(tempfile.mkdtemp(prefix="zoo-readonly-"))  # reachable by another user
    copy = shared / "copy"
    shutil.copytree(out, copy)

    def snapshot():
        return {p.relative_to(copy).as_posix(): p.read_bytes() for p in sorted(copy.rglob("*"))
                if p.is_file()}

    before = snapshot()
    for path in [*copy.rglob("*"), copy]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    shared.chmod(0o755)
    try:
        # The user really cannot write there: opening the store for writing (as zoo
        # results once did) or adding a file (a -wal, a -shm) is refused.
        for attempt in (f"open({str(copy / 'results.db')!r}, 'r+b')",
                        f"open({str(copy / 'results.db-wal')!r}, 'wb')"):
            denied = subprocess.run([*user, sys.executable, "-c", attempt], capture_output=True,
                                    text=True, cwd="/", timeout=60)
            assert denied.returncode != 0 and "PermissionError" in denied.stderr, attempt
        shown = subprocess.run([*user, sys.executable, "-m", "zoo", "results", str(copy)],
                               capture_output=True, text=True, cwd=repo_root, timeout=120)
        assert shown.returncode == 0, shown.stderr
        assert "mlp" in shown.stdout
        assert snapshot() == before  # no -wal, no -shm, no changed byte
    finally:
        for path in [copy, *copy.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        shutil.rmtree(shared)


def test_two_zoo_train_on_one_run_directory_are_refused(tmp_path, monkeypatch, faulty_kit, tiny_mlp,
                                                        repo_root, wait_for, zoo, assert_one_line_error,
                                                        kill_tree):
    kit = faulty_kit(tmp_path, monkeypatch)
    run = tmp_path / "run"
    args = ["train", "--model", "slow", "--optimizer", "sgd", "--epochs", "2", "--quiet",
            "--data-dir", str(MNIST_SAMPLE_DIR), "--out", str(run), *tiny_mlp]
    # 0.75 s a step (the slow model's default is 0.25): the first run must outlive the second's
    # start-up, which took longer than its ~5 s on a loaded 2-core CI machine.
    slower = {**kit.env(), "ZOO_TEST_DELAY": "0.75"}
    first = subprocess.Popen([sys.executable, "-m", "zoo", *args], env=slower, cwd=repo_root,
                             text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             start_new_session=True)
    try:
        wait_for(lambda: (run / "job.json").exists(), 120, "the first run to start", first)
        second = zoo(*args, env=kit.env())
        assert_one_line_error(second, "in use by another zoo train")
        _, stderr = first.communicate(timeout=300)
        assert first.returncode == 0, stderr[-3000:]
    finally:
        kill_tree(first)


@pytest.mark.parametrize("line, needle", [
    ("seed = -3", "seed must be in"), ("target_acc = 5.0", "target_acc must be in"),
    ("devices = []", "devices must not be empty"), ("repeat = 1000000000", "repeat must be in"),
    ("nprocs = 100000", "nprocs must be in"), ("epochs = 0", "epochs must be in"),
])
def test_grid_files_are_held_to_the_same_bounds_as_flags(tmp_path, line, needle, bench, assert_one_line_error,
                                                         one_cell):
    grid = tmp_path / "grid.toml"
    grid.write_text(f"[grid]\n{line}\n")
    proc = bench(tmp_path / "b", *one_cell, "--grid", str(grid), "--dry-run")
    assert_one_line_error(proc, str(grid), needle)


@pytest.mark.parametrize("args", [("--nprocs", "100000"), ("--repeat", "0"),
                                  ("--seed", str(2**63)), ("--target-acc", "0")])
def test_flags_outside_their_bounds_are_refused(tmp_path, args, bench, one_cell):
    proc = bench(tmp_path / "b", *one_cell, *args, "--dry-run")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "Invalid value" in proc.stderr


def test_resume_with_a_contradicting_option_lists_the_conflicts(tmp_path, zoo, tiny_mlp,
                                                                assert_one_line_error):
    run = tmp_path / "run"
    first = zoo("train", "--model", "mlp", "--optimizer", "sgd", "--epochs", "1", "--quiet",
                "--data-dir", str(MNIST_SAMPLE_DIR), "--out", str(run), *tiny_mlp)
    assert first.returncode == 0, first.stderr[-3000:]
    proc = zoo("train", "--resume", str(run), "--epochs", "3", "--optimizer", "adam")
    assert_one_line_error(proc, "--epochs 3 (the run has 1)", "--optimizer adam (the run has sgd)")
    fine = zoo("train", "--resume", str(run), "--quiet", "--epochs", "1")
    assert fine.returncode == 0, fine.stderr[-3000:]


@pytest.mark.parametrize("command", ["bench", "train", "train --resume"])
@pytest.mark.parametrize("make", ["below_a_file", "too_long", "too_long_inside", "not_utf8"])
def test_an_out_that_cannot_be_created_is_one_line(tmp_path, make, command, tiny_mlp, repo_root, one_cell):
    # zoo train ended a 300-character --out in OSError: File name too long.
    if make == "below_a_file":
        (tmp_path / "file").write_text("")
        out, needle = tmp_path / "file" / "b", "a parent of it is a file"
        if command == "train --resume":
            needle = "not a run directory"
    elif make.startswith("too_long"):
        out = tmp_path / ("x" * 300) / ("run" if make == "too_long_inside" else "")
        needle = "choose a shorter"
    else:
        out, needle = Path(os.fsdecode(bytes(tmp_path) + b"/caf\xe9")), "not valid UTF-8"
    args = [b"--model", b"mlp", b"--epochs", b"1", *[a.encode() for a in tiny_mlp]] \
        if command.startswith("train") else [a.encode() for a in one_cell]
    option = b"--resume" if command == "train --resume" else b"--out"
    proc = subprocess.run([os.fsencode(sys.executable), b"-m", b"zoo", command.split()[0].encode(),
                           option, os.fsencode(out), *args, b"--quiet",
                           b"--data-dir", os.fsencode(MNIST_SAMPLE_DIR)],
                          capture_output=True, cwd=repo_root, timeout=120)
    stderr = proc.stderr.decode(errors="replace")
    assert proc.returncode == 2 and "Traceback" not in stderr, stderr[-3000:]
    (error,) = [line for line in stderr.splitlines() if line.startswith("zoo: error:")]
    assert needle in error
    if make == "not_utf8":
        assert not os.path.exists(out)


@pytest.mark.parametrize("args", [["results"], ["report"], ["bench-infer"], ["predict", "{}", "x.png"],
                                  ["export"], ["eval"]])
def test_a_path_too_long_to_look_up_is_one_line_in_any_command(tmp_path, args, zoo, assert_one_line_error):
    long = str(tmp_path / ("y" * 300))
    proc = zoo(*[a.format(long) for a in args], *([] if "{}" in args else [long]))
    assert_one_line_error(proc, "longer than the file system allows")


def test_a_train_run_writes_no_out_folder_for_an_impossible_out(tmp_path, zoo, tiny_mlp,
                                                                assert_one_line_error):
    (tmp_path / "file").write_text("")
    proc = zoo("train", "--model", "mlp", "--epochs", "1", "--quiet", "--data-dir",
               str(MNIST_SAMPLE_DIR), "--out", str(tmp_path / "file" / "run"), *tiny_mlp)
    assert_one_line_error(proc, "a parent of it is a file")


def test_store_migrates_an_older_results_database(tmp_path):
    """A results.db from before the identity column opens, and its rows are kept apart."""
    from zoo.bench.store import Store

    path = tmp_path / "results.db"
    con = sqlite3.connect(str(path))
    con.executescript(textwrap.dedent("""\
        CREATE TABLE results (cell TEXT NOT NULL, slug TEXT NOT NULL, model TEXT, seed INTEGER,
                              params TEXT NOT NULL, status TEXT, PRIMARY KEY (cell, seed));
        INSERT INTO results VALUES ('abc', 'old-slug', 'mlp', 0, '{}', 'ok');"""))
    con.close()
    store = Store(path)
    (row,) = store.rows()
    assert row["identity"] is None and row["status"] == "ok" and "wall_time" in row
    store.close()


def test_chance_level_numbers_are_flagged_with_the_reason():
    from zoo.bench.tables import pivot, summarize

    rows = [{"dataset": "d", "model": "m", "optimizer": o, "schedule": "s", "regularizer": "r", "launch": "single",
             "nprocs": 1, "device": "cpu", "status": "ok", "reason": "", "test_acc": acc,
             "wall_time": 1.0, "images_per_s": 10.0, "time_to_target": None, "num_classes": 10}
            for o, acc in (("adam", 0.0982), ("sgd", 0.9)) ]
    summaries = {s["optimizer"]: s for s in summarize(rows)}
    assert summaries["adam"]["chance"] and "chance (0.1000 for 10 classes)" in summaries["adam"]["reason"]
    assert not summaries["sgd"]["chance"] and summaries["sgd"]["reason"] == ""
    headers, table = pivot(list(summaries.values()))
    by = {row[2]: dict(zip(headers, row)) for row in table}
    assert by["adam"]["cpu test acc"] == "0.0982 (chance)" and "chance" in by["adam"]["reason"]
    assert by["sgd"]["cpu test acc"] == "0.9000" and by["sgd"]["reason"] == ""


def test_an_accuracy_far_below_chance_says_below_chance():
    from zoo.bench.tables import pivot, summarize

    # 4 classes: chance is 0.25.  0.1225 is no "chance" result: it is worse than guessing.
    rows = [{"dataset": "d", "model": "m", "optimizer": o, "schedule": "s", "regularizer": "r",
             "launch": "single", "nprocs": 1, "device": "cpu", "status": "ok", "reason": "",
             "test_acc": acc, "wall_time": 1.0, "images_per_s": 10.0, "time_to_target": None,
             "num_classes": 4} for o, acc in (("adam", 0.1225), ("sgd", 0.2401), ("momentum", 0.2299))]
    summaries = {s["optimizer"]: s for s in summarize(rows)}
    assert summaries["adam"]["chance"] == "below chance"
    assert summaries["adam"]["reason"] == "accuracy 0.1225 is below chance (0.2500 for 4 classes)"
    assert summaries["sgd"]["chance"] == "chance" and "within 2 points" in summaries["sgd"]["reason"]
    assert summaries["momentum"]["chance"] == "below chance"  # just past the margin
    headers, table = pivot(list(summaries.values()))
    by = {row[2]: dict(zip(headers, row)) for row in table}
    assert by["adam"]["cpu test acc"] == "0.1225 (below chance)"
    assert by["sgd"]["cpu test acc"] == "0.2401 (chance)"


def test_compare_marks_partial_failures():
    from zoo.bench.tables import compare, summarize

    def row(seed, status, acc):
        return {"dataset": "d", "model": "m", "optimizer": "o", "schedule": "s", "regularizer": "r",
                "launch": "single", "nprocs": 1, "device": "cpu", "seed": seed, "status": status,
                "reason": "loss is nan" if status != "ok" else "", "test_acc": acc,
                "wall_time": 1.0 if acc else None, "images_per_s": None, "time_to_target": None,
                "num_classes": 10}

    mine = summarize([row(0, "ok", 0.9), row(1, "diverged", None)])
    other = summarize([row(0, "ok", 0.8)])
    headers, (line,) = compare(mine, other)
    shown = dict(zip(headers, line))
    assert shown["acc"] == "0.9000 ± 0.0000 (1/2 ok)" and shown["other acc"] == "0.8000"


def test_an_offline_first_demo_ends_with_a_table_on_the_shipped_sample(tmp_path, repo_root, db_rows):
    """`python3 dev.py demo` on a fresh machine with no MNIST and no network."""
    import socket

    with socket.socket() as sock:  # a port nobody listens on: every download is refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k != "ZOO_DATA_DIR"}
    env.update(ZOO_MNIST_URL=f"http://127.0.0.1:{port}/", XDG_CACHE_HOME=str(tmp_path / "cache"))
    out = tmp_path / "demo"
    proc = subprocess.run([sys.executable, str(repo_root / "dev.py"), "demo", "--out", str(out),
                           "--quiet"], capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    warnings = [line for line in proc.stderr.splitlines() if "MNIST could not be found" in line]
    assert len(warnings) == 1 and "not representative" in warnings[0]  # once, not per cell
    lines = proc.stdout.splitlines()
    headers, body = re.split(r"\s{2,}", lines[0].strip()), lines[2:]
    assert len(body) == 8
    column = headers.index("cpu test acc")
    assert all(0 < float(re.split(r"\s{2,}", line.strip())[column].split()[0]) <= 1 for line in body)
    rows = db_rows(out)
    assert len(rows) == 8 and {r["status"] for r in rows} == {"ok"}
    assert "mnist_sample" in proc.stderr.split("data: ")[-1]
    assert not list((tmp_path / "cache").rglob("*.gz"))  # nothing half-downloaded was kept
