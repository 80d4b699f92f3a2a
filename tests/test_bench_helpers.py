"""Helpers shared by the ``test_bench_*`` modules (this module holds no tests).

Every sweep here is real: ``zoo bench`` in a fresh process, real workers, real Paddle on
the 1000-image MNIST subset, with cells small enough to keep the suite fast.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import ROOT, SMALL_MNIST, PluginKit

pytestmark = pytest.mark.integration  # starts processes or trains with Paddle

# A 784-32-10 MLP (hidden2 is accepted but unused by the throwaway models below).
TINY = ("--set", "model.hidden1=32", "--set", "model.hidden2=16")
QUICK = ("--epochs", "1", "--batch-size", "100", "--data-dir", str(SMALL_MNIST), "--quiet")
MARK = "ZOO_TEST_MARK"

# Throwaway models for fault isolation and resume.  Each is a small MLP whose forward
# misbehaves at a given *training* step (evaluation is left alone):
#   bad_factory   its factory raises, but only inside a worker (preflight passes)
#   bad_forward   raises at step 2            bad_nan      returns NaN logits
#   bad_exit      os._exit(7) at step 3       bad_sigkill  SIGKILLs itself at step 3
#   bad_hang      sleeps forever at step 2    bad_hang1    only rank 1 does (spawn/launch)
#   slow          sleeps `delay` s per step (or $ZOO_TEST_DELAY, which does not change the
#                 cell); with $ZOO_TEST_DIE_ONCE naming an existing
#                 file it deletes it and os._exit(9)s at its first step
# Each appends "rank R" to $ZOO_TEST_STEP_LOG, when set, at every training step.
#   broken_factory  its factory always raises (preflight must refuse the sweep)
FAULTY_PLUGIN = '''
import functools, os, signal, sys, time

import zoo


def _misbehave(kind, step, delay):
    rank = int(os.environ.get("PADDLE_TRAINER_ID", "0"))
    if os.environ.get("ZOO_TEST_STEP_LOG"):  # one line per training step: who ran it
        with open(os.environ["ZOO_TEST_STEP_LOG"], "a") as log:
            log.write(f"rank {rank}\\n")
    delay = float(os.environ.get("ZOO_TEST_DELAY", delay))
    if delay:
        time.sleep(delay)
    once = os.environ.get("ZOO_TEST_DIE_ONCE")
    if kind == "slow" and step == 1 and once and os.path.exists(once):
        os.remove(once)
        os._exit(9)
    if kind == "forward" and step == 2:
        raise ValueError("forward exploded at step 2")
    if kind == "exit" and step == 3:
        os._exit(7)
    if kind == "sigkill" and step == 3:
        os.kill(os.getpid(), signal.SIGKILL)
    if step == 2 and (kind == "hang" or (kind == "hang1" and rank == 1)):
        while True:
            time.sleep(1)


def _factory(kind):
    def build(input_shape, num_classes, *, hidden1: int = 32, hidden2: int = 16,
              delay: float = 0.0):
        import paddle

        in_worker = sys.argv[-1].endswith("job.json")
        if kind == "broken_factory" or (kind == "factory" and in_worker):
            raise RuntimeError(f"factory of {kind} exploded")
        c, h, w = input_shape

        class Net(paddle.nn.Layer):
            def __init__(self):
                super().__init__()
                self.fc1 = paddle.nn.Linear(c * h * w, hidden1)
                self.fc2 = paddle.nn.Linear(hidden1, num_classes)
                self.calls = 0

            def forward(self, x):
                if self.training:
                    self.calls += 1
                    _misbehave(kind, self.calls, delay)
                y = self.fc2(paddle.nn.functional.relu(self.fc1(paddle.flatten(x, 1))))
                return y * float("nan") if kind == "nan" else y

        return Net()
    return build


@zoo.hookimpl
def zoo_register_models(register):
    for kind in ("factory", "forward", "nan", "exit", "sigkill", "hang", "hang1"):
        register(f"bad_{kind}", _factory(kind), description=f"misbehaves: {kind}",
                 defaults={"hidden1": 32, "hidden2": 16, "delay": 0.0})
    register("broken_factory", _factory("broken_factory"), description="always raises",
             defaults={"hidden1": 32, "hidden2": 16, "delay": 0.0})
    # partial(): a factory's signature is where its defaults are declared
    register("slow", functools.partial(_factory("slow"), delay=0.25),
             description="sleeps every training step",
             defaults={"hidden1": 32, "hidden2": 16, "delay": 0.25})
'''


def faulty_kit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PluginKit:
    kit = PluginKit(tmp_path, monkeypatch)
    kit.add("zoo_bench_faults", FAULTY_PLUGIN)
    return kit


def marked(env: dict[str, str] | None = None) -> dict[str, str]:
    """A copy of ``env`` with a unique marker every descendant process inherits."""
    env = dict(os.environ if env is None else env)
    env[MARK] = uuid.uuid4().hex
    return env


def bench_cmd(out: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "zoo", "bench", "--out", str(out), *QUICK, *args]


def bench(out: Path, *args: str, env: dict | None = None, timeout: float = 300
          ) -> subprocess.CompletedProcess:
    return subprocess.run(bench_cmd(out, *args), capture_output=True, text=True, env=env,
                          timeout=timeout, cwd=ROOT)


def zoo(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "zoo", *args], capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=ROOT)


def db_rows(out: Path, table: str = "results") -> list[dict]:
    con = sqlite3.connect(str(out / "results.db"))
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute(f"SELECT * FROM {table} ORDER BY rowid")]
    finally:
        con.close()


def rows_so_far(out: Path) -> list[dict]:
    """The rows of a sweep that may be starting: none while results.db or its table is not
    there yet (a poll can land between the file's creation and its schema)."""
    try:
        return db_rows(out) if (out / "results.db").exists() else []
    except sqlite3.OperationalError:
        return []


def unrecord(out: Path, where: str) -> None:
    """Set the rows ``where`` (SQL) back to ``running``, as a runner killed after telling the
    pruner or study how a cell ended, and before the store recorded it, leaves them."""
    con = sqlite3.connect(str(out / "results.db"))
    with con:
        con.execute(f"UPDATE results SET status = 'running', reason = '' WHERE {where}")
    con.close()


def one(rows: list[dict], **match) -> dict:
    found = [r for r in rows if all(r[k] == v for k, v in match.items())]
    assert len(found) == 1, (match, [(r["slug"], r["status"]) for r in rows])
    return found[0]


def cell_dir(out: Path, prefix: str) -> Path:
    found = sorted((out / "cells").glob(f"*{prefix}-*"))
    assert len(found) == 1, (prefix, found)
    return found[0]


def metrics(path: Path) -> dict:
    return json.loads((path / "metrics.json").read_text())


def _proc_text(pid: str, name: str) -> str:
    try:
        return (Path("/proc") / pid / name).read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def processes_with(*needles: str) -> list[str]:
    """Live (non-zombie) processes whose command line or environment holds a needle."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        stat = _proc_text(entry.name, "stat")
        if not stat or stat.rpartition(")")[2].split()[:1] == ["Z"]:
            continue
        cmdline, environ = _proc_text(entry.name, "cmdline"), _proc_text(entry.name, "environ")
        if any(n in cmdline or n in environ for n in needles):
            found.append(f"{entry.name}: {cmdline[:200]}")
    return found


def assert_no_processes(*needles: str, within: float = 15.0) -> None:
    """No process with a needle survives (PDEATHSIG and group kills are asynchronous)."""
    deadline = time.monotonic() + within
    while True:
        left = processes_with(*needles)
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    assert not left, "orphaned processes:\n" + "\n".join(left)


def without_optuna(tmp_path: Path, env: dict[str, str]) -> dict[str, str]:
    """``env`` in which ``import optuna`` fails as if it were not installed (it stays
    installed: a module of that name earlier on the path raises ImportError)."""
    blocked = tmp_path / "blocked" / "optuna"
    blocked.mkdir(parents=True)
    (blocked / "__init__.py").write_text('raise ImportError("No module named \'optuna\' (blocked by the test)")\n')
    return {**env, "PYTHONPATH": os.pathsep.join([str(blocked.parent), env.get("PYTHONPATH", "")])}


def wait_for(predicate, timeout: float, what: str, proc: subprocess.Popen | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process ended (code {proc.returncode}) before {what}: "
                                 f"{proc.stderr.read() if proc.stderr else ''}")
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def kill_tree(proc: subprocess.Popen) -> None:
    """Test cleanup: the runner was started in its own session; end that session."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def sigkill_midway(out: Path, args: tuple[str, ...], env: dict[str, str]) -> None:
    """Run ``zoo bench`` (slowed down), SIGKILL it once a cell has finished ok and the next
    is training (its progress written), and check that its fork server and workers die
    with it (PDEATHSIG: not all in the same instant)."""
    killed_env = marked({**env, "ZOO_TEST_DELAY": "0.2"})
    runner = subprocess.Popen(bench_cmd(out, *args), env=killed_env, cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        def first_done_second_going():
            rows = rows_so_far(out)
            return len(rows) >= 2 and rows[0]["status"] == "ok" and rows[-1]["status"] == "running" \
                and (out / "cells" / rows[-1]["slug"] / "progress.json").exists()
        wait_for(first_done_second_going, 240, "a finished cell and a running one", runner)
        os.kill(runner.pid, signal.SIGKILL)
        runner.wait(timeout=30)
    finally:
        kill_tree(runner)
    assert_no_processes(f"{MARK}={killed_env[MARK]}")
