"""Time and size of ``zoo report`` on a 500-cell sweep.

The sweep is synthetic (zoo.report.synthetic: real rows written through the results
store, a metrics.json with 5 epochs per cell), because what a report costs depends on
the rows and epochs it draws, not on where the numbers came from.  ``zoo report DIR``
runs as a user runs it, in a fresh process; ``zoo results DIR`` on the same store is
timed alongside for context.  Targets: under 10 s, and the HTML under 5 MB.

    .venv/bin/python benchmarks/report_speed.py [--cells 500] [--repeats 5]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from _common import median, verdict, wall, write_section

TARGET_SECONDS = 10.0
TARGET_BYTES = 5 * 10**6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=5, help="runs per command (median reported)")
    args = parser.parse_args()

    from zoo.report.synthetic import write_synthetic_sweep

    with tempfile.TemporaryDirectory(prefix="zoo-report-speed-") as tmp:
        sweep = Path(tmp) / "sweep"
        began = time.perf_counter()
        write_synthetic_sweep(sweep, args.cells)
        made = time.perf_counter() - began
        py = sys.executable
        commands = {"zoo report DIR --png PNG": [py, "-m", "zoo", "report", str(sweep), "--png",
                                                  str(Path(tmp) / "png")],
                    "zoo results DIR": [py, "-m", "zoo", "results", str(sweep)]}
        for cmd in commands.values():  # warm the page cache once, so run 1 is not an outlier
            wall(cmd)
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.repeats):
            for name, cmd in commands.items():  # interleaved: load changes hit both alike
                times[name].append(wall(cmd))
        html_bytes = (sweep / "report.html").stat().st_size
        pngs = {p.name: p.stat().st_size for p in sorted((Path(tmp) / "png").iterdir())}

    report_s = median(times["zoo report DIR --png PNG"])
    rows = [f"| {name} | {median(v):.2f} | {min(v):.2f} | {max(v):.2f} |" for name, v in times.items()]
    body = (f"A synthetic sweep of {args.cells} cells (5 models, 5 epochs each, ~15% not ok), "
            f"written in {made:.1f} s; median wall time of {args.repeats} interleaved fresh-process "
            f"runs per command.\n\n"
            "| command | median s | min s | max s |\n|---|---|---|---|\n" + "\n".join(rows) + "\n\n"
            # The machine-independent figure: a busy machine slows both commands alike.
            f"`zoo report` takes {report_s / median(times['zoo results DIR']):.1f}x the time of "
            f"`zoo results` on the same store in this run.\n\n"
            f"HTML: {html_bytes / 1e6:.2f} MB ({html_bytes} bytes); PNGs (also embedded): "
            + ", ".join(f"{name} {size / 1e3:.0f} kB" for name, size in pngs.items()) + "\n\n"
            "Targets:\n\n"
            f"- `zoo report` on {args.cells} cells: {report_s:.2f} s < {TARGET_SECONDS:.0f} s: "
            f"**{verdict(report_s < TARGET_SECONDS)}**\n"
            f"- HTML size {html_bytes / 1e6:.2f} MB < {TARGET_BYTES / 1e6:.0f} MB: "
            f"**{verdict(html_bytes < TARGET_BYTES)}**")
    print(body)
    write_section("report_speed", body)


if __name__ == "__main__":
    main()
