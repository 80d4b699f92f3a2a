"""``zoo bench-serve`` against a real ``zoo serve`` (a running one by URL, or an export
served for the occasion): its steps, its bounds, its errors counted by kind, its refusals,
and the steps recorded in a sweep."""

from __future__ import annotations

import json

import pytest


pytestmark = pytest.mark.integration  # starts processes or trains with Paddle

httpx = pytest.importorskip("httpx")  # the serve extra; dev.py installs it, CI has it


@pytest.fixture(scope="session")
def bench_serve(run_zoo):
    def _bench(*args: str, env=None):
        return run_zoo("bench-serve", *args, "--seconds", "0.5", "--warmup", "0.2", "--format", "json",
                       env=env, timeout=300)

    return _bench


def test_bench_serve_measures_a_running_server(server, bench_serve):
    proc = bench_serve(server.url, "--model", "cifar-cnn", "--concurrency", "1,3", "--images", "2",
                  "--datatype", "UINT8")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["server"]["backend"] == "paddle-inference" and report["images"] == 2
    assert [s["concurrency"] for s in report["steps"]] == [1, 3]
    for step in report["steps"]:
        assert step["requests"] > 0 and step["errors"] == 0, step
        assert step["p50_ms"] <= step["p90_ms"] <= step["p99_ms"]
        assert step["images_per_s"] == pytest.approx(2 * step["requests_per_s"])
    assert "concurrency   3:" in proc.stderr


def test_bench_serve_bounds_each_step_by_max_requests(server, bench_serve):
    proc = bench_serve(server.url, "--model", "mnist-cnn", "--concurrency", "2", "--max-requests", "7")
    step = json.loads(proc.stdout)["steps"][0]
    assert (step["requests"], step["errors"]) == (7, 0)  # --max-requests bounds the step


def test_bench_serve_counts_its_errors_by_kind_with_the_first_ones_text(fussy, bench_serve):
    # 64 CIFAR images of FP32 JSON are ~4 MB, over the fussy server's 0.5 MB limit: all 413s.
    proc = bench_serve(fussy.url, "--model", "cifar-cnn", "--concurrency", "2", "--images", "64",
                  "--max-requests", "6")
    assert proc.returncode == 0, proc.stderr
    (step,) = json.loads(proc.stdout)["steps"]
    assert (step["requests"], step["errors"], step["error_kinds"]) == (6, 6, {"HTTP 413": 6})
    assert step["first_error"].startswith("HTTP 413: ") and "over the limit" in step["first_error"]
    assert "6 errors (6 HTTP 413; first: HTTP 413: " in proc.stderr


def test_bench_serve_refuses_what_it_cannot_measure(server, exports, assert_one_line_error, bench_serve):
    assert_one_line_error(bench_serve("http://example.com:8000", "--model", "x"), "only to a server on this machine")
    assert_one_line_error(bench_serve(server.url), "--model NAME")
    assert_one_line_error(bench_serve(server.url, "--model", "nope"), "HTTP 404")
    assert_one_line_error(bench_serve(server.url, "--model", "cifar-cnn", "--sweep", str(exports["sweep"])),
                          "--export EXPORT")
    assert_one_line_error(bench_serve(str(exports["mnist-cnn"]), "--sweep", str(exports["sweep"])),
                          "no cell of the sweep")
    assert_one_line_error(bench_serve(server.url, "--model", "x", "--concurrency", "0"), "--concurrency")


def test_bench_serve_of_an_export_records_its_steps_in_the_sweep(exports, run_zoo, bench_serve):
    sweep = str(exports["sweep"])
    proc = bench_serve(str(exports["cifar-cnn"]), "--sweep", sweep, "--concurrency", "1,2", "--max-batch", "8")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["url"].startswith("http://127.0.0.1:")
    shown = run_zoo("results", sweep, "--serving", "--format", "json")
    rows = json.loads(shown.stdout)
    assert [(r["concurrency"], r["max_batch"], r["backend"], r["dataset"]) for r in rows] == \
        [(1, 8, "paddle-inference", "cifar10"), (2, 8, "paddle-inference", "cifar10")]
    assert all(r["errors"] == 0 and r["requests"] > 0 and json.loads(r["error_kinds"]) == {} for r in rows)
    table = run_zoo("results", sweep, "--inference")
    assert "over HTTP (zoo bench-serve)" in table.stdout and "p99 ms" in table.stdout


def _raised(*chain: BaseException) -> BaseException:
    """The last of ``chain``, raised from the one before it, and so on (as httpx raises)."""
    caught = None
    for exc in chain:
        try:
            if caught is None:
                raise exc
            raise exc from caught
        except BaseException as raised:  # noqa: B036 (building a chain)
            caught = raised
    return caught


def test_an_error_without_text_is_named_by_what_it_came_from():
    import anyio

    from zoo.serving.loadgen import _reason

    reset = _raised(ConnectionResetError(104, "Connection reset by peer"), anyio.BrokenResourceError(),
                    httpx.ReadError(""))
    assert _reason(reset) == "ConnectionResetError: [Errno 104] Connection reset by peer"
    assert _reason(_raised(anyio.BrokenResourceError(), httpx.ReadError(""))) == "no message (from BrokenResourceError)"
    assert _reason(httpx.ReadTimeout("timed out")) == "timed out"
