"""Tests for zoo.data: readers, validation, splits, batches and downloads, on real MNIST files."""

from __future__ import annotations

import ast
import gzip
import hashlib
import http.server
import json
import shutil
import socket
import struct
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest

from zoo.data import (
    MNIST_SAMPLE_DIR,
    BatchSampler,
    MnistUnavailable,
    SampleDataWarning,
    Split,
    download_files,
    find_mnist_files,
    fingerprint,
    full_batches,
    load_mnist,
    normalize_images,
    read_idx_images,
    read_idx_labels,
    read_seed_json,
    resolve_data_dir,
    split_off,
)
from zoo.data.splits import MNIST_MEAN, MNIST_STD
from zoo.data.transform import Transform
from zoo.errors import DataError

pytestmark = pytest.mark.integration  # starts processes or trains with Paddle

MNIST = Transform(MNIST_MEAN, MNIST_STD)  # the course's [-1, 1] scaling, MNIST's own

HERE = Path(__file__).resolve().parent  # tests/data: these tests sit beside their data
SMALL = MNIST_SAMPLE_DIR
SEED_SMALL = HERE / "seed-small" / "mnist.json.gz"
SHARED_5K = HERE.parents[2] / "shared" / "data" / "mnist-5k"
TRAIN_IMAGES = "train-images-idx3-ubyte.gz"
TRAIN_LABELS = "train-labels-idx1-ubyte.gz"
FOUR = [TRAIN_IMAGES, TRAIN_LABELS, "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    # No test may see the user's settings or write to the real ~/.cache.
    monkeypatch.delenv("ZOO_DATA_DIR", raising=False)
    monkeypatch.delenv("ZOO_MNIST_URL", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


def idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    magic = (0x0800 | array.ndim) if magic is None else magic
    return struct.pack(f">I{array.ndim}I", magic, *array.shape) + array.astype(np.uint8).tobytes()


def copy_small(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name in FOUR:
        shutil.copy(SMALL / name, dest / name)
    return dest


def write_gz(path: Path, payload: bytes) -> None:
    path.write_bytes(gzip.compress(payload))


def assert_data_error(excinfo: pytest.ExceptionInfo, *needles: str) -> str:
    msg = str(excinfo.value)
    assert "\n" not in msg, msg
    for needle in needles:
        assert needle in msg, msg
    return msg


# ---------------------------------------------------------------- IDX files and validation


def test_idx_reads_real_subset_gz_and_plain(tmp_path):
    images = read_idx_images(SMALL / TRAIN_IMAGES)
    labels = read_idx_labels(SMALL / TRAIN_LABELS)
    assert images.shape == (1000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (1000,) and labels.dtype == np.uint8
    assert np.bincount(labels).tolist() == [100] * 10
    assert images.max() == 255 and images.min() == 0
    plain = tmp_path / "train-images-idx3-ubyte"
    plain.write_bytes(gzip.decompress((SMALL / TRAIN_IMAGES).read_bytes()))
    assert np.array_equal(read_idx_images(plain), images)


def test_missing_file(tmp_path):
    with pytest.raises(DataError) as e:
        read_idx_images(tmp_path / TRAIN_IMAGES)
    assert_data_error(e, TRAIN_IMAGES, "not found")


def test_missing_files_in_explicit_dir_named_and_not_downloaded(tmp_path, monkeypatch):
    d = copy_small(tmp_path / "mine")
    (d / TRAIN_LABELS).unlink()
    monkeypatch.setattr("zoo.data.locate.download_files", _must_not_download)
    with pytest.raises(DataError) as e:
        load_mnist(d, progress=False)
    assert_data_error(e, str(d), "train-labels-idx1-ubyte")
    assert sorted(p.name for p in d.iterdir()) == sorted(set(FOUR) - {TRAIN_LABELS})
    with pytest.raises(DataError) as e:
        find_mnist_files(tmp_path / "nowhere")
    assert_data_error(e, "nowhere", "does not exist")


def _must_not_download(*args, **kwargs):
    raise AssertionError("must not download into a user-named directory")


def test_wrong_magic(tmp_path):
    path = tmp_path / TRAIN_IMAGES
    shutil.copy(SMALL / TRAIN_LABELS, path)  # a labels file under the images name
    with pytest.raises(DataError) as e:
        read_idx_images(path)
    assert_data_error(e, TRAIN_IMAGES, "wrong magic number 2049, expected 2051")
    with pytest.raises(DataError) as e:
        read_idx_labels(SMALL / TRAIN_IMAGES)
    assert_data_error(e, TRAIN_IMAGES, "wrong magic number 2051, expected 2049")


@pytest.mark.parametrize("gz", [True, False])
def test_truncated_file(tmp_path, gz):
    payload = gzip.decompress((SMALL / TRAIN_IMAGES).read_bytes())[:-100]
    path = tmp_path / (TRAIN_IMAGES if gz else TRAIN_IMAGES[:-3])
    write_gz(path, payload) if gz else path.write_bytes(payload)
    with pytest.raises(DataError) as e:
        read_idx_images(path)
    assert_data_error(e, path.name, "truncated file: header promises 1000 images of 28x28")


def test_truncated_gzip_stream(tmp_path):
    raw = (SMALL / TRAIN_IMAGES).read_bytes()
    path = tmp_path / TRAIN_IMAGES
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataError) as e:
        read_idx_images(path)
    assert_data_error(e, TRAIN_IMAGES, "truncated gzip stream")


def test_garbage_and_extra_bytes(tmp_path):
    path = tmp_path / TRAIN_LABELS
    path.write_bytes(b"<html>not found</html>")
    with pytest.raises(DataError) as e:
        read_idx_labels(path)
    assert_data_error(e, TRAIN_LABELS, "not a gzip file")
    write_gz(path, idx_bytes(np.arange(10)) + b"xx")
    with pytest.raises(DataError) as e:
        read_idx_labels(path)
    assert_data_error(e, TRAIN_LABELS, "2 unexpected bytes")


def _load_with(tmp_path, name: str, payload: bytes) -> pytest.ExceptionInfo:
    d = copy_small(tmp_path / "data")
    write_gz(d / name, payload)
    with pytest.raises(DataError) as e:
        load_mnist(d, progress=False)
    return e


def test_count_mismatch(tmp_path):
    labels = read_idx_labels(SMALL / TRAIN_LABELS)[:999]
    e = _load_with(tmp_path, TRAIN_LABELS, idx_bytes(labels))
    assert_data_error(e, TRAIN_LABELS, "999 labels for 1000 images")


def test_labels_outside_0_9(tmp_path):
    labels = read_idx_labels(SMALL / TRAIN_LABELS).copy()
    labels[5] = 10
    e = _load_with(tmp_path, TRAIN_LABELS, idx_bytes(labels))
    assert_data_error(e, TRAIN_LABELS, "outside 0-9")


def test_wrong_image_size(tmp_path):
    images = read_idx_images(SMALL / TRAIN_IMAGES)[:, :27, :27]
    e = _load_with(tmp_path, TRAIN_IMAGES, idx_bytes(images))
    assert_data_error(e, TRAIN_IMAGES, "27x27, expected 28x28")


@pytest.mark.parametrize("role", ["t10k", "train"])
def test_empty_split_file_is_an_error_at_load(tmp_path, role):
    d = copy_small(tmp_path / "data")
    write_gz(d / f"{role}-images-idx3-ubyte.gz", idx_bytes(np.zeros((0, 28, 28))))
    write_gz(d / f"{role}-labels-idx1-ubyte.gz", idx_bytes(np.zeros(0)))
    with pytest.raises(DataError) as e:
        load_mnist(d, progress=False)
    assert_data_error(e, f"{role}-images-idx3-ubyte.gz", "(0 images)")


def test_val_fraction_zero_is_no_validation_split():
    data = load_mnist(SMALL, val_fraction=0, progress=False)
    assert (len(data.train), len(data.val), len(data.test)) == (1000, 0, 500)
    assert data.val.images.shape == (0, 28, 28)
    assert np.array_equal(data.train.labels, read_idx_labels(SMALL / TRAIN_LABELS))


# ---------------------------------------------------------------- seed format


def _seed_doc() -> list:
    return json.loads(gzip.decompress(SEED_SMALL.read_bytes()))


def _write_seed(path: Path, doc: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_gz(path, json.dumps(doc).encode())
    return path


def test_seed_small_loads_with_its_own_split():
    data = load_mnist(SEED_SMALL.parent, val_fraction=0.5, progress=False)
    assert (len(data.train), len(data.val), len(data.test)) == (200, 50, 50)
    assert data.source.startswith("seed:")
    assert data.train.images.shape == (200, 28, 28) and data.train.images.dtype == np.uint8
    assert data.test.labels.dtype == np.uint8 and data.test.labels.max() <= 9
    floats = np.asarray(_seed_doc()[0][0])
    assert np.array_equal(data.train.images.reshape(200, -1), np.rint((floats + 1) * 127.5))


@pytest.mark.parametrize("to_range", [lambda u: u / 255.0, lambda u: u * 1.0], ids=["0-1", "0-255"])
def test_seed_pixel_range_detection(tmp_path, to_range):
    reference = read_seed_json(SEED_SMALL)
    doc = [
        [to_range(images.reshape(len(images), -1).astype(np.float64)).tolist(), labels.tolist()]
        for images, labels in reference
    ]
    parts = read_seed_json(_write_seed(tmp_path / "mnist.json.gz", doc))
    for (images, labels), (ref_images, ref_labels) in zip(parts, reference):
        assert np.array_equal(images, ref_images) and np.array_equal(labels, ref_labels)
    assert reference[0][0].max() == 255 and reference[0][0].min() == 0


def _break_nesting(doc):
    return doc[:2]


def _break_pixels(doc):
    doc[1][0][3] = doc[1][0][3][:783]
    return doc


def _break_counts(doc):
    doc[2][1] = doc[2][1][:-1]
    return doc


def _break_label(doc):
    doc[0][1][7] = 11
    return doc


def _break_value(doc):
    doc[0][0][0][0] = "x"
    return doc


def _break_range(doc):
    doc[0][0][0][0] = 3.0
    return doc


@pytest.mark.parametrize(
    "breaker, needle",
    [
        (_break_nesting, "list of 3"),
        (_break_pixels, "valid image 3 must be a flat list of 784"),
        (_break_counts, "eval has 50 images but 49 labels"),
        (_break_label, "outside 0-9"),
        (_break_value, "non-numeric"),
        (_break_range, "fits none of"),
    ],
)
def test_seed_bad_structure(tmp_path, breaker, needle):
    path = _write_seed(tmp_path / "mnist.json.gz", breaker(_seed_doc()))
    with pytest.raises(DataError) as e:
        read_seed_json(path)
    assert_data_error(e, "mnist.json.gz", needle)


def test_seed_malformed_json(tmp_path):
    path = tmp_path / "mnist.json.gz"
    write_gz(path, gzip.decompress(SEED_SMALL.read_bytes())[:5000])
    with pytest.raises(DataError) as e:
        load_mnist(tmp_path, progress=False)
    assert_data_error(e, "mnist.json.gz", "malformed JSON")


# ---------------------------------------------------------------- locating and splitting


def test_resolve_order(tmp_path, monkeypatch):
    assert resolve_data_dir(None) == tmp_path / "xdg-cache" / "zoo" / "mnist"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative")  # ignored per the XDG spec
    assert resolve_data_dir(None) == Path.home() / ".cache" / "zoo" / "mnist"
    monkeypatch.setenv("ZOO_DATA_DIR", str(tmp_path / "env"))
    assert resolve_data_dir(None) == tmp_path / "env"
    assert resolve_data_dir(tmp_path / "arg") == tmp_path / "arg"


def test_find_prefers_idx_and_accepts_plain(tmp_path):
    d = copy_small(tmp_path)
    shutil.copy(SEED_SMALL, d / "mnist.json.gz")
    plain = d / "t10k-labels-idx1-ubyte"
    plain.write_bytes(gzip.decompress((d / FOUR[3]).read_bytes()))
    (d / FOUR[3]).unlink()
    files = find_mnist_files(d)
    assert files["t10k-labels"] == plain and "seed" not in files
    (d / TRAIN_IMAGES).unlink()
    assert find_mnist_files(d) == {"seed": d / "mnist.json.gz"}


def test_split_sizes_and_cover(monkeypatch, tmp_path):
    monkeypatch.setenv("ZOO_DATA_DIR", str(SMALL))
    data = load_mnist(progress=False)
    assert (len(data.train), len(data.val), len(data.test)) == (833, 167, 500)
    assert data.source == f"idx:{SMALL}"
    both = np.concatenate([data.train.images, data.val.images]).reshape(1000, -1)
    original = read_idx_images(SMALL / TRAIN_IMAGES).reshape(1000, -1)
    assert sorted(map(bytes, both)) == sorted(map(bytes, original))
    assert len(load_mnist(SMALL, val_fraction=0.5, progress=False).val) == 500
    with pytest.raises(DataError):
        load_mnist(SMALL, val_fraction=1.0, progress=False)


def test_split_determinism():
    a = load_mnist(SMALL, split_seed=3, progress=False)
    b = load_mnist(SMALL, split_seed=3, progress=False)
    c = load_mnist(SMALL, split_seed=4, progress=False)
    assert np.array_equal(a.val.images, b.val.images)
    assert np.array_equal(a.train.labels, b.train.labels)
    assert not np.array_equal(a.val.images, c.val.images)
    zeros = Split(np.zeros((5000, 28, 28), np.uint8), np.zeros(5000, np.uint8))
    rest, held = split_off(zeros, 1 / 6, 0)
    assert (len(rest), len(held)) == (4167, 833)


def test_split_and_batch_seeds_take_any_non_negative_integer():
    for seed in (2**62, 2**63 - 1, 2**64 + 5):
        a, b = (load_mnist(SMALL, split_seed=seed, progress=False) for _ in range(2))
        assert np.array_equal(a.val.labels, b.val.labels)
        orders = [BatchSampler(a.train, 100, seed=seed, transform=MNIST).order(3) for _ in range(2)]
        assert np.array_equal(*orders) and sorted(orders[0]) == list(range(len(a.train)))
    for bad in (-1, 1.5, True, "3"):
        with pytest.raises(DataError) as e:
            load_mnist(SMALL, split_seed=bad, progress=False)
        assert_data_error(e, "split_seed must be a non-negative integer")


@pytest.mark.skipif(not SHARED_5K.is_dir(), reason="../shared/data/mnist-5k not available")
def test_shared_5k_sizes():
    data = load_mnist(SHARED_5K, progress=False)
    assert (len(data.train), len(data.val), len(data.test)) == (4167, 833, 10000)


# ---------------------------------------------------------------- batches


@pytest.fixture(scope="module")
def train() -> Split:
    return load_mnist(SMALL, progress=False).train


def indexed_split(n: int) -> Split:
    """Each image's first two pixels encode its index, so batches can be traced back."""
    images = np.zeros((n, 28, 28), np.uint8)
    images[:, 0, 0], images[:, 0, 1] = np.arange(n) // 256, np.arange(n) % 256
    return Split(images, (np.arange(n) % 10).astype(np.uint8))


def batch_indices(x: np.ndarray) -> list[int]:
    pixels = np.rint((x[:, 0, 0, :2] + 1.0) * 127.5).astype(int)
    return (pixels[:, 0] * 256 + pixels[:, 1]).tolist()


def test_batch_shapes_dtypes_and_normalization(train):
    sampler = BatchSampler(train, batch_size=64, seed=1, transform=MNIST)
    batches = list(sampler.epoch(0))
    assert sampler.steps_per_epoch == len(batches) == 14  # 833 = 13*64 + 1, partial kept
    x, y = batches[0]
    assert x.shape == (64, 1, 28, 28) and x.dtype == np.float32
    assert y.shape == (64, 1) and y.dtype == np.int64
    assert batches[-1][0].shape == (1, 1, 28, 28)
    allx = np.concatenate([b[0] for b in batches])
    assert allx.min() == -1.0 and allx.max() == 1.0
    idx = sampler.order(0)[:64]
    assert np.allclose(x[:, 0], train.images[idx] / 127.5 - 1.0, rtol=0, atol=1e-6)
    assert np.array_equal(y[:, 0], train.labels[idx])
    assert np.array_equal(normalize_images(train.images[idx], MNIST_MEAN, MNIST_STD), x)
    assert BatchSampler(train, 64, seed=1, drop_last=True, transform=MNIST).steps_per_epoch == 13


def test_epoch_permutation_is_function_of_seed_and_epoch():
    split = indexed_split(300)
    s = BatchSampler(split, 32, seed=7, transform=MNIST)
    e0 = [i for x, _ in s.epoch(0) for i in batch_indices(x)]
    e1 = [i for x, _ in s.epoch(1) for i in batch_indices(x)]
    assert sorted(e0) == sorted(e1) == list(range(300)) and e0 != e1
    again = [i for x, _ in BatchSampler(split, 32, seed=7, transform=MNIST).epoch(1) for i in batch_indices(x)]
    assert again == e1
    other = [i for x, _ in BatchSampler(split, 32, seed=8, transform=MNIST).epoch(1) for i in batch_indices(x)]
    assert other != e1


def test_start_step_resumes_exact_tail(train):
    s = BatchSampler(train, 50, seed=2, transform=MNIST)
    full = list(s.epoch(3))
    tail = list(BatchSampler(train, 50, seed=2, transform=MNIST).epoch(3, start_step=6))
    assert len(tail) == len(full) - 6
    for (xa, ya), (xb, yb) in zip(full[6:], tail):
        assert np.array_equal(xa, xb) and np.array_equal(ya, yb)
    assert list(s.epoch(3, start_step=s.steps_per_epoch)) == []
    with pytest.raises(ValueError):
        next(s.epoch(3, start_step=s.steps_per_epoch + 1))


def test_rank_sharding_disjoint_equal_and_covering():
    split, bs, world = indexed_split(833), 16, 3
    shards = [BatchSampler(split, bs, seed=5, rank=r, world_size=world, transform=MNIST) for r in range(world)]
    steps = {s.steps_per_epoch for s in shards}
    assert steps == {833 // (bs * world)}  # partial global batch dropped on every rank
    per_rank = [[batch_indices(x) for x, _ in s.epoch(2)] for s in shards]
    assert all(len(b) == bs for rank in per_rank for b in rank)
    flat = [set(i for b in rank for i in b) for rank in per_rank]
    assert all(not (flat[a] & flat[b]) for a in range(world) for b in range(a + 1, world))
    order = shards[0].order(2)
    for step in range(steps.pop()):
        merged = [i for r in range(world) for i in per_rank[r][step]]
        assert merged == order[step * bs * world : (step + 1) * bs * world].tolist()


def test_full_batches_fixed_order(train):
    batches = list(full_batches(train, 100, MNIST))
    assert [len(y) for _, y in batches] == [100] * 8 + [33]
    assert np.array_equal(np.concatenate([y for _, y in batches])[:, 0], train.labels)


# ---------------------------------------------------------------- download


class _Server:
    """A local HTTP server: routes map a path to (status, body, claimed Content-Length)."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, bytes, int | None]] = {}
        self.requests: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                status, body, length = server.routes.get(self.path, (404, b"no", None))
                self.send_response(status)
                self.send_header("Content-Length", str(len(body) if length is None else length))
                self.end_headers()
                self.wfile.write(body)  # then the connection closes, short or not

            def log_message(self, *args) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/mnist/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def serve_small(self) -> dict[str, str]:
        md5s = {}
        for name in FOUR:
            body = (SMALL / name).read_bytes()
            self.routes[f"/mnist/{name}"] = (200, body, None)
            md5s[name] = hashlib.md5(body).hexdigest()
        return md5s


@pytest.fixture
def server():
    s = _Server()
    s.thread.start()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()


def test_download_good(server, tmp_path, capsys):
    md5s = server.serve_small()
    dest = tmp_path / "cache"
    download_files(dest, server.url, md5s, progress=False)
    assert sorted(p.name for p in dest.iterdir()) == sorted(FOUR)
    for name in FOUR:
        assert (dest / name).read_bytes() == (SMALL / name).read_bytes()
    server.routes.clear()  # present files are not fetched again
    download_files(dest, server.url, md5s, progress=False)
    assert len(server.requests) == 4
    assert len(load_mnist(dest, progress=False).test) == 500


def test_download_with_progress_bar(server, tmp_path, capsys):
    md5s = server.serve_small()
    download_files(tmp_path, server.url.rstrip("/"), {FOUR[0]: md5s[FOUR[0]]}, progress=True)
    assert (tmp_path / FOUR[0]).read_bytes() == (SMALL / FOUR[0]).read_bytes()
    assert capsys.readouterr().out == ""  # the bar goes to stderr only


def _assert_failed_clean(server, tmp_path, md5s, *needles) -> None:
    dest = tmp_path / "dest"
    with pytest.raises(DataError) as e:
        download_files(dest, server.url, md5s, progress=False)
    assert_data_error(e, *needles, str(dest), "--data-dir", server.url)
    assert list(dest.iterdir()) == []  # neither the file nor a temp file


def test_download_checksum_mismatch(server, tmp_path):
    md5s = server.serve_small()
    md5s[TRAIN_IMAGES] = "0" * 32
    one = {TRAIN_IMAGES: md5s[TRAIN_IMAGES]}
    _assert_failed_clean(server, tmp_path, one, TRAIN_IMAGES, "md5 mismatch")


@pytest.mark.parametrize("status", [404, 500])
def test_download_http_error(server, tmp_path, status):
    md5s = server.serve_small()
    server.routes[f"/mnist/{TRAIN_IMAGES}"] = (status, b"oops", None)
    _assert_failed_clean(server, tmp_path, {TRAIN_IMAGES: md5s[TRAIN_IMAGES]}, f"HTTP {status}")


def test_download_interrupted(server, tmp_path):
    md5s = server.serve_small()
    body = (SMALL / TRAIN_IMAGES).read_bytes()
    server.routes[f"/mnist/{TRAIN_IMAGES}"] = (200, body[:50_000], len(body))
    one = {TRAIN_IMAGES: md5s[TRAIN_IMAGES]}
    _assert_failed_clean(server, tmp_path, one, "interrupted: received 50000 of")


def test_download_connection_refused(tmp_path):
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    dest = tmp_path / "dest"
    with pytest.raises(DataError) as e:
        download_files(dest, f"http://127.0.0.1:{port}/", {TRAIN_IMAGES: "0" * 32}, timeout=5)
    assert_data_error(e, TRAIN_IMAGES, str(dest), "--data-dir")
    assert list(dest.iterdir()) == []


def test_load_downloads_into_cache_only(server, tmp_path, monkeypatch):
    md5s = server.serve_small()
    monkeypatch.setattr("zoo.data.locate.MNIST_FILES", md5s)
    monkeypatch.setenv("ZOO_MNIST_URL", server.url)
    with pytest.raises(DataError) as e:
        load_mnist(download=False, progress=False)
    assert_data_error(e, "downloading is disabled")
    assert server.requests == []
    data = load_mnist(progress=False)
    cache = tmp_path / "xdg-cache" / "zoo" / "mnist"
    assert data.source == f"idx:{cache}" and len(data.train) == 833
    assert data.data_dir == str(cache)
    assert sorted(p.name for p in cache.iterdir()) == sorted(FOUR)


def test_no_paddle_and_lazy_tqdm_in_data_package():
    import zoo.data

    for path in Path(zoo.data.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                assert not any(n.split(".")[0] == "paddle" for n in names), path
        top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        assert not any("tqdm" in ast.dump(n) for n in top), path


def test_mnist_data_is_a_dataset_with_shape_and_classes():
    from zoo.data import load_mnist

    data = load_mnist(MNIST_SAMPLE_DIR, progress=False)
    assert data.input_shape == (1, 28, 28) and data.num_classes == 10


# ---------------------------------------------------------------- the packaged sample and fallback


def closed_port_url() -> str:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/"


def test_mnist_sample_entry_is_always_the_packaged_folder():
    from zoo.plugin import load_catalog

    catalog = load_catalog()
    entry = catalog.entry("datasets", "mnist-sample")
    assert "1,000/500" in entry.description and "not representative" in entry.description
    for data_dir in (None, "/nonexistent"):  # a --data-dir does not redirect it
        data = catalog.build("datasets", "mnist-sample", data_dir=data_dir)
        assert (len(data.train), len(data.val), len(data.test)) == (833, 167, 500)
        assert data.data_dir == str(MNIST_SAMPLE_DIR) == str(SMALL)
    half = catalog.build("datasets", "mnist-sample", {"val_fraction": 0.5})
    assert (len(half.train), len(half.val)) == (500, 500)


def _warnings_of(record, category) -> list[str]:
    return [str(w.message) for w in record if issubclass(w.category, category)]


@pytest.mark.parametrize("how", ["download fails", "download disabled"])
def test_offline_mnist_falls_back_to_the_sample_with_one_warning(monkeypatch, how):
    monkeypatch.setenv("ZOO_MNIST_URL", closed_port_url())
    with pytest.warns(SampleDataWarning) as record:
        data = load_mnist(progress=False, download=how == "download fails", sample_fallback=True)
    (message,) = _warnings_of(record, SampleDataWarning)
    reason = "failed" if how == "download fails" else "downloading is disabled"
    for needle in ("could not be found or downloaded", reason, "1,000-image sample shipped with zoo",
                   "not representative", "sample_fallback=false"):
        assert needle in message, message
    assert "\n" not in message
    assert data.data_dir == str(MNIST_SAMPLE_DIR) and data.source == f"idx:{MNIST_SAMPLE_DIR}"
    assert fingerprint(data) == fingerprint(load_mnist(MNIST_SAMPLE_DIR, progress=False))


def test_offline_mnist_without_fallback_is_the_old_error(monkeypatch):
    monkeypatch.setenv("ZOO_MNIST_URL", closed_port_url())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and no warning either
        with pytest.raises(MnistUnavailable) as e:
            load_mnist(progress=False)  # the library default: no fallback
    assert_data_error(e, TRAIN_IMAGES, "download from", "failed", "--data-dir")


def test_a_named_folder_never_falls_back(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_MNIST_URL", closed_port_url())
    empty = tmp_path / "empty"
    empty.mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DataError) as e:
            load_mnist(empty, progress=False, sample_fallback=True)
        assert_data_error(e, str(empty), "no MNIST data")
        monkeypatch.setenv("ZOO_DATA_DIR", str(empty))
        with pytest.raises(DataError) as e:
            load_mnist(progress=False, sample_fallback=True)
        assert_data_error(e, str(empty), "no MNIST data")


def test_broken_files_in_the_cache_never_fall_back(tmp_path, monkeypatch):
    # Files that exist but are damaged are a problem to fix, not to paper over.
    cache = copy_small(tmp_path / "xdg-cache" / "zoo" / "mnist")
    (cache / TRAIN_LABELS).write_bytes(b"<html>not found</html>")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DataError) as e:
            load_mnist(progress=False, sample_fallback=True)
    assert_data_error(e, str(cache / TRAIN_LABELS), "not a gzip file")


def test_data_dir_is_the_absolute_folder_loaded(tmp_path, monkeypatch):
    copy_small(tmp_path / "rel")
    monkeypatch.chdir(tmp_path)
    assert load_mnist("rel", progress=False).data_dir == str(tmp_path / "rel")
    monkeypatch.setenv("ZOO_DATA_DIR", "rel")
    assert load_mnist(progress=False).data_dir == str(tmp_path / "rel")
    assert load_mnist(SEED_SMALL.parent, progress=False).data_dir == str(SEED_SMALL.parent)


# ---------------------------------------------------------------- fingerprint


# The packaged sample's fingerprint with the default split. Pinned because stored results
# are identified by it: an accidental change in how it is computed must not go unnoticed.
SAMPLE_FINGERPRINT = "a872fe4f0d636464573cecb15805b452106605181d58adb75ec90eecb47a8385"


def _sample_fingerprint_from_the_files(val_fraction: float) -> str:
    """The fingerprint's documented layout (zoo.data.fingerprint), derived here from the
    sample's files with gzip, numpy and hashlib alone: sha256 over length-prefixed JSON
    headers and each split's raw little-endian bytes, train/val/test x images/labels."""
    def idx(name, offset):
        payload = gzip.decompress((SMALL / name).read_bytes())
        count = struct.unpack(">I", payload[4:8])[0]
        return np.frombuffer(payload, np.uint8, offset=offset).reshape(count, *([28, 28] if offset == 16 else []))

    images, labels = idx("train-images-idx3-ubyte.gz", 16), idx("train-labels-idx1-ubyte.gz", 8)
    held = np.sort(np.random.default_rng(0).permutation(len(labels))[:round(len(labels) * val_fraction)])
    rest = np.setdiff1d(np.arange(len(labels)), held)
    splits = [(images[rest], labels[rest]), (images[held], labels[held]),
              (idx("t10k-images-idx3-ubyte.gz", 16), idx("t10k-labels-idx1-ubyte.gz", 8))]
    digest = hashlib.sha256()

    def frame(header):
        text = json.dumps(header, sort_keys=True).encode()
        digest.update(len(text).to_bytes(8, "little") + text)

    frame({"format": "zoo-data-fingerprint/1", "input_shape": [1, 28, 28], "num_classes": 10})
    for split, pair in zip(("train", "val", "test"), splits):
        for name, array in zip(("images", "labels"), pair):
            frame({"array": f"{split}.{name}", "dtype": array.dtype.str, "shape": list(array.shape)})
            digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


@pytest.mark.parametrize("val_fraction", [1 / 6, 0.0], ids=["default-split", "no-split"])
def test_fingerprint_is_what_its_documented_layout_gives_for_the_files(val_fraction):
    assert fingerprint(load_mnist(SMALL, progress=False, val_fraction=val_fraction)) == \
        _sample_fingerprint_from_the_files(val_fraction)
    if val_fraction == 1 / 6:
        assert _sample_fingerprint_from_the_files(val_fraction) == SAMPLE_FINGERPRINT


def test_fingerprint_is_pinned_and_independent_of_location_and_gzip(tmp_path):
    reference = fingerprint(load_mnist(SMALL, progress=False))
    assert reference == SAMPLE_FINGERPRINT
    assert fingerprint(load_mnist(copy_small(tmp_path / "copy"), progress=False)) == reference
    plain = tmp_path / "plain"
    plain.mkdir()
    for name in FOUR:
        (plain / name[:-3]).write_bytes(gzip.decompress((SMALL / name).read_bytes()))
    data = load_mnist(plain, progress=False)
    assert data.data_dir == str(plain) and fingerprint(data) == reference


@pytest.mark.parametrize("name", FOUR)
def test_fingerprint_changes_with_any_file_content(tmp_path, name):
    d = copy_small(tmp_path / "data")
    payload = bytearray(gzip.decompress((d / name).read_bytes()))
    offset = 8 if "labels" in name else 16
    payload[offset + 3] = (payload[offset + 3] + 1) % 10  # one label or pixel, still valid
    write_gz(d / name, bytes(payload))
    assert fingerprint(load_mnist(d, progress=False)) != SAMPLE_FINGERPRINT


@pytest.mark.parametrize("settings", [{"val_fraction": 0.2}, {"val_fraction": 0.0}, {"split_seed": 1}])
def test_fingerprint_changes_with_the_split_settings(settings):
    assert fingerprint(load_mnist(SMALL, progress=False, **settings)) != SAMPLE_FINGERPRINT


def test_fingerprint_covers_shape_class_count_and_dtype():
    data = load_mnist(SMALL, progress=False)

    class Other:  # the same arrays, declared differently
        train, val, test = data.train, data.val, data.test
        input_shape, num_classes = data.input_shape, 11

    assert fingerprint(Other()) != SAMPLE_FINGERPRINT
    Other.num_classes, Other.input_shape = 10, (28, 28)
    assert fingerprint(Other()) != SAMPLE_FINGERPRINT
    Other.input_shape = (1, 28, 28)
    assert fingerprint(Other()) == SAMPLE_FINGERPRINT
    Other.test = Split(data.test.images, data.test.labels.astype(np.int64))
    assert fingerprint(Other()) != SAMPLE_FINGERPRINT
    Other.test = Split(data.test.images, data.test.labels.astype(">u8"))
    big_endian = fingerprint(Other())
    Other.test = Split(data.test.images, data.test.labels.astype("<u8"))
    assert fingerprint(Other()) == big_endian  # equal values, only stored differently
    Other.test = Split(data.test.images, np.array([None] * 500, dtype=object))
    with pytest.raises(DataError, match="test.labels holds Python objects"):
        fingerprint(Other())
