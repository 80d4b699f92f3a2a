"""The report's performance-profile figure, read from the structured data the page
records beside it (zoo.report.figure_data), on the hand-worked store of
tests/fixtures/profile_example.py: the curves must be the hand-worked rho steps."""

from __future__ import annotations

import pytest

from zoo.report.synthetic import write_synthetic_sweep

# rho's steps by hand (tests/test_bench_profiles.py): sgd reaches 1/2 at tau 1 and 1 at
# 3, adam 1/2 at 1 and 1 at 2, momentum never gets within 4 times the best.
CURVES = {"sgd": ([1.0, 3.0, 4.0], [0.5, 1.0, 1.0]), "adam": ([1.0, 2.0, 4.0], [0.5, 1.0, 1.0]),
          "momentum": ([1.0, 4.0], [0.0, 0.0])}


@pytest.fixture(scope="module")
def figure(tmp_path_factory, write_profile_store, zoo, read_page):
    out = tmp_path_factory.mktemp("profile")
    write_profile_store(out)
    proc = zoo("report", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    page = read_page(out / "report.html")
    assert "fig-performance-profile" in page.figures
    return page.figure_data["performance-profile"]


@pytest.mark.integration
def test_a_panel_per_kind_that_varies_over_two_workloads(figure):
    titles = [p["title"] for p in figure["panels"]]
    assert titles == ["optimizers: performance profile over 2 workloads",
                      "schedules: performance profile over 2 workloads"]
    for panel in figure["panels"]:
        assert panel["xlabel"] == "tau: time to target / the fastest entry's on the workload"
        assert panel["ylabel"] == "rho(tau): share of workloads within tau"
        assert panel["xlim"] == [1.0, 4.0]


@pytest.mark.integration
def test_the_optimizer_curves_are_the_hand_worked_steps(figure, profile_scores):
    panel = figure["panels"][0]
    lines = {line["gid"]: line for line in panel["lines"]}
    assert sorted(lines) == sorted(f"profile optimizers entry={e}" for e in CURVES)
    for entry, (taus, rhos) in CURVES.items():
        line = lines[f"profile optimizers entry={entry}"]
        assert line["x"] == pytest.approx(taus) and line["y"] == pytest.approx(rhos)
    # Equal steps are common (adam and sgd share rho = 1/2 on [1, 2)): no two entries share
    # a dash pattern, so the one drawn underneath still shows.
    assert len({line["linestyle"] for line in lines.values()}) == len(CURVES)
    # Best score first, each with its score, in the legend.
    assert [e["text"] for e in panel["legend"]["entries"]] == \
        [f"{e} (score {profile_scores[e]:.3f})" for e in ("adam", "sgd", "momentum")]


@pytest.mark.integration
def test_no_profile_figure_without_two_workloads(tmp_path, zoo, read_page):
    write_synthetic_sweep(tmp_path, 3, statuses=["ok"], axes={
        "models": ["mlp"], "optimizers": ["sgd", "adam", "momentum"], "schedules": ["constant"],
        "regularizers": ["none"], "launches": [("single", 1)]})
    proc = zoo("report", str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "fig-performance-profile" not in read_page(tmp_path / "report.html").figures
