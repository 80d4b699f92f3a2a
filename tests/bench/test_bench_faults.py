"""Fault isolation: a cell that raises, diverges, dies or hangs is recorded, and the sweep goes on."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration  # starts processes or trains with Paddle

TIMEOUT = "20"


def test_each_fault_gets_its_status_while_the_other_cells_finish(tmp_path, monkeypatch, faulty_kit, marked,
                                                                 bench_cmd, repo_root, tiny_mlp, bench,
                                                                 kill_tree, db_rows, one, assert_no_processes,
                                                                 mark_variable, cell_dir):
    kit = faulty_kit(tmp_path, monkeypatch)
    # A spawn cell in which rank 1 hangs (rank 0 waits for it in an all-reduce) runs in a
    # second sweep alongside: hung cells mostly sleep, so the two overlap cheaply.
    spawn_out, spawn_env = tmp_path / "spawn", marked(kit.env())
    spawn = subprocess.Popen(bench_cmd(spawn_out, "--models", "bad_hang1", "--launch", "spawn",
                                       "--nprocs", "2", "--cell-timeout", TIMEOUT, *tiny_mlp),
                             env=spawn_env, cwd=repo_root, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, start_new_session=True)
    try:
        out, env = tmp_path / "single", marked(kit.env())
        models = "bad_factory,bad_forward,bad_nan,bad_exit,bad_sigkill,bad_hang,mlp"
        proc = bench(out, "--models", models, "--cell-timeout", TIMEOUT, *tiny_mlp, env=env)
        _, spawn_stderr = spawn.communicate(timeout=240)
    finally:
        kill_tree(spawn)

    assert proc.returncode == 1, proc.stderr[-3000:]
    rows = db_rows(out)
    assert len(rows) == 7
    status = {r["model"]: (r["status"], r["reason"]) for r in rows}
    assert status["mlp"][0] == "ok"  # the last cell still ran, after every failure
    assert status["bad_factory"][0] == "failed" and "factory of factory exploded" in status["bad_factory"][1]
    assert status["bad_forward"] == ("failed", "ValueError: forward exploded at step 2")
    assert status["bad_nan"][0] == "diverged" and "nan" in status["bad_nan"][1]
    assert status["bad_exit"][0] == "failed" and status["bad_exit"][1].startswith("worker exited with code 7")
    assert status["bad_sigkill"][0] == "failed" and "SIGKILL" in status["bad_sigkill"][1]
    # a worker that died says so; paddle's startup warning is not why it died
    assert "warn" not in status["bad_exit"][1] + status["bad_sigkill"][1]
    assert status["bad_hang"][0] == "timeout" and "--cell-timeout 20" in status["bad_hang"][1]
    hung = one(rows, model="bad_hang")
    assert 20 <= hung["wall_time"] < 60
    for row in rows:
        if row["status"] != "ok":
            assert row["test_acc"] is None
    # the table never shows a number for a cell that did not finish ok
    # columns are two or more spaces apart; the last one holds the reasons
    lines = proc.stdout.splitlines()
    headers = re.split(r"\s{2,}", lines[0].strip())
    shown = [dict(zip(headers, re.split(r"\s{2,}", line.strip()))) for line in lines[2:]]
    table = {row["model"]: [row["cpu test acc"], row["cpu time s"]] for row in shown}
    assert table["mlp"][0].startswith("0.")
    for model, (state, _) in status.items():
        if model != "mlp":
            assert table[model] == [state, state], (model, table[model])
    # nothing of any cell outlives the sweep: not the hung worker, not its grandchildren
    assert_no_processes(f"{mark_variable}={env[mark_variable]}", str(cell_dir(out, "bad_hang-sgd") / "job.json"))

    assert spawn.returncode == 1, spawn_stderr[-3000:]
    (row,) = db_rows(spawn_out)
    assert (row["status"], row["nprocs"]) == ("timeout", 2), row["reason"]
    assert_no_processes(f"{mark_variable}={spawn_env[mark_variable]}", str(cell_dir(spawn_out, "bad_hang1") / "job.json"))


def test_a_registry_given_with_dash_dash_registry_reaches_the_workers(tmp_path, monkeypatch, faulty_kit,
                                                                      bench_cmd, tiny_mlp, db_rows):
    """Without $ZOO_REGISTRY the workers find the throwaway plugin through the job's
    registry_file (a relative path, resolved in the runner's and workers' folder)."""
    kit = faulty_kit(tmp_path, monkeypatch)
    env = kit.env()
    del env["ZOO_REGISTRY"]
    out = tmp_path / "b"
    proc = subprocess.run([sys.executable, "-m", "zoo", "--registry", kit.registry.name,
                           *bench_cmd(out, "--models", "bad_nan", *tiny_mlp)[3:]],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr[-3000:]
    (row,) = db_rows(out)
    assert row["status"] == "diverged", row["reason"]  # the worker built bad_nan
