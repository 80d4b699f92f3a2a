"""The Open Inference Protocol's binary tensor data extension (Triton's and KServe's):
tensors as raw bytes after the JSON instead of JSON numbers.

A request's body is a JSON header of ``Inference-Header-Content-Length`` bytes followed by
the raw data of every input whose parameters give ``binary_data_size``, in input order:
little-endian, row-major, no padding.  An output asked for with the parameter
``binary_data`` (or every output, with the request parameter ``binary_data_output``) comes
back the same way: its JSON names ``binary_data_size`` instead of holding ``data``, and
the bytes follow the JSON header, whose length the response's header of the same name gives.

Pure functions on bytes and numpy arrays; a request that breaks a rule raises
``ProtocolError`` (400) with a one-line message.
"""

from __future__ import annotations

import struct

import numpy as np

from zoo.serving.protocol_error import bad

HEADER = "inference-header-content-length"
CONTENT_TYPE = "application/octet-stream"
# The wire layout of each datatype zoo reads or writes as binary data.
WIRE = {"FP32": np.dtype("<f4"), "UINT8": np.dtype("u1")}


def split_body(body: bytes, header_length: str | None) -> tuple[bytes, bytes]:
    """The JSON header and the binary data that follows it, as ``Inference-Header-Content-
    Length`` (the header's raw value, or None when absent: all of the body is JSON) says."""
    if header_length is None:
        return body, b""
    text = header_length.strip()
    try:
        length = int(text, 10)
    except ValueError:
        raise bad(f"the Inference-Header-Content-Length header must be a whole number of bytes, "
                  f"got {header_length[:40]!r}") from None
    if length < 0 or text.startswith("+"):
        raise bad(f"the Inference-Header-Content-Length header must be a whole number of bytes "
                  f">= 0, got {text[:40]!r}")
    if length > len(body):
        raise bad(f"the Inference-Header-Content-Length header says the JSON is {length} bytes, "
                  f"but the body holds only {len(body)}")
    return body[:length], body[length:]


class BinaryReader:
    """Hands out the binary data of a request's inputs in order, each checked against the
    size its tensor's shape and datatype need; ``finish`` refuses bytes nobody claimed."""

    def __init__(self, data: bytes) -> None:
        self.data = memoryview(data)
        self.offset = 0

    def take(self, declared, datatype: str, count: int, name: str) -> np.ndarray:
        """The flat array of ``count`` values of ``datatype`` that input ``name`` declared
        as ``binary_data_size`` = ``declared`` bytes."""
        if isinstance(declared, bool) or not isinstance(declared, int) or declared < 0:
            raise bad(f"input '{name}': 'binary_data_size' must be a whole number of bytes >= 0, "
                      f"got {declared!r}")
        wire = WIRE[datatype]
        if declared != count * wire.itemsize:
            raise bad(f"input '{name}': binary_data_size is {declared} bytes, but its shape and "
                      f"datatype need {count} x {wire.itemsize} = {count * wire.itemsize}")
        left = len(self.data) - self.offset
        if declared > left:
            raise bad(f"input '{name}': binary_data_size is {declared} bytes, but only {left} follow "
                      f"the JSON header (is Inference-Header-Content-Length the JSON's length?)")
        chunk = self.data[self.offset:self.offset + declared]
        self.offset += declared
        return np.frombuffer(chunk, dtype=wire)

    def finish(self) -> None:
        left = len(self.data) - self.offset
        if left:
            raise bad(f"{left} bytes follow the JSON header that no input's binary_data_size "
                      f"claims (is Inference-Header-Content-Length the JSON's length?)")


def wanted_binary(request_parameters: dict, output_parameters: dict) -> bool:
    """Whether the output goes back as binary data: its own ``binary_data``, else the
    request's ``binary_data_output``, else JSON."""
    for where, parameters, key in (("output", output_parameters, "binary_data"),
                                   ("request", request_parameters, "binary_data_output")):
        if key in parameters:
            if not isinstance(parameters[key], bool):
                raise bad(f"the {where} parameter '{key}' must be true or false, got {parameters[key]!r}")
            return parameters[key]
    return False


def tensor_bytes(datatype: str, values) -> bytes:
    """The binary data of an output: FP32 as little-endian floats, BYTES as each element's
    length (4-byte little-endian) followed by its UTF-8 bytes."""
    if datatype == "BYTES":
        encoded = [str(v).encode() for v in values]
        return b"".join(struct.pack("<I", len(e)) + e for e in encoded)
    return np.ascontiguousarray(values, dtype=WIRE[datatype]).tobytes()


def read_bytes_tensor(data: bytes) -> list[str]:
    """The elements of a BYTES tensor's binary data (the inverse of ``tensor_bytes``)."""
    found, offset = [], 0
    while offset < len(data):
        (size,) = struct.unpack_from("<I", data, offset)
        found.append(bytes(data[offset + 4:offset + 4 + size]).decode())
        offset += 4 + size
    return found

