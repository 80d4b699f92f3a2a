"""Built-in launch strategies: how the processes of one training job start.

The launchers themselves live here, beside their registration, and are built on the
public launcher contract alone (``zoo.Launcher``, ``zoo.worker_command``,
``zoo.WORKER_SCRIPT``, ``zoo.python_module``): what a third-party launcher has.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import zoo


class SingleLauncher(zoo.Launcher):
    max_nprocs = 1

    def command(self, job_file, nprocs, device, log_dir):
        return zoo.worker_command(job_file)


class SpawnLauncher(zoo.Launcher):
    def command(self, job_file, nprocs, device, log_dir):
        return zoo.worker_command(job_file, nprocs=nprocs)


@dataclass
class DistributedLaunchLauncher(zoo.Launcher):
    master_port: int = 0
    nnodes: int = 1  # machines that train the one job, nprocs processes on each
    master: str = ""  # HOST:PORT of node 0, where the ranks meet (nnodes > 1)
    node_rank: int = 0  # this machine's place among the nnodes

    def problem(self, nprocs, device):
        if self.nnodes < 1 or not 0 <= self.node_rank < self.nnodes:
            return f"launcher.node_rank must be in [0, {self.nnodes}) and nnodes at least 1"
        if self.master and not re.fullmatch(r"[^\s:]+:\d{1,5}", self.master) \
                or self.master and not 0 < int(self.master.rpartition(":")[2]) <= 65535:
            return f"launcher.master must be HOST:PORT with a port in 1-65535, got {self.master!r}"
        if not 0 <= self.master_port <= 65535:
            return f"launcher.master_port must be a port in 1-65535 (0: Paddle's default), got {self.master_port}"
        return super().problem(nprocs, device)

    def command(self, job_file, nprocs, device, log_dir):
        cmd = zoo.python_module("paddle.distributed.launch", "--nproc_per_node", str(nprocs),
                                "--log_dir", str(log_dir))
        if self.nnodes > 1:
            cmd += ["--nnodes", str(self.nnodes), "--master", self.master, "--rank", str(self.node_rank)]
            if not device.startswith("gpu"):
                # Across machines on CPU Paddle leaves the process group uninitialised
                # unless told to use gloo.
                cmd = ["env", "PADDLE_DISTRI_BACKEND=gloo", *cmd]
        if device.startswith("gpu"):
            first = int(device.partition(":")[2] or 0)
            cmd += ["--devices", ",".join(str(first + i) for i in range(nprocs))]
        if self.master_port:
            cmd += ["--start_port", str(self.master_port)]
        # launch runs `python -u FILE ARGS`, so it gets the script, not a command.
        return cmd + [zoo.WORKER_SCRIPT, str(job_file)]


def build_single():
    return SingleLauncher()


def build_launch(*, master_port: int = 0, nnodes: int = 1, master: str = "", node_rank: int = 0):
    return DistributedLaunchLauncher(master_port=master_port, nnodes=nnodes, master=master,
                                     node_rank=node_rank)


def build_spawn():
    return SpawnLauncher()


@zoo.hookimpl
def zoo_register_launchers(register):
    register("single", build_single, description="One process on one device")
    register("launch", build_launch,
             description="python -m paddle.distributed.launch --nproc_per_node N (worker logs per "
                         "rank); nnodes, master, node_rank train one cell across machines")
    register("spawn", build_spawn, description="paddle.distributed.spawn(train, nprocs=N)")
