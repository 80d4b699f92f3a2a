"""The named vision grids (fashion-cnn.toml, cifar-small.toml): time per epoch on this machine.

Real Fashion-MNIST and CIFAR-10 are not on this machine, so each grid runs one epoch
through ``zoo bench --grid FILE --epochs 1`` on generated files in the real formats, put
in zoo's cache as a download would leave them: Fashion-MNIST at its real size (60,000 /
10,000), CIFAR-10 with ``--cifar-images`` training images (default 10,000 of the real
50,000, to keep the run under half an hour on 2 cores); the epoch time is then scaled to
the real 45,000 training images (train steps scale with the images; validation with the
validation split).  Accuracies on generated images say nothing about the real data and
are not reported.

    .venv/bin/python benchmarks/vision_grids.py [--cifar-images 10000] [--grids fashion-cnn,cifar-small]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO, write_section
from _vision_data import write_cifar, write_idx

# Real training and validation images with each dataset's default validation fraction.
REAL = {"fashion-mnist": (50_000, 10_000), "cifar10": (45_000, 5_000)}


def run_grid(name: str, cache: Path, out: Path) -> list[dict]:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache), "ZOO_CIFAR10_URL": "http://127.0.0.1:9/",
           "ZOO_FASHION_MNIST_URL": "http://127.0.0.1:9/"}  # never download
    cmd = [sys.executable, "-m", "zoo", "bench", "--grid", str(REPO / "benchmarks" / f"{name}.toml"),
           "--epochs", "1", "--out", str(out), "--quiet"]
    began = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, check=False)
    if proc.returncode:
        raise SystemExit(f"{name}: zoo bench failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    print(f"  {name}: {time.perf_counter() - began:.0f} s", flush=True)
    # "data: cifar-bin:/path (9000 train / 1000 val / 10000 test images, ...)" per dataset
    sizes = {("cifar10" if source.startswith("cifar") else "fashion-mnist"): tuple(map(int, n))
             for source, *n in re.findall(r"data: (\S+) \((\d+) train / (\d+) val / (\d+) test",
                                          proc.stderr)}
    rows = []
    for metrics_file in sorted(out.glob("cells/*/metrics.json")):
        metrics = json.loads(metrics_file.read_text())
        job, epoch = metrics["job"], metrics["epochs"][0]
        train, val, test = sizes[job["dataset"]]
        # elapsed = training steps + validation + the final test; evaluation costs the same
        # per image on both splits, so validation's share follows from the split sizes.
        eval_per_image = (metrics["elapsed"] - epoch["seconds"]) / (val + test)
        rows.append({"dataset": job["dataset"], "model": job["model"], "status": metrics["status"],
                     "ips": epoch["images_per_s"], "train": train, "train_s": epoch["seconds"],
                     "epoch_s": epoch["seconds"] + eval_per_image * val,
                     "real_s": epoch["seconds"] * REAL[job["dataset"]][0] / train
                     + eval_per_image * REAL[job["dataset"]][1]})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cifar-images", type=int, default=10_000)
    parser.add_argument("--grids", default="fashion-cnn,cifar-small")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="zoo-vision-grids-") as tmp:
        cache = Path(tmp) / "xdg"
        print("generating data ...", flush=True)
        write_idx(cache / "zoo" / "fashion-mnist")
        write_cifar(cache / "zoo" / "cifar10" / "cifar-10-batches-bin", n_train=args.cifar_images)
        for name in args.grids.split(","):
            rows += run_grid(name, cache, Path(tmp) / name)
    lines = []
    for r in rows:
        lines.append(f"| {r['dataset']} | {r['model']} | {r['status']} | {r['train']:,} | "
                     f"{r['ips']:.0f} | {r['epoch_s']:.0f} | {r['real_s'] / 60:.1f} min |")
    body = ("One epoch of each cell of the named grids (`zoo bench --grid FILE --epochs 1`) on "
            "generated files in the real formats (the real data is not on this machine): "
            f"Fashion-MNIST at its real size, CIFAR-10 with {args.cifar_images:,} training images "
            "(10% held out). Epoch = training steps (metrics.json) + validation (the evaluation "
            "time in `elapsed`, shared between validation and test by their sizes); the last "
            "column scales both to the real splits. **Accuracy could not be measured**: "
            "it needs the real data (run the grids where it is, e.g. `zoo bench --grid "
            "benchmarks/cifar-small.toml --data-dir DIR`).\n\n"
            "| dataset | model | status | train images | train img/s | epoch here, s | "
            "epoch on the real data (est.) |\n|---|---|---|---|---|---|---|\n" + "\n".join(lines))
    print(body)
    write_section("vision_grids", body)


if __name__ == "__main__":
    main()
