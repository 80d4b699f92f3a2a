"""zoo.atomic on real files, real renames and real processes killed mid-write."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from zoo.atomic import (fsync_dir, publish_dir, staging_dir, staging_name, write_bytes_atomic,
                        write_json_atomic, write_synced, write_text_atomic)

pytestmark = pytest.mark.integration  # starts processes or trains with Paddle


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# --- files -----------------------------------------------------------------------------------

def test_a_file_replaces_the_old_one_whole_with_the_umask_mode(tmp_path):
    target = tmp_path / "sub" / "metrics.json"  # its folder is made
    write_text_atomic(target, "old")
    write_json_atomic(target, {"acc": 0.5, "nan": float("nan")})
    assert target.read_text() == '{\n  "acc": 0.5,\n  "nan": NaN\n}'
    assert listing(target.parent) == ["metrics.json"]
    # A shared report or data file stays readable as any file made here would be.
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask()


def test_a_failure_while_writing_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "job.json"
    target.write_text("old")

    def half_then_fail(out):
        out.write(b"new but only ha")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_bytes_atomic(target, half_then_fail)
    for interruption in (KeyboardInterrupt, SystemExit):
        def interrupted(out, exc=interruption):
            out.write(b"x" * 100_000)
            raise exc()

        with pytest.raises(interruption):
            write_bytes_atomic(target, interrupted)
    assert target.read_text() == "old" and listing(tmp_path) == ["job.json"]


def test_unserialisable_json_touches_nothing(tmp_path):
    target = tmp_path / "metrics.json"
    target.write_text("old")
    with pytest.raises(TypeError, match="not JSON serializable: object"):
        write_json_atomic(target, {"x": object()})
    assert target.read_text() == "old" and listing(tmp_path) == ["metrics.json"]


def test_numpy_values_are_written_as_plain_json(tmp_path):
    import numpy as np

    write_json_atomic(tmp_path / "m.json", {"a": np.float32(0.25), "b": np.arange(3)}, indent=None)
    assert json.loads((tmp_path / "m.json").read_text()) == {"a": 0.25, "b": [0, 1, 2]}


def test_fsync_dir_raises_what_is_not_the_platform_refusing(tmp_path):
    fsync_dir(tmp_path)  # a folder here can be synced
    with pytest.raises(FileNotFoundError):
        fsync_dir(tmp_path / "missing")


# --- folders ---------------------------------------------------------------------------------

def test_publish_a_new_folder_and_leave_no_staging(tmp_path):
    final = tmp_path / "export"
    with staging_dir(final) as tmp:
        assert tmp == tmp_path / f".tmp-export-{os.getpid()}" and listing(tmp) == []
        write_synced(tmp / "model.onnx", b"weights")
        assert publish_dir(tmp, final) == final
    assert listing(tmp_path) == ["export"] and (final / "model.onnx").read_bytes() == b"weights"


@pytest.mark.parametrize("taken", ["folder", "file"])
def test_an_existing_target_is_refused_unless_replacing(tmp_path, taken):
    final = tmp_path / "export"
    if taken == "folder":
        final.mkdir()
        (final / "notes.txt").write_text("mine")
    else:
        final.write_text("mine")
    with staging_dir(final) as tmp:
        write_synced(tmp / "a", b"new")
        with pytest.raises(FileExistsError):
            publish_dir(tmp, final)
        assert listing(tmp) == ["a"]  # the caller's to remove: staging_dir does
    assert listing(tmp_path) == ["export"]
    assert (final / "notes.txt" if taken == "folder" else final).read_text() == "mine"


def test_replacing_swaps_the_whole_folder(tmp_path):
    final = tmp_path / "step-000000009"
    final.mkdir()
    (final / "old-only").write_text("old")
    with staging_dir(final) as tmp:
        write_synced(tmp / "arrays.npz", b"new")
        publish_dir(tmp, final, replace=True)
    assert listing(final) == ["arrays.npz"] and listing(tmp_path) == ["step-000000009"]


def test_a_failed_rename_puts_the_old_folder_back(tmp_path):
    # A real rename that fails after the old folder was moved aside: a folder cannot be
    # renamed into itself (EINVAL), so publishing ``tmp`` as ``tmp/final`` fails there.
    with staging_dir(tmp_path / "x") as tmp:
        final = tmp / "final"
        final.mkdir()
        (final / "old").write_text("kept")
        with pytest.raises(OSError) as exc:
            publish_dir(tmp, final, replace=True)
        assert not isinstance(exc.value, FileExistsError)
        assert (final / "old").read_text() == "kept"
        assert listing(tmp) == ["final"]  # the old one back, nothing aside
    assert listing(tmp_path) == []


CONTENDER = """
    import sys, time
    from pathlib import Path
    from zoo.atomic import publish_dir, staging_dir, write_synced

    final, me = Path(sys.argv[1]), sys.argv[2]
    with staging_dir(final) as tmp:
        write_synced(tmp / "who", me.encode())
        while not (final.parent / "go").exists():
            time.sleep(0.005)
        try:
            publish_dir(tmp, final)
            print("won")
        except FileExistsError:
            print("lost")
"""


def test_of_writers_racing_for_one_folder_exactly_one_wins(tmp_path):
    final = tmp_path / "shared-out"
    procs = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(CONTENDER), str(final), str(i)],
                              stdout=subprocess.PIPE, text=True) for i in range(4)]
    time.sleep(0.5)  # let them all stage (a late one only loses, never wins twice)
    (tmp_path / "go").touch()
    said = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert sorted(said) == ["lost", "lost", "lost", "won"], said
    assert (final / "who").read_text() == str(said.index("won"))
    assert listing(tmp_path) == ["go", "shared-out"]  # no staging or aside folder left


# --- crashes: a process killed between steps, or at any moment ------------------------------

HALF_WRITER = """
    import sys, time
    from pathlib import Path
    from zoo.atomic import publish_dir, staging_dir, write_bytes_atomic, write_synced

    target = Path(sys.argv[1])

    def half(out):
        out.write(b"new" * 100_000)
        out.flush()
        print("half", flush=True)
        time.sleep(60)

    if target.is_dir():
        with staging_dir(target) as tmp:
            write_synced(tmp / "arrays", b"new")
            half(open(tmp / "state", "wb"))
    else:
        write_bytes_atomic(target, half)
"""


@pytest.mark.parametrize("what", ["file", "folder"])
def test_a_writer_killed_in_the_middle_leaves_the_old_one(tmp_path, what):
    target = tmp_path / "target"
    if what == "folder":
        target.mkdir()
        (target / "arrays").write_text("old")
    else:
        target.write_text("old")
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(HALF_WRITER), str(target)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "half\n"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert (target / "arrays" if what == "folder" else target).read_text() == "old"
    if what == "folder":
        assert listing(target) == ["arrays"]


FILE_WRITER = """
    import sys
    from zoo.atomic import write_bytes_atomic

    target, n = sys.argv[1], 0
    print("ready", flush=True)
    while True:
        n += 1
        write_bytes_atomic(target, (b"a" if n % 2 else b"b") * (n % 2 + 1) * 2_000_000)
"""

FOLDER_WRITER = """
    import sys
    from pathlib import Path
    from zoo.atomic import publish_dir, staging_dir, write_synced

    final, n = Path(sys.argv[1]), 0
    print("ready", flush=True)
    while True:
        n += 1
        with staging_dir(final) as tmp:
            for name in ("arrays", "state", "manifest"):
                write_synced(tmp / name, str(n).encode() * 20_000)
            publish_dir(tmp, final, replace=True)
"""

# Kill moments spread over the writers' cycles (milliseconds each): some land mid-write.
DELAYS = [0.0, 0.003, 0.007, 0.013, 0.021, 0.034, 0.055, 0.089, 0.144]


def kill_while_writing(script: str, target: Path, delay: float) -> None:
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(script), str(target)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "ready\n"
    deadline = time.monotonic() + 60
    while not target.exists() and time.monotonic() < deadline:
        time.sleep(0.001)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


def test_a_file_writer_killed_at_any_moment_leaves_the_old_or_the_new_file(tmp_path):
    for delay in DELAYS:
        target = tmp_path / f"metrics-{delay}.json"
        kill_while_writing(FILE_WRITER, target, delay)
        data = target.read_bytes()
        assert data in (b"a" * 4_000_000, b"b" * 2_000_000), (delay, len(data), data[:1])


def test_a_folder_writer_killed_at_any_moment_leaves_a_whole_folder(tmp_path):
    for delay in DELAYS:
        final = tmp_path / str(delay) / "step-000000001"
        final.parent.mkdir()
        kill_while_writing(FOLDER_WRITER, final, delay)
        # Killed between the two renames of a replacement, the old folder is whole under
        # its aside name (the checkpoint store reaps a dead writer's .tmp-* folders).
        shown = final if final.exists() else next(final.parent.glob(".tmp-old-step-000000001-*"))
        contents = {(shown / name).read_bytes() for name in ("arrays", "state", "manifest")}
        assert len(contents) == 1, f"a folder mixing two versions (killed after {delay} s)"
        (content,) = contents
        width = len(content) // 20_000
        assert content == content[:width] * 20_000 and content[:width].isdigit()


def test_staging_name_carries_the_pid_the_checkpoint_store_reaps_by(tmp_path):
    assert staging_name(tmp_path / "a").name == f".tmp-a-{os.getpid()}"
    assert staging_name(tmp_path / "a", old=True).name == f".tmp-old-a-{os.getpid()}"
