"""Warm start: `single` cells forked from a process that has paddle imported must give
exactly what a fresh process gives, and a dead fork server must cost no finished work."""

from __future__ import annotations

import os
import signal
import subprocess

import numpy as np

from zoo import checkpoint as ckpt
import pytest

pytestmark = pytest.mark.integration  # starts processes or trains with Paddle


def final_arrays(run):
    return ckpt.load_checkpoint(ckpt.list_checkpoints(run)[-1])[0]


def test_warm_and_cold_cells_are_bitwise_equal(tmp_path, probe_env, tiny_mlp, bench, cell_dir, metrics,
                                               probes):
    warm, cold = tmp_path / "warm", tmp_path / "cold"
    args = ("--models", "probe", "--optimizers", "adam,momentum", *tiny_mlp)
    assert bench(warm, *args, env=probe_env).returncode == 0
    assert bench(cold, *args, "--cold-start", env=probe_env).returncode == 0
    assert (warm / "forkserver.log").exists() and not (cold / "forkserver.log").exists()
    for optimizer in ("adam", "momentum"):
        a, b = cell_dir(warm, f"probe-{optimizer}"), cell_dir(cold, f"probe-{optimizer}")
        # the warm cell really was forked by the fork server, the cold one started by zoo bench
        assert {"zoo_forkserver.py" in step["parent"] for step in probes(a)} == {True}
        assert {"zoo_forkserver.py" in step["parent"] for step in probes(b)} == {False}
        got, want = final_arrays(a), final_arrays(b)
        assert got.keys() == want.keys()
        assert all(np.array_equal(got[k], want[k]) for k in got)
        assert metrics(a)["test"] == metrics(b)["test"]


def test_killed_fork_server_costs_no_finished_work(tmp_path, monkeypatch, faulty_kit, marked, bench_cmd,
                                                   repo_root, tiny_mlp, wait_for, kill_tree, processes_with,
                                                   db_rows, metrics, assert_no_processes):
    kit = faulty_kit(tmp_path, monkeypatch)
    env = marked(kit.env())
    out = tmp_path / "run"
    proc = subprocess.Popen(bench_cmd(out, "--models", "slow", "--optimizers", "sgd,adam", *tiny_mlp,
                                      "--checkpoint-every", "2"),
                            env=env, cwd=repo_root, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        slow = wait_for(lambda: next((out / "cells").glob("*slow-sgd-*"), None)
                        if (out / "cells").exists() else None, 120, "the slow cell", proc)
        wait_for(lambda: ckpt.list_checkpoints(slow), 120, "a checkpoint of the slow cell", proc)
        server = [line.split(":")[0] for line in processes_with("zoo_forkserver.py")
                  if env["ZOO_TEST_MARK"] in open(f"/proc/{line.split(':')[0]}/environ", "rb").read().decode(errors="replace")]
        assert server, "no fork server running"
        for pid in server:
            os.kill(int(pid), signal.SIGKILL)
        stdout, stderr = proc.communicate(timeout=300)
    finally:
        kill_tree(proc)
    assert proc.returncode == 0, stderr[-3000:]
    rows = {r["optimizer"]: r for r in db_rows(out)}
    assert rows["sgd"]["status"] == "ok" and rows["adam"]["status"] == "ok"
    assert metrics(slow)["resumed_from"] is not None  # continued, not started over
    assert "running this cell in a fresh process" in (slow / "worker.log").read_text()
    assert_no_processes(env["ZOO_TEST_MARK"])


def test_plugin_printing_does_not_break_the_fork_server(tmp_path, plugin_kit, noisy_plugin, bench, tiny_mlp,
                                                        db_rows, cell_dir):

    plugin_kit.add("zoo_test_noisy", noisy_plugin)
    out = tmp_path / "run"
    proc = bench(out, "--models", "mlp", "--optimizers", "sgd", *tiny_mlp, env=plugin_kit.env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert [r["status"] for r in db_rows(out)] == ["ok"]
    log = (out / "forkserver.log").read_text()
    assert "noisy: hello from import" in log and "noisy: raw bytes from the hook" in log
    assert "fresh process" not in (cell_dir(out, "mlp-sgd") / "worker.log").read_text()


def test_a_fork_server_dying_on_start_is_reaped_and_its_pipes_closed(tmp_path, plugin_kit,
                                                                       monkeypatch):
    import pytest

    from zoo.exec.forkserver_client import ForkServer, ForkServerError

    plugin_kit.add("zoo_test_kills_server", """
        import os, sys

        if sys.argv[0].endswith("zoo_forkserver.py"):
            os._exit(3)
    """)
    monkeypatch.setenv("PYTHONPATH", plugin_kit.env()["PYTHONPATH"])
    fds = sorted(os.listdir("/proc/self/fd"))
    with pytest.raises(ForkServerError, match="did not start"):
        ForkServer(tmp_path / "forkserver.log")
    assert sorted(os.listdir("/proc/self/fd")) == fds
    assert not [pid for pid in os.listdir("/proc") if _zombie_child(pid)]


def _zombie_child(pid: str) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            state, parent = handle.read().rpartition(")")[2].split()[:2]
    except (OSError, ValueError):
        return False
    return state == "Z" and int(parent) == os.getpid()


def test_the_fork_server_client_is_still_importable_from_its_old_home():
    import pytest

    import zoo.exec.process as process
    from zoo.exec import forkserver_client

    assert (process.ForkServer, process.ForkServerError) == (
        forkserver_client.ForkServer, forkserver_client.ForkServerError)
    with pytest.raises(AttributeError, match="no attribute 'Forkserver'"):
        process.Forkserver  # noqa: B018
