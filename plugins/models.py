"""Built-in models: the course's MNIST CNN and an MLP over flat pixels."""

from __future__ import annotations

import zoo


def build_cnn(input_shape, num_classes, *, channels: int = 20, kernel_size: int = 5):
    from zoo.plugins.nets import CourseCNN

    return CourseCNN(input_shape, num_classes, channels, kernel_size)


def build_mlp(input_shape, num_classes, *, hidden1: int = 256, hidden2: int = 128,
              activation: str = "relu"):
    from zoo.plugins.nets import MLP

    return MLP(input_shape, num_classes, (hidden1, hidden2), activation)


@zoo.hookimpl
def zoo_register_models(register):
    register("cnn", build_cnn,
             description="Course CNN: 2x (Conv k5 p2 -> ReLU -> MaxPool 2), Linear 980->10")
    register("mlp", build_mlp,
             description="MLP over flat pixels with two hidden layers")
