"""Resuming a run is exact: an interrupted and resumed run ends bit for bit where an
uninterrupted one does, for every built-in optimizer and schedule, after other models
were built in the same process, after a corrupt newest checkpoint, and through the CLI.

Interruptions are real: a Reporter requests a stop through the loop's StopFlag (as the
SIGINT handler does), the loop checkpoints and returns "interrupted"; train() is then
called again with the same Job.  Both runs have the same epochs, so the same schedule.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from zoo import checkpoint as ckpt
from zoo.checkpoint import CheckpointWarning
from zoo.data.sample import MNIST_SAMPLE_DIR
from zoo.job import Job
from zoo.plugin import load_catalog
from zoo.train import train
from zoo.train import state as train_state
from zoo.train.report import StopFlag

pytestmark = pytest.mark.integration  # starts processes or trains with Paddle


@pytest.fixture(scope="session")
def resume_run(step_counter, resume_epochs, steps_per_epoch):
    def resume(job: Job, catalog, resumed_from: int):
        """train() again; it must continue from ``resumed_from`` and run only the steps left."""
        counter = step_counter()
        result = train(job, counter, catalog=catalog)
        assert result.status == "ok", result.reason
        assert result.resumed_from == resumed_from
        assert counter.steps == resume_epochs * steps_per_epoch - resumed_from
        return result

    return resume


@pytest.fixture(scope="session")
def interrupt_run(stop_at):
    def interrupt(job: Job, catalog, at: int):
        stop = StopFlag()
        result = train(job, stop_at(stop, at), catalog=catalog, stop=stop)
        assert result.status == "interrupted", result.reason
        assert result.global_step == at and f"step {at}" in result.reason
        saved = ckpt.list_checkpoints(Path(job.out))
        assert saved[-1].name == ckpt.checkpoint_name(at)
        return result

    return interrupt


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


@pytest.fixture(scope="module")
def reference(catalog, tmp_path_factory, make_job, resume_epochs, steps_per_epoch):
    """Uninterrupted runs, one per combination, shared by the tests of this module."""
    done: dict = {}

    def get(**combo):
        key = repr(sorted(combo.items()))
        if key not in done:
            out = tmp_path_factory.mktemp("reference")
            result = train(make_job(out, **combo), catalog=catalog)
            assert result.status == "ok", result.reason
            assert result.global_step == resume_epochs * steps_per_epoch
            done[key] = (out, result)
        return done[key]

    return get


# Every optimizer (constant schedule) and every schedule (with adam), on the mlp (fast);
# adam also on the cnn, whose conv kernels must be deterministic too; l2 once.
COMBOS = (
    [{"model": "mlp", "optimizer": name} for name in ("sgd", "momentum", "adagrad", "adam", "adamw", "rmsprop")]
    + [{"model": "cnn", "optimizer": "adam"}]
    + [{"model": "mlp", "schedule": name} for name in ("polynomial", "cosine", "piecewise")]
    + [{"model": "mlp", "schedule": "warmup", "params": {"schedules": {"then": "cosine"}}}]
    + [{"model": "mlp", "optimizer": "momentum", "schedule": "cosine", "regularizer": "l2"}]
)


def _combo_id(combo: dict) -> str:
    return "-".join(str(v) if not isinstance(v, dict) else "then-cosine" for v in combo.values())


# Paddle's LinearWarmup.set_state_dict passes its nested state to the base class, which
# warns about the extra key; harmless.
@pytest.mark.filterwarnings("ignore:There are some unused values in state_dict")
@pytest.mark.parametrize("past_epoch", [0, 4], ids=["epoch-end", "mid-epoch"])  # steps past epoch 1
@pytest.mark.parametrize("combo", COMBOS, ids=_combo_id)
def test_resume_is_bitwise_equal(combo, past_epoch, catalog, reference, tmp_path, make_job, interrupt_run,
                                 steps_per_epoch, resume_run, assert_bitwise, history):
    at = steps_per_epoch + past_epoch
    ref_out, ref = reference(**combo)
    job = make_job(tmp_path, **combo)
    interrupt_run(job, catalog, at)
    if at % steps_per_epoch:  # the stop saved mid-epoch; the regular ones are every 3 steps
        steps = [int(p.name.split("-")[1]) for p in ckpt.list_checkpoints(tmp_path)]
        assert steps == [9, 12, 13]
    result = resume_run(job, catalog, at)
    assert_bitwise(tmp_path, ref_out)
    assert history(result) == history(ref)
    assert result.test == ref.test


def test_checkpoint_keys_are_structured_names(reference, final_arrays):
    out, _ = reference(model="cnn", optimizer="adam")
    keys = set(final_arrays(out))
    assert {"model/conv1.weight", "model/conv1.bias", "model/fc.weight",
            "optim/conv1.weight/moment1_0", "optim/conv1.weight/moment2_0",
            "optim/fc.bias/beta1_pow_acc_0"} <= keys
    # No Paddle-generated variable name ("conv2d_0.w_0", "linear_1.b_0") leaks in.
    assert not [k for k in keys if "_0.w_" in k or "_0.b_" in k or "conv2d_" in k or "linear_" in k]
    assert all(k.startswith(("model/", "optim/")) for k in keys)


def _other_work(catalog) -> None:
    """Build and step other models and optimizers outside any name guard, shifting
    Paddle's process-wide name counters ("conv2d_7.w_0", "..._moment1_3")."""
    import paddle

    for model, kwargs, optimizer in [("cnn", {"channels": 2}, "adam"), ("mlp", {"hidden1": 8, "hidden2": 4}, "rmsprop"),
                                     ("cnn", {"channels": 4}, "adam"), ("mlp", {"hidden1": 8, "hidden2": 4}, "momentum")]:
        net = catalog.build("models", model, kwargs, input_shape=(1, 28, 28), num_classes=10)
        opt = catalog.build("optimizers", optimizer, parameters=net.parameters(), learning_rate=0.01)
        loss = net(paddle.rand([2, 1, 28, 28])).mean()
        loss.backward()
        opt.step()
        opt.clear_grad()


def test_resume_after_other_models_in_same_process(catalog, reference, tmp_path, make_job, interrupt_run,
                                                   resume_run, assert_bitwise, history):
    ref_out, ref = reference(model="cnn", optimizer="adam")
    job = make_job(tmp_path)
    interrupt_run(job, catalog, 13)
    _other_work(catalog)
    result = resume_run(job, catalog, 13)
    assert_bitwise(tmp_path, ref_out)
    assert history(result) == history(ref)


def test_state_maps_onto_differently_named_variables(catalog):
    """capture/restore by structured name, without the loop's name guard: a model whose
    Paddle names differ continues exactly like the original (Adam moments included)."""
    import paddle

    def build(seed):
        paddle.seed(seed)
        net = catalog.build("models", "cnn", {"channels": 4}, input_shape=(1, 28, 28), num_classes=10)
        sched = catalog.build("schedules", "cosine", learning_rate=0.01, total_steps=10)
        return net, sched, catalog.build("optimizers", "adam", parameters=net.parameters(),
                                         learning_rate=sched)

    def step(net, opt, sched, x):
        net(x).square().mean().backward()
        opt.step()
        opt.clear_grad()
        sched.step()

    rng = np.random.default_rng(0)
    batches = [paddle.to_tensor(rng.standard_normal((4, 1, 28, 28)).astype("float32")) for _ in range(3)]
    net_a, sched_a, opt_a = build(1)
    for x in batches[:2]:
        step(net_a, opt_a, sched_a, x)
    arrays, extra = train_state.capture(net_a, opt_a)
    _other_work(catalog)
    net_b, sched_b, opt_b = build(2)  # other initial values, other Paddle names
    assert {p.name for p in net_a.parameters()}.isdisjoint(p.name for p in net_b.parameters())
    train_state.restore(net_b, opt_b, sched_b, arrays, extra)
    step(net_a, opt_a, sched_a, batches[2])
    step(net_b, opt_b, sched_b, batches[2])
    got, _ = train_state.capture(net_b, opt_b)
    want, _ = train_state.capture(net_a, opt_a)
    assert set(got) == set(want) and any(k.endswith("/moment2_0") for k in want)
    assert all(np.array_equal(got[k], want[k]) for k in want)


def test_corrupt_latest_checkpoint_falls_back_with_warning(catalog, reference, tmp_path, make_job,
                                                           interrupt_run, resume_run, assert_bitwise,
                                                           history):
    ref_out, ref = reference(model="cnn", optimizer="adam")
    job = make_job(tmp_path)
    interrupt_run(job, catalog, 13)
    newest = ckpt.list_checkpoints(tmp_path)[-1]
    assert newest.name == ckpt.checkpoint_name(13)
    data = bytearray((newest / "arrays.npz").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (newest / "arrays.npz").write_bytes(bytes(data))
    with pytest.warns(CheckpointWarning, match="step-000000013.*sha256 mismatch"):
        result = resume_run(job, catalog, 12)
    assert_bitwise(tmp_path, ref_out)
    assert history(result) == history(ref)


def test_all_checkpoints_corrupt_is_an_error_not_a_fresh_start(catalog, tmp_path, make_job, interrupt_run):
    from zoo.errors import CheckpointError

    job = make_job(tmp_path)
    interrupt_run(job, catalog, 4)
    for path in ckpt.list_checkpoints(tmp_path):
        (path / "state.json").write_text("{}")
    with pytest.raises(CheckpointError, match="no valid checkpoint"), warnings.catch_warnings():
        warnings.simplefilter("ignore", CheckpointWarning)
        train(job, catalog=catalog)


def test_resume_refuses_other_settings_and_keeps_job_json(catalog, tmp_path, make_job, interrupt_run):
    from zoo.errors import CheckpointError
    from zoo.layout import RunDir

    job, run = make_job(tmp_path), RunDir(tmp_path)
    run.write_job(job)  # as its starter (zoo train, a sweep's runner) did
    interrupt_run(job, catalog, 4)
    before = run.job_file.read_text()
    other = make_job(tmp_path, optimizer="sgd")
    with pytest.raises(CheckpointError, match="other settings"):
        # zoo train writes its job.json only for a run train() accepted to continue
        train(other, catalog=catalog, ready=lambda: run.write_job(other))
    assert run.job_file.read_text() == before


SLOW_PLUGIN = """
    import os
    import time

    import zoo


    def build_slowmlp(input_shape, num_classes, *, hidden1: int = 32, hidden2: int = 16):
        from zoo.plugins.nets import MLP

        class SlowMLP(MLP):
            # Same numbers as the mlp; only slower in training when the env var says so,
            # so a signal surely arrives mid-run.
            def forward(self, x):
                if self.training:
                    time.sleep(float(os.environ.get("SLOWMLP_DELAY", "0")))
                    if os.environ.get("SLOWMLP_STEPS"):  # one line per step trained
                        with open(os.environ["SLOWMLP_STEPS"], "a") as steps:
                            steps.write("step\\n")
                return super().forward(x)

        return SlowMLP(input_shape, num_classes, (hidden1, hidden2))


    @zoo.hookimpl
    def zoo_register_models(register):
        register("slowmlp", build_slowmlp, description="mlp, slow",
                 defaults={"hidden1": 32, "hidden2": 16})
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_cli_signal_then_resume_is_bitwise_equal(plugin_kit, tmp_path, sig, steps_per_epoch, history,
                                                 timing_keys):
    plugin_kit.add("slowmlp_plugin", SLOW_PLUGIN)
    out = tmp_path / "run"
    args = ["--model", "slowmlp", "--optimizer", "adam", "--schedule", "cosine",
            "--data-dir", str(MNIST_SAMPLE_DIR), "--epochs", "3", "--set", "dataset.progress=false"]
    env = {**plugin_kit.env(), "PYTHONUNBUFFERED": "1", "SLOWMLP_DELAY": "0.1",
           "SLOWMLP_STEPS": str(tmp_path / "first-session.steps")}
    proc = subprocess.Popen([sys.executable, "-m", "zoo", "train", *args, "--out", str(out), "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    lines = []
    try:
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("epoch 1/3"):
                time.sleep(0.35)  # a few 0.1 s steps into epoch 2: most likely mid-epoch
                proc.send_signal(sig)
                break
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, (lines, stdout, stderr)
    assert f"zoo: run interrupted: stopped by {sig.name} at step" in stderr
    assert "Traceback" not in stderr
    stopped_at = int(stderr.split(f"{sig.name} at step ")[1].split()[0])
    assert steps_per_epoch <= stopped_at < 3 * steps_per_epoch
    assert ckpt.list_checkpoints(out)[-1].name == ckpt.checkpoint_name(stopped_at)

    env["SLOWMLP_DELAY"] = "0"
    env["SLOWMLP_STEPS"] = str(tmp_path / "resumed-session.steps")
    resumed = subprocess.run([sys.executable, "-m", "zoo", "train", "--resume", str(out), "--quiet"],
                             capture_output=True, text=True, env=env, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resumed from {out / 'checkpoints' / ckpt.checkpoint_name(stopped_at)}" in resumed.stdout
    assert "epoch 3/3" in resumed.stdout and "test loss" in resumed.stdout
    ran = len((tmp_path / "resumed-session.steps").read_text().splitlines())
    assert ran == 3 * steps_per_epoch - stopped_at  # it continued; it did not start over

    ref_out = tmp_path / "ref"
    ref_job = Job(out=str(ref_out), entries={"models": "slowmlp", "optimizers": "adam", "schedules": "cosine"},
                  params={"datasets": {"progress": False}}, data_dir=str(MNIST_SAMPLE_DIR), epochs=3)
    ref = train(ref_job, catalog=load_catalog(plugin_kit.registry))
    assert ref.status == "ok"
    got = ckpt.load_checkpoint(ckpt.list_checkpoints(out)[-1])[0]
    want = ckpt.load_checkpoint(ckpt.list_checkpoints(ref_out)[-1])[0]
    assert set(got) == set(want) and len(want) > 10
    assert all(np.array_equal(got[k], want[k]) for k in want)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "ok" and metrics["resumed_from"] == stopped_at
    assert [{k: v for k, v in e.items() if k not in timing_keys} for e in metrics["epochs"]] == history(ref)
    assert metrics["test"] == ref.test
