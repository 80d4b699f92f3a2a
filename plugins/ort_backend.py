"""The ``onnxruntime`` backend: serves ``onnx`` exports (an optional extra, ``zoo[onnx]``).

Built on the public surface alone (``zoo.Backend``, ``zoo.model_path``...), as a
third-party backend would be; imported only when the entry is built.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np

import zoo

INSTALL_HINT = "pip install 'zoo[onnx]' (in a checkout: python3 dev.py setup)"


class OnnxRuntimeBackend(zoo.Backend):
    name = "onnxruntime"
    format = "onnx"
    devices = ("cpu", "gpu")

    def __init__(self, threads: int = 0) -> None:
        self.threads = threads

    def problem(self, device: str) -> str | None:
        if self.threads < 0:
            return f"backend '{self.name}': threads must be >= 0 (0: one per core), got {self.threads}"
        found = super().problem(device)
        if found:
            return found
        if importlib.util.find_spec("onnxruntime") is None:
            return f"backend '{self.name}' needs onnxruntime, which is not installed: {INSTALL_HINT}"
        if device != "cpu":
            import onnxruntime

            if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
                return (f"backend '{self.name}' on {device} needs onnxruntime-gpu (this "
                        f"onnxruntime has {', '.join(onnxruntime.get_available_providers())})")
        return None

    def load(self, export_dir: Path, manifest: dict[str, Any], device: str) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3  # errors only: its warnings would bury zoo's output
        if self.threads:
            options.intra_op_num_threads = self.threads
        if device == "cpu":
            providers: list[Any] = ["CPUExecutionProvider"]
        else:  # written for a GPU machine and not run here: none of zoo's machines has a GPU
            providers = [("CUDAExecutionProvider", {"device_id": int(device.partition(":")[2] or 0)}),
                         "CPUExecutionProvider"]
        try:
            self.session = onnxruntime.InferenceSession(
                str(zoo.model_path(export_dir, manifest, ".onnx")), options, providers=providers)
        except Exception as exc:  # onnxruntime's own exception types vary by version
            raise zoo.ExportError(f"export {export_dir}: onnxruntime cannot load it: "
                                  f"{zoo.one_line(exc)}") from None
        self.input = self.session.get_inputs()[0].name

    def predict(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input: np.ascontiguousarray(batch, np.float32)})[0]

    def close(self) -> None:
        self.session = None
