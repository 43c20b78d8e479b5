"""The supervisor's files: whole-or-nothing JSON in the job directory, ``launch.json``
checked as :class:`Launch`, a line appended to the job's stderr, a poke into the wakeup
FIFO.

Every JSON file is written to a temporary name and renamed, so the agent, which reads
these files while the supervisor runs, never sees half of one.
"""

from __future__ import annotations

import json
import os


class Launch:
    """launch.json, checked: what to run, as whom, where its output goes, its limits."""

    def __init__(self, raw: dict) -> None:
        self.job_id = int(raw["job_id"])
        self.user = str(raw.get("user") or "")
        self.uid = int(raw["uid"])
        self.gid = int(raw["gid"])
        self.script = str(raw["script"])
        self.argv = [str(a) for a in raw.get("argv") or []]
        self.work_dir = str(raw["work_dir"])
        self.env = {str(k): str(v) for k, v in (raw.get("env") or {}).items()}
        self.stdout = str(raw["stdout"])
        self.stderr = str(raw.get("stderr") or raw["stdout"])
        self.cpu_ids = [int(c) for c in raw.get("cpu_ids") or []]
        self.mem_limit_mib = optional_float(raw.get("mem_limit_mib"))
        self.time_limit = optional_float(raw.get("time_limit"))
        kill_wait = raw.get("kill_wait")
        self.kill_wait = 30.0 if kill_wait is None else float(kill_wait)
        self.open_mode = str(raw.get("open_mode") or "truncate")
        self.notify = raw.get("notify")
        warn_signal = raw.get("warn_signal")
        self.warn_signal = None if warn_signal is None else int(warn_signal)
        self.warn_time = float(raw.get("warn_time") or 0)
        umask = raw.get("umask")
        self.umask = None if umask is None else int(umask) & 0o777
        if self.open_mode not in ("truncate", "append"):
            raise ValueError(f"launch.json: open_mode is {self.open_mode!r}; use 'truncate' or 'append'")


def optional_float(value) -> float | None:
    return None if value is None else float(value)


def write_json_atomic(path: str, data: dict) -> None:
    """Write ``data`` to ``path`` so that readers see either nothing or all of it."""
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(data, f)
    os.replace(tmp, path)


def read_json(path: str) -> dict | None:
    """The JSON object in ``path``; None when it is missing or unreadable."""
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def append_note(path: str, owner_uid: int, text: str) -> None:
    """Append ``text`` to the job's stderr file, refusing anything but ``owner_uid``'s own
    regular file: the supervisor may be root, and the path is the user's word."""
    flags = os.O_WRONLY | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return
    try:
        info = os.fstat(fd)
        if info.st_uid == owner_uid and (info.st_mode & 0o170000) == 0o100000:
            os.write(fd, text.encode())
    except OSError:
        pass
    finally:
        os.close(fd)


def poke_fifo(path: str, job_id: int) -> None:
    """Write ``"<job_id>\\n"`` into the FIFO at ``path`` if someone is reading it; never blocks."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:  # ENXIO: nobody is listening (the controller is down)
        return
    try:
        os.write(fd, f"{job_id}\n".encode())
    except OSError:
        pass
    finally:
        os.close(fd)
