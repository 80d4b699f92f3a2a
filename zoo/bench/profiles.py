"""Performance profiles over workloads, as AlgoPerf scores training algorithms (pure).

A workload is one dataset x model x device (or the fields the user groups by) with its
target accuracy.  On each workload an entry of the compared kind (an optimizer, a
schedule, ...) takes its best combination's time to target: the median over its seeds,
a miss counting as never (zoo.bench.stats.target_hits).  Its ratio to the fastest entry
there is r >= 1, infinite when it never reached the target or never ran there.  The
profile rho(tau) is the share of workloads with r <= tau, and the score its integral over
[1, TAU_MAX] divided by TAU_MAX - 1: 1 for an entry that was fastest everywhere, 0 for
one never within TAU_MAX times the best.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from zoo import kinds
from zoo.errors import ZooError

TAU_MAX = 4.0
DEFAULT_WORKLOAD = ["dataset", "model", "device"]


def kind_field(kind_name: str) -> str:
    """A swept kind's plural name (optimizers) -> its summaries' field (optimizer)."""
    for kind in kinds.swept():
        if kind_name in (kind.name, kind.field):
            return kind.field
    known = ", ".join(kind.name for kind in kinds.swept())
    raise ZooError(f"--profile {kind_name}: not a swept kind (choose from {known})")


def workload_fields(compared: str, group_by: list[str] | None) -> list[str]:
    allowed = [kind.field for kind in kinds.swept()] + ["nprocs", "device", "threads", "limit_train"]
    fields = group_by if group_by else [f for f in DEFAULT_WORKLOAD if f != compared]
    bad = [f for f in fields if f not in allowed]
    if bad:
        raise ZooError(f"--group-by {','.join(bad)}: unknown field (choose from {', '.join(allowed)})")
    if compared in fields:
        raise ZooError(f"--group-by {compared}: the compared kind cannot also define the workloads")
    return list(fields)


@dataclass
class Profile:
    compared: str  # the summaries' field whose entries are compared (optimizer, ...)
    fields: list[str]  # what makes a workload (its target accuracy always does too)
    workloads: list[tuple] = field(default_factory=list)
    times: dict[str, dict[tuple, float]] = field(default_factory=dict)  # entry -> workload -> s

    @property
    def entries(self) -> list[str]:
        return sorted(self.times, key=lambda e: (-self.score(e), e))

    def best(self, workload: tuple) -> float:
        return min(self.times[e].get(workload, math.inf) for e in self.times)

    def ratio(self, entry: str, workload: tuple) -> float:
        """Time over the fastest entry's on the workload; inf if never reached (by anyone)."""
        time, best = self.times[entry].get(workload, math.inf), self.best(workload)
        return time / best if math.isfinite(time) and math.isfinite(best) else math.inf

    def rho(self, entry: str, tau: float) -> float:
        return sum(self.ratio(entry, w) <= tau for w in self.workloads) / len(self.workloads)

    def score(self, entry: str) -> float:
        """The exact integral of the step function rho over [1, TAU_MAX], normalised:
        each workload with ratio r <= TAU_MAX adds (TAU_MAX - r) / (TAU_MAX - 1)."""
        return sum(max(0.0, TAU_MAX - r) / (TAU_MAX - 1) for r in
                   (self.ratio(entry, w) for w in self.workloads) if math.isfinite(r)) / len(self.workloads)

    def curve(self, entry: str) -> tuple[list[float], list[float]]:
        """rho as steps over [1, TAU_MAX]: at 1, at each ratio inside, and at TAU_MAX."""
        taus = sorted({1.0, TAU_MAX} | {r for w in self.workloads
                                         for r in [self.ratio(entry, w)] if 1 <= r <= TAU_MAX})
        return taus, [self.rho(entry, t) for t in taus]

    def workload_name(self, workload: tuple) -> str:
        *values, target = workload
        return "/".join(str(v) for v in values) + f"@{target:g}"

    def missing(self) -> list[str]:
        """Lines on workloads that nobody reached, where the profile can tell no one apart."""
        return [f"no {self.compared} reached the target on {self.workload_name(w)}"
                for w in self.workloads if not math.isfinite(self.best(w))]


def build(summaries: list[dict[str, Any]], compared: str, fields: list[str]) -> Profile:
    """The profile of ``compared``'s entries over the workloads of ``summaries``
    (zoo.bench.tables.summarize); a cell with no ok seed counts as never reaching it."""
    targeted = [s for s in summaries if s.get("target_acc") is not None]
    if not targeted:
        raise ZooError("a performance profile needs times to a target accuracy: no cell has "
                       "one (zoo bench --target-acc A records them)")
    profile = Profile(compared, fields)
    for s in targeted:
        workload = tuple(s.get(f) for f in fields) + (s["target_acc"],)
        if workload not in profile.workloads:
            profile.workloads.append(workload)
        median = s.get("time_to_target_median") if s.get("ok_runs") else None
        time = median if median is not None else math.inf
        mine = profile.times.setdefault(str(s[compared]), {})
        # Other axes varied too: an entry is as good as its best setting there (tuned).
        mine[workload] = min(mine.get(workload, math.inf), time)
    if len(profile.times) < 2:
        raise ZooError(f"a performance profile compares entries: the sweep has only one "
                       f"{compared} ({', '.join(profile.times)})")
    profile.workloads.sort(key=lambda w: tuple(str(v) for v in w))
    return profile


# The taus a table shows rho at (the figure draws the whole curve).
TABLE_TAUS = [1.0, 1.5, 2.0, 4.0]


def _ratio_text(ratio: float) -> str:
    return f"{ratio:.2f}" if math.isfinite(ratio) else "inf"


def table(profile: Profile) -> tuple[list[str], list[list[str]]]:
    """Per entry, best score first: its score, rho at TABLE_TAUS and its ratio on each
    workload ("inf": it never reached the target there, or never ran there)."""
    headers = [profile.compared, "score"] + [f"rho({t:g})" for t in TABLE_TAUS] + \
        [f"ratio {profile.workload_name(w)}" for w in profile.workloads]
    rows = [[entry, f"{profile.score(entry):.3f}"] + [f"{profile.rho(entry, t):.2f}" for t in TABLE_TAUS]
            + [_ratio_text(profile.ratio(entry, w)) for w in profile.workloads]
            for entry in profile.entries]
    return headers, rows


def as_data(profile: Profile) -> dict[str, Any]:
    """The profile as JSON: null where a ratio or time is infinite (never reached)."""
    def num(x: float) -> float | None:
        return x if math.isfinite(x) else None

    return {"compared": profile.compared, "workload_fields": profile.fields + ["target_acc"],
            "tau_max": TAU_MAX,
            "workloads": [profile.workload_name(w) for w in profile.workloads],
            "entries": [{"name": e, "score": profile.score(e),
                         "rho": {f"{t:g}": profile.rho(e, t) for t in TABLE_TAUS},
                         "ratios": {profile.workload_name(w): num(profile.ratio(e, w))
                                    for w in profile.workloads},
                         "times": {profile.workload_name(w): num(profile.times[e].get(w, math.inf))
                                   for w in profile.workloads}}
                        for e in profile.entries]}
