"""Nodes out of service (``sinfo -R``, ``sinfo -N``'s ``*``, scontrol's reason) and job
steps (``sacct``'s ``JOBID.0`` lines, ``sstat``), against the peer's formats."""

from __future__ import annotations

import pytest

from kairos.model.step import LiveStep
from kairos.slurm.output.columns import FormatError
from kairos.slurm.output.sacct import format_sacct
from kairos.slurm.output.scontrol import format_scontrol_node
from kairos.slurm.output.sinfo import format_sinfo, format_sinfo_reasons
from kairos.slurm.output.sstat import format_sstat, parse_sstat_fields
from tests.slurm.output.conftest import NOW, PEER_NODE, PEER_PARTITION, at, job, lines

DRAINED = dict(PEER_NODE, state="drain", cpus_alloc=0, mem_alloc=0, reason="test reason",
               reason_user="root", reason_time=at(2026, 11, 30, 3, 0, 41))


def test_sinfo_reasons_match_the_peer():
    # the peer, after `scontrol update NodeName=vm State=DRAIN Reason="test reason"`
    assert lines(format_sinfo_reasons([DRAINED])) == [
        "REASON               USER      TIMESTAMP           NODELIST",
        "test reason          root      2026-11-30T03:00:41 vm"]
    assert lines(format_sinfo_reasons([DRAINED], long=True)) == [
        "REASON               USER         TIMESTAMP           STATE  NODELIST",
        "test reason          root(0)      2026-11-30T03:00:41 drain  vm"]
    long_reason = dict(DRAINED, reason="a much longer reason than twenty characters")
    assert lines(format_sinfo_reasons([long_reason], header=False)) == [
        "a much longer reason root      2026-11-30T03:00:41 vm"]


def test_sinfo_reasons_group_nodes_and_leave_out_those_in_service():
    silent = dict(PEER_NODE, state="down", cpus_alloc=0, reason="Not responding",
                  reason_user=None, reason_time=at(2026, 11, 30, 4, 0, 0), responding=False)
    nodes = [dict(silent, name="n2"), dict(silent, name="n1"), dict(PEER_NODE, name="n3"),
             dict(DRAINED, name="n4")]
    assert lines(format_sinfo_reasons(nodes, header=False)) == [
        "Not responding       kairos    2026-11-30T04:00:00 n[1-2]",
        "test reason          root      2026-11-30T03:00:41 n4"]
    assert lines(format_sinfo_reasons(nodes, "%E|%t", header=False)) == [
        "Not responding|down*", "test reason|drain"]


def test_a_node_that_stopped_answering_has_slurms_star():
    silent = dict(PEER_NODE, state="idle", cpus_alloc=0, responding=False)
    assert lines(format_sinfo([PEER_PARTITION], [silent], node_oriented=True)) == [
        "NODELIST   NODES PARTITION STATE ", "vm             1    debug* idle* "]
    assert "State=IDLE+NOT_RESPONDING" in format_scontrol_node(silent)


def test_scontrol_says_who_set_the_reason_and_when():
    assert "   Reason=test reason [root@2026-11-30T03:00:41]\n" in format_scontrol_node(DRAINED)
    plain = dict(PEER_NODE, reason="why")
    assert "   Reason=why\n" in format_scontrol_node(plain)


def step(step_id: int, **fields) -> LiveStep:
    info = dict(job_id=24, step_id=step_id, name="hostname", user="root", state="COMPLETED",
                node_list="n[1-2]", nodes=2, ntasks=4, cpus=4, tasks_per_node="2(x2)",
                start_time=NOW - 20, end_time=NOW - 10, exit_code=0, signal=0,
                cpu_time=3.5, max_rss=2048, command="hostname", reason="None")
    info.update(fields)
    return LiveStep.from_wire(info)


def test_sacct_prints_each_step_after_the_batch_line():
    done = job(24, state="COMPLETED", end_time=NOW - 5, cpus=4, nodes=2, node_list="n[1-2]")
    steps = {24: [step(1, state="FAILED", exit_code=3, name="python3"), step(0)]}
    fields = "JobID,JobName,State,ExitCode,NodeList,NTasks,AllocCPUS,Elapsed,CPUTime,MaxRSS,TotalCPU"
    out = format_sacct([done], fields, now=NOW, job_steps=steps)
    assert lines(out)[2:] == [
        "24                 wrap  COMPLETED      0:0          n[1-2]                   4 "
        "  00:00:19   00:01:16                       ",
        "24.batch          batch  COMPLETED      0:0              n1        1          2 "
        "  00:00:19   00:00:38                       ",
        "24.0           hostname  COMPLETED      0:0          n[1-2]        4          4 "
        "  00:00:10   00:00:40         2M  00:03.500 ",
        "24.1            python3     FAILED      3:0          n[1-2]        4          4 "
        "  00:00:10   00:00:40         2M  00:03.500 "]
    running = format_sacct([job(24)], "JobID,State,Elapsed,End", now=NOW, parsable2=True,
                           job_steps={24: [step(0, state="RUNNING", end_time=None)]})
    assert lines(running)[-1] == "24.0|RUNNING|00:00:20|Unknown"


def test_sacct_has_no_batch_line_for_an_allocation_and_no_steps_with_allocations_only():
    alloc = job(30, state="COMPLETED", end_time=NOW)
    out = format_sacct([alloc], "JobID", now=NOW, parsable2=True, header=False,
                       job_steps={30: [step(0, job_id=30)]}, batchless={30})
    assert lines(out) == ["30", "30.0"]
    out = format_sacct([alloc], "JobID", now=NOW, parsable2=True, header=False, steps=False,
                       job_steps={30: [step(0, job_id=30)]})
    assert lines(out) == ["30"]


def test_sstat_fields_and_layout():
    running = {"job_id": 283, "step_id": 0, "ntasks": 1, "node_list": "vm", "cpu_time": 2.4,
               "max_rss": 64624, "state": "RUNNING"}
    fields = "JobID,MaxRSS,AveCPU,NTasks,Nodelist"
    assert lines(format_sstat([running], fields)) == [
        "JobID            MaxRSS     AveCPU   NTasks             Nodelist ",
        "------------ ---------- ---------- -------- -------------------- ",
        "283.0            64624K   00:00:02        1                   vm "]
    assert format_sstat([running], "JobID,AveCPU,NTasks", parsable2=True) == (
        "JobID|AveCPU|NTasks\n283.0|00:00:02|1\n")
    assert format_sstat([dict(running, cpu_time=None, max_rss=None)], "maxrss,avecpu",
                        parsable=True, header=False) == "||\n"
    with pytest.raises(FormatError, match="MinCPU"):
        parse_sstat_fields("JobID,MinCPU")
