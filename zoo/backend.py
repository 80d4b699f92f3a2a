"""The public contract of an inference backend (``zoo.Backend``): what serves an export.

A backend loads an export folder written by ``zoo export`` (its ``zoo-export.json`` says
what the folder holds) and maps a float32 batch, already normalized as the manifest
says, to logits.  ``zoo predict``, ``zoo export``'s agreement check and ``zoo bench-infer``
only ever talk to this interface, so a third-party backend (OpenVINO, say) is used
exactly like the built-ins.

Importing this module costs nothing: no numpy, no paddle.  Backends import their
runtime inside ``problem`` and ``load``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # annotations only: importing numpy here would slow down `import zoo`
    import numpy as np

EXPORT_FORMATS = ("paddle", "onnx")


class Backend:
    """Base class of inference backends; subclass it and override ``load`` and ``predict``.

    ``format`` is the export format it loads (``"paddle"``: ``paddle.jit.save``'s files;
    ``"onnx"``: ``model.onnx``), ``devices`` the device kinds it can run on (``"cpu"``,
    ``"gpu"``).  One instance serves one loaded export.
    """

    name = "?"
    format = "paddle"
    devices: tuple[str, ...] = ("cpu",)

    def problem(self, device: str) -> str | None:
        """Why this backend cannot run on ``device`` (``cpu``, ``gpu``, ``gpu:N``) on this
        machine, e.g. a missing package or no such GPU; ``None`` when it can.  Cheap: it
        is asked before anything is loaded, and its answer is shown to the user as is."""
        kind = device.partition(":")[0]
        if kind not in self.devices:
            return f"backend '{self.name}' runs on {', '.join(self.devices)}, not {device}"
        return None

    def load(self, export_dir: Path, manifest: dict[str, Any], device: str) -> None:
        """Load the model in ``export_dir`` (verified; ``manifest`` is its zoo-export.json)
        for ``device``.  Raise ``zoo.errors.ExportError`` for an export it cannot load."""
        raise NotImplementedError

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """Logits ``[N, num_classes]`` (float32) of a float32 batch ``[N, C, H, W]``."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what ``load`` holds (sessions, predictors); the default does nothing."""
