"""The SLURM_* / KAIROS_* environment of a job, built from its record."""

from __future__ import annotations

import dataclasses

from kairos.model import LiveJob, Submission
from kairos.node.environment import compress_ids, job_environment, placement_environment

JOB = dict(job_id=41, name="train", user="ada", uid=1000, gid=1000, partition="debug",
           qos="normal", nodes=1, ntasks=1, cpus_per_task=1, cpus=1, mem_per_node=None,
           work_dir="/home/ada/run", restarts=0, node_list="n1")


def build(job: dict, **kw) -> dict[str, str]:
    """The environment of a job with ``job``'s fields; ``submission`` holds the options
    as given (``cpus_per_task_set``, ``mem_per_cpu``, ...)."""
    given = job.pop("submission", {})
    record = LiveJob(**job, submission=dataclasses.replace(
        Submission("#!/bin/sh\n", job["work_dir"]), **given))
    args = dict(base_env={"HOME": "/home/ada"}, node_name="n1", cluster_name="lab", submit_host="login")
    args.update(kw)
    return job_environment(record, **args)


def test_plain_job_gets_slurms_variables():
    env = build(JOB)
    assert env["HOME"] == "/home/ada"
    assert env["SLURM_JOB_ID"] == env["SLURM_JOBID"] == env["KAIROS_JOB_ID"] == "41"
    assert env["SLURM_JOB_NAME"] == "train"
    assert env["ENVIRONMENT"] == "BATCH"
    assert env["SLURM_CPUS_ON_NODE"] == env["SLURM_JOB_CPUS_PER_NODE"] == env["SLURM_TASKS_PER_NODE"] == "1"
    assert env["SLURM_JOB_NODELIST"] == env["SLURM_NODELIST"] == env["SLURMD_NODENAME"] == "n1"
    assert env["SLURM_JOB_NUM_NODES"] == env["SLURM_NNODES"] == "1"
    assert env["SLURM_JOB_PARTITION"] == "debug" and env["SLURM_JOB_QOS"] == "normal"
    assert (env["SLURM_JOB_USER"], env["SLURM_JOB_UID"], env["SLURM_JOB_GID"]) == ("ada", "1000", "1000")
    assert env["SLURM_SUBMIT_DIR"] == "/home/ada/run" and env["SLURM_SUBMIT_HOST"] == "login"
    assert env["SLURM_CLUSTER_NAME"] == "lab"
    assert all(env[k] == "0" for k in ("SLURM_PROCID", "SLURM_LOCALID", "SLURM_NODEID", "SLURM_GTIDS"))
    # Only when asked for, as on a real Slurm:
    for absent in ("SLURM_CPUS_PER_TASK", "SLURM_NTASKS", "SLURM_NPROCS", "SLURM_MEM_PER_NODE",
                   "SLURM_MEM_PER_CPU", "SLURM_JOB_ACCOUNT", "SLURM_RESTART_COUNT",
                   "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID", "CUDA_VISIBLE_DEVICES"):
        assert absent not in env


def test_requested_shape_and_memory_show():
    job = dict(JOB, ntasks=2, cpus_per_task=3, cpus=6, mem_per_node=2048, account="physics",
               restarts=2, submission=dict(cpus_per_task_set=True, ntasks_set=True,
                                           mem_per_cpu=512, submit_dir="/home/ada"))
    env = build(job)
    assert env["SLURM_CPUS_PER_TASK"] == "3"
    assert env["SLURM_NTASKS"] == env["SLURM_NPROCS"] == env["SLURM_TASKS_PER_NODE"] == "2"
    assert env["SLURM_CPUS_ON_NODE"] == env["SLURM_JOB_CPUS_PER_NODE"] == "6"
    assert env["SLURM_MEM_PER_NODE"] == "2048" and env["SLURM_MEM_PER_CPU"] == "512"
    assert env["SLURM_JOB_ACCOUNT"] == "physics"
    assert env["SLURM_RESTART_COUNT"] == "2"
    assert env["SLURM_SUBMIT_DIR"] == "/home/ada"


def test_array_task_has_its_own_id_and_the_masters():
    job = dict(JOB, job_id=99, array_job_id=90, array_task_id=4, array_task_count=3,
               array_task_min=1, array_task_max=7, array_task_step=3)
    env = build(job)
    assert env["SLURM_JOB_ID"] == "99" and env["SLURM_ARRAY_JOB_ID"] == env["KAIROS_ARRAY_JOB_ID"] == "90"
    assert env["SLURM_ARRAY_TASK_ID"] == env["KAIROS_ARRAY_TASK_ID"] == "4"
    assert (env["SLURM_ARRAY_TASK_COUNT"], env["SLURM_ARRAY_TASK_MIN"],
            env["SLURM_ARRAY_TASK_MAX"], env["SLURM_ARRAY_TASK_STEP"]) == ("3", "1", "7", "3")


def test_stale_variables_from_a_submitting_job_are_dropped():
    outer = {"SLURM_ARRAY_TASK_ID": "5", "SLURM_CPUS_PER_TASK": "8", "CUDA_VISIBLE_DEVICES": "3",
             "SLURM_CONF": "/etc/slurm/slurm.conf", "HOME": "/home/ada"}
    env = build(JOB, base_env=outer)
    assert "SLURM_ARRAY_TASK_ID" not in env and "SLURM_CPUS_PER_TASK" not in env
    assert "CUDA_VISIBLE_DEVICES" not in env
    assert env["SLURM_CONF"] == "/etc/slurm/slurm.conf"  # not ours: passed through


def test_gpu_placement_variables():
    env = build(JOB, cpu_ids=[4, 5, 6, 9], gpu_ids=[1, 3])
    assert env["CUDA_VISIBLE_DEVICES"] == env["SLURM_JOB_GPUS"] == env["GPU_DEVICE_ORDINAL"] == "1,3"
    assert env["SLURM_GPUS_ON_NODE"] == "2" and env["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"
    assert env["KAIROS_CPU_IDS"] == "4-6,9" and env["KAIROS_GPU_IDS"] == "1,3"


def test_cpu_job_on_a_gpu_machine_sees_no_gpu():
    assert placement_environment([0], [], hide_gpus=True)["CUDA_VISIBLE_DEVICES"] == ""
    assert "CUDA_VISIBLE_DEVICES" not in placement_environment([0], [])


def test_compress_ids():
    assert compress_ids([]) == ""
    assert compress_ids([3]) == "3"
    assert compress_ids([0, 1, 2, 3, 8, 10, 11]) == "0-3,8,10-11"


# -- jobs on several nodes, as a Slurm 22.05 cluster of one-CPU nodes showed them -------

SLURM_SHAPE = ("SLURM_CPUS_ON_NODE", "SLURM_JOB_CPUS_PER_NODE", "SLURM_TASKS_PER_NODE",
               "SLURM_JOB_NUM_NODES", "SLURM_NNODES", "SLURM_NTASKS", "SLURM_NPROCS",
               "SLURM_NTASKS_PER_NODE", "SLURM_JOB_NODELIST")


def shape(env: dict[str, str]) -> dict[str, str]:
    return {k: env[k] for k in SLURM_SHAPE if k in env}


def test_a_spread_job_shows_the_nodes_it_got_as_slurm_does():
    # sbatch -n 3 on three one-CPU nodes (peer: SLURM_*_PER_NODE=1(x3), no NTASKS_PER_NODE)
    job = dict(JOB, nodes=3, ntasks=3, cpus=3, node_list="n[1-3]", node_cpus=(1, 1, 1),
               submission=dict(ntasks=3, spread=True, ntasks_set=True))
    assert shape(build(job)) == {
        "SLURM_CPUS_ON_NODE": "1", "SLURM_JOB_CPUS_PER_NODE": "1(x3)",
        "SLURM_TASKS_PER_NODE": "1(x3)", "SLURM_JOB_NUM_NODES": "3", "SLURM_NNODES": "3",
        "SLURM_NTASKS": "3", "SLURM_NPROCS": "3", "SLURM_JOB_NODELIST": "n[1-3]"}


def test_a_spread_job_on_two_cpu_nodes_runs_two_tasks_then_one():
    job = dict(JOB, nodes=2, ntasks=3, cpus=3, node_list="n[1-2]", node_cpus=(2, 1),
               submission=dict(ntasks=3, spread=True, ntasks_set=True))
    env = build(dict(job))
    assert (env["SLURM_TASKS_PER_NODE"], env["SLURM_JOB_CPUS_PER_NODE"]) == ("2,1", "2,1")
    assert env["SLURM_CPUS_ON_NODE"] == "2" and env["SLURM_NNODES"] == "2"
    assert build(dict(job), node_name="n2")["SLURM_CPUS_ON_NODE"] == "1"  # where it runs


def test_ntasks_per_node_shows_the_task_counts():
    # sbatch -N2 --ntasks-per-node=1 (peer: NTASKS=NPROCS=2, NTASKS_PER_NODE=1)
    job = dict(JOB, nodes=2, ntasks=2, cpus=2, node_list="n[1-2]", node_cpus=(1, 1),
               submission=dict(nodes=2, ntasks=2, ntasks_per_node=1))
    assert shape(build(job)) == {
        "SLURM_CPUS_ON_NODE": "1", "SLURM_JOB_CPUS_PER_NODE": "1(x2)",
        "SLURM_TASKS_PER_NODE": "1(x2)", "SLURM_JOB_NUM_NODES": "2", "SLURM_NNODES": "2",
        "SLURM_NTASKS": "2", "SLURM_NPROCS": "2", "SLURM_NTASKS_PER_NODE": "1",
        "SLURM_JOB_NODELIST": "n[1-2]"}


def test_nodes_alone_show_no_task_count():
    # sbatch -N2 (peer: no NTASKS, NPROCS or NTASKS_PER_NODE)
    job = dict(JOB, nodes=2, ntasks=2, cpus=2, node_list="n[1-2]", node_cpus=(1, 1),
               submission=dict(nodes=2, ntasks=2))
    assert shape(build(job)) == {
        "SLURM_CPUS_ON_NODE": "1", "SLURM_JOB_CPUS_PER_NODE": "1(x2)",
        "SLURM_TASKS_PER_NODE": "1(x2)", "SLURM_JOB_NUM_NODES": "2", "SLURM_NNODES": "2",
        "SLURM_JOB_NODELIST": "n[1-2]"}


def test_block_distribution_over_a_fixed_node_count():
    # -N2 -n3: Slurm's block layout puts 2 tasks on the first node, 1 on the second
    job = dict(JOB, nodes=2, ntasks=3, cpus=4, node_list="n[1-2]", node_cpus=(2, 2),
               submission=dict(nodes=2, ntasks=3, ntasks_set=True))
    env = build(job)
    assert (env["SLURM_TASKS_PER_NODE"], env["SLURM_JOB_CPUS_PER_NODE"]) == ("2,1", "2(x2)")
