"""Built-in inference backends: what serves an export made by ``zoo export``.

The backends live beside this module (``paddle_backends``, ``ort_backend``), imported only
when an entry is built.
"""

from __future__ import annotations

import zoo


def build_dygraph():
    from zoo.plugins.paddle_backends import DygraphBackend

    return DygraphBackend()


def build_paddle_inference(*, onednn: bool = True, tensorrt: bool = True, threads: int = 0):
    from zoo.plugins.paddle_backends import PaddleInferenceBackend

    return PaddleInferenceBackend(onednn=onednn, tensorrt=tensorrt, threads=threads)


def build_onnxruntime(*, threads: int = 0):
    from zoo.plugins.ort_backend import OnnxRuntimeBackend

    return OnnxRuntimeBackend(threads=threads)


@zoo.hookimpl
def zoo_register_backends(register):
    register("dygraph", build_dygraph,
             description="paddle.jit.load of a paddle export, run eagerly (the reference)")
    register("paddle-inference", build_paddle_inference,
             description="paddle.inference on a paddle export: oneDNN on CPU, TensorRT on GPU "
                         "when the build has it; threads 0 = one per core")
    register("onnxruntime", build_onnxruntime,
             description="ONNX Runtime on an onnx export (needs zoo[onnx]); threads 0 = its default")
