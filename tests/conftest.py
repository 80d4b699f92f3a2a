"""Shared fixtures: throwaway plugins, registries and running the real CLI."""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SMALL_MNIST = ROOT / "zoo" / "data" / "mnist_sample"  # the packaged mnist-sample
SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist-5k"


def _builtins() -> list[str]:
    """The built-in plugin modules, as registry.toml lists them (one list, not a copy)."""
    from zoo.config import packaged_registry_path, parse_config

    path = packaged_registry_path()
    return parse_config(path, path.read_text(encoding="utf-8")).builtin


BUILTINS = _builtins()


@functools.lru_cache(maxsize=1)
def cuda_gpus() -> int:
    """GPUs this Paddle can use: 0 on a CPU build (as here), else the CUDA device count."""
    import paddle

    return paddle.device.cuda.device_count() if paddle.device.is_compiled_with_cuda() else 0


def missing_gpu() -> str:
    """A GPU this machine does not have: ``gpu:0`` on a CPU build, the next index on a
    CUDA build, so "not available" tests assert the right thing on both."""
    return f"gpu:{cuda_gpus()}"


def paddle_distribution_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("paddlepaddle")
    except PackageNotFoundError:
        return version("paddlepaddle-gpu")


def registry_text(builtin=BUILTINS, grid_extra="", disabled=(), tail="") -> str:
    plugin_list = ", ".join(f'"{m}"' for m in builtin)
    disabled_list = ", ".join(f'"{m}"' for m in disabled)
    return textwrap.dedent(f"""\
        [plugins]
        builtin = [{plugin_list}]
        disabled = [{disabled_list}]

        [grid]
        datasets = ["mnist"]
        models = ["mlp", "cnn"]
        optimizers = ["sgd"]
        schedules = ["constant"]
        regularizers = ["none"]
        launchers = ["single"]
        devices = ["cpu"]
        nprocs = 1
        epochs = 1
        batch_size = 50
        seed = 0
        {grid_extra}
        """) + textwrap.dedent(tail)


class PluginKit:
    """Writes throwaway plugin modules and a registry.toml that loads them.

    The modules are loaded through registry.toml exactly like built-ins; the fixture
    removes them from sys.path and sys.modules afterwards so nothing leaks between tests.
    """

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.dir = tmp_path / "throwaway_plugins"
        self.dir.mkdir()
        self.modules: list[str] = []
        self.registry = tmp_path / "registry.toml"
        monkeypatch.syspath_prepend(str(self.dir))
        monkeypatch.setenv("ZOO_REGISTRY", str(self.registry))
        monkeypatch.delenv("ZOO_STRICT_PLUGINS", raising=False)
        monkeypatch.delenv("ZOO_BLOCK_PLUGINS", raising=False)
        self.write_registry()

    def add(self, name: str, source: str) -> str:
        (self.dir / f"{name}.py").write_text(textwrap.dedent(source))
        self.modules.append(name)
        self.write_registry()
        return name

    def write_registry(self, **kwargs) -> Path:
        self.registry.write_text(registry_text(BUILTINS + self.modules, **kwargs))
        return self.registry

    def env(self) -> dict[str, str]:
        """Environment for a CLI subprocess that sees these plugins."""
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(self.dir), env.get("PYTHONPATH", "")])
        env["ZOO_REGISTRY"] = str(self.registry)
        return env

    def cleanup(self) -> None:
        for name in self.modules:
            sys.modules.pop(name, None)


class StartsAProcess(RuntimeError):
    """Raised when a test without the ``integration`` marker starts a process."""


@contextlib.contextmanager
def _no_processes(nodeid: str):
    import _posixsubprocess

    def refuse(*args, **kwargs):
        raise StartsAProcess(f"{nodeid} starts a process (or a fixture of it does): mark it "
                             f"@pytest.mark.integration (or its module: pytestmark)")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(subprocess, "_fork_exec", refuse, raising=False)
        patch.setattr(_posixsubprocess, "fork_exec", refuse)
        for name in ("fork", "forkpty", "posix_spawn", "posix_spawnp", "system"):
            if hasattr(os, name):
                patch.setattr(os, name, refuse)
        yield


def _pure(item) -> bool:
    return item is not None and item.get_closest_marker("integration") is None


# ``pytest -m "not integration"`` is the pure suite: no test in it may start a process
# (subprocess, fork, multiprocessing, posix_spawn, os.system), in its body or in any fixture
# it is the first to need, whatever that fixture's scope. A test that does without the
# marker fails in every run, so the marker cannot silently go stale.
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    if not _pure(item):
        yield
        return
    with _no_processes(item.nodeid):
        yield


@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(fixturedef, request):
    item = getattr(request, "_pyfuncitem", None)  # the test the fixture is set up for
    if not _pure(item):
        yield
        return
    with _no_processes(item.nodeid):
        yield


@pytest.fixture
def plugin_kit(tmp_path, monkeypatch):
    kit = PluginKit(tmp_path, monkeypatch)
    yield kit
    kit.cleanup()


def run_zoo(*args: str, env: dict | None = None, timeout: float = 300,
            cwd: str | Path | None = None) -> subprocess.CompletedProcess:
    """Run the real console command in a fresh process."""
    return subprocess.run([sys.executable, "-m", "zoo", *args], capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=cwd)


def assert_one_line_error(proc: subprocess.CompletedProcess, *needles: str,
                          warnings: int = 0) -> str:
    """A refused command, as the README promises: exit code 2 and one ``zoo: error:`` line.

    stderr holds nothing else: no traceback, no second line, except ``warnings`` lines of
    ``zoo: warning:`` (say how many) for a caller whose input also warns.
    """
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:], proc.stdout[-2000:])
    assert lines and lines[-1].startswith("zoo: error:"), proc.stderr[-2000:]
    extra = lines[:-1]
    assert len(extra) == warnings and all(line.startswith("zoo: warning:") for line in extra), \
        proc.stderr[-2000:]
    for needle in needles:
        assert needle in lines[-1], lines[-1]
    return lines[-1]


def read_only_user() -> list[str]:
    """A command prefix running as a user for whom read-only files are read-only: none
    needed for an ordinary user; root writes through file modes, so it drops to nobody
    with setpriv.  Skips, saying why, where neither can be had."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root, who writes through file modes, and setpriv (util-linux) "
                    "is missing to run zoo as an unprivileged user")
    prefix = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
    probe = subprocess.run([*prefix, sys.executable, "-c", "import zoo.cli"], capture_output=True,
                           text=True, cwd="/", timeout=60)
    if probe.returncode != 0:
        pytest.skip(f"running as root, and uid 65534 cannot run zoo here: {probe.stderr[-300:]}")
    return prefix
