"""A load step by wrk (a C load generator, Debian's `wrk`) instead of zoo bench-serve's
async httpx: the same request (zoo.serving.loadgen.request_body), the same closed loop
(``concurrency`` connections, one request in flight on each), the same Step figures.

Why: on this 2-core machine the load generator shares the CPU with the server.  httpx
spends 1-1.5 ms of CPU per request (RESULTS.md, serve), as much as the server itself, so
at concurrency 16 the client takes CPU the server would use, and at concurrency 1 its own
time is inside every round trip counted as the server's overhead.  wrk spends a few
microseconds per request.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

# wrk's Lua: the body from a file (it may be binary), its headers, and a JSON summary at
# the end (latencies in microseconds; every kind of error counted apart).
SCRIPT = """
local f = assert(io.open(os.getenv("ZOO_WRK_BODY"), "rb"))
wrk.body = f:read("*a")
f:close()
wrk.method = "POST"
for name, value in string.gmatch(os.getenv("ZOO_WRK_HEADERS"), "([^\\n]+)=([^\\n]+)") do
  wrk.headers[name] = value
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\\nZOO_WRK {"requests": %d, "us": %d, "p50": %d, "p90": %d, "p99": %d, '
    .. '"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def available() -> bool:
    return shutil.which("wrk") is not None


def metadata(url: str, model: str) -> dict:
    import logging

    import httpx

    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per metadata request

    answer = httpx.get(f"{url}/v2/models/{model}", timeout=30)
    answer.raise_for_status()
    return answer.json()


def step(url: str, model: str, concurrency: int, seconds: float, warmup: float, binary: bool = False):
    """One closed-loop step of ``seconds`` (after ``warmup`` seconds unmeasured) at
    ``concurrency``: a zoo.serving.loadgen.Step."""
    from zoo.serving.loadgen import LoadOptions, Step, request_body

    body, headers = request_body(metadata(url, model), LoadOptions(binary=binary))
    with tempfile.TemporaryDirectory(prefix="zoo-wrk-") as tmp:
        Path(tmp, "body").write_bytes(body)
        Path(tmp, "post.lua").write_text(SCRIPT)
        env = {"ZOO_WRK_BODY": str(Path(tmp, "body")),
               "ZOO_WRK_HEADERS": "\n".join(f"{k}={v}" for k, v in headers.items()) + "\n"}
        target = f"{url}/v2/models/{model}/infer"
        if warmup > 0:
            _wrk(target, tmp, concurrency, warmup, env)
        found = _wrk(target, tmp, concurrency, seconds, env)
    kinds = {k: found[k] for k in ("connect", "read", "write", "status", "timeout") if found[k]}
    errors = sum(kinds.values())
    secs = found["us"] / 1e6
    return Step(concurrency=concurrency, requests=found["requests"], errors=errors, seconds=secs,
                requests_per_s=found["requests"] / secs, images_per_s=found["requests"] / secs,
                p50_ms=found["p50"] / 1e3, p90_ms=found["p90"] / 1e3, p99_ms=found["p99"] / 1e3,
                first_error="" if not errors else "wrk counts errors by kind only",
                error_kinds={f"wrk {k}": v for k, v in kinds.items()})


def _wrk(target: str, folder: str, concurrency: int, seconds: float, env: dict) -> dict:
    import os

    cmd = ["wrk", "-t", "1", "-c", str(concurrency), "-d", f"{max(1, round(seconds))}s",
           "--timeout", "30s", "-s", str(Path(folder, "post.lua")), target]
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **env}, check=False)
    line = next((l for l in proc.stdout.splitlines() if l.startswith("ZOO_WRK ")), None)
    if proc.returncode or line is None:
        raise SystemExit(f"wrk failed ({proc.returncode}): {proc.stderr[-500:] or proc.stdout[-500:]}")
    return json.loads(line.removeprefix("ZOO_WRK "))
