"""Scheduling policies, selectable by name: ``fcfs``, ``easy``, ``conservative``."""

from __future__ import annotations

from typing import Callable

from kairos.core.policy.backfill import BACKFILL_ORDERS, PROTECT_AFTER, Backfill, Walk

POLICIES: dict[str, Callable[..., Backfill]] = {
    "fcfs": lambda **kw: Backfill("fcfs", 0, backfill=False),
    "easy": lambda **kw: Backfill("easy", 1, **kw),
    "conservative": lambda **kw: Backfill("conservative", None, **kw),
}


def make_policy(name: str, *, backfill_order: str = "queue",
                protect_after: float = PROTECT_AFTER) -> Backfill:
    """Build a policy by name; ``backfill_order`` ("queue", "shortest" or "aged") says in
    which order backfill candidates are tried (FCFS does not backfill); ``protect_after``
    (seconds) is when "aged" starts protecting the reserved job with requested times."""
    try:
        factory = POLICIES[name]
    except KeyError:
        raise ValueError(f"unknown policy {name!r}; choose one of: {', '.join(POLICIES)}") from None
    return factory(backfill_order=backfill_order, protect_after=protect_after)


__all__ = ["BACKFILL_ORDERS", "Backfill", "POLICIES", "PROTECT_AFTER", "Walk", "make_policy"]
