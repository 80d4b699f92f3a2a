"""The ``ray`` executor: every cell is a Ray task that asks for the CPUs it will use.

A task requests ``num_cpus = nprocs x threads`` (and a GPU per process for gpu cells),
so Ray places it on a node with room; a cell of ``nnodes`` N is N tasks, one per node
(a STRICT_SPREAD placement group), all pointing at the master its rank-0 task names.
No file system is shared or assumed: the driver ships the job, the registry, the data's
files (once per node, through the object store) and the cell's newest checkpoint; the
task ships metrics, checkpoints and logs back (``zoo.exec.ray_task``), and the driver
merges them into ``DIR/cells/<cell>/`` before the runner records the row.

A node that dies takes its cells with it: such a cell is recorded ``failed`` with the
reason "node lost"; Ray never retries it behind the runner's back (max_retries=0), so it
is never counted twice, and a rerun resumes it from the last checkpoint that came home.
"""

from __future__ import annotations

import importlib.util
import os
import time
import uuid
from pathlib import Path

from zoo.errors import ConfigError, one_line
from zoo.exec.executor import CellEnd, CellTask, Executor, usable_cpus

INSTALL = "--executor ray needs Ray: pip install 'zoo[ray]'"
# What a cell's processes inherit from the driver on every node (plugins on PYTHONPATH,
# zoo's own settings, Paddle's flags); paths are the driver's, so install plugins as
# packages on a real cluster.
PASSED_ON = ("PYTHONPATH",)
PASSED_PREFIXES = ("ZOO_", "FLAGS_", "GLOG_")


def _passed_on() -> dict[str, str]:
    from zoo.exec.process import child_env  # absolute paths, no empty PYTHONPATH entry
    from zoo.exec.ray_local import TOKEN_VAR  # marks a zoo-started Ray's own processes only

    return {k: v for k, v in child_env().items()
            if (k in PASSED_ON or k.startswith(PASSED_PREFIXES)) and k != TOKEN_VAR}


class RayExecutor(Executor):
    """A Ray cluster at ``address`` (empty: a Ray of its own on 127.0.0.1): one Ray task per
    cell, a placement group per multi-node cell, the cell's files shipped home."""

    name = "ray"
    here = False  # its nodes' devices count, not the driver's

    def __init__(self, address: str = "", threads: int = 0, dashboard: bool = False,
                 connect_timeout: float = 30.0) -> None:
        self.address, self.threads = address, threads or 1
        self.dashboard, self.connect_timeout = dashboard, connect_timeout
        self.running: list[_RayRunning] = []
        self.local = None  # the Ray zoo started on this machine (zoo.exec.ray_local), if any
        self.snapshot: dict[str, dict] = {}
        self.snapshot_at = 0.0

    def check(self) -> None:
        if importlib.util.find_spec("ray") is None:
            raise ConfigError(INSTALL)
        from zoo.exec import ray_local

        ray_local.reap()  # what a killed zoo left running: before anything else starts
        if not 0 < self.connect_timeout < float("inf"):
            raise ConfigError(f"executor.connect_timeout={self.connect_timeout}: must be > 0 seconds "
                              "and finite")
        if self.address:
            from zoo.exec.ray_address import checked_address

            self.address = checked_address(self.address, self.connect_timeout)
        elif self.dashboard and importlib.util.find_spec("aiohttp") is None:
            raise ConfigError("executor.dashboard=true needs Ray's dashboard: pip install 'ray[default]'")

    def open(self, out: Path, planned: list[tuple] = (), warm: bool = True) -> None:
        import ray

        from zoo.exec import ray_local, ray_task

        options = dict(runtime_env={"env_vars": _passed_on()}, logging_level="ERROR",
                       log_to_driver=False, configure_logging=False)
        if self.address:  # checked: a Ray cluster answered there moments ago
            try:
                with ray_local.away_from_cwd():
                    ray.init(address=self.address, **options)
            except (Exception, SystemExit) as exc:  # noqa: BLE001 - gone since the check
                raise ConfigError(f"--ray-address {self.address}: joining the Ray cluster failed: "
                                  f"{one_line(exc, with_type=True)}") from None
        else:  # a Ray of our own on this machine, stopped again by close()
            self.local = ray_local.start(len(usable_cpus()), self.dashboard, options)
        self.sweep = uuid.uuid4().hex[:12]
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        # On the driver's node: a worker node that dies must not take the control with it.
        here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
        self.control = ray.remote(num_cpus=0)(ray_task.Control).options(
            scheduling_strategy=here).remote()
        self.task = ray.remote(max_retries=0)(ray_task.run_cell)
        self.blobs: dict[str, object] = {}  # data folder or registry -> object ref
        self.nodes = [n for n in ray.nodes() if n.get("Alive")]
        self.capacity = sum(n["Resources"].get("CPU", 0) for n in self.nodes)

    def demand(self, cell) -> dict[str, float]:
        gpu = cell.device.startswith("gpu")
        return {"CPU": float(cell.nprocs * self.threads), **({"GPU": float(cell.nprocs)} if gpu else {})}

    def problem(self, cell) -> str | None:
        need, nnodes = self.demand(cell), _nnodes(cell)
        fitting = [n for n in self.nodes
                   if all(n["Resources"].get(k, 0) >= v for k, v in need.items())]
        if len(fitting) < nnodes:
            wants = ", ".join(f"{v:g} {k}" for k, v in need.items())
            return (f"needs {nnodes} Ray node{'s' if nnodes > 1 else ''} with {wants} each; "
                    f"the cluster has {len(fitting)}")
        return None

    def room_for(self, cell) -> bool:
        # Queued tasks would only wait in Ray; keeping them here keeps their rows honest.
        busy = sum(r.cpus for r in self.running)
        return busy + self.demand(cell)["CPU"] * _nnodes(cell) <= self.capacity

    def shared_blob(self, key: str, make) -> object:
        import ray

        if key not in self.blobs:
            self.blobs[key] = ray.put(make())
        return self.blobs[key]

    def start(self, task: CellTask) -> _RayRunning:
        running = _RayRunning(self, task)
        self.running.append(running)
        return running

    def progress(self, slug: str) -> dict | None:
        import ray

        if time.monotonic() - self.snapshot_at > 0.5:
            try:
                self.snapshot = ray.get(self.control.snapshot.remote(), timeout=5)
            except Exception:  # noqa: BLE001 - progress is a nicety, never a failure
                pass
            self.snapshot_at = time.monotonic()
        return self.snapshot.get(slug)

    def close(self) -> None:
        import ray

        if not ray.is_initialized():
            return
        try:
            if self.running:  # only after an error: the cells checkpoint, then go
                for running in self.running:
                    running.stop()
                deadline = time.monotonic() + 10
                while self.running and time.monotonic() < deadline:
                    for running in list(self.running):
                        running.poll(0.1)
            for running in self.running:
                for ref in running.refs:
                    ray.cancel(ref, force=True)
        finally:
            ray.shutdown()
            if self.local is not None:
                from zoo.exec import ray_local

                ray_local.stop(self.local)


def _nnodes(cell) -> int:
    return int((cell.params.get("launchers") or {}).get("nnodes", 1))


class _RayRunning:
    def __init__(self, executor: RayExecutor, task: CellTask) -> None:
        import ray
        from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

        from zoo import __version__
        from zoo.checkpoint import latest_checkpoint
        from zoo.exec.artifacts import pack
        from zoo.identity import paddle_version

        self.executor, self.task = executor, task
        cell, job = task.cell, task.job
        self.nnodes = _nnodes(cell)
        need = executor.demand(cell)
        self.cpus = need["CPU"] * self.nnodes
        found = latest_checkpoint(task.cell_dir)
        newest = found[0].relative_to(task.cell_dir).as_posix() + "/" if found else None
        inputs = pack(task.cell_dir, include=lambda rel: bool(newest) and rel.startswith(newest))
        data = executor.shared_blob(f"data:{job.data_dir}", lambda: pack(Path(job.data_dir))) \
            if job.data_dir else None
        registry = Path(job.registry_file).read_text() if job.registry_file else \
            _registry_text()
        params = {k: v for k, v in (cell.params.get("launchers") or {}).items()
                  if k not in ("nnodes", "node_rank", "master")}
        spec = {"sweep": executor.sweep, "slug": cell.slug, "job": _job_fields(job),
                "launcher": cell.launch, "launcher_params": params, "nprocs": cell.nprocs,
                "device": "gpu" if cell.device.startswith("gpu") else cell.device,
                "timeout": task.timeout, "grace": task.grace, "nnodes": self.nnodes,
                "versions": [__version__, paddle_version()]}
        options = {"num_cpus": need["CPU"], "num_gpus": need.get("GPU", 0)}
        self.group = None
        if self.nnodes > 1:
            self.group = ray.util.placement_group([need] * self.nnodes, strategy="STRICT_SPREAD")
        self.refs = []
        for rank in range(self.nnodes):
            extra = {"scheduling_strategy": PlacementGroupSchedulingStrategy(
                self.group, placement_group_bundle_index=rank)} if self.group else {}
            self.refs.append(executor.task.options(**options, **extra).remote(
                {**spec, "node_rank": rank}, inputs, registry, data, executor.control))
        self.where = "ray"  # until a task says which node ran it
        self.results: dict[int, dict] = {}
        self.error = ""

    def poll(self, wait: float) -> CellEnd | None:
        import ray

        pending = [ref for rank, ref in enumerate(self.refs) if rank not in self.results]
        done, _ = ray.wait(pending, num_returns=len(pending), timeout=wait)
        for ref in done:
            rank = self.refs.index(ref)
            try:
                self.results[rank] = ray.get(ref)
            except ray.exceptions.RayTaskError as exc:  # our code on the node raised
                self.results[rank] = {}
                self.error = self.error or f"on its Ray node: {str(exc).strip().splitlines()[-1]}"
            except ray.exceptions.RayError as exc:  # the node or its worker died
                self.results[rank] = {}
                self.error = self.error or f"node lost ({type(exc).__name__}); rerun to resume " \
                                           "from its last checkpoint that came home"
            if self.error and len(self.results) < len(self.refs):
                self.stop()  # the other nodes of the cell cannot go on without this one
        if len(self.results) < len(self.refs):
            return None
        return self._end()

    def _end(self) -> CellEnd:
        from zoo.exec.artifacts import merge
        from zoo.exec.process import Outcome

        import ray

        self.executor.running.remove(self)
        if self.group is not None:
            ray.util.remove_placement_group(self.group)
        for rank, result in sorted(self.results.items()):
            if result.get("artifacts"):
                # rank 0 holds the cell's record; the others' logs are kept beside it
                merge(result["artifacts"], self.task.cell_dir if rank == 0
                      else self.task.cell_dir / "nodes" / f"node-{rank}")
        lead = self.results.get(0) or {}
        nodes = [self.results[r].get("node") for r in sorted(self.results) if self.results[r]]
        self.where = ", ".join(n for n in nodes if n) or "lost"
        if not lead:
            return CellEnd(Outcome(None, False, False, 0.0), self.where, "", False, lost=self.error)
        code, timed_out, stopped, seconds = lead["outcome"]
        return CellEnd(Outcome(code, timed_out, stopped, seconds), f"node {self.where}",
                       lead["host"], shared=self._shared(), lost=self.error)

    def _shared(self) -> bool:
        """Whether another cell could have run on the same node meanwhile."""
        need = self.executor.demand(self.task.cell)["CPU"]
        node = next((n for n in self.executor.nodes
                     if n.get("NodeID", "")[:8] in (self.results[0].get("node") or "")), None)
        return node is None or node["Resources"].get("CPU", 0) >= 2 * need

    def stop(self) -> None:
        self.executor.control.stop.remote(self.task.cell.slug)

    def progress(self) -> dict | None:
        return self.executor.progress(self.task.cell.slug)


def _job_fields(job) -> dict:
    return {k: v for k, v in job.to_dict().items() if k not in ("out", "data_dir", "registry_file")}


def _registry_text() -> str:
    from zoo.config import registry_path

    return Path(registry_path(None)).read_text()
