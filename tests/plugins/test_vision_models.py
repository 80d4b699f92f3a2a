"""The paddle.vision.models plugin: every family builds for grey 28x28 and colour 32x32 (or
is refused in one line before Paddle sees the shape), trains a step, and says in its
description what it costs.  One model per family runs by default; all of them with -m slow.
"""

from __future__ import annotations

import json
import subprocess
import sys

import paddle
import pytest

from zoo.data.sample import MNIST_SAMPLE_DIR
from zoo.errors import RegistryError
from zoo.plugin import load_catalog
from zoo.plugins.vision import MODELS, count
from zoo.testing import check_model_trains, entries_of

pytestmark = pytest.mark.integration  # starts processes or trains with Paddle

PLUGIN = "zoo.plugins.vision"
# One per family of the issue's list; the rest of each family is in the slow suite.
DEFAULT = {"lenet", "alexnet", "vgg11_bn", "resnet18", "wide_resnet50_2", "resnext50_32x4d",
           "mobilenet_v1", "mobilenet_v2", "mobilenet_v3_small", "shufflenet_v2_x0_25",
           "squeezenet1_1", "densenet121", "googlenet", "inception_v3"}
SHAPES = [(1, 28, 28), (3, 32, 32)]


def _every_model():
    return [pytest.param(name, marks=() if name in DEFAULT else pytest.mark.slow)
            for name in MODELS]


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def trainable(net) -> int:
    return sum(int(p.numel()) for p in net.parameters() if not p.stop_gradient)


def test_the_families_of_the_issue_are_all_registered(catalog):
    names = {entry.name for entry in entries_of(PLUGIN, catalog)}
    assert names == set(MODELS)
    for prefix in ("lenet", "alexnet", "vgg11", "vgg11_bn", "vgg19_bn", "resnet152", "wide_resnet",
                   "resnext", "mobilenet_v1", "mobilenet_v2", "mobilenet_v3_small",
                   "mobilenet_v3_large", "shufflenet_v2", "squeezenet", "densenet", "googlenet",
                   "inception_v3"):
        assert any(name.startswith(prefix) for name in names), prefix
    assert {f"resnet{d}" for d in (18, 34, 50, 101, 152)} <= names
    assert {f"vgg{d}{bn}" for d in (11, 13, 16, 19) for bn in ("", "_bn")} <= names


def test_descriptions_give_size_designed_input_and_no_pretrained(catalog):
    for name, spec in MODELS.items():
        entry = catalog.entry("models", name)
        assert count(spec.params) in entry.description, entry.description
        assert "designed for " + "x".join(map(str, spec.designed)) in entry.description
        assert "pretrained=false only" in entry.description
        assert entry.defaults["pretrained"] is False
    assert catalog.entry("models", "resnet18").description == (
        "ResNet-18 (paddle.vision.models): 11.2M params at 10 classes, designed for 3x224x224; "
        "pretrained=false only")


@pytest.mark.parametrize("name", _every_model())
def test_declared_parameter_count_is_the_real_one(catalog, name):
    spec = MODELS[name]
    net = catalog.build("models", name, input_shape=spec.designed, num_classes=10)
    assert trainable(net) == spec.params


@pytest.mark.parametrize("shape", SHAPES, ids=["1x28x28", "3x32x32"])
@pytest.mark.parametrize("name", _every_model())
def test_builds_and_trains_or_is_refused(catalog, name, shape):
    spec = MODELS[name]
    if shape[1] < spec.min_size:
        with pytest.raises(RegistryError) as refused:
            catalog.build("models", name, input_shape=shape, num_classes=10)
        assert str(refused.value) == (
            f"input too small: model '{name}' needs at least {spec.min_size}x{spec.min_size} "
            f"images, got {shape[1]}x{shape[2]} (designed for {'x'.join(map(str, spec.designed))}); "
            "use larger or resized images (imagefolder: --set dataset.size=N)")
        shape = (shape[0], spec.min_size, spec.min_size)  # and it works at its minimum
    paddle.seed(0)
    net = catalog.build("models", name, input_shape=shape, num_classes=10)
    stem = next(layer for layer in net.sublayers() if isinstance(layer, paddle.nn.Conv2D))
    assert stem.weight.shape[1] == shape[0]  # the first convolution takes the data's channels
    loss = check_model_trains(catalog.entry("models", name), input_shape=shape, num_classes=10, batch_size=2)
    assert loss > 0


def test_a_three_channel_model_is_exactly_paddles(catalog):
    from paddle.vision.models import resnet18

    ours = catalog.build("models", "resnet18", input_shape=(3, 32, 32), num_classes=10)
    theirs = resnet18(num_classes=10)
    assert [(n, p.shape) for n, p in ours.named_parameters()] == \
        [(n, p.shape) for n, p in theirs.named_parameters()]
    grey = catalog.build("models", "resnet18", input_shape=(1, 28, 28), num_classes=7)
    shapes = {n: p.shape for n, p in grey.named_parameters()}
    assert shapes["conv1.weight"] == [64, 1, 7, 7] and shapes["fc.weight"] == [512, 7]


def test_lenet_fits_its_classifier_to_the_input(catalog):
    grey = catalog.build("models", "lenet", input_shape=(1, 28, 28), num_classes=10)
    assert grey.fc[0].weight.shape == [400, 120]  # Paddle's own LeNet: 16 x 5 x 5
    colour = catalog.build("models", "lenet", input_shape=(3, 32, 32), num_classes=10)
    assert colour.features[0].weight.shape == [6, 3, 3, 3] and colour.fc[0].weight.shape == [576, 120]
    assert colour(paddle.randn([2, 3, 32, 32])).shape == [2, 10]


def test_googlenet_has_no_auxiliary_heads(catalog):
    net = catalog.build("models", "googlenet", input_shape=(3, 64, 64), num_classes=10)
    names = {name.split(".")[0] for name, _ in net.named_parameters()}
    assert not names & {"_conv_o1", "_fc_o1", "_out1", "_conv_o2", "_fc_o2", "_out2"}
    out = net(paddle.randn([2, 3, 64, 64]))
    assert isinstance(out, paddle.Tensor) and out.shape == [2, 10]


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n, s in MODELS.items() if s.min_size > 1])
def test_the_declared_minimum_size_is_tight(name):
    """Just below the minimum Paddle's own network fails (in a child: it may corrupt memory)."""
    size = MODELS[name].min_size - 1
    code = f"""if True:
        import paddle
        from zoo.plugins.vision import MODELS
        from zoo.plugins.vision_nets import build_network
        spec = MODELS["{name}"]
        net = build_network("{name}", spec.constructor, (3, {size}, {size}), 10, dict(spec.fixed))
        net.eval()
        empty = []
        for layer in net.sublayers():
            layer.register_forward_post_hook(
                lambda l, i, o: empty.append(1) if isinstance(o, paddle.Tensor) and 0 in o.shape else None)
        net(paddle.zeros([1, 3, {size}, {size}]))
        print("EMPTY" if empty else "WORKS")
    """
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0 or proc.stdout.strip().endswith("EMPTY"), proc.stdout[-300:]


def test_pretrained_is_refused_and_unknown_parameters_too(catalog):
    with pytest.raises(RegistryError, match="pretrained weights are not offered"):
        catalog.build("models", "resnet18", {"pretrained": True}, input_shape=(3, 32, 32),
                      num_classes=10)
    with pytest.raises(RegistryError, match="has no parameter 'scale'"):
        catalog.build("models", "resnet18", {"scale": 0.5}, input_shape=(3, 32, 32), num_classes=10)
    with pytest.raises(RegistryError, match=r"needs images of shape \(channels, height, width\)"):
        catalog.build("models", "resnet18", input_shape=(784,), num_classes=10)


@pytest.fixture(scope="session")
def inspect_json(run_zoo):
    def _inspect_json(*args: str) -> dict:
        proc = run_zoo("inspect", *args, "--json", "--batch-size", "2")
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    return _inspect_json


def test_set_model_scale_through_the_cli(catalog, inspect_json):
    full = inspect_json("mobilenet_v2")
    half = inspect_json("mobilenet_v2", "--set", "model.scale=0.5")
    assert half["params"]["scale"] == 0.5 and full["params"]["scale"] == 1.0
    assert half["trainable_params"] < 0.5 * full["trainable_params"]
    resnext = inspect_json("resnet50", "--set", "model.groups=32", "--set", "model.width=4")
    same = catalog.build("models", "resnext50_32x4d", input_shape=(1, 28, 28), num_classes=10)
    assert resnext["input_shape"] == [1, 28, 28] and resnext["trainable_params"] == trainable(same)


def test_bad_constructor_values_are_one_line_errors(assert_one_line_error, run_zoo):
    assert_one_line_error(run_zoo("inspect", "shufflenet_v2_x1_0", "--set", "model.scale=0.7"),
                          "model 'shufflenet_v2_x1_0' cannot be built", "0.7")
    assert_one_line_error(run_zoo("inspect", "resnet18", "--set", "model.pretrained=true"),
                          "pretrained weights are not offered")


def test_too_small_input_is_one_line_error_in_train_and_in_the_sweep_preflight(tmp_path, run_zoo,
                                                                               assert_one_line_error):
    message = "input too small: model 'googlenet' needs at least 45x45 images, got 28x28"
    train = run_zoo("train", "--model", "googlenet", "--data-dir", str(MNIST_SAMPLE_DIR),
                    "--out", str(tmp_path / "run"), "--quiet")
    assert_one_line_error(train, message)
    assert not (tmp_path / "run").exists()
    bench = run_zoo("bench", "--models", "cnn,googlenet", "--optimizers", "sgd",
                    "--data-dir", str(MNIST_SAMPLE_DIR), "--out", str(tmp_path / "bench"), "--quiet")
    line = assert_one_line_error(bench, message)
    assert "googlenet" in line
    assert not (tmp_path / "bench" / "cells").exists()  # refused before anything trained


def test_zoo_testing_builds_a_model_only_for_a_shape_it_is_given(catalog):
    import paddle

    from zoo.testing import check_entry_builds

    with pytest.raises(AssertionError, match="pass input_shape and num_classes"):
        check_entry_builds(catalog.entry("models", "mlp"), catalog)  # no dataset is assumed
    built = check_entry_builds(catalog.entry("models", "mlp"), catalog, input_shape=(3, 8, 8), num_classes=4)
    assert isinstance(built, paddle.nn.Layer) and built.fc3.weight.shape[1] == 4
