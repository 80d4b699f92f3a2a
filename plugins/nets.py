"""Paddle layers for the built-in models (imported only when a model is built)."""

from __future__ import annotations

import math

import paddle
from paddle import nn

from zoo import RegistryError

ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "gelu": nn.GELU}


class CourseCNN(nn.Layer):
    """Exactly the course network; with 28x28 inputs the flattened size is 20*7*7 = 980."""

    def __init__(self, input_shape, num_classes: int, channels: int = 20, kernel_size: int = 5):
        super().__init__()
        in_channels, height, width = input_shape
        pad = kernel_size // 2  # 'same' padding keeps 28x28 before each pool, as in the course
        self.conv1 = nn.Conv2D(in_channels, channels, kernel_size, stride=1, padding=pad)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2D(kernel_size=2, stride=2)
        self.conv2 = nn.Conv2D(channels, channels, kernel_size, stride=1, padding=pad)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2D(kernel_size=2, stride=2)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(channels * (height // 4) * (width // 4), num_classes)

    def forward(self, x):
        x = self.pool1(self.relu1(self.conv1(x)))
        x = self.pool2(self.relu2(self.conv2(x)))
        return self.fc(self.flatten(x))


class MLP(nn.Layer):
    """Two hidden layers over the flattened image."""

    def __init__(self, input_shape, num_classes: int, hidden=(256, 128), activation: str = "relu"):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise RegistryError(f"mlp: unknown activation '{activation}' "
                                f"(choose from {', '.join(ACTIVATIONS)})")
        features = math.prod(input_shape)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(features, hidden[0])
        self.act1 = ACTIVATIONS[activation]()
        self.fc2 = nn.Linear(hidden[0], hidden[1])
        self.act2 = ACTIVATIONS[activation]()
        self.fc3 = nn.Linear(hidden[1], num_classes)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        x = self.act1(self.fc1(self.flatten(x)))
        return self.fc3(self.act2(self.fc2(x)))
