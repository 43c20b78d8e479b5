"""What srun says about its tasks, and the status it exits with, as Slurm 22.05's srun
(checked on the peer).

* A task that fails: ``srun: error: NODE: task 1: Exited with exit code 3``; one killed
  by a signal: ``srun: error: NODE: task 1: Killed`` (the signal's description, as
  ``strsignal`` gives it: ``Segmentation fault``, ``User defined signal 1``...).  Tasks of
  one node that ended alike at once share a line: ``tasks 0-1``, ``tasks 0,2-3``.
* srun's exit status: 128 plus the highest signal that killed a task, if one did (a
  signal outweighs any exit code: a task killed by SIGUSR1 beside one that exited 200
  gives 138); else the highest exit code.
* On a first Ctrl-C, each state's tasks: ``srun: StepId=12.0 tasks 1-2: running``,
  ``... task 0: exited``, ``... task 3: exited abnormally``.
"""

from __future__ import annotations

import signal
from collections.abc import Iterable, Mapping, Sequence

#: A task's end: (exit code, signal).
Ending = tuple[int, int]


def task_ranges(tasks: Iterable[int]) -> str:
    """``[0, 1, 2, 5]`` -> ``0-2,5``."""
    ordered = sorted(set(tasks))
    runs: list[list[int]] = []
    for task in ordered:
        if runs and task == runs[-1][1] + 1:
            runs[-1][1] = task
        else:
            runs.append([task, task])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def tasks_phrase(tasks: Sequence[int]) -> str:
    """``task 1`` or ``tasks 0-1``."""
    return f"{'task' if len(set(tasks)) == 1 else 'tasks'} {task_ranges(tasks)}"


def describe_signal(number: int) -> str:
    """A signal's description (``Killed``), as srun prints it."""
    try:
        text = signal.strsignal(number)
    except ValueError:
        text = None
    return text or f"Signal {number}"


def describe_ending(ending: Ending) -> str | None:
    """How a task ended, in srun's words; ``None`` when it exited 0."""
    code, sig = ending
    if sig:
        return describe_signal(sig)
    return f"Exited with exit code {code}" if code else None


def failure_lines(node: str, endings: Mapping[int, Ending], *,
                  skip_signals: frozenset[int] = frozenset()) -> list[str]:
    """srun's error lines for tasks of ``node`` that ended together: one per way of
    ending, in task order; tasks killed by a signal in ``skip_signals`` are not
    reported (srun sent it)."""
    groups: dict[Ending, list[int]] = {}
    for task in sorted(endings):
        ending = endings[task]
        if ending[1] in skip_signals:
            continue
        if describe_ending(ending) is not None:
            groups.setdefault(ending, []).append(task)
    return [f"srun: error: {node}: {tasks_phrase(tasks)}: {describe_ending(ending)}"
            for ending, tasks in groups.items()]


def exit_status(endings: Iterable[Ending]) -> int:
    """srun's exit status for its tasks' endings (see the module docstring)."""
    codes, signals = [0], [0]
    for code, sig in endings:
        (signals if sig else codes).append(sig if sig else code)
    return 128 + max(signals) if max(signals) else max(codes)


def failed(ending: Ending) -> bool:
    return describe_ending(ending) is not None


def status_lines(step: str, tasks: Iterable[int], endings: Mapping[int, Ending]) -> list[str]:
    """What srun prints on a first Ctrl-C: which tasks run, which ended, which failed."""
    states: dict[str, list[int]] = {"running": [], "exited": [], "exited abnormally": []}
    for task in sorted(set(tasks)):
        ending = endings.get(task)
        state = "running" if ending is None else "exited abnormally" if failed(ending) else "exited"
        states[state].append(task)
    return [f"srun: StepId={step} {tasks_phrase(listed)}: {state}"
            for state, listed in states.items() if listed]
