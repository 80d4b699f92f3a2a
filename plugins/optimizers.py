"""Built-in optimizers: the course's four (all at lr 0.01) plus AdamW and RMSProp."""

from __future__ import annotations

import zoo
from zoo import RegistryError


def _paddle_optimizer(class_name: str, **fixed):
    def factory(parameters, learning_rate, weight_decay=None, **params):
        import paddle

        cls = getattr(paddle.optimizer, class_name)
        return cls(learning_rate=learning_rate, parameters=parameters,
                   weight_decay=weight_decay, **fixed, **params)

    factory.__name__ = f"build_{class_name.lower()}"
    return factory


def build_adamw(parameters, learning_rate, weight_decay=None, *, coeff: float = 0.01,
                beta1: float = 0.9, beta2: float = 0.999):
    import paddle

    # AdamW decays weights itself (decoupled); adding an L1/L2 gradient term as well
    # would silently change the method, so that combination is refused.
    if weight_decay is not None:
        raise RegistryError("optimizer 'adamw' has decoupled weight decay (its 'coeff'); "
                            "use regularizer 'none' with it")
    return paddle.optimizer.AdamW(learning_rate=learning_rate, parameters=parameters,
                                  weight_decay=coeff, beta1=beta1, beta2=beta2)


@zoo.hookimpl
def zoo_register_optimizers(register):
    register("sgd", _paddle_optimizer("SGD"), description="Plain stochastic gradient descent",
             defaults={"learning_rate": 0.01})
    register("momentum", _paddle_optimizer("Momentum"), description="SGD with momentum 0.9",
             defaults={"learning_rate": 0.01, "momentum": 0.9})
    register("adagrad", _paddle_optimizer("Adagrad"), description="Adagrad",
             defaults={"learning_rate": 0.01, "epsilon": 1e-6})
    register("adam", _paddle_optimizer("Adam"), description="Adam",
             defaults={"learning_rate": 0.01, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8})
    register("adamw", build_adamw, description="Adam with decoupled weight decay",
             defaults={"learning_rate": 0.001, "coeff": 0.01, "beta1": 0.9, "beta2": 0.999})
    register("rmsprop", _paddle_optimizer("RMSProp"), description="RMSProp",
             defaults={"learning_rate": 0.001, "rho": 0.95, "epsilon": 1e-6, "momentum": 0.0})
