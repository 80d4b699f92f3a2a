"""The performance-profile figure: per swept kind whose entries vary, rho(tau) of each
entry over the sweep's workloads (zoo.bench.profiles, the numbers `zoo results --profile
KIND` prints), one panel per kind, each entry's score in its legend."""

from __future__ import annotations

from zoo import kinds
from zoo.bench.profiles import DEFAULT_WORKLOAD, TAU_MAX, Profile, build, workload_fields
from zoo.errors import ZooError
from zoo.report import style

# A profile over one workload is that workload's ratio, which the time-to-target figure
# shows already; it tells entries apart across workloads from two on.
MIN_WORKLOADS = 2


def profiles(summaries: list[dict]) -> list[tuple[str, Profile]]:
    """(kind, profile) for every swept kind (but datasets, which make the workloads) with
    two entries or more over at least MIN_WORKLOADS workloads."""
    found = []
    for kind in kinds.swept():
        if kind.field in DEFAULT_WORKLOAD and kind.field != "model":
            continue
        try:
            profile = build(summaries, kind.field, workload_fields(kind.field, None))
        except ZooError:  # no target, or one entry: nothing to compare
            continue
        if len(profile.workloads) >= MIN_WORKLOADS:
            found.append((kind.name, profile))
    return found


def profile_figure(summaries: list[dict]):
    """(figure, caption note), or (None, "") when no kind can be profiled."""
    found = profiles(summaries)
    if not found:
        return None, ""
    fig, axes = style.facets(len(found), max_cols=2, width=4.6, height=3.2)
    for ax, (kind, profile) in zip(axes, found):
        for index, entry in enumerate(profile.entries):
            taus, rhos = profile.curve(entry)
            # Entries often share steps (equal ratios): dashes keep an entry drawn under
            # another one visible.
            ax.step(taus, rhos, where="post", color=style.colour(index),
                    linestyle=style.LINESTYLES[index % len(style.LINESTYLES)],
                    linewidth=1.6, label=f"{entry} (score {profile.score(entry):.3f})",
                    gid=f"profile {kind} entry={entry}")
        ax.set_xlim(1, TAU_MAX)
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlabel("tau: time to target / the fastest entry's on the workload")
        ax.set_ylabel("rho(tau): share of workloads within tau")
        ax.set_title(f"{kind}: performance profile over {len(profile.workloads)} workloads")
        ax.legend(title=f"{profile.compared} (score)", loc="lower right", fontsize=7, title_fontsize=7)
    note = (f" A workload is {' x '.join(DEFAULT_WORKLOAD)} (less the compared kind) with its "
            f"target; `zoo results DIR --profile KIND` prints the ratios behind each curve.")
    return fig, note
