"""A Job (zoo.job): typed fields a checker sees, the settings that decide a result, and
job.json in the flat form every run folder has always held."""

from __future__ import annotations

import json
import os
import pickle
import re
import subprocess
import sys
import textwrap

import pytest

from zoo import kinds
from zoo.errors import TrainingError
from zoo.job import Job

pytestmark = pytest.mark.integration  # starts processes or trains with Paddle

# A job.json as zoo wrote it before Job was a hand-written class (make_dataclass): one
# field per trained kind, no "entries".  Run folders on disk hold this form.
FLAT_JOB_JSON = """{
  "batch_size": 100,
  "checkpoint_every": 0,
  "data_dir": null,
  "dataset": "mnist",
  "device": "cpu",
  "epochs": 5,
  "keep": 3,
  "model": "mlp",
  "optimizer": "sgd",
  "out": "/x",
  "params": {
    "models": {
      "hidden1": 16
    }
  },
  "registry_file": null,
  "regularizer": "none",
  "schedule": "constant",
  "seed": 0,
  "target_acc": null,
  "threads": 2
}"""


def test_an_old_job_json_loads_and_is_written_back_byte_for_byte(tmp_path):
    path = tmp_path / "job.json"
    path.write_text(FLAT_JOB_JSON)
    job = Job.load(path)
    assert job == Job(out="/x", entries={"models": "mlp", "optimizers": "sgd"}, threads=2,
                      params={"models": {"hidden1": 16}})
    assert (job.model, job.optimizer, job.dataset) == ("mlp", "sgd", "mnist")
    # Written back as it was, plus the one field added since (--limit-train, no limit).
    assert job.to_json() == FLAT_JOB_JSON.replace('  "keep": 3,\n', '  "keep": 3,\n  "limit_train": null,\n')


def test_the_flat_and_the_dataclass_forms_read_back_the_same_job():
    from dataclasses import asdict

    job = Job(out="/run", entries={"models": "cnn", "datasets": "cifar10"}, epochs=2,
              params={"datasets": {"progress": False}})
    assert Job.from_dict(json.loads(job.to_json())) == job  # job.json
    assert Job.from_dict(job.to_dict()) == job  # metrics.json's "job"
    assert Job.from_dict(asdict(job)) == job  # the dataclass's own form
    assert Job.from_dict({**job.__dict__, "epochs": 3}).epochs == 3  # `zoo train --resume`
    assert pickle.loads(pickle.dumps(job)) == job


def test_entries_come_in_the_tables_order_with_zoo_trains_defaults():
    job = Job(out="o", entries={"regularizers": "l2", "models": "mlp"})
    assert list(job.entries) == [kind.name for kind in kinds.trained()]
    assert job.entries == {kind.name: kind.default for kind in kinds.trained()} | {
        "regularizers": "l2", "models": "mlp"}
    assert job.names == job.entries and job.names is not job.entries


@pytest.mark.parametrize("data, unknown", [
    ({"out": "o", "launch": "single"}, "launch"),  # a swept kind no training run builds
    ({"out": "o", "modle": "mlp"}, "modle"),
    ({"out": "o", "entries": {"launchers": "single"}}, "entries.launchers"),
])
def test_unknown_keys_are_a_one_line_error(data, unknown):
    with pytest.raises(TrainingError, match=f"job description has unknown keys: {unknown}$"):
        Job.from_dict(data)


def test_an_unreadable_job_json_is_a_training_error(tmp_path):
    path = tmp_path / "job.json"
    for text in ("[1, 2]", '{"out": "o", "entries": 5}', "{"):
        path.write_text(text)
        with pytest.raises(TrainingError, match="cannot read job description"):
            Job.load(path)


def test_settings_are_what_decides_a_result_and_one_thread_is_left_out():
    job = Job(out="/x", entries={"models": "mlp", "optimizers": "sgd"}, threads=2,
              params={"models": {"hidden1": 16}}, data_dir="/d", registry_file="/r", keep=1,
              checkpoint_every=4)
    # Exactly the keys runs have recorded in their checkpoints' identities all along.
    assert job.settings() == {"batch_size": 100, "dataset": "mnist", "device": "cpu", "epochs": 5,
                              "model": "mlp", "optimizer": "sgd", "params": {"models": {"hidden1": 16}},
                              "regularizer": "none", "schedule": "constant", "seed": 0,
                              "target_acc": None, "threads": 2}
    one_thread = Job(out="/elsewhere", entries={"models": "mlp", "optimizers": "sgd"},
                     params={"models": {"hidden1": 16}})
    assert one_thread.settings() == {k: v for k, v in job.settings().items() if k != "threads"}
    job.settings()["params"]["models"]["hidden1"] = 0  # a copy: the job stays as it was
    assert job.params == {"models": {"hidden1": 16}}


def test_a_kinds_field_reads_as_an_attribute_and_nothing_else_does():
    job = Job(out="o")
    assert job.schedule == "constant"
    with pytest.raises(AttributeError, match="launch"):
        job.launch  # noqa: B018 - a kind's field, but no training run builds launchers
    with pytest.raises(AttributeError, match="modle"):
        job.modle  # noqa: B018
    with pytest.raises(TypeError, match="holds no entries of kind launchers"):
        Job(out="o", entries={"launchers": "single"})


@pytest.fixture(scope="session")
def run_mypy(repo_root):
    def _mypy(*files, cwd=repo_root, cache=None) -> subprocess.CompletedProcess:
        env = {**os.environ, "MYPYPATH": str(repo_root)}
        return subprocess.run([sys.executable, "-m", "mypy", "--cache-dir", str(cache), *map(str, files)],
                              capture_output=True, text=True, cwd=cwd, env=env, timeout=600)

    return _mypy


@pytest.fixture(scope="module")
def mypy_cache(tmp_path_factory):
    """One mypy cache for this module's checks: most of a cold run is the standard library's
    and numpy's stubs, the same for both (about 11 s each here; the second is then ~2 s)."""
    return tmp_path_factory.mktemp("mypy-cache")


def test_mypy_finds_no_error_in_job_and_grid(mypy_cache, run_mypy):
    proc = run_mypy("zoo/job.py", "zoo/bench/grid.py", cache=mypy_cache)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Success: no issues found in 2 source files" in proc.stdout


def test_mypy_sees_the_fields_of_job_and_cell_and_their_types(tmp_path, mypy_cache, run_mypy):
    """The fields are visible: a wrong type or a missing field is an error to the checker."""
    user = tmp_path / "uses_job.py"
    user.write_text(textwrap.dedent("""\
        from zoo.bench.grid import Cell
        from zoo.job import Job

        job = Job(out="run", entries={"models": "mlp"})
        cell = Cell(entries={}, nprocs=1)
        reveal_type(job.epochs)
        reveal_type(job.entries)
        reveal_type(cell.identity)
        reveal_type(cell.target_acc)
        reveal_type(cell.model)
        job.epochs.upper()
        Job(out=1)
        Cell(entries={})
        cell.nprocs = 2
    """))
    out = run_mypy(user, cache=mypy_cache).stdout
    # mypy 1 spells builtins out ("builtins.int"), mypy 2 does not.
    # With a warm cache mypy adds where a name is defined ('note: "Cell" defined in
    # "zoo.bench.grid"'), a pointer, not a finding.
    said = [line.split(": ", 1)[1].replace("builtins.", "") for line in out.splitlines()
            if line.startswith(str(user))]
    said = [line for line in said if not re.fullmatch(r'note: "[^"]+" defined in "[^"]+"', line)]
    assert said == [
        'note: Revealed type is "int"',
        'note: Revealed type is "dict[str, str]"',
        'note: Revealed type is "dict[str, Any]"',
        'note: Revealed type is "float | None"',
        'note: Revealed type is "str"',
        'error: "int" has no attribute "upper"  [attr-defined]',
        'error: Argument "out" to "Job" has incompatible type "int"; expected "str"  [arg-type]',
        'error: Missing named argument "nprocs" for "Cell"  [call-arg]',
        'error: Property "nprocs" defined in "Cell" is read-only  [misc]',
    ], out
