"""Built-in launch strategies: how the processes of one training job start."""

from __future__ import annotations

import zoo


def build_single():
    from zoo.exec.launch import SingleLauncher

    return SingleLauncher()


def build_launch(*, master_port: int = 0):
    from zoo.exec.launch import DistributedLaunchLauncher

    return DistributedLaunchLauncher(master_port=master_port)


def build_spawn():
    from zoo.exec.launch import SpawnLauncher

    return SpawnLauncher()


@zoo.hookimpl
def zoo_register_launchers(register):
    register("single", build_single, description="One process on one device")
    register("launch", build_launch,
             description="python -m paddle.distributed.launch --nproc_per_node N (worker logs per rank)")
    register("spawn", build_spawn, description="paddle.distributed.spawn(train, nprocs=N)")
