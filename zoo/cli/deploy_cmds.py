"""``zoo export`` and ``zoo predict``: deploying trained models."""

from __future__ import annotations

from pathlib import Path

import click

from zoo.cli.common import catalog_from, echo_json
from zoo.errors import ConfigError


def backend_sets(sets: tuple[str, ...]) -> dict:
    """``backend.PARAM=VALUE`` -> {PARAM: VALUE}, parsed like ``zoo train --set``."""
    from zoo.job import parse_sets

    params = parse_sets(sets)
    if set(params) - {"backends"}:
        raise ConfigError(f"--set {', '.join(sets)}: only backend.PARAM=VALUE applies here")
    return params.get("backends", {})


@click.command("export")
@click.argument("source", type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["paddle", "onnx"]), default="paddle",
              show_default=True, help="paddle: a static Paddle program; onnx: ONNX (needs zoo[onnx]).")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Export folder (default: RUN/export-FORMAT).")
@click.option("--force", is_flag=True, help="Replace an existing export folder.")
@click.option("--check-images", type=click.IntRange(min=1), default=256, show_default=True,
              help="Test images the export is compared with the trained model on.")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None,
              help="The run's data (default: the folder it was trained on).")
@click.option("--model", default=None, help="Model of a plain .pdparams file.")
@click.option("--trust-pickle", is_flag=True,
              help="Allow loading a plain Paddle .pdparams (a pickle that can run code).")
@click.option("--json", "as_json", is_flag=True, help="Print the manifest as JSON.")
@click.pass_context
def export_command(ctx, source, fmt, out, force, check_images, data_dir, model, trust_pickle, as_json):
    """Export a run's newest good checkpoint (or a checkpoint folder) for inference.

    Writes the model and zoo-export.json into the export folder, after checking that the
    export gives the trained model's outputs on real test images (max |diff| <= 1e-4 and
    the same classes); an export that disagrees leaves no folder behind.
    """
    from zoo.deploy.export import export_checkpoint

    catalog = catalog_from(ctx, check=False)
    folder, manifest = export_checkpoint(catalog, Path(source), fmt, Path(out) if out else None,
                                         force=force, check_images=check_images,
                                         data_dir=data_dir, model=model, trust=trust_pickle)
    if as_json:
        echo_json({"export": str(folder), **manifest})
        return 0
    check = manifest["agreement"]
    click.echo(f"exported {manifest['model']} ({manifest['dataset']}) as {fmt} to {folder}: "
               f"{', '.join(manifest['files'])}")
    click.echo(f"agreement with the trained model on {check['images']} test images "
               f"({check['backend']}): max |diff| {check['max_abs_diff']:.2e}, same classes")
    return 0


@click.command("predict")
@click.argument("export_dir", metavar="EXPORT", type=click.Path())
@click.argument("inputs", metavar="INPUT...", nargs=-1, required=True, type=click.Path())
@click.option("--backend", default=None,
              help="Backend to serve with (zoo list backends; default: onnxruntime for an "
                   "onnx export, paddle-inference for a paddle one).")
@click.option("--device", default="cpu", show_default=True, help="cpu, gpu or gpu:N.")
@click.option("--set", "sets", multiple=True, metavar="backend.PARAM=VALUE",
              help="Override a backend parameter, e.g. backend.onednn=false.")
@click.option("--top", "top", type=click.IntRange(min=1), default=3, show_default=True,
              help="Classes shown per input.")
@click.option("--adapt", is_flag=True,
              help="Resize inputs to the model's size and convert grey/RGB (default: a "
                   "mismatch is an error, as training never resized).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def predict_command(ctx, export_dir, inputs, backend, device, sets, top, adapt, as_json):
    """Classify images with an export: PNG/JPEG files, folders, .npy arrays or IDX files.

    Inputs are preprocessed as the export's zoo-export.json says (input shape and
    normalization of the training data); prints each input's most likely classes.
    """
    import numpy as np

    from zoo.deploy.inputs import read_inputs
    from zoo.deploy.manifest import read_manifest
    from zoo.deploy.serve import classify, open_backend, top_k

    catalog = catalog_from(ctx, check=False)
    overrides = backend_sets(sets)
    shape = tuple(read_manifest(Path(export_dir))["input"]["shape"])
    # Inputs first: a bad file is reported before a runtime is loaded.
    items = read_inputs([Path(p) for p in inputs], shape, adapt)
    served, manifest, name = open_backend(catalog, Path(export_dir), backend, device, overrides)
    try:
        probabilities = classify(served, manifest, np.stack([item.pixels for item in items]))
    finally:
        served.close()
    ranked = top_k(probabilities, manifest["class_names"], top)
    if as_json:
        echo_json({"export": str(Path(export_dir).absolute()), "backend": name, "device": device,
                   "predictions": [{"input": item.name, "top": picks}
                                   for item, picks in zip(items, ranked)]})
        return 0
    for item, picks in zip(items, ranked):
        click.echo(f"{item.name}: " + "  ".join(f"{p['name']} {p['probability']:.4f}" for p in picks))
    return 0


COMMANDS = [export_command, predict_command]
