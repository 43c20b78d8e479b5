"""What runs in the forked child, from ``fork()`` to ``execve()`` of the batch script.

The order is the point: a session of its own first (the supervisor waits for it, so
state.json never names a process group that does not exist yet), then the supervisor's
go-ahead (state.json written, the child in its cgroup), then the job's user, and only as
that user the output files and the work directory, so a root supervisor never opens a
path the user could not. Nothing here may return into the supervisor's code: every
failure is written to the error pipe and the child exits.

The tasks of a job step (:mod:`kairos.node.supervisor.taskchild`) become their user,
enter their directory and are pinned to their cores by the same functions.
"""

from __future__ import annotations

import os
import pwd
import signal

from kairos.node.supervisor.files import Launch


class LaunchError(Exception):
    """The job could not be started (bad output path, unusable script, wrong user)."""


class ChildPipes:
    """The child's ends of its pipes to the supervisor.

    ``ready``: the child says it leads its own session (so state.json never names a
    process group that does not exist yet); ``go``: the supervisor says state.json is
    written and the child is in its cgroup; ``error``: why the launch failed, if it did.
    """

    def __init__(self, ready: int, go: int, error: int) -> None:
        self.ready, self.go, self.error = ready, go, error


def run_child(launch: Launch, script_path: str, pipes: ChildPipes, blocked: set) -> None:
    """In the forked child: become the job and exec the script. Never returns.

    ``blocked``: the signals the supervisor handles itself and blocked around the fork;
    the job gets their default actions back, unblocked.
    """
    error_fd = pipes.error
    try:
        reset_signals(blocked)
        os.setsid()
        os.write(pipes.ready, b"s")
        os.close(pipes.ready)
        if not os.read(pipes.go, 1):  # the supervisor died before letting us go
            os._exit(1)
        os.close(pipes.go)
        script_fd = os.open(script_path, os.O_RDONLY)
        os.set_inheritable(script_fd, True)
        become_user(launch)
        if launch.umask is not None:  # the submitter's: output files and the script's own
            os.umask(launch.umask)
        _open_output(launch)
        enter_work_dir(launch.work_dir)
        pin_cpus(launch.cpu_ids)
        _exec_script(launch, script_path, script_fd)
    except LaunchError as e:
        child_fail(error_fd, f"JobLaunchFailure: {e}")
    except BaseException as e:  # anything at all: the child must never return into the parent's code
        child_fail(error_fd, f"JobLaunchFailure: {type(e).__name__}: {e}")
    os._exit(1)


def reset_signals(blocked: set) -> None:
    signal.set_wakeup_fd(-1)
    for signum in blocked | {signal.SIGPIPE, signal.SIGXFSZ}:
        signal.signal(signum, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, blocked)


def become_user(launch: Launch) -> None:
    """Switch to the job's user when running as root; otherwise the job must be our own."""
    if os.geteuid() != 0:
        if launch.uid != os.getuid():
            raise LaunchError(f"cannot run a job of uid {launch.uid}: the supervisor runs as uid {os.getuid()}, not root")
        return
    if launch.uid == 0 and launch.gid == os.getgid():
        return
    try:
        name = pwd.getpwuid(launch.uid).pw_name  # the system's name for the uid, not the caller's word
    except KeyError:
        name = None
    if name:
        os.initgroups(name, launch.gid)
    else:
        os.setgroups([launch.gid])
    os.setgid(launch.gid)
    os.setuid(launch.uid)


def _open_output(launch: Launch) -> None:
    """stdin from /dev/null; stdout and stderr to the job's files, always with O_APPEND so
    several writers never overwrite each other."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | (os.O_TRUNC if launch.open_mode == "truncate" else 0)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    out = _open_one(launch.stdout, flags)
    err = out if launch.stderr == launch.stdout else _open_one(launch.stderr, flags)
    os.dup2(out, 1)
    os.dup2(err, 2)
    for fd in {out, err}:
        if fd > 2:
            os.close(fd)


def _open_one(path: str, flags: int) -> int:
    try:
        return os.open(path, flags, 0o666)
    except OSError as e:
        raise LaunchError(f"cannot open output file {path}: {e.strerror}") from None


def enter_work_dir(work_dir: str) -> None:
    """The work directory, or /tmp with a word on stderr when it cannot be entered (as Slurm does)."""
    try:
        os.chdir(work_dir)
    except OSError as e:
        say(f"kairos-supervisor: error: couldn't chdir to '{work_dir}': {e.strerror}: going to /tmp instead\n")
        os.chdir("/tmp")


def pin_cpus(cpu_ids: list[int]) -> None:
    if not cpu_ids:
        return
    try:
        os.sched_setaffinity(0, cpu_ids)
    except OSError as e:
        say(f"kairos-supervisor: warning: cannot pin the job to CPUs {cpu_ids}: {e.strerror}\n")


def _exec_script(launch: Launch, script_path: str, script_fd: int) -> None:
    """Exec the script by path; through its open descriptor when the user cannot reach the path."""
    if os.access(script_path, os.X_OK):
        os.close(script_fd)
        target = script_path
    else:
        target = f"/dev/fd/{script_fd}"
    try:
        os.execve(target, [script_path, *launch.argv], launch.env)
    except OSError as e:
        say(f"kairos-supervisor: error: cannot execute the batch script: {e.strerror}\n")
        raise LaunchError(f"cannot execute the batch script: {e.strerror}") from None


def say(text: str) -> None:
    try:
        os.write(2, text.encode())
    except OSError:
        pass


def child_fail(error_fd: int, reason: str) -> None:
    try:
        os.write(error_fd, reason.encode()[:4000])
    except OSError:
        pass
