"""zoo serve reads request JSON through orjson (speed) with json.loads' exact meaning: the
same value for every body json reads, the same error for every body it refuses."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

pytest.importorskip("starlette", reason="the serve extra is not installed")
from zoo.serving import app  # noqa: E402

IMAGE = {"inputs": [{"name": "x", "shape": [1, 1, 28, 28], "datatype": "FP32",
                     "data": np.random.default_rng(0).standard_normal(784).astype(np.float32).tolist()}]}

READ_BY_BOTH = [
    json.dumps(IMAGE).encode(),
    json.dumps({"a": [1, 2.5, -0.0, 1e-320, True, None, "\u00e9\u6f22"], "a ": {}}).encode(),
    b'{"k": 1, "k": 2}',  # a repeated key: the last one wins in both
]
# Bodies orjson refuses and json reads: they must keep json's meaning.
READ_BY_JSON_ONLY = [
    json.dumps({"data": [float("nan"), float("inf")]}).encode(),  # NaN, Infinity
    json.dumps({"x": [1.0]}).encode("utf-16"),  # json detects UTF-16
    b'{"s": "\\ud800"}',  # a lone surrogate
]
REFUSED = [b"{inputs: [", b"", b"\xff\xfe{", b"[" * 100_000, b'{"a": 1} trailing']


def same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(same, a, b))
    return type(a) is type(b) and a == b


def outcome(read, body):
    try:
        return "value", read(body)
    except (ValueError, RecursionError) as exc:
        return "error", f"{type(exc).__name__}: {exc}"


def test_the_server_reads_json_with_orjson():
    orjson = pytest.importorskip("orjson")
    assert app._orjson_loads is orjson.loads


@pytest.mark.parametrize("body", READ_BY_BOTH + READ_BY_JSON_ONLY, ids=lambda b: repr(b[:20]))
def test_every_body_json_reads_gives_jsons_value(body):
    assert same(app.read_json(body), json.loads(body))


@pytest.mark.parametrize("body", REFUSED, ids=lambda b: repr(b[:12]))
def test_every_body_json_refuses_gives_jsons_error(body):
    assert outcome(app.read_json, body) == outcome(json.loads, body)


def test_an_integer_past_64_bits_is_its_nearest_float_and_no_shape():
    from zoo.serving.protocol import ProtocolError, parse_infer

    big = 123456789012345678901234567890
    assert app.read_json(b'{"big": %d}' % big) == {"big": float(big)}
    body = json.dumps({"inputs": [{"name": "image", "shape": [big, 1, 2, 2], "datatype": "FP32",
                                   "data": [0.0] * 4}]}).encode()
    manifest = {"input": {"shape": [1, 2, 2]}}
    with pytest.raises(ProtocolError, match="needs a shape: a list of integers"):
        parse_infer(app.read_json(body), manifest, b"")


def test_without_orjson_the_same_values(monkeypatch):
    monkeypatch.setattr(app, "_orjson_loads", None)
    for body in READ_BY_BOTH + READ_BY_JSON_ONLY:
        assert same(app.read_json(body), json.loads(body))
