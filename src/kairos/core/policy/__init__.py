"""Scheduling policies, selectable by name: ``fcfs``, ``easy``, ``conservative``."""

from __future__ import annotations

from typing import Callable

from kairos.core.policy.backfill import Backfill, Walk

POLICIES: dict[str, Callable[[], Backfill]] = {
    "fcfs": lambda: Backfill("fcfs", 0, backfill=False),
    "easy": lambda: Backfill("easy", 1),
    "conservative": lambda: Backfill("conservative", None),
}


def make_policy(name: str) -> Backfill:
    """Build a policy by name."""
    try:
        return POLICIES[name]()
    except KeyError:
        raise ValueError(f"unknown policy {name!r}; choose one of: {', '.join(POLICIES)}") from None


__all__ = ["Backfill", "POLICIES", "Walk", "make_policy"]
