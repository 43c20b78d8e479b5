"""srun's end of a running step: the nodes' connections, the tasks' output and ends,
srun's standard input, signals, and a step whose nodes went silent.

Each node of the step connects once to srun's listener, says who it is (``HELLO`` with
the step's one-time token) and sends its tasks' output and ends in
``kairos.model.stepio`` frames; srun writes the output as Slurm's srun does
(``kairos.slurm.step_output``), reports failed tasks as they end
(``kairos.slurm.step_report``) and is done when every task has ended.  Its standard
input goes to the tasks (``INPUT`` frames for every task that reads it) once every node
has connected.

Signals (``kairos.cli.slurm._signals``): a first Ctrl-C prints the tasks' states, a
second within a second sends the tasks SIGINT and ends the step (``-X``: every Ctrl-C
is sent to the tasks; ``--quit-on-interrupt``: the first ends the step); SIGTERM,
SIGHUP and SIGQUIT end the step; SIGUSR1, SIGUSR2, SIGALRM and SIGCONT are passed to the
tasks through the controller.

A node may never connect (it could not reach srun, or died first) or go silent: srun
asks the controller about the step every ``POLL_S`` seconds, every second while a node
has not connected or its connection broke.  When the controller says a node's part was
lost, srun reports the node (``srun: error: Node failure on n2``) and ends the step, as
Slurm's srun does; once the controller says the step is over and the missing ends have
not come within ``GRACE_S``, srun ends with Slurm-like errors rather than waiting
forever.
"""

from __future__ import annotations

import errno
import os
import select
import selectors
import signal
import socket
import time
from collections.abc import Callable
from typing import Any

from kairos.cli.client import ApiError, Client
from kairos.cli.slurm._signals import Signals
from kairos.cli.slurm._steplinks import Frame, Links, NodeLink, StdinRelay
from kairos.core.jobs import JobState
from kairos.model import stepio
from kairos.slurm.srun import SrunRequest
from kairos.slurm.step_output import StepOutput
from kairos.slurm.step_report import Ending, exit_status, failed, failure_lines, status_lines

#: Seconds between questions to the controller about a running step.
POLL_S = 5.0
#: ... once every task srun can hear from has ended and only silent nodes' are left.
POLL_WAITING_S = 1.0
#: The first question, and how often to ask while a node has not connected yet.
FIRST_POLL_S = 2.0
#: How long srun waits for every node to connect before it feeds the tasks its input.
CONNECT_S = 10.0
#: Once the controller says the step is over: how long the last frames may take.
GRACE_S = 2.0
#: What srun says a cancelled step may take (the nodes' kill wait and a margin).
ABORT_WAIT_S = 32
#: A second Ctrl-C within this many seconds ends the step.
INTERRUPT_WINDOW_S = 1.0
#: Tasks of a node that end within this many seconds share srun's report line.
REPORT_DELAY_S = 0.05
#: Signals srun passes on to the step's tasks.
FORWARDED = frozenset({signal.SIGUSR1, signal.SIGUSR2, signal.SIGALRM, signal.SIGCONT})
#: Signals that end the step.
ENDING = frozenset({signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT})
HANDLED = (signal.SIGINT, *ENDING, *FORWARDED)


class StepSession:
    """One step, from the moment the controller created it to its last task's end."""

    def __init__(self, *, client: Client, request: SrunRequest, created: dict[str, Any],
                 listener: socket.socket, token: str, signals: Signals,
                 out_fd: int = 1, err_fd: int = 2, in_fd: int = 0) -> None:
        self.client = client
        self.request = request
        self.job_id = int(created["job_id"])
        self.step_id = int(created["step_id"])
        self.label = f"{self.job_id}.{self.step_id}"
        self.layout: dict[str, list[int]] = {n: list(t) for n, t in created["tasks"].items()}
        self.node_of = {t: node for node, tasks in self.layout.items() for t in tasks}
        self.signals = signals
        self.fds = {stepio.OUT: out_fd, stepio.ERR: err_fd}
        ntasks = len(self.node_of)
        self.outputs = {kind: StepOutput(ntasks, label=request.label, unbuffered=request.unbuffered)
                        for kind in (stepio.OUT, stepio.ERR)}
        self.endings: dict[int, Ending] = {}
        self.fresh: list[tuple[str, int, Ending]] = []  # ends not yet reported
        self.fresh_since = 0.0
        self.selector = selectors.DefaultSelector()
        self.selector.register(signals.fd, selectors.EVENT_READ, self._on_signal)
        self.links = Links(self.selector, listener, token, on_frames=self._on_frames,
                           on_hello=self._on_hello, on_closed=self._on_closed,
                           on_drained=self._input_taken)
        self.started = time.monotonic()
        self.next_poll = self.started + FIRST_POLL_S
        self.step_over_at: float | None = None
        self.step_record: dict[str, Any] = {}
        self.dead_links: set[str] = set()  # nodes whose connection broke early
        self.failed_nodes: set[str] = set()  # nodes reported lost
        self.interrupted_at: float | None = None
        self.aborted = False
        self.abort_until: float | None = None
        self.terminating = False
        self.first_end_at: float | None = None
        self.stdin = StdinRelay(in_fd, self.selector, self.links) if request.reads_stdin else None
        self.closed_streams: set[bytes] = set()
        self.gave_up = False

    # ---- the loop

    def run(self) -> int:
        """Relay the step until every task has ended (or the step is lost); srun's exit
        status."""
        try:
            while not self._finished():
                events = self.selector.select(self._timeout())
                for key, mask in events:
                    key.data(key.fileobj, mask)
                if self.stdin is not None:
                    self.stdin.pump()
                if self.fresh and time.monotonic() >= self.fresh_since + REPORT_DELAY_S:
                    self._report_ends()
                self._on_time()
            return self._finish()
        finally:
            self._close()

    def _finished(self) -> bool:
        """Every task has ended; or the rest can no longer be heard from: their nodes
        were reported lost, or the controller says the step is over and no node still
        connected owes srun an end."""
        missing = self.node_of.keys() - self.endings.keys()
        if self.gave_up or not missing:
            return True
        if {self.node_of[task] for task in missing} <= self.failed_nodes:
            return True
        return self.step_over_at is not None and self._only_silent_left()

    def _timeout(self) -> float:
        now = time.monotonic()
        moments = [self.next_poll]
        if self.step_over_at is not None:
            moments.append(self.step_over_at + GRACE_S)
        if self.abort_until is not None:
            moments.append(self.abort_until)
        if self.first_end_at is not None and self.request.wait and not self.terminating:
            moments.append(self.first_end_at + self.request.wait)
        if self.fresh:
            moments.append(self.fresh_since + REPORT_DELAY_S)
        if self.stdin is not None and self.stdin.busy:
            return 0.0
        return max(0.0, min(moments) - now)

    # ---- the nodes' frames

    def _on_hello(self, link: NodeLink) -> None:
        for task in link.tasks:
            self.node_of.setdefault(task, link.node or "?")
        if self.stdin is not None and set(self.layout) <= self.links.nodes():
            self.stdin.start()

    def _on_frames(self, link: NodeLink, frames: list[Frame]) -> None:
        for kind, task, payload in frames:
            if kind in (stepio.OUT, stepio.ERR):
                self._write(kind, self.outputs[kind].feed(task, payload))
            elif kind == stepio.EXIT:
                body = stepio.payload_json(payload)
                self._task_ended(link.node or self.node_of.get(task, "?"), task,
                                 (int(body.get("exit_code") or 0), int(body.get("signal") or 0)))

    def _input_taken(self) -> None:
        if self.stdin is not None:
            self.stdin.resume()

    def _on_closed(self, link: NodeLink) -> None:
        """A connection that ends before its tasks did is a node in trouble: the
        controller is asked about the step soon."""
        if link.node is not None and any(task not in self.endings for task in link.tasks):
            self.dead_links.add(link.node)
            self.next_poll = min(self.next_poll, time.monotonic() + 0.5)

    def _task_ended(self, node: str, task: int, ending: Ending) -> None:
        for kind, output in self.outputs.items():
            self._write(kind, output.end(task))
        if task in self.endings:
            return
        self.endings[task] = ending
        now = time.monotonic()
        if not self.fresh:
            self.fresh_since = now
        self.fresh.append((node, task, ending))
        if self.first_end_at is None:
            self.first_end_at = now
        if self._only_silent_left():  # ask about the nodes that have not spoken
            self.next_poll = min(self.next_poll, now + POLL_WAITING_S / 2)

    def _only_silent_left(self) -> bool:
        """Whether every task of a connected node has ended while others have not."""
        heard = {task for link in self.links for task in link.tasks}
        return heard <= self.endings.keys() and len(self.endings) < len(self.node_of)

    # ---- output

    def _write(self, kind: bytes, data: bytes) -> None:
        if not data or kind in self.closed_streams:
            return
        fd = self.fds[kind]
        view = memoryview(data)
        try:
            while view:
                written = os.write(fd, view)
                view = view[written:]
        except BlockingIOError:
            _write_blocking(fd, bytes(view))
        except OSError as error:
            if error.errno not in (errno.EPIPE, errno.EBADF):
                raise
            self.closed_streams.add(kind)  # the reader went away: its output is dropped

    def _report_ends(self) -> None:
        if not self.fresh:
            return
        fresh, self.fresh = self.fresh, []
        by_node: dict[str, dict[int, Ending]] = {}
        for node, task, ending in fresh:
            by_node.setdefault(node, {})[task] = ending
        skip = frozenset({signal.SIGINT}) if self.aborted else frozenset()
        for node, endings in by_node.items():
            for line in failure_lines(node, endings, skip_signals=skip):
                self._error(line)
        if self.request.kill_on_bad_exit and not (self.terminating or self.aborted) \
                and any(failed(ending) for _, _, ending in fresh):
            self._info(f"srun: Terminating StepId={self.label}")
            self.terminating = True
            self._cancel_step()

    # ---- signals

    def _on_signal(self, fd: int, mask: int) -> None:
        for number in self.signals.take():
            if number == signal.SIGINT:
                self._interrupt()
            elif number in ENDING:
                self._info("srun: forcing job termination")
                self._abort()
            elif number in FORWARDED:
                self._signal_step(number)

    def _interrupt(self) -> None:
        now = time.monotonic()
        if self.aborted:  # the step is ending already
            return
        if self.request.disable_status:
            self._info(f"srun: sending Ctrl-C to StepId={self.label}")
            self._signal_step(signal.SIGINT)
            return
        second = self.interrupted_at is not None and now - self.interrupted_at <= INTERRUPT_WINDOW_S
        if second or self.request.quit_on_interrupt:
            self._info(f"srun: sending Ctrl-C to StepId={self.label}")
            self._signal_step(signal.SIGINT)
            self._info("srun: forcing job termination")
            self._abort()
            return
        self.interrupted_at = now
        self._info("srun: interrupt (one more within 1 sec to abort)")
        for line in status_lines(self.label, self.node_of, self.endings):
            self._info(line)

    def _abort(self) -> None:
        if self.aborted:
            return
        self.aborted = True
        self.abort_until = time.monotonic() + ABORT_WAIT_S
        self._info(f"srun: Job step aborted: Waiting up to {ABORT_WAIT_S} seconds for job "
                   "step to finish.")
        self._cancel_step()

    def _signal_step(self, number: int) -> None:
        self._ask(lambda: self.client.signal_step(self.job_id, self.step_id, int(number)))

    def _cancel_step(self) -> None:
        self._ask(lambda: self.client.cancel_step(self.job_id, self.step_id))

    def _ask(self, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except (ApiError, OSError):
            return None  # the step has ended meanwhile: its ends are on their way

    # ---- time: the controller's view, -W, the end of an abort

    def _on_time(self) -> None:
        now = time.monotonic()
        if self.stdin is not None and now >= self.started + CONNECT_S:
            self.stdin.start()  # a node that never connects must not hold the others' input
        if self.first_end_at is not None and self.request.wait and not self.terminating \
                and not self.aborted and now >= self.first_end_at + self.request.wait \
                and not self._finished():
            self._wait_expired()
        if now >= self.next_poll:
            self._poll()
        if self.step_over_at is not None and now >= self.step_over_at + GRACE_S:
            self.gave_up = True
        if self.abort_until is not None and now >= self.abort_until + GRACE_S:
            self.gave_up = True

    def _wait_expired(self) -> None:
        self._info(f"srun: First task exited {int(self.request.wait or 0)}s ago")
        for line in status_lines(self.label, self.node_of, self.endings):
            self._info(line)
        self._info(f"srun: Terminating StepId={self.label}")
        self.terminating = True
        self._abort()

    def _poll(self) -> None:
        troubled = (self._only_silent_left() or (self.dead_links - self.failed_nodes)
                    or not set(self.layout) <= self.links.nodes())
        self.next_poll = time.monotonic() + (POLL_WAITING_S if troubled else POLL_S)
        try:
            steps = self.client.steps(self.job_id)
        except ApiError as error:
            if error.status in (400, 404):
                self._step_over({})
            return
        except OSError:
            return
        record = next((s for s in steps if int(s.get("step_id", -1)) == self.step_id), None)
        if record is None or record.get("end_time") is not None:
            self._step_over(record or {})
        elif _state(record) is JobState.NODE_FAIL:
            self._nodes_failed(record)

    def _step_over(self, record: dict[str, Any]) -> None:
        """The controller says every node's part of the step has ended."""
        if self.step_over_at is None:
            self.step_over_at = time.monotonic()
            self.step_record = record

    def _nodes_failed(self, record: dict[str, Any]) -> None:
        """The controller says a node's part of the step was lost: the nodes srun lost
        or never heard from are reported, and the step is ended, as Slurm's srun does."""
        self.step_record = record
        silent = (set(self.layout) - self.links.nodes()) | self.dead_links
        for node in sorted(silent - self.failed_nodes):
            self.failed_nodes.add(node)
            self._error(f"srun: error: Node failure on {node}")
        self._abort()

    # ---- the end

    def _finish(self) -> int:
        for kind, output in self.outputs.items():
            self._write(kind, output.close())
        self._report_ends()
        lost = [task for task in self.node_of if task not in self.endings]
        if lost:
            self._report_lost(lost)
        killed = any(sig in (signal.SIGKILL, signal.SIGTERM) for _, sig in self.endings.values())
        if killed and not self.aborted:
            self._info(f"srun: Force Terminated StepId={self.label}")
        status = exit_status(self.endings.values())
        return max(status, 1) if lost else status

    def _report_lost(self, lost: list[int]) -> None:
        reason = str(self.step_record.get("reason") or "")
        nodes = sorted({self.node_of[task] for task in lost} - self.failed_nodes)
        connected = self.links.nodes() | self.dead_links
        node_failed = _state(self.step_record) is JobState.NODE_FAIL
        for node in nodes:
            if node not in connected and not node_failed and reason not in ("", "None"):
                self._error(f"srun: error: Task launch for StepId={self.label} failed on "
                            f"node {node}: {reason}")
            else:
                self._error(f"srun: error: Node failure on {node}")

    def _close(self) -> None:
        self.links.close()
        self.selector.close()

    # ---- srun's own messages

    def _info(self, line: str) -> None:
        if not self.request.quiet:
            self._error(line)

    def _error(self, line: str) -> None:
        self._write(stepio.ERR, (line + "\n").encode())


def _state(record: dict[str, Any]) -> JobState | None:
    return JobState.__members__.get(str(record.get("state")))


def _write_blocking(fd: int, data: bytes) -> None:
    """Write to a descriptor left non-blocking by someone else."""
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view):]
        except BlockingIOError:
            select.select([], [fd], [])
