"""Paddle layers of the plugin; imported only from factories (it imports paddle)."""

from __future__ import annotations

import paddle
from paddle import nn

ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}


class LeNet5(nn.Layer):
    """Classic LeNet-5 adapted to 28x28 inputs (the first convolution pads by 2).

    Conv(C->6, k5, p2) -> act -> MaxPool 2 -> Conv(6->16, k5) -> act -> MaxPool 2 ->
    Linear(16*5*5=400 -> 120) -> act -> Linear(120 -> 84) -> act -> Linear(84 -> classes).
    """

    def __init__(self, input_shape, num_classes: int, activation: str = "relu") -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation '{activation}' "
                             f"(choose from {', '.join(ACTIVATIONS)})")
        if len(input_shape) != 3:
            raise ValueError(f"LeNet5 needs input_shape (C, H, W), got {tuple(input_shape)}")
        channels, height, width = input_shape
        # Spatial size after conv(p2) -> pool 2 -> conv(k5) -> pool 2.
        out_h, out_w = (height // 2 - 4) // 2, (width // 2 - 4) // 2
        if out_h < 1 or out_w < 1:
            raise ValueError(f"LeNet5 input {height}x{width} is too small (at least 12x12)")
        act = ACTIVATIONS[activation]
        self.features = nn.Sequential(
            nn.Conv2D(channels, 6, kernel_size=5, padding=2), act(), nn.MaxPool2D(2, 2),
            nn.Conv2D(6, 16, kernel_size=5), act(), nn.MaxPool2D(2, 2))
        self.classifier = nn.Sequential(
            nn.Linear(16 * out_h * out_w, 120), act(),
            nn.Linear(120, 84), act(),
            nn.Linear(84, num_classes))

    def forward(self, x):
        return self.classifier(paddle.flatten(self.features(x), start_axis=1))
