"""Result rows -> tables: one row per combination, accuracy and wall time per device.

Repeats (seeds) of a cell become mean ± std.  A cell that did not finish ``ok`` shows its
status instead of a number, so a diverged run never looks like a real accuracy, and an
accuracy no better than guessing is marked ``chance`` (or ``below chance``) with the
reason, so a run that learned nothing never looks like a result either.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

from zoo import kinds
from zoo.bench import stats_tables
from zoo.bench.best import best_seed, cell_folder, is_winner
from zoo.bench.stats import seed_statistics
from zoo.errors import ZooError
from zoo.registry import natural_key
from zoo.status import Status

# What a table row stands for: the entry of each swept kind (zoo.kinds) and the processes.
COMBINATION = [kind.field for kind in kinds.swept()] + ["nprocs"]
SORT_KEYS = COMBINATION + ["val_acc", "acc", "time", "images_per_s"]
CHANCE_MARGIN = 0.02  # within 2 points of 1/classes: the model learned (next to) nothing


def chance_mark(acc: float | None, num_classes: int | None) -> str:
    """"chance" within the margin of guessing, "below chance" under it, "" above it.

    Far below chance is its own mark: a model that is worse than guessing learned
    something wrong (labels shifted, the wrong classes), which "chance" would hide."""
    if acc is None or not num_classes:
        return ""
    chance = 1 / num_classes
    if acc >= chance + CHANCE_MARGIN:
        return ""
    return "chance" if acc > chance - CHANCE_MARGIN else "below chance"


def chance_reason(acc: float | None, num_classes: int | None) -> str:
    """Why ``acc`` is no real result, or "" when it beats guessing by a margin."""
    mark = chance_mark(acc, num_classes)
    if not mark:
        return ""
    chance = f"chance ({1 / num_classes:.4f} for {num_classes} classes)"
    if mark == "below chance":
        return f"accuracy {acc:.4f} is below {chance}"
    return f"accuracy {acc:.4f} is within {CHANCE_MARGIN * 100:g} points of {chance}"


def _stats(values: list[float]) -> tuple[float | None, float | None]:
    values = [v for v in values if v is not None and math.isfinite(v)]
    if not values:
        return None, None
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def summarize(rows: list[dict[str, Any]], axes: list[str] | tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """One summary per combination, parameter values and device: status, accuracy and time
    over its seeds; with the value of each varied axis (zoo.bench.axes) under its name."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        # Rows from before threads were recorded ran with Paddle's default of one.
        key = tuple(row[c] for c in COMBINATION) + (row["device"], _threads(row),
                                                      row.get("limit_train"))
        # Cells of a parameter axis share their combination: their settings tell them apart.
        groups.setdefault(key + _setting_values(row), []).append(row)
    out = []
    for key, members in groups.items():
        ok = [m for m in members if m["status"] == Status.OK]
        statuses = sorted({m["status"] for m in members})
        acc, acc_sd = _stats([m["test_acc"] for m in ok])
        val, val_sd = _stats([m.get("val_acc") for m in ok])
        best_val, best_val_sd = _stats([m.get("best_val_acc") for m in ok])
        wall, wall_sd = _stats([m["wall_time"] for m in ok])
        ips, ips_sd = _stats([m["images_per_s"] for m in ok])
        ttt, ttt_sd = _stats([m["time_to_target"] for m in ok])
        reasons = sorted({m["reason"] for m in members if m["status"] != Status.OK and m["reason"]})
        classes = max((m.get("num_classes") or 0 for m in members), default=0)
        chance = chance_reason(acc, classes)
        out.append({**dict(zip(COMBINATION + ["device", "threads", "limit_train"], key)),
                    **{name: axis_value(members[0], name) for name in axes},
                    "cell": ",".join(sorted({str(m.get("cell")) for m in members})),
                    "cell_dir": cell_folder(_shown_seed(members)),
                    "cell_dirs": [cell_folder(m) for m in sorted(members, key=_seed)],
                    "status": Status.OK.value if statuses == [Status.OK] else "/".join(statuses),
                    "runs": len(members), "ok_runs": len(ok),
                    "val_acc": val, "val_acc_std": val_sd,
                    "best_val_acc": best_val, "best_val_acc_std": best_val_sd,
                    "acc": acc, "acc_std": acc_sd,
                    "num_params": next((m.get("num_params") for m in members if m.get("num_params")), None),
                    "time": wall, "time_std": wall_sd, "images_per_s": ips, "images_per_s_std": ips_sd,
                    # the worst seed's: what the combination needs to run at all
                    "peak_rss_mb": max((m["peak_rss_mb"] for m in ok if m.get("peak_rss_mb")), default=None),
                    "time_to_target": ttt, "time_to_target_std": ttt_sd,
                    "targeted": any(m.get("target_acc") is not None for m in members),
                    "chance": chance_mark(acc, classes),
                    # a time measured while other cells ran on the same machine
                    "shared": any(m.get("shared") for m in ok),
                    "reason": "; ".join(reasons + ([chance] if chance else [])),
                    # A pruned cell is a result: its accuracy where it stopped, and when.
                    **_stopped(members),
                    # n = ok_runs: intervals, IQMs, time-to-target median and hit rate
                    **seed_statistics(ok)})
    return out


def _stopped(members: list[dict[str, Any]]) -> dict[str, Any]:
    pruned = [m for m in members if m["status"] == Status.PRUNED]
    val, _ = _stats([m.get("val_acc") for m in pruned])
    best, _ = _stats([m.get("best_val_acc") for m in pruned])
    done = sorted({f"{m.get('epochs_done') or 0}/{m.get('epochs')}" for m in pruned})
    return {"stopped_val_acc": val, "stopped_best_val_acc": best, "stopped_at": ",".join(done) or None}


def _setting_values(row: dict[str, Any]) -> tuple:
    return row.get("params"), row.get("epochs"), row.get("batch_size")


def axis_value(row: dict[str, Any], name: str) -> Any:
    """A row's value of an axis: ``epochs``, ``batch_size`` or ``kind.param`` as its cell
    was built (the identity's resolved parameters), None where its entry has no such."""
    import json

    from zoo.job import PARAM_KINDS

    if "." not in name:
        return row.get(name)
    singular, _, param = name.partition(".")
    try:
        params = json.loads(row.get("identity") or "{}").get("params", {})
        return params.get(PARAM_KINDS[singular], {}).get(param)
    except (ValueError, AttributeError, KeyError):
        return None


def axis_text(value: Any) -> str:
    return "-" if value is None else f"{value:.6g}" if isinstance(value, float) else str(value)


def _shown_seed(members: list[dict[str, Any]]) -> dict[str, Any]:
    """The seed whose folder a summary names: the one ``zoo export --best`` would take."""
    try:
        return best_seed({"cell": members[0].get("cell")}, members)
    except ZooError:  # no ok seed: the first one
        return min(members, key=_seed)


def _seed(row: dict[str, Any]) -> int:
    return row.get("seed") or 0


def _threads(row: dict[str, Any]) -> int:
    return row.get("threads") or 1


def cell_text(summary: dict[str, Any] | None, value: str, spec: str) -> str:
    """A value as a table shows it: its status when no run is ok, else the (mean) value
    with ± std over seeds, how many seeds were ok when not all, and a chance mark."""
    if summary is None:
        return "absent"
    if summary["ok_runs"] == 0:
        stopped = summary.get(f"stopped_{value}")
        if stopped is not None:  # no ok seed, but pruned ones: where they stopped
            return f"{format(stopped, spec)} (pruned at epoch {summary['stopped_at']})"
        return summary["status"]
    if value in stats_tables.KEYS:
        return stats_tables.text(summary, value, spec)
    if value == "time_to_target" and stats_tables.target_text(summary, spec):
        return stats_tables.target_text(summary, spec)
    if summary[value] is None:  # ok, but not measured there (a follower node of a cell)
        return "not reached" if value == "time_to_target" else "-"
    text = format(summary[value], spec)
    if summary["runs"] > 1:
        text += f" ± {format(summary[value + '_std'], spec)}"
    if summary["ok_runs"] < summary["runs"]:
        text += f" ({summary['ok_runs']}/{summary['runs']} ok)"
    if value == "acc" and summary.get("chance"):
        text += f" ({summary['chance']})"
    if value == "time" and summary.get("shared"):
        text += " (shared machine)"
    return text


def sort_summaries(summaries: list[dict], sort: str | None) -> list[dict]:
    if sort in (None, "combination"):
        return sorted(summaries, key=lambda s: tuple(natural_key(str(s[c])) for c in COMBINATION))
    descending = sort in ("val_acc", "acc", "images_per_s")
    missing = -math.inf if descending else math.inf
    return sorted(summaries, key=lambda s: (s[sort] if isinstance(s[sort], (int, float)) and s[sort] is not None
                                            else missing), reverse=descending) \
        if sort in ("val_acc", "acc", "time", "images_per_s") else \
        sorted(summaries, key=lambda s: natural_key(str(s[sort])))


# Per device, what a table shows of each combination: validation first (what the winner is
# picked by), then test, then cost.  (summary key, header, format)
DEVICE_COLUMNS = [("val_acc", "val acc", ".4f"), ("best_val_acc", "best val acc", ".4f"),
                  ("acc", "test acc", ".4f"), ("time", "time s", ".1f"),
                  ("images_per_s", "img/s", ".0f")]
# A sweep run with --target-acc also shows how long each cell took to reach it.
TARGET_COLUMN = ("time_to_target", "to target s", ".1f")


def pivot(summaries: list[dict[str, Any]], sort: str | None = None,
          winner: dict[str, Any] | None = None,
          axes: list[str] | tuple[str, ...] = ()) -> tuple[list[str], list[list[str]]]:
    """Headers and rows: combination columns, the parameter count, then per device its
    validation and test accuracy, time and images/s (and '<device> to target s' when the
    sweep had --target-acc).  ``winner`` (``zoo.bench.best.pick``) gets ``(best)`` after
    its validation accuracy."""
    devices = sorted({s["device"] for s in summaries}, key=natural_key)
    columns = DEVICE_COLUMNS + ([TARGET_COLUMN] if any(s.get("targeted") for s in summaries) else [])
    columns += stats_tables.columns(summaries, sort)
    summaries = stats_tables.ranked(summaries, sort)
    # The thread count changes the numbers; shown as soon as any cell used more than one.
    settings = ["threads"] if any(s.get("threads", 1) != 1 for s in summaries) else []
    # Likewise a training subset (--limit-train): numbers of N images, shown with N.
    settings += ["limit_train"] if any(s.get("limit_train") for s in summaries) else []
    settings += list(axes)  # the sweep's varied parameters (zoo.bench.axes)
    rows: dict[tuple, dict[str, tuple[str, ...]]] = {}
    sizes: dict[tuple, str] = {}
    notes: dict[tuple, list[str]] = {}
    order: list[tuple] = []
    for s in sort_summaries(summaries, sort):
        key = tuple(s[c] for c in COMBINATION + settings)
        if key not in rows:
            rows[key] = {}
            order.append(key)
        if s.get("num_params"):
            sizes[key] = str(s["num_params"])  # no thousands commas: the report sorts it as a number
        if s["ok_runs"] == 0 and s["status"] == Status.SKIPPED:
            rows[key][s["device"]] = (Status.SKIPPED.value,) * len(columns)
        else:
            texts = [cell_text(s, value, spec) for value, _, spec in columns]
            if is_winner(s, winner):
                texts[0] += f" {stats_tables.best_mark(summaries, winner)}"
            rows[key][s["device"]] = tuple(texts)
        if s["reason"]:
            notes.setdefault(key, []).append(s["reason"] if len(devices) == 1
                                             else f"{s['device']}: {s['reason']}")
    headers = COMBINATION + settings + ["params"] + [f"{d} {what}" for d in devices
                                                   for _, what, _ in columns]
    table = [[*map(str, key[:len(COMBINATION)]), *map(axis_text, key[len(COMBINATION):])]
             + [sizes.get(key, "-")]
             + [v for d in devices for v in rows[key].get(d, ("-",) * len(columns))]
             for key in order]
    if notes:
        headers.append("reason")
        table = [row + ["; ".join(notes.get(key, []))] for row, key in zip(table, order)]
    return headers, table


def compare(mine: list[dict], other: list[dict],
            axes: list[str] | tuple[str, ...] = ()) -> tuple[list[str], list[list[str]]]:
    """Per combination (and value of each varied axis) and device: accuracy and time in
    both runs and their difference, and whether the validation and test differences are
    resolved (zoo.bench.stats)."""
    place = COMBINATION + list(axes) + ["device"]
    index = {tuple(s.get(c) for c in place): s for s in other}
    headers = place + ["acc", "other acc", "Δ acc", "time s", "other time s", "time ratio"]
    table, pairs = [], []
    for s in sort_summaries(mine, None):
        o = index.get(tuple(s.get(c) for c in place))
        pairs.append((s, o))

        def num(x, spec):
            return "-" if x is None else format(x, spec)

        a, b = s["acc"] if s["ok_runs"] else None, o["acc"] if o and o["ok_runs"] else None
        ta, tb = s["time"] if s["ok_runs"] else None, o["time"] if o and o["ok_runs"] else None
        table.append([str(s[c]) for c in COMBINATION] + [axis_text(s[c]) for c in axes] + [
            s["device"], cell_text(s, "acc", ".4f"), cell_text(o, "acc", ".4f"),
            num(a - b, "+.4f") if a is not None and b is not None else "-",
            num(ta, ".1f"), num(tb, ".1f"),
            num(ta / tb, ".2f") if ta and tb else "-"])
    verdict_headers, verdicts = stats_tables.compare_columns(pairs)
    return headers + verdict_headers, [row + more for row, more in zip(table, verdicts)]
