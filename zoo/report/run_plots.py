"""The pictures of one run: loss and accuracy (train per step, smoothed, and per epoch;
validation per epoch), the learning rate over steps, and the test confusion matrix."""

from __future__ import annotations

from zoo.report import style
from zoo.report.sources import RunData


def smooth(values: list[float], span: int) -> list[float]:
    """Exponential moving average with bias correction, so the first points are not
    pulled towards zero (TensorBoard's smoothing)."""
    if span <= 1:
        return list(values)
    alpha = 2.0 / (span + 1)
    out, average, weight = [], 0.0, 0.0
    for value in values:
        average = (1 - alpha) * average + alpha * value
        weight = (1 - alpha) * weight + alpha
        out.append(average / weight)
    return out


def span_for(steps: int) -> int:
    """About 1/30 of the run, so an epoch's trend shows and a step's noise does not; at
    least 2 from 6 steps on, so that the smoothed curve the caption names is there."""
    if steps < 6:
        return 1
    return max(2, min(200, round(steps / 30)))


def _curve(run: RunData, tag: str, train_key: str, val_key: str, ylabel: str, what: str,
           chance: float | None = None):
    """(figure, what was drawn, for the caption)."""

    fig = style.figure(7.5, 3.6)
    ax = fig.subplots()
    steps, values = run.scalars.get(tag, ([], []))
    drawn = []
    if steps:
        span = span_for(len(steps))
        ax.plot(steps, values, color=style.colour(0), alpha=0.25, linewidth=0.8,
                label="train, per step", gid="train per step")
        drawn.append("faint: per step")
        if span > 1:
            ax.plot(steps, smooth(values, span), color=style.colour(0), linewidth=1.6,
                    label=f"train, per step (EMA over {span} steps)", gid="train smoothed")
            drawn.append(f"bold: smoothed, an exponential moving average over {span} steps")
    epochs = run.epochs
    at = [e["step"] for e in epochs]
    for key, label, index, marker in [(train_key, "train, per epoch", 1, "s"),
                                      (val_key, "validation, per epoch", 2, "o")]:
        points = [(s, e[key]) for s, e in zip(at, epochs) if e.get(key) is not None]
        if points:
            ax.plot(*zip(*points), color=style.colour(index), marker=marker, linewidth=1.4,
                    label=label, gid=key)
    if chance is not None:
        ax.axhline(chance, color=style.CHANCE_COLOUR, linestyle=":", linewidth=1.2, zorder=0,
                   label=f"chance: 1/{round(1 / chance)} classes", gid="chance")
    ax.set_xlabel("optimizer step")
    style.integer_x_ticks(ax)
    ax.set_ylabel(ylabel)
    ax.set_title(f"{what}: {_name(run)}")
    handles, labels = ax.get_legend_handles_labels()
    style.outside_legend(fig, handles, labels)
    return fig, drawn


def _per_step_note(drawn: list[str]) -> str:
    return f" ({', '.join(drawn)})" if drawn else " (no per-step log: per epoch only)"


def _name(run: RunData) -> str:
    job = run.job
    parts = [job.get(k) for k in ("model", "optimizer", "schedule", "regularizer")]
    return " / ".join(str(p) for p in parts if p) or run.path.name


def loss_plot(run: RunData) -> style.Plot:
    fig, drawn = _curve(run, "train/loss", "train_loss", "val_loss", "cross-entropy loss (nats)",
                        "Loss")
    return style.plot("loss", "Loss", f"Training loss per step{_per_step_note(drawn)} and train "
                      f"and validation loss per epoch, at the step each epoch ended.", fig)


def num_classes(run: RunData) -> int | None:
    """The class count of the run's data, known once its test set was evaluated (the
    confusion matrix is classes x classes); None before."""
    return len(run.confusion) if run.confusion else None


def accuracy_plot(run: RunData) -> style.Plot:
    classes = num_classes(run)
    fig, drawn = _curve(run, "train/acc", "train_acc", "val_acc", "accuracy (fraction correct)",
                        "Accuracy", chance=1 / classes if classes else None)
    chance = f" The dotted line is chance level, 1/{classes} classes." if classes else ""
    return style.plot("accuracy", "Accuracy", f"Training accuracy per batch{_per_step_note(drawn)} "
                      f"and train and validation accuracy per epoch.{chance}", fig)


def _lr_points(run: RunData) -> tuple[list, list]:
    steps, values = run.scalars.get("train/lr", ([], []))
    if not steps:
        points = [(e["step"], e["lr"]) for e in run.epochs if e.get("lr") is not None]
        steps, values = (list(v) for v in zip(*points)) if points else ([], [])
    return steps, values


def lr_note(run: RunData) -> str:
    """What the page says instead of a plot of a constant learning rate ("" otherwise)."""
    steps, values = _lr_points(run)
    if steps and len(set(values)) == 1:
        return f"The learning rate was constant at {values[0]:.6g} over all {len(steps)} logged steps (no plot)."
    return ""


def lr_plot(run: RunData) -> style.Plot | None:
    """The learning rate over steps; None when it was constant (a flat line says less
    than the number, which lr_note gives) or never logged."""
    steps, values = _lr_points(run)
    if not steps or len(set(values)) == 1:
        return None

    fig = style.figure(7.5, 3.0)
    ax = fig.subplots()
    ax.plot(steps, values, color=style.colour(0), linewidth=1.6, drawstyle="steps-post",
            marker="o" if len(steps) < 3 else None, gid="lr")
    ax.set_xlabel("optimizer step")
    style.integer_x_ticks(ax)
    ax.set_ylabel("learning rate")
    ax.set_title(f"Learning rate: {_name(run)}")
    ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
    return style.plot("lr", "Learning rate", "The learning rate each step used.", fig)


def confusion_plot(run: RunData) -> style.Plot | None:
    if not run.confusion:
        return None
    import numpy as np

    matrix = np.asarray(run.confusion)
    classes = len(matrix)
    total, correct = int(matrix.sum()), int(np.trace(matrix))
    side = min(9.0, max(4.5, 0.45 * classes + 2.5))
    fig = style.figure(side + 1.0, side)
    ax = fig.subplots()
    image = ax.imshow(matrix, cmap="viridis", interpolation="nearest")
    fig.colorbar(image, ax=ax, label="images")
    if classes <= 20:
        threshold = matrix.max() / 2
        for (i, j), count in np.ndenumerate(matrix):
            ax.text(j, i, str(count), ha="center", va="center", fontsize=7,
                    color="black" if count > threshold else "white")
    names = run.class_names or [str(c) for c in range(classes)]
    ax.set_xticks(range(classes), names, rotation=45 if max(map(len, names)) > 2 else 0, ha="right"
                  if max(map(len, names)) > 2 else "center")
    ax.set_yticks(range(classes), names)
    ax.grid(False)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(f"Test set: {total} images, accuracy {correct / max(1, total):.4f}")
    return style.plot("confusion", "Confusion matrix",
                      f"Test set predictions of the newest checkpoint ({run.confusion_source}); "
                      f"row = true class, column = predicted class.", fig)


def run_plots(run: RunData) -> list[style.Plot]:
    plots = [loss_plot(run), accuracy_plot(run), lr_plot(run), confusion_plot(run)]
    return [p for p in plots if p is not None]
