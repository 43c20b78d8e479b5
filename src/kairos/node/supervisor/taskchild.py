"""What runs in one forked task of a job step, from ``fork()`` to ``execve()`` of its command.

Every task of the step joins one process group (led by the first task), inside the
supervisor's own session, which the agent created for the step: a signal for the step
reaches the group, and the supervisor stays out of it. A task waits for the
supervisor's go-ahead (state.json written, the task in its cgroup), takes its three
descriptors, becomes the user and enters the step's directory and cores the way a batch
job does (:mod:`kairos.node.supervisor.child`), then ``exec``s the command, searched on
the step's ``PATH``. A command that cannot be executed ends the task as Slurm 22.05
ends it: a line on the task's stderr and the ``errno`` as its exit code (2 for a missing
command).
"""

from __future__ import annotations

import os

from kairos.node.supervisor.child import LaunchError, become_user, child_fail, enter_work_dir, pin_cpus, reset_signals, say
from kairos.node.supervisor.steplaunch import StepLaunch


def run_task(launch: StepLaunch, env: dict[str, str], fds: list[int], pgid: int,
             go: int, error: int, blocked: set) -> None:
    """In the forked child: become the task and exec its command. Never returns.

    ``pgid``: the step's process group (0 for the first task, which founds it); ``go``:
    the supervisor's go-ahead, one byte per task; ``error``: where a launch failure is
    told; ``blocked``: the signals the supervisor blocked around the fork.
    """
    try:
        reset_signals(blocked)
        _join_group(pgid)
        if not os.read(go, 1):  # the supervisor died before letting us go
            os._exit(1)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        become_user(launch)
        _umask(env.get("SLURM_UMASK"))
        enter_work_dir(launch.cwd)
        pin_cpus(launch.cpu_ids)
        env["SLURM_TASK_PID"] = str(os.getpid())
        _exec_command(launch.argv, env)
    except LaunchError as e:
        child_fail(error, f"JobLaunchFailure: {e}\n")
    except BaseException as e:  # anything at all: the child must never return into the parent's code
        child_fail(error, f"JobLaunchFailure: {type(e).__name__}: {e}\n")
    os._exit(1)


def _umask(value: str | None) -> None:
    """The task runs with srun's umask (``SLURM_UMASK``, octal), as Slurm's tasks do."""
    try:
        os.umask(int(value, 8) & 0o777)
    except (TypeError, ValueError):
        pass


def _join_group(pgid: int) -> None:
    """Into the step's group; the supervisor does the same from its side, so whichever
    runs first wins and the group exists before any task runs."""
    try:
        os.setpgid(0, pgid)
    except OSError:
        pass


def _exec_command(argv: list[str], env: dict[str, str]) -> None:
    try:
        os.execvpe(argv[0], argv, env)
    except OSError as e:
        say(f"kairos-supervisor: error: execve(): {argv[0]}: {e.strerror}\n")
        os._exit(e.errno or 1)
