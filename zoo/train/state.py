"""Training state <-> flat numpy arrays keyed by the model's structured parameter names.

Paddle names parameters and optimizer accumulators after a process-wide counter
("linear_3.w_0_moment1_0"), so the same model gets other names when other models were
built first.  Checkpoints therefore key everything by structured names ("fc.weight"), and
are mapped back onto whatever names the current process generated.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from zoo.errors import CheckpointError

MODEL_PREFIX = "model/"
OPTIM_PREFIX = "optim/"


def _structured_names(model) -> dict[str, str]:
    """Paddle variable name -> structured name, for every parameter of the model."""
    return {param.name: name for name, param in model.named_parameters()}


def capture(model, optimizer) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Arrays (parameters and optimizer accumulators) and JSON state (the LR scheduler)."""
    arrays = {MODEL_PREFIX + name: param.numpy() for name, param in model.named_parameters()}
    # Longest names first so 'fc.w_0_moment1_0' is never claimed by a shorter prefix.
    by_var = sorted(_structured_names(model).items(), key=lambda kv: -len(kv[0]))
    scheduler: dict[str, Any] = {}
    for key, value in optimizer.state_dict().items():
        if key == "LR_Scheduler":
            scheduler = dict(value)
            continue
        if not hasattr(value, "numpy"):
            raise CheckpointError(f"cannot checkpoint optimizer state '{key}' of type "
                                  f"{type(value).__name__}")
        for var, structured in by_var:
            if key.startswith(var + "_"):
                arrays[f"{OPTIM_PREFIX}{structured}/{key[len(var) + 1:]}"] = value.numpy()
                break
        else:
            raise CheckpointError(f"optimizer state '{key}' belongs to no model parameter")
    return arrays, {"scheduler": scheduler}


def restore(model, optimizer, scheduler, arrays: dict[str, np.ndarray], state: dict[str, Any]) -> None:
    """Load parameters now; hand accumulators to the optimizer, which sets them on first use."""
    import paddle

    params = dict(model.named_parameters())
    saved = {k[len(MODEL_PREFIX):] for k in arrays if k.startswith(MODEL_PREFIX)}
    if saved != set(params):
        missing, extra = sorted(set(params) - saved), sorted(saved - set(params))
        raise CheckpointError(f"checkpoint does not fit this model (missing: {missing[:3]}, "
                              f"unexpected: {extra[:3]})")
    for name, param in params.items():
        value = arrays[MODEL_PREFIX + name]
        if tuple(value.shape) != tuple(param.shape):
            raise CheckpointError(f"checkpoint parameter '{name}' has shape {list(value.shape)}, "
                                  f"model has {list(param.shape)}")
        param.set_value(value)
    var_of = {name: param.name for name, param in params.items()}
    optim_state: dict[str, Any] = {}
    for key, value in arrays.items():
        if key.startswith(OPTIM_PREFIX):
            structured, _, suffix = key[len(OPTIM_PREFIX):].rpartition("/")
            optim_state[f"{var_of[structured]}_{suffix}"] = paddle.to_tensor(value)
    if state.get("scheduler"):
        optim_state["LR_Scheduler"] = state["scheduler"]
    if optim_state:
        optimizer.set_state_dict(optim_state)
    if scheduler is not None and state.get("scheduler"):
        scheduler.set_state_dict(state["scheduler"])
