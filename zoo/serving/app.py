"""The HTTP routes of ``zoo serve``: the Open Inference Protocol's REST endpoints plus
``classify`` (an image file in, the top classes out) for people.

Every error answers with the protocol's error JSON ``{"error": "..."}``: 400 for a request
that breaks the protocol (JSON, shape, datatype, image), 404 for an unknown model or path,
413 for a body over the limit, 500 for a backend failure of that request.  None of them
stops the server.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
from typing import Any

import numpy as np
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from zoo.serving import binary, protocol
from zoo.serving.batcher import BackendFailure
from zoo.serving.models import ServedModel
from zoo.serving.protocol import ProtocolError

log = logging.getLogger("zoo.serve")
CLASSIFY_TOP = 5

try:  # the serve extra installs it; a server without it is slower, not different
    from orjson import loads as _orjson_loads
except ImportError:  # pragma: no cover - depends on the installation
    _orjson_loads = None


def read_json(text: bytes) -> Any:
    """What ``json.loads(text)`` gives, read by orjson when it can: a request of one 28x28
    image is 784 numbers that json takes 20x longer to read.  orjson is stricter (no NaN,
    UTF-8 only); whatever it refuses goes to json, so that such a body gets the answer or
    the error it got before.  One difference stays: orjson reads an integer past 64 bits
    as the nearest float, which in a tensor's data is the same FP32 value and anywhere an
    integer is needed (a shape, a size) is refused as not one."""
    if _orjson_loads is not None:
        try:
            return _orjson_loads(text)
        except ValueError:  # orjson.JSONDecodeError
            pass
    return json.loads(text)


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def create_app(models: list[ServedModel], options) -> Starlette:
    """The ASGI app for loaded ``models``; their batchers run while the app does."""
    by_name = {model.name: model for model in models}

    @contextlib.asynccontextmanager
    async def lifespan(app):
        for model in models:
            model.make_batcher(options).start()
        # What is loaded by now (Python, Paddle, the models, this app: over 100,000 objects)
        # lives as long as the server.  A full garbage collection walks all of it (about 50
        # ms on a 2-core machine) and, under load, one comes every few seconds and stalls
        # every request in flight: that was the p99 at concurrency 16.  Frozen, those
        # objects are skipped by every later collection.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:  # after uvicorn has drained the in-flight requests
            for model in models:
                await model.batcher.stop()
                model.close()

    def model_of(request: Request) -> ServedModel:
        name = request.path_params["name"]
        version = request.path_params.get("version", protocol.VERSION)
        if name not in by_name:
            raise ProtocolError(404, f"unknown model {name!r} (served: {', '.join(sorted(by_name))})")
        if version != protocol.VERSION:
            raise ProtocolError(404, f"model {name!r} has no version {version!r} (only {protocol.VERSION!r})")
        return by_name[name]

    async def body_of(request: Request) -> bytes:
        limit = options.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise ProtocolError(413, f"request body of {declared} bytes is over the limit of {limit}")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise ProtocolError(413, f"request body is over the limit of {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    async def server_metadata(request: Request) -> Response:
        from zoo import __version__

        return JSONResponse({"name": "zoo", "version": __version__,
                             "extensions": ["binary_tensor_data", "classification", "statistics"]})

    async def healthy(request: Request) -> Response:
        return Response(status_code=200)

    async def model_metadata(request: Request) -> Response:
        model = model_of(request)
        serving = {"backend": model.backend_name, "device": options.device,
                   "max_batch": options.max_batch, "max_delay_ms": options.max_delay_ms}
        return JSONResponse(protocol.model_metadata(model.name, model.manifest, serving))

    async def model_ready(request: Request) -> Response:
        model_of(request)
        return Response(status_code=200)

    async def model_stats(request: Request) -> Response:
        """Triton's statistics extension, in part: images inferred and backend calls made."""
        model = model_of(request)
        batcher = model.batcher
        return JSONResponse({"model_stats": [{"name": model.name, "version": protocol.VERSION,
                                              "inference_count": batcher.images,
                                              "execution_count": batcher.batches}]})

    async def infer(request: Request) -> Response:
        model = model_of(request)
        with model.batcher.arriving():
            header, data = binary.split_body(await body_of(request), request.headers.get(binary.HEADER))
            try:
                decoded = read_json(header)
            except (ValueError, RecursionError) as exc:
                raise protocol.bad(f"the request body{' (its JSON header)' if data else ''} is not "
                                   f"valid JSON ({exc})") from None
            parsed = protocol.parse_infer(decoded, model.manifest, data)
        logits = await model.batcher.infer(parsed.batch)
        answer, blob = protocol.infer_response(model.name, parsed, logits, model.manifest["class_names"])
        if not blob:
            return JSONResponse(answer)
        head = json.dumps(answer, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
        return Response(head + blob, media_type=binary.CONTENT_TYPE,
                        headers={binary.HEADER: str(len(head))})

    async def classify(request: Request) -> Response:
        from zoo.deploy.inputs import decode_image
        from zoo.deploy.manifest import normalize
        from zoo.deploy.serve import softmax, top_k
        from zoo.errors import DataError

        model = model_of(request)
        top = request.query_params.get("top", str(CLASSIFY_TOP))
        if not top.isdigit() or int(top) < 1:
            raise protocol.bad(f"top must be a whole number >= 1, got {top!r}")
        adapt = request.query_params.get("adapt", "false").lower() in ("1", "true", "yes")
        with model.batcher.arriving():
            body = await body_of(request)
            shape = tuple(model.manifest["input"]["shape"])
            try:
                pixels = decode_image(body, "the request body", shape, adapt)
            except DataError as exc:  # the shared decoder speaks of predict's --adapt
                raise protocol.bad(str(exc).replace("--adapt", "?adapt=true")) from None
            batch = normalize(pixels[None], model.manifest["normalization"])
        logits = await model.batcher.infer(batch)
        names = model.manifest["class_names"]
        picks = top_k(softmax(logits.astype(np.float64)), names, min(int(top), len(names)))[0]
        return JSONResponse({"model_name": model.name, "model_version": protocol.VERSION, "top": picks})

    async def protocol_error(request: Request, exc: ProtocolError) -> Response:
        return error(exc.status, exc.message)

    async def backend_failure(request: Request, exc: BackendFailure) -> Response:
        log.error("%s %s: %s", request.method, request.url.path, exc)
        return error(500, str(exc))

    async def http_error(request: Request, exc: HTTPException) -> Response:
        return error(exc.status_code, exc.detail if exc.status_code != 404 else
                     f"no such endpoint: {request.method} {request.url.path}")

    async def bug(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error(500, f"internal error: {type(exc).__name__}")

    model_path = "/v2/models/{name}"
    versioned = "/v2/models/{name}/versions/{version}"
    routes = [Route("/v2", server_metadata), Route("/v2/health/live", healthy),
              Route("/v2/health/ready", healthy)]
    for base in (model_path, versioned):
        routes += [Route(base, model_metadata), Route(f"{base}/ready", model_ready),
                   Route(f"{base}/stats", model_stats), Route(f"{base}/infer", infer, methods=["POST"])]
    routes.append(Route(f"{model_path}/classify", classify, methods=["POST"]))
    handlers: dict[Any, Any] = {ProtocolError: protocol_error, BackendFailure: backend_failure,
                                HTTPException: http_error, Exception: bug}
    return Starlette(routes=routes, exception_handlers=handlers, lifespan=lifespan)

