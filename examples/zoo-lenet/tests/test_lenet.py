"""Tests of the zoo-lenet plugin, written as a plugin author would, with zoo.testing.

They run against the installed distribution (its entry point must be registered).
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

from zoo.testing import check_entry_builds, check_model_trains, check_public_surface, entries_of

PLUGIN = "lenet"
MNIST_SHAPE = (1, 28, 28)


def test_plugin_loaded_from_its_distribution(zoo_catalog):
    info = next(p for p in zoo_catalog.plugins if p.name == PLUGIN)
    assert (info.status, info.builtin, info.distribution, info.version) == \
        ("ok", False, "zoo-lenet", "0.1.0")
    assert info.hooks == ["zoo_register_models", "zoo_register_schedules"]


def test_registers_its_entries(zoo_catalog):
    found = {(e.kind, e.name) for e in entries_of(PLUGIN, zoo_catalog)}
    assert found == {("models", "lenet5"), ("schedules", "step")}


def test_every_entry_builds(zoo_catalog):
    for entry in entries_of(PLUGIN, zoo_catalog):
        # LeNet-5 is made for 28x28 grey digits: the shape this plugin is meant for.
        assert check_entry_builds(entry, zoo_catalog, input_shape=MNIST_SHAPE, num_classes=10) is not None


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
def test_lenet5_trains_one_step(zoo_catalog, activation):
    import paddle

    paddle.seed(0)
    entry = zoo_catalog.entry("models", "lenet5")
    if activation == "relu":
        loss = check_model_trains(entry, MNIST_SHAPE, 10)  # the entry itself, with its declared defaults
    else:
        loss = check_model_trains(
            lambda shape, classes: entry.factory(shape, classes, activation=activation), MNIST_SHAPE, 10)
    assert math.isfinite(loss)


def test_lenet5_shape_and_size(zoo_catalog):
    model = zoo_catalog.build("models", "lenet5", input_shape=(1, 28, 28), num_classes=10)
    assert model.classifier[0].weight.shape == [400, 120]  # 16 * 5 * 5 features
    assert sum(p.size for p in model.parameters()) == 61706  # LeNet-5 on 28x28, 10 classes
    check_model_trains(zoo_catalog.entry("models", "lenet5"), input_shape=(3, 32, 32),
                       num_classes=7, batch_size=2)


def test_lenet5_rejects_bad_activation(zoo_catalog):
    with pytest.raises(Exception, match="unknown activation 'gelu'"):
        zoo_catalog.build("models", "lenet5", {"activation": "gelu"},
                          input_shape=(1, 28, 28), num_classes=10)


def test_step_schedule_decays_every_fraction(zoo_catalog):
    sched = zoo_catalog.build("schedules", "step", {"step_fraction": 0.3, "gamma": 0.5},
                              learning_rate=0.1, total_steps=10)
    lrs = []
    for _ in range(10):
        lrs.append(sched.last_lr)
        sched.step()
    assert lrs == pytest.approx([0.1] * 3 + [0.05] * 3 + [0.025] * 3 + [0.0125])


def test_step_size_is_at_least_one(zoo_catalog):
    sched = zoo_catalog.build("schedules", "step", learning_rate=0.1, total_steps=1)
    assert sched.step_size == 1


def test_uses_only_zoos_public_surface():
    import zoo_lenet

    # The installed package: what users run, not a checkout that could differ.
    checked = check_public_surface(Path(zoo_lenet.__file__).parent)
    assert {f.name for f in checked} == {"__init__.py", "plugin.py", "nets.py"}


def test_plugin_module_does_not_import_paddle():
    code = ("import sys, zoo_lenet.plugin; "
            "assert 'paddle' not in sys.modules, 'plugin imported paddle at import time'")
    subprocess.run([sys.executable, "-c", code], check=True)
