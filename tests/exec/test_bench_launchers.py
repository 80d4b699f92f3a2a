"""zoo bench through every launch strategy (real processes on CPU), and missing devices."""

from __future__ import annotations

import json
import math
import platform
import re
import subprocess
from datetime import datetime

import pytest


pytestmark = pytest.mark.integration  # starts processes or trains with Paddle

# 833 training images (1000 minus the validation split), --batch-size 100 per process:
# one process takes 9 steps an epoch (the partial last batch kept); two take 4 global
# batches of 200 (a partial global batch cannot be shared equally, so it is dropped).
STEPS = {1: 9, 2: 4}


@pytest.fixture(scope="module")
def two_procs(tmp_path_factory, bench, tiny_mlp):
    out = tmp_path_factory.mktemp("launch2") / "b"
    proc = bench(out, "--models", "mlp", "--optimizers", "sgd", "--launch", "single,spawn,launch",
                 "--nprocs", "2", *tiny_mlp)
    return out, proc


@pytest.fixture(scope="module")
def one_proc(tmp_path_factory, bench, tiny_mlp, missing_gpu):
    out = tmp_path_factory.mktemp("launch1") / "b"
    proc = bench(out, "--models", "mlp", "--optimizers", "sgd", "--launch", "spawn,launch",
                 "--nprocs", "1", "--devices", f"cpu,{missing_gpu()}", *tiny_mlp)
    return out, proc


@pytest.fixture(scope="session")
def check_ok_row(paddle_distribution_version, repo_root):
    def _check_ok_row(row):
        assert row["status"] == "ok", (row["slug"], row["reason"])
        assert 0 < row["test_acc"] <= 1
        assert row["images_per_s"] > 0 and row["wall_time"] > 0 and row["train_time"] > 0
        assert row["epochs_done"] in (1, "1")
        assert row["paddle_version"] == paddle_distribution_version()
        assert row["host"] == platform.node()
        # the commit zoo ran from (HEAD may have moved on since: compare with the history)
        assert re.fullmatch(r"[0-9a-f]{7,40}", row["git_rev"]), row["git_rev"]
        assert subprocess.run(["git", "cat-file", "-e", row["git_rev"] + "^{commit}"], cwd=repo_root).returncode == 0
        started, ended = (datetime.fromisoformat(row[k]) for k in ("started_at", "ended_at"))
        assert started <= ended

    return _check_ok_row


def test_single_spawn_and_launch_with_two_processes(two_procs, db_rows, metrics, cell_dir, one, check_ok_row):
    out, proc = two_procs
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = db_rows(out)
    assert sorted((r["launch"], r["nprocs"]) for r in rows) == [("launch", 2), ("single", 1), ("spawn", 2)]
    for row in rows:
        check_ok_row(row)
        run = metrics(cell_dir(out, f"mlp-sgd-constant-none-{row['launch']}{row['nprocs']}-cpu-s0"))
        assert run["status"] == "ok" and run["world_size"] == row["nprocs"]
        # --batch-size is per process: two processes take half the steps
        assert run["epochs"][0]["step"] == STEPS[row["nprocs"]]
        assert math.isclose(run["test"]["acc"], row["test_acc"])
    # spawn and launch run the same sharded training: the same result
    assert one(rows, launch="spawn")["test_acc"] == one(rows, launch="launch")["test_acc"]
    launch_dir = cell_dir(out, "mlp-sgd-constant-none-launch2-cpu-s0")
    for rank in (0, 1):
        assert (launch_dir / "logs" / f"workerlog.{rank}").stat().st_size > 0
    assert (cell_dir(out, "mlp-sgd-constant-none-spawn2-cpu-s0") / "worker.log").is_file()


@pytest.mark.parametrize("launch", ["spawn", "launch"])
def test_ranks_end_with_equal_parameters(two_procs, launch, cell_dir):
    """Contract: every rank of an ok run with world_size > 1 writes replicas/rank-<r>.json
    with the sha256 of all its final parameters (structured-name order)."""
    out, _ = two_procs
    replicas = cell_dir(out, f"mlp-sgd-constant-none-{launch}2-cpu-s0") / "replicas"
    found = sorted(p.name for p in replicas.glob("rank-*.json")) if replicas.is_dir() else []
    assert found == ["rank-0.json", "rank-1.json"], f"{replicas}: {found}"
    data = [json.loads((replicas / name).read_text()) for name in found]
    assert [d["rank"] for d in data] == [0, 1]
    assert all(re.fullmatch(r"[0-9a-f]{64}", d["sha256"]) for d in data), data
    assert data[0]["sha256"] == data[1]["sha256"]


def test_spawn_and_launch_with_one_process_and_a_missing_gpu(one_proc, db_rows, one, missing_gpu, metrics,
                                                             cell_dir, check_ok_row):
    out, proc = one_proc
    assert proc.returncode == 0, proc.stderr[-3000:]  # skipped cells are not failures
    rows = db_rows(out)
    assert len(rows) == 4
    for launch in ("spawn", "launch"):
        row = one(rows, launch=launch, device="cpu")
        assert row["nprocs"] == 1
        check_ok_row(row)
        assert metrics(cell_dir(out, f"mlp-sgd-constant-none-{launch}1-cpu-s0"))["epochs"][0]["step"] == 9
        gpu = one(rows, launch=launch, device=missing_gpu())
        assert gpu["status"] == "skipped"
        assert "not available" in gpu["reason"] and missing_gpu() in gpu["reason"]
        assert gpu["test_acc"] is None
        slug = f"mlp-sgd-constant-none-{launch}1-{missing_gpu().replace(':', '')}-s0"
        assert not list((out / "cells").glob(f"*{slug}-*/job.json"))
    # both devices are columns; the gpu ones say skipped, never a number
    header, _, *body = proc.stdout.splitlines()
    assert "cpu test acc" in header and f"{missing_gpu()} test acc" in header
    columns = re.split(r"\s{2,}", header.strip())
    gpu_columns = [i for i, name in enumerate(columns) if name.startswith(f"{missing_gpu()} ")]
    assert len(gpu_columns) >= 2 and len(body) == 2
    assert all({re.split(r"\s{2,}", line.strip())[i] for i in gpu_columns} == {"skipped"} for line in body)


@pytest.mark.parametrize("sets, needle", [
    (("launcher.master=10.0.0.1:99999", "launcher.nnodes=2"), "port in 1-65535"),
    (("launcher.master_port=70000",), "port in 1-65535"),
    # Without the address where its ranks meet, rank 0 waited for a peer until the
    # cell's timeout; it is refused before anything trains.
    (("launcher.nnodes=2",), "needs launcher.master=HOST:PORT"),
])
def test_launch_addresses_are_checked_before_anything_trains(tmp_path, sets, needle, bench, tiny_mlp,
                                                             assert_one_line_error):
    args = [item for s in sets for item in ("--set", s)]
    proc = bench(tmp_path / "b", "--models", "mlp", "--optimizers", "sgd", "--launch", "launch",
                 *args, *tiny_mlp, timeout=120)
    assert_one_line_error(proc, needle)
    assert not list((tmp_path / "b").glob("cells/*/metrics.json"))


def test_a_sweep_whose_every_cell_was_skipped_exits_4(tmp_path, bench, missing_gpu, tiny_mlp, db_rows):
    out = tmp_path / "b"
    proc = bench(out, "--models", "mlp", "--optimizers", "sgd", "--devices", missing_gpu(), *tiny_mlp)
    assert proc.returncode == 4, proc.stderr[-3000:]
    assert "zoo: every cell was skipped" in proc.stderr
    (row,) = db_rows(out)
    assert row["status"] == "skipped" and missing_gpu() in row["reason"]
