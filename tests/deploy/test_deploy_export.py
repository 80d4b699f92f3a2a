"""`zoo export`: runs trained here, exported with the real CLI, reloaded with every backend
and compared with the trained dygraph model on the real test images of tests/data."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest


pytestmark = pytest.mark.integration  # starts processes or trains with Paddle


@pytest.fixture(scope="module")
def env(tmp_path_factory, models_env):
    return models_env(tmp_path_factory.mktemp("plugin"))


@pytest.fixture(scope="module")
def runs(tmp_path_factory, env, train):
    root = tmp_path_factory.mktemp("runs")
    return {model: train(root / model, model, env) for model in ("cnn", "mlp", "bn-cnn")}


@pytest.fixture(scope="module")
def mlp_export(runs, env, tmp_path_factory, export):
    good = tmp_path_factory.mktemp("good") / "mlp-export"
    shutil.copytree(export(runs["mlp"], "paddle", env), good)
    return good


def _catalog(env, monkeypatch):
    from zoo.plugin import load_catalog

    monkeypatch.syspath_prepend(env["PYTHONPATH"].split(":")[0])
    return load_catalog(env["ZOO_REGISTRY"])


@pytest.mark.parametrize("model", ["cnn", "mlp", "bn-cnn"])
def test_exports_agree_with_the_trained_model_on_real_images(runs, env, model, monkeypatch, export,
                                                             seed_small):
    from zoo.data import load_mnist, normalize_images
    from zoo.deploy.manifest import normalize, to_nchw
    from zoo.deploy.serve import open_backend
    from zoo.train.restore import load_model

    run = runs[model]
    folders = {fmt: export(run, fmt, env) for fmt in ("paddle", "onnx")}
    catalog = _catalog(env, monkeypatch)
    net, _, _, _ = load_model(catalog, run)
    net.eval()
    import paddle

    data = load_mnist(seed_small, download=False)
    images = data.test.images
    with paddle.no_grad():
        reference = net(paddle.to_tensor(normalize_images(images, data.mean, data.std))).numpy()
    assert len(set(reference.argmax(1))) > 1  # a model that learned something to compare
    for fmt, backends in (("paddle", ["dygraph", "paddle-inference"]), ("onnx", ["onnxruntime"])):
        manifest = json.loads((folders[fmt] / "zoo-export.json").read_text())
        assert manifest["export_format"] == fmt and manifest["model"] == model
        assert manifest["agreement"]["agrees"] and manifest["agreement"]["max_abs_diff"] <= 1e-4
        assert (manifest["opset"] is None) == (fmt == "paddle")
        for name in backends:
            backend, manifest, _ = open_backend(catalog, folders[fmt], name)
            logits = backend.predict(normalize(to_nchw(images), manifest["normalization"]))
            np.testing.assert_allclose(logits, reference, atol=1e-4, rtol=0)
            assert (logits.argmax(1) == reference.argmax(1)).all(), (model, name)


def test_manifest_says_what_training_did(runs, env, export, seed_small):
    from zoo.checkpoint import latest_checkpoint
    from zoo.data import load_mnist, normalize_images

    def sha256(path):  # hashlib over the file, not zoo's own helper
        return hashlib.sha256(path.read_bytes()).hexdigest()

    from zoo.deploy.manifest import normalize, to_nchw

    folder = export(runs["cnn"], "paddle", env)
    manifest = json.loads((folder / "zoo-export.json").read_text())
    assert manifest["input"]["shape"] == [1, 28, 28] and manifest["class_names"] == list("0123456789")
    assert manifest["model_params"] == {"channels": 20, "kernel_size": 5}
    assert manifest["paddle_version"] and manifest["zoo_version"]
    newest = latest_checkpoint(runs["cnn"])[0]
    assert manifest["source"] == {"checkpoint": str(newest),
                                  "sha256": sha256(newest / "arrays.npz")}
    for name, meta in manifest["files"].items():
        assert sha256(folder / name) == meta["sha256"]
    # Read back from the manifest, the normalization is exactly the one training used.
    data = load_mnist(seed_small, download=False)
    np.testing.assert_allclose(normalize(to_nchw(data.test.images), manifest["normalization"]),
                               normalize_images(data.test.images, data.mean, data.std), atol=1e-6, rtol=0)


def test_an_export_that_disagrees_leaves_no_folder(tmp_path, env, train, run_zoo, assert_one_line_error):
    run = train(tmp_path / "drift", "drifting", env, epochs=1)
    out = tmp_path / "drift-export"
    proc = run_zoo("export", str(run), "--out", str(out), env=env)
    assert_one_line_error(proc, "disagrees with the trained model", "nothing was written")
    assert not out.exists() and not list(tmp_path.glob(".tmp-*"))


def test_existing_out_is_refused_unless_forced(runs, env, tmp_path, run_zoo, assert_one_line_error):
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine")
    proc = run_zoo("export", str(runs["mlp"]), "--out", str(taken), env=env)
    assert_one_line_error(proc, "already exists", "--force")
    proc = run_zoo("export", str(runs["mlp"]), "--out", str(taken), "--force", env=env)
    assert_one_line_error(proc, "not an export folder")
    assert (taken / "notes.txt").read_text() == "mine"
    assert_one_line_error(run_zoo("export", str(tmp_path / "nothing"), env=env), "no such run")


def test_concurrent_exports_into_one_out_publish_exactly_one(runs, env, tmp_path, assert_one_line_error):
    # All three used to pass the existence check at the start, and each published by
    # moving the others' folder aside and deleting it: three exit 0, one folder left.
    import subprocess
    import sys

    out = tmp_path / "shared-out"
    procs = [subprocess.Popen([sys.executable, "-m", "zoo", "export", str(runs[m]), "--out", str(out)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for m in ("mlp", "cnn", "bn-cnn")]
    ends = [(p, *p.communicate(timeout=300)) for p in procs]
    won = [(p, o) for p, o, _ in ends if p.returncode == 0]
    lost = [subprocess.CompletedProcess(p.args, p.returncode, o, e) for p, o, e in ends if p.returncode]
    assert len(won) == 1, [e for _, _, e in ends]
    for proc in lost:
        assert_one_line_error(proc, str(out))
    manifest = json.loads((out / "zoo-export.json").read_text())
    assert f"exported {manifest['model']} " in won[0][1]  # the folder is the winner's
    assert not list(tmp_path.glob(".tmp-*"))


@pytest.mark.parametrize("change, needle", [
    (lambda f: (f / "zoo-export.json").unlink(), "zoo-export.json missing"),
    (lambda f: (f / "zoo-export.json").write_text("{not json"), "not valid JSON"),
    (lambda f: (f / "model.json").unlink(), "model.json missing"),
    (lambda f: (f / "model.pdiparams").write_bytes((f / "model.pdiparams").read_bytes()[:-10]),
     "model.pdiparams is"),
    (lambda f: _flip_a_byte(f / "model.pdiparams"), "sha256 mismatch"),
    (lambda f: _edit(f, lambda m: m["input"].update(shape=[28, 28])), "input.shape"),
    (lambda f: _edit(f, lambda m: m["files"].update({"../x": m["files"].pop("model.json")})),
     "must list exactly"),
    # Numbers a damaged or hostile manifest may hold: 1e-300 is 0 in float32 and served
    # garbage probabilities with a divide-by-zero warning.
    (lambda f: _edit(f, lambda m: m["normalization"].update(std=[1e-300])), "normalization.std"),
    (lambda f: _edit(f, lambda m: m["normalization"].update(std=[-1.0])), "normalization.std"),
    (lambda f: _edit(f, lambda m: m["normalization"].update(mean=[-5e9])), "normalization.mean"),
    (lambda f: _edit(f, lambda m: m["input"].update(shape=[1, 28, 2 ** 31])), "input.shape"),
])
def test_a_damaged_export_is_a_one_line_error(mlp_export, env, tmp_path, change, needle,
                                              assert_one_line_error, run_zoo):
    bad = tmp_path / "bad"
    shutil.copytree(mlp_export, bad)
    change(bad)
    image = tmp_path / "digit.npy"
    np.save(image, np.zeros((28, 28), np.uint8))
    assert_one_line_error(run_zoo("predict", str(bad), str(image), env=env), str(bad), needle)


def _flip_a_byte(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _edit(folder, change):
    manifest = json.loads((folder / "zoo-export.json").read_text())
    change(manifest)
    (folder / "zoo-export.json").write_text(json.dumps(manifest))


def test_without_the_onnx_extra_onnx_is_a_one_line_error_saying_how_to_install(runs, tmp_path, site_without,
                                                                               isolated, zoo_main,
                                                                               assert_one_line_error, export):
    site = site_without(tmp_path / "site", "onnx*", "paddle2onnx*")
    out = tmp_path / "never"
    proc = isolated(site, zoo_main, "export", str(runs["cnn"]), "--format", "onnx", "--out", str(out),
                    cwd=tmp_path)
    assert_one_line_error(proc, "--format onnx needs", "pip install 'zoo[onnx]'")
    assert not out.exists()
    onnx_export = export(runs["cnn"], "onnx")
    image = tmp_path / "digit.npy"
    np.save(image, np.zeros((28, 28), np.uint8))
    proc = isolated(site, zoo_main, "predict", str(onnx_export), str(image), cwd=tmp_path)
    assert_one_line_error(proc, "needs onnxruntime", "pip install 'zoo[onnx]'")
    # The same environment serves a paddle export: only the extra is missing.
    paddle_export = export(runs["cnn"], "paddle")
    proc = isolated(site, zoo_main, "predict", str(paddle_export), str(image), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
