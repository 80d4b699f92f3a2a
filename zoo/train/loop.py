"""One training run of one Job: build, (resume,) train, validate, checkpoint, test.

The same function runs in ``zoo train`` and in every worker of every launcher.  Rank 0
writes checkpoints, metrics and VisualDL logs; the other ranks only train.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import asdict
from typing import Callable

from zoo import checkpoint as ckpt
from zoo.atomic import write_json_atomic
from zoo.errors import CheckpointError
from zoo.job import Job
from zoo.layout import RunDir
from zoo.paths import lock_dir
from zoo.status import Status
from zoo.train import state as train_state
from zoo.train.evaluate import evaluate
from zoo.train.logs import ScalarLog
from zoo.train.memory import peak_rss_mb
from zoo.train.ranks import agree_on_start, any_rank, mean_over_ranks, write_replica_digest
from zoo.train.report import NullReporter, Reporter, StopFlag
from zoo.train.run import Run, RunResult, build


def _resume(run: Run) -> int:
    """Load the newest good checkpoint, if any; returns the global step to continue from."""
    from zoo.identity import differences

    found = ckpt.latest_checkpoint(run.out)
    if found is None:
        return 0
    path, arrays, state = found
    if state.get("identity") != run.identity:
        changed = differences(state.get("identity"), run.identity)
        raise CheckpointError(f"{run.out} holds a run with other settings, data or code: "
                              f"{'; '.join(changed[:6])}{' ...' if len(changed) > 6 else ''}; "
                              f"choose a new --out (its checkpoint: {path.name})")
    train_state.restore(run.model, run.optimizer, run.scheduler, arrays, state)
    saved = state["result"]
    run.result = RunResult(**{**saved, "status": Status.RUNNING, "reason": ""})
    run.result.resumed_from = state["global_step"]
    run.sums = dict(state["epoch_sums"])
    run.reporter.message(f"resumed from {path} (step {state['global_step']})")
    return int(state["global_step"])


def _save(run: Run, global_step: int) -> bool:
    """Checkpoint (keepers only); False when the state holds NaN/Inf and must not be kept."""
    if not run.keeper:
        return True
    arrays, extra = train_state.capture(run.model, run.optimizer)
    if not ckpt.all_finite(arrays):
        return False
    run.result.global_step = global_step
    state = {**extra, "settings": run.job.settings(), "identity": run.identity,
             "global_step": global_step,
             "result": asdict(run.result), "epoch_sums": dict(run.sums)}
    ckpt.save_checkpoint(run.out, global_step, arrays, state, keep=run.job.keep)
    return True


def _write_metrics(run: Run) -> None:
    if run.keeper:
        run.result.peak_rss_mb = max(run.result.peak_rss_mb or 0.0, peak_rss_mb())
        write_json_atomic(RunDir(run.out).metrics_file, run.result.to_dict(run.job))


def _stop(run: Run, status: Status, reason: str) -> RunResult:
    run.result.status, run.result.reason = status, reason
    _write_metrics(run)
    return run.result


def _end_epoch(run: Run, epoch: int, global_step: int, log: ScalarLog) -> None:
    sums, result = run.sums, run.result
    # Replicas are identical, so only the leader evaluates: on a shared machine the other
    # ranks repeating it would only slow it down (they wait at the next collective).
    # An empty validation split (val_fraction=0) means no validation at all.
    validate = run.leader and len(run.data.val) > 0
    val = (evaluate(run.model, run.data.val, run.num_classes, transform=run.transform)
           if validate else None)
    images = sums["seen"] * run.world_size
    record = {"epoch": epoch + 1, "step": global_step,
              "train_loss": sums["loss"] / max(1, sums["seen"]),
              "train_acc": sums["correct"] / max(1, sums["seen"]),
              "val_loss": val.loss if val else None, "val_acc": val.accuracy if val else None,
              "lr": float(run.optimizer.get_lr()),
              "images_per_s": images / sums["time"] if sums["time"] else None,
              "seconds": sums["time"]}
    result.epochs.append(record)
    result.images_per_s = record["images_per_s"]
    for key in ("train_loss", "train_acc", "val_loss", "val_acc", "lr"):
        if record[key] is not None:
            log.add(f"epoch/{key}", epoch + 1, record[key])
    run.sums = {"loss": 0.0, "correct": 0.0, "seen": 0, "time": 0.0}
    run.reporter.epoch_end(record)


def _note_target(run: Run) -> None:
    """Active seconds so far at the end of each epoch; the first that reached --target-acc
    sets the time to target (its own validation included: only then was it known)."""
    result, job = run.result, run.job
    record = result.epochs[-1]
    record["elapsed"] = result.elapsed
    if (job.target_acc is not None and result.time_to_target is None
            and record["val_acc"] is not None and record["val_acc"] >= job.target_acc):
        result.time_to_target = result.elapsed


def _loop(run: Run, log: ScalarLog, stop: StopFlag, start_step: int) -> RunResult:
    import paddle
    import paddle.nn.functional as F

    job, result = run.job, run.result
    net = paddle.DataParallel(run.model) if run.world_size > 1 else run.model
    net.train()
    steps_per_epoch = run.sampler.steps_per_epoch
    global_step = start_step
    clock = time.perf_counter()
    for epoch in range(start_step // steps_per_epoch, job.epochs):
        first = global_step - epoch * steps_per_epoch
        run.reporter.epoch_start(epoch + 1, job.epochs, first, steps_per_epoch)
        for images, labels in run.sampler.epoch(epoch, start_step=first):
            began = time.perf_counter()
            # Reseeding from the step makes any randomness (dropout) a function of the
            # step alone, so a resumed run draws exactly what an uninterrupted one did.
            # paddle.seed takes [0, 2**64): the modulo leaves every value that worked
            # before unchanged (bit-exact resume of existing runs) and ends the overflow.
            paddle.seed((job.seed * 1_000_003 + global_step) % 2**64)
            label = paddle.to_tensor(labels)
            logits = net(paddle.to_tensor(images))
            loss = F.cross_entropy(logits, label)
            acc = paddle.metric.accuracy(logits, label)
            loss_value, acc_value, agreed_stop = mean_over_ranks(run, loss, acc, stop)
            if not math.isfinite(loss_value):
                return _stop(run, Status.DIVERGED, f"loss is {loss_value} at step {global_step + 1} "
                                              f"(epoch {epoch + 1})")
            loss.backward()
            run.optimizer.step()
            run.optimizer.clear_grad()
            lr = float(run.optimizer.get_lr())
            run.scheduler.step()
            global_step += 1
            spent = time.perf_counter() - began
            n = len(labels)
            run.sums["loss"] += loss_value * n
            run.sums["correct"] += acc_value * n
            run.sums["seen"] += n
            run.sums["time"] += spent
            result.train_time += spent
            log.add("train/loss", global_step, loss_value)
            log.add("train/acc", global_step, acc_value)
            log.add("train/lr", global_step, lr)
            run.reporter.step(global_step - epoch * steps_per_epoch, loss_value, acc_value)
            now = time.perf_counter()
            result.elapsed += now - clock
            clock = now
            end_of_epoch = global_step % steps_per_epoch == 0
            stopping = stop.requested if agreed_stop is None else agreed_stop
            if not end_of_epoch and (stopping or
                                     (job.checkpoint_every and global_step % job.checkpoint_every == 0)):
                if not _save(run, global_step):
                    return _stop(run, Status.DIVERGED, f"non-finite parameters at step {global_step}")
                if stopping:
                    return _stop(run, Status.INTERRUPTED, f"stopped by {stop.reason} at step {global_step}")
        _end_epoch(run, epoch, global_step, log)
        now = time.perf_counter()
        result.elapsed += now - clock
        clock = now
        _note_target(run)
        if not _save(run, global_step):
            return _stop(run, Status.DIVERGED, f"non-finite parameters at step {global_step}")
        _write_metrics(run)
        # A pause first: a signal in an epoch the pruner decides after would otherwise end it
        # interrupted at that checkpoint, and the rerun would go on past the decision unasked.
        if epoch + 1 in job.pause_epochs and epoch + 1 < job.epochs:
            return _stop(run, Status.PAUSED, f"paused after epoch {epoch + 1} for the pruner")
        if any_rank(run, stop):
            return _stop(run, Status.INTERRUPTED, f"stopped by {stop.reason} at step {global_step}")
    result.global_step = global_step
    write_replica_digest(run)
    if run.leader:
        began = time.perf_counter()
        test = evaluate(run.model, run.data.test, run.num_classes, transform=run.transform)
        result.test = {"loss": test.loss, "acc": test.accuracy}
        result.elapsed += time.perf_counter() - began
    # Rewrite the final checkpoint with the test result in it, so that running a finished
    # run again returns at once instead of re-evaluating (see ``train``).
    _save(run, global_step)
    return _stop(run, Status.OK, "")


def _startup_seconds(run: Run) -> float:
    """This session's start-up, from the launch time a runner left in the run folder.

    A plain ``zoo train`` has no runner: its start-up is not counted (0).
    """
    launched = RunDir(run.out).launched_at()
    return max(0.0, time.time() - launched) if launched is not None and run.keeper else 0.0


def train(job: Job, reporter: Reporter | None = None, catalog=None, rank: int = 0,
          world_size: int = 1, stop: StopFlag | None = None,
          ready: Callable[[], None] | None = None) -> RunResult:
    """Run (or resume) ``job``; returns its result, also written to ``out/metrics.json``.

    ``ready`` is called once the run is built, its folder locked and its checkpoint
    accepted, before anything else is written there.
    """
    import paddle

    from zoo.device import use_device

    if catalog is None:
        from zoo.plugin import load_catalog

        catalog = load_catalog(job.registry_file)
    reporter = reporter or NullReporter()
    stop = stop or StopFlag()
    device = use_device(job.device)
    # The job's thread count, not whatever this process inherited (a forked cell's OpenMP
    # pool was sized when its server imported paddle): other counts give other bits.
    paddle.base.core.set_num_threads(job.threads)
    run = Run(job, catalog, reporter, rank, world_size)
    # A private name scope makes Paddle's generated names (and so the optimizer's
    # accumulator names) independent of whatever else this process built before.
    with paddle.utils.unique_name.guard(), contextlib.ExitStack() as held:
        build(run)
        # Only now: a job that cannot be built (bad data dir...) leaves no run dir behind.
        if run.keeper:
            held.enter_context(lock_dir(run.out, "zoo train (or a sweep cell)"))
        start_step = agree_on_start(run, _resume(run))
        # The worker only reads job.json; one refused by _resume never reaches this, so
        # the job.json of the run it met stays (``zoo train`` writes its own here).
        if run.keeper and ready is not None:
            ready()
        run.result.device = device
        run.result.num_params = sum(int(p.size) for p in run.model.parameters())
        if start_step >= run.result.total_steps and run.result.test is not None:
            return _stop(run, Status.OK, "")
        run.result.startup += _startup_seconds(run)
        reporter.start({"job": job, "steps_per_epoch": run.sampler.steps_per_epoch,
                        "train": len(run.data.train), "val": len(run.data.val),
                        "test": len(run.data.test), "device": device, "start_step": start_step})
        log = ScalarLog(RunDir(run.out).vdl if run.leader else None)
        try:
            return _loop(run, log, stop, start_step)
        finally:
            log.close()
            reporter.close()


__all__ = ["RunResult", "train"]
