"""The output of the Slurm-compatible query commands, column by column.

The expected header lines (and several value lines) were copied from a real Slurm
22.05 (squeue, sinfo, scontrol, sshare on the peer; sacct's widths from its job
completion log, since the peer has no accounting database).  sprio's header follows
the 22.05 manual's default format without the association and TRES columns (the peer
runs priority/basic, where sprio refuses to run).
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest

from kairos.slurm import formats
from kairos.slurm.formats import FormatError, JobState, UnknownStateError



def at(*fields: int) -> float:
    """Epoch seconds of a UTC date and time."""
    return datetime(*fields, tzinfo=timezone.utc).timestamp()


NOW = at(2026, 11, 25, 3, 49, 14)


@pytest.fixture(autouse=True)
def local_time_is_utc(monkeypatch):
    """Timestamps print in local time: make that UTC."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def job(job_id: int = 24, **fields) -> dict:
    """A JobInfo dict as the controller sends it, with fields overridden."""
    info = dict(job_id=job_id, array_job_id=None, array_task_id=None, name="wrap",
                user="root", uid=0, gid=0, group="root", account=None, partition="debug",
                qos=None, state="RUNNING", reason=None, priority=4294901747, nice=0,
                held=False, submit_time=NOW - 33, eligible_time=NOW - 33,
                start_time=NOW - 24, end_time=None, expected_start=None, time_limit=None,
                time_min=None, nodes=1, ntasks=1, cpus_per_task=1, cpus=1,
                mem_per_node=None, gpus=[], dependency=None, begin=None,
                work_dir="/tmp/fmtpeer", stdout=f"/tmp/fmtpeer/slurm-{job_id}.out",
                stderr=f"/tmp/fmtpeer/slurm-{job_id}.out", command="wrap",
                node_list="vm", cpu_ids=[0], gpu_ids=[], exit_code=0, signal=0,
                cpu_time=None, max_rss=None, restarts=0)
    info.update(fields)
    return info


def pending(job_id: int, **fields) -> dict:
    defaults = dict(state="PENDING", reason="Priority", start_time=None, node_list=None)
    return job(job_id, **{**defaults, **fields})


def lines(text: str) -> list[str]:
    assert text.endswith("\n")
    return text[:-1].split("\n")


# --- states ----------------------------------------------------------------------------

@pytest.mark.parametrize("name, code", [
    ("PENDING", "PD"), ("RUNNING", "R"), ("COMPLETING", "CG"), ("COMPLETED", "CD"),
    ("FAILED", "F"), ("CANCELLED", "CA"), ("TIMEOUT", "TO"), ("OUT_OF_MEMORY", "OOM"),
    ("NODE_FAIL", "NF"), ("PREEMPTED", "PR"), ("SUSPENDED", "S"), ("BOOT_FAIL", "BF"),
    ("DEADLINE", "DL"), ("REQUEUED", "RQ"),
])
def test_state_codes_are_slurms(name, code):
    assert formats.state_code(name) == code
    assert JobState.parse(code.lower()) is JobState[name]
    assert JobState.parse(name.lower()).code == code


def test_state_lists_take_codes_names_and_all():
    assert formats.parse_states("pd,RUNNING,cd") == {
        JobState.PENDING, JobState.RUNNING, JobState.COMPLETED}
    assert formats.parse_states("all") == frozenset(JobState)
    with pytest.raises(UnknownStateError, match="Invalid job state specified: bogus"):
        formats.parse_states("pd,bogus")


def test_an_unknown_state_lists_the_valid_names_in_slurms_order():
    with pytest.raises(UnknownStateError) as error:
        formats.parse_states("bogus")
    assert str(error.value).splitlines()[1].startswith(
        "Valid job states include: PENDING,RUNNING,SUSPENDED,COMPLETED,CANCELLED,FAILED,")


# --- squeue ----------------------------------------------------------------------------

SQUEUE_HEADER = ("             JOBID PARTITION     NAME     USER ST       TIME  NODES "
                 "NODELIST(REASON)")


def test_squeue_default_matches_slurm_line_for_line():
    out = formats.format_squeue([job(24, cpus=2, cpus_per_task=2)], None, now=NOW)
    assert lines(out) == [
        SQUEUE_HEADER,
        "                24     debug     wrap     root  R       0:24      1 vm",
    ]


def test_squeue_start_and_long_headers_match_slurm():
    start = formats.format_squeue([], formats.SQUEUE_START_FORMAT, now=NOW)
    assert lines(start) == [
        "             JOBID PARTITION     NAME     USER ST          START_TIME  NODES "
        "SCHEDNODES           NODELIST(REASON)"]
    long = formats.format_squeue([], formats.SQUEUE_LONG_FORMAT, now=NOW)
    assert lines(long) == [
        "             JOBID PARTITION     NAME     USER    STATE       TIME TIME_LIMI  "
        "NODES NODELIST(REASON)"]


def test_squeue_pending_start_line_matches_slurm():
    out = formats.format_squeue([pending(8, name="a", reason="JobHeldUser", priority=0)],
                                formats.SQUEUE_START_FORMAT, header=False, now=NOW)
    assert out == ("                 8     debug        a     root PD                 N/A"
                   "      1 (null)               (JobHeldUser)\n")


def test_squeue_names_are_cut_to_the_column_and_time_is_not():
    row = job(23, name="longnamejobxyz", start_time=NOW - 3 * 86400 - 7384)
    out = formats.format_squeue([row], "%.8j|%.1M|%.3i", header=False, now=NOW)
    assert out == "longname|3-02:03:04| 23\n"


def test_squeue_every_letter_has_slurms_header():
    fmt = "|".join("%" + c for c in "ijutTMlDRPSeVQCbaAKFrNcmLZoEqgUGYyp")
    header = lines(formats.format_squeue([], fmt, now=NOW))[0]
    assert header == (
        "JOBID|NAME|USER|ST|STATE|TIME|TIME_LIMIT|NODES|NODELIST(REASON)|PARTITION|"
        "START_TIME|END_TIME|SUBMIT_TIME|PRIORITY|CPUS|TRES_PER_NODE|ACCOUNT|JOBID|"
        "ARRAY_TASK_ID|ARRAY_JOB_ID|REASON|NODELIST|MIN_CPUS|MIN_MEMORY|TIME_LEFT|"
        "WORK_DIR|COMMAND|DEPENDENCY|QOS|GROUP|UID|GROUP|SCHEDNODES|NICE|PRIORITY")


def test_squeue_one_character_columns_cut_like_slurm():
    """A held job printed by Slurm with every field one character wide."""
    held = pending(117, name="truncchk", reason="JobHeldUser", priority=0, cpus=2,
                   cpus_per_task=2, submit_time=at(2026, 11, 25, 3, 52))
    fmt = ("%.1i|%.1u|%.1D|%.1R|%.1P|%.1t|%.1T|%.2V|%.1Q|%.1C|%.1l|%.1L|%.1S|%.1a|%.1r|"
           "%.1A|%.1K|%.1F|%.1Z|%.1m|%.1e|%.1b|%1j|%2p")
    assert lines(formats.format_squeue([held], fmt, now=NOW)) == [
        "J|U|N|NODELIST(REASON)|P|S|S|SU|P|C|T|T|S|A|R|J|A|A|W|M|E|T|N|PR",
        "1|r|1|(|d|P|P|20|0|2|U|U|N|(|J|1|N|1|/|0|N|N|t|0.",
    ]


def test_squeue_running_job_fields_as_slurm_prints_them():
    row = job(24, cpus=2, cpus_per_task=2, submit_time=NOW - 33)
    fmt = "%i|%j|%u|%t|%T|%M|%l|%D|%R|%P|%e|%Q|%C|%b|%a|%A|%K|%F|%r|%N|%c|%m|%L|%Z|%E|%q|%U|%y|%p"
    out = formats.format_squeue([row], fmt, header=False, now=NOW)
    assert out == ("24|wrap|root|R|RUNNING|0:24|UNLIMITED|1|vm|debug|NONE|4294901747|2|N/A|"
                   "(null)|24|N/A|24|None|vm|2|0|UNLIMITED|/tmp/fmtpeer|(null)|(null)|0|0|"
                   "0.99998473841697\n")


def test_squeue_times_and_limits():
    row = job(5, start_time=NOW - 90, time_limit=3600, submit_time=NOW - 100)
    out = formats.format_squeue([row], "%M|%l|%L|%S|%e|%V", header=False, now=NOW)
    assert out == "1:30|1:00:00|58:30|2026-11-25T03:47:44|2026-11-25T04:47:44|2026-11-25T03:47:34\n"


def test_squeue_time_left_is_invalid_past_the_limit_and_reasons_replace_nodes():
    timed_out = job(85, state="TIMEOUT", reason="TimeLimit", start_time=NOW - 72,
                    end_time=NOW - 10, time_limit=60)
    failed = job(100, state="FAILED", reason="NonZeroExitCode", start_time=NOW - 5,
                 end_time=NOW - 5, exit_code=3)
    done = job(7, state="COMPLETED", start_time=NOW - 9, end_time=NOW - 8)
    out = formats.format_squeue([timed_out, failed, done], "%i %t %L %M %R",
                                header=False, now=NOW)
    assert lines(out) == ["7 CD UNLIMITED 0:01 vm", "100 F UNLIMITED 0:00 (NonZeroExitCode)",
                          "85 TO INVALID 1:02 (TimeLimit)"]


def test_squeue_default_order_is_partition_state_then_priority():
    jobs = [job(1, partition="gpu"), pending(2, priority=10), pending(3, priority=30),
            job(4, state="COMPLETED", end_time=NOW), pending(5, priority=30),
            job(6, state="CANCELLED", start_time=None, node_list=None, end_time=NOW)]
    out = formats.format_squeue(jobs, "%i %P %t", header=False, now=NOW)
    assert lines(out) == ["6 debug CA", "4 debug CD", "3 debug PD", "5 debug PD",
                          "2 debug PD", "1 gpu R"]


def test_squeue_sort_option():
    jobs = [pending(2, priority=10), pending(3, priority=30), job(1)]
    assert formats.format_squeue(jobs, "%i", header=False, sort="-i", now=NOW) == "3\n2\n1\n"
    assert formats.format_squeue(jobs, "%i", header=False, sort="p", now=NOW) == "2\n3\n1\n"
    with pytest.raises(FormatError, match="Invalid sort specification: z"):
        formats.format_squeue(jobs, None, sort="z", now=NOW)


def test_pending_array_tasks_share_a_line_unless_expanded():
    tasks = [pending(25 + i, array_job_id=25, array_task_id=1 + i, reason="Resources")
             for i in range(5)]
    started = job(31, array_job_id=25, array_task_id=0)
    rows = tasks + [started]
    out = formats.format_squeue(rows, "%.18i %A %F %K %t", now=NOW)
    assert lines(out) == ["             JOBID JOBID ARRAY_JOB_ID ARRAY_TASK_ID ST",
                          "          25_[1-5] 25 25 1-5 PD",
                          "              25_0 31 25 0 R"]
    expanded = formats.format_squeue(rows, "%i", header=False, now=NOW, expand_arrays=True)
    assert lines(expanded) == ["25_1", "25_2", "25_3", "25_4", "25_5", "25_0"]


def test_squeue_widths_justify_and_literals():
    out = formats.format_squeue([job(24)], "%.5i|%10j|%10u|%%|x%ix", now=NOW)
    assert lines(out) == ["JOBID|NAME      |USER      |%|xJOBIDx",
                          "   24|wrap      |root      |%|x24x"]


def test_squeue_unknown_letter_is_refused_in_slurms_words():
    with pytest.raises(FormatError, match="Invalid job format specification: -"):
        formats.format_squeue([], "%-10j", now=NOW)


def test_squeue_named_fields_default_width_twenty():
    fields = ("JobID,Name,UserName,State,StateCompact,TimeUsed,TimeLimit,NumNodes,"
              "ReasonList,Partition,StartTime,SubmitTime,Priority,NumCPUs")
    row = job(24, cpus=2, start_time=at(2026, 11, 25, 3, 48, 50),
              submit_time=at(2026, 11, 25, 3, 48, 41))
    out = formats.format_squeue_fields([row], fields, now=NOW)
    values = ["24", "wrap", "root", "RUNNING", "R", "0:24", "UNLIMITED", "1", "vm",
              "debug", "2026-11-25T03:48:50", "2026-11-25T03:48:41", "0.99998473841697", "2"]
    assert lines(out) == [
        "JOBID               NAME                USER                STATE               "
        "ST                  TIME                TIME_LIMIT          NODES               "
        "NODELIST(REASON)    PARTITION           START_TIME          SUBMIT_TIME         "
        "PRIORITY            CPUS                ",
        "".join(v.ljust(20) for v in values)]


def test_squeue_named_fields_widths_right_justify_and_suffix():
    out = formats.format_squeue_fields([job(24)], "JobID:10,Name:.20,UserName:5,ArrayJobID",
                                       now=NOW)
    assert lines(out)[0] == "JOBID                     NAMEUSER ARRAY_JOB_ID        "
    assert lines(out)[1] == "24                        wraproot 24                  "
    assert formats.format_squeue_fields([job(24)], "JobID:|,Name:4", now=NOW) == \
        "JOBID|NAME\n24|wrap\n"


def test_squeue_named_array_fields():
    task = pending(115, array_job_id=114, array_task_id=3)
    out = formats.format_squeue_fields([task], "JobID:6,JobArrayID:7,ArrayJobID:4,"
                                       "ArrayTaskID:2", header=False, now=NOW)
    assert out == "115   114_3  114 3 \n"
    with pytest.raises(FormatError, match="Invalid job format specification: foo"):
        formats.format_squeue_fields([], "JobID,foo", now=NOW)


def test_squeue_knows_which_formats_need_start_forecasts():
    assert not formats.squeue_shows_times(None)
    assert formats.squeue_shows_times(formats.SQUEUE_START_FORMAT)
    assert formats.squeue_shows_times(None, "JobID,StartTime")
    assert not formats.squeue_shows_times(None, "JobID,State")


def test_squeue_gpus_memory_and_dependency():
    row = pending(9, gpus=[["a100", 2]], mem_per_node=16384, dependency="afterok:8")
    out = formats.format_squeue([row], "%b|%m|%E|%R", header=False, now=NOW)
    assert out == "gres:gpu:a100:2|16G|afterok:8|(Priority)\n"


# --- sacct -----------------------------------------------------------------------------

SACCT_DEFAULT_HEADER = [
    "JobID           JobName  Partition    Account  AllocCPUS      State ExitCode ",
    "------------ ---------- ---------- ---------- ---------- ---------- -------- ",
]


def finished(job_id: int, state: str = "COMPLETED", **fields) -> dict:
    defaults = dict(state=state, start_time=NOW - 120, end_time=NOW - 60, cpus=2)
    return job(job_id, **{**defaults, **fields})


def test_sacct_default_columns_and_batch_lines():
    rows = [finished(100, "FAILED", exit_code=3, reason="NonZeroExitCode"),
            pending(101, account="lab")]
    out = formats.format_sacct(rows, None, now=NOW)
    assert lines(out) == SACCT_DEFAULT_HEADER + [
        "100                wrap      debug                     2     FAILED      3:0 ",
        "100.batch         batch                                2     FAILED      3:0 ",
        "101                wrap      debug        lab          0    PENDING      0:0 ",
    ]


def test_sacct_allocations_only_drops_batch_lines():
    out = formats.format_sacct([finished(7)], None, steps=False, now=NOW)
    assert lines(out)[2:] == [
        "7                  wrap      debug                     2  COMPLETED      0:0 "]


def test_sacct_headers_and_widths_match_slurm():
    fields = ("JobID,JobIDRaw,JobName,User,Partition,Account,AllocCPUS,State,ExitCode")
    assert lines(formats.format_sacct([], fields, now=NOW)) == [
        "JobID        JobIDRaw        JobName      User  Partition    Account  AllocCPUS "
        "     State ExitCode ",
        "------------ ------------ ---------- --------- ---------- ---------- ---------- "
        "---------- -------- "]
    fields = ("Elapsed,ElapsedRaw,CPUTime,CPUTimeRAW,TotalCPU,MaxRSS,Submit,Start,End,"
              "Timelimit,NodeList,NNodes,ReqMem,WorkDir,Reason,Priority")
    assert lines(formats.format_sacct([], fields, now=NOW))[0] == (
        "   Elapsed ElapsedRaw    CPUTime CPUTimeRAW   TotalCPU     MaxRSS              "
        "Submit               Start                 End  Timelimit        NodeList   "
        "NNodes     ReqMem              WorkDir                 Reason   Priority ")
    fields = "Group,GID,UID,QOS,NCPUS,NTasks,ReqCPUS,Eligible,AllocTRES,ReqTRES"
    assert lines(formats.format_sacct([], fields, now=NOW))[0] == (
        "    Group    GID    UID        QOS      NCPUS   NTasks  ReqCPUS            "
        "Eligible  AllocTRES    ReqTRES ")


def test_sacct_field_names_ignore_case_and_unknown_ones_are_refused():
    assert lines(formats.format_sacct([], "jobid,STATE,elapsedraw", now=NOW))[0] == \
        "JobID             State ElapsedRaw "
    with pytest.raises(FormatError, match='Invalid field requested: "bogus"'):
        formats.format_sacct([], "JobID,bogus", now=NOW)


def test_sacct_widths_right_left_and_the_plus_for_long_values():
    out = formats.format_sacct([finished(4, "FAILED", exit_code=1)],
                               "JobID%20,State%-5,JobName%3", steps=False, now=NOW)
    assert lines(out) == ["               JobID State Job ",
                          "-------------------- ----- --- ",
                          "                   4 FAIL+ wr+ "]


def test_sacct_parsable_forms():
    rows = [finished(7, start_time=at(2026, 11, 25, 3, 47, 43))]
    two = formats.format_sacct(rows, "JobID,State,Start", parsable2=True, now=NOW)
    assert lines(two) == ["JobID|State|Start", "7|COMPLETED|2026-11-25T03:47:43",
                          "7.batch|COMPLETED|2026-11-25T03:47:43"]
    one = formats.format_sacct(rows, "JobID,State", parsable=True, steps=False,
                               header=False, now=NOW)
    assert one == "7|COMPLETED|\n"


def test_sacct_usage_fields():
    row = finished(12, start_time=NOW - (86400 + 2 * 3600 + 3 * 60 + 4), end_time=NOW,
                   cpus=4, cpu_time=61.5, max_rss=1234, mem_per_node=4096,
                   time_limit=2 * 86400, gpus=[[None, 1]])
    fields = ("Elapsed,ElapsedRaw,CPUTime,CPUTimeRAW,TotalCPU,MaxRSS,ReqMem,Timelimit,"
              "AllocTRES,NNodes,NodeList")
    out = formats.format_sacct([row], fields, parsable2=True, header=False, now=NOW)
    job_line, batch_line = lines(out)
    assert job_line == ("1-02:03:04|93784|4-08:12:16|375136|01:01.500|1234K|4G|2-00:00:00|"
                        "cpu=4,mem=4G,node=1,billing=4,gres/gpu=1|1|vm")
    assert batch_line.split("|")[:6] == ["1-02:03:04", "93784", "4-08:12:16", "375136",
                                         "01:01.500", "1234K"]


@pytest.mark.parametrize("kib, text", [(0, "0"), (1234, "1234K"), (2048, "2M"),
                                       (3 * 1024 * 1024, "3G"), (1536, "1536K")])
def test_memory_prints_in_the_largest_exact_unit(kib, text):
    assert formats.format_size(kib, "K") == text


def test_sacct_exit_codes_and_timeouts():
    rows = [finished(101, "FAILED", signal=9, reason="JobLaunchFailure"),
            finished(85, "TIMEOUT", signal=15, reason="TimeLimit", time_limit=60),
            finished(23, "CANCELLED", signal=15)]
    out = formats.format_sacct(rows, "JobID,State,ExitCode", parsable2=True,
                               header=False, now=NOW)
    assert lines(out) == ["23|CANCELLED|0:15", "23.batch|CANCELLED|0:15",
                          "85|TIMEOUT|0:15", "85.batch|CANCELLED|0:15",
                          "101|FAILED|0:9", "101.batch|FAILED|0:9"]


def test_sacct_running_and_pending_times():
    rows = [job(24, start_time=NOW - 24), pending(30)]
    out = formats.format_sacct(rows, "JobID,Start,End,Elapsed,NodeList", parsable2=True,
                               header=False, now=NOW)
    assert lines(out) == ["24|2026-11-25T03:48:50|Unknown|00:00:24|vm",
                          "24.batch|2026-11-25T03:48:50|Unknown|00:00:24|vm",
                          "30|Unknown|Unknown|00:00:00|None assigned"]


def test_sacct_array_ids():
    rows = [finished(85, array_job_id=84, array_task_id=1),
            pending(90, array_job_id=88, array_task_id=2),
            pending(91, array_job_id=88, array_task_id=3)]
    out = formats.format_sacct(rows, "JobID,JobIDRaw", parsable2=True, header=False,
                               steps=False, now=NOW)
    assert lines(out) == ["84_1|85", "88_[2-3]|90"]


# --- sinfo -----------------------------------------------------------------------------

PEER_PARTITION = dict(name="debug", default=True, up=True, max_time=None, default_time=None,
                      max_nodes=None, nodes=["vm"], priority_tier=1, total_cpus=2,
                      total_nodes=1)
PEER_NODE = dict(name="vm", state="allocated", cpus=2, cpus_alloc=2, mem=23081,
                 mem_alloc=23081, gpus={}, gpus_alloc={}, partitions=["debug"], features=[],
                 boot_time=None, os="Linux")


def test_sinfo_outputs_match_the_peer():
    p, n = [PEER_PARTITION], [PEER_NODE]
    assert lines(formats.format_sinfo(p, n)) == [
        "PARTITION AVAIL  TIMELIMIT  NODES  STATE NODELIST",
        "debug*       up   infinite      1  alloc vm"]
    assert lines(formats.format_sinfo(p, n, node_oriented=True)) == [
        "NODELIST   NODES PARTITION STATE ", "vm             1    debug* alloc "]
    assert lines(formats.format_sinfo(p, n, summarize=True)) == [
        "PARTITION AVAIL  TIMELIMIT   NODES(A/I/O/T) NODELIST",
        "debug*       up   infinite          1/0/0/1 vm"]
    assert lines(formats.format_sinfo(p, n, long=True)) == [
        "PARTITION AVAIL  TIMELIMIT   JOB_SIZE ROOT OVERSUBS     GROUPS  NODES       STATE "
        "NODELIST",
        "debug*       up   infinite 1-infinite   no       NO        all      1   allocated vm"]
    assert lines(formats.format_sinfo(p, n, node_oriented=True, long=True))[0] == (
        "NODELIST   NODES PARTITION       STATE CPUS    S:C:T MEMORY TMP_DISK WEIGHT "
        "AVAIL_FE REASON              ")
    assert lines(formats.format_sinfo(p, n, "%P|%a|%l|%D|%t|%T|%N|%c|%m|%G|%C|%F")) == [
        "PARTITION|AVAIL|TIMELIMIT|NODES|STATE|STATE|NODELIST|CPUS|MEMORY|GRES|"
        "CPUS(A/I/O/T)|NODES(A/I/O/T)",
        "debug*|up|infinite|1|alloc|allocated|vm|2|23081|(null)|2/0/0/2|1/0/0/1"]


def gpu_cluster() -> tuple[list[dict], list[dict]]:
    partition = dict(PEER_PARTITION, name="gpu", default=False, max_time=2 * 86400,
                     nodes=["n01", "n02", "n03", "n10"], total_cpus=32, total_nodes=4)
    def node(name, state, alloc=0):
        return dict(PEER_NODE, name=name, state=state, cpus=8, cpus_alloc=alloc, mem=64000,
                    mem_alloc=0, gpus={"a100": 4}, partitions=["gpu"])
    nodes = [node("n10", "drain"), node("n02", "idle"), node("n01", "idle"),
             node("n03", "mixed", 2)]
    return [PEER_PARTITION, partition], [PEER_NODE] + nodes


def test_sinfo_groups_nodes_by_partition_and_state():
    partitions, nodes = gpu_cluster()
    assert lines(formats.format_sinfo(partitions, nodes, header=False)) == [
        "debug*       up   infinite      1  alloc vm",
        "gpu          up 2-00:00:00      2   idle n[01-02]",
        "gpu          up 2-00:00:00      1    mix n03",
        "gpu          up 2-00:00:00      1  drain n10"]
    assert lines(formats.format_sinfo(partitions, nodes, "%R %C %F %G", header=False)) == [
        "debug 2/0/0/2 1/0/0/1 (null)", "gpu 2/22/8/32 1/2/1/4 gpu:a100:4"]
    assert formats.format_sinfo(partitions, nodes, "%R %N", summarize=True,
                                header=False).splitlines()[1] == "gpu n[01-03,10]"


def test_sinfo_node_lines_are_sorted_by_name():
    partitions, nodes = gpu_cluster()
    out = formats.format_sinfo(partitions, nodes, node_oriented=True, header=False)
    assert [line.split()[0] for line in lines(out)] == ["n01", "n02", "n03", "n10", "vm"]
    assert lines(out)[3] == "n10            1       gpu drain "


# --- scontrol --------------------------------------------------------------------------

def test_scontrol_job_record_has_slurms_layout():
    row = job(24, cpus=2, cpus_per_task=2, submit_time=at(2026, 11, 25, 3, 48, 41), eligible_time=at(2026, 11, 25, 3, 48, 41),
              start_time=at(2026, 11, 25, 3, 48, 50), command=None)
    text = formats.format_scontrol_job(row, now=NOW)
    record = text.split("\n")
    assert text.endswith("\n\n")
    assert record[:6] == [
        "JobId=24 JobName=wrap",
        "   UserId=root(0) GroupId=root(0) MCS_label=N/A",
        "   Priority=4294901747 Nice=0 Account=(null) QOS=(null)",
        "   JobState=RUNNING Reason=None Dependency=(null)",
        "   Requeue=1 Restarts=0 BatchFlag=1 Reboot=0 ExitCode=0:0",
        "   RunTime=00:00:24 TimeLimit=UNLIMITED TimeMin=N/A"]
    for line in ["   SubmitTime=2026-11-25T03:48:41 EligibleTime=2026-11-25T03:48:41",
                 "   StartTime=2026-11-25T03:48:50 EndTime=Unknown Deadline=N/A",
                 "   NodeList=vm", "   BatchHost=vm", "   Command=(null)",
                 "   WorkDir=/tmp/fmtpeer", "   StdErr=/tmp/fmtpeer/slurm-24.out",
                 "   StdIn=/dev/null", "   StdOut=/tmp/fmtpeer/slurm-24.out"]:
        assert line in record


def test_scontrol_array_task_and_limits():
    row = pending(26, array_job_id=25, array_task_id=2, time_limit=90 * 60,
                  gpus=[["a100", 1]], exit_code=0)
    text = formats.format_scontrol_job(row, now=NOW)
    assert text.startswith("JobId=26 ArrayJobId=25 ArrayTaskId=2 JobName=wrap\n")
    assert "   RunTime=00:00:00 TimeLimit=01:30:00 TimeMin=N/A\n" in text
    assert "   TresPerNode=gres:gpu:a100:1\n" in text
    one = formats.format_scontrol_job(row, now=NOW, oneliner=True)
    assert one.count("\n") == 1 and "JobState=PENDING Reason=Priority" in one


def test_scontrol_node_and_partition_records():
    node = formats.format_scontrol_node(PEER_NODE).split("\n")
    assert node[0] == "NodeName=vm"
    assert "   CPUAlloc=2 CPUEfctv=2 CPUTot=2" in node
    assert "   State=ALLOCATED" in node
    assert "   CfgTRES=cpu=2,mem=23081M,billing=2" in node
    assert "   AllocTRES=cpu=2,mem=23081M" in node
    drained = formats.format_scontrol_node(dict(PEER_NODE, state="drain", cpus_alloc=0))
    assert "   State=IDLE+DRAIN\n" in drained
    partition = formats.format_scontrol_partition(PEER_PARTITION).split("\n")
    assert partition[:3] == ["PartitionName=debug",
                             "   AllowGroups=ALL AllowAccounts=ALL AllowQos=ALL",
                             "   AllocNodes=ALL Default=YES QoS=N/A"]
    assert "   Nodes=vm" in partition
    assert "   State=UP TotalCPUs=2 TotalNodes=1" in partition


# --- sprio and sshare ------------------------------------------------------------------

PRIORITY_ROW = dict(job_id=12, user="alice", account="lab", partition="gpu", priority=12345,
                    factors=dict(age=100, fairshare=5000.4, jobsize=10, partition=1000,
                                 qos=0, site=0, nice=-5))


def test_sprio_default_and_long():
    assert lines(formats.format_sprio([PRIORITY_ROW])) == [
        "          JOBID PARTITION   PRIORITY       SITE        AGE  FAIRSHARE    JOBSIZE  "
        "PARTITION        QOS",
        "             12 gpu            12345          0        100       5000         10  "
        "     1000          0"]
    long = lines(formats.format_sprio([PRIORITY_ROW], long=True))
    assert long[0].split() == ["JOBID", "PARTITION", "USER", "PRIORITY", "SITE", "AGE",
                               "FAIRSHARE", "JOBSIZE", "PARTITION", "QOS", "NICE"]
    assert long[1].endswith("          -5")


def test_sprio_sorts_by_job_id_and_takes_formats():
    rows = [dict(PRIORITY_ROW, job_id=13), PRIORITY_ROW]
    assert formats.format_sprio(rows, "%i %u %Y", header=False) == \
        "12 alice 12345\n13 alice 12345\n"


SHARE_ROWS = [dict(account="root", user="", raw_shares=None, norm_shares=0.0,
                   raw_usage=123456, effective_usage=1.0, fairshare=None),
              dict(account="lab", user="alice", raw_shares=1, norm_shares=0.5,
                   raw_usage=100.4, effective_usage=0.25, fairshare=0.7)]


def test_sshare_matches_the_peers_header_and_layout():
    assert lines(formats.format_sshare(SHARE_ROWS)) == [
        "Account                    User  RawShares  NormShares    RawUsage  EffectvUsage  "
        "FairShare ",
        "-------------------- ---------- ---------- ----------- ----------- ------------- "
        "---------- ",
        "root                                          0.000000      123456      1.000000 "
        "           ",
        " lab                      alice          1    0.500000         100      0.250000 "
        "  0.700000 "]
    long = lines(formats.format_sshare([], long=True))[0]
    assert long.startswith("Account                    User  RawShares  NormShares    "
                           "RawUsage   NormUsage  EffectvUsage  FairShare    LevelFS ")


def test_sshare_parsable_forms():
    assert lines(formats.format_sshare(SHARE_ROWS[1:], parsable2=True)) == [
        "Account|User|RawShares|NormShares|RawUsage|EffectvUsage|FairShare",
        " lab|alice|1|0.500000|100|0.250000|0.700000"]
    assert formats.format_sshare([], parsable=True) == \
        "Account|User|RawShares|NormShares|RawUsage|EffectvUsage|FairShare|\n"
