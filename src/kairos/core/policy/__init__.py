"""Scheduling policies, selectable by name: ``fcfs``, ``easy``, ``conservative``."""

from __future__ import annotations

from typing import Callable

from kairos.core.policy.backfill import BACKFILL_ORDERS, Backfill, Walk

POLICIES: dict[str, Callable[..., Backfill]] = {
    "fcfs": lambda **kw: Backfill("fcfs", 0, backfill=False),
    "easy": lambda **kw: Backfill("easy", 1, **kw),
    "conservative": lambda **kw: Backfill("conservative", None, **kw),
}


def make_policy(name: str, *, backfill_order: str = "queue") -> Backfill:
    """Build a policy by name; ``backfill_order`` ("queue" or "shortest") says in which
    order backfill candidates are tried (FCFS does not backfill)."""
    try:
        factory = POLICIES[name]
    except KeyError:
        raise ValueError(f"unknown policy {name!r}; choose one of: {', '.join(POLICIES)}") from None
    return factory(backfill_order=backfill_order)


__all__ = ["BACKFILL_ORDERS", "Backfill", "POLICIES", "Walk", "make_policy"]
