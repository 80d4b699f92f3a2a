"""The Open Inference Protocol (KServe v2) over REST, for one export: parse and check an
inference request, build the metadata and the inference response.

Pure functions on plain data (JSON-decoded dicts, numpy arrays): no HTTP here, so every
rule is tested without a server.  A request that breaks a rule raises ``ProtocolError``
with the HTTP status and the one-line message the protocol's error JSON carries.

What zoo serves, per export: one input ``image`` of datatype FP32 (pixels normalised as
the manifest says) or UINT8 (pixels 0..255, normalised here from the manifest), shape
``[N, C, H, W]``; one output ``logits`` FP32 ``[N, classes]``.  Triton's classification
extension is honoured: an output requested with ``{"parameters": {"classification": K}}``
comes back as BYTES ``[N, K]`` of ``"logit:index:label"`` strings, best first.  So is the
binary tensor data extension (``zoo.serving.binary``): inputs and outputs as raw bytes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from zoo.deploy import manifest as mf
from zoo.serving import binary
from zoo.serving.protocol_error import ProtocolError, bad  # noqa: F401 (ProtocolError: the routes')

OUTPUT = "logits"
VERSION = "1"  # an export is one version of one model
INPUT_DATATYPES = ("FP32", "UINT8")
PARAMETER_TYPES = (str, int, float, bool)


@dataclass(frozen=True)
class InferRequest:
    id: str | None
    batch: np.ndarray  # float32 [N, C, H, W], normalised: what the backend takes
    classification: int  # 0: logits as numbers; K: the top K as Triton's BYTES strings
    binary_output: bool = False  # the output's data as bytes after the JSON, not in it


def model_metadata(name: str, manifest: dict[str, Any], serving: dict[str, Any]) -> dict[str, Any]:
    """The protocol's model metadata response for an export served as ``name``.

    ``parameters`` (zoo's addition; clients ignore fields they do not know) says how it is
    served (backend, device, batching) and what it was trained as, in scalar values as the
    protocol's parameters are, so ``zoo bench-serve`` needs nothing but the URL."""
    shape = [-1, *manifest["input"]["shape"]]
    classes = len(manifest["class_names"])
    return {"name": name, "versions": [VERSION], "platform": f"zoo_{manifest['export_format']}",
            "inputs": [{"name": mf.INPUT_NAME, "datatype": "FP32", "shape": shape}],
            "outputs": [{"name": OUTPUT, "datatype": "FP32", "shape": [-1, classes]}],
            "parameters": {**serving, "model": manifest["model"], "dataset": manifest["dataset"]}}


def parse_infer(body: Any, manifest: dict[str, Any], binary_data: bytes = b"") -> InferRequest:
    """The checked request of a decoded JSON ``body`` (any JSON value) and of the
    ``binary_data`` that followed its JSON header (binary tensor data extension)."""
    if not isinstance(body, dict):
        raise bad("the request body must be a JSON object with an 'inputs' list")
    request_id = body.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise bad("'id' must be a string")
    parameters = _parameters(body.get("parameters"), "request")
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or len(inputs) != 1:
        raise bad(f"'inputs' must be a list holding exactly one tensor, '{mf.INPUT_NAME}'")
    reader = binary.BinaryReader(binary_data)
    batch = _input_tensor(inputs[0], manifest, reader)
    reader.finish()
    classification, binary_output = _output(body.get("outputs"), parameters)
    return InferRequest(request_id, batch, classification, binary_output)


def _parameters(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, PARAMETER_TYPES) for v in value.values()):
        raise bad(f"{where} 'parameters' must be an object of strings, numbers and booleans")
    return value


def _input_tensor(tensor: Any, manifest: dict[str, Any], reader: binary.BinaryReader) -> np.ndarray:
    if not isinstance(tensor, dict):
        raise bad("each input must be a JSON object with name, shape, datatype and data")
    name = tensor.get("name")
    if name != mf.INPUT_NAME:
        raise bad(f"unknown input {name!r}; the model's input is '{mf.INPUT_NAME}'")
    params = _parameters(tensor.get("parameters"), f"input '{name}'")
    datatype = tensor.get("datatype")
    if datatype not in INPUT_DATATYPES:
        raise bad(f"input '{name}' has datatype {datatype!r}; expected FP32 (normalised pixels) "
                  f"or UINT8 (pixels 0..255)")
    shape = _shape(tensor.get("shape"), manifest, name)
    if "binary_data_size" in params:
        if "data" in tensor:
            raise bad(f"input '{name}' has both 'data' and the parameter 'binary_data_size'; send one")
        values = _binary_values(reader.take(params["binary_data_size"], datatype, math.prod(shape), name),
                                datatype, name)
    else:
        values = _values(tensor.get("data"), datatype, math.prod(shape), name)
    pixels = values.reshape(shape)
    if datatype == "UINT8":
        return mf.normalize(pixels, manifest["normalization"])
    return np.ascontiguousarray(pixels, dtype=np.float32)


def _shape(shape: Any, manifest: dict[str, Any], name: str) -> list[int]:
    wanted = list(manifest["input"]["shape"])
    if not (isinstance(shape, list) and all(isinstance(d, int) and not isinstance(d, bool) for d in shape)):
        raise bad(f"input '{name}' needs a shape: a list of integers [N, {', '.join(map(str, wanted))}]")
    if len(shape) != 4 or shape[1:] != wanted or shape[0] < 1:
        raise bad(f"input '{name}' has shape {shape}; the model takes "
                  f"[N, {', '.join(map(str, wanted))}] with N >= 1")
    return shape


def _values(data: Any, datatype: str, count: int, name: str) -> np.ndarray:
    """The flat float32 values of ``data`` (flat or nested lists, row-major), strictly typed."""
    if not isinstance(data, list):
        raise bad(f"input '{name}' needs its 'data' as a list of numbers")
    try:
        array = np.array(data)  # no dtype: strings, booleans and nulls stay visible as such
    except ValueError:
        raise bad(f"input '{name}': 'data' is a ragged nested list") from None
    if array.dtype.kind not in "iuf" or array.size != count:
        if array.dtype.kind in "iuf" or array.size == 0:
            raise bad(f"input '{name}' holds {array.size} values; its shape needs {count}")
        raise bad(f"input '{name}': 'data' must hold only numbers ({datatype})")
    flat = array.reshape(-1)
    if datatype == "UINT8":
        if array.dtype.kind == "f" or flat.min() < 0 or flat.max() > 255:
            raise bad(f"input '{name}' is UINT8: its values must be integers 0..255")
    elif not np.all(np.isfinite(flat)):  # JSON has no NaN, but Python's json reads it
        raise bad(f"input '{name}': FP32 values must be finite")
    return flat.astype(np.float32)


def _binary_values(flat: np.ndarray, datatype: str, name: str) -> np.ndarray:
    """The flat float32 values of an input's binary data (any byte is a UINT8 pixel)."""
    values = flat.astype(np.float32)
    if datatype == "FP32" and not np.all(np.isfinite(values)):
        raise bad(f"input '{name}': FP32 values must be finite")
    return values


def _output(outputs: Any, request_parameters: dict[str, Any]) -> tuple[int, bool]:
    """The classification asked for (0: logits) and whether the output goes back as binary data."""
    if outputs is None:
        return 0, binary.wanted_binary(request_parameters, {})
    if not isinstance(outputs, list) or len(outputs) != 1 or not isinstance(outputs[0], dict):
        raise bad(f"'outputs' must be a list holding one object, the output '{OUTPUT}'")
    if outputs[0].get("name") != OUTPUT:
        raise bad(f"unknown output {outputs[0].get('name')!r}; the model's output is '{OUTPUT}'")
    params = _parameters(outputs[0].get("parameters"), f"output '{OUTPUT}'")
    k = params.get("classification", 0)
    if isinstance(k, bool) or not isinstance(k, int) or k < 0:
        raise bad("the 'classification' parameter must be a whole number of classes >= 1")
    return k, binary.wanted_binary(request_parameters, params)


def infer_response(name: str, request: InferRequest, logits: np.ndarray,
                   class_names: list[str]) -> tuple[dict[str, Any], bytes]:
    """The protocol's inference response for ``logits`` ``[N, classes]``, and the binary
    data to send after it (empty unless the request asked for binary output)."""
    response: dict[str, Any] = {"model_name": name, "model_version": VERSION}
    if request.id is not None:
        response["id"] = request.id
    if request.classification:
        k = min(request.classification, logits.shape[1])
        order = np.argsort(-logits, axis=1, kind="stable")[:, :k]
        data = [f"{float(row[c]):f}:{int(c)}:{class_names[c]}" for row, picks in zip(logits, order)
                for c in picks]
        output = {"name": OUTPUT, "datatype": "BYTES", "shape": [len(logits), k], "data": data}
    else:
        data = logits.reshape(-1)
        output = {"name": OUTPUT, "datatype": "FP32", "shape": list(logits.shape),
                  "data": data if request.binary_output else data.tolist()}
    response["outputs"] = [output]
    if not request.binary_output:
        return response, b""
    blob = binary.tensor_bytes(output["datatype"], output.pop("data"))
    output["parameters"] = {"binary_data_size": len(blob)}
    return response, blob
