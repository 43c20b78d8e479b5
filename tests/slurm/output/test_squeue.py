"""squeue's output, letter by letter and name by name: headers, widths, cuts, order,
array lines."""

from __future__ import annotations

import pytest

from kairos.slurm.output.columns import FormatError
from kairos.slurm.output.squeue import (
    SQUEUE_LONG_FORMAT, SQUEUE_START_FORMAT, format_squeue, format_squeue_fields,
    squeue_shows_times,
)
from tests.slurm.output.conftest import NOW, at, job, lines, pending


SQUEUE_HEADER = ("             JOBID PARTITION     NAME     USER ST       TIME  NODES "
                 "NODELIST(REASON)")


def test_squeue_default_matches_slurm_line_for_line():
    out = format_squeue([job(24, cpus=2, cpus_per_task=2)], None, now=NOW)
    assert lines(out) == [
        SQUEUE_HEADER,
        "                24     debug     wrap     root  R       0:24      1 vm",
    ]


def test_squeue_start_and_long_headers_match_slurm():
    start = format_squeue([], SQUEUE_START_FORMAT, now=NOW)
    assert lines(start) == [
        "             JOBID PARTITION     NAME     USER ST          START_TIME  NODES "
        "SCHEDNODES           NODELIST(REASON)"]
    long = format_squeue([], SQUEUE_LONG_FORMAT, now=NOW)
    assert lines(long) == [
        "             JOBID PARTITION     NAME     USER    STATE       TIME TIME_LIMI  "
        "NODES NODELIST(REASON)"]


def test_squeue_pending_start_line_matches_slurm():
    out = format_squeue([pending(8, name="a", reason="JobHeldUser", priority=0)],
                                SQUEUE_START_FORMAT, header=False, now=NOW)
    assert out == ("                 8     debug        a     root PD                 N/A"
                   "      1 (null)               (JobHeldUser)\n")


def test_squeue_names_are_cut_to_the_column_and_time_is_not():
    row = job(23, name="longnamejobxyz", start_time=NOW - 3 * 86400 - 7384)
    out = format_squeue([row], "%.8j|%.1M|%.3i", header=False, now=NOW)
    assert out == "longname|3-02:03:04| 23\n"


def test_squeue_every_letter_has_slurms_header():
    fmt = "|".join("%" + c for c in "ijutTMlDRPSeVQCbaAKFrNcmLZoEqgUGYyp")
    header = lines(format_squeue([], fmt, now=NOW))[0]
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
    assert lines(format_squeue([held], fmt, now=NOW)) == [
        "J|U|N|NODELIST(REASON)|P|S|S|SU|P|C|T|T|S|A|R|J|A|A|W|M|E|T|N|PR",
        "1|r|1|(|d|P|P|20|0|2|U|U|N|(|J|1|N|1|/|0|N|N|t|0.",
    ]


def test_squeue_running_job_fields_as_slurm_prints_them():
    row = job(24, cpus=2, cpus_per_task=2, submit_time=NOW - 33)
    fmt = "%i|%j|%u|%t|%T|%M|%l|%D|%R|%P|%e|%Q|%C|%b|%a|%A|%K|%F|%r|%N|%c|%m|%L|%Z|%E|%q|%U|%y|%p"
    out = format_squeue([row], fmt, header=False, now=NOW)
    assert out == ("24|wrap|root|R|RUNNING|0:24|UNLIMITED|1|vm|debug|NONE|4294901747|2|N/A|"
                   "(null)|24|N/A|24|None|vm|2|0|UNLIMITED|/tmp/fmtpeer|(null)|(null)|0|0|"
                   "0.99998473841697\n")


def test_squeue_times_and_limits():
    row = job(5, start_time=NOW - 90, time_limit=3600, submit_time=NOW - 100)
    out = format_squeue([row], "%M|%l|%L|%S|%e|%V", header=False, now=NOW)
    assert out == "1:30|1:00:00|58:30|2026-11-25T03:47:44|2026-11-25T04:47:44|2026-11-25T03:47:34\n"


def test_squeue_time_left_is_invalid_past_the_limit_and_reasons_replace_nodes():
    timed_out = job(85, state="TIMEOUT", reason="TimeLimit", start_time=NOW - 72,
                    end_time=NOW - 10, time_limit=60)
    failed = job(100, state="FAILED", reason="NonZeroExitCode", start_time=NOW - 5,
                 end_time=NOW - 5, exit_code=3)
    done = job(7, state="COMPLETED", start_time=NOW - 9, end_time=NOW - 8)
    out = format_squeue([timed_out, failed, done], "%i %t %L %M %R",
                                header=False, now=NOW)
    assert lines(out) == ["7 CD UNLIMITED 0:01 vm", "100 F UNLIMITED 0:00 (NonZeroExitCode)",
                          "85 TO INVALID 1:02 (TimeLimit)"]


def test_squeue_default_order_is_partition_state_then_priority():
    jobs = [job(1, partition="gpu"), pending(2, priority=10), pending(3, priority=30),
            job(4, state="COMPLETED", end_time=NOW), pending(5, priority=30),
            job(6, state="CANCELLED", start_time=None, node_list=None, end_time=NOW)]
    out = format_squeue(jobs, "%i %P %t", header=False, now=NOW)
    assert lines(out) == ["6 debug CA", "4 debug CD", "3 debug PD", "5 debug PD",
                          "2 debug PD", "1 gpu R"]


def test_squeue_sort_option():
    jobs = [pending(2, priority=10), pending(3, priority=30), job(1)]
    assert format_squeue(jobs, "%i", header=False, sort="-i", now=NOW) == "3\n2\n1\n"
    assert format_squeue(jobs, "%i", header=False, sort="p", now=NOW) == "2\n3\n1\n"
    with pytest.raises(FormatError, match="Invalid sort specification: z"):
        format_squeue(jobs, None, sort="z", now=NOW)


def test_pending_array_tasks_share_a_line_unless_expanded():
    tasks = [pending(25 + i, array_job_id=25, array_task_id=1 + i, reason="Resources")
             for i in range(5)]
    started = job(31, array_job_id=25, array_task_id=0)
    rows = tasks + [started]
    out = format_squeue(rows, "%.18i %A %F %K %t", now=NOW)
    assert lines(out) == ["             JOBID JOBID ARRAY_JOB_ID ARRAY_TASK_ID ST",
                          "          25_[1-5] 25 25 1-5 PD",
                          "              25_0 31 25 0 R"]
    expanded = format_squeue(rows, "%i", header=False, now=NOW, expand_arrays=True)
    assert lines(expanded) == ["25_1", "25_2", "25_3", "25_4", "25_5", "25_0"]


def test_squeue_widths_justify_and_literals():
    out = format_squeue([job(24)], "%.5i|%10j|%10u|%%|x%ix", now=NOW)
    assert lines(out) == ["JOBID|NAME      |USER      |%|xJOBIDx",
                          "   24|wrap      |root      |%|x24x"]


def test_squeue_unknown_letter_is_refused_in_slurms_words():
    with pytest.raises(FormatError, match="Invalid job format specification: -"):
        format_squeue([], "%-10j", now=NOW)


def test_squeue_named_fields_default_width_twenty():
    fields = ("JobID,Name,UserName,State,StateCompact,TimeUsed,TimeLimit,NumNodes,"
              "ReasonList,Partition,StartTime,SubmitTime,Priority,NumCPUs")
    row = job(24, cpus=2, start_time=at(2026, 11, 25, 3, 48, 50),
              submit_time=at(2026, 11, 25, 3, 48, 41))
    out = format_squeue_fields([row], fields, now=NOW)
    values = ["24", "wrap", "root", "RUNNING", "R", "0:24", "UNLIMITED", "1", "vm",
              "debug", "2026-11-25T03:48:50", "2026-11-25T03:48:41", "0.99998473841697", "2"]
    assert lines(out) == [
        "JOBID               NAME                USER                STATE               "
        "ST                  TIME                TIME_LIMIT          NODES               "
        "NODELIST(REASON)    PARTITION           START_TIME          SUBMIT_TIME         "
        "PRIORITY            CPUS                ",
        "".join(v.ljust(20) for v in values)]


def test_squeue_named_fields_widths_right_justify_and_suffix():
    out = format_squeue_fields([job(24)], "JobID:10,Name:.20,UserName:5,ArrayJobID",
                                       now=NOW)
    assert lines(out)[0] == "JOBID                     NAMEUSER ARRAY_JOB_ID        "
    assert lines(out)[1] == "24                        wraproot 24                  "
    assert format_squeue_fields([job(24)], "JobID:|,Name:4", now=NOW) == \
        "JOBID|NAME\n24|wrap\n"


def test_squeue_named_array_fields():
    task = pending(115, array_job_id=114, array_task_id=3)
    out = format_squeue_fields([task], "JobID:6,JobArrayID:7,ArrayJobID:4,"
                                       "ArrayTaskID:2", header=False, now=NOW)
    assert out == "115   114_3  114 3 \n"
    with pytest.raises(FormatError, match="Invalid job format specification: foo"):
        format_squeue_fields([], "JobID,foo", now=NOW)


def test_squeue_knows_which_formats_need_start_forecasts():
    assert not squeue_shows_times(None)
    assert squeue_shows_times(SQUEUE_START_FORMAT)
    assert squeue_shows_times(None, "JobID,StartTime")
    assert not squeue_shows_times(None, "JobID,State")


def test_squeue_gpus_memory_and_dependency():
    row = pending(9, gpus=[["a100", 2]], mem_per_node=16384, dependency="afterok:8")
    out = format_squeue([row], "%b|%m|%E|%R", header=False, now=NOW)
    assert out == "gres:gpu:a100:2|16G|afterok:8|(Priority)\n"


def test_squeue_priorities_print_as_whole_numbers():
    """The wire carries priorities as floats; Slurm prints whole numbers."""
    rows = [job(24, priority=4294901747.0), job(25, priority=1000.7)]
    out = format_squeue(rows, "%i|%Q|%p", header=False, sort="A", now=NOW)
    assert lines(out) == ["24|4294901747|0.99998473841697", "25|1000|0.00000023283064"]
