"""Entry point of every training process a launcher starts (``zoo/scripts/zoo_worker.py``).

``zoo_worker.py JOB.json``               one process (``single``; ``launch``: rank from its env)
``zoo_worker.py --spawn N JOB.json``     N processes via paddle.distributed.spawn

Whatever happens, rank 0 leaves ``metrics.json`` with a final status in the job's out
directory; the exit code is 0 only for status ``ok``.  ``zoo.exec.launch`` has the whole contract.
"""

from __future__ import annotations

import os
import signal
import sys
import traceback
from pathlib import Path

from zoo.exec.process import die_with_parent
from zoo.status import ExitCode, Status


def _record_failure(job, reason: str) -> None:
    from zoo.atomic import write_json_atomic
    from zoo.layout import RunDir
    from zoo.train.loop import RunResult

    result = RunResult(status=Status.FAILED, reason=reason)
    write_json_atomic(RunDir(job.out).metrics_file, result.to_dict(job))


def run_job(job_file: str, rank: int = 0, world_size: int = 1) -> int:
    """Train one job in this process; returns the exit code for its status."""
    from zoo.errors import ZooError, one_line
    from zoo.job import Job
    from zoo.layout import RunDir
    from zoo.train import train
    from zoo.train.progress import FileProgress
    from zoo.train.ranks import keeps_files
    from zoo.train.report import StopFlag, stop_on_signals

    # Importing paddle installs its own SIGINT/SIGTERM handlers (a fatal "Termination
    # signal" abort); import it first so that stop_on_signals below replaces them and a
    # stopped sweep gets a clean checkpoint and status "interrupted", not a core dump.
    import paddle  # noqa: F401

    job = Job.load(Path(job_file))
    if world_size > 1:
        import paddle.distributed as dist

        dist.init_parallel_env()
    try:
        with stop_on_signals(StopFlag()) as stop:
            reporter = FileProgress(RunDir(job.out).progress_file) if keeps_files(rank) else None
            result = train(job, reporter, rank=rank, world_size=world_size, stop=stop)
        return int(ExitCode.of_run(result.status))
    except ZooError as exc:
        if keeps_files(rank):
            _record_failure(job, str(exc))
        print(f"zoo: error: {exc}", file=sys.stderr)
        return ExitCode.FAILED
    except Exception as exc:  # the runner records it; the log keeps the traceback
        traceback.print_exc()
        if keeps_files(rank):
            _record_failure(job, one_line(exc, with_type=True))
        return ExitCode.FAILED


def _spawned(job_file: str) -> None:
    import paddle.distributed as dist

    die_with_parent()
    code = run_job(job_file, rank=dist.get_rank(), world_size=dist.get_world_size())
    if code:
        sys.exit(code)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    die_with_parent()
    if args[:1] == ["--spawn"]:
        import paddle
        import paddle.distributed as dist

        nprocs, job_file = int(args[1]), args[2]
        backend = "nccl" if paddle.is_compiled_with_cuda() and "gpu" in paddle.get_device() else "gloo"
        # Imported by name so the spawned children unpickle zoo.exec.worker._spawned, not __main__'s.
        from zoo.exec.worker import _spawned as target

        # The ranks share this process group, so a runner's SIGTERM/SIGINT reaches them
        # directly and they stop cleanly.  This process must not die of it first (paddle's
        # handler aborts, and PDEATHSIG would then SIGKILL the ranks mid-checkpoint): it
        # passes the signal on and waits for them.
        children = []

        def forward(signum, frame):
            for process in children:
                if process.is_alive():
                    os.kill(process.pid, signum)

        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, forward)
        context = dist.spawn(target, args=(job_file,), nprocs=nprocs, backend=backend, join=False)
        children.extend(context.processes)
        while not context.join():
            pass
        return 0
    rank = int(os.environ.get("PADDLE_TRAINER_ID", "0"))
    world_size = int(os.environ.get("PADDLE_TRAINERS_NUM", "1"))
    return run_job(args[0], rank=rank, world_size=world_size)


if __name__ == "__main__":
    sys.exit(main())
