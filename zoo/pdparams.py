"""Plain Paddle state files (``.pdparams``/``.pdopt``): Python pickles, read only when
trusted, with their tensors as numpy arrays.  zoo's own checkpoints never need this
(``zoo.checkpoint`` is pickle-free); ``zoo eval``/``zoo export`` of a plain file do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zoo.errors import CheckpointError, one_line


def load_paddle_state(path: Path, trust: bool = False) -> dict[str, Any]:
    """Load a plain Paddle ``.pdparams``/``.pdopt`` file (a pickle) with tensors as numpy.

    Refused unless ``trust`` is True, before the file is opened. Tensors, also inside
    nested dicts/lists (e.g. "master_weights"), become numpy arrays; other values (e.g.
    the "LR_Scheduler" dict's numbers) are returned unchanged, hence ``dict[str, Any]``.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no such file: {path}")
    if not trust:
        raise CheckpointError(f"refusing to load {path}: .pdparams/.pdopt files are Python pickles and can "
                              "run code; pass --trust-pickle if you trust its source")
    import paddle  # lazy: keep this module importable and fast without paddle

    try:
        obj = paddle.load(str(path))
    except Exception as e:  # paddle raises assorted types for unreadable files
        raise CheckpointError(f"cannot load {path}: {one_line(e)}") from None
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path} does not hold a state dict (got {type(obj).__name__})")

    def convert(v: Any) -> Any:
        if isinstance(v, paddle.Tensor):
            return v.numpy()
        if isinstance(v, dict):
            return {k: convert(x) for k, x in v.items()}
        return type(v)(map(convert, v)) if isinstance(v, (list, tuple)) else v

    return {k: convert(v) for k, v in obj.items()}
