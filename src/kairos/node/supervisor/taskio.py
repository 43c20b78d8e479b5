"""Where each task's stdin, stdout and stderr go: a pipe to the supervisor (which relays
it to or from srun), a file named by srun's patterns, or /dev/null.

Files are opened by the supervisor before any task starts, not by each task: tasks that
share a file (``-o out.txt`` without ``%t``) must share one truncation, or a late task
would wipe what an early one wrote. They are opened as the step's user all the same: a
root supervisor forks a helper that becomes the user (:func:`~kairos.node.supervisor.child.become_user`)
and passes the open descriptors back over a Unix socket. Output files are written with
``O_APPEND`` so several tasks never overwrite each other.
"""

from __future__ import annotations

import os
import signal
import socket

from kairos.node.supervisor.child import LaunchError, become_user
from kairos.node.supervisor.steplaunch import StepLaunch

OUTPUT_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND
INPUT_FLAGS = os.O_RDONLY
#: Descriptors per message over the helper's socket (the kernel takes at most 253).
FDS_PER_MESSAGE = 200


class TaskIO:
    """One task's three descriptors for its child, and the supervisor's ends of its pipes."""

    def __init__(self) -> None:
        self.child_fds = [-1, -1, -1]  # stdin, stdout, stderr as the task gets them
        self.stdin_w = -1  # the supervisor writes srun's input here
        self.stdout_r = -1  # ... and reads the task's output here
        self.stderr_r = -1

    def close_child_ends(self) -> None:
        """The supervisor's copies of the task's own descriptors, once it has started."""
        for fd in set(self.child_fds):
            if fd >= 0:
                _close(fd)
        self.child_fds = [-1, -1, -1]


def plan_io(launch: StepLaunch) -> dict[int, TaskIO]:
    """Every local task's streams, files opened and pipes made; ``LaunchError`` when a
    file cannot be opened (nothing is left open then)."""
    requests: list[tuple[str, int]] = []
    slots: list[tuple[int, int, int]] = []  # (task, stream, index into requests)
    for task in launch.tasks:
        seen: dict[str, int] = {}
        for stream, pattern in ((1, launch.stdout), (2, launch.stderr)):
            if pattern:
                path = launch.path(pattern, task)
                if path not in seen:
                    seen[path] = len(requests)
                    requests.append((path, OUTPUT_FLAGS))
                slots.append((task, stream, seen[path]))
        pattern = launch.stdin_file()
        if pattern:
            slots.append((task, 0, len(requests)))
            requests.append((launch.path(pattern, task), INPUT_FLAGS))
    fds = _dedupe_and_open(launch, requests)
    plans = {task: TaskIO() for task in launch.tasks}
    for task, stream, index in slots:
        plans[task].child_fds[stream] = fds[index]
    for task, plan in plans.items():
        _fill_the_rest(launch, task, plan)
    return plans


def _dedupe_and_open(launch: StepLaunch, requests: list[tuple[str, int]]) -> list[int]:
    """Open each output path once (tasks sharing a file share its descriptor)."""
    unique: dict[tuple[str, int], int] = {}
    order: list[tuple[str, int]] = []
    index = []
    for request in requests:
        if request[1] == INPUT_FLAGS or request not in unique:  # each task reads its input from the start
            unique.setdefault(request, len(order))
            index.append(len(order))
            order.append(request)
        else:
            index.append(unique[request])
    opened = open_as_user(launch, order)
    return [opened[i] for i in index]


def _fill_the_rest(launch: StepLaunch, task: int, plan: TaskIO) -> None:
    """Pipes for what goes to or comes from srun, /dev/null for what goes nowhere."""
    if plan.child_fds[0] < 0:
        if launch.stdin_from_srun(task):
            plan.child_fds[0], plan.stdin_w = os.pipe()
            os.set_blocking(plan.stdin_w, False)
        else:
            plan.child_fds[0] = os.open(os.devnull, os.O_RDONLY)
    for stream in (1, 2):
        if plan.child_fds[stream] >= 0:
            continue
        if launch.io is None:
            plan.child_fds[stream] = os.open(os.devnull, os.O_WRONLY)
            continue
        read_end, plan.child_fds[stream] = os.pipe()
        os.set_blocking(read_end, False)
        if stream == 1:
            plan.stdout_r = read_end
        else:
            plan.stderr_r = read_end


def open_as_user(launch: StepLaunch, requests: list[tuple[str, int]]) -> list[int]:
    """``os.open`` each ``(path, flags)`` with the user's rights, in order."""
    if not requests:
        return []
    if os.geteuid() != 0 or (launch.uid == 0 and launch.gid == os.getgid()):
        become_user(launch)  # not root: only checks that the step is our own user's
        return _open_all(requests)
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)  # one message per send
    pid = os.fork()
    if pid == 0:
        ours.close()
        _helper(launch, requests, theirs)
    theirs.close()
    try:
        return _receive(ours, len(requests))
    finally:
        ours.close()
        os.waitpid(pid, 0)


def _helper(launch: StepLaunch, requests: list[tuple[str, int]], sock: socket.socket) -> None:
    """In the forked helper: become the user, open, send the descriptors back. Never returns."""
    try:
        signal.set_wakeup_fd(-1)  # the supervisor's signal pipe is not ours to write into
        become_user(launch)
        fds = _open_all(requests)
        for i in range(0, len(fds), FDS_PER_MESSAGE):
            socket.send_fds(sock, [b"+"], fds[i:i + FDS_PER_MESSAGE])
    except BaseException as e:  # never return into the supervisor's code
        message = str(e) if isinstance(e, LaunchError) else f"{type(e).__name__}: {e}"
        try:
            sock.sendall(b"!" + message.encode()[:4000])
        except OSError:
            pass
    os._exit(0)


def _receive(sock: socket.socket, count: int) -> list[int]:
    fds: list[int] = []
    while len(fds) < count:
        data, got, _, _ = socket.recv_fds(sock, 4096, FDS_PER_MESSAGE, socket.MSG_CMSG_CLOEXEC)
        fds.extend(got)
        if data.startswith(b"!") or not data:
            for fd in fds:
                _close(fd)
            raise LaunchError(data[1:].decode(errors="replace") or "the helper that opens the step's files died")
    return fds


def _open_all(requests: list[tuple[str, int]]) -> list[int]:
    fds: list[int] = []
    try:
        for path, flags in requests:
            fds.append(_open_one(path, flags))
    except LaunchError:
        for fd in fds:
            _close(fd)
        raise
    return fds


def _open_one(path: str, flags: int) -> int:
    try:
        return os.open(path, flags, 0o666)
    except OSError as e:
        kind = "input" if flags == INPUT_FLAGS else "output"
        raise LaunchError(f"cannot open {kind} file {path}: {e.strerror}") from None


def _close(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass
