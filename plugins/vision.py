"""Built-in models from ``paddle.vision.models``: every classification family of this Paddle.

The networks are Paddle's own code (``zoo.plugins.vision_nets`` adapts them to a dataset's
channels and classes).  This module holds only the table, so listing the catalogue
imports no paddle.  Pretrained weights would need a download from a model hub, which zoo
never does: ``pretrained`` is declared so that asking for it is a clear error, not an
unknown parameter.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import zoo
from zoo import RegistryError


@dataclass(frozen=True)
class VisionModel:
    title: str
    constructor: str  # key of zoo.plugins.vision_nets.CONSTRUCTORS
    params: int  # trainable parameters at 10 classes on the designed input (a test checks)
    designed: tuple[int, int, int] = (3, 224, 224)
    min_size: int = 1  # smallest height and width whose feature maps do not vanish
    defaults: dict = field(default_factory=dict)  # tunable constructor arguments
    fixed: dict = field(default_factory=dict)  # constructor arguments the name decides


def _resnets() -> dict[str, VisionModel]:
    table = {"resnet18": VisionModel("ResNet-18", "resnet18", 11_181_642),
             "resnet34": VisionModel("ResNet-34", "resnet34", 21_289_802)}
    # width and groups are ResNet's own arguments: the wide and ResNeXt variants differ
    # from ResNet-50/101/152 in nothing else.
    bottleneck = {"resnet50": ("ResNet-50", 50, 64, 1, 23_528_522),
                  "resnet101": ("ResNet-101", 101, 64, 1, 42_520_650),
                  "resnet152": ("ResNet-152", 152, 64, 1, 58_164_298),
                  "wide_resnet50_2": ("Wide ResNet-50-2", 50, 128, 1, 66_854_730),
                  "wide_resnet101_2": ("Wide ResNet-101-2", 101, 128, 1, 124_858_186),
                  "resnext50_32x4d": ("ResNeXt-50 32x4d", 50, 4, 32, 23_000_394),
                  "resnext50_64x4d": ("ResNeXt-50 64x4d", 50, 4, 64, 43_163_978),
                  "resnext101_32x4d": ("ResNeXt-101 32x4d", 101, 4, 32, 42_149_194),
                  "resnext101_64x4d": ("ResNeXt-101 64x4d", 101, 4, 64, 81_426_762),
                  "resnext152_32x4d": ("ResNeXt-152 32x4d", 152, 4, 32, 57_922_890),
                  "resnext152_64x4d": ("ResNeXt-152 64x4d", 152, 4, 64, 112_943_434)}
    for name, (title, depth, width, groups, params) in bottleneck.items():
        table[name] = VisionModel(title, f"resnet{depth}", params,
                                  defaults={"width": width, "groups": groups})
    return table


def _table() -> dict[str, VisionModel]:
    table = {"lenet": VisionModel("LeNet", "lenet", 61_610, designed=(1, 28, 28), min_size=10),
             "alexnet": VisionModel("AlexNet", "alexnet", 57_044_810, min_size=47)}
    vggs = {11: (128_807_306, 128_812_810), 13: (128_991_818, 128_997_706),
            16: (134_301_514, 134_309_962), 19: (139_611_210, 139_622_218)}
    for depth, (plain, bn) in vggs.items():
        table[f"vgg{depth}"] = VisionModel(f"VGG-{depth}", f"vgg{depth}", plain)
        table[f"vgg{depth}_bn"] = VisionModel(f"VGG-{depth} with batch norm", f"vgg{depth}_bn", bn)
    table.update(_resnets())
    scale = {"scale": 1.0}
    table.update({
        "mobilenet_v1": VisionModel("MobileNet v1", "mobilenet_v1", 3_217_226, defaults=scale),
        "mobilenet_v2": VisionModel("MobileNet v2", "mobilenet_v2", 2_236_682, defaults=scale),
        "mobilenet_v3_small": VisionModel("MobileNet v3 small", "mobilenet_v3_small", 1_528_106,
                                          defaults=scale),
        "mobilenet_v3_large": VisionModel("MobileNet v3 large", "mobilenet_v3_large", 4_214_842,
                                          defaults=scale),
    })
    # Paddle has channel tables for the scales 0.25, 0.33, 0.5, 1.0, 1.5 and 2.0 only.
    shufflenets = {"x0_25": (0.25, "relu", 95_818), "x0_33": (0.33, "relu", 139_402),
                   "x0_5": (0.5, "relu", 352_042), "x1_0": (1.0, "relu", 1_263_854),
                   "x1_5": (1.5, "relu", 2_488_874), "x2_0": (2.0, "relu", 5_338_026),
                   "swish": (1.0, "swish", 1_263_854)}
    for suffix, (size, act, params) in shufflenets.items():
        table[f"shufflenet_v2_{suffix}"] = VisionModel(
            f"ShuffleNet v2 {suffix}", "shufflenet_v2", params, defaults={"scale": size, "act": act})
    table["squeezenet1_0"] = VisionModel("SqueezeNet 1.0", "squeezenet1_0", 740_554, min_size=27)
    table["squeezenet1_1"] = VisionModel("SqueezeNet 1.1", "squeezenet1_1", 727_626, min_size=21)
    densenets = {121: 6_964_106, 161: 26_494_090, 169: 12_501_130, 201: 18_112_138,
                 264: 30_675_594}
    for depth, params in densenets.items():
        table[f"densenet{depth}"] = VisionModel(f"DenseNet-{depth}", "densenet", params,
                                                defaults={"bn_size": 4, "dropout": 0.0},
                                                fixed={"layers": depth})
    table["googlenet"] = VisionModel("GoogLeNet without auxiliary heads", "googlenet", 5_976_522,
                                     min_size=45)
    table["inception_v3"] = VisionModel("Inception v3", "inception_v3", 21_806_058,
                                        designed=(3, 299, 299), min_size=59)
    return table


MODELS = _table()


def check_input(name: str, input_shape, num_classes: int, min_size: int,
                designed: tuple[int, int, int]) -> tuple[int, int, int]:
    """The (C, H, W) to build for, or a RegistryError saying why this input cannot work.

    Checked before Paddle sees the shape: on feature maps that shrink to nothing some
    Paddle kernels corrupt memory instead of raising.
    """
    shape = tuple(input_shape)
    if len(shape) != 3 or not all(isinstance(d, int) and d > 0 for d in shape):
        raise RegistryError(f"model '{name}' needs images of shape (channels, height, width), "
                            f"got input shape {list(shape)}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise RegistryError(f"model '{name}' needs at least one class, got {num_classes!r}")
    _, height, width = shape
    if height < min_size or width < min_size:
        raise RegistryError(
            f"input too small: model '{name}' needs at least {min_size}x{min_size} images, got "
            f"{height}x{width} (designed for {'x'.join(map(str, designed))}); use larger or "
            "resized images (imagefolder: --set dataset.size=N)")
    return shape


def _factory(name: str, spec: VisionModel):
    def build(input_shape, num_classes, *, pretrained: bool = False, **params):
        shape = check_input(name, input_shape, num_classes, spec.min_size, spec.designed)
        if pretrained:
            raise RegistryError(f"model '{name}': pretrained weights are not offered (zoo never "
                                "downloads model weights); use pretrained=false")
        from zoo.plugins.vision_nets import build_network

        return build_network(name, spec.constructor, shape, num_classes,
                             {**spec.fixed, **params})

    build.__name__ = f"build_{name}"
    return build


def count(params: int) -> str:
    """11181642 -> '11.2M', 61610 -> '61.6K'."""
    return f"{params / 1e6:.1f}M" if params >= 1_000_000 else f"{params / 1e3:.1f}K"


def describe(spec: VisionModel) -> str:
    size = "x".join(map(str, spec.designed))
    floor = f", needs >= {spec.min_size}x{spec.min_size}" if spec.min_size > 1 else ""
    return (f"{spec.title} (paddle.vision.models): {count(spec.params)} params at 10 classes, "
            f"designed for {size}{floor}; pretrained=false only")


@zoo.hookimpl
def zoo_register_models(register):
    for name, spec in MODELS.items():
        register(name, _factory(name, spec), description=describe(spec),
                 defaults={"pretrained": False, **spec.defaults})
