"""sacct's output: fields, widths, ``+`` cuts, parsable forms, ``.batch`` lines."""

from __future__ import annotations

import pytest

from kairos.model import LiveJob
from kairos.slurm.output.columns import FormatError
from kairos.slurm.output.sacct import format_sacct
from tests.slurm.output.conftest import NOW, at, job, lines, pending


SACCT_DEFAULT_HEADER = [
    "JobID           JobName  Partition    Account  AllocCPUS      State ExitCode ",
    "------------ ---------- ---------- ---------- ---------- ---------- -------- ",
]


def finished(job_id: int, state: str = "COMPLETED", **fields) -> LiveJob:
    defaults = dict(state=state, start_time=NOW - 120, end_time=NOW - 60, cpus=2)
    return job(job_id, **{**defaults, **fields})


def test_sacct_default_columns_and_batch_lines():
    rows = [finished(100, "FAILED", exit_code=3, reason="NonZeroExitCode"),
            pending(101, account="lab")]
    out = format_sacct(rows, None, now=NOW)
    assert lines(out) == SACCT_DEFAULT_HEADER + [
        "100                wrap      debug                     2     FAILED      3:0 ",
        "100.batch         batch                                2     FAILED      3:0 ",
        "101                wrap      debug        lab          0    PENDING      0:0 ",
    ]


def test_sacct_allocations_only_drops_batch_lines():
    out = format_sacct([finished(7)], None, steps=False, now=NOW)
    assert lines(out)[2:] == [
        "7                  wrap      debug                     2  COMPLETED      0:0 "]


def test_sacct_headers_and_widths_match_slurm():
    fields = ("JobID,JobIDRaw,JobName,User,Partition,Account,AllocCPUS,State,ExitCode")
    assert lines(format_sacct([], fields, now=NOW)) == [
        "JobID        JobIDRaw        JobName      User  Partition    Account  AllocCPUS "
        "     State ExitCode ",
        "------------ ------------ ---------- --------- ---------- ---------- ---------- "
        "---------- -------- "]
    fields = ("Elapsed,ElapsedRaw,CPUTime,CPUTimeRAW,TotalCPU,MaxRSS,Submit,Start,End,"
              "Timelimit,NodeList,NNodes,ReqMem,WorkDir,Reason,Priority")
    assert lines(format_sacct([], fields, now=NOW))[0] == (
        "   Elapsed ElapsedRaw    CPUTime CPUTimeRAW   TotalCPU     MaxRSS              "
        "Submit               Start                 End  Timelimit        NodeList   "
        "NNodes     ReqMem              WorkDir                 Reason   Priority ")
    fields = "Group,GID,UID,QOS,NCPUS,NTasks,ReqCPUS,Eligible,AllocTRES,ReqTRES"
    assert lines(format_sacct([], fields, now=NOW))[0] == (
        "    Group    GID    UID        QOS      NCPUS   NTasks  ReqCPUS            "
        "Eligible  AllocTRES    ReqTRES ")


def test_sacct_field_names_ignore_case_and_unknown_ones_are_refused():
    assert lines(format_sacct([], "jobid,STATE,elapsedraw", now=NOW))[0] == \
        "JobID             State ElapsedRaw "
    with pytest.raises(FormatError, match='Invalid field requested: "bogus"'):
        format_sacct([], "JobID,bogus", now=NOW)


def test_sacct_widths_right_left_and_the_plus_for_long_values():
    out = format_sacct([finished(4, "FAILED", exit_code=1)],
                               "JobID%20,State%-5,JobName%3", steps=False, now=NOW)
    assert lines(out) == ["               JobID State Job ",
                          "-------------------- ----- --- ",
                          "                   4 FAIL+ wr+ "]


def test_sacct_parsable_forms():
    rows = [finished(7, start_time=at(2026, 11, 25, 3, 47, 43))]
    two = format_sacct(rows, "JobID,State,Start", parsable2=True, now=NOW)
    assert lines(two) == ["JobID|State|Start", "7|COMPLETED|2026-11-25T03:47:43",
                          "7.batch|COMPLETED|2026-11-25T03:47:43"]
    one = format_sacct(rows, "JobID,State", parsable=True, steps=False,
                               header=False, now=NOW)
    assert one == "7|COMPLETED|\n"


def test_sacct_usage_fields():
    row = finished(12, start_time=NOW - (86400 + 2 * 3600 + 3 * 60 + 4), end_time=NOW,
                   cpus=4, cpu_time=61.5, max_rss=1234, mem_per_node=4096,
                   time_limit=2 * 86400, gpus=[[None, 1]])
    fields = ("Elapsed,ElapsedRaw,CPUTime,CPUTimeRAW,TotalCPU,MaxRSS,ReqMem,Timelimit,"
              "AllocTRES,NNodes,NodeList")
    out = format_sacct([row], fields, parsable2=True, header=False, now=NOW)
    job_line, batch_line = lines(out)
    assert job_line == ("1-02:03:04|93784|4-08:12:16|375136|01:01.500|1234K|4G|2-00:00:00|"
                        "cpu=4,mem=4G,node=1,billing=4,gres/gpu=1|1|vm")
    assert batch_line.split("|")[:6] == ["1-02:03:04", "93784", "4-08:12:16", "375136",
                                         "01:01.500", "1234K"]



def test_sacct_a_job_spread_over_nodes_shows_what_each_held():
    # -n 3 on two-CPU nodes: 2 CPUs on the first (the batch script's), 1 on the second
    row = finished(13, cpus=3, nodes=2, ntasks=3, node_list="vm[1-2]", node_cpus=(2, 1))
    out = format_sacct([row], "JobID,AllocCPUS,NNodes,NodeList", parsable2=True,
                       header=False, now=NOW)
    assert lines(out) == ["13|3|2|vm[1-2]", "13.batch|2|1|vm1"]


def test_sacct_exit_codes_and_timeouts():
    rows = [finished(101, "FAILED", signal=9, reason="JobLaunchFailure"),
            finished(85, "TIMEOUT", signal=15, reason="TimeLimit", time_limit=60),
            finished(23, "CANCELLED", signal=15)]
    out = format_sacct(rows, "JobID,State,ExitCode", parsable2=True,
                               header=False, now=NOW)
    assert lines(out) == ["23|CANCELLED|0:15", "23.batch|CANCELLED|0:15",
                          "85|TIMEOUT|0:15", "85.batch|CANCELLED|0:15",
                          "101|FAILED|0:9", "101.batch|FAILED|0:9"]


def test_sacct_running_and_pending_times():
    rows = [job(24, start_time=NOW - 24), pending(30)]
    out = format_sacct(rows, "JobID,Start,End,Elapsed,NodeList", parsable2=True,
                               header=False, now=NOW)
    assert lines(out) == ["24|2026-11-25T03:48:50|Unknown|00:00:24|vm",
                          "24.batch|2026-11-25T03:48:50|Unknown|00:00:24|vm",
                          "30|Unknown|Unknown|00:00:00|None assigned"]


def test_sacct_array_ids():
    rows = [finished(85, array_job_id=84, array_task_id=1),
            pending(90, array_job_id=88, array_task_id=2),
            pending(91, array_job_id=88, array_task_id=3)]
    out = format_sacct(rows, "JobID,JobIDRaw", parsable2=True, header=False,
                               steps=False, now=NOW)
    assert lines(out) == ["84_1|85", "88_[2-3]|90"]
