"""``zoo export``, ``zoo predict`` and ``zoo bench-infer``: deploying trained models."""

from __future__ import annotations

from pathlib import Path

import click

from zoo.bench.best import CRITERIA, DEFAULT_BY
from zoo.cli.common import catalog_from, echo_json
from zoo.errors import ConfigError, ExportError, printable
from zoo.layout import SweepDir


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
@click.option("--dataset", default=None,
              help="Dataset a plain .pdparams file was trained on (a run knows its own).")
@click.option("--trust-pickle", is_flag=True,
              help="Allow loading a plain Paddle .pdparams (a pickle that can run code).")
@click.option("--json", "as_json", is_flag=True, help="Print the manifest as JSON.")
@click.option("--best", is_flag=True,
              help="SOURCE is a zoo bench folder: export its winner, the cell with the highest "
                   "final validation accuracy (never test accuracy).")
@click.option("--by", type=click.Choice(list(CRITERIA)), default=DEFAULT_BY, show_default=True,
              help="What --best ranks by (as zoo results --best).")
@click.pass_context
def export_command(ctx, source, fmt, out, force, check_images, data_dir, model, dataset, trust_pickle,
                   as_json, best, by):
    """Export a run's newest good checkpoint (or a checkpoint folder) for inference.

    Writes the model and zoo-export.json into the export folder, after checking that the
    export gives the trained model's outputs on real test images (max |diff| <= 1e-4 and
    the same classes); an export that disagrees leaves no folder behind.
    """
    from zoo.deploy.export import export_checkpoint

    catalog = catalog_from(ctx, check=False)
    chosen = None
    if best or SweepDir(Path(source)).is_sweep():
        source, chosen = _sweep_winner(Path(source), best, by)
    folder, manifest = export_checkpoint(catalog, Path(source), fmt, Path(out) if out else None,
                                         force=force, check_images=check_images,
                                         data_dir=data_dir, model=model, dataset=dataset,
                                         trust=trust_pickle)
    if as_json:
        echo_json({"export": str(folder), **({"best": chosen} if chosen else {}), **manifest})
        return 0
    if chosen:
        val = "-" if chosen["val_acc"] is None else f"{chosen['val_acc']:.4f}"
        click.echo(f"best by {CRITERIA[by][2]}: {chosen['cell_dir']} (val acc {val}, "
                   f"seed {chosen['seed']})")
    check = manifest["agreement"]
    click.echo(f"exported {manifest['model']} ({manifest['dataset']}) as {fmt} to {folder}: "
               f"{', '.join(manifest['files'])}")
    click.echo(f"agreement with the trained model on {check['images']} test images "
               f"({check['backend']}): max |diff| {check['max_abs_diff']:.2e}, same classes")
    return 0


def _sweep_winner(sweep_dir: Path, best: bool, by: str) -> tuple[Path, dict]:
    """The folder of a sweep's winning cell (``zoo.bench.best``), and what was chosen."""
    from zoo.bench.best import winner_folder
    from zoo.bench.store import open_existing
    from zoo.bench.tables import summarize

    if not best:
        raise ExportError(f"{sweep_dir} is a zoo bench folder: add --best to export its cell with the "
                          f"highest validation accuracy, or name one cell folder (zoo results "
                          f"{sweep_dir} --format json lists them)")
    store = open_existing(sweep_dir)  # a folder that is no sweep is a one-line error here
    try:
        rows, _ = store.grid_rows()
    finally:
        store.close()
    folder, summary, row = winner_folder(sweep_dir, summarize(rows), rows, by)
    return folder, {"by": by, "cell": summary["cell"], "cell_dir": str(folder.resolve().relative_to(Path(sweep_dir).resolve())),
                    "seed": row["seed"], "val_acc": row["val_acc"], by: summary.get(CRITERIA[by][0])}


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
    manifest = read_manifest(Path(export_dir))
    # Inputs first: a bad file is reported before a runtime is loaded.
    items = read_inputs([Path(p) for p in inputs], tuple(manifest["input"]["shape"]), adapt)
    served, manifest, name = open_backend(catalog, Path(export_dir), backend, device, overrides,
                                          manifest)
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
    # Escaped: a file or class name must not forge lines or terminal escapes (--json
    # escapes them as JSON does).
    for item, picks in zip(items, ranked):
        click.echo(f"{printable(item.name)}: " +
                   "  ".join(f"{printable(p['name'])} {p['probability']:.4f}" for p in picks))
    return 0


class _InferConsole:
    def measured(self, slug, backend, device, row):
        if row["status"] == "ok":
            line = (f"ok       {slug} {backend} {device}: p50 {row['p50_ms']:.3f} ms, "
                    f"{row['large_images_per_s']:.0f} img/s at batch {row['large_batch']}, "
                    f"max |diff| {row['max_abs_diff']:.1e}")
        else:
            line = f"{row['status']:<8} {slug} {backend} {device}: {row['reason']}"
        click.echo(line, err=True)


@click.command("bench-infer")
@click.argument("run_dir", metavar="DIR", type=click.Path(file_okay=False))
@click.option("--backends", default="dygraph,paddle-inference,onnxruntime", show_default=True,
              help="Comma list of backends or globs (zoo list backends).")
@click.option("--devices", default="cpu", show_default=True, help="cpu, gpu, gpu:N (comma list).")
@click.option("--set", "sets", multiple=True, metavar="backend.PARAM=VALUE",
              help="Override a parameter of the backends that have it, e.g. backend.onednn=false.")
@click.option("--requests", type=click.IntRange(min=1), default=200, show_default=True,
              help="Batch-1 requests timed for p50/p99 latency.")
@click.option("--warmup", type=click.IntRange(min=0), default=20, show_default=True,
              help="Untimed requests first.")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True,
              help="Batch of the first throughput measure.")
@click.option("--large-batch", type=click.IntRange(min=1), default=500, show_default=True,
              help="Batch of the second throughput measure.")
@click.option("--repeats", type=click.IntRange(min=1), default=5, show_default=True,
              help="Timed calls per throughput measure (median).")
@click.option("--check-images", type=click.IntRange(min=1), default=256, show_default=True,
              help="Test images each backend is compared with the trained model on.")
@click.option("--force", is_flag=True, help="Measure again rows that are already stored.")
@click.option("--format", "fmt", type=click.Choice(["table", "markdown", "csv", "json"]),
              default="table", show_default=True)
@click.pass_context
def bench_infer_command(ctx, run_dir, backends, devices, sets, fmt, **opts):
    """Measure serving every finished (ok) cell of a zoo bench run: per backend and device,
    latency at batch 1 (p50, p99), throughput at two batch sizes and agreement with the
    trained model.  Rows go into DIR/results.db; zoo results DIR shows them.

    Exit status: 0 when every row is ok or skipped, 1 when any failed, 4 when every row
    was skipped (nothing could be measured here).
    """
    from zoo.bench.grid import split_list
    from zoo.deploy.infer_bench import InferOptions, run_infer_bench

    catalog = catalog_from(ctx, check=False)
    names = catalog.registry.select("backends", split_list(backends))
    options = InferOptions(backends=names, devices=[d.lower() for d in split_list(devices)],
                           overrides=backend_sets(sets), **opts)
    rows = run_infer_bench(catalog, Path(run_dir), options, _InferConsole())
    from zoo.cli.results_cmds import render_inference
    from zoo.status import ExitCode

    click.echo(render_inference(Path(run_dir), fmt))
    code = ExitCode.of_rows(row["status"] for row in rows)
    if code != ExitCode.OK:
        bad = sum(row["status"] != "ok" for row in rows)
        click.echo(f"zoo: {bad} of {len(rows)} measurements "
                   f"{'were skipped' if code == ExitCode.ALL_SKIPPED else 'failed or were skipped'}"
                   f" (reasons above and in zoo results {run_dir} --inference)", err=True)
    return int(code)


COMMANDS = [export_command, predict_command, bench_infer_command]
