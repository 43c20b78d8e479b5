"""How srun writes its tasks' output and reports their ends (the peer's behaviour:
``srun -n12 -O -l echo hi``, ``srun -l printf partial``, a task exiting 3, one killed)."""

from __future__ import annotations

import signal

import pytest

from kairos.slurm.step_output import LINE_LIMIT, StepOutput
from kairos.slurm.step_report import (
    describe_signal, exit_status, failure_lines, status_lines, task_ranges, tasks_phrase,
)


def test_lines_are_held_until_their_newline_and_never_mix():
    out = StepOutput(2)
    assert out.feed(0, b"x") == b""
    assert out.feed(1, b"x") == b""
    assert out.feed(0, b"y\nz") == b"xy\n"
    assert out.feed(1, b"y\n") == b"xy\n"
    assert out.end(0) == b"z"  # the rest, as is (the peer: no newline added)
    assert out.close() == b""


def test_labels_are_padded_to_the_widest_task_number():
    assert StepOutput(12, label=True).feed(3, b"hi\n") == b" 3: hi\n"
    assert StepOutput(10, label=True).feed(3, b"hi\n") == b"3: hi\n"
    out = StepOutput(2, label=True)
    assert out.feed(0, b"a\nb") == b"0: a\n"
    assert out.feed(0, b"c\n") == b"0: bc\n"
    assert out.feed(1, b"partial") == b""
    assert out.close() == b"1: partial\n"  # labelled: ended with a newline


def test_unbuffered_output_goes_as_it_comes_labelled_at_line_starts():
    out = StepOutput(2, unbuffered=True)
    assert out.feed(0, b"x") == b"x"
    labelled = StepOutput(2, label=True, unbuffered=True)
    assert labelled.feed(1, b"a") == b"1: a"
    assert labelled.feed(1, b"b\nc") == b"b\n1: c"
    assert labelled.end(1) == b"\n"


def test_a_line_without_end_is_written_in_pieces():
    out = StepOutput(1)
    assert out.feed(0, b"x" * (LINE_LIMIT + 1)) == b"x" * (LINE_LIMIT + 1)


def test_binary_output_passes_untouched():
    data = bytes(range(256)) * 4
    out = StepOutput(1)
    assert out.feed(0, data) + out.end(0) == data


@pytest.mark.parametrize("tasks, text", [
    ([0], "0"), ([0, 1], "0-1"), ([3, 0, 2, 1, 7], "0-3,7"), ([0, 2, 3, 5], "0,2-3,5")])
def test_task_ranges(tasks, text):
    assert task_ranges(tasks) == text


def test_failure_lines_group_tasks_that_ended_alike():
    endings = {0: (3, 0), 1: (3, 0), 2: (0, 0), 3: (0, signal.SIGKILL), 4: (0, signal.SIGSEGV)}
    assert failure_lines("vm", endings) == [
        "srun: error: vm: tasks 0-1: Exited with exit code 3",
        "srun: error: vm: task 3: Killed",
        "srun: error: vm: task 4: Segmentation fault"]
    assert failure_lines("vm", {0: (0, signal.SIGINT)}, skip_signals=frozenset({signal.SIGINT})) == []
    assert describe_signal(signal.SIGUSR1) == "User defined signal 1"
    assert tasks_phrase([1]) == "task 1"


@pytest.mark.parametrize("endings, status", [
    ([(0, 0), (0, 0)], 0),
    ([(3, 0), (0, 0)], 3),
    ([(5, 0), (2, 0)], 5),                            # the highest code
    ([(0, signal.SIGKILL)], 137),
    ([(200, 0), (0, signal.SIGUSR1)], 138),          # a signal outweighs a code (the peer)
    ([(0, signal.SIGHUP), (0, signal.SIGUSR1)], 138),  # the highest signal
])
def test_exit_status_follows_the_peer(endings, status):
    assert exit_status(endings) == status


def test_status_lines_on_a_first_ctrl_c():
    assert status_lines("12.0", [0, 1, 2, 3], {0: (0, 0), 3: (4, 0)}) == [
        "srun: StepId=12.0 tasks 1-2: running",
        "srun: StepId=12.0 task 0: exited",
        "srun: StepId=12.0 task 3: exited abnormally"]
