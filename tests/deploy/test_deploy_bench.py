"""`zoo bench-infer` on a real sweep: rows in results.db for every ok cell × backend ×
device, shown by `zoo results`, kept on a rerun, skipped with a reason where a backend
cannot run."""

from __future__ import annotations

import json
import os
import textwrap

import pytest


pytestmark = pytest.mark.integration  # starts processes or trains with Paddle

QUICK = ["--requests", "20", "--warmup", "2", "--repeats", "2", "--batch-size", "8",
         "--large-batch", "32", "--check-images", "50"]
BACKENDS = {"dygraph", "paddle-inference", "onnxruntime"}


@pytest.fixture(scope="session")
def infer_rows(db_rows):
    def _rows(sweep) -> list[dict]:
        return db_rows(sweep, "inference")

    return _rows


@pytest.fixture(scope="module")
def sweep(tmp_path_factory, models_env, run_zoo, seed_small):
    """A sweep with two ok cells and one failed cell, then measured once."""
    env = models_env(tmp_path_factory.mktemp("plugin"))
    out = tmp_path_factory.mktemp("sweep") / "b"
    trained = run_zoo("bench", "--models", "cnn,mlp,broken", "--optimizers", "adam", "--epochs", "1",
                      "--batch-size", "20", "--data-dir", str(seed_small), "--out", str(out),
                      "--quiet", env=env)
    assert trained.returncode == 1, trained.stderr[-3000:]  # the broken cell failed
    measured = run_zoo("bench-infer", str(out), *QUICK, env=env)
    assert measured.returncode == 0, measured.stderr[-3000:]
    return {"out": out, "env": env, "measured": measured}


def test_rows_for_every_ok_cell_backend_and_device(sweep, infer_rows):
    rows = infer_rows(sweep["out"])
    assert {(r["slug"].split("-")[1], r["backend"]) for r in rows} == {
        (model, backend) for model in ("cnn", "mlp") for backend in BACKENDS}
    for r in rows:
        assert r["status"] == "ok" and r["device"] == "cpu" and r["seed"] == 0, r
        assert 0 <= r["max_abs_diff"] <= 1e-4 and r["classes_differ"] == 0 and r["images_checked"] == 50
        assert 0 < r["p50_ms"] <= r["p99_ms"] and r["requests"] == 20
        assert r["images_per_s"] > 0 and r["large_images_per_s"] > 0
        assert (r["batch_size"], r["large_batch"]) == (8, 32)
        assert json.loads(r["backend_params"]) == {
            "dygraph": {}, "onnxruntime": {"threads": 0},
            "paddle-inference": {"onednn": True, "tensorrt": True, "threads": 0}}[r["backend"]]
        assert r["export_dir"].endswith(f"export-{r['export_format']}")
    assert "broken" not in sweep["measured"].stderr  # only ok cells are measured


def test_results_show_the_inference_table(sweep, run_zoo):
    shown = run_zoo("results", str(sweep["out"]), env=sweep["env"])
    assert shown.returncode == 0, shown.stderr
    training, _, serving = shown.stdout.partition("inference (zoo bench-infer")
    assert "broken" in training and "failed" in training
    lines = serving.splitlines()
    header = lines[1].split()
    assert header[:2] == ["dataset", "model"] and "backend" in header and "p50" in header
    assert "img/s b8" in lines[1] and "img/s b32" in lines[1]
    body = [line.split() for line in lines[3:] if line.strip()]
    assert sorted((line[1], line[header.index("backend")]) for line in body) == sorted(
        (model, backend) for model in ("cnn", "mlp") for backend in BACKENDS)
    as_json = run_zoo("results", str(sweep["out"]), "--inference", "--format", "json", env=sweep["env"])
    assert len(json.loads(as_json.stdout)) == 6
    training_json = json.loads(run_zoo("results", str(sweep["out"]), "--format", "json",
                                       env=sweep["env"]).stdout)
    assert {s["model"] for s in training_json} == {"cnn", "mlp", "broken"}  # unchanged shape


def test_a_rerun_keeps_rows_and_changed_parameters_measure_again(sweep, run_zoo, infer_rows):
    before = {(r["cell"], r["backend"]): r["measured_at"] for r in infer_rows(sweep["out"])}
    again = run_zoo("bench-infer", str(sweep["out"]), *QUICK, env=sweep["env"])
    assert again.returncode == 0 and "ok " not in again.stderr, again.stderr
    assert {(r["cell"], r["backend"]): r["measured_at"] for r in infer_rows(sweep["out"])} == before
    plain = run_zoo("bench-infer", str(sweep["out"]), *QUICK, "--set", "backend.onednn=false",
                    env=sweep["env"])
    assert plain.returncode == 0, plain.stderr
    assert plain.stderr.count("ok ") == 2 and "paddle-inference" in plain.stderr
    changed = {r["backend"]: json.loads(r["backend_params"]) for r in infer_rows(sweep["out"])}
    assert changed["paddle-inference"]["onednn"] is False and len(infer_rows(sweep["out"])) == 6


def test_devices_and_backends_that_cannot_run_are_skipped_with_the_reason(sweep, tmp_path, run_zoo,
                                                                          missing_gpu, site_without, isolated,
                                                                          zoo_main, infer_rows):
    gpu = run_zoo("bench-infer", str(sweep["out"]), *QUICK, "--devices", missing_gpu(), "--backends",
                  "dygraph", env=sweep["env"])
    assert gpu.returncode == 4, gpu.stderr  # every row skipped: nothing was measured
    assert gpu.stderr.splitlines()[-1].startswith("zoo: 2 of 2 measurements were skipped")
    skipped = [r for r in infer_rows(sweep["out"]) if r["device"] == missing_gpu()]
    assert len(skipped) == 2 and all(r["status"] == "skipped" and "not available" in r["reason"]
                                     for r in skipped)
    # Without the onnx extra, the onnxruntime rows say how to install it; the others run.
    site = site_without(tmp_path / "site", "onnx*", "paddle2onnx*")
    proc = isolated(site, zoo_main, "bench-infer", str(sweep["out"]), *QUICK, "--force",
                    "--backends", "onnxruntime", cwd=tmp_path)
    assert proc.returncode == 4, proc.stderr[-3000:]
    ort = [r for r in infer_rows(sweep["out"]) if r["backend"] == "onnxruntime"]
    assert all(r["status"] == "skipped" and "pip install 'zoo[onnx]'" in r["reason"] for r in ort)
    shown = run_zoo("results", str(sweep["out"]), env=sweep["env"]).stdout
    assert "skipped: backend 'onnxruntime' needs onnxruntime" in shown


LIAR_BACKEND = """
import zoo


class Liar(zoo.Backend):
    name, format = "liar", "paddle"

    def load(self, export_dir, manifest, device):
        self.classes = len(manifest["class_names"])

    def predict(self, batch):
        import numpy as np

        return np.zeros((len(batch), self.classes), np.float32)  # never the trained model's


@zoo.hookimpl
def zoo_register_backends(register):
    register("liar", Liar, description="answers zeros (test only)")
"""


def test_failed_rows_make_the_exit_code_1(sweep, tmp_path, registry_text, builtin_plugins, run_zoo,
                                          infer_rows):
    (tmp_path / "zoo_liar_backend.py").write_text(textwrap.dedent(LIAR_BACKEND))
    registry = tmp_path / "registry.toml"
    registry.write_text(registry_text(builtin_plugins + ["zoo_deploy_models", "zoo_liar_backend"]))
    env = {**sweep["env"], "ZOO_REGISTRY": str(registry),
           "PYTHONPATH": os.pathsep.join([str(tmp_path), sweep["env"]["PYTHONPATH"]])}
    proc = run_zoo("bench-infer", str(sweep["out"]), *QUICK, "--backends", "liar,dygraph", env=env)
    assert proc.returncode == 1, proc.stderr[-3000:]
    liar = [r for r in infer_rows(sweep["out"]) if r["backend"] == "liar"]
    assert len(liar) == 2 and all(r["status"] == "failed" and "disagrees" in r["reason"] for r in liar)
    assert proc.stderr.splitlines()[-1].startswith("zoo: 2 of 4 measurements failed")


def test_bad_arguments_are_one_line_errors(sweep, tmp_path, assert_one_line_error, run_zoo):
    out = str(sweep["out"])
    assert_one_line_error(run_zoo("bench-infer", str(tmp_path)), "no results.db")
    assert_one_line_error(run_zoo("bench-infer", out, "--backends", "nope"), "unknown backend 'nope'")
    assert_one_line_error(run_zoo("bench-infer", out, "--set", "backend.nope=1"),
                          "no chosen backend has a parameter 'nope'")
    assert_one_line_error(run_zoo("bench-infer", out, "--set", "model.width=1"),
                          "only backend.PARAM=VALUE")


@pytest.fixture(scope="module")
def one_cell(tmp_path_factory, run_zoo, seed_small):
    out = tmp_path_factory.mktemp("one") / "sweep"
    trained = run_zoo("bench", "--models", "mlp", "--optimizers", "adam", "--epochs", "1",
                      "--batch-size", "20", "--data-dir", str(seed_small), "--out", str(out), "--quiet")
    assert trained.returncode == 0, trained.stderr[-3000:]
    return out


@pytest.mark.parametrize("stored", ["absolute (zoo 0.2.0 and now)", "relative"])
def test_a_copied_or_moved_sweep_works_on_its_own_cells(one_cell, tmp_path, stored, run_zoo,
                                                        assert_one_line_error, infer_rows):
    import shutil
    import sqlite3

    original = tmp_path / "original"
    shutil.copytree(one_cell, original)
    with sqlite3.connect(original / "results.db") as db:  # as if it had run right here
        db.execute("UPDATE results SET cell_dir = ? || 'cells/' || slug",
                   ("" if stored == "relative" else f"{original}/",))
    (slug,) = [p.name for p in (original / "cells").iterdir()]
    # A copy whose own checkpoints are gone: bench-infer followed the stored absolute
    # folder, measured the original's cells as ok and wrote its exports there.
    copy = tmp_path / "copy"
    shutil.copytree(original, copy)
    shutil.rmtree(copy / "cells" / slug / "checkpoints")
    proc = run_zoo("bench-infer", str(copy), "--backends", "dygraph", *QUICK)
    assert_one_line_error(proc, str(copy / "cells" / slug))
    assert not list(original.glob("cells/*/export-*")) and not infer_rows(copy)
    # A moved sweep: it failed naming the old folder.
    moved = tmp_path / "moved"
    original.rename(moved)
    proc = run_zoo("bench-infer", str(moved), "--backends", "dygraph", *QUICK)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (row,) = infer_rows(moved)
    assert row["status"] == "ok", row["reason"]
    assert (moved / "cells" / slug / row["export_dir"] / "zoo-export.json").is_file()
    report = run_zoo("report", str(moved), "--out", str(tmp_path / "r.html"))
    assert report.returncode == 0 and "metrics.json" not in report.stderr, report.stderr[-2000:]


def test_a_stored_cell_folder_cannot_lead_out_of_the_sweep(one_cell, tmp_path, assert_one_line_error,
                                                           run_zoo):
    import shutil
    import sqlite3

    sweep = tmp_path / "sweep"
    shutil.copytree(one_cell, sweep)
    with sqlite3.connect(sweep / "results.db") as db:
        db.execute("UPDATE results SET cell_dir = '../../elsewhere'")
    assert_one_line_error(run_zoo("bench-infer", str(sweep), "--backends", "dygraph", *QUICK),
                          "not inside")
