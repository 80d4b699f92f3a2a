"""The built wheel: built-ins install as zoo.plugins (no top-level 'plugins'), the
catalogue and the launch script travel with it, and the installed copy works on its own."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

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
    # Only zoo's own: the environment may hold a third party's plugin too (the example
    # plugin's tests install zoo-lenet into it while this runs), and it is listed, rightly.
    plugins = {row["plugin"] for row in json.loads(rest) if row["plugin"].startswith("zoo.")}
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


# Packages are discovered, not listed (setup.py): every .py under zoo/ and plugins/ is in
# the wheel (plugins/ as zoo.plugins), and so is a subpackage added without touching the
# build configuration.  The checkout from this file's own place, needing no helper module.
CHECKOUT = Path(__file__).resolve().parents[1]

# Added to the copy the wheel is built from, as someone adding a subpackage would: one
# with an __init__.py, one without (a namespace folder, like zoo/data/mnist_sample).
NEW_FILES = {"zoo/newly_added/__init__.py": "", "zoo/newly_added/deeper/module.py": "X = 1\n",
             "plugins/newly_added/impl.py": "Y = 2\n"}


@pytest.fixture(scope="module")
def wheel_with_new_packages(tmp_path_factory):
    """The wheel of a copy with NEW_FILES added and no build configuration touched."""
    tmp = tmp_path_factory.mktemp("discovery")
    source = tmp / "src"
    shutil.copytree(CHECKOUT, source, ignore=shutil.ignore_patterns(
        ".venv", ".git", "runs", "build", "*.egg-info", "__pycache__", "tests", "examples"))
    for name, text in NEW_FILES.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(text)
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                           "-w", str(tmp / "dist"), str(source)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Package would be ignored" not in proc.stderr, proc.stderr[-3000:]
    assert "BuildBackendWarning" not in proc.stderr, proc.stderr[-3000:]
    return next((tmp / "dist").glob("zoo-*.whl"))


@pytest.fixture(scope="module")
def wheel_names(wheel_with_new_packages):
    return set(zipfile.ZipFile(wheel_with_new_packages).namelist())


def installed_name(relative: str) -> str:
    """Where a source file lands in the wheel: plugins/x.py installs as zoo/plugins/x.py."""
    return f"zoo/{relative}" if relative.startswith("plugins/") else relative


def test_every_source_file_is_in_the_wheel(wheel_names):
    sources = [p.relative_to(CHECKOUT).as_posix() for folder in ("zoo", "plugins")
               for p in (CHECKOUT / folder).rglob("*.py") if "__pycache__" not in p.parts]
    assert len(sources) > 150 and "plugins/launchers.py" in sources
    missing = sorted(s for s in sources if installed_name(s) not in wheel_names)
    assert missing == []


def test_a_new_subpackage_travels_without_configuration(wheel_names):
    assert {installed_name(name) for name in NEW_FILES} <= wheel_names


def test_nothing_but_zoo_and_its_metadata(wheel_with_new_packages, wheel_names):
    version = wheel_with_new_packages.name.split("-")[1]  # zoo-VERSION-py3-none-any.whl
    assert {name.split("/")[0] for name in wheel_names} == {"zoo", f"zoo-{version}.dist-info"}
    assert not any("__pycache__" in name for name in wheel_names)


TYPED_PLUGIN = """
from pathlib import Path

import zoo


class Nice(zoo.Launcher):
    max_nprocs = 1

    def command(self, job_file: Path, nprocs: int, device: str, log_dir: Path) -> list[str]:
        return ["nice", *zoo.worker_command(job_file)]


class Wrong(zoo.Launcher):
    def command(self, job_file: Path) -> list[str]:  # line 15: the contract takes four
        return zoo.worker_command(job_file, nprocs="two")  # line 16: an int or None
"""


def test_type_checkers_check_a_plugin_against_the_installed_surface(wheel_with_new_packages, tmp_path):
    site = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                           str(site), str(wheel_with_new_packages)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (tmp_path / "plugin.py").write_text(TYPED_PLUGIN)
    # The installed copy, from a folder of its own: mypy uses it only because of py.typed
    # (PEP 561); without it every zoo name would be Any and nothing below would be found.
    env = {**os.environ, "PYTHONPATH": str(site)}
    proc = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", "--follow-imports=silent",
                           "plugin.py"], capture_output=True, text=True, cwd=tmp_path, env=env)
    errors = [line for line in proc.stdout.splitlines() if ": error:" in line]
    assert [line.split(":")[1] for line in errors] == ["15", "16"], proc.stdout
    assert 'supertype "zoo.exec.launch.Launcher"' in errors[0] and '"worker_command"' in errors[1]
