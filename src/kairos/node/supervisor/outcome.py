"""How a job ended, as ``status.json`` says it: the state, the reason, the usage.

The states are the names of :class:`kairos.core.jobs.JobState` members, which is how the
agent reads them back; the supervisor keeps its own small enum because it imports
nothing outside the standard library.
"""

from __future__ import annotations

import enum
import os
import time

from kairos.node.supervisor.files import write_json_atomic


class Outcome(enum.Enum):
    """The states a supervisor writes into status.json."""

    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    TIMEOUT = "TIMEOUT"
    CANCELLED = "CANCELLED"
    OUT_OF_MEMORY = "OUT_OF_MEMORY"


#: The reason given for each ending the supervisor brings about itself.
DECIDED_REASONS = {Outcome.TIMEOUT: "TimeLimit", Outcome.CANCELLED: "Cancelled", Outcome.OUT_OF_MEMORY: "OutOfMemory"}


def exit_code_and_signal(wait_status: int) -> tuple[int, int]:
    """``(exit code, signal)`` from a wait status; the one that does not apply is 0."""
    exit_code = os.WEXITSTATUS(wait_status) if os.WIFEXITED(wait_status) else 0
    signum = os.WTERMSIG(wait_status) if os.WIFSIGNALED(wait_status) else 0
    return exit_code, signum


def judge(ending: Outcome | None, exit_code: int, signum: int, launch_error: str) -> tuple[Outcome, str]:
    """The state and reason: the supervisor's own decision first, then how the script ended."""
    if ending is not None:
        return ending, DECIDED_REASONS[ending]
    if launch_error:
        return Outcome.FAILED, launch_error
    if signum:
        return Outcome.FAILED, f"RaisedSignal:{signum}"
    if exit_code:
        return Outcome.FAILED, "NonZeroExitCode"
    return Outcome.COMPLETED, ""


def write_status(jobdir: str, state: Outcome, reason: str, *, exit_code: int, signum: int,
                 start: float, end: float, cpu_time: float, max_rss_kib: int) -> None:
    """status.json, the job's last word."""
    write_json_atomic(os.path.join(jobdir, "status.json"), {
        "state": state.value,
        "exit_code": exit_code,
        "signal": signum,
        "start": start,
        "end": end,
        "cpu_time": cpu_time,
        "max_rss_kib": max_rss_kib,
        "reason": reason,
    })


def write_launch_failure(jobdir: str, reason: str) -> None:
    """status.json for a job that never started."""
    now = time.time()
    write_status(jobdir, Outcome.FAILED, f"JobLaunchFailure: {reason}",
                 exit_code=1, signum=0, start=now, end=now, cpu_time=0.0, max_rss_kib=0)


def judge_step(ending: Outcome | None, launch_error: str, results: list[tuple[int, int, int]],
               requested: set[int]) -> tuple[Outcome, str]:
    """A step's state and reason from its tasks' ``(task, exit code, signal)``.

    The supervisor's own decision first; then a task that failed by itself (a non-zero
    exit, a signal nobody asked for) fails the step; a task killed by a signal sent on
    request (``requested``: the agent's ``signal_step``) cancels it.
    """
    if ending is not None:
        return ending, DECIDED_REASONS[ending]
    if launch_error:
        return Outcome.FAILED, launch_error
    for task, exit_code, signum in results:
        if signum and signum not in requested:
            return Outcome.FAILED, f"RaisedSignal:{signum}"
    if any(exit_code for _, exit_code, _ in results):
        return Outcome.FAILED, "NonZeroExitCode"
    if any(signum for _, _, signum in results):
        return Outcome.CANCELLED, "Cancelled"
    return Outcome.COMPLETED, ""


def step_exit(results: list[tuple[int, int, int]]) -> tuple[int, int]:
    """The step's ``(exit code, signal)``: the highest exit code, and the signal that
    ended the first task killed by one."""
    exit_code = max((code for _, code, _ in results), default=0)
    signum = next((sig for _, _, sig in results if sig), 0)
    return exit_code, signum


def write_step_status(jobdir: str, state: Outcome, reason: str, *, results: list[tuple[int, int, int]],
                      start: float, end: float, cpu_time: float, max_rss_kib: int, io_error: str) -> None:
    """status.json of a step: the batch fields plus each task's end and what became of
    the connection to srun (``io_error``: empty when the output reached it)."""
    exit_code, signum = step_exit(results)
    write_json_atomic(os.path.join(jobdir, "status.json"), {
        "kind": "step",
        "state": state.value,
        "exit_code": exit_code,
        "signal": signum,
        "tasks": [{"task": task, "exit_code": code, "signal": sig} for task, code, sig in results],
        "start": start,
        "end": end,
        "cpu_time": cpu_time,
        "max_rss_kib": max_rss_kib,
        "reason": reason,
        "io_error": io_error,
    })
