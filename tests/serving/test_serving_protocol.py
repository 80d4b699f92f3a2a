"""The Open Inference Protocol rules on plain data (tests/serving/test_serve.py sends the same
requests to a real server): what a request becomes, and what the answers look like."""

from __future__ import annotations

import numpy as np
import pytest

from zoo.serving.protocol import ProtocolError, infer_response, model_metadata, parse_infer


def request(data, datatype="UINT8", shape=(1, 3, 2, 2), **extra) -> dict:
    return {"inputs": [{"name": "image", "shape": list(shape), "datatype": datatype, "data": data}], **extra}


def test_uint8_is_normalised_per_channel_and_fp32_is_taken_as_is(cifar_manifest):
    pixels = np.arange(12).reshape(1, 3, 2, 2) * 20
    parsed = parse_infer(request(pixels.reshape(-1).tolist()), cifar_manifest)
    mean = np.reshape(cifar_manifest["normalization"]["mean"], (1, 3, 1, 1))
    std = np.reshape(cifar_manifest["normalization"]["std"], (1, 3, 1, 1))
    np.testing.assert_allclose(parsed.batch, (pixels - mean) / std, rtol=1e-6)
    assert parsed.batch.dtype == np.float32 and parsed.classification == 0
    values = np.linspace(-2, 2, 24).reshape(2, 3, 2, 2)
    nested = parse_infer(request(values.tolist(), "FP32", values.shape, id="a"), cifar_manifest)
    np.testing.assert_allclose(nested.batch, values, rtol=1e-6)
    assert nested.id == "a"


@pytest.mark.parametrize("body, needle", [
    (request([0] * 12, shape=(1, 3, 2, 2), id=5), "'id' must be a string"),
    (request([0] * 12, parameters={"x": [1]}), "parameters"),
    ({"inputs": [request([0] * 12)["inputs"][0]] * 2}, "exactly one tensor"),
    (request([0] * 12, shape=(1, 3, 2, True)), "list of integers"),
    (request([0] * 12, datatype="FP16"), "datatype 'FP16'"),
    (request({"a": 1}), "as a list of numbers"),
    (request([None] * 12), "only numbers"),
    (request([0] * 12, outputs=[{"name": "logits"}, {"name": "logits"}]), "one object"),
    (request([0] * 12, outputs=[{"name": "logits", "parameters": {"binary_data": 1}}]), "'binary_data' must be true or false"),
    (request([0] * 12, parameters={"binary_data_output": "yes"}), "'binary_data_output' must be true or false"),
    (request([0] * 12, outputs=[{"name": "logits", "parameters": {"classification": True}}]), "classification"),
])
def test_broken_requests_are_400s_naming_the_problem(body, needle, cifar_manifest):
    with pytest.raises(ProtocolError) as caught:
        parse_infer(body, cifar_manifest)
    assert caught.value.status == 400 and needle in caught.value.message


def test_answers_logits_or_tritons_classification_strings(cifar_manifest):
    logits = np.array([[0.5, 2.0, -1.0], [3.0, 1.0, 2.0]], np.float32)
    plain, blob = infer_response("m", parse_infer(request([0] * 24, shape=(2, 3, 2, 2), id="7"), cifar_manifest),
                                 logits, cifar_manifest["class_names"])
    assert blob == b"" and plain == {"model_name": "m", "model_version": "1", "id": "7", "outputs": [
        {"name": "logits", "datatype": "FP32", "shape": [2, 3], "data": logits.reshape(-1).tolist()}]}
    asked = parse_infer(request([0] * 24, shape=(2, 3, 2, 2),
                                outputs=[{"name": "logits", "parameters": {"classification": 5}}]), cifar_manifest)
    ranked = infer_response("m", asked, logits, cifar_manifest["class_names"])[0]["outputs"][0]
    assert ranked["datatype"] == "BYTES" and ranked["shape"] == [2, 3]  # K above the classes: all
    assert ranked["data"] == ["2.000000:1:dog", "0.500000:0:cat", "-1.000000:2:fox",
                              "3.000000:0:cat", "2.000000:2:fox", "1.000000:1:dog"]


def test_metadata_says_what_the_model_takes_and_how_it_is_served(cifar_manifest):
    meta = model_metadata("m", cifar_manifest, {"backend": "paddle-inference", "max_batch": 8})
    assert meta["inputs"] == [{"name": "image", "datatype": "FP32", "shape": [-1, 3, 2, 2]}]
    assert meta["outputs"] == [{"name": "logits", "datatype": "FP32", "shape": [-1, 3]}]
    assert meta["parameters"] == {"backend": "paddle-inference", "max_batch": 8, "model": "cnn",
                                  "dataset": "cifar10"}
    assert all(isinstance(v, (str, int, float, bool)) for v in meta["parameters"].values())
