"""zoo bench over vision models and datasets: a table for two models x two datasets on tiny
files in the real formats (found in zoo's cache, as after a download), and the named
grids of benchmarks/ expand to the cells they describe."""

from __future__ import annotations

import json
import os
import re

import pytest

pytestmark = pytest.mark.integration  # starts processes or trains with Paddle


def test_two_vision_models_on_two_datasets_make_a_table(tmp_path, write_cifar_folder, cifar_files,
                                                        write_idx_set, run_zoo):
    cache = tmp_path / "xdg"
    write_cifar_folder(cache / "zoo" / "cifar10" / "cifar-10-batches-bin", cifar_files(per_file=12, n_test=20))
    write_idx_set(cache / "zoo" / "fashion-mnist", n_train=60, n_test=20)
    env = {**os.environ, "XDG_CACHE_HOME": str(cache),
           # no download may happen: both datasets must come from the cache
           "ZOO_CIFAR10_URL": "http://127.0.0.1:9/", "ZOO_FASHION_MNIST_URL": "http://127.0.0.1:9/"}
    env.pop("ZOO_DATA_DIR", None)
    out = tmp_path / "bench"
    args = ["bench", "--models", "lenet,squeezenet1_1", "--datasets", "cifar10,fashion-mnist",
            "--optimizers", "momentum", "--epochs", "1", "--batch-size", "16", "--out", str(out),
            "--quiet"]
    proc = run_zoo(*args, "--format", "json", env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = json.loads(proc.stdout)
    assert {(r["dataset"], r["model"]) for r in rows} == \
        {(d, m) for d in ("cifar10", "fashion-mnist") for m in ("lenet", "squeezenet1_1")}
    for row in rows:
        assert row["status"] == "ok" and 0 <= row["acc"] <= 1 and row["time"] > 0, row
    table = run_zoo("results", str(out), env=env)
    assert table.returncode == 0, table.stderr
    lines = [line for line in table.stdout.splitlines() if re.search(r"\b(lenet|squeezenet1_1)\b", line)]
    assert len(lines) == 4
    assert sum("cifar10" in line for line in lines) == sum("fashion-mnist" in line for line in lines) == 2


def test_the_named_vision_grids_expand_to_their_cells(run_zoo, repo_root):
    cifar = run_zoo("bench", "--grid", str(repo_root / "benchmarks" / "cifar-small.toml"), "--dry-run")
    assert cifar.returncode == 0, cifar.stderr
    cells = [line for line in cifar.stdout.splitlines() if line.startswith("cifar10-")]
    assert [c.split("-")[1] for c in cells] == ["resnet18", "mobilenet_v2", "vgg11_bn"]
    assert all("-momentum-cosine-l2-" in c for c in cells)
    fashion = run_zoo("bench", "--grid", str(repo_root / "benchmarks" / "fashion-cnn.toml"), "--dry-run")
    assert fashion.returncode == 0, fashion.stderr
    cells = [line for line in fashion.stdout.splitlines() if line.startswith("fashion-mnist-")]
    assert [c.split("-")[2] for c in cells] == ["cnn", "mlp"]
