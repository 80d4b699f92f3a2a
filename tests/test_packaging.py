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


pytestmark = pytest.mark.integration  # starts processes or trains with Paddle


@pytest.fixture(scope="module")
def wheel(tmp_path_factory, repo_root):
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "src"
    # build from a copy so no build/ or egg-info lands in the working tree
    shutil.copytree(repo_root, source, ignore=shutil.ignore_patterns(
        ".venv", ".git", "runs", "build", "*.egg-info", "__pycache__", "tests", "examples"))
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                           "-q", "-w", str(tmp / "dist"), str(source)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    # setuptools warned at every install that zoo.data.mnist_sample is importable but
    # not a listed package (its data would be left out by a future setuptools).
    assert "Package would be ignored" not in proc.stderr, proc.stderr[-3000:]
    assert "BuildBackendWarning" not in proc.stderr, proc.stderr[-3000:]
    return next((tmp / "dist").glob("zoo-*.whl"))


def test_wheel_layout(wheel, repo_root):
    names = zipfile.ZipFile(wheel).namelist()
    assert not any(n.startswith("plugins/") for n in names)
    for needed in ("zoo/plugins/models.py", "zoo/plugins/vision.py", "zoo/plugins/vision_nets.py",
                   "zoo/registry.toml", "zoo/scripts/zoo_worker.py", "zoo/hookspecs.py",
                   "zoo/serving/app.py"):
        assert needed in names
    packaged = zipfile.ZipFile(wheel).read("zoo/registry.toml")
    assert packaged == (repo_root / "registry.toml").read_bytes()
    # The mnist-sample dataset (and mnist's offline fallback) travels byte for byte,
    # with the README that carries its licence and attribution.
    sample = repo_root / "zoo" / "data" / "mnist_sample"
    shipped = sorted(p.name for p in sample.iterdir())
    assert "README.md" in shipped and len([n for n in shipped if n.endswith("-ubyte.gz")]) == 4
    for name in shipped:
        assert zipfile.ZipFile(wheel).read(f"zoo/data/mnist_sample/{name}") == (sample / name).read_bytes()


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory):
    """The wheel installed into a folder of its own, away from the source tree."""
    target = tmp_path_factory.mktemp("installed") / "site"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                           str(target), str(wheel)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return target


def test_installed_copy_lists_its_builtins(installed, tmp_path):
    target = installed
    env = {**os.environ, "PYTHONPATH": str(target)}
    env.pop("ZOO_REGISTRY", None)
    code = "import json, zoo; from zoo.cli import main; print(zoo.__file__); main(['list', '--json'])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    first, rest = out.stdout.split("\n", 1)
    assert first.startswith(str(target))
    plugins = {row["plugin"] for row in json.loads(rest)}
    assert plugins == {"zoo.plugins.datasets", "zoo.plugins.models", "zoo.plugins.vision",
                       "zoo.plugins.optimizers", "zoo.plugins.schedules", "zoo.plugins.regularizers",
                       "zoo.plugins.launchers", "zoo.plugins.backends", "zoo.plugins.executors",
                       "zoo.plugins.pruners", "zoo.plugins.searchers"}


def test_installed_copy_loads_its_sample(installed, tmp_path):
    target = installed
    env = {**os.environ, "PYTHONPATH": str(target)}
    env.pop("ZOO_REGISTRY", None)
    code = ("from zoo.plugin import load_catalog; "
            "d = load_catalog().build('datasets', 'mnist-sample'); "
            "print(d.data_dir, len(d.train) + len(d.val), len(d.test))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    folder, train, test = out.stdout.split()
    assert folder == str(target / "zoo" / "data" / "mnist_sample") and (train, test) == ("1000", "500")
