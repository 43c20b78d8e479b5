"""The job's memory limit enforced by the kernel: a cgroup v2 child group with ``memory.max``.

Only possible when the supervisor's own cgroup is on a cgroup v2 hierarchy and already
delegates the memory controller to its children; everywhere else (cgroup v1, hybrid
systems whose unified tree has no controllers, no write permission) :meth:`MemoryCgroup.create`
returns None and the supervisor falls back to summing resident memory from /proc.
"""

from __future__ import annotations

import os


class MemoryCgroup:
    """A cgroup v2 child group enforcing ``memory.max``, when the system lets us make one."""

    def __init__(self, path: str) -> None:
        self.path = path

    @classmethod
    def create(cls, job_id: int, limit_mib: float) -> MemoryCgroup | None:
        """A new child of this process's cgroup with the memory limit, or None."""
        parent = _own_cgroup2_dir()
        if parent is None or "memory" not in _read_words(os.path.join(parent, "cgroup.subtree_control")):
            return None
        path = os.path.join(parent, f"kairos-job-{job_id}-{os.getpid()}")
        try:
            os.mkdir(path)
        except OSError:
            return None
        group = cls(path)
        try:
            group._write("memory.max", str(int(limit_mib * 1024 * 1024)))
            if os.path.exists(os.path.join(path, "memory.swap.max")):
                group._write("memory.swap.max", "0")
            if os.path.exists(os.path.join(path, "memory.oom.group")):
                group._write("memory.oom.group", "1")
        except OSError:
            group.remove()
            return None
        return group

    def add(self, pid: int) -> bool:
        """Move ``pid`` into the group; False when the kernel refuses."""
        try:
            self._write("cgroup.procs", str(pid))
            return True
        except OSError:
            return False

    def pids(self) -> list[int]:
        return [int(p) for p in _read_words(os.path.join(self.path, "cgroup.procs"))]

    def oom_kills(self) -> int:
        """How many times the kernel's OOM killer struck inside the group."""
        words = _read_words(os.path.join(self.path, "memory.events"))
        pairs = dict(zip(words[::2], words[1::2]))
        return int(pairs.get("oom_kill", 0)) + int(pairs.get("oom_group_kill", 0))

    def peak_kib(self) -> int:
        words = _read_words(os.path.join(self.path, "memory.peak"))
        return int(words[0]) // 1024 if words else 0

    def remove(self) -> None:
        try:
            os.rmdir(self.path)
        except OSError:
            pass

    def _write(self, name: str, value: str) -> None:
        with open(os.path.join(self.path, name), "w") as f:
            f.write(value)


def _own_cgroup2_dir() -> str | None:
    """The directory of this process's cgroup on the cgroup v2 hierarchy, if mounted."""
    try:
        with open("/proc/self/cgroup") as f:
            rel = next((line.strip()[3:] for line in f if line.startswith("0::")), None)
        with open("/proc/self/mountinfo") as f:
            mounts = [line.split() for line in f]
    except OSError:
        return None
    if rel is None:
        return None
    for fields in mounts:
        sep = fields.index("-") if "-" in fields else -1
        if sep > 0 and fields[sep + 1] == "cgroup2":
            root, mount_point = fields[3], fields[4]
            if root != "/" and rel.startswith(root):
                rel = rel[len(root):]
            return os.path.join(mount_point, rel.lstrip("/"))
    return None


def _read_words(path: str) -> list[str]:
    try:
        with open(path) as f:
            return f.read().split()
    except OSError:
        return []
