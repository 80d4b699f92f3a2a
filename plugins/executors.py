"""Built-in executors: where the cells of a sweep run (``zoo bench --executor NAME``)."""

from __future__ import annotations

import zoo


def build_local(*, jobs: int = 1, threads: int = 0):
    return zoo.LocalExecutor(jobs=jobs, threads=threads)


def build_ray(*, address: str = "", threads: int = 0, dashboard: bool = False,
              connect_timeout: float = 30.0):
    return zoo.RayExecutor(address=address, threads=threads, dashboard=dashboard,
                           connect_timeout=connect_timeout)


@zoo.hookimpl
def zoo_register_executors(register):
    register("local", build_local,
             description="This machine: up to --jobs cells at once, each on CPUs of its own")
    register("ray", build_ray,
             description="A Ray cluster: one Ray task per cell (needs zoo[ray]; --ray-address; "
                         "a local Ray on 127.0.0.1 without one)")
