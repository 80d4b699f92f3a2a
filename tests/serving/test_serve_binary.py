"""The binary tensor data extension against a real ``zoo serve`` on a free port of
127.0.0.1, called with a real httpx client: binary inputs answer exactly as JSON ones,
binary outputs decode to the JSON logits, every broken binary request is a 400 with the
protocol's error JSON, and the server goes on serving; ``zoo bench-serve --binary``."""

from __future__ import annotations

import json

import numpy as np
import pytest


pytestmark = pytest.mark.integration  # starts processes or trains with Paddle

httpx = pytest.importorskip("httpx")

HEADER = "Inference-Header-Content-Length"


def binary_body(batch: np.ndarray, datatype: str, outputs=None, **json_parts) -> tuple[bytes, dict]:
    """A request with ``batch`` as raw little-endian bytes after its JSON, and its headers."""
    data = batch.astype("<f4" if datatype == "FP32" else "u1").tobytes()
    head = {"inputs": [{"name": "image", "shape": list(batch.shape), "datatype": datatype,
                        "parameters": {"binary_data_size": len(data)}}], **json_parts}
    if outputs is not None:
        head["outputs"] = outputs
    encoded = json.dumps(head).encode()
    return encoded + data, {HEADER: str(len(encoded)), "content-type": "application/octet-stream"}


def binary_outputs(answer) -> tuple[dict, bytes]:
    """The JSON header and the binary data of a response."""
    assert answer.status_code == 200, answer.text
    length = int(answer.headers[HEADER])
    assert answer.headers["content-type"] == "application/octet-stream"
    return json.loads(answer.content[:length]), answer.content[length:]


def test_binary_fp32_and_uint8_answer_as_json_does(server, reference, model_name, pixels, logits_of,
                                                   normalized, tensor_request, tolerance):
    backend, manifest = reference[model_name]
    batch = pixels(model_name, 3, seed=5)
    url = f"/v2/models/{model_name}/infer"
    with httpx.Client(base_url=server.url) as client:
        for datatype, sent in (("UINT8", batch), ("FP32", normalized(manifest, batch))):
            as_json = logits_of(client.post(url, json=tensor_request(sent, datatype)))
            body, headers = binary_body(sent, datatype)
            as_bytes = logits_of(client.post(url, content=body, headers=headers))  # JSON output
            np.testing.assert_array_equal(as_bytes, as_json)
    expected = np.asarray(backend.predict(normalized(manifest, batch)))
    assert np.max(np.abs(as_json - expected)) <= tolerance


def test_binary_outputs_decode_to_the_json_logits(server, model_name, pixels, logits_of, tensor_request):
    batch = pixels(model_name, 2, seed=8)
    url = f"/v2/models/{model_name}/infer"
    with httpx.Client(base_url=server.url) as client:
        as_json = logits_of(client.post(url, json=tensor_request(batch, "UINT8")))
        body, headers = binary_body(batch, "UINT8", [{"name": "logits", "parameters": {"binary_data": True}}],
                                    id="b-1")
        head, data = binary_outputs(client.post(url, content=body, headers=headers))
        assert head["id"] == "b-1"
        (output,) = head["outputs"]
        assert output == {"name": "logits", "datatype": "FP32", "shape": [2, 10],
                          "parameters": {"binary_data_size": 80}}
        np.testing.assert_array_equal(np.frombuffer(data, "<f4").reshape(2, 10), as_json)
        # A JSON request may ask for binary output too, for all outputs at once.
        everything = client.post(url, json=tensor_request(batch, "UINT8", parameters={"binary_data_output": True}))
        np.testing.assert_array_equal(np.frombuffer(binary_outputs(everything)[1], "<f4").reshape(2, 10), as_json)
        # Triton's classification strings as binary BYTES: 4-byte length, then the string.
        body, headers = binary_body(batch, "UINT8", [{"name": "logits", "parameters":
                                                      {"classification": 1, "binary_data": True}}])
        head, data = binary_outputs(client.post(url, content=body, headers=headers))
    from zoo.serving.binary import read_bytes_tensor

    assert head["outputs"][0]["datatype"] == "BYTES" and head["outputs"][0]["shape"] == [2, 1]
    best = [int(s.split(":")[1]) for s in read_bytes_tensor(data)]
    assert best == list(np.argmax(as_json, axis=1))


@pytest.fixture(scope="session")
def bad_binary_requests(pixels):
    def _bad_binary_requests(name: str) -> list[tuple[str, bytes, dict, str]]:
        batch = pixels(name, 1)
        body, headers = binary_body(batch, "FP32")
        length = int(headers[HEADER])
        uint8_body, uint8_headers = binary_body(batch, "UINT8")
        wrong_size = body.replace(b'"binary_data_size": %d' % (batch.size * 4), b'"binary_data_size": %d' % batch.size)
        text_size = body.replace(b'"binary_data_size": %d' % (batch.size * 4), b'"binary_data_size": "%d"' % (batch.size * 4))

        def header(value: str) -> dict:
            return {**headers, HEADER: value}

        return [
            ("header longer than the body", body, header(str(len(body) + 1)), "holds only"),
            ("negative header", body, header("-1"), ">= 0"),
            ("non-integer header", body, header("12.5"), "whole number"),
            ("word header", body, header("all"), "whole number"),
            ("header cuts the JSON", body, header(str(length - 3)), "not valid JSON"),
            ("no header", body, {"content-type": "application/octet-stream"}, "not valid JSON"),
            ("size not the shape's", wrong_size, header(str(len(wrong_size) - batch.size * 4)), "need"),
            ("size as text", text_size, header(str(length + 2)), "'binary_data_size' must be a whole number"),
            ("FP32 bytes for UINT8", uint8_body[:int(uint8_headers[HEADER])] + body[length:], uint8_headers,
             "no input's binary_data_size claims"),
            ("bytes missing", body[:-5], headers, "only"),
            ("bytes left over", body + b"\0\0", headers, "2 bytes follow"),
            ("NaN pixels", body[:length] + np.full(batch.size, np.nan, "<f4").tobytes(), headers, "finite"),
        ]

    return _bad_binary_requests


def test_every_bad_binary_request_is_a_400_and_the_server_goes_on(server, model_name, pixels,
                                                                  bad_binary_requests):
    with httpx.Client(base_url=server.url) as client:
        for what, body, headers, needle in bad_binary_requests(model_name):
            answer = client.post(f"/v2/models/{model_name}/infer", content=body, headers=headers)
            assert answer.status_code == 400, (what, answer.text)
            assert list(answer.json()) == ["error"] and needle in answer.json()["error"], (what, answer.text)
        assert client.get("/v2").json()["extensions"][0] == "binary_tensor_data"
        good, headers = binary_body(pixels(model_name, 1), "UINT8")
        assert client.post(f"/v2/models/{model_name}/infer", content=good, headers=headers).status_code == 200


def test_bench_serve_binary_measures_without_errors(server, run_zoo):
    proc = run_zoo("bench-serve", server.url, "--model", "cifar-cnn", "--binary", "--datatype", "UINT8",
                   "--concurrency", "2", "--seconds", "0.5", "--warmup", "0.2", "--format", "json", timeout=300)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["binary"] is True and report["datatype"] == "UINT8"
    (step,) = report["steps"]
    assert step["requests"] > 0 and step["errors"] == 0 and step["error_kinds"] == {}, step
