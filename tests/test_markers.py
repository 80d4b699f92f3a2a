"""The ``integration`` marker is enforced: the pure suite (``-m "not integration"``) cannot
start a process, neither in a test's body nor in a fixture of any scope it needs first."""

from __future__ import annotations

import pytest


pytest_plugins = ["pytester"]
# The suites below run in this process and their integration tests start `true`: this
# module's own guard must stand aside for theirs to be the one that answers.
pytestmark = pytest.mark.integration

STARTS = """
import subprocess
import pytest

@pytest.fixture(scope="module")
def server():
    return subprocess.run(["true"]).returncode

{mark}
def test_body():
    assert subprocess.run(["true"]).returncode == 0

{mark}
def test_fixture(server):
    assert server == 0
"""


@pytest.fixture
def suite(pytester, repo_root):
    pytester.makeconftest((repo_root / "tests" / "conftest.py").read_text())
    pytester.makeini('[pytest]\nmarkers =\n    integration: starts processes\n')
    return pytester


def test_a_pure_test_that_starts_a_process_fails_saying_to_mark_it(suite):
    suite.makepyfile(test_starts=STARTS.format(mark=""))
    result = suite.runpytest_inprocess("-p", "no:xdist", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1, errors=1)
    result.stdout.fnmatch_lines(["*StartsAProcess*test_body starts a process*mark it*"])
    result.stdout.fnmatch_lines(["*StartsAProcess*test_fixture starts a process (or a fixture of it does)*"])


def test_the_marker_lets_it_start_processes_and_the_pure_run_leaves_it_out(suite):
    suite.makepyfile(test_starts=STARTS.format(mark="@pytest.mark.integration"))
    suite.runpytest_inprocess("-p", "no:xdist").assert_outcomes(passed=2)
    suite.runpytest_inprocess("-p", "no:xdist", "-m", "not integration").assert_outcomes(deselected=2)
