"""The Ray zoo starts for a sweep on this machine (``zoo.exec.ray_local``): it listens on
127.0.0.1 only (read from the kernel's socket table), needs no
/tmp/ray, and what a SIGKILLed driver leaves of it is reaped by the next
``zoo bench --executor ray``, which never touches a process zoo did not start."""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

from zoo.exec import ray_local

pytestmark = pytest.mark.integration  # starts processes or trains with Paddle


@pytest.fixture(scope="session")
def pids_with(processes_with):
    def _pids(needle: str) -> dict[int, str]:
        return {int(line.split(":")[0]): line.split(": ", 1)[1] for line in processes_with(needle)}

    return _pids


def _working_in(folder: Path) -> list[str]:
    """Live processes working in ``folder``: where Ray's renamed processes show no
    environment to find a marker in, they still keep the folder Ray started in."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            cwd = os.readlink(entry / "cwd").removesuffix(" (deleted)")
            if entry.name.isdigit() and (entry / "environ").read_bytes() and \
                    cwd.startswith(f"{folder}/"):
                found.append(f"{entry.name}: {(entry / 'cmdline').read_bytes()[:80]!r} in {cwd}")
        except OSError:
            continue
    return found


def _listeners(pids) -> list[tuple[int, str, int]]:
    """(pid, address, port) of each listening TCP socket these processes hold, read from
    /proc/net/tcp{,6} and mapped to the processes through their socket inodes."""
    owner = {}
    for pid in pids:
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                owner[target[8:-1]] = pid
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] != "0A" or fields[9] not in owner:  # 0A: LISTEN
                continue
            address, port = fields[1].split(":")
            # each 32-bit word of the address is in the kernel's (little-endian) order
            raw = b"".join(bytes.fromhex(address[i:i + 8])[::-1] for i in range(0, len(address), 8))
            ip = ipaddress.ip_address(raw)
            if ip.version == 6 and ip.ipv4_mapped:
                ip = ip.ipv4_mapped  # a v6 socket bound to ::ffff:127.0.0.1 is 127.0.0.1
            found.append((owner[fields[9]], str(ip), int(port, 16)))
    return found


@pytest.fixture
def short_tmp():
    """A fresh $TMPDIR without a ray/ folder in it (Ray's default place), short enough
    for Ray's socket paths."""
    folder = Path(tempfile.mkdtemp(prefix="zt", dir="/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_a_killed_drivers_ray_listened_on_loopback_only_and_the_next_run_reaps_it(tmp_path, monkeypatch,
                                                                                  short_tmp, faulty_kit,
                                                                                  marked, mark_variable,
                                                                                  tiny_mlp, bench_cmd,
                                                                                  repo_root, wait_for, bench,
                                                                                  assert_no_processes,
                                                                                  db_rows, pids_with):
    pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'zoo[ray]')")
    kit = faulty_kit(tmp_path, monkeypatch)
    state = tmp_path / "state"
    env = marked({**kit.env(), "ZOO_TEST_DELAY": "0.5", "TMPDIR": str(short_tmp),
                  "XDG_STATE_HOME": str(state), "ZOO_RAY_DIR": str(tmp_path / "zoo-ray")})
    for name in ("RAY_ADDRESS", "RAY_TMPDIR"):
        env.pop(name, None)
    mark = f"{mark_variable}={env[mark_variable]}"
    out = tmp_path / "b"
    args = ("--models", "slow", "--optimizers", "sgd", "--epochs", "2", "--checkpoint-every", "2",
            *tiny_mlp, "--executor", "ray")
    driver = subprocess.Popen(bench_cmd(out, *args), env=env, cwd=repo_root, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        wait_for(lambda: list((tmp_path / "zoo-ray").glob("*/*/checkpoints/step-*")), 240,
                 "the cell training on the local Ray", driver)
        running = pids_with(mark)
        listening = _listeners(running)
        servers = {running[pid].split()[0].rsplit("/", 1)[-1] for pid, _, _ in listening}
        assert {"gcs_server", "raylet"} <= servers, (servers, listening)
        assert all(ip == "127.0.0.1" for _, ip, _ in listening), listening
        (record,) = (state / "zoo" / "ray").glob("*.json")
        session = Path(json.loads(record.read_text())["temp_dir"])
        assert session.parent == short_tmp and session.is_dir()
        os.kill(driver.pid, signal.SIGKILL)  # the driver alone, as the OOM killer would
        driver.communicate(timeout=30)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
            monkeypatch.setenv("XDG_STATE_HOME", str(state))
            ray_local.reap()  # a failed check above must not leave this Ray running
    left = pids_with(mark)
    assert left, "Ray left nothing behind its killed driver: this test shows no reaping any more"
    nxt = bench(out, *args, "--dry-run", env=env)  # the next zoo run
    assert nxt.returncode == 0, nxt.stderr
    assert_no_processes(mark, within=5)
    assert not _working_in(short_tmp)
    assert not _listeners(left)
    assert not list((state / "zoo" / "ray").iterdir()) and not session.exists()
    # and it runs where Ray's default folder ($TMPDIR/ray, i.e. /tmp/ray) does not exist
    env.pop("ZOO_TEST_DELAY")
    rerun = bench(out, *args, env=env, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert [r["status"] for r in db_rows(out)] == ["ok"]
    assert "on node 127.0.0.1" in rerun.stderr
    assert not (short_tmp / "ray").exists()  # nor made it: `ray.init("auto")` never finds it
    assert_no_processes(mark, within=30)
    assert not _working_in(short_tmp)  # nothing of it outlives a clean end either
    assert not list((state / "zoo" / "ray").iterdir()) and not list(short_tmp.glob("zoo-ray-*"))


def _sleeper(cwd=None, **env) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"],
                            env={**os.environ, **env}, cwd=cwd)


def _record(folder: Path, token: str, pid: int, started: str | None, temp: Path | None = None):
    (folder / f"{token or 'empty'}.json").write_text(json.dumps(
        {"token": token, "driver_pid": pid, "driver_started": started, "temp_dir": str(temp or "")}))


def test_reap_kills_only_the_processes_of_zoo_rays_whose_driver_is_gone(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    folder = ray_local.state_dir()
    folder.mkdir(parents=True)
    gone = subprocess.Popen(["true"])
    gone.wait()
    orphaned, in_use = uuid.uuid4().hex, uuid.uuid4().hex
    session = tmp_path / f"{ray_local.PREFIX}abc"
    session.mkdir()
    _record(folder, orphaned, gone.pid, "1", session)
    _record(folder, "", gone.pid, "1")  # an empty token must not match every process
    var = ray_local.TOKEN_VAR
    live_session = tmp_path / f"{ray_local.PREFIX}live"
    live_session.mkdir()
    _record(folder, in_use, os.getpid(), ray_local._start_time(os.getpid()), live_session)
    victims = [_sleeper(**{var: orphaned}),
               _sleeper(cwd=session)]  # Ray's own renamed processes may show no environment
    survivors = [
        _sleeper(**{var: in_use}),  # a Ray whose zoo still runs
        _sleeper(cwd=live_session),
        _sleeper(**{var: orphaned + "0"}),  # a token that only starts alike
        _sleeper(**{var: ""}),
        _sleeper(),  # a user's own process: no token at all
    ]
    try:
        assert ray_local.reap() == sorted(p.pid for p in victims)
        assert all(p.wait(timeout=10) == -signal.SIGKILL for p in victims)
        assert all(p.poll() is None for p in survivors)
        assert not session.exists() and live_session.exists()
        assert sorted(p.name for p in folder.iterdir()) == sorted([f"{in_use}.json", "empty.json"])
    finally:
        for proc in [*victims, *survivors]:
            proc.kill()
            proc.wait()
