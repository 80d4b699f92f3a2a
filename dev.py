#!/usr/bin/env python3
"""Set up a project-local virtual environment and run zoo's main job or its tests.

    python3 dev.py demo [zoo bench options]   set up, then run the small default benchmark
    python3 dev.py test [pytest options]      set up, then run the whole test suite
    python3 dev.py setup                      only create/update .venv
    python3 dev.py zoo ARGS...                run any zoo command inside .venv

Needs only python3 (>= 3.10) with venv and pip.  ZOO_GPU=1 installs paddlepaddle-gpu
instead of the CPU build.  The environment is reused until pyproject.toml or setup.py
changes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("ZOO_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")


def _say(text: str) -> None:
    print(f"dev.py: {text}", file=sys.stderr, flush=True)


def _run(cmd: list[str], **kwargs) -> int:
    return subprocess.call([str(part) for part in cmd], **kwargs)


def setup() -> None:
    """Create .venv if needed and install zoo with the right Paddle build and test tools."""
    if sys.version_info < (3, 10):
        sys.exit("dev.py: zoo needs Python 3.10 or newer")
    flavour = "gpu" if os.environ.get("ZOO_GPU", "").strip() in ("1", "true", "yes") else "cpu"
    # setup.py finds the packages: a change there (a new remap) needs a reinstall too.
    build_files = b"".join((ROOT / name).read_bytes() for name in ("pyproject.toml", "setup.py"))
    stamp_text = hashlib.sha256(build_files + flavour.encode()).hexdigest()
    stamp = VENV / ".zoo-installed"
    if PYTHON.exists() and stamp.exists() and stamp.read_text() == stamp_text:
        return
    if not PYTHON.exists():
        _say(f"creating {VENV}")
        venv.EnvBuilder(with_pip=True).create(VENV)
    _say(f"installing zoo with paddlepaddle{'-gpu' if flavour == 'gpu' else ''} (first time takes a few minutes)")
    # Recent setuptools and wheel let pip build the example plugin without fetching them again.
    steps = [[PYTHON, "-m", "pip", "install", "-q", "--upgrade", "pip", "setuptools>=77", "wheel"],
             # Not --no-compile: it saved 40 s of a fresh install, but where PYTHONDONTWRITEBYTECODE
             # is set (this machine sets it) nothing is ever cached, and every process of the suite
             # compiled Paddle again: 50% more CPU, 12 minutes instead of 8.5.
             [PYTHON, "-m", "pip", "install", "-q", "-e",
              f"{ROOT}[{flavour},test,report,onnx,ray,serve,search]"]]
    for step in steps:
        if _run(step) != 0:
            sys.exit(f"dev.py: '{' '.join(map(str, step))}' failed")
    stamp.write_text(stamp_text)


def _workers(args: list[str]) -> list[str]:
    """pytest-xdist options, unless the caller chose their own (``-n``, ``-p no:xdist``).

    Most tests wait on child processes (zoo commands, servers, Ray nodes) part of the
    time, so one worker more than the CPUs keeps them busy (on 2 cores: 9.5 min with 3
    workers, 13 with 2, and 4 made CPU-bound time limits flaky).  A test file stays on one
    worker, so its module fixtures (trained runs, a Ray cluster) are built once.
    ZOO_TEST_WORKERS=N overrides the count; 0 runs everything in this process."""
    if any(a.startswith(("-n", "--numprocesses", "--dist")) for a in args) or "no:xdist" in args:
        return []
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    workers = int(os.environ.get("ZOO_TEST_WORKERS", min(cpus + 1, 8)))
    return ["-n", str(workers), "--dist", "loadfile"] if workers > 0 else []


def main(argv: list[str]) -> int:
    command, rest = (argv[0], argv[1:]) if argv else ("help", [])
    if command in ("help", "-h", "--help"):
        print(__doc__)
        return 0
    if command not in ("setup", "demo", "test", "zoo"):
        print(f"dev.py: unknown command '{command}'\n{__doc__}", file=sys.stderr)
        return 2
    setup()
    if command == "setup":
        return 0
    if command == "test":
        return _run([PYTHON, "-m", "pytest", *_workers(rest), *rest], cwd=ROOT)
    if command == "demo":
        return _run([BIN / "zoo", "bench", "--out", ROOT / "runs" / "demo", *rest], cwd=ROOT)
    return _run([BIN / "zoo", *rest], cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
