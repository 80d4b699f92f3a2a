"""Per dataset: load time (first against cached) and the data's share of an epoch.

Datasets, at their real sizes, in their real formats (generated where the real data is
not on this machine; load and batch costs depend on format and size, not pixels):

- mnist on ``--data-dir`` (default ../shared/data/mnist-5k: real MNIST, 5,000 training images);
- fashion-mnist: generated IDX files, 60,000 / 10,000 images;
- cifar10: generated binary records, 50,000 / 10,000, read from ``cifar-10-binary.tar.gz``
  (how a download arrives) and from the extracted ``.bin`` files (what zoo's cache keeps);
- imagefolder: generated PNGs, ``--folder-images`` training and 1,000 test images, 32x32 RGB.

Every load is a fresh process (`catalog.build('datasets', ...)` timed inside it).  "First"
is the first load of the data: for imagefolder that decodes every image and writes the
cache; "cached" is the median of the next ``--repeats`` loads.  The other datasets have no
decode step, so their first and cached loads differ only by the OS file cache.

Share of an epoch: in one more process per dataset, the time to produce one epoch of
training batches (batch 64, with augment=flip_crop for cifar10 and imagefolder as the
cifar-small grid uses) and the course CNN's training throughput on that data (the fastest
model of the zoo: the worst case for the data's share); epoch time = batches + training
images / throughput.

    .venv/bin/python benchmarks/data_load.py [--repeats 3] [--folder-images 5000] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from _common import default_data_dir, median, verdict, write_section
from _vision_data import write_cifar, write_idx, write_imagefolder

BATCH, STEPS = 64, 40


def child_load(name: str, data_dir: str, params: dict) -> dict:
    from zoo.plugin import load_catalog

    catalog = load_catalog()
    began = time.perf_counter()
    data = catalog.build("datasets", name, {**params, "progress": False}, data_dir=data_dir)
    took = time.perf_counter() - began
    return {"load_s": took, "sizes": [len(data.train), len(data.val), len(data.test)],
            "shape": list(data.input_shape)}


def child_epoch(name: str, data_dir: str, params: dict) -> dict:
    import paddle
    import paddle.nn.functional as F

    from zoo.data import BatchSampler, transform_of
    from zoo.plugin import load_catalog

    catalog = load_catalog()
    data = catalog.build("datasets", name, {**params, "progress": False}, data_dir=data_dir)
    sampler = BatchSampler(data.train, BATCH, seed=0, transform=transform_of(data))
    began = time.perf_counter()
    batches = list(sampler.epoch(0))
    batches_s = time.perf_counter() - began
    paddle.seed(0)
    net = catalog.build("models", "cnn", input_shape=tuple(data.input_shape),
                        num_classes=int(data.num_classes))
    opt = paddle.optimizer.Momentum(learning_rate=0.01, parameters=net.parameters())
    seen, spent, warm = 0, 0.0, min(5, len(batches) // 2)
    for i, (images, labels) in enumerate(batches[:STEPS + warm]):
        began = time.perf_counter()
        loss = F.cross_entropy(net(paddle.to_tensor(images)), paddle.to_tensor(labels))
        loss.backward()
        opt.step()
        opt.clear_grad()
        if i >= warm:  # the first steps warm Paddle's kernels up
            spent += time.perf_counter() - began
            seen += len(labels)
    return {"batches_s": batches_s, "ips": seen / spent, "train": len(data.train)}


def run(kind: str, name: str, data_dir: str, params: dict) -> dict:
    cmd = [sys.executable, __file__, "--child", kind, "--name", name, "--data-dir", data_dir,
           "--params", json.dumps(params)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode or not lines:
        raise SystemExit(f"{name} ({kind}) failed:\n{proc.stderr[-2000:]}")
    return json.loads(lines[-1])


def tarball(folder: Path, dest: Path) -> Path:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=1) as tar:
        for path in sorted(folder.iterdir()):
            tar.add(path, arcname=f"cifar-10-batches-bin/{path.name}")
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "cifar-10-binary.tar.gz").write_bytes(buffer.getvalue())
    return dest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--folder-images", type=int, default=5000)
    parser.add_argument("--data-dir", default=default_data_dir())
    parser.add_argument("--child", choices=["load", "epoch"], help=argparse.SUPPRESS)
    parser.add_argument("--name", help=argparse.SUPPRESS)
    parser.add_argument("--params", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child = child_load if args.child == "load" else child_epoch
        print(json.dumps(child(args.name, args.data_dir, json.loads(args.params))))
        return

    with tempfile.TemporaryDirectory(prefix="zoo-data-load-") as tmp:
        tmp = Path(tmp)
        print("generating data ...", flush=True)
        cifar_bins = write_cifar(tmp / "cifar-bin")
        cases = [  # (label, dataset, folder, params of the load, params of the epoch)
            ("mnist", "mnist", args.data_dir, {}, {}),
            ("fashion-mnist", "fashion-mnist", str(write_idx(tmp / "fashion")), {}, {}),
            ("cifar10 (.tar.gz)", "cifar10", str(tarball(cifar_bins, tmp / "cifar-tar")), {}, None),
            ("cifar10 (.bin)", "cifar10", str(cifar_bins), {}, {"augment": "flip_crop"}),
            ("imagefolder", "imagefolder",
             str(write_imagefolder(tmp / "folder", n_train=args.folder_images)), {},
             {"augment": "flip_crop"}),
        ]
        rows = []
        for label, name, folder, load_params, epoch_params in cases:
            first = run("load", name, folder, load_params)
            cached = [run("load", name, folder, load_params)["load_s"] for _ in range(args.repeats)]
            row = {"label": label, "first": first["load_s"], "cached": median(cached),
                   "sizes": first["sizes"], "shape": first["shape"]}
            if epoch_params is not None:
                epoch = run("epoch", name, folder, epoch_params)
                row["epoch"] = epoch["batches_s"] + epoch["train"] / epoch["ips"]
                row.update(batches=epoch["batches_s"], ips=epoch["ips"],
                           augment=epoch_params.get("augment", "none"))
            rows.append(row)
            print(f"  {label:18s} first {row['first']:6.2f} s  cached {row['cached']:6.2f} s"
                  + (f"  batches {row['batches']:.2f} s  cnn {row['ips']:.0f} img/s  "
                     f"epoch {row['epoch']:.1f} s" if "epoch" in row else ""), flush=True)

    epochs = {r["label"].split(" ")[0]: r["epoch"] for r in rows if "epoch" in r}
    table, checks = [], []
    for r in rows:
        epoch = epochs[r["label"].split(" ")[0]]
        load_share, batch_share = r["cached"] / epoch, r.get("batches", float("nan")) / epoch
        sizes = "/".join(f"{n:,}" for n in r["sizes"])
        table.append(f"| {r['label']} | {sizes} | {'x'.join(map(str, r['shape']))} | {r['first']:.2f} | "
                     f"{r['cached']:.2f} | {epoch:.1f} | {load_share:.2%} | "
                     + (f"{batch_share:.2%} ({r['augment']}) |" if "batches" in r else "- |"))
        ok = load_share < 0.02 and (batch_share < 0.02 if "batches" in r else True)
        checks.append(f"- {r['label']}: cached load {load_share:.2%}"
                      + (f", batches {batch_share:.2%}" if "batches" in r else "")
                      + f" of an epoch < 2%: **{verdict(ok)}**")
    folder = next(r for r in rows if r["label"] == "imagefolder")
    checks.append(f"- imagefolder decodes once: cached load {folder['cached']:.2f} s against "
                  f"{folder['first']:.2f} s for the first (decode + write): "
                  f"**{verdict(folder['cached'] < 0.25 * folder['first'])}** (target: under a quarter)")
    body = ("Loads in fresh processes (first, then the median of "
            f"{args.repeats} more); epoch = one epoch of training batches (batch {BATCH}) + training "
            "images / the course CNN's throughput on that data (steps only; the fastest model, so "
            "the worst case for the data's share). fashion-mnist, cifar10 and imagefolder are "
            f"generated in the real formats at real sizes (not on this machine); mnist is `{args.data_dir}`. "
            "Shares use the cached load. mnist-5k pairs 4,167 training images with the full "
            "10,000-image test set, so its load is large against its short epoch; the "
            "fashion-mnist row is the same loader and format at MNIST's real size.\n\n"
            "| dataset | train/val/test | shape | first load, s | cached load, s | epoch, s | "
            "load / epoch | batches / epoch |\n|---|---|---|---|---|---|---|---|\n"
            + "\n".join(table) + "\n\nTargets:\n\n" + "\n".join(checks))
    print(body)
    write_section("data_load", body)


if __name__ == "__main__":
    main()
