"""``zoo inspect`` (per-layer shapes, parameters, activations) and ``zoo board`` (VisualDL)."""

from __future__ import annotations

import warnings

import click

from zoo.cli.common import catalog_from, echo_json, echo_table
from zoo.errors import ConfigError, ZooError

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


def _load_batch(catalog, dataset: str, data_dir, batch_size: int, seed: int, content: bool):
    """A batch (real images with ``content``, else random values of the dataset's shape)
    and the dataset's input shape and class count."""
    from zoo.data import SampleDataWarning, transform_of
    from zoo.layer_report import data_batch, random_batch

    fixed = catalog.entry("datasets", dataset).shape
    if fixed is not None and not content:  # a fixed shape needs no files
        input_shape, num_classes = tuple(fixed.input_shape), int(fixed.num_classes)
        return random_batch(input_shape, batch_size, seed), input_shape, num_classes, \
            f"random values of dataset {dataset}'s shape"
    declared = catalog.params("datasets", dataset)
    # Inspecting must never start a download or draw a progress bar.
    quiet = {k: False for k in ("download", "progress") if k in declared}
    with warnings.catch_warnings():
        if not content:  # only the shape is used, and MNIST's sample has MNIST's shape
            warnings.simplefilter("ignore", SampleDataWarning)
        data = catalog.build("datasets", dataset, quiet, data_dir=data_dir)
    input_shape, num_classes = tuple(data.input_shape), int(data.num_classes)
    if not content:
        return random_batch(input_shape, batch_size, seed), input_shape, num_classes, \
            f"random values of dataset {dataset}'s shape"
    source = f"{dataset} train split ({getattr(data, 'source', '?')})"
    batch = data_batch(data.train.images, batch_size, seed, transform_of(data))
    return batch, input_shape, num_classes, source


@click.command("inspect")
@click.argument("model")
@click.option("--set", "sets", multiple=True, metavar="model.PARAM=VALUE",
              help="Override a model parameter (repeatable); VALUE is parsed as JSON if it can be.")
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--content", is_flag=True,
              help="Run real images and report mean/std/zeros/dead units per layer.")
@click.option("--data-dir", type=click.Path(), default=None, help="The dataset's folder.")
@click.option("--dataset", default="mnist", show_default=True,
              help="Dataset whose input shape and classes the model is built for (and whose "
                   "images --content runs).")
@click.option("--seed", type=int, default=0, show_default=True, help="Weights and batch seed.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def inspect_command(ctx, model, sets, batch_size, content, data_dir, dataset, seed, as_json):
    """Show each layer of MODEL: output shape and parameters (--content: activations)."""
    catalog = catalog_from(ctx, check=False)  # a broken [grid] must not block inspecting
    overrides = parse_model_sets(sets)
    params = catalog.params("models", model, overrides)  # unknown name/param: fail before data
    from zoo.layer_report import import_paddle, inspect_model

    batch, input_shape, num_classes, source = _load_batch(catalog, dataset, data_dir, batch_size,
                                                          seed, content)
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
    from zoo.board import WILDCARDS, serve

    where = " (every interface of this machine)" if host in WILDCARDS else ""
    stopped = serve(logdir, host, port, start_timeout,
                    ready=lambda url: click.echo(f"VisualDL at {url}{where} (Ctrl-C to stop)"))
    if stopped:
        click.echo("zoo: VisualDL stopped", err=True)


COMMANDS = [inspect_command, board_command]
