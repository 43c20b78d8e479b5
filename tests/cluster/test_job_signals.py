"""``--signal`` on a 2-node test cluster: without ``B:`` every task of the job's steps
gets the warning on every node and the batch shell does not; with ``B:`` the batch shell
on the first node gets it, and the checkpoint-then-``scontrol requeue`` pattern runs the
job a second time that finishes, its output appended to the first run's."""

from __future__ import annotations

import time

import pytest

from kairos.testing.cluster import running_cluster

from tests.live.test_job_signals_and_records import CHECKPOINT


@pytest.fixture(scope="module")
def cluster():
    with running_cluster(2, 2) as made:
        yield made


@pytest.mark.slow
def test_the_steps_on_every_node_are_warned_and_the_batch_shell_is_not(cluster):
    (cluster.workdir / "task.sh").write_text(
        "trap 'echo \"$SLURM_PROCID on $SLURMD_NODENAME got USR1\"; exit 0' USR1\n"
        "sleep 30 & wait\n")
    job = cluster.sbatch("#!/bin/bash\ntrap 'echo batch got USR1' USR1\n"
                         "srun bash task.sh\necho \"srun: $?\"\n",
                         "-N2", "-n2", "-t", "1", "--signal=USR1@55", "-o", "steps.out",
                         name="steps.sh")
    [row] = cluster.wait(job, timeout=40)
    lines = (cluster.workdir / "steps.out").read_text().splitlines()
    assert row["state"] == "COMPLETED", lines
    nodes = cluster.node_names()
    assert sorted(lines) == sorted([f"0 on {nodes[0]} got USR1", f"1 on {nodes[1]} got USR1",
                                    "srun: 0"])


@pytest.mark.slow
def test_a_two_node_job_checkpoints_requeues_and_finishes(cluster):
    start = time.monotonic()
    job = cluster.sbatch(CHECKPOINT, "-N2", "-t", "1", "--signal=B:USR1@55", "-o", "ck.out",
                         name="ck.sh")
    [row] = cluster.wait(job, timeout=40)
    assert row["state"] == "COMPLETED" and row["restarts"] == 1
    assert time.monotonic() - start < 30  # warned 5 s in, not killed at the limit
    lines = (cluster.workdir / "ck.out").read_text().splitlines()
    assert [line for line in lines if not line.startswith("kairos-supervisor:")] == [
        "start run 0", "checkpoint in run 0", "start run 1", "resumed and finished"]
