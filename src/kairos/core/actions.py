"""What the scheduler asks its driver to do.  Drivers (the twin, the live controller)
carry these out; the core never does I/O itself."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StartJob:
    """Start ``job_id`` now (``at``) on ``placement``; plan for it to end at ``expected_end``."""

    job_id: int
    at: float
    placement: object
    expected_end: float


@dataclass(frozen=True, slots=True)
class KillJob:
    """Stop running job ``job_id`` (cancel, time limit, preemption); the driver reports
    the end with the matching final state."""

    job_id: int
    at: float
    why: str
