"""The backends kind: built-ins registered with their parameters, the plugin kit's check,
and what each says it cannot do on this machine (it has no GPU)."""

from __future__ import annotations

import json

import pytest


pytestmark = pytest.mark.integration  # starts processes or trains with Paddle


@pytest.fixture(scope="module")
def catalog():
    from zoo.plugin import load_catalog

    return load_catalog()


def test_built_ins_are_listed_with_their_parameters(run_zoo):
    listed = {e["name"]: e for e in json.loads(run_zoo("list", "backends", "--json").stdout)}
    assert listed["paddle-inference"]["defaults"] == {"onednn": True, "tensorrt": True, "threads": 0}
    assert listed["onnxruntime"]["defaults"] == {"threads": 0}
    assert listed["dygraph"]["defaults"] == {}
    assert {e["plugin"] for e in listed.values()} == {"zoo.plugins.backends"}


def test_built_ins_pass_the_plugin_kit_check(catalog):
    import zoo
    from zoo.testing import check_entry_builds

    formats = {}
    for entry in catalog.registry.entries("backends"):
        built = check_entry_builds(entry, catalog)
        assert isinstance(built, zoo.Backend) and built.name == entry.name
        formats[entry.name] = built.format
    assert formats == {"dygraph": "paddle", "paddle-inference": "paddle", "onnxruntime": "onnx"}


LOOKALIKE = '''
import zoo


class Lookalike:  # has predict, but is no zoo.Backend and names no format
    def predict(self, batch):
        return batch


@zoo.hookimpl
def zoo_register_backends(register):
    register("lookalike", Lookalike, description="not a backend")
'''


def test_the_plugin_kit_refuses_a_backend_that_is_no_backend(plugin_kit):
    from zoo.plugin import load_catalog
    from zoo.testing import check_entry_builds

    plugin_kit.add("zoo_lookalike", LOOKALIKE)
    catalog = load_catalog()
    with pytest.raises(AssertionError, match="format None"):
        check_entry_builds(catalog.entry("backends", "lookalike"), catalog)


def test_problems_say_why_a_backend_cannot_run_here(catalog, missing_gpu):
    for name in ("dygraph", "paddle-inference", "onnxruntime"):
        backend = catalog.build("backends", name)
        assert backend.problem("cpu") is None, name
        problem = backend.problem(missing_gpu())
        assert problem and ("not available" in problem or "onnxruntime-gpu" in problem), problem
        assert "not tpu" in backend.problem("tpu")
    assert "threads must be >= 0" in catalog.build("backends", "onnxruntime", {"threads": -1}).problem("cpu")
