"""What ``zoo train`` costs over a plain Paddle program of the same model, loop and data.

Both sides train the course CNN (Adam lr 0.01, batch 100, constant LR, no regularizer)
for the same epochs on the same splits and batches (zoo.data.load_mnist + BatchSampler),
validate after every epoch, save state after every epoch and test once at the end.  Each
run is a fresh child process (separate memory, cold start), zoo and plain alternate
(ABAB...), and only ratios from the same invocation are reported.

    .venv/bin/python benchmarks/train_overhead.py [--repeats 3] [--epochs 2] [--data-dir DIR]

Training throughput counts training steps only on both sides, with the same boundaries as
zoo's loop: from a batch in hand to after ``clear_grad`` (zoo's number is metrics.json's
``images_per_s``).  Epoch time runs from the start of an epoch to the end of its
validation.  The data share is the time spent in the sampler's ``next()`` over epoch time.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import default_data_dir, median, verdict, write_section
from zoo.layout import RunDir

LR, SEED = 0.01, 0


def vmhwm_mib() -> float:
    """Peak resident memory of this process (read by the child itself: per run, not max of all)."""
    return int(re.search(r"VmHWM:\s+(\d+)", Path("/proc/self/status").read_text()).group(1)) / 1024


class SamplerClock:
    """Sums the time spent producing training batches (next() on the sampler's iterator)."""

    seconds = 0.0

    def wrap(self, iterator):
        while True:
            began = time.perf_counter()
            batch = next(iterator, None)
            self.seconds += time.perf_counter() - began
            if batch is None:
                return
            yield batch


def child_zoo(args, out: Path) -> dict:
    from zoo.data import BatchSampler
    from zoo.job import Job
    from zoo.train import train
    from zoo.train.report import NullReporter

    clock, original = SamplerClock(), BatchSampler.epoch

    def timed_epoch(self, epoch, start_step=0):  # evaluation batches (shuffle=False) not counted
        it = original(self, epoch, start_step)
        return clock.wrap(it) if self.shuffle else it

    BatchSampler.epoch = timed_epoch
    epochs = []

    class EpochClock(NullReporter):  # epoch_end comes right after validation, before saving
        def epoch_start(self, epoch, n, first, steps):
            self.began = time.perf_counter()

        def epoch_end(self, record):
            epochs.append(time.perf_counter() - self.began)

    job = Job(out=str(out), entries={"models": "cnn", "optimizers": "adam", "schedules": "constant",
                                      "regularizers": "none"},
              params={"optimizers": {"learning_rate": LR}, "datasets": {"progress": False}},
              data_dir=args.data_dir, epochs=args.epochs, batch_size=args.batch_size, seed=SEED)
    began = time.perf_counter()
    result = train(job, EpochClock())
    run_s = time.perf_counter() - began
    metrics = json.loads(RunDir(out).metrics_file.read_text())
    images = sum(e["images_per_s"] * e["seconds"] for e in metrics["epochs"])
    return {"status": result.status, "train_ips": images / sum(e["seconds"] for e in metrics["epochs"]),
            "epoch_s": epochs, "data_s": clock.seconds, "run_s": run_s,
            "test_acc": metrics["test"]["acc"]}


def child_plain(args, out: Path) -> dict:
    """The course's program, written out as a user would without zoo."""
    import paddle
    import paddle.nn.functional as F
    from paddle import nn

    from zoo.data import BatchSampler, full_batches, load_mnist, transform_of

    class MNIST(nn.Layer):  # literal copy of the course network (= plugins/nets.py CourseCNN)
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2D(1, 20, 5, stride=1, padding=2)
            self.pool1 = nn.MaxPool2D(kernel_size=2, stride=2)
            self.conv2 = nn.Conv2D(20, 20, 5, stride=1, padding=2)
            self.pool2 = nn.MaxPool2D(kernel_size=2, stride=2)
            self.fc = nn.Linear(980, 10)

        def forward(self, x):
            x = self.pool1(F.relu(self.conv1(x)))
            x = self.pool2(F.relu(self.conv2(x)))
            return self.fc(paddle.flatten(x, 1))

    def evaluate(model, split):
        model.eval()
        correct = loss = 0.0
        with paddle.no_grad():
            for images, labels in full_batches(split, 1000, transform_of(data)):
                y = paddle.to_tensor(labels)
                logits = model(paddle.to_tensor(images))
                loss += float(F.cross_entropy(logits, y, reduction="sum"))
                correct += float(paddle.metric.accuracy(logits, y)) * len(labels)
        model.train()
        return loss / len(split), correct / len(split)

    began = time.perf_counter()
    paddle.set_device("cpu")
    data = load_mnist(args.data_dir, progress=False)
    sampler = BatchSampler(data.train, args.batch_size, seed=SEED, transform=transform_of(data))
    paddle.seed(SEED)
    model = MNIST()
    opt = paddle.optimizer.Adam(learning_rate=LR, parameters=model.parameters())
    clock, epochs, seen, step_s, curve = SamplerClock(), [], 0, 0.0, []
    model.train()
    for epoch in range(args.epochs):
        epoch_began = time.perf_counter()
        for images, labels in clock.wrap(sampler.epoch(epoch)):
            t = time.perf_counter()
            x, y = paddle.to_tensor(images), paddle.to_tensor(labels)
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            acc = paddle.metric.accuracy(logits, y)
            curve.append((float(loss), float(acc)))  # the course keeps both for its plots
            loss.backward()
            opt.step()
            opt.clear_grad()
            step_s += time.perf_counter() - t
            seen += len(labels)
        evaluate(model, data.val)
        epochs.append(time.perf_counter() - epoch_began)
        paddle.save(model.state_dict(), str(out / f"epoch{epoch}.pdparams"))
        paddle.save(opt.state_dict(), str(out / f"epoch{epoch}.pdopt"))
    _, test_acc = evaluate(model, data.test)
    return {"status": "ok", "train_ips": seen / step_s, "epoch_s": epochs, "data_s": clock.seconds,
            "run_s": time.perf_counter() - began, "test_acc": test_acc}


def run_child(kind: str, args) -> dict:
    cmd = [sys.executable, __file__, "--child", kind, "--epochs", str(args.epochs),
           "--batch-size", str(args.batch_size), "--data-dir", args.data_dir]
    began = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - began
    result = json.loads(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 else {}
    if result.get("status") != "ok":
        raise SystemExit(f"{kind} child failed:\n{proc.stdout[-500:]}\n{proc.stderr[-2000:]}")
    result["wall_s"] = wall
    print(f"  {kind:5s} {result['train_ips']:7.0f} img/s  epoch {median(result['epoch_s']):.2f} s  "
          f"process {wall:.1f} s  peak {result['peak_mib']:.0f} MiB  test acc {result['test_acc']:.4f}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs of each side (ABAB...)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--data-dir", default=default_data_dir())
    parser.add_argument("--child", choices=["zoo", "plain"], help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        __import__("paddle")  # before the clocks start, on both sides

        with tempfile.TemporaryDirectory(prefix="zoo-overhead-") as tmp:
            run = child_zoo if args.child == "zoo" else child_plain
            result = run(args, Path(tmp) / "run")
        result["peak_mib"] = vmhwm_mib()
        print(json.dumps(result))
        return

    print(f"data: {args.data_dir}; {args.repeats} x (zoo, plain), {args.epochs} epochs each")
    runs = {"zoo": [], "plain": []}
    for _ in range(args.repeats):
        for kind in ("zoo", "plain"):
            runs[kind].append(run_child(kind, args))

    measures = {"ips": lambda r: r["train_ips"], "epoch": lambda r: median(r["epoch_s"]),
                "run": lambda r: r["run_s"], "wall": lambda r: r["wall_s"],
                "peak": lambda r: r["peak_mib"], "acc": lambda r: r["test_acc"],
                "data": lambda r: r["data_s"] / sum(r["epoch_s"])}
    stats = {k: {m: median([fn(r) for r in rs]) for m, fn in measures.items()} for k, rs in runs.items()}
    for kind, rs in runs.items():  # best-of-N: least disturbed by other load on the machine
        stats[kind]["best"] = max(r["train_ips"] for r in rs)
    z, p = stats["zoo"], stats["plain"]
    paired = median([a["train_ips"] / b["train_ips"] for a, b in zip(runs["zoo"], runs["plain"])])
    rows = [("training throughput, img/s (steps only)", "ips", "{:.0f}"),
            ("training throughput of the best run, img/s", "best", "{:.0f}"),
            ("epoch time, s (train + validation)", "epoch", "{:.2f}"),
            ("run time in process, s (data load .. test)", "run", "{:.2f}"),
            ("process wall time, s", "wall", "{:.2f}"),
            ("peak RSS (VmHWM), MiB", "peak", "{:.0f}"),
            ("sampler share of epoch time", "data", "{:.2%}"),
            ("test accuracy", "acc", "{:.4f}")]
    table = "\n".join(f"| {label} | {fmt.format(z[key])} | {fmt.format(p[key])} | "
                      f"{z[key] / p[key]:.3f} |" for label, key, fmt in rows)
    ips, share, mem = z["ips"] / p["ips"], max(z["data"], p["data"]), z["peak"] / p["peak"]
    # The verdict uses the median of the pairs' ratios: the two runs of a pair follow each
    # other, so they share the machine's state, and this VM's speed drifts by 10-30%
    # between minutes; a ratio of medians mixes minutes and swings much more.
    pairs = [a["train_ips"] / b["train_ips"] for a, b in zip(runs["zoo"], runs["plain"])]
    checks = [(f"- throughput zoo/plain, median of the {len(pairs)} pairs' ratios = {paired:.3f} >= 0.97: "
               f"**{verdict(paired >= 0.97)}** (pairs: {', '.join(f'{r:.3f}' for r in pairs)}; "
               f"ratio of medians {ips:.3f}; best runs {z['best'] / p['best']:.3f})"),
              f"- sampler share of epoch time {share:.2%} < 2%: **{verdict(share < 0.02)}**",
              f"- peak memory zoo/plain = {mem:.3f} <= 1: **{verdict(mem <= 1)}**"]
    body = (f"`cnn` / adam lr {LR} / constant / none, batch {args.batch_size}, {args.epochs} epochs on "
            f"`{args.data_dir}`; medians of {args.repeats} fresh child processes per side, "
            f"run alternately.\n\n| measure | zoo | plain | zoo/plain |\n|---|---|---|---|\n"
            f"{table}\n\nTargets:\n\n" + "\n".join(checks))
    print(body)
    write_section("train_overhead", body)


if __name__ == "__main__":
    main()
