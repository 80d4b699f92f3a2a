"""``zoo serve`` and ``zoo bench-serve``: exports over HTTP (Open Inference Protocol) and
what that costs under load."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import click

from zoo.cli.common import catalog_from, echo_json
from zoo.cli.deploy_cmds import backend_sets
from zoo.errors import ConfigError

ALL_STEPS = "1,2,4,8,16,32"


def _is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@click.command("serve")
@click.argument("exports", metavar="EXPORT...", nargs=-1, required=True, type=click.Path())
@click.option("--name", "names", multiple=True,
              help="Model name in the URLs, once per export in order (default: the folder's name).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but loopback exposes the models to the network.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Port (0: any free one, announced on stdout).")
@click.option("--backend", default=None,
              help="Backend (zoo list backends; default: paddle-inference for a paddle export, "
                   "onnxruntime for an onnx one).")
@click.option("--device", default="cpu", show_default=True, help="cpu, gpu or gpu:N.")
@click.option("--set", "sets", multiple=True, metavar="backend.PARAM=VALUE",
              help="Override a backend parameter, e.g. backend.threads=1.")
@click.option("--max-batch", type=click.IntRange(1, 4096), default=64, show_default=True,
              help="Most images run as one batch (1: no batching).")
@click.option("--max-delay-ms", type=click.FloatRange(0, 1000), default=2.0, show_default=True,
              help="Longest a batch waits for requests the server is still reading.")
@click.option("--max-body-mb", type=click.FloatRange(0, 4096, min_open=True), default=16.0,
              show_default=True, help="Largest request body; bigger ones get 413.")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Server processes, each with its own copy of every model.")
@click.pass_context
def serve_command(ctx, exports, names, host, port, backend, device, sets, max_batch, max_delay_ms,
                  max_body_mb, workers):
    """Serve exports over HTTP with the Open Inference Protocol (KServe v2), as Triton,
    KServe and MLServer do, with dynamic batching.

    Endpoints: GET /v2/health/live, /v2/health/ready, /v2/models/NAME, /v2/models/NAME/ready;
    POST /v2/models/NAME/infer (tensors in, logits out) and /v2/models/NAME/classify (a PNG
    or JPEG body in, the top classes out).  SIGTERM or Ctrl+C answers the requests in
    flight, then exits 0.  Every export's checksums are verified before it is served.
    """
    from zoo.serving import require
    from zoo.serving.models import ServeOptions, check_backends, load_all, model_names, verified
    from zoo.serving.server import bind, serve_loaded, url_of
    from zoo.serving.workers import serve_workers

    require("starlette", "uvicorn")
    paths = [Path(p) for p in exports]
    options = ServeOptions(exports=[str(p.absolute()) for p in paths], names=model_names(paths, names),
                           backend=backend, device=device.lower(), overrides=backend_sets(sets),
                           max_batch=max_batch, max_delay_ms=max_delay_ms,
                           max_body_bytes=int(max_body_mb * 2**20),
                           registry_file=ctx.obj["registry_file"])
    models = verified(options)  # a damaged export is refused before anything loads
    catalog = catalog_from(ctx, check=False)
    check_backends(catalog, models, options)
    if workers == 1:  # else each worker process loads its own copies
        load_all(catalog, models, options)
    # With workers the port is only held here: each worker listens on a socket of its own.
    sock = bind(host, port, reuse_port=workers > 1, listen=workers == 1)
    url = url_of(sock)
    if not _is_loopback(host):
        click.echo(f"zoo: warning: listening on {host}: anyone who can reach this machine can use "
                   "the models (zoo serve has no authentication)", err=True)
    from zoo.deploy.export import DEFAULT_BACKEND

    def announce() -> None:  # once a connection can no longer be refused
        for model in models:
            backend_name = options.backend or DEFAULT_BACKEND[model.manifest["export_format"]]
            click.echo(f"serving {model.name} ({model.export_dir}, {backend_name} on {options.device}) "
                       f"at {url}/v2/models/{model.name}")
        click.echo(f"listening on {url}")

    try:
        if workers > 1:
            serve_workers(options, sock, workers, announce)
        else:
            announce()
            serve_loaded(models, options, sock)
    finally:
        sock.close()
    click.echo("zoo: stopped", err=True)
    return 0


@click.command("bench-serve")
@click.argument("target", metavar="URL|EXPORT")
@click.option("--model", default=None,
              help="Model name on the server (default: the export folder's name, or the only "
                   "export given).")
@click.option("--concurrency", default=ALL_STEPS, show_default=True,
              help="Comma list of requests kept in flight, one step each.")
@click.option("--seconds", type=click.FloatRange(0.1, 3600), default=5.0, show_default=True,
              help="Measured time per step.")
@click.option("--warmup", type=click.FloatRange(0, 600), default=1.0, show_default=True,
              help="Unmeasured seconds before each step.")
@click.option("--images", type=click.IntRange(1, 1024), default=1, show_default=True,
              help="Images per request.")
@click.option("--datatype", type=click.Choice(["FP32", "UINT8"]), default="FP32", show_default=True,
              help="FP32: normalised pixels (random normal); UINT8: raw pixels 0..255 (random).")
@click.option("--binary", is_flag=True,
              help="Send the pixels as raw bytes and ask for binary logits (the protocol's binary "
                   "tensor data extension) instead of JSON numbers.")
@click.option("--max-requests", type=click.IntRange(1), default=100_000, show_default=True,
              help="Most requests per step (a bound besides --seconds).")
@click.option("--sweep", type=click.Path(file_okay=False), default=None,
              help="Record the steps in this sweep's results.db (zoo results DIR --inference).")
@click.option("--export", "export_dir", type=click.Path(), default=None,
              help="With a URL and --sweep: the export the server serves (finds the cell).")
@click.option("--backend", default=None, help="EXPORT only: the server's --backend.")
@click.option("--max-batch", type=click.IntRange(1, 4096), default=64, show_default=True,
              help="EXPORT only: the server's --max-batch.")
@click.option("--max-delay-ms", type=click.FloatRange(0, 1000), default=2.0, show_default=True,
              help="EXPORT only: the server's --max-delay-ms.")
@click.option("--format", "fmt", type=click.Choice(["table", "markdown", "csv", "json"]),
              default="table", show_default=True)
@click.pass_context
def bench_serve_command(ctx, target, model, concurrency, seconds, warmup, images, datatype, binary,
                        max_requests, sweep, export_dir, backend, max_batch, max_delay_ms, fmt):
    """Measure a server under load: steps of 1, 2, 4 ... 32 requests in flight, each for
    --seconds after a warm-up; per step requests/s, images/s and p50/p90/p99 latency.

    URL: a running server on this machine (http://127.0.0.1:PORT).  EXPORT: an export
    folder, served for the measurement by a `zoo serve` of its own on a free port.
    """
    from zoo.serving import require
    from zoo.serving.bench import run_bench_serve
    from zoo.serving.loadgen import LoadOptions

    require("httpx", "starlette", "uvicorn")
    try:
        steps = tuple(int(s) for s in concurrency.split(",") if s.strip())
    except ValueError:
        steps = ()
    if not steps or any(not 1 <= s <= 1024 for s in steps):
        raise ConfigError(f"--concurrency {concurrency!r}: a comma list of whole numbers 1..1024")
    options = LoadOptions(concurrency=steps, seconds=seconds, warmup_s=warmup, images=images,
                          datatype=datatype, binary=binary, max_requests=max_requests)
    server_args = {"backend": backend, "max_batch": max_batch, "max_delay_ms": max_delay_ms}
    report = run_bench_serve(target, model, options, Path(sweep) if sweep else None,
                             Path(export_dir) if export_dir else None, server_args,
                             ctx.obj["registry_file"], on_step=_step_line)
    if fmt == "json":
        echo_json(report)
    else:
        from zoo.bench.serve_tables import render_steps

        click.echo(render_steps(report["steps"], fmt))
    return 0


def _step_line(step) -> None:
    click.echo(f"concurrency {step.concurrency:>3}: {step.requests_per_s:8.1f} req/s "
               f"{step.images_per_s:8.1f} img/s  p50 {step.p50_ms:.2f} ms  p99 {step.p99_ms:.2f} ms"
               + (f"  {step.errors} errors ({_kinds(step.error_kinds)}; first: {step.first_error})"
                  if step.errors else ""), err=True)


def _kinds(kinds: dict[str, int]) -> str:
    return ", ".join(f"{count} {kind}" for kind, count in kinds.items())


COMMANDS = [serve_command, bench_serve_command]
