"""What the twin's commands (``kairos simulate``, ``kairos predict``) share: notes on
stderr, the workload they were given, and replays with a progress bar for whoever watches.

``kairos.sim`` and Rich are imported inside the functions, so that ``kairos --help``
stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from kairos.sim.replay import ReplayResult
    from kairos.sim.runs import RunConfig
    from kairos.sim.workload import Workload

#: Below this many jobs a replay is quick enough to need no progress bar.
PROGRESS_MIN_JOBS = 5000


def note(message: str) -> None:
    """A line for the person at the terminal, on stderr (stdout stays parseable)."""
    typer.echo(f"kairos: {message}", err=True)


def load_workload(trace: Path | None, *, procs: int | None, limit: int | None) -> Workload:
    """The trace given, else the default workload (``kairos.sim.workload``), said on
    stderr."""
    from kairos.sim.workload import default_workload, describe_workload

    workload = default_workload(trace, procs=procs, limit=limit)
    note(describe_workload(workload, trace))
    return workload


def replay_with_progress(workload: Workload, config: RunConfig, order: str,
                         forecast_every: int = 0) -> ReplayResult:
    """``kairos.sim.runs.run_replay``, with a Rich progress bar on stderr when stderr is
    a terminal and the workload is big enough for the wait to be noticed."""
    from kairos.sim.runs import run_replay

    if not sys.stderr.isatty() or len(workload.jobs) < PROGRESS_MIN_JOBS:
        return run_replay(workload, config, order, forecast_every)
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(f"replay {config.label}", total=len(workload.jobs))
        result = run_replay(workload, config, order, forecast_every,
                            progress=lambda done: bar.update(task, completed=done))
    note(f"{config.label}: {len(result.jobs):,} jobs replayed in {result.wall_seconds:.1f} s")
    return result
