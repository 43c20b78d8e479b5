"""Timing commands and running submitters in parallel, with progress shown on stderr."""

from __future__ import annotations

import statistics
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

#: Progress and phase headings go to stderr; the table goes to stdout.
err = Console(stderr=True)


def progress_bar() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=err, transient=True)


def wall_seconds(argv: list[str], env: dict | None = None, cwd: Path | None = None) -> float:
    """Wall time of one command run to completion (output discarded)."""
    began = time.perf_counter()
    proc = subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - began
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr.strip()}")
    return elapsed


def median_ms(argv: list[str], runs: int, env: dict | None = None, cwd: Path | None = None,
              label: str = "") -> float:
    """Median wall time in milliseconds over ``runs`` runs, after one unmeasured warm-up."""
    wall_seconds(argv, env, cwd)
    samples = []
    with progress_bar() as bar:
        task = bar.add_task(label or " ".join(argv[-2:]), total=runs)
        for _ in range(runs):
            samples.append(wall_seconds(argv, env, cwd) * 1000)
            bar.advance(task)
    return statistics.median(samples)


def run_parallel(count: int, parallel: int, submit_one: Callable[[int], int],
                 label: str) -> list[int]:
    """``submit_one(i)`` for i in range(count), ``parallel`` at a time; the job ids."""
    ids: list[int] = []
    with progress_bar() as bar, ThreadPoolExecutor(parallel) as pool:
        task = bar.add_task(label, total=count)
        for job_id in pool.map(submit_one, range(count)):
            ids.append(job_id)
            bar.advance(task)
    return ids


def in_sequence(count: int, submit: Callable[[], int], label: str) -> tuple[list[int], float]:
    """``submit()`` ``count`` times one after another; the job ids and the seconds taken."""
    began = time.perf_counter()
    ids = run_parallel(count, 1, lambda _: submit(), label)
    return ids, time.perf_counter() - began
