"""Scheduling policies, selectable by name: ``fcfs``, ``easy``, ``conservative``; EASY's
backfill order ``guarded`` is a policy of its own (``kairos.core.policy.guarded``)."""

from __future__ import annotations

from typing import Callable

from kairos.core.policy.backfill import BACKFILL_ORDERS, PROTECT_AFTER, Backfill, Walk
from kairos.core.policy.guarded import Guarded

POLICIES: dict[str, Callable[..., Backfill]] = {
    "fcfs": lambda **kw: Backfill("fcfs", 0, backfill=False),
    "easy": lambda **kw: Backfill("easy", 1, **kw),
    "conservative": lambda **kw: Backfill("conservative", None, **kw),
}


def make_policy(name: str, *, backfill_order: str = "queue",
                protect_after: float = PROTECT_AFTER) -> Backfill:
    """Build a policy by name; ``backfill_order`` ("queue", "shortest", "aged" or
    "guarded") says in which order backfill candidates are tried (FCFS does not
    backfill); ``protect_after`` (seconds) is when "aged" starts protecting the reserved
    job with requested times.  "guarded" is EASY's only (conservative already promises
    every job a start)."""
    if backfill_order == "guarded" and name != "fcfs":
        if name != "easy":
            raise ValueError(f"the guarded backfill order applies to the easy policy, not {name!r}")
        return Guarded("easy")
    try:
        factory = POLICIES[name]
    except KeyError:
        raise ValueError(f"unknown policy {name!r}; choose one of: {', '.join(POLICIES)}") from None
    return factory(backfill_order=backfill_order, protect_after=protect_after)


__all__ = ["BACKFILL_ORDERS", "Backfill", "Guarded", "POLICIES", "PROTECT_AFTER", "Walk", "make_policy"]
