"""Built-in launch strategies: how the processes of one training job start."""

from __future__ import annotations

import zoo


def build_single():
    from zoo.exec.launch import SingleLauncher

    return SingleLauncher()


def build_launch(*, master_port: int = 0, nnodes: int = 1, master: str = "", node_rank: int = 0):
    from zoo.exec.launch import DistributedLaunchLauncher

    return DistributedLaunchLauncher(master_port=master_port, nnodes=nnodes, master=master,
                                     node_rank=node_rank)


def build_spawn():
    from zoo.exec.launch import SpawnLauncher

    return SpawnLauncher()


@zoo.hookimpl
def zoo_register_launchers(register):
    register("single", build_single, description="One process on one device")
    register("launch", build_launch,
             description="python -m paddle.distributed.launch --nproc_per_node N (worker logs per "
                         "rank); nnodes, master, node_rank train one cell across machines")
    register("spawn", build_spawn, description="paddle.distributed.spawn(train, nprocs=N)")
