"""``--ray-address``: every address where no Ray cluster answers ends in one line, in a
bounded time (the subprocess timeout fails a run that hangs), before anything runs."""

from __future__ import annotations

import importlib.util
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


pytestmark = pytest.mark.integration  # starts processes or trains with Paddle

pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'zoo[ray]')")

ARGS = ("--models", "mlp", "--optimizers", "sgd", "--executor", "ray", "--dry-run")


@pytest.fixture
def clean_env(tmp_path, marked):
    """No RAY_ADDRESS, and a $TMPDIR where no `ray start` recorded a cluster."""
    env = marked({"TMPDIR": str(tmp_path)})
    for name in ("RAY_ADDRESS", "RAY_TMPDIR"):
        env.pop(name, None)
    env["TMPDIR"] = str(tmp_path)
    return env


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again when this returns


@pytest.mark.parametrize("address, says", [
    ("127.0.0.1:{closed}", "nothing listens there (connection refused)"),
    ("999.1.1.1:6379", "cannot resolve 999.1.1.1"),
    ("garbage", "not HOST:PORT (e.g. 10.0.0.1:6379) or auto"),
    ("http://evil:80", "not a http:// URL"),
    ("10.0.0.1:99999", "not HOST:PORT"),
    ("auto", "no running Ray cluster is known here"),
])
def test_an_address_without_a_cluster_is_one_line(address, says, tmp_path, clean_env, bench,
                                                  assert_one_line_error, assert_no_processes, mark_variable):
    address = address.format(closed=_closed_port())
    proc = bench(tmp_path / "b", *ARGS, "--ray-address", address, env=clean_env, timeout=120)
    assert_one_line_error(proc, f"--ray-address {address}: ", says)
    assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1, proc.stderr
    assert not proc.stdout  # refused before the cells were even listed
    assert_no_processes(f"{mark_variable}={clean_env[mark_variable]}")


def test_auto_names_ray_address_when_that_is_what_is_wrong(tmp_path, clean_env, bench, assert_one_line_error):
    proc = bench(tmp_path / "b", *ARGS, "--ray-address", "auto",
                 env={**clean_env, "RAY_ADDRESS": "http://evil:80"}, timeout=120)
    assert_one_line_error(proc, "RAY_ADDRESS http://evil:80: ", "not a http:// URL")


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's name
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_port_where_something_else_listens_is_one_line_within_the_connect_timeout(
        tmp_path, clean_env, bench, assert_one_line_error, assert_no_processes, mark_variable):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    address = f"127.0.0.1:{server.server_address[1]}"
    try:
        proc = bench(tmp_path / "b", *ARGS, "--ray-address", address,
                     "--set", "executor.connect_timeout=5", env=clean_env, timeout=120)
    finally:
        server.shutdown()
        server.server_close()
    line = assert_one_line_error(proc, f"--ray-address {address}: ")
    assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1, proc.stderr
    assert "no Ray cluster answered within 5 s" in line or "joining the Ray cluster there failed" in line
    assert_no_processes(f"{mark_variable}={clean_env[mark_variable]}")  # the throwaway driver is gone too


def test_a_dashboard_must_be_asked_for_and_needs_rays_dashboard(tmp_path, clean_env, bench,
                                                                assert_one_line_error):
    if importlib.util.find_spec("aiohttp") is not None:
        pytest.skip("ray[default] is installed here: the dashboard would start")
    proc = bench(tmp_path / "b", "--models", "mlp", "--optimizers", "sgd", "--executor", "ray",
                 "--set", "executor.dashboard=true", "--dry-run", env=clean_env)
    assert_one_line_error(proc, "executor.dashboard=true needs Ray's dashboard",
                          "pip install 'ray[default]'")


@pytest.mark.parametrize("seconds", ["0", "-5", "1e999"])
def test_a_connect_timeout_must_be_positive_and_finite(seconds, tmp_path, clean_env, bench,
                                                       assert_one_line_error):
    proc = bench(tmp_path / "b", *ARGS, "--ray-address", "127.0.0.1:6379",
                 "--set", f"executor.connect_timeout={seconds}", env=clean_env)
    assert_one_line_error(proc, "executor.connect_timeout=", "must be > 0 seconds and finite")
