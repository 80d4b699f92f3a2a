"""One sweep over several data folders: ``--data-dir NAME=DIR``, a grid file's
``[data_dirs]``, the dry run checking each dataset's data, and ``zoo train``'s one folder."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from zoo.bench.data_dirs import grid_file_table, resolve_data_dirs, split_option
from zoo.data.sample import MNIST_SAMPLE_DIR
from zoo.errors import ConfigError
from zoo.plugin import load_catalog

pytestmark = pytest.mark.integration  # starts processes or trains with Paddle


@pytest.fixture(scope="session")
def sweep_args(tiny_mlp):
    return ["--models", "mlp", "--optimizers", "sgd", *tiny_mlp, "--epochs", "1", "--batch-size", "20",
             "--quiet"]


@pytest.fixture(autouse=True)
def _empty_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))  # nothing cached
    monkeypatch.setenv("ZOO_FASHION_MNIST_URL", "http://127.0.0.1:9/")  # and nothing to fetch
    monkeypatch.delenv("ZOO_DATA_DIR", raising=False)


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


@pytest.fixture
def folders(tmp_path, write_imagefolder, write_idx_set):
    images = tmp_path / "photos"
    write_imagefolder(images, per_class={"train": 8, "test": 3})
    return {"imagefolder": images, "fashion-mnist": write_idx_set(tmp_path / "fashion", n_train=60)}


# --- parsing and precedence (pure) ----------------------------------------------------------


@pytest.mark.parametrize("value, expected", [
    ("imagefolder=/data/x", ("imagefolder", "/data/x")), ("/data/x", (None, "/data/x")),
    ("data/a=b", (None, "data/a=b")), ("./x=1", (None, "./x=1")), ("fashion-mnist=rel", ("fashion-mnist", "rel")),
])
def test_a_value_is_name_equals_dir_only_when_the_name_has_no_slash(value, expected):
    assert split_option(value) == expected


def test_named_folders_win_over_the_grid_file_which_wins_over_a_bare_folder(catalog, tmp_path):
    grid = tmp_path / "grids" / "g.toml"
    table = grid_file_table(grid, {"cifar10": "cifar", "imagefolder": "/abs/photos"})
    assert table == {"cifar10": str(tmp_path / "grids" / "cifar"), "imagefolder": "/abs/photos"}
    dirs = resolve_data_dirs(catalog, ["/all", "imagefolder=/mine"], table, "--grid g.toml")
    assert dirs.of("imagefolder") == "/mine"  # the command line over the grid file
    assert dirs.of("cifar10") == str(tmp_path / "grids" / "cifar")  # the grid file over /all
    assert dirs.of("mnist") == "/all"  # a bare folder: every dataset without its own
    assert dirs.origin("cifar10") == "--grid g.toml [data_dirs] cifar10"
    assert resolve_data_dirs(catalog, ["rel"]).of("mnist") == str(Path.cwd() / "rel")
    assert resolve_data_dirs(catalog, []).of("mnist") is None
    later = resolve_data_dirs(catalog, ["/a", "cifar10=/c", "/b", "cifar10=/d"])  # the later wins
    assert (later.of("mnist"), later.of("cifar10")) == ("/b", "/d")


@pytest.mark.parametrize("values, needle", [
    (["imagefolderr=/x"], "unknown dataset 'imagefolderr'"),
    (["cifar10="], "no folder given"),
])
def test_bad_data_dir_values_are_one_line_errors(catalog, values, needle):
    with pytest.raises(ConfigError, match=needle):
        resolve_data_dirs(catalog, values)
    with pytest.raises(ConfigError, match="must map dataset names to folders"):
        grid_file_table(Path("g.toml"), {"cifar10": 3})


# --- one sweep, two folders ------------------------------------------------------------------


def test_one_sweep_reads_each_dataset_from_its_own_folder(folders, tmp_path, run_zoo, db_rows, cell_dir,
                                                          sweep_args):
    out = tmp_path / "b"
    proc = run_zoo("bench", "--datasets", "imagefolder,fashion-mnist", *sweep_args, "--out", str(out),
                   "--data-dir", f"imagefolder={folders['imagefolder']}",
                   "--data-dir", f"fashion-mnist={folders['fashion-mnist']}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = {r["dataset"]: r for r in db_rows(out)}
    assert set(rows) == {"imagefolder", "fashion-mnist"}
    assert all(r["status"] == "ok" for r in rows.values()), rows
    for dataset, folder in folders.items():
        job = json.loads((cell_dir(out, f"{dataset}-mlp-sgd") / "job.json").read_text())
        assert job["data_dir"] == str(folder.absolute())
    assert f"imagefolder:{folders['imagefolder'].absolute()}" in proc.stderr  # the data lines


def test_a_grid_file_names_folders_relative_to_itself(folders, tmp_path, run_zoo, sweep_args):
    grid = tmp_path / "grid.toml"  # beside photos/ and fashion/
    grid.write_text('[grid]\ndatasets = ["imagefolder", "fashion-mnist"]\n\n'
                    '[data_dirs]\nimagefolder = "photos"\nfashion-mnist = "fashion"\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = run_zoo("bench", "--grid", str(grid), *sweep_args, "--dry-run", cwd=elsewhere)
    assert proc.returncode == 0, proc.stderr
    assert f"data: imagefolder: imagefolder:{folders['imagefolder']} (" in proc.stderr
    assert f"data: fashion-mnist: idx:{folders['fashion-mnist']} (" in proc.stderr
    assert proc.stdout.splitlines()[-1] == "2 cells"


# --- the dry run checks the data -------------------------------------------------------------


def test_the_dry_run_names_the_dataset_whose_folder_is_wrong(folders, tmp_path, run_zoo,
                                                             assert_one_line_error, sweep_args):
    missing = tmp_path / "nowhere"
    proc = run_zoo("bench", "--datasets", "imagefolder,fashion-mnist", *sweep_args, "--dry-run",
                   "--data-dir", f"imagefolder={folders['imagefolder']}",
                   "--data-dir", f"fashion-mnist={missing}")
    assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1, proc.stderr
    assert_one_line_error(proc, "dataset 'fashion-mnist'", str(missing))
    # A bare folder that suits one dataset and not the other: the other is named.
    proc = run_zoo("bench", "--datasets", "imagefolder,fashion-mnist", *sweep_args, "--dry-run",
                   "--data-dir", str(folders["fashion-mnist"]))
    assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1, proc.stderr
    assert_one_line_error(proc, "dataset 'imagefolder'", str(folders["fashion-mnist"]))
    assert not (tmp_path / "runs").exists()


def test_the_dry_run_says_what_the_sweep_would_download_without_downloading(folders, run_zoo, sweep_args):
    proc = run_zoo("bench", "--datasets", "fashion-mnist,imagefolder", *sweep_args, "--dry-run",
                   "--data-dir", f"imagefolder={folders['imagefolder']}")
    assert proc.returncode == 0, proc.stderr
    note = next(line for line in proc.stderr.splitlines() if line.startswith("note: dataset"))
    assert note.startswith("note: dataset 'fashion-mnist' is not in zoo's cache; the sweep will "
                           "download it")
    assert not any((Path(os.environ["XDG_CACHE_HOME"]) / "zoo").glob("fashion-mnist/*.gz"))


# --- zoo train reads one folder ------------------------------------------------------------


def test_zoo_train_takes_one_folder_also_named_for_its_own_dataset(tmp_path, tiny_mlp, run_zoo,
                                                                   assert_one_line_error):
    args = ["train", "--model", "mlp", *tiny_mlp, "--epochs", "1", "--quiet", "--set",
            "dataset.progress=false"]
    proc = run_zoo(*args, "--data-dir", f"mnist={MNIST_SAMPLE_DIR}", "--out", str(tmp_path / "run"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads((tmp_path / "run" / "job.json").read_text())["data_dir"] == str(MNIST_SAMPLE_DIR)
    assert_one_line_error(run_zoo(*args, "--data-dir", f"cifar10={MNIST_SAMPLE_DIR}", "--out",
                                  str(tmp_path / "other")),
                          "this run trains dataset 'mnist', not 'cifar10'")
