"""Built-in LR schedules, each stepped once per optimizer step.

Lengths are given as fractions of the run (``total_steps``) so a schedule means the same
thing whatever the epochs, batch size and dataset.
"""

from __future__ import annotations

import zoo
from zoo import RegistryError


def build_constant(learning_rate, total_steps):
    from zoo.plugins.lr import ConstantLR

    return ConstantLR(learning_rate)


def build_polynomial(learning_rate, total_steps, *, end_lr: float = 0.001, power: float = 1.0):
    import paddle

    return paddle.optimizer.lr.PolynomialDecay(learning_rate=learning_rate,
                                               decay_steps=max(1, total_steps),
                                               end_lr=end_lr, power=power)


def build_cosine(learning_rate, total_steps, *, eta_min: float = 0.0):
    import paddle

    return paddle.optimizer.lr.CosineAnnealingDecay(learning_rate=learning_rate,
                                                    T_max=max(1, total_steps), eta_min=eta_min)


def build_piecewise(learning_rate, total_steps, *, milestones: list = (0.5, 0.75),
                    gamma: float = 0.1):
    import paddle

    if not all(isinstance(m, (int, float)) and 0 < m < 1 for m in milestones):
        raise RegistryError("schedule 'piecewise': milestones are fractions of the run in (0, 1)")
    boundaries = sorted({max(1, round(m * total_steps)) for m in milestones})
    values = [learning_rate * gamma ** i for i in range(len(boundaries) + 1)]
    return paddle.optimizer.lr.PiecewiseDecay(boundaries=boundaries, values=values)


def build_warmup(learning_rate, total_steps, build_schedule, *, fraction: float = 0.1,
                 start_lr: float = 0.0, then: str = "constant"):
    import paddle

    if then == "warmup":
        raise RegistryError("schedule 'warmup' cannot wrap itself")
    warmup_steps = max(1, round(fraction * total_steps))
    inner = build_schedule(then, learning_rate, max(1, total_steps - warmup_steps))
    return paddle.optimizer.lr.LinearWarmup(learning_rate=inner, warmup_steps=warmup_steps,
                                            start_lr=start_lr, end_lr=learning_rate)


@zoo.hookimpl
def zoo_register_schedules(register):
    register("constant", build_constant, description="Constant learning rate")
    register("polynomial", build_polynomial,
             description="Linear decay from the base rate to end_lr over the run (course: 0.01 -> 0.001)")
    register("cosine", build_cosine, description="Cosine annealing to eta_min over the run")
    register("piecewise", build_piecewise,
             description="Multiply the rate by gamma at fractions of the run")
    register("warmup", build_warmup,
             description="Linear warmup over a fraction of the run, then another schedule")
