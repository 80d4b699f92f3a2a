"""`zoo list` and `zoo plugins` as a user runs them: real processes, real output."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration  # starts processes or trains with Paddle


def test_list_table_shows_every_kind_with_plugin_and_defaults(run_zoo):
    proc = run_zoo("list")
    assert proc.returncode == 0, proc.stderr
    header = proc.stdout.splitlines()[0].split()
    assert header == ["kind", "name", "plugin", "description", "defaults"]
    for kind in ("datasets", "models", "optimizers", "schedules", "regularizers", "launchers"):
        assert any(line.startswith(kind) for line in proc.stdout.splitlines()), kind
    momentum = next(line for line in proc.stdout.splitlines() if " momentum " in line)
    assert "zoo.plugins.optimizers" in momentum and "learning_rate=0.01, momentum=0.9" in momentum


def test_list_kind_filter_exclude_and_json(run_zoo):
    data = json.loads(run_zoo("list", "optimizer", "--filter", "*m*", "--exclude", "adamw",
                              "--json").stdout)
    assert [row["name"] for row in data] == ["adam", "momentum", "rmsprop"]
    assert all(row["kind"] == "optimizers" for row in data)
    adam = data[0]
    assert adam["defaults"]["learning_rate"] == 0.01 and adam["distribution"] == "zoo"
    assert adam["description"] == "Adam"


def test_list_filter_matching_nothing_says_so(run_zoo):
    proc = run_zoo("list", "models", "--filter", "nothing*")
    assert proc.returncode == 0 and proc.stdout == "" and "no entries match" in proc.stderr


def test_list_filter_without_glob_characters_matches_a_substring(run_zoo):
    names = [row["name"] for row in json.loads(
        run_zoo("list", "models", "--filter", "resnet", "--json").stdout)]
    assert "resnet18" in names and "wide_resnet50_2" in names and "resnext50_32x4d" not in names
    assert all("resnet" in name for name in names)
    globbed = [row["name"] for row in json.loads(
        run_zoo("list", "models", "--filter", "resnet*", "--json").stdout)]
    assert "resnet18" in globbed and "wide_resnet50_2" not in globbed  # a glob stays a glob
    kept = [row["name"] for row in json.loads(
        run_zoo("list", "models", "--filter", "resnet", "--exclude", "wide", "--json").stdout)]
    assert "resnet18" in kept and not any("wide" in name for name in kept)


def test_list_help_names_every_kind(run_zoo):
    from zoo import kinds

    proc = run_zoo("list", "-h")
    assert proc.returncode == 0, proc.stderr
    text = " ".join(proc.stdout.split())
    for kind in kinds.kind_names():
        assert kind in text, kind


def test_list_unknown_kind_is_one_line_error(assert_one_line_error, run_zoo):
    assert_one_line_error(run_zoo("list", "widgets"), "unknown kind 'widgets'")


def test_plugins_table_and_json(run_zoo):
    proc = run_zoo("plugins")
    assert proc.returncode == 0
    assert proc.stdout.splitlines()[0].split() == ["name", "version", "type", "hooks", "status"]
    row = next(line for line in proc.stdout.splitlines() if line.startswith("zoo.plugins.schedules"))
    assert "built-in" in row and "schedules" in row and row.rstrip().endswith("ok")
    data = json.loads(run_zoo("plugins", "--json").stdout)
    models = next(p for p in data if p["name"] == "zoo.plugins.models")
    assert models == {"name": "zoo.plugins.models", "distribution": "zoo", "version": "0.2.0",
                      "source": "zoo.plugins.models", "type": "built-in", "hooks": ["models"],
                      "status": "ok", "error": ""}


def test_list_does_not_import_paddle():
    heavy = ("paddle", "onnxruntime", "paddle2onnx", "onnx")
    code = ("import sys; from zoo.cli import main; code = main(['list']); "
            f"print('PADDLE', [m for m in {heavy!r} if m in sys.modules], code)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.stdout.strip().splitlines()[-1] == "PADDLE [] 0", proc.stdout[-300:]


def test_console_script_and_module_agree(run_zoo):
    import shutil

    script = shutil.which("zoo") or str(__import__("pathlib").Path(sys.executable).with_name("zoo"))
    a = subprocess.run([script, "list", "--json"], capture_output=True, text=True)
    b = run_zoo("list", "--json")
    assert a.returncode == b.returncode == 0 and json.loads(a.stdout) == json.loads(b.stdout)


def test_unknown_command_and_version(run_zoo):
    proc = run_zoo("frobnicate")
    assert proc.returncode == 2 and "No such command 'frobnicate'" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert run_zoo("--version").stdout.strip() == "zoo, version 0.2.0"
