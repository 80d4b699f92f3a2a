"""fashion-mnist (IDX) and cifar10 (binary records) on files the tests write in the real
formats; their downloads run against a real HTTP server on 127.0.0.1 serving those files,
through the very loader a folder goes through."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from zoo.data import fingerprint
from zoo.data.cifar import CIFAR10_ARCHIVE, CIFAR10_CLASSES, load_cifar10, read_records
from zoo.data.fashion import FASHION_CLASSES, FASHION_MEAN, FASHION_STD, load_fashion_mnist
from zoo.errors import DataError
from zoo.plugin import load_catalog

pytestmark = pytest.mark.integration  # starts processes or trains with Paddle


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    # No test may see the user's settings or write to the real ~/.cache.
    for name in ("ZOO_DATA_DIR", "ZOO_FASHION_MNIST_URL", "ZOO_CIFAR10_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def one_line(excinfo, *needles) -> str:
    msg = str(excinfo.value)
    assert "\n" not in msg, msg
    for needle in needles:
        assert needle in msg, msg
    return msg


# ---- fashion-mnist ------------------------------------------------------------------------


def test_fashion_mnist_loads_its_idx_files_with_its_own_names(catalog, tmp_path, write_idx_set):
    folder = write_idx_set(tmp_path / "fashion", n_train=120, n_test=40)
    data = catalog.build("datasets", "fashion-mnist", {"progress": False}, data_dir=str(folder))
    assert (len(data.train), len(data.val), len(data.test)) == (100, 20, 40)
    assert data.input_shape == (1, 28, 28) and data.num_classes == 10
    assert data.class_names == FASHION_CLASSES and data.class_names[9] == "Ankle boot"
    assert data.mean == (72.94,) and data.std == (90.02,) and data.augment == "none"
    assert data.data_dir == str(folder) and data.source == f"idx:{folder}"
    flipped = catalog.build("datasets", "fashion-mnist", {"augment": "flip_crop"},
                            data_dir=str(folder))
    assert flipped.augment == "flip_crop" and fingerprint(flipped) == fingerprint(data)


REAL_FASHION = Path("/usr/share/datasets/fashion-mnist")  # the official files, where installed


@pytest.mark.skipif(not (REAL_FASHION / "train-images-idx3-ubyte.gz").is_file(),
                    reason=f"the real Fashion-MNIST training images are not at {REAL_FASHION}")
def test_fashion_mnists_declared_mean_and_std_are_those_of_its_training_images():
    payload = gzip.decompress((REAL_FASHION / "train-images-idx3-ubyte.gz").read_bytes())
    counts = np.bincount(np.frombuffer(payload, np.uint8, offset=16), minlength=256)
    assert counts.sum() == 60_000 * 28 * 28
    values = np.arange(256, dtype=np.float64)  # mean and std from the histogram: exact, fast
    mean = (counts * values).sum() / counts.sum()
    std = np.sqrt((counts * (values - mean) ** 2).sum() / counts.sum())
    # what every fashion-mnist load declares (test_fashion_mnist_loads_its_idx_files_...)
    assert FASHION_MEAN == (round(mean, 2),) and FASHION_STD == (round(std, 2),)


def test_fashion_mnist_bad_files_are_one_line_errors_naming_the_file(tmp_path, write_idx_set, labels_for,
                                                                     idx_bytes, idx_names):
    folder = write_idx_set(tmp_path / "fashion")
    labels = labels_for(120, 0)
    labels[7] = 11
    (folder / idx_names["train-labels"]).write_bytes(gzip.compress(idx_bytes(labels)))
    with pytest.raises(DataError) as e:
        load_fashion_mnist(folder, progress=False)
    one_line(e, idx_names["train-labels"], "labels outside 0-9 (found 11)")
    (folder / idx_names["t10k-images"]).unlink()
    with pytest.raises(DataError) as e:
        load_fashion_mnist(folder, progress=False)
    one_line(e, "no Fashion-MNIST data, missing t10k-images-idx3-ubyte[.gz]")


def test_fashion_mnist_download_is_the_folder_loader_on_the_cache(tmp_path, monkeypatch, write_idx_set,
                                                                  idx_names, file_server_class):
    folder = write_idx_set(tmp_path / "served")
    files = {name: (folder / name).read_bytes() for name in idx_names.values()}
    with file_server_class(files) as server:
        monkeypatch.setenv("ZOO_FASHION_MNIST_URL", server.url)
        # The generated files are not Zalando's, so their checksums stand in for the official ones.
        monkeypatch.setattr("zoo.data.fashion.FASHION_FILES",
                            {name: hashlib.md5(data).hexdigest() for name, data in files.items()})
        with pytest.raises(DataError) as e:
            load_fashion_mnist(download=False, progress=False)
        one_line(e, "no Fashion-MNIST files in the cache and downloading is disabled")
        assert server.requests == []
        data = load_fashion_mnist(progress=False)
        cache = tmp_path / "xdg-cache" / "zoo" / "fashion-mnist"
        assert sorted(p.name for p in cache.iterdir()) == sorted(files)
        assert data.data_dir == str(cache) and len(server.requests) == 4
        assert fingerprint(data) == fingerprint(load_fashion_mnist(folder, progress=False))
        load_fashion_mnist(progress=False)
        assert len(server.requests) == 4  # cached: nothing fetched again


def test_fashion_mnist_download_checks_the_official_md5(tmp_path, monkeypatch, write_idx_set, idx_names,
                                                        file_server_class):
    folder = write_idx_set(tmp_path / "served")
    files = {name: (folder / name).read_bytes() for name in idx_names.values()}
    with file_server_class(files) as server:
        monkeypatch.setenv("ZOO_FASHION_MNIST_URL", server.url)
        with pytest.raises(DataError) as e:
            load_fashion_mnist(progress=False)
    one_line(e, "md5 mismatch", "expected 8d4fb7e6c68d591d4c3dfef9ec88bf0d", "--data-dir")
    cache = tmp_path / "xdg-cache" / "zoo" / "fashion-mnist"
    assert list(cache.iterdir()) == []


# ---- cifar10 --------------------------------------------------------------------------------


def test_records_decode_to_the_images_they_hold(labels_for, cifar_records):
    labels = labels_for(17, 3)
    data, images = cifar_records(labels, seed=3)
    got_images, got_labels = read_records(data, "x.bin")
    assert got_images.shape == (17, 32, 32, 3) and got_images.dtype == np.uint8
    assert np.array_equal(got_images, images) and np.array_equal(got_labels, labels)
    # Record layout: the label byte, then 1024 red, 1024 green, 1024 blue bytes, row-major.
    assert data[1 + 1024 + 32 * 5 + 7] == images[0, 5, 7, 1]


def test_cifar10_loads_every_folder_layout_the_same(catalog, tmp_path, cifar_files, write_cifar_folder,
                                                    cifar_tarball, cifar_test):
    files = cifar_files(per_file=24, n_test=30)
    flat = write_cifar_folder(tmp_path / "flat", files)
    nested = write_cifar_folder(tmp_path / "nested" / "cifar-10-batches-bin", files).parent
    archived = tmp_path / "archived"
    archived.mkdir()
    (archived / CIFAR10_ARCHIVE).write_bytes(cifar_tarball(files))
    loaded = [catalog.build("datasets", "cifar10", data_dir=str(d)) for d in (flat, nested, archived)]
    data = loaded[0]
    assert (len(data.train), len(data.val), len(data.test)) == (108, 12, 30)
    assert data.input_shape == (3, 32, 32) and data.num_classes == 10
    assert data.class_names == CIFAR10_CLASSES and len(data.mean) == len(data.std) == 3
    assert len({fingerprint(d) for d in loaded}) == 1
    # The archive is extracted once into zoo's cache, never into the folder that holds it.
    (extracted,) = (tmp_path / "xdg-cache" / "zoo" / "cifar10" / "archives").iterdir()
    assert [d.data_dir for d in loaded] == [str(flat), str(nested / "cifar-10-batches-bin"),
                                           str(extracted)]
    assert loaded[2].source == f"cifar-tar:{archived / CIFAR10_ARCHIVE} (extracted to {extracted})"
    assert sorted(p.name for p in archived.iterdir()) == [CIFAR10_ARCHIVE]
    inode = (extracted / cifar_test).stat().st_ino
    assert fingerprint(catalog.build("datasets", "cifar10", data_dir=str(archived))) == fingerprint(data)
    assert (extracted / cifar_test).stat().st_ino == inode  # not extracted again
    # A sweep hands the folder actually read back to its workers: the same data again.
    again = [catalog.build("datasets", "cifar10", data_dir=d.data_dir) for d in loaded]
    assert {fingerprint(d) for d in again} == {fingerprint(data)}


def test_cifar10_archive_is_read_in_memory_when_the_cache_cannot_be_written(tmp_path, monkeypatch,
                                                                            cifar_files, cifar_tarball,
                                                                            write_cifar_folder):
    files = cifar_files()
    archived = tmp_path / "archived"
    archived.mkdir()
    (archived / CIFAR10_ARCHIVE).write_bytes(cifar_tarball(files))
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("the cache folder cannot be created under a file")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    data = load_cifar10(archived)
    assert data.source == f"cifar-tar:{archived / CIFAR10_ARCHIVE}" and data.data_dir == str(archived)
    assert fingerprint(data) == fingerprint(load_cifar10(write_cifar_folder(tmp_path / "bins", files)))


def test_cifar10_download_extracts_into_the_cache_once(tmp_path, monkeypatch, cifar_files, write_cifar_folder,
                                                       cifar_tarball, file_server_class, cifar_test,
                                                       cifar_train):
    files = cifar_files()
    folder = write_cifar_folder(tmp_path / "folder", files)
    archive = cifar_tarball(files)
    with file_server_class({CIFAR10_ARCHIVE: archive}) as server:
        monkeypatch.setenv("ZOO_CIFAR10_URL", server.url)
        monkeypatch.setattr("zoo.data.cifar.CIFAR10_FILES",
                            {CIFAR10_ARCHIVE: hashlib.md5(archive).hexdigest()})
        data = load_cifar10(progress=False)
        cache = tmp_path / "xdg-cache" / "zoo" / "cifar10"
        assert sorted(p.name for p in cache.iterdir()) == ["cifar-10-batches-bin"]
        assert sorted(p.name for p in (cache / "cifar-10-batches-bin").iterdir()) == \
            sorted([*cifar_train, cifar_test])
        assert data.data_dir == str(cache / "cifar-10-batches-bin")
        assert fingerprint(data) == fingerprint(load_cifar10(folder))
        assert fingerprint(load_cifar10(progress=False)) == fingerprint(data)
        assert server.requests == [f"/data/{CIFAR10_ARCHIVE}"]  # one download, then the cache


def test_cifar10_download_with_a_wrong_checksum_keeps_nothing(tmp_path, monkeypatch, file_server_class,
                                                              cifar_tarball):
    with file_server_class({CIFAR10_ARCHIVE: cifar_tarball()}) as server:
        monkeypatch.setenv("ZOO_CIFAR10_URL", server.url)
        with pytest.raises(DataError) as e:
            load_cifar10(progress=False)
    one_line(e, CIFAR10_ARCHIVE, "md5 mismatch", "expected c32a1d4ab5d03f1284b67883e8d87530")
    assert list((tmp_path / "xdg-cache" / "zoo" / "cifar10").iterdir()) == []


class _RunsCode:
    """Unpickling this creates a file: proof that a loader unpickled downloaded data."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_cifar10_never_unpickles_the_python_version(tmp_path, write_cifar_folder):
    marker = tmp_path / "UNPICKLED"
    payload = pickle.dumps({"data": _RunsCode(str(marker)), "labels": [1, 2]})
    python_version = tmp_path / "python"
    (python_version / "cifar-10-batches-py").mkdir(parents=True)
    for name in ("data_batch_1", "data_batch_2", "test_batch"):
        (python_version / "cifar-10-batches-py" / name).write_bytes(payload)
    with pytest.raises(DataError) as e:
        load_cifar10(python_version)
    one_line(e, "no CIFAR-10 binary data", "pickled Python version", "never reads",
             "cifar-10-binary.tar.gz")
    disguised = write_cifar_folder(tmp_path / "disguised")  # a pickle under a .bin name
    (disguised / "data_batch_2.bin").write_bytes(payload)
    with pytest.raises(DataError) as e:
        load_cifar10(disguised)
    one_line(e, "data_batch_2.bin", "not a whole number of 3,073-byte CIFAR-10 records")
    assert not marker.exists()


def test_cifar10_bad_files_are_one_line_errors_naming_the_file(tmp_path, cifar_files, write_cifar_folder,
                                                               cifar_test, cifar_train):
    files = cifar_files()
    folder = write_cifar_folder(tmp_path / "c", files)
    (folder / "data_batch_3.bin").write_bytes(files["data_batch_3.bin"][:-100])
    with pytest.raises(DataError) as e:
        load_cifar10(folder)
    one_line(e, str(folder / "data_batch_3.bin"), "73,652 bytes is not a whole number")
    bad_label = bytearray(files["data_batch_3.bin"])
    bad_label[5 * 3073] = 12
    (folder / "data_batch_3.bin").write_bytes(bytes(bad_label))
    with pytest.raises(DataError) as e:
        load_cifar10(folder)
    one_line(e, "data_batch_3.bin: record 5 has label 12, expected 0-9")
    (folder / "data_batch_3.bin").write_bytes(files["data_batch_3.bin"])
    (folder / cifar_test).unlink()
    with pytest.raises(DataError) as e:
        load_cifar10(folder)
    one_line(e, "no CIFAR-10 binary data, missing test_batch.bin")
    (folder / cifar_test).write_bytes(b"")
    with pytest.raises(DataError) as e:
        load_cifar10(folder)
    one_line(e, "test_batch.bin: holds no test images")
    for name in cifar_train:
        (folder / name).write_bytes(b"")
    with pytest.raises(DataError) as e:
        load_cifar10(folder)
    one_line(e, "holds no training images")


def test_a_wrong_record_in_an_archive_is_named_in_the_archive_not_zoos_copy(tmp_path, cifar_files,
                                                                            cifar_tarball):
    # The archive is read from zoo's extracted copy, but that copy is no file the user
    # knows: the error named it, not the archive they gave.
    files = cifar_files()
    bad = bytearray(files["data_batch_2.bin"])
    bad[3 * 3073] = 11
    folder = tmp_path / "a"
    folder.mkdir()
    (folder / CIFAR10_ARCHIVE).write_bytes(cifar_tarball({**files, "data_batch_2.bin": bytes(bad)}))
    for _ in range(2):  # extracted, then from the extracted copy
        with pytest.raises(DataError) as e:
            load_cifar10(folder)
        one_line(e, f"{folder / CIFAR10_ARCHIVE}:cifar-10-batches-bin/data_batch_2.bin: record 3 "
                    "has label 11")
    assert list((tmp_path / "xdg-cache" / "zoo" / "cifar10" / "archives").iterdir())


def test_cifar10_broken_archives_are_one_line_errors(tmp_path, cifar_tarball, cifar_test, cifar_files):
    archive = cifar_tarball()
    folder = tmp_path / "a"
    folder.mkdir()
    (folder / CIFAR10_ARCHIVE).write_bytes(archive[: len(archive) // 2])
    with pytest.raises(DataError) as e:
        load_cifar10(folder)
    one_line(e, CIFAR10_ARCHIVE, "corrupt or truncated archive")
    partial = {k: v for k, v in cifar_files().items() if k != cifar_test}
    (folder / CIFAR10_ARCHIVE).write_bytes(cifar_tarball(partial))
    with pytest.raises(DataError) as e:
        load_cifar10(folder)
    one_line(e, "has no cifar-10-batches-bin/test_batch.bin")


def test_cifar10_through_the_cli(tmp_path, write_cifar_folder, run_zoo, assert_one_line_error):
    broken = write_cifar_folder(tmp_path / "broken")
    (broken / "data_batch_1.bin").write_bytes(b"\x00" * 10)
    proc = run_zoo("train", "--model", "lenet", "--dataset", "cifar10", "--data-dir", str(broken),
                   "--out", str(tmp_path / "run"), "--quiet")
    assert_one_line_error(proc, "data_batch_1.bin", "not a whole number")
    proc = run_zoo("train", "--model", "lenet", "--dataset", "cifar10",
                   "--data-dir", str(tmp_path / "nowhere"), "--out", str(tmp_path / "run"))
    assert_one_line_error(proc, "nowhere: data directory does not exist")
    proc = run_zoo("train", "--model", "lenet", "--dataset", "cifar10", "--set", "dataset.augment=spin",
                   "--data-dir", str(write_cifar_folder(tmp_path / "good")), "--out", str(tmp_path / "run"))
    assert_one_line_error(proc, "unknown augment 'spin' (choose from none, flip_crop)")


def test_inspect_resnet18_on_cifar10_shows_3x32x32_shapes(tmp_path, write_cifar_folder, run_zoo):
    folder = write_cifar_folder(tmp_path / "cifar")
    proc = run_zoo("inspect", "resnet18", "--dataset", "cifar10", "--data-dir", str(folder))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == \
        "model resnet18: batch [8,3,32,32] from random values of dataset cifar10's shape"
    rows = {line.split()[0]: line.split() for line in proc.stdout.splitlines()[3:] if line.strip()}
    assert rows["conv1"][2] == "[B,64,16,16]" and rows["conv1"][3] == "[64,3,7,7]"
    assert rows["maxpool"][2] == "[B,64,8,8]" and rows["fc"][2] == "[B,10]"
    data = json.loads(run_zoo("inspect", "resnet18", "--dataset", "cifar10", "--data-dir",
                              str(folder), "--content", "--json", "--batch-size", "4").stdout)
    assert data["input_shape"] == [3, 32, 32] and data["num_classes"] == 10
    layers = {layer["name"]: layer for layer in data["layers"]}
    assert layers["conv1"]["output_shape"] == [4, 64, 16, 16] and layers["conv1"]["mean"] is not None
    assert "cifar10 train split (cifar-bin:" in data["data"]


def test_inspect_without_content_needs_no_files_for_a_dataset_of_fixed_shape(tmp_path, run_zoo,
                                                                             assert_one_line_error):
    # The autouse fixture left the cache empty: no CIFAR-10 anywhere, and no download.
    env = {**os.environ, "ZOO_CIFAR10_URL": "http://127.0.0.1:9/"}
    proc = run_zoo("inspect", "resnet18", "--dataset", "cifar10", "--json", "--batch-size", "2", env=env)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["input_shape"] == [3, 32, 32] and data["num_classes"] == 10
    assert {layer["name"]: layer for layer in data["layers"]}["fc"]["output_shape"] == [2, 10]
    # Real images still need the files; an image folder's shape is its images'.
    assert_one_line_error(run_zoo("inspect", "resnet18", "--dataset", "cifar10", "--content", env=env),
                          "CIFAR-10")
    assert_one_line_error(run_zoo("inspect", "cnn", "--dataset", "imagefolder", env=env),
                          "imagefolder needs --data-dir")
