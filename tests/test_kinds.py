"""The table of kinds (zoo.kinds) is the one place a kind is declared: adding one line and
a hookspec is enough for it to appear in the catalogue, the grid, the store and the tables."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
import textwrap

import pytest

from zoo import hookspecs, kinds
from zoo.data.sample import MNIST_SAMPLE_DIR

pytestmark = pytest.mark.integration  # starts processes or trains with Paddle


def test_every_kind_has_one_documented_hook_and_every_hook_a_kind():
    hooks = {name for name, value in vars(hookspecs).items()
             if name.startswith("zoo_register_") and callable(value)}
    assert hooks == {kind.hook for kind in kinds.KINDS}
    for kind in kinds.KINDS:
        spec = getattr(hookspecs, kind.hook)
        doc = inspect.getdoc(spec)
        assert "Called" in doc and ":param register:" in doc and ":returns:" in doc, kind.name
        assert kind.returns.split()[0] in doc, (kind.name, kind.returns)
        assert list(inspect.signature(spec).parameters) == ["register"]


def test_names_flags_fields_and_axes_are_unique():
    for attribute in ("name", "singular", "field", "flag", "axis"):
        values = [getattr(kind, attribute) for kind in kinds.KINDS if getattr(kind, attribute)]
        assert len(values) == len(set(values)), attribute


def test_job_cell_store_and_table_fields_come_from_the_table():
    from dataclasses import fields

    from zoo.bench.grid import Cell
    from zoo.bench.store import AXIS_COLUMNS
    from zoo.bench.tables import COMBINATION
    from zoo.job import Job

    assert list(Job(out="o").entries) == [k.name for k in kinds.trained()]
    assert list(Job(out="o").to_dict())[:len(kinds.trained())] == [k.field for k in kinds.trained()]
    assert "entries" in {f.name for f in fields(Job)} and "entries" in {f.name for f in fields(Cell)}
    assert AXIS_COLUMNS[:len(kinds.swept())] == COMBINATION[:-1] == [k.field for k in kinds.swept()]


# A test-only kind added the way a developer would: one more row in zoo.kinds.KINDS and
# one hookspec.  As sitecustomize it applies in every process of the test (the CLI, the
# preflight, the fork server, each worker) before the rest of zoo is imported.
WITH_WIDGETS = textwrap.dedent('''\
    import zoo.kinds as kinds

    kinds.KINDS = kinds.KINDS + (kinds.Kind("widgets", "widget", "widget", "--widgets", "widgets",
                                            False, None, "a widget"),)
    import zoo.hookspecs as hookspecs


    @hookspecs.hookspec
    def zoo_register_widgets(register):
        """Register widgets (a test-only kind)."""


    hookspecs.zoo_register_widgets = zoo_register_widgets
''')

WIDGET_PLUGIN = '''
import zoo


def build_widget(*, size: int = 1):
    return {"size": size}


@zoo.hookimpl
def zoo_register_widgets(register):
    register("w1", build_widget, description="a small widget")
    register("w2", build_widget, description="a large widget")
'''


@pytest.fixture
def widget_cli(plugin_kit, tmp_path, repo_root):
    plugin_kit.add("zoo_widgets", WIDGET_PLUGIN)
    plugin_kit.write_registry(grid_extra='widgets = ["w1"]')
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(WITH_WIDGETS)
    env = plugin_kit.env()
    env["PYTHONPATH"] = f"{site}:{env['PYTHONPATH']}"

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "zoo", *args], capture_output=True,
                              text=True, env=env, cwd=repo_root, timeout=300)
    return run


def test_a_kind_added_to_the_table_reaches_list_grid_store_and_table(widget_cli, tmp_path, read_page):
    listed = widget_cli("list", "widgets", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [(e["name"], e["defaults"]) for e in json.loads(listed.stdout)] == [
        ("w1", {"size": 1}), ("w2", {"size": 1})]
    out = tmp_path / "b"
    sweep = widget_cli("bench", "--out", str(out), "--widgets", "w1,w2", "--models", "mlp",
                       "--optimizers", "sgd", "--set", "model.hidden1=16", "--set", "widget.size=3",
                       "--epochs", "1", "--data-dir", str(MNIST_SAMPLE_DIR), "--quiet", "--format", "json")
    assert sweep.returncode == 0, sweep.stderr[-3000:]
    summaries = json.loads(sweep.stdout)
    assert sorted(s["widget"] for s in summaries) == ["w1", "w2"]
    assert all(s["status"] == "ok" for s in summaries)
    shown = widget_cli("results", str(out))
    header = shown.stdout.splitlines()[0].split()
    assert header[:2] == ["dataset", "model"] and "widget" in header
    assert "--widgets NAMES" in widget_cli("bench", "--help").stdout
    identities = [json.loads(r) for r in _column(out, "identity")]
    assert {i["params"]["widgets"]["size"] for i in identities} == {3}
    assert sorted(_column(out, "widget")) == ["w1", "w2"]
    # The report names points and lines by the table's swept kinds: here the widget varies.
    report = widget_cli("report", str(out))
    assert report.returncode == 0, report.stderr[-3000:]
    figures = read_page(out / "report.html").figure_data
    assert figures["acc-vs-time"]["legends"][0]["title"] == "colour: widget"
    assert [e["text"] for e in figures["val-acc-per-epoch"]["legends"][0]["entries"]][:2] == ["w1", "w2"]


def _column(out, name):
    import sqlite3

    con = sqlite3.connect(str(out / "results.db"))
    try:
        return [row[0] for row in con.execute(f"SELECT {name} FROM results")]
    finally:
        con.close()


def test_a_grid_still_accepts_the_older_single_dataset_key(tmp_path, registry_text):
    from zoo.config import parse_config

    text = registry_text().replace('datasets = ["mnist"]', 'dataset = "mnist"')
    config = parse_config(tmp_path / "registry.toml", text)
    assert config.grid["datasets"] == ["mnist"] and "dataset" not in config.grid


MISMATCHED = '''
import zoo


def build(input_shape, num_classes, *, width: int = 8):
    raise AssertionError("never built")


@zoo.hookimpl
def zoo_register_models(register):
    register("says_16", build, description="declares width 16", defaults={"width": 16})
'''


def test_defaults_that_disagree_with_the_signature_break_only_their_plugin(plugin_kit):
    from zoo.plugin import load_catalog
    from zoo.registry import Entry
    from zoo.testing import check_entry_defaults

    plugin_kit.add("zoo_mismatched", MISMATCHED)
    with pytest.warns(UserWarning, match="defaults say width=16 but the factory's signature says width=8"):
        catalog = load_catalog(check=False)
    (info,) = [p for p in catalog.plugins if p.name == "zoo_mismatched"]
    assert info.status == "broken" and "says_16" not in catalog.registry.names("models")
    module = __import__("zoo_mismatched")
    with pytest.raises(AssertionError, match="width=16"):
        check_entry_defaults(Entry("models", "says_16", module.build, "d", {"width": 16}, "p"))
    assert check_entry_defaults(Entry("models", "ok", module.build, "d", {"width": 8}, "p")) == {"width": 8}
    with pytest.raises(AssertionError, match="lack the factory's parameter 'width'"):
        check_entry_defaults(Entry("models", "bare", module.build, "d", {}, "p"))


def test_every_registered_entry_agrees_with_its_factory():
    from zoo.plugin import load_catalog
    from zoo.testing import check_entry_defaults

    catalog = load_catalog()
    entries = catalog.registry.entries()
    assert len(entries) > 15
    for entry in entries:
        check_entry_defaults(entry)


def test_each_kinds_factory_context_is_what_its_hook_documents():
    for kind in kinds.KINDS:
        doc = inspect.getdoc(getattr(hookspecs, kind.hook))
        signature = doc[doc.index("``factory("):].split(")``", 1)[0]
        assert [name for name in kind.context if name not in signature] == [], kind.name
