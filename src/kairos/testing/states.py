"""When a job has ended, as tests and benchmarks wait for it.

Both managers print state names (``squeue %T``, ``sacct``, the API's job records); a
wait is over when every record shows one of :data:`ENDED`.  The set is written out
rather than taken from ``JobState.finished``: a requeued job is not running, yet it
has not ended either.
"""

from __future__ import annotations

from kairos.core.jobs import JobState

#: The states a job never leaves.
ENDED = frozenset({JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED, JobState.TIMEOUT,
                   JobState.OUT_OF_MEMORY, JobState.NODE_FAIL, JobState.PREEMPTED,
                   JobState.BOOT_FAIL, JobState.DEADLINE})


def state_named(name: str) -> JobState | None:
    """The state a command printed (``COMPLETED``; ``CANCELLED by 0`` as sacct says it),
    or None for a name Kairos does not know."""
    words = name.split()
    return JobState.__members__.get(words[0]) if words else None


def has_ended(name: str, states: frozenset[JobState] = ENDED) -> bool:
    """Whether the state a command printed is one of ``states``."""
    return state_named(name) in states
