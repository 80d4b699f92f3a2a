"""One cell trained by two `launch` "machines" on 127.0.0.1 (one process each), as the
README's plain-shell recipe runs it: both ranks end with the same parameters, and the
result is that of `spawn --nprocs 2` on the same cell."""

from __future__ import annotations

import json
import socket
import subprocess

import pytest

pytestmark = pytest.mark.integration  # starts processes or trains with Paddle


@pytest.fixture(scope="session")
def multinode_args(tiny_mlp):
    return ("--models", "mlp", "--optimizers", "sgd", *tiny_mlp)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_two_launch_nodes_train_one_cell_like_spawn_with_two_processes(tmp_path, marked, bench_cmd, repo_root,
                                                                       db_rows, bench, assert_no_processes,
                                                                       multinode_args):
    env, master = marked(), f"127.0.0.1:{_free_port()}"
    nodes = [subprocess.Popen(bench_cmd(tmp_path / f"node{rank}", *multinode_args, "--launch", "launch",
                                        "--nprocs", "1", "--set", "launcher.nnodes=2",
                                        "--set", f"launcher.master={master}",
                                        "--set", f"launcher.node_rank={rank}"),
                              env=env, cwd=repo_root, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for rank in (0, 1)]
    ends = [node.communicate(timeout=300) for node in nodes]
    for node, (_, stderr) in zip(nodes, ends):
        assert node.returncode == 0, stderr[-3000:]
    (lead,), (follower,) = db_rows(tmp_path / "node0"), db_rows(tmp_path / "node1")
    assert lead["status"] == follower["status"] == "ok"
    assert lead["test_acc"] is not None and follower["test_acc"] is None  # node 0 tests
    digests = [json.loads(next((tmp_path / f"node{r}" / "cells").glob(f"*/replicas/rank-{r}.json"))
                          .read_text()) for r in (0, 1)]
    assert [d["world_size"] for d in digests] == [2, 2]
    assert digests[0]["sha256"] == digests[1]["sha256"]
    # every machine keeps the checkpoints it needs to resume
    assert all(list((tmp_path / f"node{r}" / "cells").glob("*/checkpoints/step-*")) for r in (0, 1))
    spawned = bench(tmp_path / "spawn", *multinode_args, "--launch", "spawn", "--nprocs", "2")
    assert spawned.returncode == 0, spawned.stderr[-3000:]
    (want,) = db_rows(tmp_path / "spawn")
    assert lead["test_acc"] == want["test_acc"]
    spawn_digest = json.loads(next((tmp_path / "spawn" / "cells").glob("*/replicas/rank-0.json")).read_text())
    assert spawn_digest["sha256"] == digests[0]["sha256"]
    assert "-" in ends[1][0].splitlines()[-1]  # node 1's table shows no test accuracy
    assert_no_processes(env["ZOO_TEST_MARK"])
