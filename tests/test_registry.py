"""The registry itself: sorting, filters, duplicates, unknown names, parameter checks."""

from __future__ import annotations

import pytest

from zoo.errors import RegistryError
from zoo.registry import Registry, make_entry, natural_key, normalize_kind


def entry(name, kind="models", plugin="p1", defaults=None):
    return make_entry(kind, plugin, "dist", name, lambda **kw: kw, "a thing", defaults or {})


@pytest.fixture
def registry():
    reg = Registry()
    reg.add_all(entry(n) for n in ["resnet10", "resnet2", "cnn", "mlp", "Resnet1", "cnn_big"])
    return reg


def test_natural_sort_orders_numbers_by_value(registry):
    assert registry.names("models") == ["cnn", "cnn_big", "mlp", "Resnet1", "resnet2", "resnet10"]
    assert sorted(["a10", "a9", "a100"], key=natural_key) == ["a9", "a10", "a100"]


def test_include_and_exclude_globs(registry):
    assert registry.names("models", include=["resnet*"]) == ["resnet2", "resnet10"]
    assert registry.names("models", include=["cnn*", "mlp"]) == ["cnn", "cnn_big", "mlp"]
    assert registry.names("models", include=["*"], exclude=["*net*", "cnn_?ig"]) == ["cnn", "mlp"]


def test_duplicate_name_is_an_error_naming_both_plugins(registry):
    with pytest.raises(RegistryError, match=r"duplicate model 'cnn'.*'p1'.*'p2'"):
        registry.add_all([entry("cnn", plugin="p2")])
    assert registry.get("models", "cnn").plugin == "p1"


def test_duplicate_within_one_batch_adds_nothing():
    reg = Registry()
    with pytest.raises(RegistryError, match="duplicate model 'x'"):
        reg.add_all([entry("a"), entry("x"), entry("x", plugin="p1")])
    assert reg.names("models") == []


def test_same_name_in_different_kinds_is_fine(registry):
    registry.add_all([entry("cnn", kind="optimizers")])
    assert registry.get("optimizers", "cnn").kind == "optimizers"


def test_unknown_name_lists_closest(registry):
    with pytest.raises(RegistryError, match=r"unknown model 'resnt10' \(did you mean 'resnet10'"):
        registry.get("models", "resnt10")
    with pytest.raises(RegistryError, match="registered: cnn, cnn_big, mlp"):
        registry.get("models", "zzzzzz")


def test_kind_names_accept_singular_and_reject_unknown():
    assert normalize_kind("Model") == "models"
    with pytest.raises(RegistryError, match="unknown kind 'widgets'"):
        normalize_kind("widgets")


def test_select_expands_globs_in_order_without_repeats(registry):
    assert registry.select("models", ["mlp", "cnn*", "cnn"]) == ["mlp", "cnn", "cnn_big"]
    with pytest.raises(RegistryError, match="no model matches 'vgg\\*'"):
        registry.select("models", ["vgg*"])
    with pytest.raises(RegistryError, match="unknown model"):
        registry.select("models", ["vgg"])


def test_params_merge_and_type_check():
    e = entry("opt", defaults={"learning_rate": 0.01, "steps": 3, "nesterov": False, "name": "x"})
    assert e.params({"learning_rate": 1}) == {"learning_rate": 1.0, "steps": 3,
                                              "nesterov": False, "name": "x"}
    with pytest.raises(RegistryError, match="has no parameter 'lr'.*learning_rate"):
        e.params({"lr": 0.1})
    with pytest.raises(RegistryError, match="'steps' must be int, got str"):
        e.params({"steps": "3"})
    with pytest.raises(RegistryError, match="'nesterov' must be bool"):
        e.params({"nesterov": 1})
    with pytest.raises(RegistryError, match="'learning_rate' must be float"):
        e.params({"learning_rate": True})


@pytest.mark.parametrize("name,factory,description,defaults,message", [
    ("bad name!", len, "d", None, "invalid name"),
    ("", len, "d", None, "invalid name"),
    ("ok", 42, "d", None, "factory is not callable"),
    ("ok", len, "", None, "description must be a non-empty string"),
    ("ok", len, "d", [1], "defaults must be a mapping"),
])
def test_register_arguments_are_validated(name, factory, description, defaults, message):
    with pytest.raises(RegistryError, match=message):
        make_entry("models", "p", "d", name, factory, description, defaults)


@pytest.mark.parametrize("kind, shape, classes, message", [
    ("models", (1, 28, 28), 10, "only datasets declare"),
    ("datasets", (1, 28, 28), None, "together"),
    ("datasets", None, 10, "together"),
    ("datasets", (28, 28), 10, "input_shape must be"),
    ("datasets", (1, 28, 0), 10, "input_shape must be"),
    ("datasets", (1, 28, True), 10, "input_shape must be"),
    ("datasets", (1, 28, 28), 1, "num_classes must be"),
    ("datasets", (1, 28, 28), "10", "num_classes must be"),
])
def test_a_declared_dataset_shape_is_checked(kind, shape, classes, message):
    with pytest.raises(RegistryError, match=message):
        make_entry(kind, "p", "d", "x", lambda data_dir=None: None, "d", None, shape, classes)


def test_a_dataset_that_loads_another_shape_than_it_declared_is_an_error():
    from types import SimpleNamespace

    from zoo.config import load_config
    from zoo.plugin.facade import Catalog

    loaded = SimpleNamespace(input_shape=(3, 32, 32), num_classes=10)
    honest = make_entry("datasets", "p", "d", "honest", lambda data_dir=None: loaded, "d", None,
                        [3, 32, 32], 10)
    liar = make_entry("datasets", "p", "d", "liar", lambda data_dir=None: loaded, "d", None,
                      (1, 28, 28), 10)
    assert honest.shape.input_shape == (3, 32, 32) and honest.shape.num_classes == 10
    registry = Registry()
    registry.add_all([honest, liar])
    catalog = Catalog(load_config(None), registry, [])
    assert catalog.build("datasets", "honest") is loaded
    with pytest.raises(RegistryError, match=r"'liar' declares input_shape \[1, 28, 28\] and 10 "
                                            r"classes, but loaded \[3, 32, 32\] and 10"):
        catalog.build("datasets", "liar")


def test_entry_defaults_are_read_only():
    e = entry("m", defaults={"a": 1})
    with pytest.raises(TypeError):
        e.defaults["a"] = 2  # type: ignore[index]
