"""The binary tensor data extension on plain bytes (tests/serving/test_serve_binary.py sends the
same bodies to a real server): splitting a body, reading inputs, writing outputs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from zoo.serving.binary import BinaryReader, read_bytes_tensor, split_body, tensor_bytes, wanted_binary
from zoo.serving.protocol import ProtocolError, infer_response, parse_infer


def binary_request(values: np.ndarray, datatype: str, shape=(1, 3, 2, 2), **extra) -> tuple[bytes, bytes]:
    """The JSON header and the binary data of a request carrying ``values`` as bytes."""
    data = values.astype("<f4" if datatype == "FP32" else "u1").tobytes()
    head = {"inputs": [{"name": "image", "shape": list(shape), "datatype": datatype,
                        "parameters": {"binary_data_size": len(data)}}], **extra}
    return json.dumps(head).encode(), data


def rejected(call, needle: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        call()
    assert caught.value.status == 400 and needle in caught.value.message, caught.value.message


def test_split_body_takes_the_json_length_from_the_header():
    assert split_body(b'{"a": 1}xyz', "8") == (b'{"a": 1}', b"xyz")
    assert split_body(b'{"a": 1}', None) == (b'{"a": 1}', b"")  # no header: all JSON
    assert split_body(b'{"a": 1}', " 8 ") == (b'{"a": 1}', b"")
    for value, needle in [("9", "holds only 8"), ("-1", ">= 0"), ("+3", ">= 0"), ("4.0", "whole number"),
                          ("", "whole number"), ("abc", "whole number"), ("1e3", "whole number")]:
        rejected(lambda: split_body(b'{"a": 1}', value), needle)


@pytest.mark.parametrize("datatype", ["FP32", "UINT8"])
def test_binary_inputs_parse_to_the_same_batch_as_json(datatype, cifar_manifest):
    values = np.arange(24).reshape(2, 3, 2, 2) * (10 if datatype == "UINT8" else 0.1)
    head, data = binary_request(values, datatype, values.shape)
    from_json = parse_infer({"inputs": [{"name": "image", "shape": list(values.shape), "datatype": datatype,
                                         "data": values.reshape(-1).tolist()}]}, cifar_manifest)
    from_bytes = parse_infer(json.loads(head), cifar_manifest, data)
    np.testing.assert_array_equal(from_bytes.batch, from_json.batch)
    assert from_bytes.batch.dtype == np.float32 and not from_bytes.binary_output


def test_every_bad_binary_input_is_a_400_naming_the_problem(cifar_manifest):
    values = np.zeros((1, 3, 2, 2))
    head, data = binary_request(values, "FP32")

    def with_size(size):
        body = json.loads(head)
        body["inputs"][0]["parameters"]["binary_data_size"] = size
        return body

    cases = [
        (lambda: parse_infer(json.loads(head), cifar_manifest, data[:-4]), "only 44 follow"),
        (lambda: parse_infer(json.loads(head), cifar_manifest, b""), "only 0 follow"),
        (lambda: parse_infer(json.loads(head), cifar_manifest, data + b"\0"), "1 bytes follow the JSON header"),
        (lambda: parse_infer(with_size(44), cifar_manifest, data[:44]), "need 12 x 4 = 48"),
        (lambda: parse_infer(with_size(-48), cifar_manifest, data), ">= 0"),
        (lambda: parse_infer(with_size(48.0), cifar_manifest, data), ">= 0"),
        (lambda: parse_infer(with_size(True), cifar_manifest, data), ">= 0"),
        (lambda: parse_infer(with_size("48"), cifar_manifest, data), ">= 0"),
        (lambda: parse_infer({**json.loads(head), "inputs": [{**json.loads(head)["inputs"][0], "data": [0] * 12}]},
                             cifar_manifest, data), "both 'data'"),
        (lambda: parse_infer(json.loads(head), cifar_manifest, np.full(12, np.nan, "<f4").tobytes()), "finite"),
        (lambda: parse_infer(json.loads(binary_request(values, "UINT8")[0]), cifar_manifest, data), "36 bytes follow"),
        (lambda: parse_infer({**with_size(48), "inputs": [{**with_size(48)["inputs"][0], "datatype": "UINT8"}]},
                             cifar_manifest, data), "need 12 x 1 = 12"),
        (lambda: parse_infer({"inputs": [{"name": "image", "shape": [1, 3, 2, 2], "datatype": "FP32",
                                          "data": [0] * 12}]}, cifar_manifest, data), "48 bytes follow"),
    ]
    for call, needle in cases:
        rejected(call, needle)


def test_binary_output_is_asked_per_output_or_for_the_whole_request():
    assert wanted_binary({}, {}) is False
    assert wanted_binary({"binary_data_output": True}, {}) is True
    assert wanted_binary({"binary_data_output": True}, {"binary_data": False}) is False  # the output's wins
    assert wanted_binary({}, {"binary_data": True}) is True
    rejected(lambda: wanted_binary({}, {"binary_data": "true"}), "true or false")


def test_binary_logits_and_classification_strings(cifar_manifest):
    logits = np.array([[0.5, 2.0, -1.0], [3.0, 1.0, 2.0]], np.float32)
    head, data = binary_request(np.zeros(24), "UINT8", (2, 3, 2, 2), parameters={"binary_data_output": True})
    answer, blob = infer_response("m", parse_infer(json.loads(head), cifar_manifest, data), logits,
                                  cifar_manifest["class_names"])
    assert answer["outputs"] == [{"name": "logits", "datatype": "FP32", "shape": [2, 3],
                                  "parameters": {"binary_data_size": 24}}]
    np.testing.assert_array_equal(np.frombuffer(blob, "<f4").reshape(2, 3), logits)
    head, data = binary_request(np.zeros(24), "UINT8", (2, 3, 2, 2), outputs=[
        {"name": "logits", "parameters": {"classification": 1, "binary_data": True}}])
    answer, blob = infer_response("m", parse_infer(json.loads(head), cifar_manifest, data), logits,
                                  cifar_manifest["class_names"])
    assert answer["outputs"][0]["datatype"] == "BYTES" and answer["outputs"][0]["shape"] == [2, 1]
    assert answer["outputs"][0]["parameters"] == {"binary_data_size": len(blob)}
    assert read_bytes_tensor(blob) == ["2.000000:1:dog", "3.000000:0:cat"]
    assert tensor_bytes("BYTES", ["é"]) == b"\x02\x00\x00\x00\xc3\xa9"  # length in bytes, UTF-8


def test_the_reader_hands_out_bytes_in_order():
    reader = BinaryReader(np.arange(5, dtype="u1").tobytes())
    assert reader.take(2, "UINT8", 2, "a").tolist() == [0, 1]
    rejected(reader.finish, "3 bytes follow")
    assert reader.take(3, "UINT8", 3, "b").tolist() == [2, 3, 4]
    reader.finish()
