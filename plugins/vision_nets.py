"""Paddle side of the vision plugin: ``paddle.vision.models`` networks fitted to a dataset.

Imported only when a model is built.  The networks are Paddle's own code; this module
only changes what a dataset forces: the stem's input channels, the first fully
connected layer of the two networks without an adaptive pool (LeNet, AlexNet), and
GoogLeNet's auxiliary heads, which need a second loss the training loop does not have.
"""

from __future__ import annotations

import paddle
import paddle.vision.models as pvm
from paddle import nn
from paddle.vision.models.resnet import BasicBlock, BottleneckBlock

from zoo import RegistryError


class GoogLeNetMain(pvm.GoogLeNet):
    """GoogLeNet without its two auxiliary classifiers.

    They exist to add weighted extra losses during training; with one cross-entropy on
    the main logits they would get no gradient at all, and their fixed 5x5 pools fail
    on small images.  Everything on the main path is Paddle's.
    """

    _AUX = ("_pool_o1", "_pool_o2", "_conv_o1", "_fc_o1", "_drop_o1", "_out1",
            "_conv_o2", "_fc_o2", "_drop_o2", "_out2")

    def __init__(self, num_classes: int) -> None:
        super().__init__(num_classes=num_classes)
        for name in self._AUX:
            delattr(self, name)

    def forward(self, inputs):
        x = self._pool(self._conv_2(self._conv_1(self._pool(self._conv(inputs)))))
        x = self._pool(self._ince3b(self._ince3a(x)))
        x = self._ince4e(self._ince4d(self._ince4c(self._ince4b(self._ince4a(x)))))
        x = self._ince5b(self._ince5a(self._pool(x)))
        x = self._drop(self._pool_5(x))
        return self._fc_out(paddle.squeeze(x, axis=[2, 3]))


def _constructors():
    # name -> callable(num_classes, **params); the params are the entry's declared defaults.
    def resnet(depth):
        block = BasicBlock if depth < 50 else BottleneckBlock
        return lambda num_classes, **p: pvm.ResNet(block, depth, num_classes=num_classes, **p)

    def vgg(depth, batch_norm):
        make = getattr(pvm, f"vgg{depth}")
        return lambda num_classes: make(pretrained=False, batch_norm=batch_norm,
                                        num_classes=num_classes)

    table = {
        "lenet": lambda num_classes: pvm.LeNet(num_classes=num_classes),
        "alexnet": lambda num_classes: pvm.AlexNet(num_classes=num_classes),
        "mobilenet_v1": lambda num_classes, **p: pvm.MobileNetV1(num_classes=num_classes, **p),
        "mobilenet_v2": lambda num_classes, **p: pvm.MobileNetV2(num_classes=num_classes, **p),
        "mobilenet_v3_small": lambda num_classes, **p: pvm.MobileNetV3Small(num_classes=num_classes, **p),
        "mobilenet_v3_large": lambda num_classes, **p: pvm.MobileNetV3Large(num_classes=num_classes, **p),
        "shufflenet_v2": lambda num_classes, **p: pvm.ShuffleNetV2(num_classes=num_classes, **p),
        "squeezenet1_0": lambda num_classes: pvm.SqueezeNet("1.0", num_classes=num_classes),
        "squeezenet1_1": lambda num_classes: pvm.SqueezeNet("1.1", num_classes=num_classes),
        "densenet": lambda num_classes, **p: pvm.DenseNet(num_classes=num_classes, **p),
        "googlenet": GoogLeNetMain,
        "inception_v3": lambda num_classes: pvm.InceptionV3(num_classes=num_classes),
    }
    for depth in (18, 34, 50, 101, 152):
        table[f"resnet{depth}"] = resnet(depth)
    for depth in (11, 13, 16, 19):
        table[f"vgg{depth}"] = vgg(depth, False)
        table[f"vgg{depth}_bn"] = vgg(depth, True)
    return table


CONSTRUCTORS = _constructors()


def build_network(name: str, constructor: str, input_shape, num_classes: int,
                  params: dict) -> nn.Layer:
    """Paddle's network ``constructor`` for ``input_shape`` (C, H, W) and ``num_classes``."""
    try:
        net = CONSTRUCTORS[constructor](num_classes, **params)
    except (ValueError, NotImplementedError, AssertionError, KeyError, TypeError) as exc:
        # Paddle refuses e.g. a ShuffleNet scale it has no channel table for.
        text = " ".join(str(exc).split()) or type(exc).__name__
        raise RegistryError(f"model '{name}' cannot be built with {params}: {text}") from None
    channels, height, width = input_shape
    replace_stem(net, channels)
    if constructor == "lenet":
        net.fc[0] = _fitted_linear(net.fc[0], _features_out(net.features, input_shape))
    elif constructor == "alexnet":
        convs = nn.Sequential(net._conv1, net._conv2, net._conv3, net._conv4, net._conv5)
        net._fc6 = _fitted_linear(net._fc6, _features_out(convs, input_shape))
    return net


def replace_stem(net: nn.Layer, in_channels: int) -> None:
    """Give the first convolution ``in_channels`` inputs, with the same initializer.

    Nothing changes when the count already matches, so a 3-channel model is exactly
    Paddle's.  The initializer (Kaiming, Xavier, uniform...) is kept and sees the new
    fan-in, so a grey-scale stem starts with the statistics its design intends.
    """
    path, old = next(((n, layer) for n, layer in net.named_sublayers()
                      if isinstance(layer, nn.Conv2D)), (None, None))
    if old is None or old._in_channels == in_channels:
        return
    new = nn.Conv2D(in_channels, old._out_channels, old._kernel_size, stride=old._stride,
                    padding=old._padding, dilation=old._dilation, groups=old._groups,
                    padding_mode=old._padding_mode, weight_attr=_initializer_only(old._param_attr),
                    bias_attr=False if old.bias is None else _initializer_only(old._bias_attr),
                    data_format=old._data_format)
    parent_path, _, attr = path.rpartition(".")
    parent = net
    for part in parent_path.split(".") if parent_path else ():
        parent = getattr(parent, part)
    setattr(parent, attr, new)


def _initializer_only(attr):
    # A ParamAttr may carry a fixed variable name; a second parameter must not reuse it.
    initializer = getattr(attr, "initializer", None)
    return paddle.ParamAttr(initializer=initializer) if initializer is not None else None


def _features_out(features: nn.Layer, input_shape) -> int:
    """Flattened size of ``features`` on one image of ``input_shape`` (a dry run)."""
    with paddle.no_grad():
        out = features(paddle.zeros([1, *input_shape], dtype="float32"))
    return int(out.numel())


def _fitted_linear(old: nn.Linear, in_features: int) -> nn.Linear:
    if old.weight.shape[0] == in_features:
        return old
    return nn.Linear(in_features, old.weight.shape[1], weight_attr=_initializer_only(old._weight_attr),
                     bias_attr=_initializer_only(old._bias_attr))
