"""The suite's rules, for every folder: the pure suite starts no process.  Shared helpers
live in tests/fixtures/ and reach the tests as fixtures (registered here); a folder's own
helpers are fixtures in its conftest.py."""

from __future__ import annotations

import contextlib
import os
import subprocess

import pytest

pytest_plugins = ["tests.fixtures.zoo_kit", "tests.fixtures.bench_kit", "tests.fixtures.deploy_kit",
                  "tests.fixtures.report_kit", "tests.fixtures.vision_data",
                  "tests.fixtures.profile_example", "tests.fixtures.pruning_kit"]


class StartsAProcess(RuntimeError):
    """Raised when a test without the ``integration`` marker starts a process."""


@contextlib.contextmanager
def _no_processes(nodeid: str):
    import _posixsubprocess

    def refuse(*args, **kwargs):
        raise StartsAProcess(f"{nodeid} starts a process (or a fixture of it does): mark it "
                             f"@pytest.mark.integration (or its module: pytestmark)")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(subprocess, "_fork_exec", refuse, raising=False)
        patch.setattr(_posixsubprocess, "fork_exec", refuse)
        for name in ("fork", "forkpty", "posix_spawn", "posix_spawnp", "system"):
            if hasattr(os, name):
                patch.setattr(os, name, refuse)
        yield


def _pure(item) -> bool:
    return item is not None and item.get_closest_marker("integration") is None


# ``pytest -m "not integration"`` is the pure suite: no test in it may start a process
# (subprocess, fork, multiprocessing, posix_spawn, os.system), in its body or in any fixture
# it is the first to need, whatever that fixture's scope. A test that does without the
# marker fails in every run, so the marker cannot silently go stale.
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    if not _pure(item):
        yield
        return
    with _no_processes(item.nodeid):
        yield


@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(fixturedef, request):
    item = getattr(request, "_pyfuncitem", None)  # the test the fixture is set up for
    if not _pure(item):
        yield
        return
    with _no_processes(item.nodeid):
        yield
