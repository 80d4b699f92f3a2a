"""The runner's default executor is the catalogue's ``local`` entry, found like any other,
never a class the runner imports: a plugin that provides ``local`` is the one that runs."""

from __future__ import annotations

import pytest

from zoo.bench.runner import SweepOptions, run_sweep
from zoo.plugin import load_catalog

pytestmark = pytest.mark.integration  # run_sweep asks git for the revision it records

OTHER_LOCAL = """
import zoo

CALLS = []


class Recording(zoo.Executor):
    name = "local"

    def __init__(self, jobs):
        CALLS.append(("built", jobs))

    def open(self, out, planned=(), warm=True):
        CALLS.append(("open", len(planned)))

    def close(self):
        CALLS.append(("close",))


def build_local(*, jobs: int = 3):
    return Recording(jobs)


@zoo.hookimpl
def zoo_register_executors(register):
    register("local", build_local, description="records what the runner asks")
"""


class Silent:
    def sweep_start(self, total, done): ...
    def cell_start(self, index, cell, resuming, where=""): ...
    def cell_progress(self, progress, cell=None): ...
    def cell_end(self, cell, row): ...
    def close(self): ...


def test_without_an_executor_the_runner_builds_the_catalogues_local(plugin_kit, tmp_path):
    plugin_kit.add("zoo_test_other_local", OTHER_LOCAL)
    plugin_kit.write_registry(disabled=["zoo.plugins.executors"])
    catalog = load_catalog()
    run_sweep(catalog, [], SweepOptions(out=tmp_path / "sweep"), Silent())
    import zoo_test_other_local

    # Its declared default (3) in force, opened with nothing planned, closed.
    assert zoo_test_other_local.CALLS == [("built", 3), ("open", 0), ("close",)]


def test_a_catalogue_without_local_is_a_one_line_error(plugin_kit, tmp_path):
    plugin_kit.write_registry(disabled=["zoo.plugins.executors"])
    from zoo.errors import RegistryError

    with pytest.raises(RegistryError, match="local"):
        run_sweep(load_catalog(), [], SweepOptions(out=tmp_path / "sweep"), Silent())
    assert not (tmp_path / "sweep").exists()  # built before anything is locked or written
