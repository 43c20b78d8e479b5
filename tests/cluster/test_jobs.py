"""Multi-node jobs on a 3-node test cluster: gang allocation, the Slurm environment,
hostlists, node selection, and refusals that use no job id."""

from __future__ import annotations

import pytest

from kairos.testing.commands import CommandFailed
from kairos.slurm.hostlist import expand
from kairos.testing.home import KAIROS


def test_a_three_node_job_runs_its_script_on_the_first_node_with_slurms_environment(cluster):
    job = cluster.sbatch(
        "#!/bin/sh\n"
        "echo host=$(hostname) list=$SLURM_JOB_NODELIST nnodes=$SLURM_NNODES "
        "tpn=$SLURM_TASKS_PER_NODE cpn=$SLURM_JOB_CPUS_PER_NODE node=$SLURMD_NODENAME\n"
        "getent hosts kn3 | cut -d' ' -f1\n",
        "-N", "3", "-n", "3", "-o", "three.out", name="three.sh")
    [row] = cluster.wait(job)
    assert row["state"] == "COMPLETED" and row["node_list"] == "kn[1-3]"
    first, address = (cluster.workdir / "three.out").read_text().splitlines()
    assert first == "host=kn1 list=kn[1-3] nnodes=3 tpn=1(x3) cpn=1(x3) node=kn1"
    assert address == cluster.nodes()["kn3"]["addr"]  # every node knows the others by name


def test_a_gang_waits_whole_and_never_holds_part_of_the_cluster(cluster):
    blocker = cluster.submit("-w", "kn2", "--wrap", "sleep 3")
    cluster.wait_state(blocker, {"RUNNING"})
    gang = cluster.submit("-N", "3", "--wrap", "true")
    small = cluster.submit("-w", "kn3", "--wrap", "true")  # kn3 is free: it must not wait
    waiting = cluster.wait_state(gang, {"PENDING"})
    assert waiting["reason"] == "Resources" and waiting["node_list"] in (None, "")
    assert cluster.wait(small)[0]["state"] == "COMPLETED"  # the gang held nothing meanwhile
    assert cluster.wait(gang, timeout=40)[0]["state"] == "COMPLETED"


def test_nodelist_exclude_and_constraint(cluster):
    on_two = cluster.submit("-w", "kn2", "--wrap", "hostname")
    not_one_two = cluster.submit("-x", "kn[1-2]", "--wrap", "hostname")
    assert cluster.wait(on_two)[0]["node_list"] == "kn2"
    assert cluster.wait(not_one_two)[0]["node_list"] == "kn3"


@pytest.mark.parametrize("options, words", [
    (["--constraint=gpu80"], "Invalid feature specification"),
    (["-w", "kn9"], "Invalid node name specified"),
    (["-N", "4"], "Requested node configuration is not available"),
])
def test_an_impossible_request_is_refused_and_uses_no_job_id(cluster, options, words):
    before = cluster.submit("--wrap", "true")
    with pytest.raises(CommandFailed) as refused:
        cluster.submit(*options, "--wrap", "true")
    assert words in str(refused.value)
    assert cluster.submit("--wrap", "true") == before + 1


def test_hostnames_of_a_job_come_back_one_a_line(cluster):
    job = cluster.sbatch(f"#!/bin/sh\n{KAIROS} scontrol show hostnames $SLURM_JOB_NODELIST\n",
                         "-N", "2", "-o", "names.out", name="names.sh")
    [row] = cluster.wait(job)
    names = (cluster.workdir / "names.out").read_text().split()
    assert len(names) == 2 and names == expand(row["node_list"]) and names == sorted(names)


def test_srun_in_a_salloc_shell_is_kairos_even_beside_another_slurm(cluster):
    # /usr/bin first, where a real Slurm's srun may be installed: the allocation's shell
    # still finds Kairos's srun, which the controller wrote beside its socket.
    done = cluster.run("salloc", "-N", "2", "bash", "-c", "srun -l printenv SLURMD_NODENAME",
                       env={"PATH": "/usr/bin:/bin"})
    assert sorted(done.stdout.split()) == ["0:", "1:", "kn1", "kn2"]
