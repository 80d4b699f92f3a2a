"""``zoo serve``: a real server process on a free port of 127.0.0.1, called with a real
HTTP client (httpx), serving real exports of tiny real training runs: an MNIST-format
one (28x28 grey) and a CIFAR-format one (32x32 RGB, its own mean/std).

Every endpoint, every bad input, batched answers equal to batch-1 answers, a backend
failure that stays with its request, SIGTERM with requests in flight, and the refusals
before serving (damaged export, missing extra, taken port, clashing names).
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import select
import shutil
import signal
import socket
import time

import numpy as np
import pytest


pytestmark = pytest.mark.integration  # starts processes or trains with Paddle

httpx = pytest.importorskip("httpx")  # the serve extra; dev.py installs it, CI has it


def test_health_and_metadata_endpoints(server, model_name, shapes):
    assert server.url.startswith("http://127.0.0.1:")  # no --host given: loopback only
    with httpx.Client(base_url=server.url) as client:
        for path in ("/v2/health/live", "/v2/health/ready", f"/v2/models/{model_name}/ready",
                     f"/v2/models/{model_name}/versions/1/ready"):
            answer = client.get(path)
            assert (answer.status_code, answer.content) == (200, b""), path
        assert client.get("/v2").json()["name"] == "zoo"
        meta = client.get(f"/v2/models/{model_name}").json()
        assert meta == client.get(f"/v2/models/{model_name}/versions/1").json()
        assert meta["name"] == model_name and meta["versions"] == ["1"]
        assert meta["inputs"] == [{"name": "image", "datatype": "FP32", "shape": [-1, *shapes[model_name]]}]
        assert meta["outputs"] == [{"name": "logits", "datatype": "FP32", "shape": [-1, 10]}]
        assert meta["parameters"]["backend"] == "paddle-inference"
        assert meta["parameters"]["dataset"] == ("cifar10" if model_name == "cifar-cnn" else "mnist")


def test_infer_fp32_uint8_and_classification(server, reference, model_name, pixels, normalized, tolerance,
                                             tensor_request, logits_of):
    backend, manifest = reference[model_name]
    batch = pixels(model_name, 3, seed=4)
    expected = np.asarray(backend.predict(normalized(manifest, batch)))
    with httpx.Client(base_url=server.url) as client:
        fp32 = client.post(f"/v2/models/{model_name}/infer",
                           json=tensor_request(normalized(manifest, batch), id="req-7"))
        assert fp32.json()["id"] == "req-7" and fp32.json()["model_name"] == model_name
        assert np.max(np.abs(logits_of(fp32) - expected)) <= tolerance
        # UINT8: the server normalises with the manifest's mean/std (CIFAR's are its own).
        uint8 = client.post(f"/v2/models/{model_name}/versions/1/infer", json=tensor_request(batch, "UINT8"))
        assert np.max(np.abs(logits_of(uint8) - expected)) <= tolerance
        # Nested (not flattened) data is the same tensor.
        nested = tensor_request(batch, "UINT8")
        nested["inputs"][0]["data"] = batch.astype(int).tolist()
        assert np.max(np.abs(logits_of(client.post(f"/v2/models/{model_name}/infer", json=nested)) - expected)) <= tolerance
        ranked = client.post(f"/v2/models/{model_name}/infer", json=tensor_request(
            batch, "UINT8", outputs=[{"name": "logits", "parameters": {"classification": 2}}])).json()
    out = ranked["outputs"][0]
    assert out["datatype"] == "BYTES" and out["shape"] == [3, 2]
    names = manifest["class_names"]
    for row, (first, second) in zip(expected, np.asarray(out["data"]).reshape(3, 2)):
        best = np.argsort(-row, kind="stable")[:2]
        assert first.split(":", 2)[1:] == [str(best[0]), names[best[0]]]
        assert second.split(":", 2)[1:] == [str(best[1]), names[best[1]]]
        assert abs(float(first.split(":")[0]) - row[best[0]]) < 1e-5


def test_classify_takes_an_image_file(server, reference, model_name, pixels, normalized):
    from PIL import Image

    backend, manifest = reference[model_name]
    image = pixels(model_name, 1, seed=9)
    expected = np.asarray(backend.predict(normalized(manifest, image)))[0]
    hwc = np.moveaxis(image[0], 0, -1).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(hwc[..., 0] if hwc.shape[-1] == 1 else hwc).save(buffer, "PNG")
    with httpx.Client(base_url=server.url) as client:
        answer = client.post(f"/v2/models/{model_name}/classify?top=3", content=buffer.getvalue())
        assert answer.status_code == 200, answer.text
        top = answer.json()["top"]
        small_shape = (7, 5, 3) if model_name == "cifar-cnn" else (7, 5)
        small = client.post(f"/v2/models/{model_name}/classify", content=_png(small_shape))
        wrong_size = small.json()["error"]
        adapted = client.post(f"/v2/models/{model_name}/classify?adapt=1&top=1", content=_png((7, 5, 3)))
    assert [t["class"] for t in top] == list(np.argsort(-expected, kind="stable")[:3])
    assert top[0]["name"] == manifest["class_names"][top[0]["class"]]
    assert small.status_code == 400 and "5x7 pixels" in wrong_size and "?adapt=true" in wrong_size
    assert adapted.status_code == 200 and len(adapted.json()["top"]) == 1


def _png(shape) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.full(shape, 128, np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture(scope="session")
def bad_requests(shapes, tensor_request):
    def _bad_requests(name: str) -> list[tuple[str, bytes, str]]:
        c, h, w = shapes[name]
        good = tensor_request(np.zeros((1, c, h, w), np.float32))

        def edited(**changes) -> bytes:
            body = json.loads(json.dumps(good))
            body["inputs"][0].update(changes)
            return json.dumps(body).encode()

        return [
            ("not JSON", b"{inputs: [", "not valid JSON"),
            ("not UTF-8", b"\xff\xfe{}", "not valid JSON"),
            ("JSON but not an object", b"[1, 2]", "JSON object"),
            ("no inputs", b"{}", "'inputs'"),
            ("wrong input name", edited(name="pixels"), "unknown input 'pixels'"),
            ("wrong datatype", edited(datatype="INT64"), "datatype 'INT64'"),
            ("wrong shape", edited(shape=[1, c, h + 1, w]), "has shape"),
            ("rank 3", edited(shape=[c, h, w]), "has shape"),
            ("empty batch", edited(shape=[0, c, h, w], data=[]), "N >= 1"),
            ("too few values", edited(data=[0.0] * 5), "holds 5 values"),
            ("strings", edited(data=["0.5"] * (c * h * w)), "only numbers"),
            ("booleans", edited(data=[True] * (c * h * w)), "only numbers"),
            ("ragged", edited(data=[[0.0], [0.0, 1.0]]), "ragged"),
            ("NaN", edited(data=[float("nan")] * (c * h * w)), "finite"),
            ("UINT8 out of range", edited(datatype="UINT8", data=[256] * (c * h * w)), "0..255"),
            ("UINT8 fractions", edited(datatype="UINT8", data=[0.5] * (c * h * w)), "0..255"),
            ("binary size and JSON data", edited(parameters={"binary_data_size": 4}), "both 'data'"),
            ("unknown output", json.dumps({**good, "outputs": [{"name": "probs"}]}).encode(), "unknown output"),
            ("bad classification", json.dumps({**good, "outputs": [{"name": "logits", "parameters":
                                                                      {"classification": -1}}]}).encode(),
             "classification"),
        ]

    return _bad_requests


def test_bad_requests_get_400_with_the_protocols_error_json(server, model_name, tensor_request, pixels,
                                                            shapes, bad_requests):
    with httpx.Client(base_url=server.url) as client:
        for what, body, needle in bad_requests(model_name):
            answer = client.post(f"/v2/models/{model_name}/infer", content=body,
                                 headers={"content-type": "application/json"})
            assert answer.status_code == 400, (what, answer.text)
            assert list(answer.json()) == ["error"] and needle in answer.json()["error"], (what, answer.text)
        for what, body, needle in [("not an image", b"hello", "not a PNG or JPEG"),
                                   ("truncated PNG", _png((h := shapes[model_name][1], h, 3))[:60], "cannot read"),
                                   ("grey for RGB" if model_name == "cifar-cnn" else "RGB for grey",
                                    _png((shapes[model_name][1], shapes[model_name][2])
                                         + ((3,) if model_name == "mnist-cnn" else ())), "channel")]:
            answer = client.post(f"/v2/models/{model_name}/classify", content=body)
            assert answer.status_code == 400 and needle in answer.json()["error"], (what, answer.text)
        bad_top = client.post(f"/v2/models/{model_name}/classify?top=x", content=_png((8, 8)))
        assert bad_top.status_code == 400 and "top" in bad_top.json()["error"]
        # ... and the server keeps serving.
        assert client.get("/v2/health/ready").status_code == 200
        assert client.post(f"/v2/models/{model_name}/infer", json=tensor_request(pixels(model_name, 1), "UINT8")).status_code == 200


def _get_ready(sock: socket.socket) -> bytes:
    sock.sendall(b"GET /v2/health/ready HTTP/1.1\r\nHost: x\r\n\r\n")
    return sock.recv(65536)


def test_an_idle_connection_outlives_the_clients_keep_alive(server):
    """The server keeps an idle connection open longer than httpx keeps one in its pool:
    closing first races the client's next request, which under load is reset (the two
    ReadErrors of the c32 soak).  uvicorn's default of 5 s fails this test."""
    idle = httpx.Limits().keepalive_expiry + 2  # what zoo bench-serve's pool keeps, and then some
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        assert _get_ready(sock).startswith(b"HTTP/1.1 200")
        time.sleep(idle)
        readable, _, _ = select.select([sock], [], [], 0)
        assert not readable, "the server closed the idle connection (EOF waiting to be read)"
        assert _get_ready(sock).startswith(b"HTTP/1.1 200")  # the same connection serves on


def test_unknown_models_versions_and_paths_get_404(server):
    with httpx.Client(base_url=server.url) as client:
        for method, path in [("GET", "/v2/models/nope"), ("GET", "/v2/models/nope/ready"),
                             ("POST", "/v2/models/nope/infer"), ("POST", "/v2/models/nope/classify"),
                             ("GET", "/v2/models/cifar-cnn/versions/2"),
                             ("POST", "/v2/models/cifar-cnn/versions/2/infer"), ("GET", "/v1/models")]:
            answer = client.request(method, path, content=b"{}")
            assert answer.status_code == 404, (path, answer.text)
            assert list(answer.json()) == ["error"], answer.text
        assert "cifar-cnn, mnist-cnn" in client.get("/v2/models/nope").json()["error"]
        wrong_method = client.get("/v2/models/cifar-cnn/infer")
        assert wrong_method.status_code == 405 and "error" in wrong_method.json()


async def _concurrent(url: str, bodies: list[dict], path: str) -> list:
    limits = httpx.Limits(max_connections=len(bodies))
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120) as client:
        return await asyncio.gather(*(client.post(path, json=body) for body in bodies))


def _stats(client, name: str) -> tuple[int, int]:
    found = client.get(f"/v2/models/{name}/stats").json()["model_stats"][0]
    return found["inference_count"], found["execution_count"]


def test_batched_answers_equal_batch_one_answers(server, reference, model_name, pixels, logits_of,
                                                 tensor_request, tolerance, normalized):
    backend, manifest = reference[model_name]
    sizes = [1] * 20 + [2, 3, 1, 4]
    batches = [pixels(model_name, n, seed=i) for i, n in enumerate(sizes)]
    with httpx.Client(base_url=server.url) as client:
        alone = [logits_of(client.post(f"/v2/models/{model_name}/infer", json=tensor_request(b, "UINT8")))
                 for b in batches]  # one at a time: each is a batch of its own
        before = _stats(client, model_name)
        answers = asyncio.run(_concurrent(server.url, [tensor_request(b, "UINT8") for b in batches],
                                          f"/v2/models/{model_name}/infer"))
        images, calls = np.subtract(_stats(client, model_name), before)
    assert images == sum(sizes)
    assert calls < len(sizes), "the concurrent requests were never batched"
    for one, answer, batch in zip(alone, answers, batches):
        assert np.max(np.abs(logits_of(answer) - one)) <= tolerance
        expected = np.asarray(backend.predict(normalized(manifest, batch)))
        assert np.max(np.abs(one - expected)) <= tolerance


def test_a_backend_failure_is_a_500_for_that_request_only(fussy, pixels, tensor_request, poison, logits_of,
                                                          tolerance):
    batches = [pixels("cifar-cnn", 1, seed=i) for i in range(12)]
    bodies = [tensor_request(b, "UINT8") for b in batches]
    poisoned = tensor_request(np.full((1, 3, 32, 32), poison, np.float32))
    answers = asyncio.run(_concurrent(fussy.url, bodies[:6] + [poisoned] + bodies[6:], "/v2/models/cifar-cnn/infer"))
    failed = answers.pop(6)
    assert failed.status_code == 500
    assert list(failed.json()) == ["error"] and "poisoned input" in failed.json()["error"]
    with httpx.Client(base_url=fussy.url) as client:
        for batch, answer in zip(batches, answers):
            alone = logits_of(client.post("/v2/models/cifar-cnn/infer", json=tensor_request(batch, "UINT8")))
            assert np.max(np.abs(logits_of(answer) - alone)) <= tolerance
        assert client.get("/v2/health/live").status_code == 200
    assert "poisoned input" in fussy.stderr() and "Traceback" not in fussy.stderr()


def test_bodies_over_the_limit_get_413(fussy, tensor_request, pixels):
    big = json.dumps(tensor_request(np.random.default_rng(0).standard_normal((16, 3, 32, 32)))).encode()
    assert len(big) > 0.5 * 2**20

    def chunked():
        for start in range(0, len(big), 65536):
            yield big[start:start + 65536]

    with httpx.Client(base_url=fussy.url) as client:
        declared = client.post("/v2/models/cifar-cnn/infer", content=big)
        streamed = client.post("/v2/models/cifar-cnn/infer", content=chunked())  # no Content-Length
        image = client.post("/v2/models/cifar-cnn/classify", content=b"\x89PNG" + bytes(2**20))
        still = client.post("/v2/models/cifar-cnn/infer", json=tensor_request(pixels("cifar-cnn", 1), "UINT8"))
    for answer in (declared, streamed, image):
        assert answer.status_code == 413 and "over the limit" in answer.json()["error"], answer.text
    assert still.status_code == 200


def test_sigterm_answers_the_requests_in_flight_then_exits_0(exports, tmp_path, fussy_env, served_class,
                                                             pixels, tensor_request, logits_of):
    env = fussy_env(tmp_path / "plugin")
    served = served_class(exports["cifar-cnn"], "--backend", "fussy", "--set", "backend.delay_ms=1500",
                    "--max-batch", "2", env=env)
    batches = [pixels("cifar-cnn", 1, seed=i) for i in range(6)]

    async def scenario():
        async with httpx.AsyncClient(base_url=served.url, timeout=120,
                                     limits=httpx.Limits(max_connections=6)) as client:
            sent = [asyncio.ensure_future(client.post("/v2/models/cifar-cnn/infer",
                                                      json=tensor_request(b, "UINT8"))) for b in batches]
            # Long enough for six small requests to reach the server over loopback, well
            # short of the first batch's 1.5 s: all six are in flight, none answered.
            await asyncio.sleep(0.8)
            assert not any(s.done() for s in sent)
            served.terminate()
            return await asyncio.gather(*sent)

    try:
        answers = asyncio.run(scenario())
        code = served.wait()
    finally:
        served.stop()
    assert code == 0, served.stderr()
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    assert all(logits_of(a).shape == (1, 10) for a in answers)
    assert served.stderr().splitlines()[-1] == "zoo: stopped"
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{served.url}/v2/health/live")


def test_refuses_an_export_whose_checksums_do_not_verify(exports, tmp_path, run_zoo, assert_one_line_error):
    damaged = tmp_path / "damaged"
    shutil.copytree(exports["cifar-cnn"], damaged)
    params = damaged / "model.pdiparams"
    data = bytearray(params.read_bytes())
    data[-1] ^= 0xFF
    params.write_bytes(bytes(data))
    proc = run_zoo("serve", str(damaged), "--port", "0", timeout=120)
    assert_one_line_error(proc, "sha256 mismatch")
    assert proc.returncode == 2


def test_one_line_errors_before_serving(exports, tmp_path, run_zoo, assert_one_line_error):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        port = str(taken.getsockname()[1])
        busy = run_zoo("serve", str(exports["cifar-cnn"]), "--port", port, timeout=180)
    finally:
        taken.close()
    assert_one_line_error(busy, f"cannot listen on 127.0.0.1:{port}")
    twins = run_zoo("serve", str(exports["cifar-cnn"]), str(exports["cifar-cnn"]), "--port", "0")
    assert_one_line_error(twins, "--name")
    names = run_zoo("serve", str(exports["cifar-cnn"]), "--name", "a", "--name", "b", "--port", "0")
    assert_one_line_error(names, "--name given 2 times for 1 exports")
    bad_name = run_zoo("serve", str(exports["cifar-cnn"]), "--name", "../x", "--port", "0")
    assert_one_line_error(bad_name, "model name '../x'")
    wrong_backend = run_zoo("serve", str(exports["cifar-cnn"]), "--backend", "onnxruntime", "--port", "0")
    assert_one_line_error(wrong_backend, "onnx exports")


def test_without_the_serve_extra_it_says_how_to_install(exports, tmp_path, site_without, isolated, zoo_main,
                                                        assert_one_line_error):
    site = site_without(tmp_path / "site", "starlette*", "uvicorn*")
    for command in (["serve", str(exports["cifar-cnn"])], ["bench-serve", str(exports["cifar-cnn"])]):
        proc = isolated(site, zoo_main, *command, cwd=tmp_path)
        line = assert_one_line_error(proc, "pip install 'zoo[serve]'")
        assert "starlette" in line and proc.returncode == 2


def test_workers_share_the_port_and_stop_cleanly(exports, served_class, logits_of, tolerance, tensor_request,
                                                 pixels):
    served = served_class(exports["cifar-cnn"], "--workers", "2")
    try:
        with httpx.Client(base_url=served.url, timeout=120) as client:
            answers = [client.post("/v2/models/cifar-cnn/infer", json=tensor_request(pixels("cifar-cnn", 1), "UINT8"))
                       for _ in range(4)]
        first = logits_of(answers[0])
        assert all(np.max(np.abs(logits_of(a) - first)) <= tolerance for a in answers)
    finally:
        code = served.stop()
    assert code == 0, served.stderr()


def test_each_worker_listens_on_its_own_socket_and_gets_its_share(exports, served_class, tensor_request, pixels,
                                                                 worker_pids, tcp_sockets_of):
    # One shared socket let the worker scheduled first take every connection opened at
    # once (16/0 for wrk's 16 keep-alive connections, measured); a socket each
    # (SO_REUSEPORT) lets the kernel spread them.  With 32 connections and a fair spread,
    # a worker gets none once in 2**31.
    served = served_class(exports["cifar-cnn"], "--workers", "2")
    clients = []
    try:
        port = int(served.url.rsplit(":", 1)[1])
        workers = worker_pids(served.proc.pid)
        assert len(workers) == 2, workers
        listening = [tcp_sockets_of(pid, port)["listen"] for pid in workers]
        assert all(len(found) == 1 for found in listening) and listening[0] != listening[1], listening
        assert not tcp_sockets_of(served.proc.pid, port)["listen"]  # the parent only holds the port
        body = tensor_request(pixels("cifar-cnn", 1), "UINT8")
        clients = [httpx.Client(base_url=served.url, timeout=120) for _ in range(32)]
        assert all(c.post("/v2/models/cifar-cnn/infer", json=body).status_code == 200 for c in clients)
        shares = [len(tcp_sockets_of(pid, port)["established"]) for pid in workers]
        assert sum(shares) == 32 and min(shares) >= 1, shares
    finally:
        for client in clients:
            client.close()
        code = served.stop()
    assert code == 0, served.stderr()


def test_a_worker_killed_is_replaced_and_the_port_keeps_answering(exports, served_class, tensor_request, pixels,
                                                                  worker_pids, wait_for):
    served = served_class(exports["cifar-cnn"], "--workers", "2")
    try:
        first = worker_pids(served.proc.pid)
        os.kill(first[0], signal.SIGKILL)
        wait_for(lambda: len(set(worker_pids(served.proc.pid)) - {first[0]}) == 2, 120, "a second worker again")
        assert f"worker {first[0]} died (exit code -9); starting another" in served.stderr()
        body = tensor_request(pixels("cifar-cnn", 1), "UINT8")
        with httpx.Client(base_url=served.url, timeout=120) as client:  # new connections: either worker
            assert all(client.post("/v2/models/cifar-cnn/infer", json=body,
                                   headers={"Connection": "close"}).status_code == 200 for _ in range(8))
    finally:
        code = served.stop()
    assert code == 0, served.stderr()
