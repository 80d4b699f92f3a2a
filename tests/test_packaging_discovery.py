"""Packages are discovered, not listed: every .py under zoo/ and plugins/ is in the wheel
(plugins/ as zoo.plugins), and so is a subpackage added tomorrow without touching the
build configuration."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import zoo

pytestmark = pytest.mark.integration  # builds a wheel with pip

ROOT = Path(__file__).resolve().parents[1]  # the checkout (tests/ -> its parent)

# Added to the copy the wheel is built from, as someone adding a subpackage would: one
# with an __init__.py, one without (a namespace folder, like zoo/data/mnist_sample).
NEW_FILES = {"zoo/newly_added/__init__.py": "", "zoo/newly_added/deeper/module.py": "X = 1\n",
             "plugins/newly_added/impl.py": "Y = 2\n"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("discovery")
    source = tmp / "src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
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
def wheel_names(wheel):
    return set(zipfile.ZipFile(wheel).namelist())


def installed_name(relative: str) -> str:
    """Where a source file lands in the wheel: plugins/x.py installs as zoo/plugins/x.py."""
    return f"zoo/{relative}" if relative.startswith("plugins/") else relative


def test_every_source_file_is_in_the_wheel(wheel_names):
    sources = [p.relative_to(ROOT).as_posix() for folder in ("zoo", "plugins")
               for p in (ROOT / folder).rglob("*.py") if "__pycache__" not in p.parts]
    assert len(sources) > 150 and "plugins/launchers.py" in sources
    missing = sorted(s for s in sources if installed_name(s) not in wheel_names)
    assert missing == []


def test_a_new_subpackage_travels_without_configuration(wheel_names):
    assert {installed_name(name) for name in NEW_FILES} <= wheel_names


def test_nothing_but_zoo_and_its_metadata(wheel_names):
    tops = {name.split("/")[0] for name in wheel_names}
    assert tops == {"zoo", f"zoo-{zoo.__version__}.dist-info"}
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


def test_type_checkers_check_a_plugin_against_the_installed_surface(wheel, tmp_path):
    site = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                           str(site), str(wheel)], capture_output=True, text=True)
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
