"""The built wheel: built-ins install as zoo.plugins (no top-level 'plugins'), the
catalogue and the launch script travel with it, and the installed copy works on its own."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from tests.conftest import ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "src"
    # build from a copy so no build/ or egg-info lands in the working tree
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".venv", ".git", "runs", "build", "*.egg-info", "__pycache__", "tests", "examples"))
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                           "-q", "-w", str(tmp / "dist"), str(source)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return next((tmp / "dist").glob("zoo-*.whl"))


def test_wheel_layout(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert not any(n.startswith("plugins/") for n in names)
    for needed in ("zoo/plugins/models.py", "zoo/registry.toml", "zoo/scripts/zoo_worker.py",
                   "zoo/hookspecs.py"):
        assert needed in names
    packaged = zipfile.ZipFile(wheel).read("zoo/registry.toml")
    assert packaged == (ROOT / "registry.toml").read_bytes()


def test_installed_copy_lists_its_builtins(wheel, tmp_path):
    target = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                           str(target), str(wheel)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    env = {**os.environ, "PYTHONPATH": str(target)}
    env.pop("ZOO_REGISTRY", None)
    code = "import json, zoo; from zoo.cli import main; print(zoo.__file__); main(['list', '--json'])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    first, rest = out.stdout.split("\n", 1)
    assert first.startswith(str(target))
    plugins = {row["plugin"] for row in json.loads(rest)}
    assert plugins == {"zoo.plugins.datasets", "zoo.plugins.models", "zoo.plugins.optimizers",
                       "zoo.plugins.schedules", "zoo.plugins.regularizers", "zoo.plugins.launchers"}
