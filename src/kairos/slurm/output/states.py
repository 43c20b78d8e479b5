"""Job states as the query commands take them on the command line (``squeue -t``):
Slurm's codes or names in any case, comma separated, or ``all``.

The states themselves are ``kairos.core.jobs.JobState``; this adds the list syntax and
Slurm's error message, which lists every valid name in Slurm's order.
"""

from __future__ import annotations

from kairos.core.jobs import JobState


class UnknownStateError(ValueError):
    """A job state given on the command line that is neither a code nor a name."""


def state_code(name: str) -> str:
    """``PENDING`` -> ``PD``; an unknown name is returned as it is."""
    try:
        return JobState.parse(name).code
    except ValueError:
        return name


def parse_states(text: str) -> frozenset[JobState]:
    """A comma list of state codes or names, or ``all``; raises ``UnknownStateError``
    naming the bad item and listing the valid names."""
    items = [item for item in text.split(",") if item.strip()]
    if any(item.strip().lower() == "all" for item in items):
        return frozenset(JobState)
    states = set()
    for item in items:
        try:
            states.add(JobState.parse(item))
        except ValueError:
            valid = ",".join(state.name for state in JobState)
            raise UnknownStateError(f"Invalid job state specified: {item}\n"
                                    f"Valid job states include: {valid}") from None
    return frozenset(states)
