"""The supervisor's main loop: start the job, then watch signals, timers and memory until
the batch script exits, kill what it left behind and write status.json.

Signals arrive through a wakeup pipe (their handlers do nothing), so the loop is one
``select`` with a timeout: the next of the time limit, the ``--signal=B:`` warning
before it, the SIGKILL after kill_wait and, when no cgroup enforces the memory limit,
the next memory check.
"""

from __future__ import annotations

import os
import select
import signal
import time

from kairos.node.supervisor.cgroup import MemoryCgroup
from kairos.node.supervisor.child import ChildPipes, run_child
from kairos.node.supervisor.files import Launch, append_note, optional_float, poke_fifo, read_json, write_json_atomic
from kairos.node.supervisor.outcome import Outcome, exit_code_and_signal, judge, write_launch_failure, write_status
from kairos.node.supervisor.procs import become_subreaper, job_processes, own_start_ticks, signal_all

#: Signals the supervisor handles itself; they arrive through a wakeup pipe.
HANDLED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD)
#: How often resident memory is summed when no cgroup enforces the limit.
MEMORY_POLL_S = 0.5
#: The longest the main loop sleeps when nothing is due (a safety net, not a timer).
IDLE_WAKE_S = 5.0
#: How long to keep killing leftovers after the batch script has exited.
LEFTOVER_GRACE_S = 2.0


class Supervisor:
    """Runs one job from its directory to its status.json.

    The step supervisor (:class:`~kairos.node.supervisor.steploop.StepSupervisor`) extends
    it: signals, time limit, kill wait, memory limit and leftovers work the same way.
    """

    #: What launch.json is read as.
    launch_type: type = Launch

    def __init__(self, jobdir: str, raw: dict | None = None) -> None:
        self.jobdir = os.path.abspath(jobdir)
        if raw is None:
            raw = read_json(self._path("launch.json")) or {}
        self.launch = self.launch_type(raw)
        self.pid = os.getpid()
        self.job_pid = 0
        self.start = 0.0
        self.deadline: float | None = None  # time limit
        self.warn_at: float | None = None  # the --signal=B: warning, not yet sent
        self.warned_for: float | None = None  # the warning time it was last sent for
        self.kill_at: float | None = None  # SIGKILL after kill_wait
        self.ending: Outcome | None = None  # TIMEOUT, CANCELLED or OUT_OF_MEMORY once decided
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
        become_subreaper()
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
                for signum in drain(wake_r):
                    self._on_signal(signum)
            self._reap()
            if self.exit_status is None:
                self._check_timers(time.time())

    def _sleep_for(self, now: float) -> float:
        due = [t for t in (self.deadline, self.kill_at, self.warn_at) if t is not None]
        if self._polls_memory():
            due.append(self.next_memory_check)
        return max(0.0, min([now + IDLE_WAKE_S, *due]) - now)

    def _polls_memory(self) -> bool:
        return self.launch.mem_limit_mib is not None and self.cgroup is None

    def _on_signal(self, signum: int) -> None:
        if signum in (signal.SIGTERM, signal.SIGINT):
            self._terminate(Outcome.CANCELLED)
        elif signum == signal.SIGHUP:
            limits = read_json(self._path("limits.json"))
            if limits is not None and "time_limit" in limits:
                self._set_time_limit(optional_float(limits["time_limit"]))

    def _set_time_limit(self, seconds: float | None) -> None:
        if self.ending is None:
            self.deadline = None if seconds is None else self.start + seconds
            self._arm_warning()

    def _arm_warning(self) -> None:
        """When the ``--signal=B:`` warning is due: ``warn_time`` before the time limit,
        once; a limit raised past a warning already sent arms it again (as Slurm's)."""
        signum = self.launch.warn_signal
        if signum is None or self.deadline is None:
            self.warn_at = None
            return
        at = self.deadline - self.launch.warn_time
        self.warn_at = None if self.warned_for is not None and at <= self.warned_for else at

    def _check_timers(self, now: float) -> None:
        if self.warn_at is not None and now >= self.warn_at and self.ending is None:
            self.warned_for, self.warn_at = self.warn_at, None
            self._warn()
        if self.deadline is not None and now >= self.deadline:
            self._terminate(Outcome.TIMEOUT)
        if self.kill_at is not None and now >= self.kill_at:
            signal_all(self._processes(), signal.SIGKILL)
            self.kill_at = now + 1.0  # again, for anything forked meanwhile
        if self._polls_memory() and now >= self.next_memory_check:
            self.next_memory_check = now + MEMORY_POLL_S
            self._check_memory()

    def _warn(self) -> None:
        """``--signal=B:``: the batch shell alone gets the signal, not what it started
        (Slurm 22.05's ``B:``); a shell that traps it while waiting on a child in the
        foreground runs the trap when the child ends, so scripts ``wait`` on a
        background child."""
        if self.job_pid and self.exit_status is None:
            signal_all([self.job_pid], self.launch.warn_signal)

    def _terminate(self, why: Outcome) -> None:
        """Begin ending the job for ``why``: SIGCONT and SIGTERM now, SIGKILL after kill_wait."""
        if self.ending is not None:
            return
        self.ending, self.deadline = why, None
        suffix = " DUE TO TIME LIMIT" if why is Outcome.TIMEOUT else ""
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
        self._note(f"kairos-supervisor: error: *** {self._name().upper()} ON {self._node_name()} CANCELLED AT {stamp}{suffix} ***\n")
        pids = self._processes()
        signal_all(pids, signal.SIGCONT)
        signal_all(pids, signal.SIGTERM)
        self.kill_at = time.time() + self.launch.kill_wait

    def _check_memory(self) -> None:
        used = sum(self._process_rss().values())
        self.max_rss_kib = max(self.max_rss_kib, used)
        limit_kib = int(self.launch.mem_limit_mib * 1024)
        if used > limit_kib and self.ending is None:
            self.ending, self.deadline = Outcome.OUT_OF_MEMORY, None
            signal_all(self._processes(), signal.SIGKILL)
            self.kill_at = time.time() + 1.0
            self._note(
                f"kairos-supervisor: error: {self._name()} used {used // 1024} MiB, over its memory "
                f"limit of {limit_kib // 1024} MiB, and was killed\n"
            )

    def _name(self) -> str:
        """What the notes call what this supervisor runs."""
        return f"job {self.launch.job_id}"

    def _node_name(self) -> str:
        return os.uname().nodename.split(".")[0]

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
        append_note(self.launch.stderr, self.launch.uid, text)

    # ---- finish

    def _finish(self) -> None:
        self._kill_leftovers()
        self._write_status()
        if self.cgroup is not None:
            self.cgroup.remove()
        if self.launch.notify:
            poke_fifo(self.launch.notify, self.launch.job_id)

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

    def _write_status(self) -> None:
        exit_code, signum = exit_code_and_signal(self.exit_status or 0)
        launch_error = read_all(self.error_r)
        if self.cgroup is not None:
            self.max_rss_kib = max(self.max_rss_kib, self.cgroup.peak_kib())
            if self.ending is None and self.cgroup.oom_kills() > 0:
                self.ending = Outcome.OUT_OF_MEMORY
        state, reason = judge(self.ending, exit_code, signum, launch_error)
        write_status(self.jobdir, state, reason, exit_code=exit_code, signum=signum, start=self.start,
                     end=time.time(), cpu_time=round(self.cpu_time, 6), max_rss_kib=int(self.max_rss_kib))


def _noop(signum, frame) -> None:
    """Signals are read from the wakeup pipe by the main loop; the handler does nothing."""


def drain(fd: int) -> bytes:
    data = b""
    while True:
        try:
            chunk = os.read(fd, 512)
        except BlockingIOError:
            return data
        if not chunk:
            return data
        data += chunk


def read_all(fd: int) -> str:
    if fd < 0:
        return ""
    os.set_blocking(fd, False)
    try:
        return drain(fd).decode(errors="replace")
    finally:
        os.close(fd)
