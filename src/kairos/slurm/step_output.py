"""What srun writes of its tasks' output, as Slurm 22.05's srun writes it.

Each task's stream is written line by line (a line is held until its newline, so the
lines of several tasks never mix), with ``-l/--label`` each line starts with the task's
number, right-aligned to the width of the highest (`` 0: `` for twelve tasks); with
``-u/--unbuffered`` bytes are written as they come.  When a task ends, what it left
without a newline is written as is, or, labelled, ended with one (the peer prints
``0: partial`` and a newline for ``srun -l printf partial``).  A line longer than
``LINE_LIMIT`` is written in pieces rather than held without end.

Bytes are never decoded: a task may write binary data.  One ``StepOutput`` per stream
(stdout, stderr).
"""

from __future__ import annotations

#: The longest partial line held for a task before it is written anyway.
LINE_LIMIT = 1 << 16


class StepOutput:
    """One stream of a step's tasks, turned into what srun writes."""

    def __init__(self, ntasks: int, *, label: bool = False, unbuffered: bool = False) -> None:
        self.label = label
        self.unbuffered = unbuffered
        self.width = len(str(max(ntasks - 1, 0)))
        self._pending: dict[int, bytes] = {}
        self._mid_line: set[int] = set()  # tasks whose last written byte is not a newline

    def feed(self, task: int, data: bytes) -> bytes:
        """``data`` from ``task``: what to write now."""
        if self.unbuffered:
            return self._labelled(task, data)
        held = self._pending.pop(task, b"") + data
        cut = held.rfind(b"\n") + 1
        ready, rest = held[:cut], held[cut:]
        if len(rest) > LINE_LIMIT:
            ready, rest = held, b""
        if rest:
            self._pending[task] = rest
        return self._labelled(task, ready)

    def end(self, task: int) -> bytes:
        """``task`` has ended: the rest of its output."""
        out = self._labelled(task, self._pending.pop(task, b""))
        if self.label and task in self._mid_line:
            self._mid_line.discard(task)
            out += b"\n"
        return out

    def close(self) -> bytes:
        """The step is over: what every task left."""
        return b"".join(self.end(task) for task in sorted(self._pending.keys() | self._mid_line))

    def prefix(self, task: int) -> bytes:
        return f"{task:>{self.width}}: ".encode()

    def _labelled(self, task: int, data: bytes) -> bytes:
        if not data:
            return b""
        if not self.label:
            return data
        pieces = []
        start = 0
        while start < len(data):
            stop = data.find(b"\n", start)
            stop = len(data) if stop < 0 else stop + 1
            if task not in self._mid_line:
                pieces.append(self.prefix(task))
            pieces.append(data[start:stop])
            if data[stop - 1:stop] == b"\n":
                self._mid_line.discard(task)
            else:
                self._mid_line.add(task)
            start = stop
        return b"".join(pieces)
