"""The launcher contract, proved by a third party: pip-install examples/zoo-nice (a launcher
written against zoo's public API only) and run a sweep through it."""

from __future__ import annotations

import fcntl
import json
import shutil
import sys
from pathlib import Path

import pytest

from zoo.data.sample import MNIST_SAMPLE_DIR


EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "zoo-nice"
DIST = "zoo-nice"

# A model that notes the CPU priority it trains at, in its cell's folder (only there:
# the sweep's preflight builds it too, in the folder the test runs from).
NOTING_NICENESS = '''
import os
from pathlib import Path

import zoo


def build(input_shape, num_classes, *, hidden: int = 16):
    import paddle

    if Path("job.json").exists():
        Path("niceness.txt").write_text(str(os.nice(0)))
    c, h, w = input_shape
    return paddle.nn.Sequential(paddle.nn.Flatten(), paddle.nn.Linear(c * h * w, num_classes))


@zoo.hookimpl
def zoo_register_models(register):
    register("noting_nice", build, description="notes os.nice(0) in its cell folder")
'''


@pytest.fixture(scope="module")
def nice_installed(tmp_path_factory, pip, install_example, build_leftovers):
    with open(Path(sys.prefix) / ".zoo-example-plugin.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        src = tmp_path_factory.mktemp("example") / EXAMPLE.name
        shutil.copytree(EXAMPLE, src, ignore=shutil.ignore_patterns(*build_leftovers))
        pip("uninstall", "-y", DIST)
        try:
            install_example(src)
            yield src
        finally:
            result = pip("uninstall", "-y", DIST)
            assert result.returncode == 0, result.stderr


@pytest.mark.integration
def test_a_third_party_launcher_runs_cells_with_its_own_command(nice_installed, plugin_kit, run_example,
                                                                repo_root, db_rows, cell_dir):
    plugins = json.loads(run_example([sys.executable, "-m", "zoo", "plugins", "--json"], cwd=repo_root).stdout)
    (nice,) = [p for p in plugins if p["name"] == "nice"]
    assert (nice["type"], nice["status"], nice["hooks"]) == ("third-party", "ok", ["launchers"])

    plugin_kit.add("zoo_noting_nice", NOTING_NICENESS)
    out = plugin_kit.dir.parent / "b"
    proc = run_example([sys.executable, "-m", "zoo", "bench", "--out", str(out), "--models", "noting_nice",
                 "--optimizers", "sgd", "--launch", "single,nice", "--nprocs", "2",
                 "--set", "launcher.level=7", "--epochs", "1", "--quiet",
                 "--data-dir", str(MNIST_SAMPLE_DIR)], cwd=repo_root, env=plugin_kit.env(), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = {r["launch"]: r for r in db_rows(out)}
    assert {(k, r["status"], r["nprocs"]) for k, r in rows.items()} == {
        ("single", "ok", 1), ("nice", "ok", 1)}  # one-process launchers, whatever --nprocs
    # nice's own command ran (not a warm fork, which would not be niced); single was forked
    assert (cell_dir(out, "noting_nice-sgd-constant-none-nice1") / "niceness.txt").read_text() == "7"
    assert (cell_dir(out, "noting_nice-sgd-constant-none-single1") / "niceness.txt").read_text() == "0"
    assert (out / "forkserver.log").exists()
    identity = json.loads(rows["nice"]["identity"])
    assert identity["params"]["launchers"] == {"level": 7}
    assert identity["code"]["plugins"]["nice"] == "zoo-nice 0.1.0"


@pytest.mark.integration
def test_its_problem_is_a_one_line_preflight_error(nice_installed, tmp_path, run_example, repo_root):
    proc = run_example([sys.executable, "-m", "zoo", "bench", "--out", str(tmp_path / "b"),
                 "--models", "mlp", "--optimizers", "sgd", "--launch", "nice",
                 "--set", "launcher.level=42", "--data-dir", str(MNIST_SAMPLE_DIR), "--quiet"], cwd=repo_root)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    (error,) = [line for line in proc.stderr.splitlines() if line.startswith("zoo: error:")]
    assert "nice level must be 0..19, got 42" in error
