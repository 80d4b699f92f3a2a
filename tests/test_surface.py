"""zoo's public surface (``zoo.__all__``): what a plugin may use, all the built-ins and the
example third-party plugins use, and what the README's table documents, name for name;
zoo.surface's check of a plugin's source; README's dataset plugin, run as written."""

from __future__ import annotations

import ast
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

import zoo
from zoo.config import load_config
from zoo.plugin import load_catalog
from zoo.surface import breaches
from zoo.testing import check_public_surface

# The checkout from this file's own place: it needs no helper module, wherever those move.
ROOT = Path(__file__).resolve().parents[1]
BUILTINS = load_config(ROOT / "registry.toml").builtin
EXAMPLES = sorted(p for p in (ROOT / "examples").iterdir() if (p / "pyproject.toml").exists())


def test_builtin_plugins_use_only_the_surface():
    checked = check_public_surface(ROOT / "plugins", own=["zoo.plugins"])
    # Every module, the implementations beside the adapters too.
    assert {f.name for f in checked} >= {"launchers.py", "executors.py", "datasets.py", "backends.py",
                                         "paddle_backends.py", "ort_backend.py", "pruners.py",
                                         "searchers.py", "vision_nets.py"}


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_example_plugins_use_only_the_surface(example):
    package = example.name.replace("-", "_")
    checked = check_public_surface(example, own=[package])
    assert example / package / "plugin.py" in checked


@pytest.mark.parametrize("source, breach", [
    ("from zoo.exec.local import LocalExecutor", "1: imports zoo.exec.local (internal)"),
    ("import zoo.data.cifar", "1: imports zoo.data.cifar (internal)"),
    ("import zoo\nzoo.exec.local.LocalExecutor()", "2: uses zoo.exec (not in zoo.__all__)"),
    ("import zoo as z\nz.bench", "2: uses zoo.bench (not in zoo.__all__)"),
    ("from zoo import forkable", "1: imports zoo.forkable (not in zoo.__all__)"),
    ("from zoo.plugins.nets import MLP", "1: imports zoo.plugins.nets (internal)"),
    ("import importlib\nimportlib.import_module('zoo.bench.runner')",
     "2: imports zoo.bench.runner (internal)"),
])
def test_every_way_past_the_surface_is_found(source, breach):
    assert breaches(source, filename="p.py") == [f"p.py:{breach}"]


def test_public_names_own_modules_and_the_test_kit_pass():
    source = ("import zoo\nfrom zoo import Launcher, RegistryError\nfrom zoo.plugins.nets import MLP\n"
              "import zoo.plugins.lr\nfrom zoo.testing import check_entry_builds\n"
              "zoo.worker_command\nzoo.plugins.lr\nfrom . import sibling\n")
    assert breaches(source, own=["zoo.plugins"]) == []


def test_check_public_surface_names_the_line(tmp_path):
    (tmp_path / "plugin.py").write_text("import zoo\n\n\ndef build():\n    from zoo.exec.local import X\n")
    with pytest.raises(AssertionError, match=r"plugin.py:5: imports zoo.exec.local"):
        check_public_surface(tmp_path)


def test_every_public_name_resolves_to_zoos_own_documented_code():
    assert set(zoo.__all__) <= set(dir(zoo))
    for name in zoo.__all__:
        value = getattr(zoo, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert value.__module__.startswith("zoo."), name
            # A class's own docstring, not its base class's (inspect.getdoc would inherit).
            doc = (vars(value).get("__doc__") if inspect.isclass(value) else value.__doc__) or ""
            assert doc.strip() and not doc.startswith(f"{value.__name__}("), \
                f"zoo.{name} has no docstring of its own (a dataclass's is its signature)"
    with pytest.raises(AttributeError, match="no attribute 'forkable'"):
        zoo.forkable  # noqa: B018  (internal: zoo.exec.launch's, not the surface's)


@pytest.mark.integration  # a fresh interpreter: this one has imported everything already
def test_zoo_and_every_builtin_plugin_import_nothing_heavy():
    heavy = ("numpy", "paddle", "scipy", "PIL", "optuna", "ray", "onnxruntime", "matplotlib")
    code = (f"import sys, zoo, {', '.join(BUILTINS)}; "
            f"print(sorted(m for m in {heavy!r} if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"  # a surface name used at module level would load its code


def _readme_surface() -> set[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Writing a plugin", 1)[1].split("\n## ", 1)[0]
    table = section.split("### The public surface", 1)[1].split("\n### ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "`" in line]
    return {name for row in rows for name in re.findall(r"`([A-Za-z_][\w]*)`", row.split("|")[1])}


def test_readme_documents_exactly_the_surface():
    assert _readme_surface() == set(zoo.__all__)


def test_core_code_never_imports_a_plugin():
    # The other direction: zoo finds plugins' entries by name in the catalogue (even the
    # default executor), so a built-in can be disabled or replaced like any plugin.
    importers = []
    for path in sorted((ROOT / "zoo").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            importers += [f"{path.relative_to(ROOT)}:{node.lineno}" for name in names
                          if name == "zoo.plugins" or name.startswith("zoo.plugins.")]
    assert importers == []


# README's dataset plugin, built on the surface alone: it loads the packaged sample exactly
# as the built-in mnist-sample does.
MARKER = "# my_zoo_plugin/idx_dataset.py"


@pytest.fixture
def readme_plugin(plugin_kit, tmp_path):
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split(f"```python\n{MARKER}", 1)[1].split("```", 1)[0]
    source = tmp_path / "idx_dataset.py"
    source.write_text(MARKER + block)
    check_public_surface(source)
    plugin_kit.add("zoo_test_readme_idx_dataset", source.read_text())
    return load_catalog()


def test_readme_dataset_plugin_loads_what_mnist_sample_loads(readme_plugin):
    mine = readme_plugin.build("datasets", "idx-folder", data_dir=str(zoo.MNIST_SAMPLE_DIR))
    builtin = readme_plugin.build("datasets", "mnist-sample")
    assert zoo.fingerprint(mine) == zoo.fingerprint(builtin)
    assert (mine.input_shape, mine.num_classes, len(mine.train), len(mine.val), len(mine.test)) == \
        ((1, 28, 28), 10, 833, 167, 500)
    # Its own pixel statistics, not MNIST's 127.5/127.5 scaling.
    assert 20 < mine.mean[0] < 60 and 60 < mine.std[0] < 100


def test_readme_dataset_plugin_refuses_a_folder_without_its_files_in_one_line(readme_plugin, tmp_path):
    with pytest.raises(zoo.DataError, match=r"lacks train-images-idx3-ubyte.gz, .*t10k-labels") as caught:
        readme_plugin.build("datasets", "idx-folder", data_dir=str(tmp_path))
    assert "\n" not in str(caught.value)
