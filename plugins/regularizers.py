"""Built-in regularizers, passed to the optimizer as ``weight_decay`` (as in the course)."""

from __future__ import annotations

import zoo


def build_none():
    return None


def build_l2(*, coeff: float = 1e-5):
    import paddle

    return paddle.regularizer.L2Decay(coeff=coeff)


def build_l1(*, coeff: float = 1e-5):
    import paddle

    return paddle.regularizer.L1Decay(coeff=coeff)


@zoo.hookimpl
def zoo_register_regularizers(register):
    register("none", build_none, description="No regularization")
    register("l2", build_l2, description="L2 weight decay through the optimizer (course: 1e-5)")
    register("l1", build_l1, description="L1 weight decay through the optimizer")
