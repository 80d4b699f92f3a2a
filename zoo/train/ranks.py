"""What data-parallel ranks must agree on: step metrics, when to stop, final parameters.

With one process every function here is (nearly) free, so the loop calls them always.
"""

from __future__ import annotations

import os

from zoo.atomic import write_json_atomic
from zoo.errors import TrainingError
from zoo.layout import RunDir


def keeps_files(rank: int) -> bool:
    """Rank 0, and the first rank on each machine of a multi-node ``launch`` job."""
    return rank == 0 or os.environ.get("PADDLE_LOCAL_RANK") == "0"


def agree_on_start(run, step: int) -> int:
    """Every rank must resume from the same step; a machine whose run folder lacks the
    checkpoint the others found fails the job at once instead of hanging it."""
    if run.world_size == 1:
        return step
    import paddle
    import paddle.distributed as dist

    both = paddle.to_tensor([float(step), -float(step)], dtype="float64")
    dist.all_reduce(both, op=dist.ReduceOp.MAX)
    highest, lowest = float(both.numpy()[0]), -float(both.numpy()[1])
    if highest != lowest:
        raise TrainingError(f"the ranks found checkpoints of different steps ({lowest:g} to "
                            f"{highest:g}): every machine's run folder needs the same checkpoints "
                            "to resume; start it afresh with --force")
    return step
from zoo.train.report import StopFlag


def mean_over_ranks(run, loss, acc, stop: StopFlag) -> tuple[float, float, bool | None]:
    """Every rank sees the same numbers, so all ranks stop together on a NaN or a signal.

    The third value is the ranks' agreed stop decision (None with one process, where the
    live flag is read instead): a signal that lands on one rank after this all-reduce
    waits for the next step, so no rank leaves while another waits for it.
    """
    if run.world_size == 1:
        return float(loss), float(acc), None
    import paddle
    import paddle.distributed as dist

    flag = paddle.to_tensor(float(stop.requested), dtype="float32").reshape([])
    values = paddle.stack([loss.detach().reshape([]), acc.astype("float32").reshape([]), flag])
    dist.all_reduce(values)
    values = (values / run.world_size).numpy()
    agreed = bool(values[2] > 0)
    if agreed:
        stop.request("a signal to another rank")
    return float(values[0]), float(values[1]), agreed


def any_rank(run, stop: StopFlag) -> bool:
    """Agree on stopping at an epoch end, where no step's all-reduce carries the flag."""
    if run.world_size > 1:
        import paddle
        import paddle.distributed as dist

        flag = paddle.to_tensor([float(stop.requested)], dtype="float32")
        dist.all_reduce(flag)
        if float(flag.numpy()[0]) > 0:
            stop.request("a signal to another rank")
    return stop.requested


def write_replica_digest(run) -> None:
    """Each rank's final parameters as one sha256, so replicas can be checked for equality."""
    if run.world_size == 1:
        return
    import hashlib

    digest = hashlib.sha256()
    for name, param in run.model.named_parameters():
        digest.update(name.encode())
        digest.update(param.numpy().tobytes())
    write_json_atomic(RunDir(run.out).replica_file(run.rank),
                      {"rank": run.rank, "world_size": run.world_size, "sha256": digest.hexdigest()})
