"""A sweep as the user asked for it, and running it.

``build_spec`` merges registry.toml's ``[grid]`` < a grid file < the options into one
frozen ``SweepSpec``; ``plan`` builds its executor and expands it into cells; ``run``
preflights, gives the cells their identities and runs them.  The CLI only parses options,
calls these and prints; tests and benchmarks call the same functions.  Nothing here
prints: notes go to the ``note`` callback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo import kinds
from zoo.bench.budget import Budget
from zoo.bench.data_dirs import DataDirs, resolve_data_dirs
from zoo.bench.grid import Cell, expand, load_grid_file, split_list, with_identities
from zoo.bench.preflight import DEFAULT_STEP_TIMEOUT, DataInfo, check_data, preflight
from zoo.bench.pruning import Pruning, build_pruning
from zoo.bench.search import AdaptiveSearch, build_searcher, parameter_names, prototypes, sampled_cells, \
    search_space
from zoo.bench.space import Axis
from zoo.bench.targets import with_targets
from zoo.errors import ConfigError, RegistryError
from zoo.exec.executor import DEFAULT_EXECUTOR
from zoo.layout import SweepDir
from zoo.status import Status

if TYPE_CHECKING:
    from zoo.bench.runner import SweepReporter, SweepSummary
    from zoo.exec.executor import Executor
    from zoo.plugin.facade import Catalog

# The numbers every cell of a sweep shares, as the options, grid files and [grid] name them.
SHARED = ("nprocs", "epochs", "batch_size", "seed", "repeat", "target_acc", "limit_train")
# Options the built-in executors take, by the executor parameter they set.
EXECUTOR_OPTIONS = {"jobs": "--jobs", "threads": "--threads", "address": "--ray-address"}


@dataclass(frozen=True)
class SweepSpec:
    """What the user asked for: the selections and numbers a grid expands, the parameter
    sets, where the cells run, and where results go.  Built by ``build_spec``."""

    selections: Mapping[str, tuple[str, ...]]  # names or globs by swept kind's axis ("models")
    devices: tuple[str, ...]
    nprocs: int
    epochs: int
    batch_size: int
    seed: int
    repeat: int = 1
    target_acc: float | None = None
    limit_train: int | None = None
    sets: tuple[str, ...] = ()  # KIND.PARAM=VALUE or =V1,V2 (no executor.*: no axis)
    # A grid file's [space]: axis name ("optimizer.learning_rate", "epochs") -> Choice or
    # Range (zoo.bench.space); a --set of the same name, or --epochs, replaces its axis.
    space: Mapping[str, Axis] = field(default_factory=dict)
    executor: str = DEFAULT_EXECUTOR
    executor_params: Mapping[str, Any] = field(default_factory=dict)
    data_dirs: DataDirs = field(default_factory=DataDirs)
    out: Path = Path("runs/bench")
    registry_file: str | None = None
    cell_timeout: float | None = None
    checkpoint_every: int = 0
    force: bool = False
    retry: frozenset[Status] = frozenset()
    warm_start: bool = True
    preflight_timeout: float = DEFAULT_STEP_TIMEOUT
    prune: str = "none"  # the pruner's name (--prune); its --set pruner.P=V are pruner_sets
    pruner_sets: tuple[str, ...] = ()
    budget: Budget | None = None  # --budget-epochs / --budget-time
    # Each workload's target from another sweep (zoo.bench.targets); excludes target_acc.
    target_from: str | None = None
    search: str = "grid"  # the searcher's name (--search); its --set searcher.P=V are searcher_sets
    searcher_sets: tuple[str, ...] = ()
    trials: int | None = None  # --trials: distinct cells a sampling searcher runs


def build_spec(catalog: Catalog, *, grid_file: str | None = None,
               selections: Mapping[str, str | None] | None = None, devices: str | None = None,
               sets: Iterable[str] = (), data_dirs: Iterable[str] = (), executor: str = DEFAULT_EXECUTOR,
               executor_options: Mapping[str, Any] | None = None, out: str | Path = "runs/bench",
               registry_file: str | None = None, cell_timeout: float | None = None,
               checkpoint_every: int = 0, force: bool = False, retry: Iterable[str] = (),
               cold_start: bool = False, preflight_timeout: float = DEFAULT_STEP_TIMEOUT,
               prune: str = "none", budget_epochs: int | None = None, budget_time: str | None = None,
               target_from: str | None = None, search: str | None = None, trials: int | None = None,
               **shared: Any) -> SweepSpec:
    """registry.toml's [grid] < ``grid_file`` < the options (None: not given).

    ``selections`` are comma lists by axis ("models": "cnn,mlp"); ``shared`` the numbers
    of SHARED; ``executor_options`` --jobs/--threads/--ray-address by parameter."""
    unknown = sorted(set(shared) - set(SHARED))
    if unknown:
        raise TypeError(f"build_spec() got unknown options: {', '.join(unknown)}")
    grid: dict[str, Any] = {**catalog.config.grid, "repeat": 1, "set": [], "target_acc": None,
                            "limit_train": None}
    if grid_file:
        grid.update(load_grid_file(Path(grid_file)))
    for axis, value in [*(selections or {}).items(), ("devices", devices)]:
        names = split_list(value)
        if names is not None:
            grid[axis] = names
    given = {key: value for key, value in shared.items() if value is not None}
    grid.update(given)
    space = {name: axis for name, axis in grid.get("space", {}).items() if name not in given}
    all_sets = [*grid.get("set", []), *sets]
    mine = [item for item in all_sets if item.strip().startswith("executor.")]
    # Neither the executor, the pruner nor the searcher is an axis: their --set never
    # reaches a cell.
    pruner_sets = [item for item in all_sets if item.strip().startswith("pruner.")]
    searcher_sets = [item for item in all_sets if item.strip().startswith("searcher.")]
    resolved_dirs = resolve_data_dirs(catalog, data_dirs, grid.get("data_dirs"), f"--grid {grid_file}")
    return SweepSpec(
        selections={axis: tuple(grid[axis]) for axis in _axes()},
        devices=tuple(grid["devices"]), **{key: grid[key] for key in SHARED},
        sets=tuple(item for item in all_sets
                   if item not in mine and item not in pruner_sets and item not in searcher_sets),
        space=space, prune=prune, pruner_sets=tuple(pruner_sets),
        search=search or grid.get("search", "grid"), searcher_sets=tuple(searcher_sets),
        trials=trials if trials is not None else grid.get("trials"),
        budget=Budget.of_options(budget_epochs, budget_time), target_from=target_from,
        executor=executor,
        executor_params=_executor_params(catalog, executor, mine, executor_options or {}),
        data_dirs=resolved_dirs, out=Path(out).absolute(),
        # Cells run in their own folders: a relative path would point somewhere else there.
        registry_file=str(Path(registry_file).absolute()) if registry_file else None,
        cell_timeout=cell_timeout, checkpoint_every=checkpoint_every, force=force,
        retry=frozenset(Status(s) for s in retry), warm_start=not cold_start,
        preflight_timeout=preflight_timeout)


def _executor_params(catalog: Catalog, name: str, sets: list[str],
                     options: Mapping[str, Any]) -> dict[str, Any]:
    """--set executor.P=V < the named options, each checked against the executor."""
    from zoo.job import parse_sets

    if name not in catalog.registry.names("executors"):
        known = ", ".join(catalog.registry.names("executors")) or \
            'none (add "zoo.plugins.executors" to [plugins] builtin in registry.toml)'
        raise ConfigError(f"--executor {name}: unknown executor (known: {known})")
    params = parse_sets(sets).get("executors", {})
    declared = catalog.params("executors", name)
    for param, value in options.items():
        if value is None:
            continue
        if param not in declared:
            raise ConfigError(f"{EXECUTOR_OPTIONS.get(param, param)}: executor '{name}' takes no "
                              f"{param} (its parameters: {', '.join(declared) or 'none'})")
        params[param] = value
    return params


def open_executor(catalog: Catalog, spec: SweepSpec) -> Executor:
    """The spec's executor, built and checked (a cluster it cannot reach fails here)."""
    try:
        executor = catalog.build("executors", spec.executor, dict(spec.executor_params))
    except RegistryError as exc:
        raise ConfigError(str(exc)) from None
    executor.check()
    return executor


@dataclass(frozen=True)
class Plan:
    """A spec's executor and cells (identities come with ``run``'s preflight)."""

    spec: SweepSpec
    executor: Executor
    cells: list[Cell]  # an adaptive search's come while it runs (``search``)
    pruning: Pruning  # the spec's pruner, checked before anything runs
    search: AdaptiveSearch | None = None  # --search optuna: asked as cells can start

    @property
    def prototypes(self) -> list[Cell]:
        """What an adaptive search's cells build, before any is asked (the preflight's)."""
        return self.search.prototypes if self.search is not None else []

    @property
    def axes(self) -> list[str]:
        """The varied axes' names ("optimizer.learning_rate", "epochs") in the grid's order:
        the columns tables add for this sweep."""
        if self.search is not None:
            return parameter_names(self.search.space)
        return list(dict.fromkeys(name for cell in self.cells for name, _ in cell.axes))


def plan(catalog: Catalog, spec: SweepSpec) -> Plan:
    searcher = build_searcher(catalog, spec.search, list(spec.searcher_sets))
    _check_search(spec, searcher)
    pruning = build_pruning(catalog, spec.prune, list(spec.pruner_sets))
    executor = open_executor(catalog, spec)
    # The executor decides the threads per process, and they change a cell's numbers.
    threaded = (lambda cells: [replace(c, threads=executor.threads) for c in cells])
    if not searcher.samples:
        return Plan(spec, executor, threaded(expand(catalog, spec)), pruning)
    space = search_space(catalog, spec)
    if not space:
        raise ConfigError(f"--search {spec.search}: the space holds one cell (one entry of each kind, "
                          "no --set list or [space] axis); run it as a grid")
    assert spec.trials is not None
    if not searcher.adaptive:
        return Plan(spec, executor, threaded(sampled_cells(catalog, spec, searcher, space, spec.trials)),
                    pruning)
    search = AdaptiveSearch(catalog, spec, searcher, space, spec.trials, executor.threads,
                            threaded(prototypes(catalog, spec)))
    return Plan(spec, executor, [], pruning, search)


def _check_search(spec: SweepSpec, searcher) -> None:
    name = spec.search
    if not searcher.samples and spec.trials is not None:
        raise ConfigError(f"--trials: --search {name} runs every cell of the grid; give "
                          "--search random or optuna to run N of them")
    if searcher.samples and spec.trials is None:
        raise ConfigError(f"--search {name} needs --trials N (how many cells to run)")
    if spec.trials is not None and spec.trials < 1:
        raise ConfigError(f"--trials must be at least 1, got {spec.trials}")
    if searcher.adaptive and (len(spec.devices) > 1 or spec.repeat > 1):
        raise ConfigError(f"--search {name} tells one result per trial: give one device and "
                          "--repeat 1")
    if searcher.adaptive and spec.target_from:
        raise ConfigError(f"--target-from: not with --search {name} (its cells are not "
                          "known before they run); give --target-acc")


def dry_run(catalog: Catalog, sweep: Plan) -> list[str]:
    """Where each dataset's data would come from (downloading nothing)."""
    return check_data(catalog, sweep.cells or sweep.prototypes, sweep.spec.data_dirs,
                      sweep.spec.preflight_timeout)


@dataclass(frozen=True)
class SweepResult:
    summary: SweepSummary
    axes: list[str]  # the varied axes: columns of its tables
    rows: list[dict[str, Any]]  # the store's rows of exactly this sweep's cells
    data: list[DataInfo]  # each dataset as the preflight resolved it


def run(catalog: Catalog, sweep: Plan, reporter: SweepReporter,
        note: Callable[[str], None] = lambda line: None) -> SweepResult:
    """Preflight, identities, then every cell without a result; ``note`` hears of stored
    results this grid leaves apart and of its new cells."""
    from zoo.bench.runner import SweepOptions, run_sweep
    from zoo.bench.store import Store
    from zoo.paths import make_dir

    spec = sweep.spec
    out = make_dir(spec.out, "--out")
    checked = preflight(catalog, sweep.cells or sweep.prototypes, spec.data_dirs, spec.preflight_timeout)
    cells = with_identities(catalog, sweep.cells,
                            {key: info.fingerprint for key, info in checked.data.items()})
    cells, shown = with_targets(cells, spec.target_from, spec.target_acc)
    for line in shown:
        note(line)
    if (SweepDir(out).results_db).exists() and sweep.search is None:
        _note_changes(out, cells, note)
    options = SweepOptions(out=out, data_dir=spec.data_dirs.default,
                           data_dirs=dict(spec.data_dirs.named), registry_file=spec.registry_file,
                           cell_timeout=spec.cell_timeout, force=spec.force,
                           checkpoint_every=spec.checkpoint_every, warm_start=spec.warm_start,
                           retry=spec.retry, preflight=checked, axes=tuple(sweep.axes),
                           pruning=sweep.pruning, budget=spec.budget, search=sweep.search)
    summary = run_sweep(catalog, cells, options, reporter, sweep.executor)
    distinct = len({c.key for c in (sweep.search.cells if sweep.search else cells)})
    if spec.trials is not None and distinct < spec.trials and not summary.interrupted and not summary.budget:
        note(f"note: the space holds {distinct} distinct cells: --trials {spec.trials} ran them all")
    store = Store(SweepDir(out).results_db, readonly=True)
    try:
        keys = {(c.key, c.seed) for c in [*cells, *(sweep.search.cells if sweep.search else [])]}
        rows = [r for r in store.rows() if (r["cell"], r["seed"]) in keys]
    finally:
        store.close()
    return SweepResult(summary, sweep.axes, rows, list(checked.data.values()))


def _note_changes(out: Path, cells: list[Cell], note: Callable[[str], None]) -> None:
    from zoo.bench.changes import describe_changes, grid_changes

    new, stale = grid_changes(SweepDir(out).results_db, cells)
    if stale:
        note(f"note: {len(stale)} stored results in {out} do not match this grid; "
             f"they are kept apart, not mixed in:")
        for line in describe_changes(stale, cells):
            note(f"  {line}")
    if new and len(new) < len(cells):
        note(f"note: {len(new)} new cells in this grid: "
             f"{', '.join(c.slug for c in new[:10])}{' ...' if len(new) > 10 else ''}")


def _axes() -> list[str]:
    return [kind.axis for kind in kinds.swept() if kind.axis]
