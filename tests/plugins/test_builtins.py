"""Every built-in factory builds a real Paddle object with its documented defaults."""

from __future__ import annotations

import numpy as np
import paddle
import pytest

from zoo.data.sample import MNIST_SAMPLE_DIR
from zoo.errors import RegistryError
from zoo.plugin import load_catalog


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def test_cnn_is_exactly_the_course_network(catalog):
    model = catalog.build("models", "cnn", input_shape=(1, 28, 28), num_classes=10)
    layers = [(name, type(layer).__name__) for name, layer in model.named_children()]
    assert [t for _, t in layers] == ["Conv2D", "ReLU", "MaxPool2D", "Conv2D", "ReLU", "MaxPool2D",
                                      "Flatten", "Linear"]
    shapes = {name: list(p.shape) for name, p in model.named_parameters()}
    assert shapes == {"conv1.weight": [20, 1, 5, 5], "conv1.bias": [20],
                      "conv2.weight": [20, 20, 5, 5], "conv2.bias": [20],
                      "fc.weight": [980, 10], "fc.bias": [10]}
    assert model.conv1._stride == [1, 1] and model.conv1._padding == 2
    assert model.conv2._padding == 2 and model.pool1.ksize == 2
    out = model(paddle.randn([3, 1, 28, 28]))
    assert out.shape == [3, 10]


def test_mlp_has_two_hidden_layers_over_flat_pixels(catalog):
    model = catalog.build("models", "mlp", {"hidden1": 64}, input_shape=(1, 28, 28), num_classes=10)
    linear = [list(p.shape) for n, p in model.named_parameters() if n.endswith("weight")]
    assert linear == [[784, 64], [64, 128], [128, 10]]
    assert model(paddle.randn([2, 1, 28, 28])).shape == [2, 10]
    with pytest.raises(RegistryError, match="unknown activation 'swish'"):
        catalog.build("models", "mlp", {"activation": "swish"}, input_shape=(1, 28, 28), num_classes=10)


@pytest.mark.parametrize("name,cls,lr", [("sgd", "SGD", 0.01), ("momentum", "Momentum", 0.01),
                                         ("adagrad", "Adagrad", 0.01), ("adam", "Adam", 0.01),
                                         ("adamw", "AdamW", 0.001), ("rmsprop", "RMSProp", 0.001)])
def test_optimizers_are_real_paddle_optimizers(catalog, name, cls, lr):
    layer = paddle.nn.Linear(3, 2)
    params = catalog.params("optimizers", name)
    assert params["learning_rate"] == lr
    opt = catalog.build("optimizers", name, parameters=layer.parameters(),
                        learning_rate=params["learning_rate"], weight_decay=None)
    assert type(opt).__name__ == cls and isinstance(opt, paddle.optimizer.Optimizer)
    assert opt.get_lr() == pytest.approx(lr)
    layer(paddle.ones([1, 3])).sum().backward()
    before = layer.weight.numpy().copy()
    opt.step()
    assert not np.array_equal(before, layer.weight.numpy())


def test_momentum_is_0_9_and_overridable(catalog):
    layer = paddle.nn.Linear(3, 2)
    opt = catalog.build("optimizers", "momentum", parameters=layer.parameters(), learning_rate=0.01,
                        weight_decay=None)
    assert opt._momentum == pytest.approx(0.9)
    opt = catalog.build("optimizers", "momentum", {"momentum": 0.5}, parameters=layer.parameters(),
                        learning_rate=0.01, weight_decay=None)
    assert opt._momentum == pytest.approx(0.5)


def test_adamw_refuses_a_second_weight_decay(catalog):
    layer = paddle.nn.Linear(3, 2)
    with pytest.raises(RegistryError, match="decoupled weight decay"):
        catalog.build("optimizers", "adamw", parameters=layer.parameters(), learning_rate=0.001,
                      weight_decay=catalog.build("regularizers", "l2"))


def _run(scheduler, steps):
    lrs = []
    for _ in range(steps):
        lrs.append(scheduler.get_lr())
        scheduler.step()
    return lrs


def test_schedules(catalog):
    lr_cls = paddle.optimizer.lr.LRScheduler
    build = lambda name, over=None: catalog.build("schedules", name, over, learning_rate=0.01, total_steps=100)
    constant = build("constant")
    assert isinstance(constant, lr_cls) and set(_run(constant, 100)) == {0.01}
    poly = _run(build("polynomial"), 101)
    assert poly[0] == pytest.approx(0.01) and poly[100] == pytest.approx(0.001)
    assert poly[50] == pytest.approx(0.0055)
    cosine = _run(build("cosine"), 101)
    assert cosine[0] == pytest.approx(0.01) and cosine[100] == pytest.approx(0.0, abs=1e-9)
    piece = _run(build("piecewise"), 100)
    assert piece[0] == pytest.approx(0.01) and piece[60] == pytest.approx(0.001)
    assert piece[80] == pytest.approx(0.0001)
    warm = _run(build("warmup", {"fraction": 0.2, "then": "polynomial"}), 100)
    assert warm[0] == 0.0 and warm[10] == pytest.approx(0.005) and warm[20] == pytest.approx(0.01)
    assert warm[99] < 0.0015
    with pytest.raises(RegistryError, match="cannot wrap itself"):
        build("warmup", {"then": "warmup"})
    with pytest.raises(RegistryError, match="unknown schedule 'nope'"):
        build("warmup", {"then": "nope"})


def test_regularizers(catalog):
    assert catalog.build("regularizers", "none") is None
    l2 = catalog.build("regularizers", "l2")
    assert isinstance(l2, paddle.regularizer.L2Decay) and catalog.params("regularizers", "l2") == {"coeff": 1e-5}
    l1 = catalog.build("regularizers", "l1", {"coeff": 0.001})
    assert isinstance(l1, paddle.regularizer.L1Decay)


def test_l2_reaches_the_gradient_as_the_course_does(catalog):
    """With weight_decay=L2Decay(c), SGD subtracts lr * c * w beyond the plain gradient."""
    layer = paddle.nn.Linear(2, 1, bias_attr=False)
    w0 = layer.weight.numpy().copy()
    opt = catalog.build("optimizers", "sgd", parameters=layer.parameters(), learning_rate=0.1,
                        weight_decay=catalog.build("regularizers", "l2", {"coeff": 0.5}))
    (layer(paddle.zeros([1, 2])).sum() * 0).backward()
    opt.step()
    np.testing.assert_allclose(layer.weight.numpy(), w0 - 0.1 * 0.5 * w0, rtol=1e-6)


def test_launchers_build_and_follow_the_public_contract(catalog, tmp_path):
    import zoo
    from zoo.exec.launch import forkable

    job = tmp_path / "job.json"
    commands = {}
    for name in ("single", "spawn", "launch"):
        launcher = catalog.build("launchers", name)
        assert isinstance(launcher, zoo.Launcher)
        commands[name] = launcher.command(job, 1 if name == "single" else 2, "cpu", tmp_path)
        assert str(job) == commands[name][-1] and "-m" not in commands[name][:3]
    # only the plain one-process worker may be forked from the warm process
    assert [forkable(c, job) for c in commands.values()] == [True, False, False]
    assert commands["single"] == zoo.worker_command(job)
    assert commands["spawn"] == zoo.worker_command(job, nprocs=2)
    # the limit is generic: no launcher's name appears in it
    problem = catalog.build("launchers", "single").problem(2, "cpu")
    assert problem == "this launcher runs at most 1 process; --nprocs 2 needs another"
    assert catalog.build("launchers", "spawn").problem(64, "cpu") is None


def test_mnist_dataset_builds_from_a_folder(catalog):

    data = catalog.build("datasets", "mnist", {"progress": False}, data_dir=str(MNIST_SAMPLE_DIR))
    assert (len(data.train), len(data.val), len(data.test)) == (833, 167, 500)
