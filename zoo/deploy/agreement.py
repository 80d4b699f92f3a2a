"""Does an export compute what the trained model computes?

The reference is the dygraph Layer fed exactly as in training (the dataset's own
``zoo.data.transform_of``, never a default); the backend is fed as ``zoo predict`` feeds it
(the manifest's normalization).  So the check
covers the conversion, the runtime and the recorded preprocessing at once.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from zoo.deploy import manifest as mf

TOLERANCE = 1e-4  # max |logit difference|; float32 reorderings stay near 1e-6
CHUNK = 256


def reference_logits(net, images: np.ndarray, transform) -> np.ndarray:
    """The trained model's logits for uint8 ``images`` (``[N, H, W]`` or ``[N, H, W, C]``),
    normalized as evaluation in training does with the dataset's ``transform``."""
    import paddle

    from zoo.data import normalize_images

    with paddle.no_grad():
        return np.concatenate([
            net(paddle.to_tensor(normalize_images(images[i:i + CHUNK], transform.mean, transform.std))).numpy()
            for i in range(0, len(images), CHUNK)])


def backend_logits(backend, pixels: np.ndarray, normalization: dict[str, Any]) -> np.ndarray:
    """The backend's logits for pixels ``[N, C, H, W]`` (0..255)."""
    return np.concatenate([np.asarray(backend.predict(mf.normalize(pixels[i:i + CHUNK], normalization)))
                           for i in range(0, len(pixels), CHUNK)])


def compare(reference: np.ndarray, logits: np.ndarray) -> dict[str, Any]:
    """Max absolute difference, how many argmax classes differ, and whether they agree."""
    n = len(reference)
    if logits.shape != reference.shape:
        return {"images": n, "max_abs_diff": float("inf"), "classes_differ": n, "agrees": False,
                "problem": f"logits shape {list(logits.shape)}, expected {list(reference.shape)}"}
    diff = float(np.max(np.abs(reference.astype(np.float64) - logits))) if n else 0.0
    differ = int(np.sum(reference.argmax(axis=1) != logits.argmax(axis=1)))
    agrees = bool(np.isfinite(diff) and diff <= TOLERANCE and differ == 0)
    return {"images": n, "max_abs_diff": diff, "classes_differ": differ, "agrees": agrees}


def agreement(backend, net, images: np.ndarray, normalization: dict[str, Any],
              transform) -> dict[str, Any]:
    return compare(reference_logits(net, images, transform),
                   backend_logits(backend, mf.to_nchw(images), normalization))
