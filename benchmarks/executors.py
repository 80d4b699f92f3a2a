"""Executors: cells per hour with --jobs 1 and --jobs 2, and the ray executor's cost per cell.

(a) The default grid of registry.toml (1 epoch) with ``--jobs 1`` and ``--jobs 2 --threads 1``
    on this machine: sweep wall time and cells per hour (target: jobs 2 / jobs 1 >= 1.3).
(b) The same small cells with ``--executor ray`` (a Ray zoo starts on this machine) and
    ``local``: the driver's cost per cell beyond the cell's own recorded wall time (sweep
    wall time minus the sum of cell times, per cell), and ray minus local (target < 1 s).
(c) A paper projection for a 100-node cluster from (b)'s measured costs.
(d) How long ``--ray-address`` takes to refuse an address where no Ray cluster answers
    (one line each; before the check some of these hung for minutes).

    .venv/bin/python benchmarks/executors.py [--data-dir DIR] [--cells 8]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from _common import bench, default_data_dir, verdict, write_section


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=default_data_dir())
    args = parser.parse_args()
    lines = []
    with tempfile.TemporaryDirectory(prefix="zoo-executors-") as tmp:
        tmp = Path(tmp)
        print("(a) default grid, --jobs 1 then --jobs 2")
        one, rows1 = bench(tmp / "j1", args.data_dir, ["--jobs", "1"])
        two, rows2 = bench(tmp / "j2", args.data_dir, ["--jobs", "2", "--threads", "1"])
        per_hour = [len(rows1) / one * 3600, len(rows2) / two * 3600]
        ratio = per_hour[1] / per_hour[0]
        lines += ["(a) Default grid of registry.toml, 1 epoch", "",
                  "| executor | cells | sweep wall s | cells per hour | median cell s |",
                  "|---|---|---|---|---|",
                  f"| local --jobs 1 | {len(rows1)} | {one:.1f} | {per_hour[0]:.0f} | "
                  f"{sorted(r['wall_time'] for r in rows1)[len(rows1) // 2]:.1f} |",
                  f"| local --jobs 2 --threads 1 | {len(rows2)} | {two:.1f} | {per_hour[1]:.0f} | "
                  f"{sorted(r['wall_time'] for r in rows2)[len(rows2) // 2]:.1f} |", "",
                  f"- jobs 2 / jobs 1 = {ratio:.2f} >= 1.3: **{verdict(ratio >= 1.3)}**", ""]
        print("(b) the same small cells on ray and local")
        small = ["--models", "mlp", "--optimizers", "sgd,momentum,adagrad,adam", "--set",
                 "model.hidden1=32", "--epochs", "1"]
        costs = {}
        for name, extra in (("local", []), ("ray", ["--executor", "ray"])):
            wall, rows = bench(tmp / name, args.data_dir, small + extra)
            costs[name] = (wall - sum(r["wall_time"] for r in rows)) / len(rows)
        extra_cost = costs["ray"] - costs["local"]
        lines += ["(b) Driver cost per cell beyond the cell's own wall time (4 mlp cells; ray "
                  "includes starting and stopping a one-node Ray, shared by the cells)", "",
                  "| executor | s per cell |", "|---|---|",
                  f"| local | {costs['local']:.2f} |", f"| ray | {costs['ray']:.2f} |", "",
                  f"- ray - local = {extra_cost:.2f} s per cell < 1 s: **{verdict(extra_cost < 1)}**", ""]
    lines += ["(c) Projection for 100 nodes (paper, from (b)): the driver records one row per "
              "cell (one SQLite transaction, milliseconds) and merges one cell's files; a cell's "
              f"overhead beyond its training is about {max(extra_cost, 0):.1f} s of ray's own "
              "per cell, paid on the nodes in parallel. The driver serialises the merge of "
              "artifacts: a few MB per cell (checkpoints x3 and logs) at disk speed, about "
              "10-50 ms, so 100 nodes finishing 1-minute cells (about 1.7 cells/s) keep it "
              "under 10% busy; it becomes the limit near 20-100 cells/s, i.e. cells shorter "
              "than 1-5 s on 100 nodes, or checkpoints of hundreds of MB (a 1 GB checkpoint "
              "per cell on a 1 GB/s link caps the sweep at about 1 cell/s). Grids of 10,000 "
              "1-minute cells (100 x 100) take about 100 minutes plus one cell's start-up."]
    lines += ["", "(d) --ray-address refused (`zoo bench --dry-run`, wall time to the one-line "
              "error, including Python's start)", "", "| address | s | error |", "|---|---|---|"]
    lines += [f"| `{address}` | {seconds:.1f} | {error} |" for address, seconds, error in refusals()]
    body = "\n".join(lines)
    print(body)
    write_section("executors", body)


class _Web(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def refusals() -> list[tuple[str, float, str]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    web = ThreadingHTTPServer(("127.0.0.1", 0), _Web)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    found = []
    with tempfile.TemporaryDirectory(prefix="zoo-refusals-") as tmp:
        env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RAY_TMPDIR")}
        env["TMPDIR"] = tmp  # no `ray start` recorded there: auto finds nothing
        for address, extra in ((f"127.0.0.1:{closed}", []), ("999.1.1.1:6379", []),
                               ("garbage", []), ("http://evil:80", []), ("auto", []),
                               (f"127.0.0.1:{web.server_address[1]}",
                                ["--set", "executor.connect_timeout=10"])):
            start = time.monotonic()
            proc = subprocess.run([sys.executable, "-m", "zoo", "bench", "--out", f"{tmp}/b",
                                   "--models", "mlp", "--optimizers", "sgd", "--executor", "ray",
                                   "--ray-address", address, "--dry-run", *extra],
                                  capture_output=True, text=True, env=env, timeout=300)
            seconds = time.monotonic() - start
            error = proc.stderr.strip().splitlines()[-1].split(": ", 3)[-1] if proc.stderr else "?"
            shown = address + (" (a web server; connect_timeout=10)" if extra else "")
            found.append((shown, seconds, f"exit {proc.returncode}: {error[:90]}"))
    web.shutdown()
    return found


if __name__ == "__main__":
    main()
