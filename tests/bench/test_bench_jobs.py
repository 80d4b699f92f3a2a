"""The local executor with --jobs: cells side by side on CPUs of their own, the same bits
as one at a time, and a killed parallel sweep that resumes every cell exactly once."""

from __future__ import annotations

import os
import signal
import subprocess

from pathlib import Path

import numpy as np
import pytest

from zoo import checkpoint as ckpt

pytestmark = pytest.mark.integration  # starts processes or trains with Paddle

CPUS = sorted(os.sched_getaffinity(0))  # whatever this machine lets the tests use
needs_two_cpus = pytest.mark.skipif(
    len(CPUS) < 2, reason=f"--jobs 2 needs a CPU per slot; this process may use only {CPUS}")


def final_arrays(run):
    return ckpt.load_checkpoint(ckpt.list_checkpoints(run)[-1])[0]


def _span(cpus: list[int]) -> str:
    return str(cpus[0]) if len(cpus) == 1 else \
        f"{cpus[0]}-{cpus[-1]}" if cpus == list(range(cpus[0], cpus[-1] + 1)) else ",".join(map(str, cpus))


@needs_two_cpus
def test_two_jobs_give_the_bits_of_one_job_with_the_same_threads(tmp_path, tiny_mlp, bench, db_rows, cell_dir,
                                                                 metrics, zoo):
    one, two = tmp_path / "one", tmp_path / "two"
    threads = len(CPUS) // 2  # --jobs 2's default: each slot's share of the CPUs
    args = ("--models", "mlp", "--optimizers", "sgd,adam,momentum", *tiny_mlp)
    first = bench(one, *args, "--jobs", "1", "--threads", str(threads))
    second = bench(two, *args, "--jobs", "2")
    assert first.returncode == 0, first.stderr[-3000:]
    assert second.returncode == 0, second.stderr[-3000:]
    rows_one, rows_two = db_rows(one), db_rows(two)
    # the same cells (threads are part of the key), run once each
    assert sorted(r["cell"] for r in rows_one) == sorted(r["cell"] for r in rows_two)
    assert {(r["threads"], r["shared"], r["executor"]) for r in rows_one} == {(threads, 0, "local")}
    assert {(r["threads"], r["shared"]) for r in rows_two} == {(threads, 1)}
    # slot s owns the s-th share of the CPUs this sweep may use
    assert {r["node"] for r in rows_two} <= {
        f"slot {s} (cpu {_span(CPUS[s * threads:(s + 1) * threads])})" for s in (0, 1)}
    assert len({r["node"] for r in rows_two}) == 2
    for optimizer in ("sgd", "adam", "momentum"):
        a, b = cell_dir(one, f"mlp-{optimizer}"), cell_dir(two, f"mlp-{optimizer}")
        got, want = final_arrays(b), final_arrays(a)
        assert got.keys() == want.keys()
        assert all(np.array_equal(got[k], want[k]) for k in got), optimizer
        assert metrics(a)["test"] == metrics(b)["test"]
    # times measured beside other cells say so; times measured alone do not
    assert "(shared machine)" in second.stdout and "(shared machine)" not in first.stdout
    assert "(shared machine)" in zoo("results", str(two)).stdout


def test_the_thread_count_changes_the_bits_so_it_is_part_of_the_cell(tmp_path, tiny_mlp, bench, db_rows,
                                                                     cell_dir):
    """Measured on Paddle 3.3.1 CPU: one and two threads give different parameters, so
    a result is only reused for the same thread count and the table shows it."""
    out = tmp_path / "b"
    args = ("--models", "mlp", "--optimizers", "sgd", *tiny_mlp)
    assert bench(out, *args).returncode == 0
    proc = bench(out, *args, "--threads", "2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "1 cells, 0 already finished, 1 to run" in proc.stderr
    assert "threads 1 -> 2" in proc.stderr  # says why the old result is not reused
    one_thread, two_threads = sorted(db_rows(out), key=lambda r: r["threads"])
    assert (one_thread["threads"], two_threads["threads"]) == (1, 2)
    assert one_thread["cell"] != two_threads["cell"]
    a = final_arrays(cell_dir(out, "mlp-sgd-constant-none-single1-cpu-s0"))
    b = final_arrays(cell_dir(out, "mlp-sgd-constant-none-single1-cpu-t2-s0"))
    assert not all(np.array_equal(a[k], b[k]) for k in a)
    header = proc.stdout.splitlines()[0].split()
    assert header[header.index("nprocs") + 1] == "threads"


@needs_two_cpus
def test_two_threads_give_the_same_bits_on_different_cpu_sets(tmp_path, probe_env, cell_dir, bench_cmd,
                                                              repo_root, tiny_mlp, probes):
    """Each thread count is deterministic whatever CPUs it runs on: T=2 on two CPUs and
    T=2 squeezed onto one other CPU end with equal parameters."""
    runs = {}
    for cpus in (CPUS[:2], CPUS[-1:]):
        out = tmp_path / "-".join(map(str, cpus))
        proc = subprocess.run(bench_cmd(out, "--models", "probe", "--optimizers", "adam", "--threads", "2",
                                        *tiny_mlp), env=probe_env, cwd=repo_root, capture_output=True, text=True,
                              timeout=300, preexec_fn=lambda cpus=cpus: os.sched_setaffinity(0, cpus))
        assert proc.returncode == 0, proc.stderr[-3000:]
        run = cell_dir(out, "probe-adam")
        assert {(tuple(p["cpus"]), p["omp"]) for p in probes(run)} == {(tuple(cpus), "2")}
        runs[tuple(cpus)] = run
    a, b = (final_arrays(run) for run in runs.values())
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


@needs_two_cpus
def test_concurrent_cells_run_on_disjoint_cpus_with_matching_threads(tmp_path, probe_env, bench, tiny_mlp,
                                                                     cell_dir, probes):
    out = tmp_path / "b"
    proc = bench(out, "--models", "probe", "--optimizers", "sgd,adam", "--launch", "single,spawn",
                 "--nprocs", "2", "--set", "model.delay=0.2", "--jobs", "2", "--threads", "1", *tiny_mlp,
                 env=probe_env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    singles = [probes(cell_dir(out, f"probe-{o}-constant-none-single1")) for o in ("sgd", "adam")]
    spawns = [probes(cell_dir(out, f"probe-{o}-constant-none-spawn2")) for o in ("sgd", "adam")]
    for steps in singles:
        assert len({tuple(s["cpus"]) for s in steps}) == 1 and len(steps[0]["cpus"]) == 1
        assert {s["omp"] for s in steps} == {"1"}
    # the two single cells did run at the same time, each on a CPU of its own
    (a, b) = singles
    assert a[0]["t"] < b[-1]["t"] and b[0]["t"] < a[-1]["t"], "the cells did not overlap"
    assert set(a[0]["cpus"]).isdisjoint(b[0]["cpus"])
    # a cell of two processes holds both slots: both CPUs, and nothing ran beside it
    spans = [(s[0]["t"], s[-1]["t"]) for s in [*singles, *spawns]]
    for steps in spawns:
        both = tuple(sorted(os.sched_getaffinity(0))[:2])
        assert {tuple(s["cpus"]) for s in steps} == {both} and len({s["pid"] for s in steps}) == 2
        begin, end = steps[0]["t"], steps[-1]["t"]
        assert sum(1 for lo, hi in spans if lo < end and begin < hi) == 1  # only itself


@needs_two_cpus
def test_a_killed_parallel_sweep_reruns_to_every_cell_exactly_once(tmp_path, probe_env, tiny_mlp, bench_cmd,
                                                                   repo_root, wait_for, kill_tree,
                                                                   assert_no_processes, mark_variable,
                                                                   db_rows, bench, metrics, probes):
    out = tmp_path / "b"
    args = ("--models", "probe", "--optimizers", "sgd,adam,momentum,adagrad", "--epochs", "2",
            "--checkpoint-every", "2", "--jobs", "2", *tiny_mlp)
    runner = subprocess.Popen(bench_cmd(out, *args), env={**probe_env, "ZOO_TEST_DELAY": "0.3"},
                              cwd=repo_root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              start_new_session=True)
    try:
        def two_checkpointed():
            found = list((out / "cells").glob("*/checkpoints/step-*")) if (out / "cells").is_dir() else []
            return len({p.parent.parent for p in found}) >= 2
        wait_for(two_checkpointed, 180, "two cells with checkpoints", runner)
        os.kill(runner.pid, signal.SIGKILL)
        runner.wait(timeout=30)
    finally:
        kill_tree(runner)
    assert_no_processes(f"{mark_variable}={probe_env[mark_variable]}", within=5)
    killed = db_rows(out)
    assert [r["status"] for r in killed].count("running") == 2
    before = {row["cell"]: len(probes(Path(row["cell_dir"])))
              if (Path(row["cell_dir"]) / "probe.jsonl").exists() else 0 for row in killed}
    rerun = bench(out, *args, env=probe_env)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    rows = db_rows(out)
    assert len(rows) == len({(r["cell"], r["seed"]) for r in rows}) == 4
    assert {r["status"] for r in rows} == {"ok"}
    for row in killed:
        if row["status"] == "running":
            run = metrics(Path(row["cell_dir"]))
            assert run["resumed_from"] is not None and run["global_step"] == 18
            # the steps this session really trained: only those left after the checkpoint
            ran = len(probes(Path(row["cell_dir"]))) - before[row["cell"]]
            assert ran == 18 - run["resumed_from"], (ran, run["resumed_from"])
    assert_no_processes(f"{mark_variable}={probe_env[mark_variable]}")


@pytest.mark.parametrize("option, value", [
    ("--jobs", "99999999999999999999"), ("--threads", "99999999999999999999"),
    ("--jobs", str(len(os.sched_getaffinity(0)) + 1)),  # cells beyond the CPUs it may use
    ("--threads", str((os.cpu_count() or 1) + 1)),  # threads beyond the machine's CPUs
])
def test_jobs_and_threads_beyond_the_cpus_are_refused_alike(tmp_path, option, value, bench, tiny_mlp,
                                                            assert_one_line_error):
    # --threads alone used to pass with --jobs 1 while --jobs did not, and an absurd
    # --jobs ended in an OverflowError from building its slots.  (One cell's threads may
    # exceed its affinity: a T=2 result reproduced on one CPU, see above.)
    proc = bench(tmp_path / "b", "--models", "mlp", "--optimizers", "sgd", option, value, *tiny_mlp)
    assert_one_line_error(proc, f"{option} {value}", "CPU")
    assert not (tmp_path / "b" / "results.db").exists()
