"""Built-in datasets: MNIST (IDX files or the course's JSON format) and its packaged sample,
Fashion-MNIST, CIFAR-10 (binary version) and a user's own image folders."""

from __future__ import annotations

import zoo


def build_mnist(data_dir=None, *, val_fraction: float = 1 / 6, split_seed: int = 0,
                download: bool = True, progress: bool = True, sample_fallback: bool = True):
    return zoo.load_mnist(data_dir, val_fraction=val_fraction, split_seed=split_seed,
                          download=download, progress=progress, sample_fallback=sample_fallback)


def build_mnist_sample(data_dir=None, *, val_fraction: float = 1 / 6, split_seed: int = 0,
                       progress: bool = True):
    # data_dir is ignored: this entry is always the sample inside the package. progress
    # is accepted (nothing is downloaded) because sweeps and `zoo eval` pass it to every
    # dataset.
    return zoo.load_mnist(zoo.MNIST_SAMPLE_DIR, val_fraction=val_fraction, split_seed=split_seed,
                          download=False, progress=False)


def build_fashion_mnist(data_dir=None, *, val_fraction: float = 1 / 6, split_seed: int = 0,
                        download: bool = True, progress: bool = True, augment: str = "none"):
    return zoo.load_fashion_mnist(data_dir, val_fraction=val_fraction, split_seed=split_seed,
                                  download=download, progress=progress, augment=augment)


def build_cifar10(data_dir=None, *, val_fraction: float = 0.1, split_seed: int = 0,
                  download: bool = True, progress: bool = True, augment: str = "none"):
    return zoo.load_cifar10(data_dir, val_fraction=val_fraction, split_seed=split_seed,
                            download=download, progress=progress, augment=augment)


def build_imagefolder(data_dir=None, *, mode: str = "auto", size: int = 0, val_fraction: float = 0.1,
                      split_seed: int = 0, augment: str = "none", progress: bool = True):
    return zoo.load_imagefolder(data_dir, mode=mode, size=size, val_fraction=val_fraction,
                                split_seed=split_seed, augment=augment, progress=progress)


@zoo.hookimpl
def zoo_register_datasets(register):
    register("mnist", build_mnist, input_shape=(1, 28, 28), num_classes=10,
             description="MNIST digits (IDX files or the course's mnist.json.gz), 28x28, 10 classes")
    register("mnist-sample", build_mnist_sample, input_shape=(1, 28, 28), num_classes=10,
             description="1,000/500 train/test MNIST sample shipped with zoo; offline smoke tests, "
                         "accuracies not representative")
    register("fashion-mnist", build_fashion_mnist, input_shape=(1, 28, 28), num_classes=10,
             description="Fashion-MNIST: 10 kinds of clothing (IDX files, MNIST's layout), 1x28x28; "
                         "augment=flip_crop optional")
    register("cifar10", build_cifar10, input_shape=(3, 32, 32), num_classes=10,
             description="CIFAR-10 binary version (never the pickled one), 3x32x32, 10 classes; "
                         "augment=flip_crop optional")
    register("imagefolder", build_imagefolder,
             description="Your images: --data-dir ROOT with ROOT/train/<class>/*.png|jpg, ROOT/test/, "
                         "optional ROOT/val/; decoded once, cached")
