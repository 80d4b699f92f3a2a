"""The plugin module named by the ``zoo`` entry point: hook implementations only.

paddle (and ``zoo_lenet.nets``, which imports it) is imported inside the factories, so
``zoo list`` stays fast with this plugin installed.
"""

from __future__ import annotations

import zoo


def build_lenet5(input_shape, num_classes, *, activation: str = "relu"):
    """LeNet-5 for ``input_shape`` (C, H, W); ``activation`` is relu, sigmoid or tanh."""
    from zoo_lenet.nets import LeNet5

    return LeNet5(input_shape, num_classes, activation)


def build_step(learning_rate, total_steps, *, step_fraction: float = 0.33, gamma: float = 0.5):
    """Multiply the rate by ``gamma`` every ``step_fraction`` of the run."""
    import paddle

    if step_fraction <= 0:
        raise ValueError(f"step_fraction must be > 0, got {step_fraction}")
    step_size = max(1, round(step_fraction * total_steps))
    return paddle.optimizer.lr.StepDecay(learning_rate=learning_rate, step_size=step_size,
                                         gamma=gamma)


@zoo.hookimpl
def zoo_register_models(register):
    register("lenet5", build_lenet5,
             description="LeNet-5 for 28x28: 2x (Conv k5 -> act -> MaxPool 2), FC 400-120-84",
             defaults={"activation": "relu"})


@zoo.hookimpl
def zoo_register_schedules(register):
    register("step", build_step,
             description="Step decay: multiply the rate by gamma every step_fraction of the run",
             defaults={"step_fraction": 0.33, "gamma": 0.5})
