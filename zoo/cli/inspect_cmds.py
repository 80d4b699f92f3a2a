"""``zoo inspect`` (per-layer shapes, parameters, activations) and ``zoo board`` (VisualDL)."""

from __future__ import annotations

import collections
import errno
import http.client
import os
import signal
import socket
import subprocess
import threading
import time

import click

from zoo.cli.common import catalog_from, echo_json, echo_table
from zoo.errors import ConfigError, ZooError

MNIST_SHAPE, MNIST_CLASSES = (1, 28, 28), 10


def parse_model_sets(sets: tuple[str, ...]) -> dict:
    """``model.PARAM=VALUE`` -> {PARAM: VALUE}, parsed like ``zoo train --set``."""
    from zoo.job import parse_sets

    params = parse_sets(sets)
    if set(params) - {"models"}:
        raise ConfigError(f"--set {', '.join(sets)}: zoo inspect only takes model.PARAM=VALUE")
    return params.get("models", {})


def _shape(shape, batch_size: int | None = None) -> str:
    if shape is None:
        return "-"  # never called
    dims = ["B" if i == 0 and d == batch_size else str(d) for i, d in enumerate(shape)]
    return "[" + ",".join(dims) + "]"


def _load_batch(catalog, dataset: str, data_dir, batch_size: int, seed: int):
    """A real, normalized batch and the dataset's input shape / class count."""
    from zoo.layer_report import data_batch

    declared = catalog.params("datasets", dataset)
    # Inspecting must never start a download or draw a progress bar.
    quiet = {k: False for k in ("download", "progress") if k in declared}
    data = catalog.build("datasets", dataset, quiet, data_dir=data_dir)
    images = data.train.images
    input_shape = tuple(getattr(data, "input_shape", None) or (1, *images.shape[1:]))
    num_classes = getattr(data, "num_classes", None) or MNIST_CLASSES
    source = f"{dataset} train split ({getattr(data, 'source', '?')})"
    return data_batch(images, batch_size, seed), input_shape, num_classes, source


@click.command("inspect")
@click.argument("model")
@click.option("--set", "sets", multiple=True, metavar="model.PARAM=VALUE",
              help="Override a model parameter (repeatable); VALUE is parsed as JSON if it can be.")
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--content", is_flag=True,
              help="Run real images and report mean/std/zeros/dead units per layer.")
@click.option("--data-dir", type=click.Path(), default=None, help="Dataset folder (--content).")
@click.option("--dataset", default="mnist", show_default=True, help="Dataset for --content.")
@click.option("--seed", type=int, default=0, show_default=True, help="Weights and batch seed.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def inspect_command(ctx, model, sets, batch_size, content, data_dir, dataset, seed, as_json):
    """Show each layer of MODEL: output shape and parameters (--content: activations)."""
    catalog = catalog_from(ctx, check=False)  # a broken [grid] must not block inspecting
    overrides = parse_model_sets(sets)
    params = catalog.params("models", model, overrides)  # unknown name/param: fail before data
    from zoo.layer_report import import_paddle, inspect_model, random_batch

    if content:
        batch, input_shape, num_classes, source = _load_batch(catalog, dataset, data_dir,
                                                              batch_size, seed)
    else:  # shapes need no data: a random batch of MNIST's shape
        input_shape, num_classes, source = MNIST_SHAPE, MNIST_CLASSES, "random"
        batch = random_batch(input_shape, batch_size, seed)
    import_paddle().seed(seed)  # same seed, same initial weights, same statistics
    net = catalog.build("models", model, overrides, input_shape=input_shape,
                        num_classes=num_classes)
    try:
        report = inspect_model(net, batch, content=content)
    except Exception as exc:  # a model that cannot take this input: say so, no traceback
        text = " ".join(str(exc).split())[:300]
        raise ZooError(f"model '{model}' failed on a batch of shape {list(batch.shape)}: "
                       f"{type(exc).__name__}: {text}") from exc
    if as_json:
        echo_json({"model": model, "params": params, "input_shape": list(input_shape),
                   "num_classes": num_classes, "data": source, **report.to_dict()})
        return
    _echo_report(report, model, source, input_shape)


def _echo_report(report, model, source, input_shape) -> None:
    n = report.batch_size
    click.echo(f"model {model}: batch [{n},{','.join(map(str, input_shape))}] from {source}")
    headers = ["layer", "type", "output shape", "params (shapes)", "#params"]
    if report.content:
        headers += ["mean", "std", "zeros%", "dead units", "status"]
    rows = []
    for layer in report:
        row = {"layer": layer.name, "type": layer.type,
               "output shape": _shape(layer.output_shape, n),
               "params (shapes)": " ".join(_shape(s) for s in layer.param_shapes) or "-",
               "#params": f"{layer.params:,}"}
        if report.content:
            missing = layer.mean is None
            row.update({
                "mean": "-" if missing else f"{layer.mean:.4g}",
                "std": "-" if missing else f"{layer.std:.4g}",
                "zeros%": "-" if missing else f"{100 * layer.zero_fraction:.1f}",
                "dead units": "-" if layer.units is None else f"{layer.dead_units}/{layer.units}",
                "status": layer.status or "-"})
        rows.append(row)
    echo_table(rows, headers)
    click.echo(f"total: {report.total_params:,} params "
               f"({report.trainable_params:,} trainable) in {len(report)} layers")
    if report.content:
        dead = ", ".join(layer.name for layer in report.flagged("dead")) or "none"
        warn = ", ".join(layer.name for layer in report.flagged("warn")) or "none"
        click.echo(f"dead layers (every unit zero on this batch): {dead}")
        click.echo(f"warn layers (>= 50% of units zero on this batch): {warn}")


# ---- zoo board --------------------------------------------------------------------------


def resolve_logdir(path: str) -> str:
    """A run folder holding ``vdl/`` means its ``vdl/``; any other folder is used as is."""
    if not os.path.isdir(path):
        raise ZooError(f"log folder not found: {path}")
    vdl = os.path.join(path, "vdl")
    return vdl if os.path.isdir(vdl) else path


def check_port(host: str, port: int) -> int:
    """Fail early, in one line, if we cannot listen there; resolve port 0 to a free port.

    VisualDL itself would print a traceback and then hang in its liveness thread.
    SO_REUSEADDR matches what the server does, so TIME_WAIT leftovers are no conflict.
    """
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    except socket.gaierror as exc:
        raise ZooError(f"cannot resolve host '{host}': {exc.strerror}") from None
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ZooError(f"port {port} on {host} is already in use "
                               "(pick another with --port, or --port 0 for a free one)") from None
            raise ZooError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
        return sock.getsockname()[1]


def _answers(host: str, port: int) -> bool:
    # http.client, not urllib: proxy environment variables must not apply to localhost.
    conn = http.client.HTTPConnection(host, port, timeout=1)
    try:
        conn.request("GET", "/alive")
        return conn.getresponse().status < 500
    except OSError:
        return False
    finally:
        conn.close()


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@click.command("board")
@click.argument("logdir", type=click.Path())
@click.option("--port", type=click.IntRange(0, 65535), default=8040, show_default=True,
              help="0 picks a free port.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind to.")
@click.option("--start-timeout", type=float, default=60.0, show_default=True,
              help="Seconds to wait for VisualDL to answer.")
def board_command(logdir, port, host, start_timeout):
    """Serve LOGDIR (a run folder with vdl/, or a VisualDL log folder) with VisualDL."""
    folder = resolve_logdir(logdir)
    port = check_port(host, port)
    probe = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    url = f"http://{f'[{probe}]' if ':' in probe else probe}:{port}/"
    from zoo.exec.process import child_env, dying_with_this_process, python_module

    # visualdl 2.5.3's console script is visualdl.server.app:main; --disable-telemetry
    # stops it from posting to paddlepaddle.org.cn on start.
    cmd = python_module("visualdl.server.app", "--logdir", folder, "--host", host,
                        "--port", str(port), "--disable-telemetry")
    tail: collections.deque[str] = collections.deque(maxlen=50)  # the end, for errors
    # It dies with us even when we are SIGKILLed and cannot stop it; it stays in our
    # process group, so a terminal's Ctrl-C reaches it as before.
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, errors="replace",
                            env=child_env(), preexec_fn=dying_with_this_process(new_session=False))
    # Drain the child's output so a full pipe never blocks it.
    reader = threading.Thread(target=lambda: tail.extend(line.rstrip() for line in proc.stdout),
                              daemon=True)
    reader.start()

    def last_line() -> str:
        reader.join(timeout=2)
        return next((line for line in reversed(tail) if line.strip()), "(no output)")

    # SIGTERM raises KeyboardInterrupt, so it unwinds exactly like Ctrl-C.  SIGINT is set
    # explicitly: a process started in the background by a shell inherits it ignored.
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        deadline = time.monotonic() + start_timeout
        while not _answers(probe, port):
            if proc.poll() is not None:
                raise ZooError(f"VisualDL exited (code {proc.returncode}) before serving "
                               f"{folder}: {last_line()}")
            if time.monotonic() > deadline:
                raise ZooError(f"VisualDL did not answer at {url} within {start_timeout:g}s; "
                               f"last output: {last_line()}")
            time.sleep(0.2)
        click.echo(f"VisualDL at {url} (Ctrl-C to stop)")
        code = proc.wait()
    except KeyboardInterrupt:
        click.echo("zoo: VisualDL stopped", err=True)
        return
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut cleanup
        _stop(proc)  # no-op when it already exited; never leave a server behind
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)
    # A signal sent to our whole process group can reach VisualDL first: that is a stop too.
    if code not in (0, -signal.SIGTERM, -signal.SIGINT):
        raise ZooError(f"VisualDL exited with code {code}: {last_line()}")


COMMANDS = [inspect_command, board_command]
