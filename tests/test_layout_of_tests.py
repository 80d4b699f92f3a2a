"""The tests mirror the source, and their helpers are fixtures.

* A test module sits in the folder of the package it tests: tests/bench/ for zoo/bench/,
  tests/plugins/ for the built-ins in plugins/ (installed as zoo.plugins), tests/ itself for
  zoo's top-level modules (tests/test_atomic.py for zoo/atomic.py) and for the few
  cross-cutting files of CROSS_CUTTING below.
* No test module imports from ``tests`` (not conftest, not another test module, not a
  helper): it asks for a helper by name, as a fixture.  Shared helpers live in
  tests/fixtures/ (registered by tests/conftest.py), a folder's own in its conftest.py.
* No module under tests/ imports a conftest or a test module: pytest imports those itself,
  and a second import runs them twice under two names.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Top-level test modules that test no single module of zoo, and why they stay at the top.
CROSS_CUTTING = {
    "test_journey.py": "the user's journey through every command, on every dataset family",
    "test_journey_fashion.py": "the journey once on real Fashion-MNIST",
    "test_trust.py": "a stored number is shown only for its identity: bench, train and store together",
    "test_gpu.py": "the GPU on both builds: training, export and serving",
    "test_packaging.py": "the built wheel and what it installs",
    "test_slow.py": "long real-training checks (-m slow)",
    "test_markers.py": "the suite's rule that the pure suite starts no process",
    "test_layout_of_tests.py": "this file: the suite's layout",
}


def source_of(test: Path, root: Path) -> Path | None:
    """The source module or package a test module mirrors, or None where there is none."""
    folders = test.relative_to(root / "tests").parts[:-1]
    if not folders:
        module = root / "zoo" / (test.name.removeprefix("test_"))
        return module if module.is_file() else None
    if folders[0] == "plugins":  # plugins/ installs as zoo.plugins
        package = root.joinpath("plugins", *folders[1:])
    else:
        package = root.joinpath("zoo", *folders)
    return package if (package / "__init__.py").is_file() else None


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every module ``path`` imports, at any depth (a function's own imports too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found += [(node.lineno, node.module)]
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def layout_problems(root: Path) -> list[str]:
    """Every breach of the rules above in the tests/ of the checkout at ``root``."""
    problems = []
    for path in sorted((root / "tests").rglob("*.py")):
        where = path.relative_to(root)
        if path.name.startswith("test_"):
            if path.parent == root / "tests" and path.name in CROSS_CUTTING:
                pass
            elif source_of(path, root) is None:
                problems.append(f"{where}: mirrors no source module or package "
                                "(move it beside its package's tests, or list it in CROSS_CUTTING)")
        for line, module in imported_modules(path):
            parts = module.split(".")
            if path.name.startswith("test_") and parts[0] == "tests":
                problems.append(f"{where}:{line}: a test module imports {module}: ask for a fixture")
            elif parts[0] == "tests" and (parts[-1] == "conftest" or parts[-1].startswith("test_")):
                problems.append(f"{where}:{line}: imports {module}, which pytest imports itself")
    return problems


def test_every_test_mirrors_the_source_and_imports_nothing_from_tests():
    assert layout_problems(ROOT) == []


def test_the_check_finds_a_misplaced_test_and_every_kind_of_import_from_tests(tmp_path):
    (tmp_path / "zoo" / "bench").mkdir(parents=True)
    (tmp_path / "zoo" / "bench" / "__init__.py").write_text("")
    (tmp_path / "zoo" / "atomic.py").write_text("")
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "__init__.py").write_text("")
    tests = tmp_path / "tests"
    for folder in ("bench", "plugins", "misc", "fixtures"):
        (tests / folder).mkdir(parents=True)
    (tests / "test_atomic.py").write_text("import json\n")
    (tests / "plugins" / "test_models.py").write_text("from zoo import kinds\n")
    (tests / "bench" / "test_grid.py").write_text(
        "from tests.conftest import run_zoo\n"
        "def test_x():\n    import tests.fixtures.bench_kit\n")
    (tests / "bench" / "test_tables.py").write_text("from tests import fixtures\n")
    (tests / "misc" / "test_other.py").write_text("")
    (tests / "test_nothing_like_it.py").write_text("")
    (tests / "fixtures" / "kit.py").write_text("from tests.bench.test_grid import helper\n"
                                               "from tests.fixtures import provide\n")
    (tests / "bench" / "conftest.py").write_text("from tests.fixtures.kit import helper\n")
    assert layout_problems(tmp_path) == [
        "tests/bench/test_grid.py:1: a test module imports tests.conftest: ask for a fixture",
        "tests/bench/test_grid.py:1: a test module imports tests.conftest.run_zoo: ask for a fixture",
        "tests/bench/test_grid.py:3: a test module imports tests.fixtures.bench_kit: ask for a fixture",
        "tests/bench/test_tables.py:1: a test module imports tests: ask for a fixture",
        "tests/bench/test_tables.py:1: a test module imports tests.fixtures: ask for a fixture",
        "tests/fixtures/kit.py:1: imports tests.bench.test_grid, which pytest imports itself",
        "tests/misc/test_other.py: mirrors no source module or package "
        "(move it beside its package's tests, or list it in CROSS_CUTTING)",
        "tests/test_nothing_like_it.py: mirrors no source module or package "
        "(move it beside its package's tests, or list it in CROSS_CUTTING)",
    ]
