"""How big one run of the live benchmark is, and what every job it submits asks for."""

from __future__ import annotations

from dataclasses import dataclass

#: What both systems' jobs ask for: ``--mem`` because the peer (``CR_Core_Memory``, no
#: default memory) would otherwise give each job the whole node and run one at a time,
#: ``--nice`` so that other people's jobs on the shared peer are not stuck behind these.
JOB_OPTIONS = ("--output=/dev/null", "--mem=100M", "--nice=1000")


@dataclass
class Options:
    """The sizes of one run (see ``benchmarks/live.py --help``)."""

    jobs: int
    queued: int
    peer_queued: int
    cli_submits: int
    api_submits: int
    api_clients: int
    parallel: int
    runs: int
    cold_runs: int
    batch_size: int
    peer_timeout: float
    tag: str  #: starts every job name of this run, so the peer's queue tells them apart
