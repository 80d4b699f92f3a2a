"""The statistics of zoo.bench.stats as the tables show them (pure): interval, IQM and
time-to-target texts, the ranking's "vs next" verdicts, the comparison's verdicts, and
the note a table gets when it has one seed per combination."""

from __future__ import annotations

from typing import Any

from zoo import kinds
from zoo.bench.best import MARK
from zoo.bench.stats import IQM_FROM, resolve

AXES = [kind.field for kind in kinds.swept()] + ["nprocs"]

# Per device, shown once any combination has two ok seeds (intervals) or IQM_FROM (IQMs):
# (summary key, header, format).  Their texts come from ``text`` below.
INTERVAL_COLUMNS = [("val_acc_ci", "val acc 95% CI", ".4f"), ("acc_ci", "test acc 95% CI", ".4f")]
IQM_COLUMNS = [("val_acc_iqm", "val acc IQM", ".4f"), ("acc_iqm", "test acc IQM", ".4f")]
# Shown when the table is a ranking (sorted by an accuracy): is a row told apart from the next?
RANK_COLUMN = ("vs_next", "vs next", "")
RANKED = {"val_acc": "val_acc", "acc": "acc"}
KEYS = {key for key, _, _ in INTERVAL_COLUMNS + IQM_COLUMNS + [RANK_COLUMN]}


def columns(summaries: list[dict[str, Any]], sort: str | None) -> list[tuple[str, str, str]]:
    """The statistics columns a table of ``summaries`` sorted by ``sort`` gets."""
    most = max((s.get("ok_runs", 0) for s in summaries), default=0)
    shown = INTERVAL_COLUMNS if most >= 2 else []
    shown += IQM_COLUMNS if most >= IQM_FROM else []
    return shown + ([RANK_COLUMN] if sort in RANKED else [])


def text(summary: dict[str, Any], key: str, spec: str) -> str:
    """A statistics column's text for a summary with at least one ok seed."""
    if key == "vs_next":
        return summary.get("vs_next") or "-"
    n = summary.get("ok_runs", 0)
    if key.endswith("_ci"):
        low, high = summary.get(f"{key}_low"), summary.get(f"{key}_high")
        if low is None:
            return f"n={n}: no interval" if n < 2 else "-"
        return f"[{format(low, spec)}, {format(high, spec)}]"
    value = summary.get(key)
    if value is None:
        return f"n={n} < {IQM_FROM}" if n < IQM_FROM else "-"
    return format(value, spec)


def target_text(summary: dict[str, Any], spec: str) -> str | None:
    """Several seeds against a target: their median time and hit rate ("14.2 median,
    3/5 reached 0.9"); None for one seed, whose plain time says it all."""
    if summary.get("ok_runs", 0) < 2 or not summary.get("target_line"):
        return None
    median = summary.get("time_to_target_median")
    shown = "not reached by most" if median is None else f"{format(median, spec)} median"
    return f"{shown}, {summary['target_line']}"


def _samples(summary: dict[str, Any], key: str) -> dict:
    return summary.get(f"{key}_by_seed") or {}


def ranked(summaries: list[dict[str, Any]], sort: str | None) -> list[dict[str, Any]]:
    """``summaries`` with ``vs_next``: per device, in the order of ``sort``'s accuracy
    (best first), whether each one's lead over the next is resolved (zoo.bench.stats)."""
    if sort not in RANKED:
        return summaries
    key = RANKED[sort]
    out = [dict(s) for s in summaries]
    for device in {s["device"] for s in out}:
        mine = sorted((s for s in out if s["device"] == device and s.get(key) is not None
                       and s.get("ok_runs")), key=lambda s: -s[key])
        for here, below in zip(mine, mine[1:]):
            here["vs_next"] = resolve(_samples(here, key), _samples(below, key)).text
    return out


def best_mark(summaries: list[dict[str, Any]], winner: dict[str, Any] | None) -> str:
    """The table's (best) mark, "(best, not resolved)" when the seeds cannot tell the
    winner from the runner-up (with one seed everywhere the note under the table says so)."""
    if max((s.get("ok_runs", 0) for s in summaries), default=0) < 2:
        return MARK
    runner_up = _runner_up(summaries, winner) if winner else None
    if runner_up is None or resolve(_samples(winner, "val_acc"), _samples(runner_up, "val_acc")).resolved:
        return MARK
    return f"{MARK[:-1]}, not resolved)"


def _runner_up(summaries: list[dict[str, Any]], winner: dict[str, Any]) -> dict[str, Any] | None:
    others = sorted((s for s in summaries if s["device"] == winner["device"]
                     and s.get("val_acc") is not None and s.get("ok_runs")
                     and s.get("cell") != winner.get("cell")), key=lambda s: -s["val_acc"])
    return others[0] if others else None


def winner_note(summaries: list[dict[str, Any]], winner: dict[str, Any] | None,
                axes: list[str] | tuple[str, ...] = ()) -> str | None:
    """A line saying whether the (best) pick is told apart from the runner-up on the
    same device, or None when there is no runner-up; ``axes`` are the sweep's varied
    parameters, which may be all that tells the two apart."""
    runner_up = _runner_up(summaries, winner) if winner else None
    if runner_up is None:
        return None
    verdict = resolve(_samples(winner, "val_acc"), _samples(runner_up, "val_acc"))
    # The runner-up named by what sets it apart from the winner.
    name = ", ".join(f"{k}={runner_up[k]}" for k in [*AXES, *axes] if runner_up.get(k) != winner.get(k))
    return (f"note: the best validation accuracy ({winner['val_acc']:.4f}) over the runner-up "
            f"{name} ({runner_up['val_acc']:.4f}): {verdict.text}"
            + ("" if verdict.resolved else "; zoo bench --repeat N adds seeds"))


def notes(summaries: list[dict[str, Any]], winner: dict[str, Any] | None,
          axes: list[str] | tuple[str, ...] = ()) -> list[str]:
    """What a results table says under it about how sure it is, and where its targets
    came from (stderr lines)."""
    lines = [f"note: target {s['target_acc']:g} from {s['target_from']}"
             for s in _distinct(summaries, "target_from") if s.get("target_acc") is not None]
    if len(summaries) > 1 and all(s.get("ok_runs", 0) <= 1 for s in summaries):
        return lines + ["note: one seed per combination: no confidence interval, and no "
                        "ranking is resolved (zoo bench --repeat N runs N seeds per cell)"]
    line = winner_note(summaries, winner, axes)
    return lines + ([line] if line else [])


def _distinct(summaries: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    seen: dict[Any, dict] = {}
    for s in summaries:
        if s.get(key) and s[key] not in seen:
            seen[s[key]] = s
    return list(seen.values())


def compare_columns(pairs: list[tuple[dict, dict | None]]) -> tuple[list[str], list[list[str]]]:
    """Per compared pair (this run's summary, the other's or None): the validation
    accuracies and whether the validation and test differences are resolved."""
    headers = ["val acc", "other val acc", "Δ val acc", "val resolved", "acc resolved"]
    rows = []
    for mine, other in pairs:
        if other is None or not mine.get("ok_runs") or not other.get("ok_runs"):
            rows.append(["-"] * len(headers))
            continue
        a, b = mine.get("val_acc"), other.get("val_acc")
        rows.append([_mean(a), _mean(b),
                     "-" if a is None or b is None else format(a - b, "+.4f"),
                     resolve(_samples(mine, "val_acc"), _samples(other, "val_acc")).text,
                     resolve(_samples(mine, "acc"), _samples(other, "acc")).text])
    return headers, rows


def _mean(value: float | None) -> str:
    return "-" if value is None else format(value, ".4f")


def flat(summary: dict[str, Any]) -> dict[str, Any]:
    """A summary for a CSV row: values by seed as "seed:value" words."""
    return {k: (" ".join(f"{seed}:{v:.6g}" for seed, v in sorted(value.items()))
                if k.endswith("_by_seed") else value) for k, value in summary.items()}
