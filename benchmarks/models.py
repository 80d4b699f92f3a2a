"""Per model: parameter count, training images/s at batch 64, peak RSS for one epoch on 5k images.

Each model trains one epoch of ``--images`` CIFAR-10-sized images (3x32x32, 10 classes)
through ``zoo.train.train`` in a fresh child process: the cifar10 loader on generated
binary files (real CIFAR-10 is not on this machine; cost depends on the format and size,
not the pixels), no validation split, Momentum lr 0.01, constant schedule.  Throughput is
metrics.json's ``images_per_s`` (training steps only); peak RSS is the child's VmHWM,
read right after the run (Paddle, data, model, optimizer state, one epoch and the test
pass over 1,000 images); the parameter count is the trainable parameters of the model
built after that.  The estimated CIFAR-10 epoch is 45,000 training images / throughput.

    .venv/bin/python benchmarks/models.py [--models 'resnet18,mobilenet_*'] [--images 5000]
                                          [--batch-size 64]

Models that cannot take 32x32 images (their factory refuses them) are listed as refused.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import write_section
from _vision_data import write_cifar

# The cifar-small grid's three models, the course's two and one fast model per family;
# the rest with --models (every model: --models '*', about an hour on 2 cores).
DEFAULT = ("cnn,mlp,lenet,resnet18,mobilenet_v2,vgg11_bn,mobilenet_v3_small,"
           "shufflenet_v2_x1_0,squeezenet1_1,densenet121,googlenet")
CIFAR_TRAIN = 45_000  # CIFAR-10's 50,000 training images less the default 10% validation


def vmhwm_mib() -> float:
    return int(re.search(r"VmHWM:\s+(\d+)", Path("/proc/self/status").read_text()).group(1)) / 1024


def child(args) -> dict:
    __import__("paddle")  # before anything is timed
    from zoo.errors import ZooError
    from zoo.job import Job
    from zoo.plugin import load_catalog
    from zoo.train import train

    catalog = load_catalog()
    with tempfile.TemporaryDirectory(prefix="zoo-models-") as tmp:
        job = Job(out=str(Path(tmp) / "run"), entries={
                      "models": args.child, "optimizers": "momentum", "schedules": "constant",
                      "regularizers": "none", "datasets": "cifar10"}, data_dir=args.data,
                  epochs=1, batch_size=args.batch_size, seed=0,
                  params={"datasets": {"progress": False, "val_fraction": 0.0}})
        began = time.perf_counter()
        try:
            result = train(job, catalog=catalog)
        except ZooError as exc:
            return {"status": "refused", "reason": str(exc)}
        run_s = time.perf_counter() - began
        peak = vmhwm_mib()
        epoch = result.epochs[0]
    net = catalog.build("models", args.child, input_shape=(3, 32, 32), num_classes=10)
    params = sum(int(p.numel()) for p in net.parameters() if not p.stop_gradient)
    return {"status": result.status, "params": params, "ips": epoch["images_per_s"],
            "train_s": epoch["seconds"], "run_s": run_s, "peak_mib": peak}


def selected(patterns: str) -> list[str]:
    from zoo.plugin import load_catalog

    names = load_catalog().registry.names("models")
    chosen = []
    for pattern in (p.strip() for p in patterns.split(",") if p.strip()):
        matches = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
        if not matches:
            raise SystemExit(f"--models: no model matches '{pattern}'")
        chosen += [m for m in matches if m not in chosen]
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=DEFAULT, help="comma list of names or globs")
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args)))
        return

    models = selected(args.models)
    rows = []
    with tempfile.TemporaryDirectory(prefix="zoo-models-data-") as tmp:
        data = write_cifar(Path(tmp) / "cifar", n_train=args.images, n_test=1000)
        print(f"{len(models)} models, one epoch of {args.images} generated 3x32x32 images each")
        for name in models:
            cmd = [sys.executable, __file__, "--child", name, "--data", str(data),
                   "--batch-size", str(args.batch_size)]
            began = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            wall = time.perf_counter() - began
            lines = proc.stdout.strip().splitlines()
            if proc.returncode or not lines:
                raise SystemExit(f"{name}: child failed:\n{proc.stderr[-2000:]}")
            row = {"model": name, "wall_s": wall, **json.loads(lines[-1])}
            rows.append(row)
            if row["status"] == "ok":
                print(f"  {name:22s} {row['params']:>12,} params {row['ips']:7.1f} img/s "
                      f"peak {row['peak_mib']:6.0f} MiB  ({wall:.0f} s)", flush=True)
            else:
                print(f"  {name:22s} {row['status']}: {row.get('reason', '')}", flush=True)

    lines = []
    for row in rows:
        if row["status"] != "ok":
            reason = row.get("reason", "").split(" (designed")[0]
            lines.append(f"| {row['model']} | - | - | - | - | {row['status']}: {reason} |")
            continue
        cifar_min = CIFAR_TRAIN / row["ips"] / 60
        lines.append(f"| {row['model']} | {row['params']:,} | {row['ips']:.1f} | {row['peak_mib']:.0f} | "
                     f"{row['train_s']:.1f} | {cifar_min:.1f} min |")
    body = (f"One epoch of {args.images:,} generated CIFAR-10-format images (3x32x32; real CIFAR-10 "
            f"is not on this machine) per model, batch {args.batch_size}, Momentum lr 0.01, each in "
            "a fresh process through `zoo.train.train`. Parameters: trainable, at 10 classes on "
            "3x32x32. Throughput: training steps only (metrics.json `images_per_s`). Peak RSS: "
            "the process's VmHWM after the run. The CIFAR-10 epoch is 45,000 images / throughput "
            "(an estimate, not a measured epoch).\n\n"
            "| model | parameters | train img/s | peak RSS MiB | epoch of the subset, s | "
            "CIFAR-10 epoch (est.) |\n|---|---|---|---|---|---|\n" + "\n".join(lines))
    print(body)
    write_section("models", body)


if __name__ == "__main__":
    main()
