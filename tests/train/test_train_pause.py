"""A run paused at an epoch boundary for a sweep's pruner (Job.pause_epochs) resumes bit
for bit: the same final arrays and history as a run that never stopped, and only the
steps it had left."""

from __future__ import annotations

from dataclasses import replace

import pytest

from zoo import checkpoint as ckpt
from zoo.plugin import load_catalog
from zoo.train import train

pytestmark = pytest.mark.integration  # starts processes or trains with Paddle


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


@pytest.mark.parametrize("model", ["cnn", "mlp"])
def test_a_run_paused_after_an_epoch_resumes_bitwise_equal(catalog, tmp_path, model, make_job, step_counter,
                                                           steps_per_epoch, resume_epochs, history,
                                                           assert_bitwise):
    reference = train(make_job(tmp_path / "reference", model=model, checkpoint_every=0), catalog=catalog)
    assert reference.status == "ok", reference.reason

    job = replace(make_job(tmp_path / "paused", model=model, checkpoint_every=0), pause_epochs=(1,))
    first = step_counter()
    paused = train(job, first, catalog=catalog)
    assert paused.status == "paused" and paused.reason == "paused after epoch 1 for the pruner"
    assert first.steps == steps_per_epoch and len(paused.epochs) == 1 and paused.test is None
    assert ckpt.list_checkpoints(tmp_path / "paused")[-1].name == ckpt.checkpoint_name(steps_per_epoch)

    second = step_counter()
    resumed = train(job, second, catalog=catalog)  # the same job: epoch 1 is behind it now
    assert resumed.status == "ok", resumed.reason
    assert resumed.resumed_from == steps_per_epoch
    assert second.steps == (resume_epochs - 1) * steps_per_epoch
    assert history(resumed) == history(reference)
    assert resumed.test == reference.test
    assert_bitwise(tmp_path / "paused", tmp_path / "reference")


def test_the_last_epoch_never_pauses(catalog, tmp_path, make_job, resume_epochs):
    job = replace(make_job(tmp_path / "run", model="mlp", checkpoint_every=0), pause_epochs=(resume_epochs,))
    result = train(job, catalog=catalog)
    assert result.status == "ok" and result.test is not None


def test_a_stop_in_an_epoch_the_pruner_decides_after_still_pauses_there(catalog, tmp_path, make_job, stop_at,
                                                                       steps_per_epoch):
    # Interrupted at that checkpoint instead, the rerun would resume past the decision unasked.
    from zoo.train.report import StopFlag

    job = replace(make_job(tmp_path / "run", model="mlp", checkpoint_every=0), pause_epochs=(1,))
    stop = StopFlag()
    result = train(job, stop_at(stop, steps_per_epoch), catalog=catalog, stop=stop)
    assert stop.requested
    assert result.status == "paused" and len(result.epochs) == 1
