"""The ray executor on a real local Ray cluster of two nodes (one CPU each) on this
machine: cells land on both nodes, their rows and artifacts come home to the driver,
asha pauses a cell at its rung, prunes one and lets one go on from the checkpoint that
came home,
a node removed mid-cell gives ``failed`` (node lost) and a rerun completes the cell,
Ctrl-C stops the cluster's cells with checkpoints, a cell no node can hold is skipped,
a node with another zoo refuses its cell, and nothing outlives the tests.  Without Ray
installed (or importable), only the last test runs: the one-line error saying so."""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest

import zoo as zoo_package
from zoo import checkpoint as ckpt

pytestmark = pytest.mark.integration  # starts processes or trains with Paddle

NODE = {"num_cpus": 1, "object_store_memory": 80 * 2**20}


@pytest.fixture(scope="session")
def slow_grid(tiny_mlp):
    return ("--models", "slow", "--optimizers", "sgd,adam", "--epochs", "2", "--checkpoint-every", "2", *tiny_mlp)


@pytest.fixture(scope="module")
def cluster(assert_no_processes):
    pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'zoo[ray]')")
    from ray.cluster_utils import Cluster

    # A short folder of its own: Ray's socket paths must stay short, and every process of
    # this cluster names it, which is how the end of the module finds leftovers.  Ray's
    # test Cluster also writes its address into Ray's default folder ($RAY_TMPDIR/ray,
    # else /tmp/ray) whatever temp_dir it is given, and fails where that folder does not
    # exist (a machine where Ray never ran): that folder is made here too.
    temp = tempfile.mkdtemp(prefix="zr", dir="/tmp")
    Path(temp, "ray").mkdir()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RAY_TMPDIR", temp)
        made = Cluster(initialize_head=True, connect=False,
                       head_node_args={**NODE, "include_dashboard": False, "temp_dir": temp})
        try:
            made.add_node(**NODE)
            made.wait_for_nodes()
            yield made
        finally:
            made.shutdown()
    assert_no_processes(temp, within=30)
    shutil.rmtree(temp, ignore_errors=True)


def _workers(cluster):
    return [n for n in cluster.list_all_nodes() if n is not cluster.head_node]


@pytest.fixture(scope="session")
def ray_bench(bench):
    def _ray(cluster, out, *args, env):
        return bench(out, *args, "--executor", "ray", "--ray-address", cluster.address, env=env,
                     timeout=600)

    return _ray


def final_arrays(run):
    return ckpt.load_checkpoint(ckpt.list_checkpoints(run)[-1])[0]


def test_cells_land_on_both_nodes_and_come_home_with_the_local_bits(cluster, tmp_path, tiny_mlp, marked,
                                                                    db_rows, bench, cell_dir, metrics,
                                                                    assert_no_processes, mark_variable,
                                                                    ray_bench):
    out, here = tmp_path / "ray", tmp_path / "local"
    args = ("--models", "mlp", "--optimizers", "sgd,adam", *tiny_mlp)
    env = marked()
    proc = ray_bench(cluster, out, *args, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = db_rows(out)
    assert [r["status"] for r in rows] == ["ok", "ok"] and {r["executor"] for r in rows} == {"ray"}
    nodes = {n.node_id[:8] for n in cluster.list_all_nodes()}
    assert {r["node"].split("(")[1].rstrip(")") for r in rows} == nodes  # one cell per node
    assert all(r["shared"] == 0 for r in rows)  # each node had room for one cell only
    assert bench(here, *args).returncode == 0
    for optimizer in ("sgd", "adam"):
        home = cell_dir(out, f"mlp-{optimizer}")
        for name in ("metrics.json", "worker.log", "launch.json", "progress.json"):
            assert (home / name).is_file(), name
        assert list((home / "vdl").iterdir())
        run = metrics(home)
        assert run["status"] == "ok" and Path(run["job"]["out"]) != home  # ran elsewhere
        got, want = final_arrays(home), final_arrays(cell_dir(here, f"mlp-{optimizer}"))
        assert all(np.array_equal(got[k], want[k]) for k in want)
        assert run["test"] == metrics(cell_dir(here, f"mlp-{optimizer}"))["test"]
    assert_no_processes(f"{mark_variable}={env[mark_variable]}", within=30)


def test_asha_pauses_prunes_and_resumes_cells_on_the_cluster(cluster, tmp_path, pruning_env, pruning_grid, tiny_mlp,
                                                             marked,
                                                             ray_bench, db_rows, one, metrics, cell_dir, steps_run,
                                                             pruning_steps, assert_store_and_study_agree,
                                                             assert_no_processes, mark_variable):
    # The cells run one sweep after the other: two at once on two nodes would race to the
    # rung, and asha lets the first one there go on whatever its accuracy.
    out, env = tmp_path / "b", marked(pruning_env)
    first = ray_bench(cluster, out, "--models", "slow", "--optimizers", "adam", "--epochs", "3",
                      *tiny_mlp, "--prune", "asha", env=env)
    assert first.returncode == 0, first.stderr[-3000:]
    proc = ray_bench(cluster, out, *pruning_grid, "--prune", "asha", env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = db_rows(out)
    good, bad = one(rows, optimizer="adam"), one(rows, optimizer="stuck")
    assert {r["executor"] for r in rows} == {"ray"}
    assert good["status"] == "ok" and int(good["epochs_done"]) == 3 and good["test_acc"] is not None
    assert bad["status"] == "pruned" and bad["reason"] == "stopped at epoch 1 of 3 by asha"
    # adam paused at its rung on a node and resumed from the checkpoint that came home.
    assert metrics(cell_dir(out, "slow-adam"))["resumed_from"] == pruning_steps
    assert steps_run(env) == 3 * pruning_steps + pruning_steps
    assert_store_and_study_agree(out)
    # (--retry pruned resumes a cell from its checkpoint like adam's resume above; the
    # local executor's tests cover it, and a third sweep here would cost ~10 s.)
    assert_no_processes(f"{mark_variable}={env[mark_variable]}", within=30)


def test_sha_decides_cells_that_reach_the_rung_at_once_on_two_nodes(cluster, tmp_path, pruning_env, tiny_mlp,
                                                                     marked, ray_bench, db_rows, one, metrics,
                                                                     cell_dir, steps_run, pruning_steps,
                                                                     assert_store_and_halving_agree,
                                                                     assert_no_processes, mark_variable):
    # One sweep, both cells at once, the one at chance listed first: sha holds each at the
    # rung until both are there, so no race decides (asha needs the two sweeps above).
    out, env = tmp_path / "b", marked(pruning_env)
    proc = ray_bench(cluster, out, "--models", "slow", "--optimizers", "stuck,adam", "--epochs", "3", *tiny_mlp,
                     "--prune", "sha", env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = db_rows(out)
    good, bad = one(rows, optimizer="adam"), one(rows, optimizer="stuck")
    assert {r["executor"] for r in rows} == {"ray"}
    assert good["node"] != bad["node"], [r["node"] for r in rows]  # the two nodes, at once
    assert good["status"] == "ok" and int(good["epochs_done"]) == 3
    assert bad["status"] == "pruned" and bad["reason"] == "stopped at epoch 1 of 3 by sha"
    assert metrics(cell_dir(out, "slow-adam"))["resumed_from"] == pruning_steps
    assert steps_run(env) == 3 * pruning_steps + pruning_steps
    assert_store_and_halving_agree(out)
    assert_no_processes(f"{mark_variable}={env[mark_variable]}", within=30)


@pytest.fixture(scope="session")
def start_sweep(bench_cmd, repo_root, slow_grid):
    def _start(cluster, out, env):
        return subprocess.Popen(bench_cmd(out, *slow_grid, "--executor", "ray", "--ray-address", cluster.address),
                                env=env, cwd=repo_root, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, start_new_session=True)

    return _start


def _both_checkpointed(sweep_folders: Path):
    def check():
        found = list(sweep_folders.glob("*/*/checkpoints/step-*"))
        return len({p.parent.parent for p in found}) >= 2
    return check


def test_a_node_lost_mid_cell_is_failed_and_a_rerun_completes_it(cluster, tmp_path, monkeypatch, faulty_kit,
                                                                 marked, wait_for, kill_tree, db_rows, zoo,
                                                                 metrics, assert_no_processes, mark_variable,
                                                                 ray_bench, start_sweep, slow_grid):
    kit = faulty_kit(tmp_path, monkeypatch)
    out, env = tmp_path / "b", marked({**kit.env(), "ZOO_TEST_DELAY": "0.5", "ZOO_RAY_DIR": str(tmp_path / "zoo-ray")})
    runner = start_sweep(cluster, out, env)
    try:
        wait_for(_both_checkpointed(tmp_path / "zoo-ray"), 240, "both cells running", runner)
        (worker,) = _workers(cluster)
        cluster.remove_node(worker)
        _, stderr = runner.communicate(timeout=300)
    finally:
        kill_tree(runner)
        cluster.add_node(**NODE)
        cluster.wait_for_nodes()
    assert runner.returncode == 1, stderr[-3000:]
    rows = {r["optimizer"]: r for r in db_rows(out)}
    statuses = sorted(r["status"] for r in rows.values())
    assert statuses == ["failed", "ok"], [(r["status"], r["reason"], r["node"]) for r in rows.values()]
    (lost,) = [r for r in rows.values() if r["status"] == "failed"]
    assert lost["reason"].startswith("node lost"), lost["reason"]
    assert "node lost" in zoo("results", str(out)).stdout
    rerun = ray_bench(cluster, out, *slow_grid, env=env)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "2 cells, 1 already finished, 1 to run" in rerun.stderr
    rows = db_rows(out)
    assert len(rows) == 2 and {r["status"] for r in rows} == {"ok"}
    assert metrics(Path(lost["cell_dir"]))["global_step"] == 18
    assert_no_processes(f"{mark_variable}={env[mark_variable]}", within=30)


def test_ctrl_c_stops_the_cluster_cells_with_checkpoints_and_a_rerun_resumes(cluster, tmp_path, monkeypatch,
                                                                             faulty_kit, marked, wait_for,
                                                                             kill_tree, db_rows, metrics,
                                                                             assert_no_processes,
                                                                             mark_variable, ray_bench,
                                                                             start_sweep, slow_grid):
    kit = faulty_kit(tmp_path, monkeypatch)
    out, env = tmp_path / "b", marked({**kit.env(), "ZOO_TEST_DELAY": "0.5", "ZOO_RAY_DIR": str(tmp_path / "zoo-ray")})
    runner = start_sweep(cluster, out, env)
    try:
        wait_for(_both_checkpointed(tmp_path / "zoo-ray"), 240, "both cells running", runner)
        runner.send_signal(signal.SIGINT)
        stdout, stderr = runner.communicate(timeout=120)
    finally:
        kill_tree(runner)
    assert runner.returncode == 130, stderr[-3000:]
    rows = db_rows(out)
    assert [r["status"] for r in rows] == ["interrupted", "interrupted"], [r["reason"] for r in rows]
    steps = {}
    for row in rows:
        home = Path(row["cell_dir"])
        stopped = metrics(home)  # came home from the node, with its checkpoint
        assert stopped["status"] == "interrupted" and "stopped by" in stopped["reason"]
        steps[row["cell"]] = stopped["global_step"]
        assert (home / "checkpoints" / f"step-{stopped['global_step']:09d}").is_dir()
    assert_no_processes(f"{mark_variable}={env[mark_variable]}", within=30)
    left = [p for p in (tmp_path / "zoo-ray").glob("*/*") if p.parent.name != "data"]
    assert not left, f"cell folders left on the nodes: {left}"
    rerun = ray_bench(cluster, out, *slow_grid, env=env)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    for row in db_rows(out):
        run = metrics(Path(row["cell_dir"]))
        assert row["status"] == "ok" and run["resumed_from"] == steps[row["cell"]]
        assert run["global_step"] == 18


def test_one_cell_trains_across_both_nodes(cluster, tmp_path, tiny_mlp, marked, db_rows, bench, ray_bench):
    out, spawned = tmp_path / "ray", tmp_path / "spawn"
    args = ("--models", "mlp", "--optimizers", "sgd", *tiny_mlp)
    proc = ray_bench(cluster, out, *args, "--launch", "launch", "--nprocs", "1",
                "--set", "launcher.nnodes=2", env=marked())
    assert proc.returncode == 0, proc.stderr[-3000:]
    (row,) = db_rows(out)
    assert row["status"] == "ok" and row["node"].count("(") == 2  # both nodes named
    home = Path(row["cell_dir"])
    digests = [(home / "replicas" / "rank-0.json").read_text(),
               (home / "nodes" / "node-1" / "replicas" / "rank-1.json").read_text()]
    assert bench(spawned, *args, "--launch", "spawn", "--nprocs", "2").returncode == 0
    (want,) = db_rows(spawned)
    assert row["test_acc"] == want["test_acc"]
    assert len({d.split('"sha256": ')[1] for d in digests}) == 1


def test_a_cell_no_node_can_hold_is_skipped_with_the_reason(cluster, tmp_path, tiny_mlp, marked, db_rows,
                                                            assert_no_processes, mark_variable, ray_bench):
    args = ("--models", "mlp", "--optimizers", "sgd", *tiny_mlp)
    out, env = tmp_path / "b", marked()
    # each node has 1 CPU: a cell of 3 threads fits none
    proc = ray_bench(cluster, out, *args, "--threads", "3", env=env)
    assert proc.returncode == 4, proc.stderr[-3000:]  # skipped is final; all skipped exits 4
    (row,) = db_rows(out)
    assert row["status"] == "skipped"
    assert row["reason"] == "needs 1 Ray node with 3 CPU each; the cluster has 0", row["reason"]
    # no node has a GPU, and a cell across 3 nodes finds 2
    proc = ray_bench(cluster, out, *args, "--devices", "cpu,gpu", "--launch", "launch", "--nprocs", "1",
                "--set", "launcher.nnodes=3", env=env)
    assert proc.returncode == 4, proc.stderr[-3000:]
    reasons = {r["device"]: r["reason"] for r in db_rows(out) if r["launch"] == "launch"}
    assert reasons == {"cpu": "needs 3 Ray nodes with 1 CPU each; the cluster has 2",
                       "gpu": "needs 3 Ray nodes with 1 CPU, 1 GPU each; the cluster has 0"}, reasons
    assert {r["status"] for r in db_rows(out)} == {"skipped"}
    assert not list((out / "cells").glob("*/metrics.json"))  # none of them ran anywhere
    assert_no_processes(f"{mark_variable}={env[mark_variable]}", within=30)


@pytest.fixture
def other_zoo_node(cluster, tmp_path, repo_root):
    """A third node, of 2 CPUs, whose Ray workers import another zoo: a full copy of this
    one whose version says otherwise, first on their PYTHONPATH (the node's environment)."""
    other = tmp_path / "other-zoo"
    shutil.copytree(repo_root / "zoo", other / "zoo", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(repo_root / "plugins", other / "zoo" / "plugins",
                    ignore=shutil.ignore_patterns("__pycache__"))
    init = other / "zoo" / "__init__.py"
    line = f'__version__ = "{zoo_package.__version__}"'
    assert line in init.read_text()
    init.write_text(init.read_text().replace(line, f'__version__ = "{zoo_package.__version__}.other"'))
    node = cluster.add_node(**{**NODE, "num_cpus": 2}, env_vars={"PYTHONPATH": str(other)})
    cluster.wait_for_nodes()
    yield node
    cluster.remove_node(node)


def test_a_node_with_another_zoo_version_refuses_the_cell(cluster, other_zoo_node, tmp_path, marked, tiny_mlp,
                                                          db_rows, assert_no_processes, mark_variable,
                                                          ray_bench):
    env = marked()
    env.pop("PYTHONPATH", None)  # it would be passed on to the node and hide its own
    out = tmp_path / "b"
    # 2 threads: only the other node can hold the cell.  Run from the checkout, whose zoo/
    # Ray would put first on its workers' sys.path if zoo joined from there.
    proc = ray_bench(cluster, out, "--models", "mlp", "--optimizers", "sgd", *tiny_mlp, "--threads", "2",
                env=env)
    assert proc.returncode == 1, proc.stderr[-3000:]
    (row,) = db_rows(out)
    version = zoo_package.__version__
    assert row["status"] == "failed", (row["status"], row["reason"])
    assert f"has zoo {version}.other and Paddle" in row["reason"], row["reason"]
    assert f"the driver has zoo {version} and Paddle" in row["reason"], row["reason"]
    assert other_zoo_node.node_id[:8] in row["reason"]  # says which node
    assert not (Path(row["cell_dir"]) / "metrics.json").exists()  # refused before training
    assert_no_processes(f"{mark_variable}={env[mark_variable]}", within=30)


def test_without_ray_the_executor_is_a_one_line_error(tmp_path, marked, bench, assert_one_line_error):
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text("import sys\nsys.modules['ray'] = None  # not installed\n")
    env = {**marked(), "PYTHONPATH": str(site)}
    proc = bench(tmp_path / "b", "--models", "mlp", "--optimizers", "sgd", "--executor", "ray",
                 env=env)
    assert_one_line_error(proc, "--executor ray needs Ray", "pip install 'zoo[ray]'")
    assert not (tmp_path / "b" / "results.db").exists()  # refused before anything ran
