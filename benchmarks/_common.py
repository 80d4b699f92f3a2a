"""Shared helpers of the benchmark scripts: machine description, data dir, RESULTS.md sections.

Imported by the scripts in this folder (their folder is first on sys.path when run as
``python benchmarks/NAME.py``).  Kept free of paddle so startup.py stays honest.
"""

from __future__ import annotations

import fcntl
import os
import platform
import re
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from zoo.layout import SweepDir

REPO = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().with_name("RESULTS.md")
def _busy_fraction(seconds: float = 1.0) -> float:
    """Share of all cores' time spent busy over ``seconds``, from /proc/stat.

    The load average would remember the previous benchmark script for a minute; this
    says whether something else is running right now."""
    def sample() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return sum(fields), fields[3] + fields[4]  # total, idle + iowait

    try:
        total0, idle0 = sample()
        time.sleep(seconds)
        total1, idle1 = sample()
    except (OSError, ValueError, IndexError):
        return float("nan")
    return 1.0 - (idle1 - idle0) / max(1, total1 - total0)


# Taken when this module is imported, i.e. when a script starts, before it adds load.
BUSY_AT_START = _busy_fraction()
NOISE_NOTE = ("Other work was running when this script started (over 25% of the CPU "
              "busy): the numbers are noisy.")


def default_data_dir() -> str:
    """$ZOO_DATA_DIR, else ../shared/data/mnist-5k next to the repo, else the packaged sample."""
    if os.environ.get("ZOO_DATA_DIR"):
        return os.environ["ZOO_DATA_DIR"]
    shared = REPO.parent / "shared" / "data" / "mnist-5k"
    return str(shared if shared.is_dir() else REPO / "zoo" / "data" / "mnist_sample")


def median(values) -> float:
    return statistics.median(values) if values else float("nan")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def _ram_gib() -> str:
    try:
        kib = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        return f"{kib / 2**20:.1f} GiB"
    except (OSError, AttributeError):
        return "?"


def _paddle_version() -> str:
    # Asked in a child so that importing this module never imports paddle.
    out = subprocess.run([sys.executable, "-c", "import paddle; print(paddle.__version__)"],
                         capture_output=True, text=True, check=False)
    return out.stdout.strip().splitlines()[-1] if out.returncode == 0 and out.stdout.strip() else "?"


def machine() -> str:
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                         text=True, check=False).stdout.strip() or "?"
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                           capture_output=True, text=True, check=False).stdout.strip()
    return (f"- machine: {_cpu_model()}, {os.cpu_count()} cores, {_ram_gib()} RAM\n"
            f"- Python {platform.python_version()}, Paddle {_paddle_version()}, "
            f"git {rev}{' (+ uncommitted changes)' if dirty else ''}, "
            f"{time.strftime('%Y-%m-%d %H:%M %Z')}\n"
            f"- CPU busy before the script started: {BUSY_AT_START:.0%}")


def write_section(name: str, body: str) -> None:
    """Replace (or append) the ``## name`` section of RESULTS.md; other sections are kept.

    Under a lock, because several scripts may finish at the same time.
    """
    noise = f"- {NOISE_NOTE}\n" if BUSY_AT_START > 0.25 else ""
    section = f"## {name}\n\n{machine()}\n{noise}\n{body.strip()}\n"
    with open(Path(tempfile.gettempdir()) / "zoo-benchmarks-results.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n\n" \
            "Each section is rewritten by the script of the same name (see README.md).\n"
        pattern = re.compile(rf"^## {re.escape(name)}\n.*?(?=^## |\Z)", re.DOTALL | re.MULTILINE)
        if pattern.search(text):
            text = pattern.sub(lambda _: section + "\n", text, count=1)
        else:
            text = text.rstrip("\n") + "\n\n" + section
        tmp = RESULTS.with_suffix(".tmp")
        tmp.write_text(text.rstrip("\n") + "\n")
        os.replace(tmp, RESULTS)
    print(f"wrote section '{name}' of {RESULTS}")


def wall(cmd: list[str]) -> float:
    """Seconds one run of ``cmd`` takes (from the repository root); a failure stops the script."""
    began = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO, check=False)
    took = time.perf_counter() - began
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.decode()[-500:]}")
    return took


def bench(out: Path, data_dir: str, extra: list[str]) -> tuple[float, list[dict]]:
    """Run one `zoo bench` sweep; its wall time and stored rows (any cell not ok stops the script)."""
    cmd = [sys.executable, "-m", "zoo", "bench", "--quiet", "--format", "json", "--out", str(out),
           "--data-dir", data_dir, *extra]
    began = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, check=False)
    wall = time.perf_counter() - began
    db = sqlite3.connect(SweepDir(out).results_db)
    db.row_factory = sqlite3.Row
    rows = [dict(r) for r in db.execute("SELECT * FROM results ORDER BY rowid")]
    db.close()
    bad = [r for r in rows if r["status"] != "ok"]
    if proc.returncode or bad:
        print(proc.stdout[-1500:], proc.stderr[-1500:], sep="\n")
        raise SystemExit(f"zoo bench failed: {[(r['slug'], r['status'], r['reason']) for r in bad]}")
    return wall, rows


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


class CpuWatch:
    """How busy the machine's CPUs were between start and stop (/proc/stat), and the share
    of that which this script took: itself and the children it waited for (cells, servers,
    load generators)."""

    def __init__(self) -> None:
        self.began, self.stat0, self.ours0 = time.time(), self._stat(), self._ours()

    @staticmethod
    def _stat() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return sum(fields), fields[3] + fields[4]  # total, idle + iowait (jiffies)

    @staticmethod
    def _ours() -> float:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.process_time() + usage.ru_utime + usage.ru_stime

    def stop(self) -> dict[str, float]:
        (total0, idle0), (total1, idle1) = self.stat0, self._stat()
        seconds = time.time() - self.began
        cores = os.cpu_count() or 1
        busy = 1.0 - (idle1 - idle0) / max(1, total1 - total0)
        ours = (self._ours() - self.ours0) / max(1e-9, seconds * cores)
        return {"seconds": seconds, "busy": busy, "ours": min(ours, busy),
                "others": max(0.0, busy - ours), "load": os.getloadavg()[0]}
