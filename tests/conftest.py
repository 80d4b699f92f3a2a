"""Shared fixtures: throwaway plugins, registries and running the real CLI."""

from __future__ import annotations

import os
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


def assert_one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> str:
    """A failed command prints one ``zoo: error:`` line and no traceback."""
    assert proc.returncode != 0, proc.stdout
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("zoo: error:")]
    assert len(errors) == 1, proc.stderr
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]
