"""``zoo serve`` under load: dynamic batching against ``--max-batch 1``, the server's own
overhead, and a soak; the course CNN and one vision model, side by side in one run.

For each model: train one short epoch, export it (paddle, or ``--format onnx``: then
served by onnxruntime and written to the section ``serve-onnx``; with zoo export's
agreement check), start two real ``zoo serve`` processes on free ports of 127.0.0.1 (default
batching, and ``--max-batch 1``), and measure them with wrk (``--loadgen wrk``, the
default when Debian's ``wrk`` is installed: a C client whose CPU does not compete with the
server's, see _wrk.py) or ``zoo bench-serve``'s load generator (``--loadgen zoo``, async
httpx), one connection per request in flight, rounds interleaved so a change of load hits
both alike:

- images/s and p99 at concurrency 16, batching vs ``--max-batch 1``; p99 at concurrency 1;
- the server's overhead at concurrency 1: p50 of an HTTP round trip minus the backend's
  own p50 at batch 1 (``zoo.deploy.measure.latency``, the same backend and settings, in
  this process);
- 60 s at concurrency 32 on the batching server: errors (counted by kind, with the first
  one's text and the server's last log lines), and its RSS at the end against its RSS
  after the warm-up;
- JSON against the binary tensor data extension (``--binary``: raw bytes in and out) at
  concurrency 1 and 16 on the batching server: p50, overhead and CPU per request.

The hand-written reading of the figures is kept in ``SECTION_reading.md`` next to this
script (``serve_reading.md``, ``serve-onnx_reading.md``) and copied into the section as
is: regenerating the figures never loses it, and it says which run it reads.

Targets: images/s at c16 >= 2x ``--max-batch 1``'s; p99 at c16 <= 2x p99 at c1;
overhead < 1 ms; soak 0 errors and RSS within 10%.

    .venv/bin/python benchmarks/serve.py [--rounds 3] [--seconds 4] [--soak 60]
                                         [--models cnn,mobilenet_v2] [--format paddle|onnx]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import REPO, CpuWatch, default_data_dir, verdict, write_section
from _procs import client_cpu, cpu_seconds, rss_kib
from _vision_data import write_cifar

VISION = "mobilenet_v2"
BACKEND = {"paddle": "paddle-inference", "onnx": "onnxruntime"}  # zoo serve's default for each format


def zoo(*args: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "zoo", *args], capture_output=True, text=True, cwd=REPO)
    if proc.returncode:
        raise SystemExit(f"zoo {' '.join(args)} failed: {proc.stderr[-1500:]}")


def prepare(tmp: Path, data_dir: str, models: list[str], fmt: str) -> dict[str, Path]:
    cifar = write_cifar(tmp / "cifar", n_train=500, n_test=300)
    runs = {"cnn": ["--model", "cnn", "--data-dir", data_dir],
            VISION: ["--model", VISION, "--dataset", "cifar10", "--data-dir", str(cifar)]}
    exports = {}
    for name, args in ((m, runs[m]) for m in models):
        zoo("train", *args, "--epochs", "1", "--batch-size", "50", "--out", str(tmp / f"run-{name}"), "--quiet")
        zoo("export", str(tmp / f"run-{name}"), "--format", fmt, "--out", str(tmp / name))
        exports[name] = tmp / name
    return exports


def backend_p50_ms(export: Path, requests: int) -> float:
    """The backend alone at batch 1, loaded exactly as the server loads it (its default
    backend, and the thread count zoo serve gives it)."""
    import numpy as np

    from zoo.deploy.manifest import read_manifest
    from zoo.deploy.measure import latency
    from zoo.deploy.serve import open_backend
    from zoo.plugin import load_catalog
    from zoo.serving.models import ServeOptions, serving_overrides

    catalog = load_catalog()
    overrides = serving_overrides(catalog, ServeOptions(exports=[], names=[]), read_manifest(export))
    backend, manifest, _ = open_backend(catalog, export, None, overrides=overrides)
    try:
        sample = np.random.default_rng(0).standard_normal((1, *manifest["input"]["shape"])).astype(np.float32)
        return latency(backend.predict, sample, requests, warmup=50).p50_ms
    finally:
        backend.close()


LOADGEN = {"loadgen": "zoo"}  # --loadgen, set once by main()


def step(url: str, model: str, concurrency: int, seconds: float, warmup: float, binary: bool = False):
    if LOADGEN["loadgen"] == "wrk":
        import _wrk

        return _wrk.step(url, model, concurrency, seconds, warmup, binary)
    from zoo.serving.loadgen import LoadOptions, run_steps

    options = LoadOptions(concurrency=(concurrency,), seconds=seconds, warmup_s=warmup, binary=binary)
    return asyncio.run(run_steps(url, model, options))[0]


def costed_step(server, name: str, concurrency: int, seconds: float, binary: bool = False) -> tuple:
    """A step, and the CPU milliseconds per request spent by the server and by the client."""
    server_before, client_before = cpu_seconds(server.pid), client_cpu()
    found = step(server.url, name, concurrency, seconds, 0.0, binary)
    done = max(1, found.requests)
    return found, ((cpu_seconds(server.pid) - server_before) / done * 1e3,
                   (client_cpu() - client_before) / done * 1e3)


def measure(name: str, export: Path, args) -> dict:
    from zoo.serving.local import LocalServer

    found: dict = {"c1": [], "c16": [], "one_c1": [], "one_c16": [], "backend_p50": [], "bin_c1": [],
                   "bin_c16": []}
    workers = ("--workers", str(args.workers))
    with LocalServer([export], "--name", name, *workers) as batching, \
            LocalServer([export], "--name", name, "--max-batch", "1", *workers) as single:
        for _ in range(args.rounds):
            found["backend_p50"].append(backend_p50_ms(export, args.requests))
            found["c1"].append(step(batching.url, name, 1, args.seconds, 1.0))
            found["one_c1"].append(step(single.url, name, 1, args.seconds, 1.0))
            found["c16"].append(step(batching.url, name, 16, args.seconds, 1.0))
            found["one_c16"].append(step(single.url, name, 16, args.seconds, 1.0))
            found["bin_c1"].append(step(batching.url, name, 1, args.seconds, 1.0, binary=True))
            found["bin_c16"].append(step(batching.url, name, 16, args.seconds, 1.0, binary=True))
        found["steps"] = [step(batching.url, name, c, args.seconds, 1.0) for c in (1, 2, 4, 8, 16, 32)]
        found["cpu"] = {(c, binary): costed_step(batching, name, c, args.seconds, binary)[1]
                        for c in (1, 16) for binary in (False, True)}
        single.close()
        step(batching.url, name, 32, 5.0, 0.0)  # warm-up of the soak
        found["rss_start"] = rss_kib(batching.pid)
        found["soak"] = step(batching.url, name, 32, args.soak, 0.0)
        found["rss_end"] = rss_kib(batching.pid)
        batching.log.seek(0)
        found["server_log"] = [line for line in batching.log.read().splitlines() if line.strip()][-5:]
        found["exit"] = batching.close()
    return found


def med(steps, key: str) -> float:
    return statistics.median(getattr(s, key) for s in steps)


def soak_line(name: str, r: dict, seconds: float) -> str:
    soak, drift = r["soak"], r["rss_end"] / r["rss_start"] - 1
    line = (f"- {name}: {seconds:.0f} s at c32: {soak.requests:,} requests, {soak.errors} errors, "
            f"RSS {r['rss_start'] / 1024:.0f} -> {r['rss_end'] / 1024:.0f} MiB ({drift:+.1%}): "
            f"**{verdict(soak.errors == 0 and abs(drift) <= 0.10)}**; exit code after SIGTERM {r['exit']}")
    if soak.errors:
        kinds = ", ".join(f"{count} {kind}" for kind, count in soak.error_kinds.items())
        log = "; ".join(r["server_log"]) or "(nothing)"
        line += f"\n  - errors by kind: {kinds}; the first: `{soak.first_error}`; the server's log: {log}"
    return line


def encodings(name: str, r: dict, backend: float) -> list[str]:
    """JSON against binary tensor data at c1 and c16: latency, overhead, CPU per request."""
    rows = []
    for label, c1, c16, binary in (("JSON", "c1", "c16", False), ("binary", "bin_c1", "bin_c16", True)):
        rows.append(f"| {name} | {label} | {med(r[c1], 'p50_ms'):.3f} | {med(r[c1], 'p50_ms') - backend:.3f} | "
                    f"{r['cpu'][(1, binary)][0]:.2f} | {r['cpu'][(1, binary)][1]:.2f} | "
                    f"{med(r[c16], 'images_per_s'):,.0f} | {med(r[c16], 'p99_ms'):.2f} | "
                    f"{r['cpu'][(16, binary)][0]:.2f} | {r['cpu'][(16, binary)][1]:.2f} |")
    return rows


def p99_bound(r: dict) -> str:
    """Whether this machine could meet the p99 target at all with this server's CPU cost.

    Little's law for a closed loop: 16 requests always in flight wait 16 / throughput on
    average, and a p99 is at least the mean; so p99 <= 2x the c1 p99 needs a throughput of at
    least 8 / p99(c1).  The server and the client spend their CPU per request on this
    machine's cores, which caps the throughput at cores / (server + client CPU per request)."""
    needed = 8 / (med(r["c1"], "p99_ms") / 1e3)
    server_ms, client_ms = r["cpu"][(16, False)]
    cap = (os.cpu_count() or 1) / ((server_ms + client_ms) / 1e3)
    reach = "out of reach on this machine at this server's CPU cost" if cap < needed else \
        "the cores would allow it: the tail is the server's queueing"
    return (f" (needs >= {needed:,.0f} requests/s at c16 by Little's law; {os.cpu_count()} cores at "
            f"{server_ms + client_ms:.2f} ms of CPU a request allow at most {cap:,.0f}: {reach})")


def report(args, results: dict[str, dict], load: str) -> None:
    lines, checks, coded = [], [], []
    for name, r in results.items():
        backend = statistics.median(r["backend_p50"])
        ratio = med(r["c16"], "images_per_s") / med(r["one_c16"], "images_per_s")
        p99_ratio = med(r["c16"], "p99_ms") / med(r["c1"], "p99_ms")
        overhead = med(r["c1"], "p50_ms") - backend
        overhead_bin = med(r["bin_c1"], "p50_ms") - backend
        lines.append(f"| {name} | {med(r['c1'], 'images_per_s'):,.0f} | {med(r['one_c16'], 'images_per_s'):,.0f} | "
                     f"{med(r['c16'], 'images_per_s'):,.0f} | {ratio:.2f} | {med(r['c1'], 'p99_ms'):.2f} | "
                     f"{med(r['c16'], 'p99_ms'):.2f} | {backend:.3f} | {med(r['c1'], 'p50_ms'):.3f} | {overhead:.3f} |")
        checks += [
            f"- {name}: images/s at c16, batching / --max-batch 1 = {ratio:.2f} >= 2: **{verdict(ratio >= 2)}**",
            f"- {name}: p99 at c16 / p99 at c1 = {p99_ratio:.2f} <= 2: **{verdict(p99_ratio <= 2)}**"
            f"{p99_bound(r)}",
            f"- {name}: overhead at c1 = {overhead:.3f} ms < 1 ms: **{verdict(overhead < 1)}** "
            f"(binary tensor data: {overhead_bin:.3f} ms: **{verdict(overhead_bin < 1)}**)",
            soak_line(name, r, args.soak),
        ]
        coded += encodings(name, r, backend)
    cpu = [f"| {name} | {c} | {r['cpu'][(c, False)][0]:.2f} | {r['cpu'][(c, False)][1]:.2f} | "
           f"{statistics.median(r['backend_p50']):.3f} |" for name, r in results.items() for c in (1, 16)]
    steps = [f"| {name} | {s.concurrency} | {s.requests_per_s:,.1f} | {s.images_per_s:,.1f} | {s.p50_ms:.2f} | "
             f"{s.p90_ms:.2f} | {s.p99_ms:.2f} | {s.errors} |" for name, r in results.items() for s in r["steps"]]
    trained = {"cnn": f"course CNN `cnn` (1 epoch on `{args.data_dir}`)",
               VISION: f"`{VISION}` (1 epoch on generated CIFAR-format data, 3x32x32)"}
    which = " and ".join(trained[name] for name in results)
    each = f", each with --workers {args.workers}" if args.workers > 1 else ""
    body = (f"{which[0].upper()}{which[1:]}, each exported ({args.format}) and served by `zoo serve` with its "
            f"default backend ({BACKEND[args.format]}): one server with the default batching (--max-batch 64, "
            f"--max-delay-ms 2), one with --max-batch 1, both running at once{each}. Load: {LOADGENS[args.loadgen]} "
            f"(1 image per FP32 request, JSON unless said binary), {args.seconds:g} s "
            f"per step after 1 s of warm-up; medians of {args.rounds} interleaved rounds.\n\n"
            f"Load average when the script started: {load}. {cpu_sentence(args.cpu)}\n\n"
            "| model | img/s c1 | img/s c16, max-batch 1 | img/s c16, batching | ratio | p99 ms c1 | "
            "p99 ms c16 | backend p50 ms b1 | HTTP p50 ms c1 | overhead ms |\n"
            "|---|---|---|---|---|---|---|---|---|---|\n" + "\n".join(lines) +
            "\n\nTargets:\n\n" + "\n".join(checks) +
            "\n\nJSON against the binary tensor data extension (`zoo bench-serve --binary`: the pixels as "
            "raw bytes after a JSON header, the logits back as raw bytes), batching server, medians of the "
            "rounds; server CPU from one more step each:\n\n"
            "| model | encoding | HTTP p50 ms c1 | overhead ms c1 | server CPU ms/req c1 | client CPU ms/req c1 | "
            "img/s c16 | p99 ms c16 | server CPU ms/req c16 | client CPU ms/req c16 |\n"
            "|---|---|---|---|---|---|---|---|---|---|\n" + "\n".join(coded) +
            "\n\nWhere the CPU goes (batching server, JSON, one more step each; CPU time of the server "
            "process and of this load generator, per request):\n\n"
            "| model | concurrency | server CPU ms/request | client CPU ms/request | backend p50 ms b1 |\n"
            "|---|---|---|---|---|\n" + "\n".join(cpu) +
            "\n\nEvery step of the batching server (JSON, one pass after the rounds):\n\n"
            "| model | concurrency | req/s | img/s | p50 ms | p90 ms | p99 ms | errors |\n"
            "|---|---|---|---|---|---|---|---|\n" + "\n".join(steps))
    section = ("serve" if args.format == "paddle" else f"serve-{args.format}") \
        + (f"-workers{args.workers}" if args.workers > 1 else "")
    reading = Path(__file__).with_name(f"{section}_reading.md")
    if reading.exists():
        body += f"\n\n### Reading (hand-written in benchmarks/{reading.name}, kept when the figures are regenerated)\n\n" \
                + reading.read_text().strip()
    write_section(section, body)


LOADGENS = {"zoo": "`zoo bench-serve`'s generator (async httpx, one connection per request in flight)",
            "wrk": "wrk (`--loadgen wrk`, Debian's `wrk` 4.1: a C load generator, one thread, "
                   "one connection per request in flight, the same request bodies as `zoo bench-serve`; "
                   "benchmarks/_wrk.py)"}


def cpu_sentence(cpu: dict) -> str:
    """How busy the CPU was during the run, and how much of it was not this script's."""
    said = (f"During the run ({cpu['seconds'] / 60:.0f} min) the CPU was {cpu['busy']:.0%} busy, "
            f"{cpu['ours']:.0%} of all cores' time by this script, its servers and wrk")
    if cpu["others"] < 0.10:
        return said + ": the machine was otherwise quiet."
    return (said + f", {cpu['others']:.0%} by other work: **the machine was shared**; absolute "
            f"figures are slower and noisier than on a quiet machine; read the ratios, which "
            f"compare servers measured side by side under the same load.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=4.0, help="measured seconds per step")
    parser.add_argument("--soak", type=float, default=60.0, help="seconds at concurrency 32")
    parser.add_argument("--requests", type=int, default=300, help="batch-1 backend calls timed")
    parser.add_argument("--data-dir", default=default_data_dir())
    parser.add_argument("--models", default=f"cnn,{VISION}", help="comma list: cnn and/or " + VISION)
    parser.add_argument("--format", choices=sorted(BACKEND), default="paddle",
                        help="export format, served by its default backend (onnx: section serve-onnx)")
    parser.add_argument("--loadgen", choices=sorted(LOADGENS), default=None,
                        help="the load generator: wrk (default when installed: apt-get install wrk) "
                             "or zoo bench-serve's httpx")
    parser.add_argument("--workers", type=int, default=1,
                        help="zoo serve --workers for both servers (section serve-workersN)")
    args = parser.parse_args()
    import _wrk

    args.loadgen = args.loadgen or ("wrk" if _wrk.available() else "zoo")
    LOADGEN["loadgen"] = args.loadgen
    load = Path("/proc/loadavg").read_text().split()[:3]
    load = f"{', '.join(load)} (1, 5, 15 min) on {os.cpu_count()} cores"
    watch = CpuWatch()
    with tempfile.TemporaryDirectory(prefix="zoo-bench-serve-") as tmp:
        exports = prepare(Path(tmp), args.data_dir, args.models.split(","), args.format)
        results = {name: measure(name, export, args) for name, export in exports.items()}
    args.cpu = watch.stop()  # the servers and wrk are children, all waited for by now
    report(args, results, load)


if __name__ == "__main__":
    main()
