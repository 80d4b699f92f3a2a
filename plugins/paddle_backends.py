"""The Paddle backends: ``dygraph`` (the export run eagerly) and ``paddle-inference``.

Both load a ``paddle`` export (``paddle.jit.save``'s program and parameters).  paddle is
imported in ``load``, never at module level.  Built on the public surface alone
(``zoo.Backend``, ``zoo.paddle_program``, ``zoo.use_device``...), as a third-party backend
would be; imported only when an entry is built.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

import zoo


def _device_problem(device: str) -> str | None:
    if device == "cpu":
        return None
    try:
        zoo.check_device(device)
    except zoo.DeviceError as exc:
        return str(exc)
    return None


class DygraphBackend(zoo.Backend):
    """``paddle.jit.load`` of the export, called like the trained Layer: the reference
    every other backend is compared with, with none of their graph optimizations."""

    name = "dygraph"
    format = "paddle"
    devices = ("cpu", "gpu")

    def problem(self, device: str) -> str | None:
        return super().problem(device) or _device_problem(device)

    def load(self, export_dir: Path, manifest: dict[str, Any], device: str) -> None:
        import paddle

        zoo.use_device(device)
        prefix = zoo.paddle_program(export_dir, manifest).with_suffix("")
        try:
            self.layer = paddle.jit.load(str(prefix))
        except Exception as exc:  # paddle raises assorted types for a bad program
            raise zoo.ExportError(f"export {export_dir}: paddle.jit.load failed: "
                                  f"{zoo.one_line(exc)}") from None
        self.layer.eval()
        self._paddle = paddle

    def predict(self, batch: np.ndarray) -> np.ndarray:
        with self._paddle.no_grad():
            return np.asarray(self.layer(self._paddle.to_tensor(batch)).numpy())


class PaddleInferenceBackend(zoo.Backend):
    """``paddle.inference``: the program after Paddle's inference passes, with oneDNN
    kernels on CPU (``onednn``) and TensorRT subgraphs on a GPU whose Paddle has it."""

    name = "paddle-inference"
    format = "paddle"
    devices = ("cpu", "gpu")

    def __init__(self, onednn: bool = True, tensorrt: bool = True, threads: int = 0,
                 max_batch: int = 1024) -> None:
        self.onednn, self.tensorrt, self.threads, self.max_batch = onednn, tensorrt, threads, max_batch

    def problem(self, device: str) -> str | None:
        if self.threads < 0:
            return f"backend '{self.name}': threads must be >= 0 (0: one per core), got {self.threads}"
        return super().problem(device) or _device_problem(device)

    def load(self, export_dir: Path, manifest: dict[str, Any], device: str) -> None:
        from paddle import inference

        config = inference.Config(str(zoo.paddle_program(export_dir, manifest)),
                                  str(zoo.model_path(export_dir, manifest, ".pdiparams")))
        config.disable_glog_info()
        if device == "cpu":
            config.disable_gpu()
            config.set_cpu_math_library_num_threads(self.threads or os.cpu_count() or 1)
            # Paddle 3 renamed the switches from mkldnn to onednn; older builds have only those.
            switch = "enable" if self.onednn else "disable"
            (getattr(config, f"{switch}_onednn", None) or getattr(config, f"{switch}_mkldnn"))()
        else:
            self._use_gpu(inference, config, device, manifest)
        try:
            self.predictor = inference.create_predictor(config)
        except Exception as exc:
            raise zoo.ExportError(f"export {export_dir}: paddle.inference cannot load it: "
                              f"{zoo.one_line(exc)}") from None
        self.input = self.predictor.get_input_handle(self.predictor.get_input_names()[0])
        self.output = self.predictor.get_output_handle(self.predictor.get_output_names()[0])

    def _use_gpu(self, inference, config, device: str, manifest: dict[str, Any]) -> None:
        # Written for a GPU machine and not run here: none of zoo's machines has a GPU.
        config.enable_use_gpu(256, int(device.partition(":")[2] or 0))
        if not self.tensorrt or inference.get_trt_compile_version() == (0, 0, 0):
            return  # this Paddle build has no TensorRT: plain CUDA kernels
        config.enable_tensorrt_engine(workspace_size=1 << 30, max_batch_size=self.max_batch,
                                      min_subgraph_size=3,
                                      precision_mode=inference.PrecisionType.Float32,
                                      use_static=False, use_calib_mode=False)
        # The batch dimension is dynamic: TensorRT needs its range before it builds.
        name, shape = manifest["input"].get("name", zoo.INPUT_NAME), manifest["input"]["shape"]
        config.set_trt_dynamic_shape_info({name: [1, *shape]}, {name: [self.max_batch, *shape]},
                                          {name: [min(64, self.max_batch), *shape]})

    def predict(self, batch: np.ndarray) -> np.ndarray:
        batch = np.ascontiguousarray(batch, np.float32)
        self.input.reshape(list(batch.shape))
        self.input.copy_from_cpu(batch)
        self.predictor.run()
        return self.output.copy_to_cpu()

    def close(self) -> None:
        self.predictor = self.input = self.output = None
