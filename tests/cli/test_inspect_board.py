"""``zoo inspect`` and ``zoo board``: real paddle models, real processes, real HTTP."""

from __future__ import annotations

import http.client
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.parse
from pathlib import Path

import numpy as np
import pytest

from zoo.data.sample import MNIST_SAMPLE_DIR


pytestmark = pytest.mark.integration  # starts processes or trains with Paddle

CNN_SHAPES = {"conv1": [20, 28, 28], "relu1": [20, 28, 28], "pool1": [20, 14, 14],
              "conv2": [20, 14, 14], "relu2": [20, 14, 14], "pool2": [20, 7, 7],
              "flatten": [980], "fc": [10]}
CNN_PARAMS = {"conv1": 520, "conv2": 10020, "fc": 9810}

# conv bias -100 on every channel: with inputs in [-1, 1] its ReLU can never fire.
# halfnet kills only 2 of 4 channels: exactly the 50% "warn" threshold.
DEADNET = """\
    import zoo


    def _build(input_shape, num_classes, biases):
        import paddle
        from paddle import nn

        class DeadNet(nn.Layer):
            def __init__(self):
                super().__init__()
                c, h, w = input_shape
                bias = paddle.ParamAttr(initializer=nn.initializer.Assign(biases))
                self.conv = nn.Conv2D(c, 4, 3, padding=1, bias_attr=bias)
                self.relu = nn.ReLU()
                self.flatten = nn.Flatten()
                self.fc = nn.Linear(4 * h * w, num_classes)

            def forward(self, x):
                return self.fc(self.flatten(self.relu(self.conv(x))))

        return DeadNet()


    def build_deadnet(input_shape, num_classes):
        return _build(input_shape, num_classes, [-100.0] * 4)


    def build_halfnet(input_shape, num_classes):
        return _build(input_shape, num_classes, [-100.0, -100.0, 0.0, 0.0])


    @zoo.hookimpl
    def zoo_register_models(register):
        register("deadnet", build_deadnet, description="first ReLU never fires")
        register("halfnet", build_halfnet, description="half the first ReLU never fires")
    """


def _table(stdout: str) -> dict[str, list[str]]:
    """Rows of the tabulate table by layer name (columns split on 2+ spaces)."""
    import re

    return {cells[0]: cells for line in stdout.splitlines()
            if len(cells := re.split(r"\s{2,}", line.strip())) >= 5}


# ---- inspect ----------------------------------------------------------------------------


def test_inspect_cnn_shapes_and_params(run_zoo):
    proc = run_zoo("inspect", "cnn")
    assert proc.returncode == 0, proc.stderr
    rows = _table(proc.stdout)
    assert [name for name in rows if name in CNN_SHAPES] == list(CNN_SHAPES)
    for name, shape in CNN_SHAPES.items():
        assert rows[name][2] == "[B," + ",".join(map(str, shape)) + "]", rows[name]
    for name, count in CNN_PARAMS.items():
        assert rows[name][4] == f"{count:,}", rows[name]
    assert rows["conv1"][3] == "[20,1,5,5] [20]"
    assert "total: 20,350 params (20,350 trainable)" in proc.stdout


def test_inspect_json_cnn_and_mlp_with_set(run_zoo):
    data = json.loads(run_zoo("inspect", "cnn", "--json", "--batch-size", "3").stdout)
    layers = {layer["name"]: layer for layer in data["layers"]}
    assert [layer["name"] for layer in data["layers"]] == list(CNN_SHAPES)  # call order
    for name, shape in CNN_SHAPES.items():
        assert layers[name]["output_shape"] == [3, *shape]
    assert {n: layers[n]["params"] for n in CNN_PARAMS} == CNN_PARAMS
    assert data["total_params"] == data["trainable_params"] == 20350
    assert layers["conv2"]["param_shapes"] == [[20, 20, 5, 5], [20]]

    proc = run_zoo("inspect", "mlp", "--json", "--set", "model.hidden1=64",
                   "--set", "model.activation=tanh")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["params"]["hidden1"] == 64 and data["params"]["activation"] == "tanh"
    shapes = [(layer["name"], layer["type"], layer["output_shape"]) for layer in data["layers"]]
    assert shapes == [("flatten", "Flatten", [8, 784]), ("fc1", "Linear", [8, 64]),
                      ("act1", "Tanh", [8, 64]), ("fc2", "Linear", [8, 128]),
                      ("act2", "Tanh", [8, 128]), ("fc3", "Linear", [8, 10])]
    assert data["total_params"] == 784 * 64 + 64 + 64 * 128 + 128 + 128 * 10 + 10


def test_inspect_errors_are_one_line(assert_one_line_error, run_zoo):
    assert_one_line_error(run_zoo("inspect", "cnnn"), "unknown model 'cnnn'", "cnn")
    assert_one_line_error(run_zoo("inspect", "cnn", "--set", "model.depth=3"), "depth")
    assert_one_line_error(run_zoo("inspect", "cnn", "--set", "channels=3"), "KIND.PARAM=VALUE")
    assert_one_line_error(run_zoo("inspect", "cnn", "--content", "--data-dir", "/no/such/dir"),
                          "/no/such/dir: data directory does not exist")


def test_inspect_content_statistics_on_real_data(run_zoo):
    proc = run_zoo("inspect", "cnn", "--content", "--data-dir", str(MNIST_SAMPLE_DIR), "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert MNIST_SAMPLE_DIR.name in data["data"]
    layers = {layer["name"]: layer for layer in data["layers"]}
    relu = layers["relu1"]
    assert 0 < relu["zero_fraction"] < 1 and relu["mean"] > 0 and relu["std"] > 0
    assert relu["units"] == 20 and relu["status"] in ("ok", "warn")
    assert layers["flatten"]["units"] == 980
    assert layers["conv1"]["zero_fraction"] == 0.0  # a conv output is essentially never 0.0

    table = run_zoo("inspect", "cnn", "--content", "--data-dir", str(MNIST_SAMPLE_DIR)).stdout
    assert "dead layers (every unit zero on this batch): none" in table
    assert _table(table)["relu1"][8] == "0/20"


def test_inspect_flags_dead_layer_via_cli(plugin_kit, run_zoo):
    plugin_kit.add("zoo_test_deadnet", DEADNET)
    args = ["--content", "--data-dir", str(MNIST_SAMPLE_DIR)]
    proc = run_zoo("inspect", "deadnet", *args, env=plugin_kit.env())
    assert proc.returncode == 0, proc.stderr
    rows = _table(proc.stdout)
    assert rows["relu"][7:] == ["100.0", "4/4", "dead"]
    assert rows["conv"][9] == "ok"
    dead_line = next(line for line in proc.stdout.splitlines() if line.startswith("dead layers"))
    assert "relu" in dead_line.split(": ", 1)[1].split(", ")

    half = json.loads(run_zoo("inspect", "halfnet", *args, "--json", env=plugin_kit.env()).stdout)
    relu = next(layer for layer in half["layers"] if layer["name"] == "relu")
    assert (relu["dead_units"], relu["units"], relu["status"]) == (2, 4, "warn")


def test_inspect_model_in_process(plugin_kit):
    from zoo.data import load_mnist, transform_of
    from zoo.layer_report import data_batch, inspect_model
    from zoo.plugin import load_catalog

    plugin_kit.add("zoo_test_deadnet", DEADNET)
    model = load_catalog().build("models", "deadnet", input_shape=(1, 28, 28), num_classes=10)
    model.train()
    data = load_mnist(MNIST_SAMPLE_DIR, download=False, progress=False)
    batch = data_batch(data.train.images, 5, 1, transform_of(data))
    assert batch.shape == (5, 1, 28, 28) and batch.dtype == np.float32
    assert batch.min() >= -1.0 and batch.max() <= 1.0

    report = inspect_model(model, batch, content=True)
    assert [layer.name for layer in report] == ["conv", "relu", "flatten", "fc"]
    relu = report.by_name("relu")
    assert (relu.status, relu.dead_units, relu.units, relu.zero_fraction) == ("dead", 4, 4, 1.0)
    assert relu.mean == 0.0 and relu.std == 0.0
    assert report.by_name("conv").status == "ok" and report.by_name("conv").mean < -50
    assert report.by_name("conv").params == 4 * 9 + 4
    assert report.total_params == 40 + 4 * 28 * 28 * 10 + 10
    assert "relu" in [layer.name for layer in report.flagged("dead")]
    # hooks are gone and the training mode is back
    assert all(not layer._forward_post_hooks for layer in model.sublayers(include_self=True))
    assert model.training

    shapes_only = inspect_model(model, batch)
    assert shapes_only[1].status is None and shapes_only[1].output_shape == [5, 4, 28, 28]


def test_activation_stats_rule():
    from zoo.layer_report import activation_stats

    x = np.zeros((2, 4, 3, 3), np.float32)
    assert activation_stats(x)["status"] == "dead"
    x[1, 0, 2, 2] = 1.0  # one sample, one position keeps channel 0 alive
    stats = activation_stats(x)
    assert (stats["dead_units"], stats["units"], stats["status"]) == (3, 4, "warn")
    x[0, 1] = -2.0
    assert activation_stats(x)["status"] == "warn"  # 2 of 4 dead: still >= 50%
    x[0, 2] = 0.5
    assert activation_stats(x)["status"] == "ok"
    three_d = activation_stats(np.zeros((2, 3, 5), np.float32))
    assert three_d["units"] is None and three_d["status"] == "ok"
    assert activation_stats(np.array([[0.0, 2.0]]))["zero_fraction"] == 0.5


# ---- board ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def _get(port: int, path: str, timeout: float = 5, headers: dict | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _api(port: int, method: str, **query):
    status, body = _get(port, f"/app/api/{method}?{urllib.parse.urlencode(query)}")
    assert status == 200, body
    payload = json.loads(body)
    assert payload["status"] == 0, payload
    return payload["data"]


def _start_board(logdir, port, host=None,
                 line="VisualDL at http://127.0.0.1:{port}/ (Ctrl-C to stop)") -> subprocess.Popen:
    """Start ``zoo board`` and wait for its ready line (printed once VisualDL answers)."""
    proc = subprocess.Popen([sys.executable, "-m", "zoo", "board", str(logdir), "--port",
                             str(port), *(["--host", host] if host else [])],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    ready = selectors.DefaultSelector()
    ready.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + 90
    while not ready.select(timeout=0.2):
        if proc.poll() is not None or time.monotonic() > deadline:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            pytest.fail(f"board did not come up (rc {proc.returncode}): {out}{err}")
    assert proc.stdout.readline() == line.format(port=port) + "\n"
    assert _get(port, "/alive")[0] == 204  # the line is printed only once VisualDL answers
    return proc


def _group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return False
    except ProcessLookupError:
        return True


@pytest.fixture
def boards():
    """Started boards; any process left in their groups is killed even if a test fails."""
    started: list[subprocess.Popen] = []
    yield started
    for proc in started:
        if not _group_gone(proc.pid):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()


@pytest.fixture
def scalar_run(tmp_path):
    from visualdl import LogWriter

    losses = [2.5, 1.25, 0.7, 0.31, 0.125]
    with LogWriter(logdir=str(tmp_path / "vdl")) as writer:
        for step, value in enumerate(losses):
            writer.add_scalar(tag="train/loss", step=step, value=value)
    return tmp_path, losses


def test_board_serves_logged_scalars_and_stops_on_sigterm(scalar_run, boards):
    run_dir, losses = scalar_run
    port = _free_port()
    proc = _start_board(run_dir, port)
    boards.append(proc)  # a run folder: zoo serves its vdl/ child
    try:
        run = str(run_dir / "vdl")
        assert _api(port, "runs") == [run]
        assert _api(port, "scalar/tags") == {"runs": [run], "tags": [["train/loss"]]}
        points = _api(port, "scalar/list", run=run, tag="train/loss")
        assert [p[1] for p in points] == list(range(len(losses)))
        assert [p[2] for p in points] == [float(np.float32(v)) for v in losses]
        # The page itself: VisualDL 2.5.3 answers 500 without Accept-Language (browsers send it).
        assert _get(port, "/app/index", headers={"Accept-Language": "en"})[0] == 200
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # what a terminal's job control would do
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert _port_is_free(port) and _group_gone(proc.pid)


def test_board_ctrl_c_to_zoo_alone_stops_visualdl(scalar_run, boards):
    run_dir, _ = scalar_run
    port = _free_port()
    proc = _start_board(run_dir / "vdl", port)  # the vdl folder itself works too
    boards.append(proc)
    proc.send_signal(signal.SIGINT)  # only zoo: it must take VisualDL down itself
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "VisualDL stopped" in err and "Traceback" not in err
    assert _port_is_free(port) and _group_gone(proc.pid)


def test_board_on_every_interface_says_so(scalar_run, boards):
    # It used to print http://127.0.0.1:PORT/ while serving the logs to the whole network.
    run_dir, _ = scalar_run
    port = _free_port()
    proc = _start_board(run_dir, port, host="0.0.0.0", line="VisualDL at http://0.0.0.0:{port}/ "
                        "(every interface of this machine) (Ctrl-C to stop)")
    boards.append(proc)
    os.killpg(proc.pid, signal.SIGTERM)
    proc.communicate(timeout=30)
    assert proc.returncode == 0


def test_board_errors_are_one_line(tmp_path, assert_one_line_error, run_zoo):
    assert_one_line_error(run_zoo("board", str(tmp_path / "missing")), "log folder not found")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = run_zoo("board", str(tmp_path), "--port", str(port), timeout=60)
    assert_one_line_error(proc, f"port {port}", "already in use")


def test_board_reports_early_exit_of_visualdl(tmp_path, run_zoo, assert_one_line_error):
    # A stand-in visualdl that dies on start, so the error path runs for real.
    fake = tmp_path / "fake" / "visualdl" / "server"
    fake.mkdir(parents=True)
    (fake.parent / "__init__.py").write_text("")
    (fake / "__init__.py").write_text("")
    (fake / "app.py").write_text(textwrap.dedent("""\
        import sys
        print("starting", flush=True)
        sys.exit("OSError: cannot open log folder")
        """))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(fake.parents[1]),
                                                       os.environ.get("PYTHONPATH", "")]))
    proc = run_zoo("board", str(tmp_path), "--port", "0", env=env, timeout=60)
    assert_one_line_error(proc, "VisualDL exited (code 1)", "cannot open log folder")


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as handle:
                stat = handle.read()
        except OSError:
            continue
        if int(stat.rpartition(")")[2].split()[1]) == pid:
            found.append(int(entry))
    return found


def _alive(pid: int) -> bool:
    """Running, not a zombie (a reaped or zombie process serves nothing)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def test_board_killed_with_sigkill_takes_visualdl_along(scalar_run):
    run_dir, _ = scalar_run
    proc = subprocess.Popen([str(Path(sys.executable).parent / "zoo"), "board", str(run_dir),
                             "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    children: list[int] = []
    try:
        line = proc.stdout.readline()  # printed once VisualDL answers
        assert line.startswith("VisualDL at http://127.0.0.1:"), (line, proc.stderr.read())
        port = int(line.split(":")[2].split("/")[0])
        assert _get(port, "/alive")[0] == 204
        children = _children(proc.pid)
        assert children, "VisualDL is not a child of zoo board"
        proc.kill()  # SIGKILL: zoo gets no chance to clean up
        proc.wait(timeout=10)
        deadline = time.monotonic() + 5
        while any(map(_alive, children)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(map(_alive, children)), "VisualDL outlived zoo board"
        with pytest.raises(OSError):
            _get(port, "/alive", timeout=2)
    finally:
        for pid in children:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
