"""Parameter axes: `--set K.P=V1,V2`, a JSON list and a grid file's [space] become cells,
each with its own identity, its own folder and its value in the tables."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from zoo import kinds
from zoo.bench.grid import expand
from zoo.errors import ZooError

LR = "optimizer.learning_rate"


@pytest.fixture(scope="module")
def catalog():
    import os

    from zoo.plugin import load_catalog

    os.environ.pop("ZOO_REGISTRY", None)
    return load_catalog()


def cells_of(catalog, grid_file=None, **given):
    from zoo.bench.sweep import build_spec

    selections = {kind.axis: given.pop(kind.axis, None) for kind in kinds.swept()}
    return expand(catalog, build_spec(catalog, grid_file=grid_file, selections=selections, **given))


def test_a_comma_list_and_a_json_list_make_one_cell_per_value(catalog):
    for given in (f"{LR}=1e-3,1e-2,0.05", f"{LR}=[0.001, 0.01, 0.05]"):
        cells = cells_of(catalog, models="mlp", optimizers="adam,sgd", sets=(given,))
        assert [(c.optimizer, c.params.get("optimizers", {}).get("learning_rate")) for c in cells] == [
            (o, v) for o in ("adam", "sgd") for v in (0.001, None, 0.05)]  # 0.01: both defaults
        assert len({c.key for c in cells}) == len({c.slug for c in cells}) == 6


def test_each_value_has_its_own_identity_and_the_default_keeps_the_old_key(catalog):
    plain = cells_of(catalog, models="mlp", optimizers="adam")
    default = catalog.params("optimizers", "adam")["learning_rate"]
    cells = cells_of(catalog, models="mlp", optimizers="adam", sets=(f"{LR}={default},0.003",))
    assert [c.params for c in cells] == [{}, {"optimizers": {"learning_rate": 0.003}}]
    assert cells[0].key == plain[0].key != cells[1].key
    with_ids = [_identity(catalog, c) for c in cells]
    assert [i["params"]["optimizers"]["learning_rate"] for i in with_ids] == [default, 0.003]
    assert with_ids[0] != with_ids[1]


def _identity(catalog, cell):
    from zoo.identity import identity

    return identity(catalog, cell.names, cell.params, "f" * 64)


def test_an_axis_varies_only_the_entries_that_have_the_parameter(catalog):
    cells = cells_of(catalog, models="mlp", optimizers="sgd,momentum",
                     sets=("optimizer.momentum=0.5,0.8",))
    assert [(c.optimizer, c.params) for c in cells] == [
        ("sgd", {}), ("momentum", {"optimizers": {"momentum": 0.5}}),
        ("momentum", {"optimizers": {"momentum": 0.8}})]
    with pytest.raises(ZooError, match="no selected optimizer has a parameter 'momentum'"):
        cells_of(catalog, models="mlp", optimizers="adam", sets=("optimizer.momentum=0.5,0.8",))


def test_a_grid_files_space_crosses_parameters_batch_sizes_and_epochs(catalog, tmp_path):
    grid = tmp_path / "space.toml"
    grid.write_text('[grid]\nmodels = ["mlp"]\noptimizers = ["adam"]\n'
                    '[space]\n"optimizer.learning_rate" = [1e-3, 1e-2]\n'
                    'batch_size = [32, 64]\nepochs = [1, 2]\n')
    cells = cells_of(catalog, grid_file=str(grid))
    assert sorted((c.params.get("optimizers", {}).get("learning_rate", 0.01), c.batch_size, c.epochs)
                  for c in cells) == sorted((lr, b, e) for lr in (1e-3, 1e-2) for b in (32, 64) for e in (1, 2))
    assert len({c.key for c in cells}) == len({c.slug for c in cells}) == 8
    # an option names one value: it replaces the file's axis; a --set replaces its axis too
    cells = cells_of(catalog, grid_file=str(grid), epochs=3, sets=(f"{LR}=0.2",))
    assert {(c.epochs, c.params["optimizers"]["learning_rate"]) for c in cells} == {(3, 0.2)}
    assert len(cells) == 2


def test_a_range_enumerates_only_with_steps(catalog, tmp_path):
    grid = tmp_path / "range.toml"
    grid.write_text('[space]\n"optimizer.learning_rate" = { low = 1e-4, high = 1e-1, log = true }\n')
    with pytest.raises(ZooError, match="needs|steps = N") as info:
        cells_of(catalog, grid_file=str(grid), models="mlp", optimizers="adam")
    assert "\n" not in str(info.value) and "log-spaced" in str(info.value)
    grid.write_text('[space]\n"optimizer.learning_rate" = { low = 1e-4, high = 1e-1, log = true, steps = 4 }\n'
                    'batch_size = { low = 16, high = 64, step = 16 }\n')
    cells = cells_of(catalog, grid_file=str(grid), models="mlp", optimizers="adam")
    # 1e-2, adam's default, is left out of the parameters (the key of a sweep without it)
    rates = sorted({c.params.get("optimizers", {}).get("learning_rate", 0.01) for c in cells})
    assert rates == [1e-4, 1e-3, 1e-2, 1e-1]  # log-spaced, and exact: no 0.0010000000000000002
    assert sorted({c.batch_size for c in cells}) == [16, 32, 48, 64]


def test_the_parsed_space_is_what_a_sampler_needs(tmp_path):
    from zoo.bench.grid import load_grid_file
    from zoo.bench.space import Choice, Range

    grid = tmp_path / "s.toml"
    grid.write_text('[space]\n"optimizer.learning_rate" = { low = 1e-4, high = 0.1, log = true }\n'
                    'batch_size = { low = 16, high = 256 }\n"optimizer.beta1" = [0.8, 0.9]\n')
    space = load_grid_file(grid)["space"]
    assert space == {LR: Range(low=1e-4, high=0.1, log=True),
                     "batch_size": Range(low=16, high=256, integer=True),
                     "optimizer.beta1": Choice((0.8, 0.9))}


@pytest.mark.integration
@pytest.mark.parametrize("table, needle", [
    ('"optimizer.learning_rate" = { low = 0.1, high = 0.01, steps = 2 }', "low must be below high"),
    ('"optimizer.learning_rate" = { low = 0, high = 0.1, log = true, steps = 2 }', "log range needs low > 0"),
    ('"optimizer.learning_rate" = { low = 0.1, high = 1, steps = 0 }', "steps must be a whole number"),
    ('"optimizer.learning_rate" = { low = 0.1, high = 1, sigma = 2 }', "unknown range key 'sigma'"),
    ('"optimizer.learning_rate" = []', "empty list"),
    ('"optimizer.learning_rate" = 0.1', "must be a list of values or a range"),
    ('"optimizer.learning_rate" = ["fast", 0.1]', "parameter 'learning_rate' must be float"),
    ('batch_size = [0, 32]', "batch_size must be in"),
    ('epochs = { low = 1.5, high = 3, steps = 2 }', "epochs takes whole numbers"),
    ('"net.width" = [1, 2]', "'net.width' is no axis"),
])
def test_bad_spaces_are_one_line_errors_before_anything_runs(tmp_path, table, needle, bench,
                                                             assert_one_line_error):
    grid = tmp_path / "bad.toml"
    grid.write_text(f'[grid]\nmodels = ["mlp"]\noptimizers = ["adam"]\n[space]\n{table}\n')
    out = tmp_path / "b"
    proc = bench(out, "--grid", str(grid), "--dry-run")
    assert_one_line_error(proc, needle)
    assert proc.returncode == 2 and not out.exists()


@pytest.mark.integration
def test_a_wrong_value_in_a_set_list_is_a_one_line_error_naming_the_parameter(tmp_path, bench,
                                                                              assert_one_line_error):
    proc = bench(tmp_path / "b", "--models", "mlp", "--optimizers", "adam",
                 "--set", f"{LR}=1e-3,fast", "--dry-run")
    assert_one_line_error(proc, f"--set {LR}", "'learning_rate' must be float", "'fast'")
    assert proc.returncode == 2


def test_folder_names_stay_unique_safe_and_short(catalog):
    from zoo.bench.grid import MAX_SLUG

    values = [1e-3, 1.00001e-3, 1.00002e-3, 0.1]  # alike in 4 digits: written in full
    cells = cells_of(catalog, models="mlp", optimizers="adam", sets=(f"{LR}={json.dumps(values)}",))
    slugs = [c.slug for c in cells]
    assert len(set(slugs)) == 4 and all("-lr" in s for s in slugs)
    assert "-lr0.1-" in slugs[3]
    many = tuple(f"optimizer.{p}=[0.1, 0.2]" for p in ("beta1", "beta2", "epsilon", "learning_rate"))
    cells = cells_of(catalog, models="mlp", optimizers="adam", sets=many)
    assert len({c.slug for c in cells}) == 16
    # names past the limit are cut, and the whole key keeps them apart
    words = "model.activation=" + ",".join(f"a/very long name {n} for an activation" for n in "ab")
    cells = cells_of(catalog, models="mlp", optimizers="adam",
                     sets=(*many, words, "model.hidden1=32,64", "model.hidden2=8,16"))
    assert len({c.slug for c in cells}) == len(cells) == 128
    assert all(len(c.slug) <= MAX_SLUG and c.slug.endswith(c.key) for c in cells)
    assert all(re.fullmatch(r"[A-Za-z0-9._+-]+", c.slug) for c in cells)


@pytest.mark.integration
def test_a_tiny_sweep_shows_the_varied_parameter_in_every_table(tmp_path, bench, tiny_mlp, zoo):
    out = tmp_path / "b"
    proc = bench(out, "--models", "mlp", "--optimizers", "adam", *tiny_mlp,
                 "--set", f"{LR}=0.001,0.003", "--format", "csv")
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert [(r["optimizer"], float(r[LR]), r["status"]) for r in rows] == [
        ("adam", 0.001, "ok"), ("adam", 0.003, "ok")]
    assert rows[0]["val_acc"] != rows[1]["val_acc"]  # two runs, not one shown twice
    again = zoo("results", str(out), "--format", "csv")
    assert list(csv.DictReader(io.StringIO(again.stdout))) == rows
    data = json.loads(zoo("results", str(out), "--format", "json").stdout)
    assert [d[LR] for d in data] == [0.001, 0.003]
    table = zoo("results", str(out)).stdout.splitlines()
    assert LR in table[0] and "0.001" in table[2] and "0.003" in table[3]
    best = json.loads(zoo("results", str(out), "--best", "--format", "json").stdout)
    assert best[0][LR] in (0.001, 0.003)
    board = zoo("results", str(out), "--leaderboard").stdout.splitlines()
    column = board[0].split().index(LR)  # a setting, printed as given (not as 0.0010)
    assert sorted(line.split()[column] for line in board[2:]) == ["0.001", "0.003"]
    report = zoo("report", str(out), "--out", str(tmp_path / "r.html"), timeout=300)
    assert report.returncode == 0, report.stderr
    html = (tmp_path / "r.html").read_text()
    results = html[html.index('id="results-table"'):]
    results = results[:results.index("</table>")]
    assert f'data-type="number">{LR}</th>' in results
    assert '<td class="num">0.001</td>' in results and '<td class="num">0.003</td>' in results


def test_a_changed_grid_says_what_changed_for_each_value_of_an_axis(catalog):
    from dataclasses import replace

    from zoo.bench.changes import describe_changes

    def sweep(epochs):
        cells = cells_of(catalog, models="mlp", optimizers="adam", epochs=epochs,
                         sets=(f"{LR}=0.001,0.003,0.1",))
        return [replace(c, identity=_identity(catalog, c)) for c in cells]

    old = [{**c.to_dict(), "slug": c.slug, "identity": json.dumps(c.identity)} for c in sweep(1)]
    lines = describe_changes(old, sweep(2))
    # each row is told apart from its own cell, not from another value of the axis
    assert lines == [f"{row['slug']}: epochs 1 -> 2" for row in old]


def test_a_list_parameter_takes_a_list_as_one_value_and_words_make_an_axis(catalog):
    one = cells_of(catalog, models="mlp", optimizers="adam", schedules="piecewise",
                   sets=("schedule.milestones=[0.3, 0.6]",))
    assert [c.params["schedules"] for c in one] == [{"milestones": [0.3, 0.6]}]
    two = cells_of(catalog, models="mlp", optimizers="adam", schedules="piecewise",
                   sets=("schedule.milestones=[[0.3, 0.6], [0.5, 0.75]]",))
    assert [c.params.get("schedules") for c in two] == [{"milestones": [0.3, 0.6]}, None]  # 2nd: default
    words = cells_of(catalog, models="mlp", optimizers="adam", sets=("model.activation=relu,tanh",))
    assert [c.params.get("models", {}).get("activation") for c in words] == [None, "tanh"]
    assert [c.slug.split("-")[-3] for c in words] == ["activation_relu", "activation_tanh"]
    signs = cells_of(catalog, models="mlp", optimizers="adam", sets=("optimizer.beta1=-0.5,0.5",))
    assert "-beta1_-0.5-s0-" in signs[0].slug and "-beta1_0.5-s0-" in signs[1].slug
