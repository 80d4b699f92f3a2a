"""The user's journey on every dataset family, end to end through zoo's commands: sweep two
models x two optimizers, pick the best by validation, export it to paddle and onnx,
predict on files of the very kind training read, measure serving, write the report.

Each family's data is tiny but in its real file format (tests/fixtures/vision_data.py), and each
family runs its journey once (a module-scoped fixture) that every test here reads. The
sweep is a real `zoo bench` process with real workers; the steps after it call zoo's
console entry point in this process (Paddle imported once, not once per step).
"""

from __future__ import annotations


import json
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest


pytestmark = pytest.mark.integration  # starts processes or trains with Paddle

FORMATS = ("paddle", "onnx")
# Small enough for the suite, real enough to learn a little: one epoch of tiny models.
SWEEP = ("--models", "cnn,mlp", "--optimizers", "sgd,adam", "--epochs", "1", "--batch-size", "20",
         "--set", "model.channels=4", "--set", "model.hidden1=16", "--set", "model.hidden2=8",
         "--set", "optimizer.learning_rate=0.01", "--quiet")
LEAN_INFER = ("--backends", "paddle-inference,onnxruntime", "--requests", "3", "--warmup", "1",
              "--batch-size", "4", "--large-batch", "8", "--repeats", "1", "--check-images", "16")


@dataclass
class Family:
    dataset: str
    sets: tuple[str, ...] = ()  # --set options of its sweep


# Each family's writer gets ``kit``: the journey's fixtures (vision_data's writers, run_zoo, cli).
def _idx(root: Path, kit) -> tuple[Path, list[Path]]:
    folder = kit.write_idx_set(root / "fashion", n_train=80, n_test=20)
    return folder, [folder / "t10k-images-idx3-ubyte.gz"]  # the very IDX file training tested on


def _cifar(root: Path, kit) -> tuple[Path, list[Path]]:
    folder = kit.write_cifar_folder(root / "cifar", kit.cifar_files(per_file=12, n_test=20))
    return folder, []  # PNGs of its test images, written once the data is loaded


def _imagefolder(grey: bool):
    def write(root: Path, kit) -> tuple[Path, list[Path]]:
        folder = root / ("grey" if grey else "rgb")
        kit.write_imagefolder(folder, classes=("cat", "dog", "fox"), size=(12, 10), grey=grey,
                          per_class={"train": 20, "test": 5})
        # The test split's order: classes, then files by name.
        return folder, sorted((folder / "test").glob("*/*.png"))
    return write


FAMILIES = {
    "idx": (Family("fashion-mnist"), _idx),
    "cifar": (Family("cifar10"), _cifar),
    # grey PNGs stay one channel: today by naming the mode (mode=auto will make it the default)
    "imagefolder-grey": (Family("imagefolder", ("--set", "dataset.mode=grayscale")),
                         _imagefolder(grey=True)),
    "imagefolder-rgb": (Family("imagefolder"), _imagefolder(grey=False)),
}


def run_sweep(run_zoo, *args, env):
    """``zoo bench`` is the real process story (its cells are worker processes)."""
    proc = run_zoo("bench", *args, env=env, timeout=600)
    assert proc.returncode == 0, f"zoo bench {' '.join(args)}\n{proc.stderr[-3000:]}"
    return proc.stdout


def stored_rows(sweep: Path) -> list[dict]:
    with sqlite3.connect(f"file:{sweep / 'results.db'}?mode=ro", uri=True) as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute("SELECT * FROM results")]


def reference(cell: Path) -> tuple[np.ndarray, object]:
    """The trained model's logits on its test split, fed as in training, and the data."""
    from zoo.data import transform_of
    from zoo.deploy.agreement import reference_logits
    from zoo.plugin import load_catalog
    from zoo.train.restore import load_model

    net, data, _, _ = load_model(load_catalog(), cell)
    net.eval()
    return reference_logits(net, data.test.images, transform_of(data)), data


@pytest.fixture(scope="module", params=list(FAMILIES))
def journey(request, tmp_path_factory, run_zoo, cli, write_image, write_idx_set, write_cifar_folder,
            cifar_files, write_imagefolder):
    kit = SimpleNamespace(run_zoo=run_zoo, cli=cli, write_image=write_image, write_idx_set=write_idx_set,
                          write_cifar_folder=write_cifar_folder, cifar_files=cifar_files,
                          write_imagefolder=write_imagefolder)
    family, write = FAMILIES[request.param]
    root = tmp_path_factory.mktemp(request.param)
    env = {k: v for k, v in os.environ.items() if k != "ZOO_DATA_DIR"}
    env["XDG_CACHE_HOME"] = str(root / "cache")
    with pytest.MonkeyPatch.context() as patch:  # the in-process steps see the same cache
        patch.delenv("ZOO_DATA_DIR", raising=False)
        patch.setenv("XDG_CACHE_HOME", env["XDG_CACHE_HOME"])
        return _journey(family, write, root, env, kit)


def _journey(family: Family, write, root: Path, env: dict, kit) -> dict:
    cli = kit.cli
    data_dir, files = write(root, kit)
    sweep = root / "sweep"
    got: dict = {"family": family, "sweep": sweep}
    got["bench"] = run_sweep(kit.run_zoo, "--datasets", family.dataset, *SWEEP, *family.sets,
                           "--data-dir", str(data_dir), "--out", str(sweep), "--format", "json", env=env)
    got["best"] = json.loads(cli("results", str(sweep), "--best", "--format", "json"))
    winner = got["winner"] = sweep / got["best"][0]["cell_dir"]
    got["logits"], got["data"] = reference(winner)
    if not files:  # CIFAR-10: a user's own RGB pictures, here its test images as PNG files
        files = [kit.write_image(root / "pngs" / f"{i:03d}.png", image)
                 for i, image in enumerate(got["data"].test.images)]
    got["class_names"] = list(got["data"].class_names)
    got["exports"], got["predicted"] = {}, {}
    for fmt in FORMATS:
        out = root / f"export-{fmt}"
        # onnx as a user types it in the folder above (`zoo export sweep --best`): the
        # stored cell folders are absolute, the given sweep relative.
        here = Path.cwd()
        os.chdir(root if fmt == "onnx" else here)
        try:
            given = sweep.name if fmt == "onnx" else str(sweep)
            got["exports"][fmt] = json.loads(cli("export", given, "--best", "--format", fmt,
                                                 "--out", str(out), "--json"))
        finally:
            os.chdir(here)
        got["predicted"][fmt] = json.loads(cli("predict", str(out), *map(str, files), "--top", "1",
                                               "--json"))
    got["infer"] = cli("bench-infer", str(sweep), *LEAN_INFER, "--format", "json")
    cli("report", str(sweep))
    got["eval"] = json.loads(cli("eval", str(winner), "--detail", "--json"))
    got["eval_text"] = cli("eval", str(winner), "--detail")
    cli("report", str(winner))
    return got


def test_every_cell_of_the_sweep_trains(journey):
    rows = stored_rows(journey["sweep"])
    assert len(rows) == 4 and {r["status"] for r in rows} == {"ok"}, [r["reason"] for r in rows]
    assert {(r["model"], r["optimizer"]) for r in rows} == {(m, o) for m in ("cnn", "mlp")
                                                             for o in ("sgd", "adam")}
    assert all(r["num_params"] > 0 and 0 <= r["val_acc"] <= r["best_val_acc"] <= 1 for r in rows)


def test_the_best_is_the_highest_validation_accuracy_in_the_store(journey):
    rows = stored_rows(journey["sweep"])
    (best,) = journey["best"]
    highest = max(r["val_acc"] for r in rows)
    assert best["val_acc"] == highest and best["best"] is True
    chosen = next(r for r in rows if r["cell"] == best["cell"])
    assert chosen["val_acc"] == highest and best["cell_dir"] == f"cells/{chosen['slug']}"
    assert journey["winner"] == journey["sweep"] / "cells" / chosen["slug"]
    for fmt in FORMATS:
        assert journey["exports"][fmt]["best"]["cell"] == best["cell"]


def test_every_json_and_csv_row_names_its_cell_and_folder_within_the_sweep(journey, cli):
    import csv
    import io

    sweep = journey["sweep"]
    cells = {r["cell"] for r in stored_rows(sweep)}
    tables = [json.loads(cli("results", str(sweep), "--format", "json")),
              list(csv.DictReader(io.StringIO(cli("results", str(sweep), "--format", "csv")))),
              json.loads(cli("results", str(sweep), "--all", "--format", "json"))]
    for rows in tables:
        assert {r["cell"] for r in rows} == cells
        for r in rows:
            assert not Path(r["cell_dir"]).is_absolute() and (sweep / r["cell_dir"] / "metrics.json").is_file()


def test_exports_record_the_datasets_own_normalization_and_names(journey):
    from zoo.data import transform_of

    data = journey["data"]
    transform = transform_of(data)
    channels = data.input_shape[0]
    for manifest in journey["exports"].values():
        assert manifest["dataset"] == journey["family"].dataset
        assert manifest["class_names"] == journey["class_names"]
        assert manifest["normalization"]["mean"] == pytest.approx(list(transform.mean) * (channels // len(transform.mean)))
        assert manifest["normalization"]["std"] == pytest.approx(list(transform.std) * (channels // len(transform.std)))
        assert manifest["agreement"]["agrees"] and manifest["agreement"]["max_abs_diff"] <= 1e-4


def test_predict_on_the_training_kind_of_files_gives_the_trained_models_answers(journey):
    logits = journey["logits"]
    names = journey["class_names"]
    expected = [names[c] for c in logits.argmax(axis=1)]
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    top = (shifted / shifted.sum(axis=1, keepdims=True)).max(axis=1)
    for fmt in FORMATS:
        predictions = journey["predicted"][fmt]["predictions"]
        assert len(predictions) == len(logits)
        assert [p["top"][0]["name"] for p in predictions] == expected
        np.testing.assert_allclose([p["top"][0]["probability"] for p in predictions], top, atol=1e-4)


def test_bench_infer_serves_every_cell_with_every_backend(journey):
    rows = json.loads(journey["infer"])
    assert len(rows) == 4 * 2
    assert all(r["status"] == "ok" for r in rows), [r.get("reason") for r in rows]


def test_the_report_marks_the_winner_in_its_results_table(journey, read_page):
    page = read_page(journey["sweep"] / "report.html")
    table = page.tables["results-table"]
    (best,) = journey["best"]
    marked = [dict(zip(table["headers"], row)) for row in table["rows"]
              if any("(best)" in cell for cell in row)]
    assert len(marked) == 1
    assert (marked[0]["model"], marked[0]["optimizer"]) == (best["model"], best["optimizer"])
    assert marked[0]["cpu val acc"] == f"{best['val_acc']:.4f} (best)"


def test_eval_and_the_run_report_speak_in_class_names(journey, read_page):
    report, names = journey["eval"], journey["class_names"]
    confusion = np.array(report["confusion"])
    assert report["class_names"] == names and [s["class"] for s in report["per_class"]] == names
    for c, scores in enumerate(report["per_class"]):
        hits, predicted, actual = confusion[c, c], confusion[:, c].sum(), confusion[c].sum()
        assert scores["support"] == actual
        assert scores["recall"] == (pytest.approx(hits / actual) if actual else None)
        assert scores["precision"] == (pytest.approx(hits / predicted) if predicted else None)
    text = journey["eval_text"]
    assert all(name in text for name in names)
    page = read_page(journey["winner"] / "report.html")
    assert page.tables["confusion-table"]["headers"] == ["true \\ predicted", *names]
    assert [row[0] for row in page.tables["confusion-table"]["rows"]] == names
    per_class = page.tables["per-class-table"]
    assert [row[:2] for row in per_class["rows"]] == [[s["class"], str(s["support"])]
                                                       for s in report["per_class"]]


def test_best_follows_validation_even_where_test_disagrees(journey, tmp_path, cli):
    """Rewrite a copy's stored validation accuracies so that the best on test is the worst
    on validation: --best must still name the best on validation."""
    import shutil

    copy = tmp_path / "sweep"
    shutil.copytree(journey["sweep"], copy)
    rows = sorted(stored_rows(copy), key=lambda r: (r["test_acc"], r["slug"]))
    with sqlite3.connect(copy / "results.db") as db:
        for val, r in zip((0.9, 0.8, 0.7, 0.1), rows):  # lowest test -> highest validation
            db.execute("UPDATE results SET val_acc = ? WHERE cell = ? AND seed = ?", (val, r["cell"], r["seed"]))
    (best,) = json.loads(cli("results", str(copy), "--best", "--format", "json"))
    assert best["cell"] == rows[0]["cell"] and best["val_acc"] == 0.9
    assert best["acc"] == rows[0]["test_acc"] <= rows[-1]["test_acc"]
    table = json.loads(cli("results", str(copy), "--format", "json"))
    assert [r["cell"] for r in table if r["best"]] == [rows[0]["cell"]]
    by_time = json.loads(cli("results", str(copy), "--best", "--by", "time", "--format", "json"))
    assert by_time[0]["time"] == min(r["time"] for r in table)


def test_a_sweep_without_a_criterion_or_without_best_is_a_one_line_error(journey, run_zoo,
                                                                         assert_one_line_error):

    sweep = str(journey["sweep"])
    proc = run_zoo("results", sweep, "--best", "--by", "time_to_target")
    assert_one_line_error(proc, "no finished (ok) cell has a time to the target", "--target-acc")
    assert proc.returncode == 2
    proc = run_zoo("export", sweep)
    assert_one_line_error(proc, "is a zoo bench folder", "--best")
    assert proc.returncode == 2
