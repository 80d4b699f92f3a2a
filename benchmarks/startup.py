"""Startup cost of ``zoo list`` against a bare ``import paddle``.

``zoo list`` only reads the catalogue, so it must not pay for paddle: it should take
under 0.5 s and under half of what ``python -c "import paddle"`` takes on the same
machine, in the same run (a ratio, never an absolute time from another day).

    .venv/bin/python benchmarks/startup.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from _common import REPO, median, verdict, wall, write_section

PROBE = "import sys; from zoo.cli import main; main(['list']); print('paddle' in sys.modules)"
PAUSE = 0.2  # let the previous child's exit settle before timing the next one


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="runs per command (median reported)")
    args = parser.parse_args()

    py = sys.executable
    console = Path(py).with_name("zoo")  # the console script of the same venv
    commands = {
        "python -c pass": [py, "-c", "pass"],  # interpreter floor, for context only
        "python -c 'import paddle'": [py, "-c", "import paddle"],
        "python -m zoo list": [py, "-m", "zoo", "list"],
    }
    if console.is_file() and os.access(console, os.X_OK):
        commands["zoo list (console script)"] = [str(console), "list"]
    else:
        print(f"note: no console script at {console}; skipped")

    for cmd in commands.values():  # warm the page cache once, so run 1 is not an outlier
        wall(cmd)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.repeats):
        # Interleaved, so load changes on the shared machine hit every command alike.
        for name, cmd in commands.items():
            times[name].append(wall(cmd))
            time.sleep(PAUSE)

    probe = subprocess.run(
        [py, "-c", PROBE], capture_output=True, text=True, cwd=REPO, check=False)
    paddle_loaded = probe.stdout.strip().splitlines()[-1] if probe.stdout.strip() else "?"

    paddle_s = median(times["python -c 'import paddle'"])
    rows, checks = [], []
    for name, values in times.items():
        m = median(values)
        rows.append(f"| {name} | {m:.3f} | {min(values):.3f} | {max(values):.3f} | "
                    f"{m / paddle_s:.2f} |")
    for name in [n for n in times if "zoo list" in n]:
        m = median(times[name])
        checks.append(f"- {name}: {m:.3f} s < 0.5 s: **{verdict(m < 0.5)}**; "
                      f"{m / paddle_s:.2f} x import paddle < 0.5: **{verdict(m < 0.5 * paddle_s)}**")
    checks.append(f"- `zoo list` imported paddle: {paddle_loaded} "
                  f"(**{verdict(paddle_loaded == 'False')}**)")

    body = (f"Median wall time of {args.repeats} interleaved runs per command "
            f"(subprocess, output discarded).\n\n"
            "| command | median s | min s | max s | / import paddle |\n|---|---|---|---|---|\n"
            + "\n".join(rows) + "\n\nTargets:\n\n" + "\n".join(checks))
    print(body)
    write_section("startup", body)


if __name__ == "__main__":
    main()
