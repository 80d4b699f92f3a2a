"""No code from the caller's working directory: ``zoo bench`` run inside an untrusted
checkout must never import that checkout's modules, in any process it starts."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.conftest import SMALL_MNIST
from tests.test_bench_helpers import TINY, db_rows

# The console script, as a user runs it: `python -m zoo` would itself put the cwd first.
ZOO = Path(sys.executable).parent / "zoo"
TRAP = """\
    from pathlib import Path

    Path({marker!r}).write_text(__file__)
    raise ImportError("imported {name} from the working directory")
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


def bench_in(checkout: Path, out: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "ZOO_"))}
    data = os.path.relpath(SMALL_MNIST, checkout)  # relative paths keep meaning in every cell
    return subprocess.run([str(ZOO), "bench", "--out", out, "--models", "mlp", "--optimizers",
                           "sgd", "--epochs", "1", "--batch-size", "100", "--data-dir", data,
                           "--quiet", *TINY, *args],
                          cwd=checkout, env=env, capture_output=True, text=True, timeout=600)


def test_bench_never_imports_from_the_working_directory(tmp_path):
    checkout, markers = untrusted_checkout(tmp_path)
    warm = bench_in(checkout, "runs/warm", "--launch", "single,spawn,launch", "--nprocs", "2")
    cold = bench_in(checkout, "runs/cold", "--launch", "single", "--cold-start")
    assert not list(markers.iterdir()), [p.read_text() for p in markers.iterdir()]
    for proc, out, launchers in ((warm, "runs/warm", ["launch", "single", "spawn"]),
                                 (cold, "runs/cold", ["single"])):
        assert proc.returncode == 0, proc.stderr[-3000:]
        rows = db_rows(checkout / out)
        assert sorted(r["launch"] for r in rows) == launchers
        assert all(r["status"] == "ok" for r in rows), [(r["slug"], r["reason"]) for r in rows]
    assert (checkout / "runs/warm/forkserver.log").exists()
