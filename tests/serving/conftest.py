"""Helpers of the serving tests: a real ``zoo serve`` process on a free port of 127.0.0.1,
a test-only backend that fails or dawdles on demand, and requests in the protocol's JSON.

The fixtures (two tiny real exports, one server of both, their batch-1 reference logits)
are session-scoped: test_serve.py and test_serve_binary.py share one of each."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tests.fixtures import provide
from tests.fixtures.deploy_kit import SEED_SMALL
from tests.fixtures.vision_data import cifar_files, images_for, labels_for, write_cifar_folder
from tests.fixtures.zoo_kit import BUILTINS, registry_text, run_zoo

POISON = 1e7  # an FP32 value the fussy backend refuses to compute
TOLERANCE = 1e-5

# paddle-inference, except that a batch holding POISON raises (a backend failure that
# belongs to one request) and ``delay_ms`` makes each call slow (requests stay in flight).
FUSSY_PLUGIN = f'''
import time

import numpy as np

import zoo
from zoo.plugins.paddle_backends import PaddleInferenceBackend


class Fussy(PaddleInferenceBackend):
    name = "fussy"

    def __init__(self, delay_ms):
        super().__init__()
        self.delay_ms = delay_ms

    def predict(self, batch):
        if np.any(batch >= {POISON}):
            raise RuntimeError("poisoned input")
        time.sleep(self.delay_ms / 1e3)
        return super().predict(batch)


def build_fussy(*, delay_ms: float = 0.0):
    return Fussy(delay_ms)


@zoo.hookimpl
def zoo_register_backends(register):
    register("fussy", build_fussy, description="fails on poisoned input, sleeps delay_ms (test only)")
'''


def fussy_env(folder: Path) -> dict[str, str]:
    """Environment for zoo commands that also see the fussy backend."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "zoo_fussy_backend.py").write_text(textwrap.dedent(FUSSY_PLUGIN))
    (folder / "registry.toml").write_text(registry_text(BUILTINS + ["zoo_fussy_backend"]))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(folder), env.get("PYTHONPATH", "")])
    env["ZOO_REGISTRY"] = str(folder / "registry.toml")
    return env


class Served:
    """``zoo serve ARGS --port 0`` in its own process; ``url`` once it listens."""

    def __init__(self, *args: str, env: dict | None = None) -> None:
        self.log = tempfile.TemporaryFile("w+")
        self.proc = subprocess.Popen([sys.executable, "-m", "zoo", "serve", *map(str, args), "--port", "0"],
                                     stdout=subprocess.PIPE, stderr=self.log, text=True, env=env)
        self.url = self._listening()

    def _listening(self, timeout: float = 240) -> str:
        from zoo.serving.local import announced_url

        url = announced_url(self.proc, timeout)
        if url:
            return url
        self.stop()
        raise AssertionError(f"zoo serve did not start: {self.stderr()[-3000:]}")

    def stderr(self) -> str:
        self.log.seek(0)
        return self.log.read()

    def terminate(self) -> None:
        self.proc.send_signal(signal.SIGTERM)

    def wait(self, timeout: float = 60) -> int:
        return self.proc.wait(timeout=timeout)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def tensor_request(pixels: np.ndarray, datatype: str = "FP32", **extra) -> dict:
    """An inference request for ``pixels`` [N, C, H, W] (flat row-major data)."""
    data = pixels.reshape(-1).tolist() if datatype == "FP32" else pixels.astype(int).reshape(-1).tolist()
    return {"inputs": [{"name": "image", "shape": list(pixels.shape), "datatype": datatype,
                        "data": data}], **extra}


def logits_of(answer) -> np.ndarray:
    assert answer.status_code == 200, answer.text
    output = answer.json()["outputs"][0]
    assert output["name"] == "logits" and output["datatype"] == "FP32"
    return np.asarray(output["data"], np.float32).reshape(output["shape"])


@pytest.fixture(scope="session")
def exports(tmp_path_factory):
    """name -> export folder (MNIST-format and CIFAR-format), and the CIFAR sweep."""
    root = tmp_path_factory.mktemp("serve")
    trained = run_zoo("train", "--model", "cnn", "--epochs", "1", "--batch-size", "20",
                      "--data-dir", str(SEED_SMALL), "--out", str(root / "run-mnist"), "--quiet")
    assert trained.returncode == 0, trained.stderr[-3000:]
    cifar = write_cifar_folder(root / "cifar", cifar_files(per_file=24, n_test=30))
    swept = run_zoo("bench", "--datasets", "cifar10", "--models", "cnn", "--optimizers", "adam",
                    "--epochs", "1", "--batch-size", "20", "--data-dir", str(cifar),
                    "--out", str(root / "sweep"), "--quiet")
    assert swept.returncode == 0, swept.stderr[-3000:]
    (cell,) = [d for d in (root / "sweep" / "cells").iterdir() if d.is_dir()]
    folders = {"mnist-cnn": root / "run-mnist", "cifar-cnn": cell}
    for name, run in folders.items():
        done = run_zoo("export", str(run), "--out", str(root / name))
        assert done.returncode == 0, done.stderr[-3000:]
    return {"mnist-cnn": root / "mnist-cnn", "cifar-cnn": root / "cifar-cnn", "sweep": root / "sweep"}


@pytest.fixture(scope="session")
def server(exports):
    served = Served(exports["mnist-cnn"], exports["cifar-cnn"])
    yield served
    assert served.stop() == 0, served.stderr()


@pytest.fixture(scope="session")
def reference(exports):
    """Each export loaded in this process with paddle-inference: batch-1 logits to compare with."""
    from zoo.deploy.serve import open_backend
    from zoo.plugin import load_catalog

    catalog = load_catalog()
    backends = {name: open_backend(catalog, exports[name], None)[:2] for name in ("mnist-cnn", "cifar-cnn")}
    yield backends
    for backend, _ in backends.values():
        backend.close()


SHAPES = {"mnist-cnn": (1, 28, 28), "cifar-cnn": (3, 32, 32)}
MODELS = list(SHAPES)


@pytest.fixture(params=MODELS)
def model_name(request) -> str:
    """Each served model in turn: a test that takes it runs once per model."""
    return request.param


def pixels(name: str, n: int, seed: int = 0) -> np.ndarray:
    """uint8-valued pixels [n, C, H, W] of the model's shape (the test data's generator)."""
    c, h, w = SHAPES[name]
    return np.moveaxis(images_for(labels_for(n, seed), (h, w, c), seed), -1, 1).astype(np.float32)


def normalized(manifest: dict, batch: np.ndarray) -> np.ndarray:
    from zoo.deploy.manifest import normalize

    return normalize(batch, manifest["normalization"])


@pytest.fixture(scope="session")
def fussy(exports, tmp_path_factory):
    """The CIFAR export on the fussy backend, with a small body limit."""
    env = fussy_env(tmp_path_factory.mktemp("fussy"))
    served = Served(exports["cifar-cnn"], "--backend", "fussy", "--max-body-mb", "0.5", env=env)
    yield served
    assert served.stop() == 0, served.stderr()


# A CIFAR-like manifest: 3 channels with their own mean/std, named classes.
MANIFEST = {"input": {"shape": [3, 2, 2]}, "class_names": ["cat", "dog", "fox"], "model": "cnn",
            "dataset": "cifar10", "export_format": "paddle",
            "normalization": {"mean": [125.3, 123.0, 113.9], "std": [63.0, 62.1, 66.7]}}


poison_fixture = provide(POISON, "poison")
tolerance_fixture = provide(TOLERANCE, "tolerance")
shapes_fixture = provide(SHAPES, "shapes")
def tcp_sockets_of(pid: int, port: int) -> dict[str, set[int]]:
    """The TCP sockets process ``pid`` holds on local ``port``, by state ("listen",
    "established"): their inodes, read from /proc (IPv4)."""
    import os

    held = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            held.add(int(target[8:-1]))
    found: dict[str, set[int]] = {"listen": set(), "established": set()}
    with open(f"/proc/{pid}/net/tcp") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            local_port, state, inode = int(fields[1].split(":")[1], 16), fields[3], int(fields[9])
            if local_port == port and inode in held:
                found.setdefault({"0A": "listen", "01": "established"}.get(state, state), set()).add(inode)
    return found


def worker_pids(parent: int) -> list[int]:
    """The ``zoo serve --workers`` processes of server ``parent`` (spawned children)."""
    import os

    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                spawned = b"spawn_main" in cmdline.read()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == parent and spawned:
            found.append(int(entry))
    return sorted(found)


served_class_fixture = provide(Served, "served_class")
tcp_sockets_of_fixture = provide(tcp_sockets_of)
worker_pids_fixture = provide(worker_pids)
fussy_env_fixture = provide(fussy_env)
tensor_request_fixture = provide(tensor_request)
logits_of_fixture = provide(logits_of)
pixels_fixture = provide(pixels)
normalized_fixture = provide(normalized)
cifar_manifest_fixture = provide(MANIFEST, "cifar_manifest")
