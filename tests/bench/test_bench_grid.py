"""zoo bench, before anything trains: grid expansion, merging, and refusing bad grids."""

from __future__ import annotations

import pytest

from zoo.bench.grid import expand
from zoo.errors import ZooError

@pytest.fixture
def catalog(monkeypatch):
    from zoo.plugin import load_catalog

    monkeypatch.delenv("ZOO_REGISTRY", raising=False)
    return load_catalog()


def settings(catalog, **given):
    """The spec `zoo bench` builds from its options (registry.toml < --grid FILE < options)."""
    from zoo import kinds
    from zoo.bench.sweep import build_spec

    selections = {kind.axis: given.pop(kind.axis, None) for kind in kinds.swept()}
    return build_spec(catalog, grid_file=given.pop("grid", None), selections=selections, **given)


def combos(cells):
    return [(c.model, c.optimizer, c.schedule, c.regularizer, c.launch, c.nprocs, c.device, c.seed)
            for c in cells]


def test_default_grid_comes_from_registry_toml(catalog):
    cells = expand(catalog, settings(catalog))
    grid = catalog.config.grid
    assert [(c.model, c.optimizer) for c in cells] == [
        (m, o) for m in grid["models"] for o in grid["optimizers"]]
    assert {(c.schedule, c.regularizer, c.launch, c.device, c.epochs, c.batch_size, c.seed)
            for c in cells} == {("constant", "none", "single", "cpu", grid["epochs"],
                                 grid["batch_size"], grid["seed"])}
    assert len({c.key for c in cells}) == len(cells)


def test_comma_lists_and_globs_keep_order_and_drop_duplicates(catalog):
    cells = expand(catalog, settings(catalog, models="cnn, mlp", optimizers="sgd,ada*,adam",
                                     launchers="single,spawn", nprocs=2, devices="cpu,CPU"))
    # models outermost in the order given; a glob expands in natural order; 'adam' again
    # (matched by the glob already) is not repeated; a duplicate device counts once
    optimizers = ["sgd", "adagrad", "adam", "adamw"]
    assert combos(cells) == [(m, o, "constant", "none", launch, n, "cpu", 0)
                             for m in ("cnn", "mlp") for o in optimizers
                             for launch, n in (("single", 1), ("spawn", 2))]


def test_repeat_gives_consecutive_seeds_of_the_same_cell(catalog):
    cells = expand(catalog, settings(catalog, models="mlp", optimizers="sgd", seed=5, repeat=3))
    assert [c.seed for c in cells] == [5, 6, 7]
    assert len({c.key for c in cells}) == 1  # the key is everything but the seed
    assert len({c.slug for c in cells}) == 3


def test_grid_file_merges_between_registry_and_options(catalog, tmp_path):
    grid = tmp_path / "course.toml"
    grid.write_text('[grid]\nmodels = ["cnn"]\noptimizers = ["momentum", "adam"]\nepochs = 3\n'
                    'repeat = 2\nset = ["model.channels=4"]\n')
    cells = expand(catalog, settings(catalog, grid=str(grid), optimizers="adam",
                                     sets=("optimizer.learning_rate=0.001",)))
    assert combos(cells) == [("cnn", "adam", "constant", "none", "single", 1, "cpu", s) for s in (0, 1)]
    assert {c.epochs for c in cells} == {3}  # from the file
    assert {c.batch_size for c in cells} == {catalog.config.grid["batch_size"]}  # registry.toml
    assert cells[0].params == {"models": {"channels": 4}, "optimizers": {"learning_rate": 0.001}}
    assert expand(catalog, settings(catalog, grid=str(grid)))[0].key != cells[0].key


def test_unknown_names_and_parameters_are_refused_in_process(catalog):
    for given, needle in [({"models": "nosuchnet"}, "nosuchnet"),
                          ({"optimizers": "zz*"}, "zz*"),
                          ({"models": "mlp", "sets": ("model.nosuch=1",)}, "nosuch")]:
        with pytest.raises(ZooError) as info:
            expand(catalog, settings(catalog, **given))
        assert needle in str(info.value)


@pytest.mark.integration
@pytest.mark.parametrize("args, needles", [
    (("--models", "nosuchnet"), ("nosuchnet",)),
    (("--optimizers", "zz*"), ("zz*",)),
    (("--models", "mlp", "--set", "model.channels=4"), ("channels",)),
    (("--models", "mlp", "--optimizers", "adamw", "--regularizers", "l2"), ("adamw", "l2")),
    (("--models", "mlp", "--devices", "cpu,gpux"), ("gpux",)),
    (("--launch", "single,launch", "--grid", "nonexistent.toml"), ("nonexistent.toml",)),
])
def test_bad_grids_fail_in_one_line_before_training(tmp_path, args, needles, bench, assert_one_line_error):
    out = tmp_path / "b"
    proc = bench(out, *args)
    assert_one_line_error(proc, *needles)
    assert proc.returncode == 2
    assert not (out / "results.db").exists() and not (out / "cells").exists()


@pytest.mark.integration
def test_a_model_whose_factory_always_raises_is_refused_before_training(tmp_path, monkeypatch, faulty_kit,
                                                                        bench, tiny_mlp,
                                                                        assert_one_line_error):
    kit = faulty_kit(tmp_path, monkeypatch)
    out = tmp_path / "b"
    proc = bench(out, "--models", "mlp,broken_factory", *tiny_mlp, env=kit.env())
    assert_one_line_error(proc, "broken_factory", "exploded")
    assert not (out / "results.db").exists()


@pytest.mark.integration
def test_dry_run_lists_the_cells_and_trains_nothing(tmp_path, bench):
    out = tmp_path / "b"
    proc = bench(out, "--models", "mlp,cnn", "--optimizers", "ada*", "--repeat", "2", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[-1] == "12 cells"
    slugs = lines[:-1]
    assert len(slugs) == len(set(slugs)) == 12
    assert slugs[0].startswith("mnist-mlp-adagrad-constant-none-single1-cpu-s0-")
    assert slugs[1].startswith("mnist-mlp-adagrad-constant-none-single1-cpu-s1-")
    assert slugs[-1].startswith("mnist-cnn-adamw-constant-none-single1-cpu-s1-")
    assert not out.exists()


def test_a_set_applies_to_the_entries_that_have_the_parameter(catalog):
    base = expand(catalog, settings(catalog, models="mlp", optimizers="sgd,momentum",
                                    regularizers="none,l2"))
    cells = expand(catalog, settings(catalog, models="mlp", optimizers="sgd,momentum",
                                     regularizers="none,l2",
                                     sets=("optimizer.momentum=0.8", "regularizer.coeff=0.0001")))
    params = {(c.optimizer, c.regularizer): c.params for c in cells}
    assert params[("sgd", "none")] == {}
    assert params[("momentum", "none")] == {"optimizers": {"momentum": 0.8}}
    assert params[("sgd", "l2")] == {"regularizers": {"coeff": 0.0001}}
    assert params[("momentum", "l2")] == {"optimizers": {"momentum": 0.8},
                                          "regularizers": {"coeff": 0.0001}}
    # a cell the --set does not touch keeps its key, so its stored result stays valid
    same = {c.slug: c.key for c in base}
    assert [c.key == same.get(c.slug) for c in cells] == [not c.params for c in cells]
    with pytest.raises(ZooError, match="no selected optimizer has a parameter 'momentum'"):
        expand(catalog, settings(catalog, models="mlp", optimizers="sgd,adam",
                                 sets=("optimizer.momentum=0.8",)))
    with pytest.raises(ZooError, match="'momentum' must be float"):
        expand(catalog, settings(catalog, models="mlp", optimizers="sgd,momentum",
                                 sets=('optimizer.momentum="fast"',)))


# The key of a cell is the head of sha256 over its flat fields (each entry under its kind's
# field, as the store's columns), sorted, without the seed, without threads when it is
# Paddle's default of 1 and without limit_train when there is no limit.  Stored results are found by it: it must never drift.  The hex
# values were computed by the code before Cell became a hand-written class.
KEYED_CELLS = [
    ({}, "534946e5a021"),
    ({"seed": 7}, "534946e5a021"),  # the seed is a repeat of the same cell
    ({"threads": 4}, "4ae1afbcdc7b"),
    ({"limit_train": 500}, "f603a12a3879"),  # as --limit-train keyed it when it came
    ({"model": "cnn", "launch": "spawn", "nprocs": 2, "target_acc": 0.9,
      "params": {"optimizers": {"learning_rate": 0.001}},
      "identity": {"params": {"optimizers": {"learning_rate": 0.001}}, "data": "a" * 64,
                   "code": {"zoo": "0.2.0"}}}, "88975ae2cb75"),
]


@pytest.mark.parametrize("changes, pinned", KEYED_CELLS)
def test_a_cells_key_is_the_hash_of_its_flat_fields_as_it_always_was(changes, pinned):
    import hashlib
    import json

    from zoo.bench.grid import Cell

    flat = {"dataset": "mnist", "model": "mlp", "optimizer": "sgd", "schedule": "constant",
            "regularizer": "none", "launch": "single", "nprocs": 1, "device": "cpu", "epochs": 1,
            "batch_size": 100, "seed": 0, "params": {}, "target_acc": None, "identity": {},
            "threads": 1, "limit_train": None, **changes}
    cell = Cell(entries={kind: flat[field] for kind, field in (
        ("datasets", "dataset"), ("models", "model"), ("optimizers", "optimizer"),
        ("schedules", "schedule"), ("regularizers", "regularizer"), ("launchers", "launch"))},
        **{k: v for k, v in flat.items() if k not in (
            "dataset", "model", "optimizer", "schedule", "regularizer", "launch")})
    hashed = {k: v for k, v in flat.items() if k != "seed" and not (k == "threads" and v == 1)
              and not (k == "limit_train" and v is None)}
    assert cell.key == hashlib.sha256(json.dumps(hashed, sort_keys=True).encode()).hexdigest()[:12]
    assert cell.key == pinned
    assert cell.to_dict() == flat


def test_a_cell_holds_one_entry_per_swept_kind_in_the_tables_order():
    from zoo import kinds
    from zoo.bench.grid import Cell

    names = {"launchers": "single", "regularizers": "none", "schedules": "constant",
             "optimizers": "sgd", "models": "mlp", "datasets": "mnist"}
    cell = Cell(entries=names, nprocs=1)
    assert list(cell.entries) == [kind.name for kind in kinds.swept()]
    assert (cell.launch, cell.model) == ("single", "mlp")
    with pytest.raises(TypeError, match="needs an entry of kind launchers"):
        Cell(entries={k: v for k, v in names.items() if k != "launchers"}, nprocs=1)
    with pytest.raises(TypeError, match="holds no entries of kind backends"):
        Cell(entries={**names, "backends": "dygraph"}, nprocs=1)
