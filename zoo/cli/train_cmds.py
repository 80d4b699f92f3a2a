"""``zoo train`` and ``zoo eval``."""

from __future__ import annotations

import time
from pathlib import Path

import click
from click.core import ParameterSource

from zoo.cli.common import bounded, catalog_from, echo_json, echo_table
from zoo import kinds, layout
from zoo.errors import TrainingError
from zoo.layout import RunDir
from zoo.paths import check_name
from zoo.status import ExitCode, Status



def _default_out(opts: dict) -> str:
    names = [opts[kind.field] for kind in kinds.trained() if kind.name != "datasets"]
    return f"runs/{'-'.join(names)}-{time.strftime('%Y%m%d-%H%M%S')}"


def _one_data_dir(value: str | None, dataset: str) -> str | None:
    """``zoo train`` reads one dataset, so one folder: ``DIR``, or ``NAME=DIR`` naming this
    run's dataset (a sweep's option, copied, works); another dataset's folder is an error."""
    from zoo.bench.data_dirs import split_option

    if value is None:
        return None
    name, folder = split_option(value)
    if name is not None and name != dataset:
        raise TrainingError(f"--data-dir {value}: this run trains dataset '{dataset}', not "
                            f"'{name}' (zoo train reads one folder: --data-dir DIR)")
    return folder


def _job_from_options(ctx, opts: dict):
    from zoo.job import Job, parse_sets

    if opts["resume"]:
        run_dir = check_name(Path(opts["resume"]), "--resume")
        if not RunDir(run_dir).job_file.is_file():
            raise TrainingError(f"{run_dir}: not a run directory (no {layout.JOB}); nothing to resume")
        job = Job.load(RunDir(run_dir).job_file)
        opts["data_dir"] = _one_data_dir(opts["data_dir"], job.dataset)
        given = {name for name in opts
                 if ctx.get_parameter_source(name) not in (None, ParameterSource.DEFAULT)}
        _refuse_conflicts(job, opts, given, run_dir)
        # Where the data is, and how often to checkpoint, do not change a result (the
        # data's content is checked against the run's identity when it resumes).
        changes = {field: opts[field] for field in ("data_dir", "checkpoint_every", "keep")
                   if field in given}
        return Job.from_dict({**job.__dict__, **changes, "out": str(run_dir),
                              "registry_file": ctx.obj["registry_file"] or job.registry_file})
    out = opts["out"] or _default_out(opts)
    opts["data_dir"] = _one_data_dir(opts["data_dir"], opts["dataset"])
    job = Job(out=out, entries={kind.name: opts[kind.field] for kind in kinds.trained()},
              params=parse_sets(opts["sets"]), data_dir=opts["data_dir"], epochs=opts["epochs"],
              batch_size=opts["batch_size"], seed=opts["seed"], device=opts["device"],
              registry_file=ctx.obj["registry_file"], checkpoint_every=opts["checkpoint_every"],
              keep=opts["keep"], target_acc=opts["target_acc"], threads=opts["threads"],
              limit_train=opts["limit_train"])
    existing = RunDir(check_name(Path(out), "--out")).job_file
    if existing.is_file() and Job.load(existing).settings() != job.settings():
        raise TrainingError(f"{out} holds a run with other settings; choose a new --out, "
                            f"or resume it with --resume {out}")
    return job


# Options that decide a run's result: on --resume they must agree with the run's own.
RESULT_OPTIONS = (*(kind.field for kind in kinds.trained()), "epochs", "batch_size", "seed",
                  "device", "target_acc", "threads", "limit_train")


def _refuse_conflicts(job, opts: dict, given: set[str], run_dir: Path) -> None:
    """A resumed run continues exactly as it began, or not at all (its numbers must equal
    an uninterrupted run's); a contradicting option is an error, never silently ignored."""
    from zoo.job import parse_sets

    conflicts = [f"--{name.replace('_', '-')} {opts[name]} (the run has {getattr(job, name)})"
                 for name in RESULT_OPTIONS if name in given and opts[name] != getattr(job, name)]
    if "sets" in given and parse_sets(opts["sets"]) != job.params:
        conflicts.append(f"--set {' '.join(opts['sets'])} (the run has {job.params or 'none'})")
    if "out" in given and Path(opts["out"]).absolute() != run_dir.absolute():
        conflicts.append(f"--out {opts['out']} (resuming {run_dir})")
    if conflicts:
        raise TrainingError(f"--resume {run_dir} continues the run with its own settings; "
                            f"these options contradict them: {'; '.join(conflicts)}. "
                            f"Start a new run (another --out) to train with other settings")


def _check_job(catalog, job) -> None:
    """Fail on a wrong name or parameter before any data is loaded."""
    for kind, name in job.names.items():
        catalog.params(kind, name, job.overrides(kind))


def entry_options(command):
    """One option per kind a training run builds (zoo.kinds), with its default."""
    for kind in reversed(kinds.trained()):
        command = click.option(f"--{kind.field}", default=kind.default, show_default=True,
                               help=f"The {kind.singular} to train with (zoo list {kind.name}).")(command)
    return command


@click.command("train")
@entry_options
@click.option("--data-dir", default=None, metavar="DIR",
              help="Folder with the data files (default: $ZOO_DATA_DIR, then the download "
                   "cache); NAME=DIR is accepted when NAME is the run's dataset.")
@click.option("--epochs", type=bounded("epochs"), default=5, show_default=True)
@click.option("--batch-size", type=bounded("batch_size"), default=100, show_default=True)
@click.option("--seed", type=bounded("seed"), default=0, show_default=True)
@click.option("--device", default="cpu", show_default=True, help="cpu, gpu or gpu:N.")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Run directory (default: runs/<combination>-<time>). Reusing one resumes it.")
@click.option("--set", "sets", multiple=True, metavar="KIND.PARAM=VALUE",
              help="Override an entry's parameter, e.g. optimizer.learning_rate=0.001.")
@click.option("--checkpoint-every", type=click.IntRange(min=0), default=0,
              help="Also checkpoint every N steps (0: only at epoch ends).")
@click.option("--keep", type=click.IntRange(min=1), default=3, show_default=True,
              help="Checkpoints to keep.")
@click.option("--target-acc", type=bounded("target_acc"), default=None,
              help="Record when validation accuracy first reaches this value.")
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True,
              help="Threads of the training process (part of the run's identity: other counts "
                   "give other bits, as in zoo bench --threads).")
@click.option("--limit-train", type=bounded("limit_train"), default=None, metavar="N",
              help="Train on a deterministic, class-balanced subset of N training images "
                   "(validation and test stay whole; part of the run's identity).")
@click.option("--resume", type=click.Path(file_okay=False), default=None,
              help="Continue the run in this directory with the settings it was started with.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
def train_command(ctx, quiet, **opts):
    """Train one combination and write checkpoints, metrics.json and VisualDL logs."""
    from zoo.cli.console import ConsoleReporter
    from zoo.train import train
    from zoo.train.report import StopFlag, stop_on_signals

    catalog = catalog_from(ctx)
    job = _job_from_options(ctx, opts)
    _check_job(catalog, job)
    with stop_on_signals(StopFlag()) as stop:
        # No runner here: the command writes job.json, once the run is built and any
        # checkpoint accepted (a refused one keeps its own), and the worker only reads it.
        result = train(job, ConsoleReporter(quiet), catalog=catalog, stop=stop,
                       ready=lambda: RunDir(job.out).write_job(job))
    if result.status == Status.OK:
        test = result.test or {}
        click.echo(f"test loss {test.get('loss', float('nan')):.4f} acc {test.get('acc', float('nan')):.4f}"
                   f"  ({result.elapsed:.1f} s)  metrics: {RunDir(job.out).metrics_file}")
    else:
        click.echo(f"zoo: run {result.status}: {result.reason} (metrics: "
                   f"{RunDir(job.out).metrics_file})", err=True)
    return int(ExitCode.of_run(result.status))


@click.command("eval")
@click.argument("checkpoint", type=click.Path(exists=False))
@click.option("--split", type=click.Choice(["test", "val", "train"]), default="test", show_default=True)
@click.option("--detail", is_flag=True, help="Per-class accuracy and the confusion matrix.")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None)
@click.option("--model", default=None, help="Model of a plain .pdparams file.")
@click.option("--dataset", default=None,
              help="Dataset a plain .pdparams file was trained on (a run knows its own).")
@click.option("--trust-pickle", is_flag=True,
              help="Allow loading a plain Paddle .pdparams (a pickle that can run code).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def eval_command(ctx, checkpoint, split, detail, data_dir, model, dataset, trust_pickle, as_json):
    """Evaluate a run, a checkpoint, or a plain .pdparams file on one split."""
    from zoo.train.restore import evaluate_checkpoint

    catalog = catalog_from(ctx)
    report = evaluate_checkpoint(catalog, Path(checkpoint), split, data_dir=data_dir,
                                 model=model, trust=trust_pickle, dataset=dataset)
    if as_json:
        echo_json(report)
        return 0
    click.echo(f"{report['checkpoint']}: {split} loss {report['loss']:.4f} "
               f"acc {report['accuracy']:.4f} ({report['samples']} images)")
    if detail:
        def number(value):
            return "-" if value is None else f"{value:.4f}"

        names = report["class_names"]
        rows = [{"class": s["class"], "images": s["support"], "precision": number(s["precision"]),
                 "recall": number(s["recall"]), "f1": number(s["f1"])} for s in report["per_class"]]
        echo_table(rows, ["class", "images", "precision", "recall", "f1"])
        click.echo("\nconfusion matrix (rows: true class, columns: predicted class)")
        matrix = [{"true \\ predicted": name, **dict(zip(names, row))}
                  for name, row in zip(names, report["confusion"])]
        echo_table(matrix, ["true \\ predicted", *names])
    return 0


COMMANDS = [train_command, eval_command]
