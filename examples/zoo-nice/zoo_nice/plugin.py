"""The plugin module named by the ``zoo`` entry point: one launcher, public API only."""

from __future__ import annotations

import shutil

import zoo


class NiceLauncher(zoo.Launcher):
    """One worker process under ``nice -n LEVEL``."""

    max_nprocs = 1

    def __init__(self, level: int) -> None:
        self.level = level

    def problem(self, nprocs: int, device: str) -> str | None:
        if shutil.which("nice") is None:
            return "the 'nice' command is not on PATH"
        if not 0 <= self.level <= 19:
            return f"nice level must be 0..19, got {self.level}"
        return super().problem(nprocs, device)

    def command(self, job_file, nprocs, device, log_dir):
        return ["nice", "-n", str(self.level), *zoo.worker_command(job_file)]


def build_nice(*, level: int = 10):
    return NiceLauncher(level)


@zoo.hookimpl
def zoo_register_launchers(register):
    register("nice", build_nice, description="One worker process at nice LEVEL (lower CPU priority)")
