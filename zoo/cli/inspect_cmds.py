"""``zoo inspect`` (per-layer shapes, parameters, activations) and ``zoo board`` (VisualDL)."""

from __future__ import annotations


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


@click.command("board")
@click.argument("logdir", type=click.Path())
@click.option("--port", type=click.IntRange(0, 65535), default=8040, show_default=True,
              help="0 picks a free port.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind to.")
@click.option("--start-timeout", type=float, default=60.0, show_default=True,
              help="Seconds to wait for VisualDL to answer.")
def board_command(logdir, port, host, start_timeout):
    """Serve LOGDIR (a run folder with vdl/, or a VisualDL log folder) with VisualDL."""
    from zoo.board import serve

    stopped = serve(logdir, host, port, start_timeout,
                    ready=lambda url: click.echo(f"VisualDL at {url} (Ctrl-C to stop)"))
    if stopped:
        click.echo("zoo: VisualDL stopped", err=True)


COMMANDS = [inspect_command, board_command]
