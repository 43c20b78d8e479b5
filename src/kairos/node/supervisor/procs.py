"""The job's processes, found in /proc: kernel start times, the supervisor's descendants,
the members of the job's session, and signalling them all.

A job's processes are not only the batch script's children: a process that daemonizes
leaves the tree, so the supervisor becomes a child subreaper (it inherits such orphans),
and a full scan of /proc also takes whatever is still in the job's session.
"""

from __future__ import annotations

import os

PR_SET_CHILD_SUBREAPER = 36
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


def own_start_ticks() -> int:
    """This process's start time in clock ticks since boot (field 22 of /proc/self/stat)."""
    return start_ticks(os.getpid()) or 0


def start_ticks(pid: int) -> int | None:
    """When ``pid`` started, in clock ticks since boot; tells a process from a later one with its pid."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat after the command name: [state, ppid, pgrp, session, ...]."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    return data[data.rfind(b")") + 2:].decode().split()


def become_subreaper() -> None:
    """Adopt the job's orphans (Linux prctl), so daemonized leftovers stay findable."""
    try:
        import ctypes  # only here: the rest of the supervisor has no use for it

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def job_processes(supervisor_pid: int, session: int) -> dict[int, int]:
    """Every live process of the job: ``{pid: resident KiB}``.

    The job's processes are the supervisor's descendants (as a subreaper it inherits
    orphans) plus any process still in the job's session. The tree is walked through
    /proc/<pid>/task/<tid>/children where the kernel offers it; otherwise all of /proc
    is scanned.
    """
    if os.path.exists(f"/proc/{supervisor_pid}/task/{supervisor_pid}/children"):
        found = _descendants(supervisor_pid)
    else:
        found = scan_proc(supervisor_pid, session)
    found.pop(supervisor_pid, None)
    return found


def _descendants(root: int) -> dict[int, int]:
    found: dict[int, int] = {}
    todo = [root]
    while todo:
        pid = todo.pop()
        fields = _stat_fields(pid)
        if fields is None or fields[0] in ("Z", "X"):
            continue
        found[pid] = int(fields[21]) * PAGE_KIB
        todo.extend(_children(pid))
    return found


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return kids
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                kids.extend(int(c) for c in f.read().split())
        except OSError:
            continue
    return kids


def scan_proc(supervisor_pid: int, session: int) -> dict[int, int]:
    """All of /proc: processes in the job's session, and everything below them or the supervisor."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    in_session: set[int] = set()
    for name in os.listdir("/proc"):
        fields = _stat_fields(int(name)) if name.isdigit() else None
        if fields is None or fields[0] in ("Z", "X"):
            continue
        pid = int(name)
        children.setdefault(int(fields[1]), []).append(pid)
        rss[pid] = int(fields[21]) * PAGE_KIB
        if int(fields[3]) == session:
            in_session.add(pid)
    members = set(in_session)
    todo = [supervisor_pid, *in_session]
    while todo:
        for kid in children.get(todo.pop(), []):
            if kid not in members:
                members.add(kid)
                todo.append(kid)
    return {pid: rss[pid] for pid in members}


def signal_all(pids, signum: int) -> None:
    """Send ``signum`` to each pid; one that is already gone is no error."""
    for pid in pids:
        try:
            os.kill(pid, signum)
        except OSError:
            pass
