"""No code from the caller's working directory: ``zoo bench`` run inside an untrusted
checkout must never import that checkout's modules, in any process it starts."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from zoo.data.sample import MNIST_SAMPLE_DIR
from zoo.exec.process import child_env
import pytest

pytestmark = pytest.mark.integration  # starts processes or trains with Paddle

# The console script, as a user runs it: `python -m zoo` would itself put the cwd first.
ZOO = Path(sys.executable).parent / "zoo"
TRAP = """\
    from pathlib import Path

    Path({marker!r}).write_text(__file__)
    raise ImportError("imported {name} from the working directory")
    """
# A model only the workers can build if they find this plugin through relative paths.
FAR = """\
    import zoo


    def build(input_shape, num_classes, *, hidden1: int = 32, hidden2: int = 16):
        import paddle

        c, h, w = input_shape
        return paddle.nn.Sequential(paddle.nn.Flatten(), paddle.nn.Linear(c * h * w, hidden1),
                                    paddle.nn.ReLU(), paddle.nn.Linear(hidden1, num_classes))


    @zoo.hookimpl
    def zoo_register_models(register):
        register("far", build, description="found through relative paths",
                 defaults={"hidden1": 32, "hidden2": 16})
    """


def untrusted_checkout(tmp_path: Path) -> tuple[Path, Path]:
    """A folder whose pluggy.py and paddle.py leave a marker when imported."""
    checkout, markers = tmp_path / "checkout", tmp_path / "markers"
    checkout.mkdir()
    markers.mkdir()
    for name in ("pluggy", "paddle"):
        source = TRAP.format(marker=str(markers / name), name=name)
        (checkout / f"{name}.py").write_text(textwrap.dedent(source))
    return checkout, markers


@pytest.fixture(scope="session")
def bench_in(tiny_mlp):
    def bench_in(checkout: Path, out: str, *args: str, **env: str) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "ZOO_"))} | env
        return subprocess.run([str(ZOO), "bench", "--out", out, "--optimizers", "sgd", "--epochs",
                               "1", "--batch-size", "100", "--quiet", *tiny_mlp, *args],
                              cwd=checkout, env=env, capture_output=True, text=True, timeout=600)

    return bench_in


def test_bench_never_imports_from_the_working_directory(tmp_path, registry_text, builtin_plugins, db_rows,
                                                        bench_in):
    checkout, markers = untrusted_checkout(tmp_path)
    # Relative paths, given as options or in the environment, keep their meaning in the
    # cells, which run in folders of their own.
    data = os.path.relpath(MNIST_SAMPLE_DIR, checkout)
    warm = bench_in(checkout, "runs/warm", "--models", "mlp", "--data-dir", data,
                    "--launch", "single,spawn,launch", "--nprocs", "2")
    (tmp_path / "far").mkdir()
    (tmp_path / "far" / "zoo_test_far.py").write_text(textwrap.dedent(FAR))
    (tmp_path / "registry.toml").write_text(registry_text(builtin_plugins + ["zoo_test_far"]))
    cold = bench_in(checkout, "runs/cold", "--models", "far", "--launch", "single",
                    "--cold-start", ZOO_DATA_DIR=data, ZOO_REGISTRY="../registry.toml",
                    PYTHONPATH="../far")
    assert not list(markers.iterdir()), [p.read_text() for p in markers.iterdir()]
    for proc, out, launchers in ((warm, "runs/warm", ["launch", "single", "spawn"]),
                                 (cold, "runs/cold", ["single"])):
        assert proc.returncode == 0, proc.stderr[-3000:]
        rows = db_rows(checkout / out)
        assert sorted(r["launch"] for r in rows) == launchers
        assert all(r["status"] == "ok" for r in rows), [(r["slug"], r["reason"]) for r in rows]
    assert (checkout / "runs/warm/forkserver.log").exists()


def test_child_env_keeps_relative_paths_and_drops_the_implicit_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    env = child_env({"PYTHONPATH": ":plugins::/abs/lib:", "ZOO_DATA_DIR": "data",
                     "ZOO_REGISTRY": "../r.toml", "OTHER": "rel"})
    assert env["PYTHONPATH"] == os.pathsep.join([str(tmp_path / "plugins"), "/abs/lib"])
    assert env["ZOO_DATA_DIR"] == str(tmp_path / "data")
    assert env["ZOO_REGISTRY"] == str(tmp_path.parent / "r.toml")
    assert env["OTHER"] == "rel"
    assert "PYTHONPATH" not in child_env({"PYTHONPATH": os.pathsep})
