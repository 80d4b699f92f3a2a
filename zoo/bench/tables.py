"""Result rows -> tables: one row per combination, accuracy and wall time per device.

Repeats (seeds) of a cell become mean ± std.  A cell that did not finish ``ok`` shows its
status instead of a number, so a diverged run never looks like a real accuracy, and an
accuracy no better than guessing is marked ``chance`` with the reason, so a run that
learned nothing never looks like a result either.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

from zoo import kinds
from zoo.registry import natural_key
from zoo.status import Status

# What a table row stands for: the entry of each swept kind (zoo.kinds) and the processes.
COMBINATION = [kind.field for kind in kinds.swept()] + ["nprocs"]
SORT_KEYS = COMBINATION + ["acc", "time", "images_per_s"]
CHANCE_MARGIN = 0.02  # within 2 points of 1/classes: the model learned (next to) nothing


def chance_reason(acc: float | None, num_classes: int | None) -> str:
    """Why ``acc`` is no real result, or "" when it beats guessing by a margin."""
    if acc is None or not num_classes:
        return ""
    chance = 1 / num_classes
    if acc >= chance + CHANCE_MARGIN:
        return ""
    return (f"accuracy {acc:.4f} is within {CHANCE_MARGIN * 100:g} points of chance "
            f"({chance:.4f} for {num_classes} classes)")


def _stats(values: list[float]) -> tuple[float | None, float | None]:
    values = [v for v in values if v is not None and math.isfinite(v)]
    if not values:
        return None, None
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One summary per combination and device: status, accuracy and time over its seeds."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        # Rows from before threads were recorded ran with Paddle's default of one.
        key = tuple(row[c] for c in COMBINATION) + (row["device"], _threads(row))
        groups.setdefault(key, []).append(row)
    out = []
    for key, members in groups.items():
        ok = [m for m in members if m["status"] == Status.OK]
        statuses = sorted({m["status"] for m in members})
        acc, acc_sd = _stats([m["test_acc"] for m in ok])
        wall, wall_sd = _stats([m["wall_time"] for m in ok])
        ips, _ = _stats([m["images_per_s"] for m in ok])
        ttt, ttt_sd = _stats([m["time_to_target"] for m in ok])
        reasons = sorted({m["reason"] for m in members if m["status"] != Status.OK and m["reason"]})
        chance = chance_reason(acc, max((m.get("num_classes") or 0 for m in members), default=0))
        out.append({**dict(zip(COMBINATION + ["device", "threads"], key)),
                    "status": Status.OK.value if statuses == [Status.OK] else "/".join(statuses),
                    "runs": len(members), "ok_runs": len(ok), "acc": acc, "acc_std": acc_sd,
                    "time": wall, "time_std": wall_sd, "images_per_s": ips,
                    "time_to_target": ttt, "time_to_target_std": ttt_sd,
                    "targeted": any(m.get("target_acc") is not None for m in members),
                    "chance": bool(chance),
                    # a time measured while other cells ran on the same machine
                    "shared": any(m.get("shared") for m in ok),
                    "reason": "; ".join(reasons + ([chance] if chance else []))})
    return out


def _threads(row: dict[str, Any]) -> int:
    return row.get("threads") or 1


def cell_text(summary: dict[str, Any] | None, value: str, spec: str) -> str:
    """A value as a table shows it: its status when no run is ok, else the (mean) value
    with ± std over seeds, how many seeds were ok when not all, and a chance mark."""
    if summary is None:
        return "absent"
    if summary["ok_runs"] == 0:
        return summary["status"]
    if summary[value] is None:  # ok, but not measured there (a follower node of a cell)
        return "not reached" if value == "time_to_target" else "-"
    text = format(summary[value], spec)
    if summary["runs"] > 1:
        text += f" ± {format(summary[value + '_std'], spec)}"
    if summary["ok_runs"] < summary["runs"]:
        text += f" ({summary['ok_runs']}/{summary['runs']} ok)"
    if value == "acc" and summary.get("chance"):
        text += " (chance)"
    if value == "time" and summary.get("shared"):
        text += " (shared machine)"
    return text


def sort_summaries(summaries: list[dict], sort: str | None) -> list[dict]:
    if sort in (None, "combination"):
        return sorted(summaries, key=lambda s: tuple(natural_key(str(s[c])) for c in COMBINATION))
    descending = sort in ("acc", "images_per_s")
    missing = -math.inf if descending else math.inf
    return sorted(summaries, key=lambda s: (s[sort] if isinstance(s[sort], (int, float)) and s[sort] is not None
                                            else missing), reverse=descending) \
        if sort in ("acc", "time", "images_per_s") else \
        sorted(summaries, key=lambda s: natural_key(str(s[sort])))


def pivot(summaries: list[dict[str, Any]], sort: str | None = None) -> tuple[list[str], list[list[str]]]:
    """Headers and rows: combination columns, then per device '<device> test acc' and
    '<device> time s' (and '<device> to target s' when the sweep had --target-acc)."""
    devices = sorted({s["device"] for s in summaries}, key=natural_key)
    # The thread count changes the numbers; shown as soon as any cell used more than one.
    threads = ["threads"] if any(s.get("threads", 1) != 1 for s in summaries) else []
    # A sweep run with --target-acc also shows how long each cell took to reach it.
    values = [("acc", ".4f", "test acc"), ("time", ".1f", "time s")] + \
        ([("time_to_target", ".1f", "to target s")] if any(s.get("targeted") for s in summaries) else [])
    rows: dict[tuple, dict[str, str]] = {}
    notes: dict[tuple, list[str]] = {}
    order: list[tuple] = []
    for s in sort_summaries(summaries, sort):
        key = tuple(s[c] for c in COMBINATION + threads)
        if key not in rows:
            rows[key] = {}
            order.append(key)
        if s["ok_runs"] == 0 and s["status"] == Status.SKIPPED:
            rows[key][s["device"]] = (Status.SKIPPED.value,) * len(values)
        else:
            rows[key][s["device"]] = tuple(cell_text(s, value, spec) for value, spec, _ in values)
        if s["reason"]:
            notes.setdefault(key, []).append(s["reason"] if len(devices) == 1
                                             else f"{s['device']}: {s['reason']}")
    headers = COMBINATION + threads + [f"{d} {what}" for d in devices for *_, what in values]
    table = [list(map(str, key)) + [v for d in devices for v in rows[key].get(d, ("-",) * len(values))]
             for key in order]
    if notes:
        headers.append("reason")
        table = [row + ["; ".join(notes.get(key, []))] for row, key in zip(table, order)]
    return headers, table


def compare(mine: list[dict], other: list[dict]) -> tuple[list[str], list[list[str]]]:
    """Per combination and device: accuracy and time in both runs and their difference."""
    index = {tuple(s[c] for c in COMBINATION + ["device"]): s for s in other}
    headers = COMBINATION + ["device", "acc", "other acc", "Δ acc", "time s", "other time s", "time ratio"]
    table = []
    for s in sort_summaries(mine, None):
        o = index.get(tuple(s[c] for c in COMBINATION + ["device"]))

        def num(x, spec):
            return "-" if x is None else format(x, spec)

        a, b = s["acc"] if s["ok_runs"] else None, o["acc"] if o and o["ok_runs"] else None
        ta, tb = s["time"] if s["ok_runs"] else None, o["time"] if o and o["ok_runs"] else None
        table.append([str(s[c]) for c in COMBINATION] + [
            s["device"], cell_text(s, "acc", ".4f"), cell_text(o, "acc", ".4f"),
            num(a - b, "+.4f") if a is not None and b is not None else "-",
            num(ta, ".1f"), num(tb, ".1f"),
            num(ta / tb, ".2f") if ta and tb else "-"])
    return headers, table
