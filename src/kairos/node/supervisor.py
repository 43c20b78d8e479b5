"""One small process per job that runs it, enforces its limits and records how it ended.

Started by the agent as ``python -I -S supervisor.py <jobdir>`` in a session of its own,
so it starts in a few milliseconds, needs nothing outside the standard library, and keeps
running when the controller that started it dies (even by ``kill -9``): the job's result
is never lost with the controller, it waits in ``<jobdir>/status.json``.

Files in ``<jobdir>``:

- ``launch.json`` (read): job_id, user, uid, gid, script (text), argv, work_dir, env,
  stdout, stderr (absolute paths; stderr may equal stdout), cpu_ids, mem_limit_mib,
  time_limit (seconds), kill_wait (seconds), open_mode (``truncate``/``append``) and,
  optionally, notify (a FIFO to write ``"<job_id>\\n"`` into once status.json exists).
- ``script`` (written): the batch script, mode 0700, owned by the job's user.
- ``state.json`` (written at start): supervisor_pid, supervisor_start_ticks (the
  kernel's start time of the supervisor, to tell it from a later process with the same
  pid), job_pid (also the job's process group and session id), start (epoch seconds).
- ``limits.json`` (read on SIGHUP): ``{"time_limit": seconds | null}``.
- ``status.json`` (written at the end): state (COMPLETED, FAILED, TIMEOUT, CANCELLED,
  OUT_OF_MEMORY), exit_code, signal, start, end, cpu_time (user + system seconds of
  everything the job ran), max_rss_kib, reason.

Every JSON file is written whole to a temporary name and renamed, so a reader never
sees half of one.

Behaviour, matching a Slurm batch step where Slurm is explicit:

- The job runs in a new session; when the supervisor runs as root and the job's uid is
  not 0, the child drops to the user (supplementary groups, gid, uid) before it opens
  output files or changes directory. Output files are created as the user, truncated or
  appended per open_mode, always written with O_APPEND so several writers never
  overwrite each other; stdin is /dev/null.
- A work directory that cannot be entered is reported on stderr and the job runs in
  /tmp instead (what Slurm 22.05 does). An output file that cannot be opened, or a
  script that cannot be executed, fails the job: FAILED, exit code 1, reason
  ``JobLaunchFailure: ...``.
- Exit 0 is COMPLETED; another exit code is FAILED (reason ``NonZeroExitCode``); death by
  a signal the supervisor did not send is FAILED with that signal (``RaisedSignal:N``).
- Time limit: SIGCONT and SIGTERM to every process of the job, SIGKILL after kill_wait;
  TIMEOUT. SIGTERM to the supervisor is a cancel, handled the same way: CANCELLED.
  SIGHUP re-reads limits.json (a new time limit counted from the job's start).
- Memory limit: a cgroup v2 child group with ``memory.max`` when the supervisor's own
  cgroup delegates the memory controller; otherwise the resident memory of the job's
  processes is summed from /proc every half second and the job is killed with SIGKILL
  when the sum is over the limit; either way OUT_OF_MEMORY.
- When the batch script exits, whatever it left running is killed (Slurm does the same
  with its cgroup process tracking). The supervisor makes itself a child subreaper, so
  processes that daemonize stay in its tree and are found.
"""

from __future__ import annotations

import json
import os
import pwd
import select
import signal
import sys
import time

#: Signals the supervisor handles itself; they arrive through a wakeup pipe.
HANDLED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD)
#: How often resident memory is summed when no cgroup enforces the limit.
MEMORY_POLL_S = 0.5
#: The longest the main loop sleeps when nothing is due (a safety net, not a timer).
IDLE_WAKE_S = 5.0
#: How long to keep killing leftovers after the batch script has exited.
LEFTOVER_GRACE_S = 2.0
PR_SET_CHILD_SUBREAPER = 36
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


class LaunchError(Exception):
    """The job could not be started (bad output path, unusable script, wrong user)."""


class Launch:
    """launch.json, checked."""

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
        self.mem_limit_mib = _optional_float(raw.get("mem_limit_mib"))
        self.time_limit = _optional_float(raw.get("time_limit"))
        kill_wait = raw.get("kill_wait")
        self.kill_wait = 30.0 if kill_wait is None else float(kill_wait)
        self.open_mode = str(raw.get("open_mode") or "truncate")
        self.notify = raw.get("notify")
        if self.open_mode not in ("truncate", "append"):
            raise ValueError(f"launch.json: open_mode is {self.open_mode!r}; use 'truncate' or 'append'")


def _optional_float(value) -> float | None:
    return None if value is None else float(value)


# --------------------------------------------------------------------------- files


def write_json_atomic(path: str, data: dict) -> None:
    """Write ``data`` to ``path`` so that readers see either nothing or all of it."""
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(data, f)
    os.replace(tmp, path)


def read_json(path: str) -> dict | None:
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def own_start_ticks() -> int:
    """This process's start time in clock ticks since boot (field 22 of /proc/self/stat)."""
    return start_ticks(os.getpid()) or 0


def start_ticks(pid: int) -> int | None:
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


# --------------------------------------------------------------------------- processes


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
        found = _scan_proc(supervisor_pid, session)
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


def _scan_proc(supervisor_pid: int, session: int) -> dict[int, int]:
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
    for pid in pids:
        try:
            os.kill(pid, signum)
        except OSError:
            pass


# --------------------------------------------------------------------------- cgroup v2


class MemoryCgroup:
    """A cgroup v2 child group enforcing ``memory.max``, when the system lets us make one."""

    def __init__(self, path: str) -> None:
        self.path = path

    @classmethod
    def create(cls, job_id: int, limit_mib: float) -> MemoryCgroup | None:
        """A new child of this process's cgroup with the memory limit, or None.

        Only when the supervisor's cgroup is on a cgroup v2 hierarchy and already enables
        the memory controller for its children; anything else (cgroup v1, hybrid systems
        whose unified tree has no controllers, no write permission) falls back to polling.
        """
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
        try:
            self._write("cgroup.procs", str(pid))
            return True
        except OSError:
            return False

    def pids(self) -> list[int]:
        return [int(p) for p in _read_words(os.path.join(self.path, "cgroup.procs"))]

    def oom_kills(self) -> int:
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


# --------------------------------------------------------------------------- the child


class ChildPipes:
    """The child's ends of its pipes to the supervisor.

    ``ready``: the child says it leads its own session (so state.json never names a
    process group that does not exist yet); ``go``: the supervisor says state.json is
    written and the child is in its cgroup; ``error``: why the launch failed, if it did.
    """

    def __init__(self, ready: int, go: int, error: int) -> None:
        self.ready, self.go, self.error = ready, go, error


def run_child(launch: Launch, script_path: str, pipes: ChildPipes, blocked: set) -> None:
    """In the forked child: become the job and exec the script. Never returns."""
    error_fd = pipes.error
    try:
        _reset_signals(blocked)
        os.setsid()
        os.write(pipes.ready, b"s")
        os.close(pipes.ready)
        if not os.read(pipes.go, 1):  # the supervisor died before letting us go
            os._exit(1)
        os.close(pipes.go)
        script_fd = os.open(script_path, os.O_RDONLY)
        os.set_inheritable(script_fd, True)
        _become_user(launch)
        _open_output(launch)
        _enter_work_dir(launch.work_dir)
        _pin_cpus(launch.cpu_ids)
        _exec_script(launch, script_path, script_fd)
    except LaunchError as e:
        _child_fail(error_fd, f"JobLaunchFailure: {e}")
    except BaseException as e:  # anything at all: the child must never return into the parent's code
        _child_fail(error_fd, f"JobLaunchFailure: {type(e).__name__}: {e}")
    os._exit(1)


def _reset_signals(blocked: set) -> None:
    signal.set_wakeup_fd(-1)
    for signum in HANDLED_SIGNALS + (signal.SIGPIPE, signal.SIGXFSZ):
        signal.signal(signum, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, blocked)


def _become_user(launch: Launch) -> None:
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


def _enter_work_dir(work_dir: str) -> None:
    try:
        os.chdir(work_dir)
    except OSError as e:
        _say(f"kairos-supervisor: error: couldn't chdir to '{work_dir}': {e.strerror}: going to /tmp instead\n")
        os.chdir("/tmp")


def _pin_cpus(cpu_ids: list[int]) -> None:
    if not cpu_ids:
        return
    try:
        os.sched_setaffinity(0, cpu_ids)
    except OSError as e:
        _say(f"kairos-supervisor: warning: cannot pin the job to CPUs {cpu_ids}: {e.strerror}\n")


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
        _say(f"kairos-supervisor: error: cannot execute the batch script: {e.strerror}\n")
        raise LaunchError(f"cannot execute the batch script: {e.strerror}") from None


def _say(text: str) -> None:
    try:
        os.write(2, text.encode())
    except OSError:
        pass


def _child_fail(error_fd: int, reason: str) -> None:
    try:
        os.write(error_fd, reason.encode()[:4000])
    except OSError:
        pass


# --------------------------------------------------------------------------- the parent


class Supervisor:
    """Runs one job from its directory to its status.json."""

    def __init__(self, jobdir: str) -> None:
        self.jobdir = os.path.abspath(jobdir)
        self.launch = Launch(read_json(self._path("launch.json")) or {})
        self.pid = os.getpid()
        self.job_pid = 0
        self.start = 0.0
        self.deadline: float | None = None  # time limit
        self.kill_at: float | None = None  # SIGKILL after kill_wait
        self.ending: str | None = None  # TIMEOUT, CANCELLED or OUT_OF_MEMORY once decided
        self.exit_status: int | None = None
        self.cpu_time = 0.0
        self.max_rss_kib = 0
        self.cgroup: MemoryCgroup | None = None
        self.next_memory_check = 0.0
        self.error_r = -1

    def _path(self, name: str) -> str:
        return os.path.join(self.jobdir, name)

    # ---- start

    def run(self) -> None:
        wake_r = self._install_signal_pipe()
        _become_subreaper()
        try:
            script_path = self._write_script()
        except OSError as e:
            write_launch_failure(self.jobdir, f"cannot write the batch script: {e}")
            return
        if self.launch.mem_limit_mib is not None:
            self.cgroup = MemoryCgroup.create(self.launch.job_id, self.launch.mem_limit_mib)
        self._fork(script_path)
        self._watch(wake_r)
        self._finish()

    def _install_signal_pipe(self) -> int:
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
        for signum in HANDLED_SIGNALS:
            signal.signal(signum, _noop)
        return wake_r

    def _write_script(self) -> str:
        path = self._path("script")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o700)
        with os.fdopen(fd, "w") as f:
            f.write(self.launch.script)
        os.chmod(path, 0o700)
        if os.geteuid() == 0 and self.launch.uid != 0:
            os.chown(path, self.launch.uid, self.launch.gid)
        return path

    def _fork(self, script_path: str) -> None:
        ready_r, ready_w = os.pipe()
        go_r, go_w = os.pipe()
        self.error_r, error_w = os.pipe()
        blocked = set(HANDLED_SIGNALS)
        signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
        self.start = time.time()
        pid = os.fork()
        if pid == 0:
            for fd in (ready_r, go_w, self.error_r):
                os.close(fd)
            run_child(self.launch, script_path, ChildPipes(ready_w, go_r, error_w), blocked)
        self.job_pid = pid
        for fd in (ready_w, go_r, error_w):
            os.close(fd)
        os.read(ready_r, 1)  # the child now leads its session (or died: then EOF)
        os.close(ready_r)
        if self.cgroup is not None and not self.cgroup.add(pid):
            self.cgroup.remove()
            self.cgroup = None
        self._set_time_limit(self.launch.time_limit)
        write_json_atomic(self._path("state.json"), {
            "supervisor_pid": self.pid,
            "supervisor_start_ticks": own_start_ticks(),
            "job_pid": pid,
            "start": self.start,
        })
        os.write(go_w, b"g")
        os.close(go_w)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, blocked)

    # ---- watch

    def _watch(self, wake_r: int) -> None:
        while self.exit_status is None:
            ready, _, _ = select.select([wake_r], [], [], self._sleep_for(time.time()))
            if ready:
                for signum in _drain(wake_r):
                    self._on_signal(signum)
            self._reap()
            if self.exit_status is None:
                self._check_timers(time.time())

    def _sleep_for(self, now: float) -> float:
        due = [t for t in (self.deadline, self.kill_at) if t is not None]
        if self._polls_memory():
            due.append(self.next_memory_check)
        return max(0.0, min([now + IDLE_WAKE_S, *due]) - now)

    def _polls_memory(self) -> bool:
        return self.launch.mem_limit_mib is not None and self.cgroup is None

    def _on_signal(self, signum: int) -> None:
        if signum in (signal.SIGTERM, signal.SIGINT):
            self._terminate("CANCELLED")
        elif signum == signal.SIGHUP:
            limits = read_json(self._path("limits.json"))
            if limits is not None and "time_limit" in limits:
                self._set_time_limit(_optional_float(limits["time_limit"]))

    def _set_time_limit(self, seconds: float | None) -> None:
        if self.ending is None:
            self.deadline = None if seconds is None else self.start + seconds

    def _check_timers(self, now: float) -> None:
        if self.deadline is not None and now >= self.deadline:
            self._terminate("TIMEOUT")
        if self.kill_at is not None and now >= self.kill_at:
            signal_all(self._processes(), signal.SIGKILL)
            self.kill_at = now + 1.0  # again, for anything forked meanwhile
        if self._polls_memory() and now >= self.next_memory_check:
            self.next_memory_check = now + MEMORY_POLL_S
            self._check_memory()

    def _terminate(self, why: str) -> None:
        """Begin ending the job for ``why``: SIGCONT and SIGTERM now, SIGKILL after kill_wait."""
        if self.ending is not None:
            return
        self.ending, self.deadline = why, None
        suffix = " DUE TO TIME LIMIT" if why == "TIMEOUT" else ""
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
        self._note(f"kairos-supervisor: error: *** JOB {self.launch.job_id} ON {os.uname().nodename.split('.')[0]} CANCELLED AT {stamp}{suffix} ***\n")
        pids = self._processes()
        signal_all(pids, signal.SIGCONT)
        signal_all(pids, signal.SIGTERM)
        self.kill_at = time.time() + self.launch.kill_wait

    def _check_memory(self) -> None:
        used = sum(self._process_rss().values())
        self.max_rss_kib = max(self.max_rss_kib, used)
        limit_kib = int(self.launch.mem_limit_mib * 1024)
        if used > limit_kib and self.ending is None:
            self.ending, self.deadline = "OUT_OF_MEMORY", None
            signal_all(self._processes(), signal.SIGKILL)
            self.kill_at = time.time() + 1.0
            self._note(
                f"kairos-supervisor: error: job {self.launch.job_id} used {used // 1024} MiB, over its memory "
                f"limit of {limit_kib // 1024} MiB, and was killed\n"
            )

    def _process_rss(self) -> dict[int, int]:
        return job_processes(self.pid, self.job_pid)

    def _processes(self) -> list[int]:
        pids = set(self._process_rss())
        if self.cgroup is not None:
            pids.update(self.cgroup.pids())
        if self.exit_status is None and self.job_pid:
            pids.add(self.job_pid)
        return sorted(pids)

    def _reap(self) -> None:
        """Collect every exited child: the batch script, and orphans we adopted."""
        while True:
            try:
                pid, status, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.cpu_time += usage.ru_utime + usage.ru_stime
            self.max_rss_kib = max(self.max_rss_kib, usage.ru_maxrss)
            if pid == self.job_pid:
                self.exit_status = status

    def _note(self, text: str) -> None:
        """Append a line to the job's stderr file, refusing anything but the user's own regular file."""
        flags = os.O_WRONLY | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        try:
            fd = os.open(self.launch.stderr, flags)
        except OSError:
            return
        try:
            info = os.fstat(fd)
            if info.st_uid == self.launch.uid and (info.st_mode & 0o170000) == 0o100000:
                os.write(fd, text.encode())
        except OSError:
            pass
        finally:
            os.close(fd)

    # ---- finish

    def _finish(self) -> None:
        self._kill_leftovers()
        status = self._status()
        write_json_atomic(self._path("status.json"), status)
        if self.cgroup is not None:
            self.cgroup.remove()
        self._notify()

    def _kill_leftovers(self) -> None:
        give_up = time.time() + LEFTOVER_GRACE_S
        while True:
            pids = self._processes()
            if not pids or time.time() > give_up:
                break
            signal_all(pids, signal.SIGKILL)
            time.sleep(0.02)
            self._reap()
        self._reap()

    def _status(self) -> dict:
        status = self.exit_status or 0
        exit_code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 0
        signum = os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0
        launch_error = _read_all(self.error_r)
        if self.cgroup is not None:
            self.max_rss_kib = max(self.max_rss_kib, self.cgroup.peak_kib())
            if self.ending is None and self.cgroup.oom_kills() > 0:
                self.ending = "OUT_OF_MEMORY"
        state, reason = self._state_and_reason(exit_code, signum, launch_error)
        return {
            "state": state,
            "exit_code": exit_code,
            "signal": signum,
            "start": self.start,
            "end": time.time(),
            "cpu_time": round(self.cpu_time, 6),
            "max_rss_kib": int(self.max_rss_kib),
            "reason": reason,
        }

    def _state_and_reason(self, exit_code: int, signum: int, launch_error: str) -> tuple[str, str]:
        if self.ending == "TIMEOUT":
            return "TIMEOUT", "TimeLimit"
        if self.ending == "CANCELLED":
            return "CANCELLED", "Cancelled"
        if self.ending == "OUT_OF_MEMORY":
            return "OUT_OF_MEMORY", "OutOfMemory"
        if launch_error:
            return "FAILED", launch_error
        if signum:
            return "FAILED", f"RaisedSignal:{signum}"
        if exit_code:
            return "FAILED", "NonZeroExitCode"
        return "COMPLETED", ""

    def _notify(self) -> None:
        if not self.launch.notify:
            return
        try:
            fd = os.open(self.launch.notify, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:  # ENXIO: nobody is listening (the controller is down)
            return
        try:
            os.write(fd, f"{self.launch.job_id}\n".encode())
        except OSError:
            pass
        finally:
            os.close(fd)


def _noop(signum, frame) -> None:
    """Signals are read from the wakeup pipe by the main loop; the handler does nothing."""


def _drain(fd: int) -> bytes:
    data = b""
    while True:
        try:
            chunk = os.read(fd, 512)
        except BlockingIOError:
            return data
        if not chunk:
            return data
        data += chunk


def _read_all(fd: int) -> str:
    if fd < 0:
        return ""
    os.set_blocking(fd, False)
    try:
        return _drain(fd).decode(errors="replace")
    finally:
        os.close(fd)


def _become_subreaper() -> None:
    """Adopt the job's orphans (Linux prctl), so daemonized leftovers stay findable."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def write_launch_failure(jobdir: str, reason: str) -> None:
    """status.json for a job that never started."""
    now = time.time()
    write_json_atomic(os.path.join(jobdir, "status.json"), {
        "state": "FAILED", "exit_code": 1, "signal": 0, "start": now, "end": now,
        "cpu_time": 0.0, "max_rss_kib": 0, "reason": f"JobLaunchFailure: {reason}",
    })


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write("usage: python -I -S supervisor.py <jobdir>\n")
        return 2
    try:
        supervisor = Supervisor(argv[1])
    except (KeyError, TypeError, ValueError) as e:
        write_launch_failure(argv[1], f"launch.json in {argv[1]} is unusable: {type(e).__name__}: {e}")
        return 1
    supervisor.run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
