"""The step supervisor: runs a job step's tasks on this node, relays their output, input
and ends to srun, and records how each ended in status.json.

It is the batch :class:`~kairos.node.supervisor.loop.Supervisor` with tasks instead of a
script: cancel (SIGTERM), time limit (SIGCONT and SIGTERM, SIGKILL after kill_wait),
memory limit and the killing of leftovers are the batch supervisor's own code. What is
new is the one loop over many descriptors (``selectors``): the signal pipe, each task's
stdout and stderr pipes, task stdin pipes, and the socket to srun.

Files in the step's directory (``<jobdir>/steps/<step_id>/``), beyond the batch ones:

- ``launch.json`` has ``"kind": "step"`` (see :mod:`~kairos.node.supervisor.steplaunch`).
- ``state.json``: ``job_pid`` is the step's process group (the first task's pid), and
  ``session`` the supervisor's own session, which every task is in; ``task_pids``.
- ``signals`` (appended by the agent, one signal number per line, before it signals the
  step's group): signals sent on request, so a task they kill counts as cancelled.
- ``status.json``: also ``tasks`` (each ``{"task", "exit_code", "signal"}``) and
  ``io_error`` (why the output did not all reach srun; empty when it did).
- the wakeup FIFO (launch.json's ``notify``) gets ``"<job_id>.<step_id>\n"``.

A task's EXIT frame follows the last of its output: it is sent once the task has been
reaped and both its pipes are closed. Once every task has ended, what the tasks left
running is killed, the pipes are read to their end, and the last frames are sent before
status.json is written. A slow srun is waited for as long as it takes bytes; one that
takes nothing for ``STALL_S`` is given up as lost.
"""

from __future__ import annotations

import os
import selectors
import signal
import time

from kairos.model import stepio
from kairos.node.supervisor.cgroup import MemoryCgroup
from kairos.node.supervisor.child import LaunchError
from kairos.node.supervisor.files import append_note, poke_fifo, write_json_atomic
from kairos.node.supervisor.loop import HANDLED_SIGNALS, Supervisor, drain, read_all
from kairos.node.supervisor.outcome import Outcome, exit_code_and_signal, judge_step, write_step_status
from kairos.node.supervisor.procs import become_subreaper, job_processes, own_start_ticks
from kairos.node.supervisor.srunlink import CHUNK, HIGH_WATER, SrunLink
from kairos.node.supervisor.steplaunch import StepLaunch
from kairos.node.supervisor.taskchild import run_task
from kairos.node.supervisor.taskio import TaskIO, plan_io

#: Once every task has ended: how long srun may take nothing of the last output.
STALL_S = 10.0
#: ... and how long to read pipes still held open by a process that escaped the kill.
DRAIN_GRACE_S = 2.0
SIGNALS_FILE = "signals"


class Task:
    """One task of the step on this node: its process, its pipes, its end."""

    def __init__(self, task_id: int, local_id: int, io: TaskIO) -> None:
        self.id = task_id
        self.local_id = local_id
        self.io = io
        self.pid = 0
        self.status: int | None = None  # the wait status, once reaped
        self.output = {kind: fd for kind, fd in ((stepio.OUT, io.stdout_r), (stepio.ERR, io.stderr_r)) if fd >= 0}
        self.input = bytearray()  # from srun, not yet written to the task's stdin
        self.input_ends = False  # srun closed the task's stdin (an empty INPUT)
        self.exit_sent = False

    def result(self) -> tuple[int, int, int]:
        """``(task id, exit code, signal)``."""
        return (self.id, *exit_code_and_signal(self.status or 0))


class StepSupervisor(Supervisor):
    """Runs one step's tasks on this node from launch.json to status.json."""

    launch_type = StepLaunch
    launch: StepLaunch

    def __init__(self, jobdir: str, raw: dict | None = None) -> None:
        super().__init__(jobdir, raw)
        self.tasks: list[Task] = []
        self.by_pid: dict[int, Task] = {}
        self.link: SrunLink | None = None
        self.link_fd = -1
        self.launch_error = ""
        self.selector = selectors.DefaultSelector()
        self.interest: dict[int, int] = {}
        self.output_owner: dict[int, tuple[Task, bytes]] = {}  # pipe -> (task, OUT or ERR)
        self.wake_r = -1

    # ---- start

    def run(self) -> None:
        self.wake_r = self._install_signal_pipe()
        signal.pthread_sigmask(signal.SIG_UNBLOCK, HANDLED_SIGNALS)  # the agent's start held them
        become_subreaper()
        self.start = time.time()
        plans = self._connect() and self._plan_io()
        if not plans:
            self._finish_unstarted()
            return
        if self.launch.mem_limit_mib is not None:
            self.cgroup = MemoryCgroup.create(self.launch.job_id, self.launch.mem_limit_mib)
        self._fork_tasks(plans)
        self.selector.register(self.wake_r, selectors.EVENT_READ, None)
        self._watch(self.wake_r)
        self._finish()

    def _connect(self) -> bool:
        io = self.launch.io
        if io is None:
            return True
        try:
            self.link = SrunLink.connect(io["host"], io["port"], io["token"], self.launch.node_name, self.launch.tasks)
        except OSError as e:
            self.launch_error = f"JobLaunchFailure: cannot connect to srun at {io['host']}:{io['port']}: {e.strerror or e}"
            return False
        self.link_fd = self.link.fileno()
        return True

    def _plan_io(self) -> dict[int, TaskIO] | None:
        try:
            return plan_io(self.launch)
        except LaunchError as e:
            self.launch_error = f"JobLaunchFailure: {e}"
            if self.link is not None:  # the files are what failed: tell srun
                self.link.send_output(stepio.ERR, self.launch.tasks[0], f"kairos-supervisor: error: {e}\n".encode())
            return None

    def _fork_tasks(self, plans: dict[int, TaskIO]) -> None:
        """Every task forked, grouped, in the cgroup, recorded in state.json, then let go at once."""
        go_r, go_w = os.pipe()
        self.error_r, error_w = os.pipe()
        blocked = set(HANDLED_SIGNALS)
        signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
        self.start = time.time()
        for local_id, task_id in enumerate(self.launch.tasks):
            task = Task(task_id, local_id, plans[task_id])
            env = self.launch.task_environment(task_id, local_id)
            pid = os.fork()
            if pid == 0:
                os.close(go_w)
                os.close(self.error_r)
                run_task(self.launch, env, task.io.child_fds, self.job_pid, go_r, error_w, blocked)
            self._enlist(task, pid)
        os.close(go_r)
        os.close(error_w)
        for task in self.tasks:
            task.io.close_child_ends()
        self._set_time_limit(self.launch.time_limit)
        write_json_atomic(self._path("state.json"), {
            "supervisor_pid": self.pid,
            "supervisor_start_ticks": own_start_ticks(),
            "job_pid": self.job_pid,
            "session": os.getsid(0),
            "task_pids": {str(task.id): task.pid for task in self.tasks},
            "start": self.start,
        })
        os.write(go_w, b"g" * len(self.tasks))
        os.close(go_w)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, blocked)

    def _enlist(self, task: Task, pid: int) -> None:
        """Put a forked task into the step's group (the first founds it) and its cgroup."""
        task.pid = pid
        try:
            os.setpgid(pid, self.job_pid or pid)
        except OSError:
            pass
        self.job_pid = self.job_pid or pid
        if self.cgroup is not None and not self.cgroup.add(pid) and not self.tasks:
            self.cgroup.remove()
            self.cgroup = None
        self.tasks.append(task)
        self.by_pid[pid] = task
        self.output_owner.update((fd, (task, kind)) for kind, fd in task.output.items())

    # ---- watch

    def _watch(self, wake_r: int) -> None:
        while self._running():
            self._turn(self._sleep_for(time.time()))
            if self._running():
                self._check_timers(time.time())

    def _running(self) -> bool:
        return any(task.status is None for task in self.tasks)

    def _turn(self, timeout: float) -> None:
        """One pass: wait for a descriptor, a signal or ``timeout``; serve what is ready."""
        self._sync_interest()
        for key, mask in self.selector.select(timeout):
            if key.data is None:
                for signum in drain(self.wake_r):
                    self._on_signal(signum)
            else:
                key.data(key.fd, mask)
        self._reap()
        self._send_exits()
        if self.link is not None:
            self.link.flush()
            if not self.link.open:
                self._drop_link()

    def _sync_interest(self) -> None:
        """What to wait for now: output unless srun's buffer is full, input while some waits."""
        paused = self.link is not None and self.link.full()
        for task in self.tasks:
            for fd in task.output.values():
                self._want(fd, 0 if paused else selectors.EVENT_READ, self._on_output)
            if task.io.stdin_w >= 0:
                self._want(task.io.stdin_w, selectors.EVENT_WRITE if task.input else 0, self._on_stdin_ready)
        if self.link is not None and self.link.open:
            events = selectors.EVENT_WRITE if self.link.outgoing else 0
            if not any(len(task.input) >= HIGH_WATER for task in self.tasks):
                events |= selectors.EVENT_READ
            self._want(self.link_fd, events, self._on_link)

    def _want(self, fd: int, events: int, handler) -> None:
        current = self.interest.get(fd, 0)
        if events == current:
            return
        if not events:
            self.selector.unregister(fd)
            del self.interest[fd]
            return
        if current:
            self.selector.modify(fd, events, handler)
        else:
            self.selector.register(fd, events, handler)
        self.interest[fd] = events

    def _forget(self, fd: int) -> None:
        """Stop watching ``fd`` and close it."""
        self._want(fd, 0, None)
        try:
            os.close(fd)
        except OSError:
            pass

    # ---- output, input, srun

    def _on_output(self, fd: int, mask: int) -> None:
        task, kind = self.output_owner[fd]
        try:
            data = os.read(fd, CHUNK)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            if self.link is not None:
                self.link.send_output(kind, task.id, data)
            return
        del task.output[kind]
        self._forget(fd)

    def _on_link(self, fd: int, mask: int) -> None:
        if mask & selectors.EVENT_READ:
            for kind, task_id, payload in self.link.receive():
                if kind == stepio.INPUT:
                    self._route_input(task_id, payload)
        if mask & selectors.EVENT_WRITE:
            self.link.flush()

    def _route_input(self, task_id: int, payload: bytes) -> None:
        """srun's bytes to the task they are for (or every task reading srun's stdin)."""
        for task in self.tasks:
            if task.io.stdin_w < 0 or task.input_ends or task_id not in (task.id, stepio.ALL_TASKS):
                continue
            if payload:
                task.input += payload
            else:
                task.input_ends = True
                if not task.input:
                    self._close_stdin(task)

    def _on_stdin_ready(self, fd: int, mask: int) -> None:
        task = next(t for t in self.tasks if t.io.stdin_w == fd)
        try:
            written = os.write(fd, task.input)
        except BlockingIOError:
            return
        except OSError:  # the task closed its stdin or ended: what it did not read is dropped
            task.input.clear()
            self._close_stdin(task)
            return
        del task.input[:written]
        if not task.input and task.input_ends:
            self._close_stdin(task)

    def _close_stdin(self, task: Task) -> None:
        if task.io.stdin_w >= 0:
            self._forget(task.io.stdin_w)
            task.io.stdin_w = -1

    def _drop_link(self) -> None:
        """srun is gone: the tasks run on, their output dropped, their stdin at its end."""
        if self.link_fd < 0:
            return
        self._want(self.link_fd, 0, None)
        self.link.close()
        self.link_fd = -1
        for task in self.tasks:
            task.input_ends = True
            if not task.input:
                self._close_stdin(task)

    def _send_exits(self, force: bool = False) -> None:
        """An EXIT frame for each task that has ended and whose output is all read."""
        for task in self.tasks:
            if task.exit_sent or task.status is None or (task.output and not force):
                continue
            task.exit_sent = True
            if self.link is not None:
                _, exit_code, signum = task.result()
                self.link.send_exit(task.id, exit_code, signum)

    # ---- the batch supervisor's hooks

    def _reap(self) -> None:
        while True:
            try:
                pid, status, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.cpu_time += usage.ru_utime + usage.ru_stime
            self.max_rss_kib = max(self.max_rss_kib, usage.ru_maxrss)
            task = self.by_pid.get(pid)
            if task is not None:
                task.status = status

    def _process_rss(self) -> dict[int, int]:
        return job_processes(self.pid, os.getsid(0))  # the tasks are in the supervisor's session

    def _processes(self) -> list[int]:
        pids = set(self._process_rss())
        if self.cgroup is not None:
            pids.update(self.cgroup.pids())
        pids.update(task.pid for task in self.tasks if task.status is None)
        return sorted(pids)

    def _name(self) -> str:
        return f"step {self.launch.label}"

    def _node_name(self) -> str:
        return self.launch.node_name

    def _note(self, text: str) -> None:
        """A word from the supervisor on the first task's stderr, as slurmstepd's are."""
        first = self.launch.tasks[0]
        if self.launch.stderr:
            append_note(self.launch.path(self.launch.stderr, first), self.launch.uid, text)
        elif self.link is not None:
            self.link.send_output(stepio.ERR, first, text.encode())

    # ---- finish

    def _finish(self) -> None:
        self._kill_leftovers()
        give_up = time.time() + DRAIN_GRACE_S
        while any(task.output for task in self.tasks):
            now = time.time()
            if self.link is not None and self.link.full():  # the pipes wait for srun, not for an escapee
                give_up = now + DRAIN_GRACE_S
                self._give_up_on_a_stalled_srun()
            elif now >= give_up:
                break
            self._turn(max(0.0, min(give_up - now, 1.0)))
        for task in self.tasks:
            for fd in task.output.values():
                self._forget(fd)
            task.output.clear()
            self._close_stdin(task)
        self._send_exits(force=True)
        self._end([task.result() for task in self.tasks])

    def _finish_unstarted(self) -> None:
        """The step could not start: each task ends with exit code 1, as a failed launch."""
        results = [(task, 1, 0) for task in self.launch.tasks]
        if self.link is not None:
            for task, exit_code, signum in results:
                self.link.send_exit(task, exit_code, signum)
        self._end(results)

    def _end(self, results: list[tuple[int, int, int]]) -> None:
        io_error = self._flush_link()
        launch_error = self.launch_error or read_all(self.error_r).split("\n", 1)[0]
        if self.cgroup is not None:
            self.max_rss_kib = max(self.max_rss_kib, self.cgroup.peak_kib())
            if self.ending is None and self.cgroup.oom_kills() > 0:
                self.ending = Outcome.OUT_OF_MEMORY
        state, reason = judge_step(self.ending, launch_error, results, self._requested_signals())
        write_step_status(self.jobdir, state, reason, results=results, start=self.start, end=time.time(),
                          cpu_time=round(self.cpu_time, 6), max_rss_kib=int(self.max_rss_kib), io_error=io_error)
        if self.cgroup is not None:
            self.cgroup.remove()
        if self.launch.notify:
            poke_fifo(self.launch.notify, self.launch.label)

    def _give_up_on_a_stalled_srun(self) -> None:
        if self.link.stalled_for() >= STALL_S:
            self.link.lose(f"srun took none of the step's last output for {STALL_S:g} s")

    def _flush_link(self) -> str:
        """Send srun the last frames while it takes them; why they did not all go, if not."""
        link = self.link
        if link is None:
            return self.launch_error if self.launch.io is not None else ""
        link.flush()
        while link.open and link.outgoing:
            _wait_writable(link.fileno(), 1.0)
            link.flush()
            self._give_up_on_a_stalled_srun()
        self._drop_link()
        return link.lost

    def _requested_signals(self) -> set[int]:
        try:
            with open(self._path(SIGNALS_FILE)) as f:
                return {int(line) for line in f if line.strip().isdigit()}
        except OSError:
            return set()


def _wait_writable(fd: int, timeout: float) -> None:
    with selectors.DefaultSelector() as waiting:
        waiting.register(fd, selectors.EVENT_WRITE)
        waiting.select(max(0.0, timeout))
