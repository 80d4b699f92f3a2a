"""``zoo bench-serve``'s load: steps of concurrent clients against one model of a server.

Each step keeps ``concurrency`` requests in flight (one httpx connection each) for a
fixed time after an unmeasured warm-up, and reports requests/s, images/s and the p50,
p90 and p99 of the HTTP round trip.  Every loop is bounded twice: by the step's time and
by ``max_requests``; load only ever goes to this machine.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from zoo.errors import ConfigError, ZooError

STEPS = (1, 2, 4, 8, 16, 32)
TIMEOUT_S = 30.0


@dataclass(frozen=True)
class LoadOptions:
    concurrency: tuple[int, ...] = STEPS
    seconds: float = 5.0
    warmup_s: float = 1.0
    images: int = 1  # per request
    datatype: str = "FP32"
    binary: bool = False  # the binary tensor data extension for the input and the output
    max_requests: int = 100_000  # per step: a bound besides the time
    seed: int = 0


@dataclass(frozen=True)
class Step:
    concurrency: int
    requests: int
    errors: int
    seconds: float
    requests_per_s: float
    images_per_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    first_error: str = ""
    error_kinds: dict[str, int] = field(default_factory=dict)  # "HTTP 500", "ReadTimeout", ...: count


def loopback_url(url: str) -> str:
    """``url`` without a trailing slash, if it names this machine; else a one-line error."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        local = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        local = False
    if parts.scheme not in ("http", "https") or not local:
        raise ConfigError(f"{url}: bench-serve sends load only to a server on this machine "
                          "(http://127.0.0.1:PORT, http://localhost:PORT or http://[::1]:PORT)")
    return url.rstrip("/")


def request_body(metadata: dict[str, Any], options: LoadOptions) -> tuple[bytes, dict[str, str]]:
    """One inference request of ``options.images`` images of the model's input shape:
    seeded random pixels (UINT8) or standard-normal values (FP32, already normalised), as
    JSON numbers or (``options.binary``) as raw bytes after a JSON header; and its headers."""
    from zoo.serving.binary import CONTENT_TYPE, HEADER, tensor_bytes

    shape = [options.images, *metadata["inputs"][0]["shape"][1:]]
    rng = np.random.default_rng(options.seed)
    if options.datatype == "UINT8":
        values = rng.integers(0, 256, size=shape, dtype=np.uint8).reshape(-1)
    else:
        values = rng.standard_normal(shape).astype(np.float32).reshape(-1)
    tensor = {"name": metadata["inputs"][0]["name"], "shape": shape, "datatype": options.datatype}
    if not options.binary:
        body = {"inputs": [{**tensor, "data": values.tolist()}]}
        return json.dumps(body).encode(), {"content-type": "application/json"}
    data = tensor_bytes(options.datatype, values)
    body = {"inputs": [{**tensor, "parameters": {"binary_data_size": len(data)}}],
            "outputs": [{"name": metadata["outputs"][0]["name"], "parameters": {"binary_data": True}}]}
    head = json.dumps(body).encode()
    return head + data, {"content-type": CONTENT_TYPE, HEADER: str(len(head))}


async def model_metadata(client, base: str, model: str) -> dict[str, Any]:
    import httpx

    try:
        answer = await client.get(f"{base}/v2/models/{model}")
    except httpx.HTTPError as exc:
        raise ZooError(f"{base}: no server answers ({type(exc).__name__}: {exc})") from None
    if answer.status_code != 200:
        raise ZooError(f"{base}/v2/models/{model}: HTTP {answer.status_code} "
                       f"{answer.text[:200].strip()}")
    return answer.json()


@dataclass(frozen=True)
class Failure:
    kind: str  # "HTTP 503" or the exception's class name ("ReadTimeout", "RemoteProtocolError")
    text: str  # one line: the kind, what was said, and when in the phase and after how long


async def _client_loop(client, url: str, request: tuple[bytes, dict[str, str]], began: float,
                       until: float, budget: list[int], times: list[float],
                       failures: list[Failure]) -> None:
    body, headers = request
    while time.perf_counter() < until and budget[0] > 0:
        budget[0] -= 1
        sent = time.perf_counter()
        try:
            answer = await client.post(url, content=body, headers=headers)
        except Exception as exc:  # httpx errors and timeouts: counted, never fatal to the bench
            kind, said = type(exc).__name__, _reason(exc)
        else:
            if answer.status_code == 200:
                times.append(time.perf_counter() - sent)
                continue
            kind, said = f"HTTP {answer.status_code}", answer.text[:200]
        now = time.perf_counter()
        failures.append(Failure(kind, f"{kind}: {' '.join(said.split())} (sent {sent - began:.1f} s "
                                      f"into the step, failed after {now - sent:.2f} s)"))


def _reason(exc: BaseException) -> str:
    """What an exception says, or what the one it came from says (httpx's ReadError of a
    reset connection has no text of its own), or that nothing said anything."""
    seen = exc
    while seen is not None:
        if str(seen).strip():
            return str(seen) if seen is exc else f"{type(seen).__name__}: {seen}"
        seen = seen.__cause__ or seen.__context__
    chain, seen = [], exc.__cause__ or exc.__context__
    while seen is not None:
        chain.append(type(seen).__name__)
        seen = seen.__cause__ or seen.__context__
    return f"no message (from {' <- '.join(chain)})" if chain else "no message"


async def _phase(client, url: str, request: tuple[bytes, dict[str, str]], concurrency: int, seconds: float,
                 max_requests: int) -> tuple[list[float], list[Failure], float]:
    times: list[float] = []
    failures: list[Failure] = []
    budget = [max_requests]
    began = time.perf_counter()
    until = began + seconds
    await asyncio.gather(*(_client_loop(client, url, request, began, until, budget, times, failures)
                           for _ in range(concurrency)))
    return times, failures, time.perf_counter() - began


async def run_steps(base: str, model: str, options: LoadOptions, on_step=None) -> list[Step]:
    import httpx

    # httpx logs every request at INFO, and Paddle's import sets the root logger to INFO.
    logging.getLogger("httpx").setLevel(logging.WARNING)

    steps = []
    async with httpx.AsyncClient(timeout=TIMEOUT_S, trust_env=False) as probe:
        request = request_body(await model_metadata(probe, base, model), options)
    url = f"{base}/v2/models/{model}/infer"
    for concurrency in options.concurrency:
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(timeout=TIMEOUT_S, limits=limits, trust_env=False) as client:
            if options.warmup_s > 0:
                await _phase(client, url, request, concurrency, options.warmup_s, options.max_requests)
            times, failures, elapsed = await _phase(client, url, request, concurrency, options.seconds,
                                                    options.max_requests)
        step = summarize(concurrency, times, failures, elapsed, options.images)
        steps.append(step)
        if on_step is not None:
            on_step(step)
    return steps


def summarize(concurrency: int, times: list[float], failures: list[Failure], elapsed: float,
              images: int) -> Step:
    done = len(times)
    ms = np.asarray(times) * 1e3 if done else np.full(1, np.nan)
    p50, p90, p99 = (float(np.percentile(ms, q)) for q in (50, 90, 99))
    rate = done / elapsed if elapsed > 0 else 0.0
    return Step(concurrency, done + len(failures), len(failures), elapsed, rate, rate * images,
                p50, p90, p99, failures[0].text if failures else "",
                dict(Counter(f.kind for f in failures).most_common()))


def as_dicts(steps: list[Step]) -> list[dict[str, Any]]:
    return [asdict(step) for step in steps]
