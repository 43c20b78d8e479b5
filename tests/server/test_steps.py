"""Steps and allocations on the controller's side: how srun's tasks are laid out on a
job's nodes, when a step must wait, how a step's parts make its end, and how an
allocation held by srun or salloc ends (released, its holder gone, out of time)."""

from __future__ import annotations

from collections import Counter

import pytest

from kairos.core.jobs import JobState
from kairos.model.step import StepRequest
from kairos.server import steps
from kairos.server.permissions import Caller
from kairos.server.steps import StepBusy, StepError, lay_out

ME = Caller(0, 0)
NODES = ["n1", "n2"]


def request(**fields) -> StepRequest:
    return StepRequest(argv=["true"], cwd="/tmp", **fields)


@pytest.mark.parametrize("fields, job_tasks, layout", [
    ({}, 2, {"n1": [0], "n2": [1]}),  # srun alone: the job's tasks, one node each
    ({"ntasks": 3}, 2, {"n1": [0, 1], "n2": [2]}),  # block: 2 then 1
    ({"ntasks": 1}, 2, {"n1": [0]}),  # fewer tasks than nodes: fewer nodes
    ({"nodes": 1, "ntasks": 2}, 2, {"n1": [0, 1]}),
    ({"ntasks_per_node": 2}, 2, {"n1": [0, 1], "n2": [2, 3]}),
    ({"nodelist": ["n2"], "ntasks": 1}, 2, {"n2": [0]}),
    ({"exclude": ["n1"]}, 1, {"n2": [0]}),
    ({"ntasks": 4, "distribution": "cyclic"}, 2, {"n1": [0, 2], "n2": [1, 3]}),
    ({"ntasks": 3, "distribution": "cyclic"}, 2, {"n1": [0, 2], "n2": [1]}),
    ({"distribution": "cyclic"}, 4, {"n1": [0, 2], "n2": [1, 3]}),  # the job's shape, dealt
])
def test_tasks_are_laid_out_in_blocks_or_in_turn_on_the_jobs_nodes(fields, job_tasks, layout):
    got, held = lay_out(request(**fields), NODES, {"n1": 2, "n2": 2}, Counter(), job_tasks)
    assert got == layout
    assert held == {n: 2 for n in layout}  # without --exact a step holds its nodes' CPUs


def test_exact_and_cpus_per_task_hold_only_what_the_tasks_need():
    _, held = lay_out(request(ntasks=1, exact=True), NODES, {"n1": 4, "n2": 4}, Counter(), 1)
    assert held == {"n1": 1}
    _, held = lay_out(request(ntasks=1, cpus_per_task=3), NODES, {"n1": 4, "n2": 4}, Counter(), 1)
    assert held == {"n1": 3}


def test_a_step_bigger_than_the_allocation_is_refused_one_that_waits_is_busy():
    with pytest.raises(StepError, match="More processors requested than permitted"):
        lay_out(request(ntasks=5), NODES, {"n1": 2, "n2": 2}, Counter(), 2)
    with pytest.raises(StepError, match="not in the job's allocation"):
        lay_out(request(nodelist=["n7"]), NODES, {"n1": 2, "n2": 2}, Counter(), 2)
    with pytest.raises(StepBusy):
        lay_out(request(ntasks=2), NODES, {"n1": 2, "n2": 2}, Counter({"n1": 2, "n2": 2}), 2)
    # --overlap shares CPUs with other steps
    got, _ = lay_out(request(ntasks=2, overlap=True), NODES, {"n1": 2, "n2": 2},
                     Counter({"n1": 2, "n2": 2}), 2)
    assert got == {"n1": [0], "n2": [1]}


def test_a_step_of_the_jobs_shape_runs_where_a_spread_job_has_its_tasks():
    # The job got 2 tasks on n1 and 1 on n2 (-n 3 on two-CPU nodes): srun alone runs there.
    got, held = lay_out(request(), NODES, {"n1": 2, "n2": 1}, Counter(), 3, job_layout=[2, 1])
    assert got == {"n1": [0, 1], "n2": [2]} and held == {"n1": 2, "n2": 1}
    got, _ = lay_out(request(), ["n1", "n2", "n3"], {"n1": 1, "n2": 1, "n3": 1}, Counter(), 3,
                     job_layout=[1, 1, 1])
    assert got == {"n1": [0], "n2": [1], "n3": [2]}  # procid 0, 1, 2 on the three nodes
    # Another step holds part of it now: laid out as any step (here: it must wait).
    with pytest.raises(StepBusy):
        lay_out(request(), NODES, {"n1": 2, "n2": 1}, Counter({"n1": 1}), 3, job_layout=[2, 1])
    # Asked shapes keep their own layout.
    got, _ = lay_out(request(ntasks=1), NODES, {"n1": 2, "n2": 1}, Counter(), 3, job_layout=[2, 1])
    assert got == {"n1": [0]}


@pytest.mark.parametrize("fields, layout, nnodes, tasks_per_node, distribution", [
    ({}, {"n1": [0], "n2": [1]}, "2", "1(x2)", "cyclic"),          # no node runs two
    ({"nodes": 1, "ntasks": 1}, {"n1": [0]}, "1", "1", "cyclic"),  # srun -N1 -n1
    ({}, {"n1": [0, 1], "n2": [2]}, "2", "2,1", "block"),
    ({"distribution": "block"}, {"n1": [0], "n2": [1]}, "2", "1(x2)", "block"),
])
def test_the_step_environment_is_the_steps_own(fields, layout, nnodes, tasks_per_node,
                                                distribution):
    from kairos.model.step import LiveStep

    inherited = {"SLURM_NNODES": "3", "SLURM_TASKS_PER_NODE": "1(x3)",
                 "SLURM_JOB_NUM_NODES": "3", "SLURM_NODELIST": "n[1-3]",
                 "SLURM_STEP_ID": "0"}
    step = LiveStep(1, 1, nodes=len(layout), ntasks=sum(map(len, layout.values())),
                    node_list=",".join(layout), tasks_per_node=tasks_per_node, layout=layout)
    env = steps._step_environment(request(env=inherited, **fields), step)
    assert (env["SLURM_NNODES"], env["SLURM_TASKS_PER_NODE"]) == (nnodes, tasks_per_node)
    assert env["SLURM_DISTRIBUTION"] == distribution
    assert (env["SLURM_JOB_NUM_NODES"], env["SLURM_NODELIST"]) == ("3", "n[1-3]")  # the job's
    assert "SLURM_STEP_ID" not in env  # the supervisor's
    assert "SLURM_NTASKS_PER_NODE" not in env
    with_per_node = steps._step_environment(request(ntasks_per_node=2), step)
    assert with_per_node["SLURM_NTASKS_PER_NODE"] == "2"


def test_each_node_of_a_step_sees_its_own_cpus(bench):
    job_id = allocation(bench, ntasks=3)
    steps.create_step(bench.controller, bench.controller.jobs[job_id], request(ntasks=1, exact=True))
    bench.step()
    launch = bench.agent.steps[(job_id, 0)]
    assert launch.env["SLURM_CPUS_ON_NODE"] == "1" and launch.env["SLURM_NNODES"] == "1"
    assert launch.env["SLURM_DISTRIBUTION"] == "cyclic"


def allocation(bench, **fields) -> int:
    job_id = bench.submit(ME, allocation=True, script="", **fields)
    bench.step()
    assert bench.controller.jobs[job_id].state is JobState.RUNNING
    return job_id


def test_steps_of_an_allocation_run_wait_and_end(bench):
    job_id = allocation(bench, ntasks=2)
    assert bench.agent.held[job_id] == ([0, 1], [])  # its node holds its cores for steps
    first = steps.create_step(bench.controller, bench.controller.jobs[job_id], request())
    assert first.layout == {"node1": [0, 1]} and first.state is JobState.RUNNING
    with pytest.raises(StepBusy):  # the first holds the allocation's CPUs
        steps.create_step(bench.controller, bench.controller.jobs[job_id], request(ntasks=1))
    bench.agent.finish_step(job_id, 0, JobState.FAILED, exit_code=3)
    bench.step()
    done = bench.controller.steps[(job_id, 0)]
    assert (done.state, done.exit_code, done.waiting_for) == (JobState.FAILED, 3, [])
    second = steps.create_step(bench.controller, bench.controller.jobs[job_id], request(ntasks=1))
    assert second.step_id == 1
    bench.controller.cancel([str(job_id)], ME)  # scancel: every step ends, then the job
    bench.step()
    bench.step()
    assert bench.controller.jobs[job_id].state is JobState.CANCELLED
    assert bench.controller.steps[(job_id, 1)].state is JobState.CANCELLED
    bench.commit()
    assert [s.state for s in bench.store.steps([job_id])] == [JobState.FAILED, JobState.CANCELLED]


@pytest.mark.parametrize("exit_code, state", [(0, JobState.COMPLETED), (2, JobState.FAILED)])
def test_a_released_allocation_ends_with_its_holders_exit_code(bench, exit_code, state):
    from kairos.server import allocations

    job_id = allocation(bench)
    allocations.release(bench.controller, bench.controller.jobs[job_id], exit_code)
    bench.step()
    job = bench.controller.jobs[job_id]
    assert (job.state, job.exit_code) == (state, exit_code)


def test_an_allocation_whose_holder_is_gone_or_out_of_time_ends(bench):
    from kairos.server.allocations import KEEPALIVE_TIMEOUT

    silent = allocation(bench)
    bench.clock.advance(KEEPALIVE_TIMEOUT + 1)
    bench.step()
    assert bench.controller.jobs[silent].state is JobState.CANCELLED
    timed = allocation(bench, time_limit=30)
    bench.clock.advance(31)
    bench.step()
    assert bench.controller.jobs[timed].state is JobState.TIMEOUT


def test_a_step_of_a_job_not_running_is_refused(bench):
    held = bench.submit(ME, hold=True)
    with pytest.raises(StepError, match="not started"):
        steps.create_step(bench.controller, bench.controller.jobs[held], request())
