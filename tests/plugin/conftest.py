"""Fixtures of the plugin tests: pip-installing an example plugin (a real third-party
package) into the environment running the tests, and running commands beside it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures import provide

BUILD_LEFTOVERS = ("build", "dist", "*.egg-info", "__pycache__", ".pytest_cache")


def example_env() -> dict[str, str]:
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env.pop("ZOO_BLOCK_PLUGINS", None)
    return env


def run_example(args: list[str], timeout: float = 180, **kwargs) -> subprocess.CompletedProcess:
    kwargs.setdefault("env", example_env())
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kwargs)


def pip(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return run_example([sys.executable, "-m", "pip", *args], timeout=600, **kwargs)


def install_example(src: Path) -> str:
    """Install ``src``; return how.  Without build isolation first (no index needed), which
    needs ``wheel`` or setuptools>=70.1 in the environment; else let pip fetch the build
    backend from its configured indexes (PIP_RETRIES=0: an unreachable one is skipped fast)."""
    attempts = [("no-build-isolation", ["--no-build-isolation"], {}),
                ("build-isolation", [], {"PIP_RETRIES": "0"})]
    outputs = []
    for how, flags, extra in attempts:
        result = pip("install", "--no-deps", *flags, str(src), env={**example_env(), **extra})
        if result.returncode == 0:
            return how
        outputs.append(f"--- pip install ({how}) ---\n{result.stdout}\n{result.stderr}")
    pytest.fail("could not pip-install the example plugin:\n" + "\n".join(outputs))


build_leftovers_fixture = provide(BUILD_LEFTOVERS, "build_leftovers")
run_example_fixture = provide(run_example)
pip_fixture = provide(pip)
install_example_fixture = provide(install_example)
