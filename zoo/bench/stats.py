"""How sure a number over seeds is: intervals, the interquartile mean, target hits, and
whether two combinations really differ (pure functions; the maths is scipy.stats').

A mean over three seeds says little on its own: the 95% interval says how far it could
move with other seeds, and a ranking is only called *resolved* when the data separate the
two combinations.  Everything here is deterministic: the bootstrap is seeded and reads
the values sorted, so the same rows always give the same interval.

The interval of a mean is the wider of two (``mean_interval``): the percentile bootstrap,
which follows a skewed sample (one broken seed pulls one end only), and Student's t, which
knows how little three values say.  Alone, the bootstrap of three seeds is far too narrow:
it can only ever span the three values, and the published leaderboard's first run called a
pair resolved that the second run reversed (benchmarks/RESULTS.md, "leaderboard").
"""

from __future__ import annotations

import functools
import math
import statistics
from dataclasses import dataclass
from typing import Any

CONFIDENCE = 0.95
RESAMPLES = 9999
BOOTSTRAP_SEED = 0
# The interquartile mean drops the lowest and highest quarter; below five seeds a quarter
# is not one whole seed, and the IQM would be the plain mean under another name.
IQM_FROM = 5
ALPHA = 0.05
# A two-sided Wilcoxon signed-rank test cannot go below p = 2 / 2**n: under six pairs it
# can never reach 0.05, so fewer shared seeds rely on the intervals alone.
MIN_PAIRED = 6


def finite(values) -> list[float]:
    return [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]


def bootstrap_interval(values, confidence: float = CONFIDENCE, resamples: int = RESAMPLES,
                       seed: int = BOOTSTRAP_SEED) -> tuple[float, float] | None:
    """The percentile bootstrap interval of the mean, or None under two values (one value
    has no spread to resample: no interval is made up for it).

    A constant sample's interval is the value itself (scipy declines a degenerate sample)."""
    xs = tuple(sorted(finite(values)))
    if len(xs) < 2:
        return None
    if xs[0] == xs[-1]:
        return xs[0], xs[0]
    return _bootstrap(xs, confidence, resamples, seed)


def student_t_interval(values, confidence: float = CONFIDENCE) -> tuple[float, float] | None:
    """Student's t interval of the mean (scipy.stats.t), or None under two values."""
    xs = finite(values)
    if len(xs) < 2:
        return None
    if min(xs) == max(xs):
        return xs[0], xs[0]  # no spread (and no rounding of a mean of equal values)
    mean, sd = statistics.fmean(xs), statistics.stdev(xs)
    from scipy.stats import t

    low, high = t.interval(confidence, len(xs) - 1, loc=mean, scale=sd / math.sqrt(len(xs)))
    return float(low), float(high)


# Every measure given an interval here is an accuracy: its mean cannot leave [0, 1], so
# neither does its interval (the t interval of 0.99, 1.0, 0.95 would reach 1.04).
ACCURACY_RANGE = (0.0, 1.0)


def mean_interval(values, confidence: float = CONFIDENCE,
                  within: tuple[float, float] = ACCURACY_RANGE) -> tuple[float, float] | None:
    """The 95% interval of the mean shown in every table and used by ``resolve``: the
    union of the percentile bootstrap and Student's t intervals, clipped to ``within``;
    None under two values.  With many seeds the two agree; with few, t is the wider."""
    boot, student = bootstrap_interval(values, confidence), student_t_interval(values, confidence)
    if boot is None or student is None:
        return None
    low, high = min(boot[0], student[0]), max(boot[1], student[1])
    return max(low, within[0]), min(high, within[1])


# A report summarises the same rows once per figure, and `zoo bench --report` after every
# cell: the same sample gives the same interval, so it is computed once.
@functools.lru_cache(maxsize=4096)
def _bootstrap(xs: tuple[float, ...], confidence: float, resamples: int,
               seed: int) -> tuple[float, float]:
    import numpy as np
    from scipy.stats import bootstrap

    result = bootstrap((np.asarray(xs),), np.mean, confidence_level=confidence,
                       n_resamples=resamples, method="percentile", vectorized=True,
                       rng=np.random.default_rng(seed))
    low, high = result.confidence_interval
    return float(low), float(high)


def iqm(values) -> float | None:
    """The interquartile mean (scipy's trim_mean with a quarter cut from each end: a
    whole number of values, floor(n/4), each side), or None under IQM_FROM values."""
    xs = finite(values)
    if len(xs) < IQM_FROM:
        return None
    from scipy.stats import trim_mean

    return float(trim_mean(xs, 0.25))


@dataclass(frozen=True)
class TargetHits:
    """How the seeds of a combination fared against a target accuracy."""
    reached: int
    runs: int
    target: float | None
    median: float | None  # over all seeds, a miss counting as never: None when most missed

    def line(self) -> str:
        target = "the target" if self.target is None else f"{self.target:g}"
        return f"{self.reached}/{self.runs} reached {target}"


def target_hits(times: list[float | None], target: float | None) -> TargetHits:
    """``times``: one time to target per ok seed, None where the seed never reached it.

    The median counts a miss as an infinite time, as AlgoPerf does: a combination that
    reached the target with one seed of five has no median time, not a flattering one."""
    reached = finite(times)
    padded = reached + [math.inf] * (len(times) - len(reached))
    median = statistics.median(padded) if padded else math.inf
    return TargetHits(len(reached), len(times), target, median if math.isfinite(median) else None)


@dataclass(frozen=True)
class Verdict:
    resolved: bool
    text: str
    p_value: float | None = None


def _n_text(a: dict, b: dict) -> str:
    return f"n={len(a)}" if len(a) == len(b) else f"n={len(a)} and {len(b)}"


def resolve(a: dict[Any, float], b: dict[Any, float]) -> Verdict:
    """Whether the means of ``a`` and ``b`` (seed -> value) are told apart: their 95%
    intervals (``mean_interval``) do not overlap, or a paired Wilcoxon test over at least
    MIN_PAIRED shared seeds gives p < ALPHA.  Otherwise "not resolved with n=3"."""
    a = {k: float(v) for k, v in a.items() if v is not None and math.isfinite(v)}
    b = {k: float(v) for k, v in b.items() if v is not None and math.isfinite(v)}
    ia, ib = mean_interval(a.values()), mean_interval(b.values())
    if ia and ib and (ia[1] < ib[0] or ib[1] < ia[0]):
        return Verdict(True, "resolved (95% intervals apart)")
    shared = sorted(set(a) & set(b), key=str)
    if len(shared) >= MIN_PAIRED and any(a[s] != b[s] for s in shared):
        from scipy.stats import wilcoxon

        p = float(wilcoxon([a[s] for s in shared], [b[s] for s in shared]).pvalue)
        if p < ALPHA:
            return Verdict(True, f"resolved (paired Wilcoxon p={p:.3f} over {len(shared)} seeds)", p)
        return Verdict(False, f"not resolved with {_n_text(a, b)} (paired Wilcoxon p={p:.2f})", p)
    return Verdict(False, f"not resolved with {_n_text(a, b)}")


def by_seed(rows: list[dict[str, Any]], column: str) -> dict[int, float]:
    """seed -> the column's finite value, over ``rows`` (a combination's ok seeds)."""
    return {r.get("seed") or 0: float(r[column]) for r in rows
            if isinstance(r.get(column), (int, float)) and math.isfinite(r[column])}


# The measures that get intervals: (summary key, the store's column).
MEASURES = [("val_acc", "val_acc"), ("acc", "test_acc")]


def seed_statistics(ok: list[dict[str, Any]]) -> dict[str, Any]:
    """What a summary (zoo.bench.tables.summarize) adds about its ok seeds ``ok``: per
    measure its values by seed, 95% interval and IQM, and the time-to-target median and
    hit rate.  Plain numbers and strings, so that JSON and CSV carry them as they are."""
    out: dict[str, Any] = {}
    for key, column in MEASURES:
        values = by_seed(ok, column)
        interval = mean_interval(values.values())
        out[f"{key}_by_seed"] = values
        out[f"{key}_ci_low"], out[f"{key}_ci_high"] = interval or (None, None)
        out[f"{key}_iqm"] = iqm(values.values())
    targets = sorted({r["target_acc"] for r in ok if r.get("target_acc") is not None})
    if targets and ok:
        hits = target_hits([r.get("time_to_target") for r in ok], targets[0] if len(targets) == 1 else None)
        out.update(time_to_target_median=hits.median, target_reached=hits.reached,
                   target_line=hits.line(), target_acc=hits.target)
    else:
        out.update(time_to_target_median=None, target_reached=None, target_line=None,
                   target_acc=None)
    # zoo bench --target-from: where the target came from
    out["target_from"] = next((r["target_from"] for r in ok if r.get("target_from")), None)
    return out
