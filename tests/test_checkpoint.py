"""Tests for zoo.checkpoint: real files in tmp_path, corruption and pickle safety."""

from __future__ import annotations

import io
import json
import os
import pickle
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

from zoo import checkpoint as ck
from zoo.checkpoint import (
    CheckpointWarning,
    all_finite,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    resolve_checkpoint,
    save_checkpoint,
)
from zoo.data.sample import MNIST_SAMPLE_DIR
from zoo.errors import CheckpointError
from zoo.pdparams import load_paddle_state

pytestmark = pytest.mark.integration  # starts processes or trains with Paddle


def _arrays(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "model/linear.weight": rng.standard_normal((3, 4)).astype(np.float32),
        "optim/step": np.array([seed, 7], dtype=np.int64),
        "rng/state": rng.integers(0, 255, size=16, dtype=np.uint8),
        "mask": np.array([[True, False], [False, True]]),
        "file": np.float64(seed),  # a key np.savez(file, **kw) could not take; 0-d array
    }


def _assert_same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert set(a) == set(b)
    for k in a:
        assert b[k].dtype == np.asarray(a[k]).dtype, k
        assert b[k].shape == np.asarray(a[k]).shape, k
        np.testing.assert_array_equal(b[k], a[k])


def _save_steps(out: Path, steps: list[int], keep: int = 10) -> list[Path]:
    return [save_checkpoint(out, s, _arrays(s), {"step": s}, keep=keep) for s in steps]


def test_round_trip(tmp_path: Path) -> None:
    arrays = _arrays(1)
    state = {"epoch": 2, "step": 50, "order_pos": 17, "sched": {"lr": 0.01, "milestones": [3, 5]},
             "seed": 42, "name": "ünïcode"}
    path = save_checkpoint(tmp_path, 50, arrays, state)
    assert path == tmp_path / "checkpoints" / "step-000000050"
    assert sorted(p.name for p in path.iterdir()) == ["arrays.npz", "manifest.json", "state.json"]
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["format"] == "zoo-checkpoint/1" and manifest["step"] == 50
    assert set(manifest["files"]) == {"arrays.npz", "state.json"}
    loaded, loaded_state = load_checkpoint(path)
    _assert_same(arrays, loaded)
    assert loaded_state == state
    # no temporary folders left behind
    assert not [p for p in (tmp_path / "checkpoints").iterdir() if p.name.startswith(".tmp-")]


def test_bad_inputs_rejected_without_writing(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="JSON"):
        save_checkpoint(tmp_path, 1, _arrays(), {"x": object()})
    with pytest.raises(CheckpointError, match="object"):
        save_checkpoint(tmp_path, 1, {"a": np.array([{}], dtype=object)}, {})
    with pytest.raises(CheckpointError):
        save_checkpoint(tmp_path, -1, _arrays(), {})
    assert list_checkpoints(tmp_path) == []


def test_overwrite_same_step(tmp_path: Path) -> None:
    save_checkpoint(tmp_path, 5, _arrays(1), {"v": 1})
    path = save_checkpoint(tmp_path, 5, _arrays(2), {"v": 2})
    arrays, state = load_checkpoint(path)
    _assert_same(_arrays(2), arrays)
    assert state == {"v": 2}
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == ["step-000000005"]


def test_keep_last_k(tmp_path: Path) -> None:
    _save_steps(tmp_path, [10, 20, 30, 40, 50], keep=2)
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step-000000040", "step-000000050"]


def test_prune_never_deletes_last_good_because_newer_are_corrupt(tmp_path: Path) -> None:
    p10, p20, p30 = _save_steps(tmp_path, [10, 20, 30])
    (p20 / "manifest.json").unlink()
    (p30 / "manifest.json").unlink()
    # resumed from 10 (20 and 30 corrupt) and saved 15 with keep=2: 10 must survive,
    # the newer corrupt ones stay for inspection.
    save_checkpoint(tmp_path, 15, _arrays(15), {}, keep=2)
    names = [p.name for p in list_checkpoints(tmp_path)]
    assert names == ["step-000000010", "step-000000015", "step-000000020", "step-000000030"]
    # keep=1: the just-written one is always kept, older valid ones go
    save_checkpoint(tmp_path, 16, _arrays(16), {}, keep=1)
    assert "step-000000016" in [p.name for p in list_checkpoints(tmp_path)]
    assert "step-000000010" not in [p.name for p in list_checkpoints(tmp_path)]


def _flip_byte(p: Path) -> None:
    data = bytearray((p / "arrays.npz").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (p / "arrays.npz").write_bytes(bytes(data))


def _truncate(p: Path) -> None:
    with open(p / "arrays.npz", "r+b") as f:
        f.truncate(100)


CORRUPTIONS = {
    "flip_byte": (_flip_byte, "sha256 mismatch"),
    "truncate": (_truncate, "is 100 bytes, manifest says"),
    "no_manifest": (lambda p: (p / "manifest.json").unlink(), "manifest.json missing"),
    "garbage_manifest": (lambda p: (p / "manifest.json").write_text("{not json"), "not valid JSON"),
    "no_state": (lambda p: (p / "state.json").unlink(), "state.json missing"),
    "wrong_format": (lambda p: (p / "manifest.json").write_text('{"format": "other/9"}'), "unknown manifest format"),
}


@pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
def test_corrupt_latest_falls_back_with_warning(tmp_path: Path, kind: str) -> None:
    corrupt, reason = CORRUPTIONS[kind]
    good, bad = _save_steps(tmp_path, [50, 100])
    corrupt(bad)
    with pytest.raises(CheckpointError, match=reason) as exc:
        load_checkpoint(bad)
    assert "step-000000100" in str(exc.value) and "\n" not in str(exc.value)
    with pytest.warns(CheckpointWarning) as record:
        found = latest_checkpoint(tmp_path)
    assert found is not None
    path, arrays, state = found
    assert path == good and state == {"step": 50}
    _assert_same(_arrays(50), arrays)
    msgs = [str(w.message) for w in record if issubclass(w.category, CheckpointWarning)]
    assert len(msgs) == 1
    assert "step-000000100" in msgs[0] and "step-000000050" in msgs[0] and reason in msgs[0]
    with pytest.warns(CheckpointWarning):
        assert resolve_checkpoint(tmp_path) == good


def test_all_corrupt_raises(tmp_path: Path) -> None:
    for p in _save_steps(tmp_path, [1, 2]):
        _flip_byte(p)
    with pytest.raises(CheckpointError, match="no valid checkpoint.*2 corrupt"):
        latest_checkpoint(tmp_path)


def test_no_checkpoints_returns_none(tmp_path: Path) -> None:
    assert latest_checkpoint(tmp_path) is None
    (tmp_path / "checkpoints").mkdir()
    assert latest_checkpoint(tmp_path) is None
    assert list_checkpoints(tmp_path / "nope") == []


def test_leftover_tmp_folder_ignored(tmp_path: Path) -> None:
    good = save_checkpoint(tmp_path, 10, _arrays(), {"step": 10})
    # a crash mid-save of step 20 by a process that no longer exists
    tmp = tmp_path / "checkpoints" / f".tmp-step-000000020-{2**22 + 5}"
    tmp.mkdir()
    (tmp / "arrays.npz").write_bytes(b"partial")
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step-000000010"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a leftover is not worth a warning
        found = latest_checkpoint(tmp_path)
    assert found is not None and found[0] == good
    assert not tmp.exists()  # cleaned up


NASTY_NPZ = {
    "object_array": lambda f: np.savez(f, evil=np.array([{"a": 1}], dtype=object)),
    "plain_npy": lambda f: np.save(f, np.arange(3)),
    "pickle": lambda f: f.write(pickle.dumps({"a": 1})),
}


@pytest.mark.parametrize("kind", sorted(NASTY_NPZ))
def test_nasty_npz_refused(tmp_path: Path, kind: str) -> None:
    # A hand-made checkpoint whose manifest is consistent but whose npz is not plain arrays.
    path = tmp_path / "checkpoints" / "step-000000007"
    path.mkdir(parents=True)
    with open(path / "arrays.npz", "wb") as f:
        NASTY_NPZ[kind](f)
    (path / "state.json").write_text("{}")
    files = {n: {"sha256": ck.file_sha256(path / n), "bytes": (path / n).stat().st_size}
             for n in ("arrays.npz", "state.json")}
    (path / "manifest.json").write_text(json.dumps({"format": ck.FORMAT, "step": 7, "files": files}))
    with pytest.raises(CheckpointError, match="step-000000007.*cannot load"):
        load_checkpoint(path)


def _rewrite_manifest(path: Path) -> None:
    """Make the manifest agree with the files again, so that only the content can be wrong."""
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["files"] = {n: {"sha256": ck.file_sha256(path / n), "bytes": (path / n).stat().st_size}
                         for n in ("arrays.npz", "state.json")}
    (path / "manifest.json").write_text(json.dumps(manifest))


def _rewrite_member(path: Path, shape=None, compress: bool = False, member: int = 0) -> str:
    """Give one .npy member of arrays.npz a header declaring ``shape`` (its data unchanged)."""
    npz = path / "arrays.npz"
    with zipfile.ZipFile(npz) as zf:
        members = [(info.filename, zf.read(info)) for info in zf.infolist()]
    name, raw = members[member]
    fp = io.BytesIO(raw)
    assert np.lib.format.read_magic(fp) == (1, 0)
    old_shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp)
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": np.lib.format.dtype_to_descr(dtype),
                                                  "fortran_order": fortran,
                                                  "shape": old_shape if shape is None else shape})
    members[member] = (name, header.getvalue() + raw[fp.tell():])
    with zipfile.ZipFile(npz, "w", zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED) as zf:
        for n, data in members:
            zf.writestr(n, data)
    _rewrite_manifest(path)
    return name


HUGE = (2**40,)  # 4 TiB of float32: numpy's own loader tries to allocate it and dies


@pytest.mark.parametrize("shape, compress, needle", [
    (HUGE, False, "header declares shape (1099511627776,)"),
    ((2**31, 2**31), False, "header declares shape"),
    ((2,), False, "header declares shape (2,)"),  # smaller than the data is a lie too
    (None, True, "is compressed"),
], ids=["huge", "huge-2d", "too-small", "compressed"])
def test_dishonest_array_headers_refused_before_reading(tmp_path: Path, shape, compress, needle) -> None:
    good, bad = _save_steps(tmp_path, [50, 100])
    name = _rewrite_member(bad, shape, compress)
    assert name == "model/linear.weight.npy"
    ck._verify(bad)  # the manifest matches: only the header check can catch it
    with pytest.raises(CheckpointError) as exc:
        load_checkpoint(bad)
    msg = str(exc.value)
    assert "step-000000100" in msg and "cannot load" in msg and needle in msg and "\n" not in msg
    with pytest.warns(CheckpointWarning) as record:
        found = latest_checkpoint(tmp_path)
    assert found is not None and found[0] == good and found[2] == {"step": 50}
    msgs = [str(w.message) for w in record if issubclass(w.category, CheckpointWarning)]
    assert len(msgs) == 1 and needle in msgs[0] and "using" in msgs[0]
    with pytest.warns(CheckpointWarning):
        assert resolve_checkpoint(tmp_path) == good


def test_honest_rewritten_npz_still_loads(tmp_path: Path) -> None:
    # The helper above changes nothing but what it is asked to: the checks are not too strict.
    (path,) = _save_steps(tmp_path, [3])
    _rewrite_member(path, shape=None)
    _assert_same(_arrays(3), load_checkpoint(path)[0])
    fortran = {"f": np.asfortranarray(np.arange(12.0).reshape(3, 4)), "empty": np.zeros((0, 5)),
               "big_endian": np.arange(4, dtype=">i4"), "scalar": np.float32(2.5)}
    loaded, _ = load_checkpoint(save_checkpoint(tmp_path, 4, fortran, {}))
    _assert_same(fortran, loaded)
    assert all(a.flags.writeable for a in loaded.values())


def test_prune_does_not_count_a_dishonest_checkpoint_as_good(tmp_path: Path) -> None:
    p10, p20 = _save_steps(tmp_path, [10, 20])
    _rewrite_member(p20, HUGE)
    # resumed from 10 (20 is bad) and saved 15 with keep=2: 10 must stay, 20 stays to inspect
    save_checkpoint(tmp_path, 15, _arrays(15), {}, keep=2)
    assert [p.name for p in list_checkpoints(tmp_path)] == \
        ["step-000000010", "step-000000015", "step-000000020"]


TINY_RUN = ["--model", "mlp", "--optimizer", "sgd", "--set", "model.hidden1=32", "--set",
            "model.hidden2=16", "--epochs", "2", "--data-dir", str(MNIST_SAMPLE_DIR),
            "--set", "dataset.progress=false", "--quiet"]


def test_dishonest_checkpoint_via_cli_eval_and_resume(tmp_path: Path, run_zoo, assert_one_line_error) -> None:
    out = tmp_path / "run"
    assert run_zoo("train", *TINY_RUN, "--out", str(out)).returncode == 0
    first, last = list_checkpoints(out)
    assert (first.name, last.name) == ("step-000000009", "step-000000018")
    _rewrite_member(last, HUGE)
    assert_one_line_error(run_zoo("eval", str(last)), str(last), "header declares shape")
    proc = run_zoo("eval", str(out), "--json")  # a run dir: its newest good checkpoint
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["checkpoint"] == str(first)
    assert "zoo: warning: skipped checkpoint" in proc.stderr and "Traceback" not in proc.stderr
    # Running the finished run again resumes from the good checkpoint and finishes.
    proc = run_zoo("train", *TINY_RUN, "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    warned = [line for line in proc.stderr.splitlines() if line.startswith("zoo: warning:")]
    assert len(warned) == 1 and str(last) in warned[0] and f"using {first} instead" in warned[0]
    assert "resumed from" in proc.stdout and "(step 9)" in proc.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "ok" and metrics["global_step"] == 18 and metrics["resumed_from"] == 9
    load_checkpoint(last)  # rewritten honestly by the resumed run


def test_resolve_checkpoint(tmp_path: Path) -> None:
    _, p2 = _save_steps(tmp_path, [1, 2])
    assert resolve_checkpoint(tmp_path) == p2
    assert resolve_checkpoint(tmp_path / "checkpoints") == p2
    assert resolve_checkpoint(p2) == p2
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="no checkpoint found"):
        resolve_checkpoint(tmp_path / "empty")
    with pytest.raises(CheckpointError, match="no such"):
        resolve_checkpoint(tmp_path / "missing")


def test_all_finite() -> None:
    assert all_finite(_arrays())
    assert not all_finite({"a": np.array([1.0, np.nan])})
    assert not all_finite({"a": np.array([np.inf], dtype=np.float16)})
    assert all_finite({"i": np.array([1, 2]), "b": np.array([True])})


class _Evil:
    """Unpickling this opens (creates) a marker file: proof that code ran."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[override]
        return (open, (self.marker, "w"))


def test_pickle_refused_without_trust(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = tmp_path / "model.pdparams"
    evil.write_bytes(pickle.dumps({"w": _Evil(str(marker))}))
    with pytest.raises(CheckpointError, match="refusing to load .*model.pdparams.*--trust-pickle") as exc:
        load_paddle_state(evil)
    assert "\n" not in str(exc.value)
    assert not marker.exists()
    # sanity: the payload really is live, so the check above can fail
    with open(evil, "rb") as f:
        pickle.load(f).get("w").close()
    assert marker.exists()


def test_pickle_trusted_paddle_round_trip(tmp_path: Path) -> None:
    paddle = pytest.importorskip("paddle")
    paddle.seed(0)
    model = paddle.nn.Linear(3, 2)
    path = tmp_path / "model.pdparams"
    paddle.save(model.state_dict(), str(path))
    loaded = load_paddle_state(path, trust=True)
    expected = {k: v.numpy() for k, v in model.state_dict().items()}
    assert set(loaded) == set(expected)
    for k in expected:
        assert isinstance(loaded[k], np.ndarray)
        np.testing.assert_array_equal(loaded[k], expected[k])
        assert loaded[k].dtype == expected[k].dtype
    with pytest.raises(CheckpointError, match="no such file"):
        load_paddle_state(tmp_path / "missing.pdparams", trust=True)


def test_module_does_not_import_paddle() -> None:
    src = Path(ck.__file__).read_text()
    top = [ln for ln in src.splitlines() if ln.startswith(("import ", "from "))]
    assert not [ln for ln in top if "paddle" in ln]
    assert os.path.basename(ck.__file__) == "checkpoint.py"
