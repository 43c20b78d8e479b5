"""The drain phase: the time from the first submission until ``--jobs`` trivial jobs
(``true``) have all finished, as one array and as single jobs, on both systems.

Kairos is done when its job counts show none pending or running; the peer, which keeps
no accounting, when ``squeue -r -n NAME`` lists none of the run's jobs.  The peer's log
also tells how many scheduling passes it took (see :func:`.peer.cadence`)."""

from __future__ import annotations

import time

from kairos.core.jobs import JobState
from kairos.testing.states import ENDED

from .controller import BenchController
from .measure import progress_bar, run_parallel
from .options import JOB_OPTIONS, Options
from .peer import BenchPeer, cadence
from .report import Report, Row, faster_by

def phase_drain(kairos: BenchController, peer: BenchPeer | None, opts: Options,
                report: Report) -> None:
    """Time from the first submission until ``--jobs`` trivial jobs have all finished."""
    n = opts.jobs
    array = report.add(Row("drain_array", f"drain {n:,} `true` jobs: one array `--array=1-{n}`",
                           "s", target=faster_by(10)))
    singles = report.add(Row("drain_single", f"drain {n:,} `true` jobs: single jobs, Kairos "
                             f"by API ({opts.parallel} threads), peer by `sbatch` x{opts.parallel}",
                             "s", target=faster_by(10)))
    singles_cli = report.add(Row("drain_single_cli", f"drain {n:,} `true` jobs: single jobs by "
                                 f"`kairos sbatch` x{opts.parallel} (peer: as above)", "s"))
    array.kairos = _kairos_drain(kairos, opts, "array", f"--array=1-{n}")
    singles.kairos = _kairos_drain(kairos, opts, "api")
    singles_cli.kairos = _kairos_drain(kairos, opts, "cli")
    if peer is not None:
        array.peer = _peer_drain(peer, opts, report, "array")
        singles.peer = singles_cli.peer = _peer_drain(peer, opts, report, "single")


def _kairos_drain(kairos: BenchController, opts: Options, how: str, *array: str) -> float:
    kairos.restart()
    n, name = opts.jobs, f"{opts.tag}-drain-{how}"
    args = [*JOB_OPTIONS, f"--job-name={name}", *array, "--wrap", "true"]
    began = time.perf_counter()
    if how == "array":
        kairos.submit(*args)
    elif how == "api":
        kairos.submit_api(kairos.spec(*JOB_OPTIONS, name=name), n, opts.parallel,
                          "Kairos: submit single jobs (API)")
    else:
        run_parallel(n, opts.parallel, lambda _: kairos.submit(*args),
                     "Kairos: submit single jobs (kairos sbatch)")
    with progress_bar() as bar:
        task = bar.add_task(f"Kairos: drain {n:,} ({how})", total=n)
        while True:
            counts = kairos.counts()
            done = sum(counts.get(state.name, 0) for state in ENDED)
            bar.update(task, completed=done)
            if (not counts.get(JobState.PENDING.name) and not counts.get(JobState.RUNNING.name)
                    and done >= n):
                break
            time.sleep(0.05)
    seconds = time.perf_counter() - began
    if counts.get(JobState.COMPLETED.name, 0) != n:
        raise RuntimeError(f"Kairos drain ({how}): expected {n} COMPLETED, got {counts}")
    return seconds


def _peer_drain(peer: BenchPeer, opts: Options, report: Report, how: str) -> float | None:
    n, name = opts.jobs, f"{opts.tag}-drain-{how}"
    args = [*JOB_OPTIONS, f"--job-name={name}", "--wrap", "true"]
    peer.wait_for_room(n + 100, 900)
    began_epoch, began = time.time(), time.perf_counter()
    if how == "array":
        ids = [peer.submit(f"--array=1-{n}", *args)]
    else:
        ids = run_parallel(n, opts.parallel, lambda _: peer.submit(*args),
                           "peer: submit single jobs (sbatch)")
    deadline = began + opts.peer_timeout
    with progress_bar() as bar:
        task = bar.add_task(f"peer: drain {n:,} ({how})", total=n)
        while True:
            left = peer.listed(name)
            bar.update(task, completed=n - left)
            if left == 0:
                break
            if time.perf_counter() > deadline:
                peer.cancel(ids)
                report.notes.append(f"peer drain ({how}) stopped after {opts.peer_timeout:.0f} s "
                                    f"with {left} jobs left (--peer-timeout)")
                return None
            time.sleep(0.25)
    seconds = time.perf_counter() - began
    peer.forget(ids)
    starts = peer.start_times(set(ids), ids[0] if how == "array" else None, began_epoch)
    report.peer_cadence[how] = cadence(starts)
    return seconds
