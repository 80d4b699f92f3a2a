"""End to end: pip-install examples/zoo-lenet as a real third-party plugin, use it, remove it.

The package is installed (once per module) into the environment running the tests, from a
temporary copy so no build/ or *.egg-info lands in the source tree, and it is always
uninstalled afterwards.  Everything that has to see it runs in fresh subprocesses, the
way a user would meet it.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from zoo.data.sample import MNIST_SAMPLE_DIR


pytestmark = pytest.mark.integration  # starts processes or trains with Paddle

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "zoo-lenet"
DIST = "zoo-lenet"


@pytest.fixture(scope="session")
def zoo_json(run_example):
    def _zoo_json(*args: str) -> list[dict]:
        result = run_example([sys.executable, "-m", "zoo", *args, "--json"], cwd=ROOT)
        assert result.returncode == 0, f"zoo {' '.join(args)} failed:\n{result.stderr}"
        return json.loads(result.stdout)

    return _zoo_json


@dataclass
class Installed:
    src: Path
    pip: Callable[..., subprocess.CompletedProcess]
    how: str = ""
    removed: bool = False

    def uninstall(self) -> None:
        if not self.removed:
            self.removed = True
            result = self.pip("uninstall", "-y", DIST)
            assert result.returncode == 0, f"pip uninstall failed:\n{result.stderr}"


@pytest.fixture(scope="module")
def installed(tmp_path_factory, pip, install_example, build_leftovers) -> Iterator[Installed]:
    # One install at a time in this environment (concurrent runs of this module would race).
    with open(Path(sys.prefix) / ".zoo-example-plugin.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        src = tmp_path_factory.mktemp("example") / EXAMPLE.name
        shutil.copytree(EXAMPLE, src, ignore=shutil.ignore_patterns(*build_leftovers))
        state = Installed(src, pip)
        pip("uninstall", "-y", DIST)  # leftovers of an interrupted earlier run
        try:
            state.how = install_example(src)
            yield state
        finally:
            state.uninstall()


def test_installs_from_a_copy_leaving_the_source_clean(installed, build_leftovers):
    assert installed.how in ("no-build-isolation", "build-isolation")
    leftovers = [p.name for pattern in build_leftovers[:3] for p in EXAMPLE.glob(pattern)]
    assert not leftovers, f"build leftovers in {EXAMPLE}: {leftovers}"


def test_zoo_list_shows_its_entries(installed, zoo_json):
    rows = {(r["kind"], r["name"]): r for r in zoo_json("list")}
    lenet5, step = rows[("models", "lenet5")], rows[("schedules", "step")]
    for row in (lenet5, step):
        assert (row["plugin"], row["distribution"]) == ("lenet", "zoo-lenet")
    assert lenet5["defaults"] == {"activation": "relu"}
    assert step["defaults"] == {"step_fraction": 0.33, "gamma": 0.5}
    assert ("models", "cnn") in rows  # the built-ins are still there


def test_zoo_plugins_shows_it_third_party_and_ok(installed, zoo_json):
    rows = {r["name"]: r for r in zoo_json("plugins")}
    lenet = rows["lenet"]
    assert lenet["type"] == "third-party"
    assert (lenet["status"], lenet["error"]) == ("ok", "")
    assert (lenet["distribution"], lenet["version"]) == ("zoo-lenet", "0.1.0")
    assert (lenet["source"], lenet["hooks"]) == ("zoo_lenet.plugin", ["models", "schedules"])


def test_builds_and_trains_in_a_fresh_process(installed, run_example):
    code = """if True:
        import json, zoo_lenet
        from zoo.testing import check_entry_builds, check_model_trains, entries_of, load_plugin_catalog
        catalog = load_plugin_catalog()
        built = [e.name for e in entries_of("lenet", catalog)
                 if check_entry_builds(e, catalog, input_shape=(1, 28, 28), num_classes=10)]
        loss = check_model_trains(catalog.entry("models", "lenet5"), (1, 28, 28), 10)
        print(json.dumps({"built": built, "loss": loss, "file": zoo_lenet.__file__}))
    """
    result = run_example([sys.executable, "-c", code], cwd=installed.src.parent)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["built"] == ["lenet5", "step"]
    assert out["loss"] > 0
    assert "site-packages" in out["file"], f"imported from {out['file']}, not the install"


def test_the_example_packages_own_tests_pass(installed, run_example):
    result = run_example([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                  cwd=installed.src, timeout=300)
    assert result.returncode == 0, f"example tests failed:\n{result.stdout}\n{result.stderr}"
    assert " passed" in result.stdout and "skipped" not in result.stdout


@pytest.fixture(scope="session")
def lenet_sweep(run_example):
    def _sweep(out: Path, *args: str) -> subprocess.CompletedProcess:
        return run_example([sys.executable, "-m", "zoo", "bench", "--out", str(out), "--models", "lenet5,mlp",
                     "--optimizers", "sgd", "--epochs", "1", "--batch-size", "100", "--data-dir",
                     str(MNIST_SAMPLE_DIR), "--set", "model.hidden1=32", "--quiet", *args], cwd=ROOT, timeout=300)

    return _sweep


def _rows(out: Path) -> list[dict]:
    con = sqlite3.connect(str(out / "results.db"))
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute("SELECT * FROM results ORDER BY rowid")]
    finally:
        con.close()


def test_a_new_plugin_version_reruns_its_cells_keeps_the_old_rows_and_refuses_a_resume(installed, tmp_path,
                                                                                       assert_one_line_error,
                                                                                       lenet_sweep, zoo_json,
                                                                                       build_leftovers,
                                                                                       install_example,
                                                                                       run_example):
    """The plugin's version is part of the code that trained a result: after pip installs
    another version of it, its cells train again beside the old rows, saying why; cells
    that use none of its entries keep their results; a run it trained cannot resume."""
    sweep = tmp_path / "sweep"
    first = lenet_sweep(sweep)
    assert first.returncode == 0, first.stderr[-3000:]
    old = {r["model"]: r for r in _rows(sweep)}
    run = Path(old["lenet5"]["cell_dir"])  # a run folder trained with 0.1.0
    assert json.loads(old["lenet5"]["identity"])["code"]["plugins"]["lenet"] == "zoo-lenet 0.1.0"

    bumped = tmp_path / "v2" / EXAMPLE.name
    shutil.copytree(installed.src, bumped, ignore=shutil.ignore_patterns(*build_leftovers))
    project = bumped / "pyproject.toml"
    project.write_text(project.read_text().replace('version = "0.1.0"', 'version = "0.2.0"'))
    install_example(bumped)
    assert {r["name"]: r["version"] for r in zoo_json("plugins")}["lenet"] == "0.2.0"

    change = "code.plugins.lenet zoo-lenet 0.1.0 -> zoo-lenet 0.2.0"
    second = lenet_sweep(sweep)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "2 cells, 1 already finished, 1 to run" in second.stderr  # lenet5 only
    assert change in second.stderr  # says why the old result is not reused
    rows = _rows(sweep)
    assert len(rows) == 3 and [r for r in rows if r["model"] == "mlp"] == [old["mlp"]]
    lenets = [r for r in rows if r["model"] == "lenet5"]
    assert old["lenet5"] in lenets  # kept apart, untouched
    (new,) = [r for r in lenets if r != old["lenet5"]]
    assert new["cell"] != old["lenet5"]["cell"] and new["status"] == "ok"
    assert json.loads(new["identity"])["code"]["plugins"]["lenet"] == "zoo-lenet 0.2.0"

    resumed = run_example([sys.executable, "-m", "zoo", "train", "--resume", str(run)], cwd=ROOT)
    assert_one_line_error(resumed, "holds a run with other settings, data or code", change)


def test_uninstall_removes_it(installed, zoo_json):
    installed.uninstall()
    assert not [r for r in zoo_json("list") if r["plugin"] == "lenet"]
    assert "lenet" not in {r["name"] for r in zoo_json("plugins")}
