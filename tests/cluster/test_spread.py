"""Tasks spread over nodes when no node count is given (Slurm's ``-n`` without ``-N``),
on a test cluster of three one-CPU nodes, compared with what a Slurm 22.05 cluster of
three one-CPU nodes printed for the same jobs: ``sbatch -n 3`` gets all three nodes,
one task each, and its steps and ``srun -n 3`` outside any job run a task on each."""

from __future__ import annotations

import pytest

from kairos.testing.cluster import running_cluster


@pytest.fixture(scope="module")
def one_cpu_nodes():
    with running_cluster(3, 1, prefix="kairos-spread-") as made:
        yield made


SCRIPT = """#!/bin/sh
echo batch nnodes=$SLURM_NNODES tpn=$SLURM_TASKS_PER_NODE cpn=$SLURM_JOB_CPUS_PER_NODE \
ntasks=$SLURM_NTASKS list=$SLURM_JOB_NODELIST node=$SLURMD_NODENAME
srun -l sh -c 'echo $SLURMD_NODENAME nnodes=$SLURM_NNODES tpn=$SLURM_TASKS_PER_NODE \
cpn=$SLURM_JOB_CPUS_PER_NODE dist=$SLURM_DISTRIBUTION' | sort
srun -N1 -n1 sh -c 'echo one nnodes=$SLURM_NNODES ntasks=$SLURM_NTASKS tpn=$SLURM_TASKS_PER_NODE \
list=$SLURM_NODELIST step=$SLURM_STEP_NODELIST'
"""


def test_sbatch_n3_runs_a_task_on_each_of_three_one_cpu_nodes(one_cpu_nodes):
    cluster = one_cpu_nodes
    job = cluster.sbatch(SCRIPT, "-n", "3", "-o", "spread.out", name="spread.sh")
    [row] = cluster.wait(job, timeout=60)
    out = (cluster.workdir / "spread.out").read_text()
    assert row["state"] == "COMPLETED", out
    assert (row["node_list"], row["nodes"], row["cpus"]) == ("kn[1-3]", 3, 3)
    assert out.splitlines() == [
        "batch nnodes=3 tpn=1(x3) cpn=1(x3) ntasks=3 list=kn[1-3] node=kn1",
        "0: kn1 nnodes=3 tpn=1(x3) cpn=1(x3) dist=cyclic",
        "1: kn2 nnodes=3 tpn=1(x3) cpn=1(x3) dist=cyclic",
        "2: kn3 nnodes=3 tpn=1(x3) cpn=1(x3) dist=cyclic",
        "one nnodes=1 ntasks=1 tpn=1 list=kn[1-3] step=kn1",
    ]


def test_srun_n3_outside_a_job_gets_three_nodes_and_runs_there(one_cpu_nodes):
    done = one_cpu_nodes.run("srun", "-n", "3", "-l", "printenv", "SLURMD_NODENAME")
    assert sorted(done.stdout.splitlines()) == ["0: kn1", "1: kn2", "2: kn3"]


def test_more_tasks_than_the_nodes_hold_are_refused_saying_what_was_asked(one_cpu_nodes):
    refused = one_cpu_nodes.run("sbatch", "-n", "4", "--wrap", "true", check=False)
    assert refused.returncode != 0
    assert "Requested node configuration is not available" in refused.stderr
    assert "4 task(s) of 1 CPU" in refused.stderr


def test_a_pending_spread_job_shows_the_fewest_nodes_it_can_run_on(one_cpu_nodes):
    # Slurm 22.05 (nodes of 2 CPUs): a held `-n 3` shows NODES 2, `-n 5` 3; here the
    # nodes hold 1 CPU each, so `-n 2` needs 2 and `-n 3` all 3
    cluster = one_cpu_nodes
    ids = [cluster.submit("--hold", "-n", str(n), "--wrap", "true") for n in (2, 3)]
    try:
        shown = cluster.run("squeue", "-h", "-o", "%i %D", "-j", ",".join(map(str, ids)))
        assert sorted(shown.stdout.split("\n")[:-1]) == [f"{ids[0]} 2", f"{ids[1]} 3"]
        held = cluster.run("scontrol", "show", "job", str(ids[1])).stdout
        assert "NumNodes=3 " in held
    finally:
        cluster.run("scancel", *map(str, ids))
