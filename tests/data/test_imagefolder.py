"""imagefolder on real PNG and JPEG folders written with Pillow: layout, options, the
decode-once cache, and every bad file as a one-line error naming it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from zoo.data import fingerprint
from zoo.data.imagefolder import load_imagefolder
from zoo.errors import DataError

pytestmark = pytest.mark.integration  # starts processes or trains with Paddle


@pytest.fixture(autouse=True)
def _isolated_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


def one_line(excinfo, *needles) -> str:
    msg = str(excinfo.value)
    assert "\n" not in msg, msg
    for needle in needles:
        assert needle in msg, msg
    return msg


def cache_files(root=None):
    """The decode caches in zoo's cache folder (the test's own XDG_CACHE_HOME)."""
    return sorted((Path(os.environ["XDG_CACHE_HOME"]) / "zoo" / "imagefolder").glob("*.npz"))


def test_rgb_png_folder_loads_exactly_with_classes_from_the_folder_names(tmp_path, write_imagefolder):
    root = tmp_path / "pets"
    written = write_imagefolder(root, per_class={"train": 5, "test": 2})
    data = load_imagefolder(root, val_fraction=0.2, progress=False)
    assert data.class_names == ("cat", "dog", "fox") and data.num_classes == 3
    assert data.input_shape == (3, 12, 10) and data.train.images.dtype == np.uint8
    assert (len(data.train), len(data.val), len(data.test)) == (12, 3, 6)
    assert np.array_equal(data.test.images, np.stack([a for c in ("cat", "dog", "fox")
                                                      for a in written["test"][c]]))
    assert data.test.labels.tolist() == [0, 0, 1, 1, 2, 2]
    # mean and std per channel over every pixel of ROOT/train, from what the test wrote
    pixels = np.stack([a for c in ("cat", "dog", "fox") for a in written["train"][c]])
    pixels = pixels.reshape(-1, 3).astype(np.float64)
    np.testing.assert_allclose(data.mean, pixels.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(data.std, pixels.std(axis=0), rtol=1e-6)
    assert data.data_dir == str(root) and data.source == f"imagefolder:{root}"


def test_grayscale_resize_jpeg_and_a_val_folder(tmp_path, write_imagefolder, write_image):
    root = tmp_path / "photos"
    write_imagefolder(root, classes=("a", "b"), per_class={"train": 3, "val": 1, "test": 1},
                      size=(20, 30), ext=".jpg", splits=("train", "val", "test"))
    write_image(root / "train" / "b" / "extra.JPEG", np.full((9, 7, 3), 200, np.uint8))
    data = load_imagefolder(root, mode="grayscale", size=16, progress=False)
    assert data.input_shape == (1, 16, 16) and data.train.images.shape == (7, 16, 16)
    assert (len(data.val), len(data.test)) == (2, 2)  # val/ is used as it is
    assert data.train.labels.tolist() == [0, 0, 0, 1, 1, 1, 1]
    assert len(data.mean) == 1
    assert abs(int(data.train.images[6].mean()) - 200) <= 2  # extra.JPEG sorts last in b/


def test_second_load_reads_the_cache_and_decodes_nothing(tmp_path, write_imagefolder):
    root = tmp_path / "pets"
    write_imagefolder(root)
    first = load_imagefolder(root, progress=False)
    (cache,) = cache_files(root)
    # Change one cached pixel: if the next load decoded the images again it would not see it.
    with np.load(cache) as npz:
        arrays = dict(npz)
    arrays["test_images"][0, 0, 0, 0] ^= 0xFF
    with open(cache, "wb") as out:
        np.savez(out, **arrays)
    second = load_imagefolder(root, progress=False)
    assert second.test.images[0, 0, 0, 0] == first.test.images[0, 0, 0, 0] ^ 0xFF
    assert cache_files(root) == [cache]


def test_any_change_to_files_or_options_misses_the_cache(tmp_path, write_imagefolder, write_image):
    root = tmp_path / "pets"
    write_imagefolder(root)
    base = fingerprint(load_imagefolder(root, progress=False))
    grey = load_imagefolder(root, mode="grayscale", progress=False)
    assert grey.input_shape == (1, 12, 10) and len(cache_files(root)) == 2
    write_image(root / "train" / "cat" / "000.png", np.zeros((12, 10, 3), np.uint8))
    changed = load_imagefolder(root, progress=False)
    assert len(cache_files(root)) == 3 and fingerprint(changed) != base
    assert changed.train.images.min() == 0
    (root / "train" / "cat" / "000.png").rename(root / "train" / "dog" / "zzz.png")
    assert load_imagefolder(root, progress=False).train.labels.tolist().count(1) == 5


def test_a_same_size_rewrite_with_its_old_mtime_still_misses_the_cache(tmp_path, write_imagefolder,
                                                                       write_image):
    """The content hash is remembered under the files' stats; a rewrite changes the ctime."""
    root = tmp_path / "pets"
    write_imagefolder(root)
    before = load_imagefolder(root, progress=False, val_fraction=0.0)
    path = root / "train" / "cat" / "001.png"
    old = path.stat()
    image = before.train.images[1].copy()
    image[0, 0] ^= 0x01  # the same size once encoded: only one pixel differs
    write_image(path, image)
    os.utime(path, ns=(old.st_atime_ns, old.st_mtime_ns))
    after = load_imagefolder(root, progress=False, val_fraction=0.0)
    assert (path.stat().st_mtime_ns, path.stat().st_size) == (old.st_mtime_ns, old.st_size)
    assert np.array_equal(after.train.images[1], image) and len(cache_files(root)) == 2


def test_a_damaged_cache_is_rebuilt(tmp_path, write_imagefolder):
    root = tmp_path / "pets"
    write_imagefolder(root)
    reference = fingerprint(load_imagefolder(root, progress=False))
    (cache,) = cache_files(root)
    cache.write_bytes(cache.read_bytes()[:100])
    assert fingerprint(load_imagefolder(root, progress=False)) == reference
    assert cache.stat().st_size > 100


def test_the_cache_lives_in_zoos_cache_folder_never_in_the_data(tmp_path, write_imagefolder):
    # It used to be written into ROOT/.zoo-cache, inside the user's own data folder.
    root = tmp_path / "shared"
    write_imagefolder(root)
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    first = load_imagefolder(root, progress=False, val_fraction=0.0)
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before
    (cache,) = cache_files()
    with np.load(cache) as npz:
        arrays = dict(npz)
    arrays["train_images"][0, 0, 0, 0] ^= 0xFF
    with open(cache, "wb") as out:
        np.savez(out, **arrays)
    second = load_imagefolder(root, progress=False, val_fraction=0.0)
    assert second.train.images[0, 0, 0, 0] == first.train.images[0, 0, 0, 0] ^ 0xFF  # from there


def test_a_read_only_data_folder_loads_as_an_unprivileged_user(read_only_user, write_imagefolder):
    import tempfile


    user = read_only_user()
    shared = Path(tempfile.mkdtemp(prefix="zoo-readonly-"))  # reachable by another user
    root, home = shared / "pets", shared / "home"
    try:
        write_imagefolder(root)
        home.mkdir()
        home.chmod(0o777)
        for path in [*root.rglob("*"), root]:
            path.chmod(0o555 if path.is_dir() else 0o444)
        shared.chmod(0o755)
        code = ("import sys; from zoo.data.imagefolder import load_imagefolder; "
                "d = load_imagefolder(sys.argv[1], progress=False); print(d.input_shape, len(d.test))")
        env = {**os.environ, "XDG_CACHE_HOME": str(home / "cache"), "HOME": str(home)}
        for _ in range(2):  # decoded, then from the cache
            proc = subprocess.run([*user, sys.executable, "-c", code, str(root)],
                                  capture_output=True, text=True, env=env, cwd="/", timeout=120)
            assert proc.returncode == 0, proc.stderr
            assert proc.stdout.strip() == "(3, 12, 10) 6"
        assert len(list((home / "cache" / "zoo" / "imagefolder").glob("*.npz"))) == 1
    finally:
        for path in [root, *root.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        shutil.rmtree(shared)


@pytest.mark.parametrize("change", ["shape", "labels", "label range", "channels", "std"])
def test_a_cache_that_does_not_fit_its_folder_is_rebuilt_from_the_images(tmp_path, change, write_imagefolder):
    # A cache rewritten with another array shape or labels out of range reached Paddle.
    root = tmp_path / "pets"
    write_imagefolder(root)
    reference = load_imagefolder(root, progress=False)
    (cache,) = cache_files()
    with np.load(cache) as npz:
        arrays = dict(npz)
    if change == "shape":
        arrays["train_images"] = arrays["train_images"][:, :6]
    elif change == "labels":
        arrays["test_labels"] = arrays["test_labels"][::-1].copy()
    elif change == "label range":
        arrays["train_labels"] = arrays["train_labels"] + 100
    elif change == "channels":
        arrays["test_images"] = arrays["test_images"][..., 0]
    else:
        arrays["std"] = np.zeros(3)
    with open(cache, "wb") as out:
        np.savez(out, **arrays)
    again = load_imagefolder(root, progress=False)
    assert fingerprint(again) == fingerprint(reference)
    with np.load(cache) as npz:  # and the cache was rewritten
        assert npz["train_images"].shape[1:] == (12, 10, 3) and npz["std"].min() > 0


def test_auto_mode_keeps_grey_grey_and_rgb_rgb_and_mixed_becomes_rgb(tmp_path, write_imagefolder):
    from PIL import Image

    grey, rgb = tmp_path / "grey", tmp_path / "rgb"
    write_imagefolder(rgb)
    write_imagefolder(grey)
    for path in grey.rglob("*.png"):
        Image.open(path).convert("L").save(path)
    data = load_imagefolder(grey, progress=False)
    assert data.input_shape == (1, 12, 10) and data.train.images.ndim == 3 and len(data.mean) == 1
    assert load_imagefolder(rgb, progress=False).input_shape == (3, 12, 10)
    one = next((grey / "test" / "cat").glob("*.png"))
    Image.open(one).convert("RGB").save(one)  # one colour file among grey ones
    mixed = load_imagefolder(grey, progress=False)
    assert mixed.input_shape == (3, 12, 10)
    assert np.array_equal(mixed.train.images[..., 0], data.train.images)  # grey lost nothing


# Each case breaks a good folder; ``files`` hands it the writers of tests/fixtures/vision_data.py.
BAD = {
    "unreadable": (lambda r, files: (r / "train" / "dog" / "001.png").write_bytes(b"not an image at all"),
                   ["train/dog/001.png", "cannot read image"]),
    "truncated": (lambda r, files: (r / "test" / "cat" / "000.png").write_bytes(
        (r / "test" / "cat" / "000.png").read_bytes()[:60]), ["test/cat/000.png", "cannot read image"]),
    "mixed sizes": (lambda r, files: files.write_image(r / "train" / "fox" / "002.png", np.zeros((8, 8, 3), np.uint8)),
                    ["train/fox/002.png", "image is 8x8, but", "is 10x12", "dataset.size=N"]),
    "empty class": (lambda r, files: (r / "train" / "owl").mkdir(), ["train/owl: empty class"]),
    "unknown extension": (lambda r, files: (r / "train" / "cat" / "x.gif").write_bytes(b"GIF89a"),
                          ["train/cat/x.gif", "unknown image extension '.gif'"]),
    "loose file": (lambda r, files: files.write_image(r / "train" / "stray.png", np.zeros((12, 10, 3), np.uint8)),
                   ["train/stray.png: images go in class folders"]),
    "unknown test class": (lambda r, files: files.write_image(r / "test" / "yak" / "0.png", np.zeros((12, 10, 3), np.uint8)),
                           ["test/yak: class 'yak' has no training folder"]),
    "folder in a class": (lambda r, files: (r / "train" / "cat" / "more").mkdir(),
                          ["train/cat/more: a folder inside a class folder"]),
    # Refused from its header, before 1.6 GB of pixels are decoded.
    "huge image": (lambda r, files: files.png_header_only(r / "train" / "dog" / "big.png", 12000, 12000),
                   ["train/dog/big.png", "12000x12000 pixels, more than zoo decodes"]),
    "symlink loop class": (lambda r, files: os.symlink("loop", r / "train" / "loop"),
                           ["train/loop: a symbolic link that leads nowhere"]),
    "symlink loop file": (lambda r, files: os.symlink("x.png", r / "train" / "cat" / "x.png"),
                          ["train/cat/x.png: a symbolic link that leads nowhere"]),
    "class not UTF-8": (lambda r, files: os.mkdir(os.fsencode(r / "train") + b"/b\xffd"),
                        ["train/b\udcffd: a class folder name must be valid UTF-8"]),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_files_are_one_line_errors_naming_them(tmp_path, case, write_imagefolder, write_image,
                                                   png_header_only):
    root = tmp_path / "pets"
    write_imagefolder(root)
    breaks, needles = BAD[case]
    breaks(root, SimpleNamespace(write_image=write_image, png_header_only=png_header_only))
    with pytest.raises(DataError) as e:
        load_imagefolder(root, progress=False)
    one_line(e, *needles)


def test_missing_layout_and_bad_options(tmp_path, write_imagefolder):
    with pytest.raises(DataError) as e:
        load_imagefolder(None)
    one_line(e, "imagefolder needs --data-dir ROOT")
    root = tmp_path / "pets"
    write_imagefolder(root, splits=("train",))
    with pytest.raises(DataError) as e:
        load_imagefolder(root)
    one_line(e, "no test/ folder")
    write_imagefolder(root)
    with pytest.raises(DataError) as e:
        load_imagefolder(root, mode="cmyk")
    one_line(e, "unknown mode 'cmyk'")
    with pytest.raises(DataError) as e:
        load_imagefolder(root, size=-3)
    one_line(e, "size must be a non-negative integer")
    assert cache_files(root) == []  # nothing decoded for a refused option


def test_imagefolder_trains_through_the_cli_and_mixed_sizes_fail_in_one_line(tmp_path, write_imagefolder,
                                                                             run_zoo, write_image,
                                                                             assert_one_line_error):
    root = tmp_path / "pets"
    write_imagefolder(root, per_class={"train": 6, "test": 2}, size=(16, 16))
    out = tmp_path / "run"
    proc = run_zoo("train", "--model", "squeezenet1_1", "--dataset", "imagefolder",
                   "--data-dir", str(root), "--set", "dataset.size=24", "--set", "dataset.augment=flip_crop",
                   "--batch-size", "8", "--epochs", "1", "--out", str(out), "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "on imagefolder (16 train, 2 val, 6 test)" in proc.stdout
    write_image(root / "test" / "dog" / "odd.png", np.zeros((5, 5, 3), np.uint8))
    proc = run_zoo("train", "--model", "lenet", "--dataset", "imagefolder", "--data-dir", str(root),
                   "--out", str(tmp_path / "run2"), "--quiet")
    assert_one_line_error(proc, "test/dog/odd.png: image is 5x5")


def test_a_file_name_that_is_not_utf8_loads_like_any_other(tmp_path, write_imagefolder):
    # It made the whole (valid) folder fail with a UnicodeEncodeError naming no file.
    root = tmp_path / "pets"
    write_imagefolder(root)
    plain = load_imagefolder(root, progress=False, val_fraction=0.0)
    os.rename(root / "train" / "cat" / "000.png", os.fsencode(root / "train" / "cat") + b"/000\xe9.png")  # sorts where 000.png did
    odd = load_imagefolder(root, progress=False, val_fraction=0.0)
    assert np.array_equal(odd.train.images, plain.train.images)


def test_hostile_names_and_sizes_stay_one_line_through_the_cli(tmp_path, write_imagefolder,
                                                               assert_one_line_error, run_zoo,
                                                               png_header_only):
    root = tmp_path / "pets"
    write_imagefolder(root)
    args = ["train", "--model", "lenet", "--dataset", "imagefolder", "--data-dir", str(root),
            "--epochs", "1", "--out", str(tmp_path / "run"), "--quiet"]
    (root / "train" / "cat" / "two\nlines.png").write_bytes(b"not an image")
    assert_one_line_error(run_zoo(*args), "two\\nlines.png", "cannot read image")
    (root / "train" / "cat" / "two\nlines.png").unlink()
    png_header_only(root / "train" / "cat" / "big.png", 12000, 12000)
    proc = run_zoo(*args)
    assert_one_line_error(proc, "big.png", "12000x12000")
    assert "Warning" not in proc.stderr, proc.stderr  # Pillow's DecompressionBombWarning
