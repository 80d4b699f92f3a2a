"""zoo.layout: the names of a run's and a sweep's files, and one writer per file: job.json
is written by whoever starts a run (a sweep's runner, ``zoo train``), never by the worker."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from zoo.data.sample import MNIST_SAMPLE_DIR
from zoo.exec.launch import worker_command
from zoo.job import Job
from zoo.layout import RunDir, SweepDir
import pytest

pytestmark = pytest.mark.integration  # starts processes or trains with Paddle


def test_the_names_on_disk_that_old_runs_and_users_rely_on(tmp_path):
    cell = SweepDir(str(tmp_path)).cell("mlp-sgd-s0")
    assert cell.path == tmp_path / "cells" / "mlp-sgd-s0"
    names = [cell.job_file, cell.metrics_file, cell.progress_file, cell.launch_file,
             cell.log_file, cell.launcher_logs, cell.checkpoints, cell.vdl, cell.replica_file(1)]
    assert [str(p.relative_to(cell.path)) for p in names] == [
        "job.json", "metrics.json", "progress.json", "launch.json", "worker.log", "logs",
        "checkpoints", "vdl", "replicas/rank-1.json"]
    assert SweepDir(tmp_path).results_db == tmp_path / "results.db"


def test_what_a_folder_is(tmp_path):
    run, sweep = RunDir(tmp_path / "run"), SweepDir(tmp_path / "sweep")
    assert not run.is_run() and not sweep.is_sweep()
    run.path.mkdir()
    run.metrics_file.write_text("{}")
    sweep.path.mkdir()
    sweep.results_db.write_bytes(b"")
    assert run.is_run() and sweep.is_sweep() and not RunDir(sweep.path).is_run()


def test_the_launch_stamp_is_read_back_or_none(tmp_path):
    run = RunDir(tmp_path)
    assert run.launched_at() is None  # a plain `zoo train`: no stamp
    before = time.time()
    run.stamp_launch()
    assert before <= run.launched_at() <= time.time()
    for damaged in ("", "[]", '{"launched_at": "soon"}', '{"other": 1}'):
        run.launch_file.write_text(damaged)
        assert run.launched_at() is None, damaged


def tiny_job(out: Path) -> Job:
    return Job(out=str(out), entries={"models": "mlp", "optimizers": "sgd"}, epochs=1,
               params={"models": {"hidden1": 32, "hidden2": 16}, "datasets": {"progress": False}},
               data_dir=str(MNIST_SAMPLE_DIR))


def test_the_worker_reads_job_json_and_never_writes_it(tmp_path):
    run = RunDir(tmp_path / "cell")
    run.write_job(tiny_job(run.path))  # as a sweep's runner does
    before, text = os.stat(run.job_file), run.job_file.read_bytes()
    proc = subprocess.run(worker_command(run.job_file), cwd=run.path, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(run.metrics_file.read_text())["status"] == "ok"
    after = os.stat(run.job_file)
    # A rewrite through a rename gives a new inode; one in place, a new mtime.
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert run.job_file.read_bytes() == text


def test_zoo_train_writes_its_job_json_itself(tmp_path, run_zoo):
    out = tmp_path / "run"
    args = ["--model", "mlp", "--optimizer", "sgd", "--set", "model.hidden1=32", "--set",
            "model.hidden2=16", "--epochs", "1", "--quiet", "--data-dir", str(MNIST_SAMPLE_DIR),
            "--set", "dataset.progress=false"]
    proc = run_zoo("train", *args, "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = RunDir(out)
    job = Job.load(run.job_file)
    assert job == Job.from_dict(json.loads(run.metrics_file.read_text())["job"])
    # --resume with a setting that does not change the result: the command writes the
    # job it continues with (there is no runner to do it).
    proc = run_zoo("train", "--resume", str(out), "--keep", "5", "--quiet")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert Job.load(run.job_file) == Job.from_dict({**job.__dict__, "keep": 5})
