"""Signals as users name them: ``USR1``, ``SIGUSR1`` or ``10`` (``scancel --signal``,
``srun``'s forwarding, ``--signal=B:USR1@60``)."""

from __future__ import annotations

import signal as signals


def signal_number(name: str | int) -> int:
    name = str(name).upper()
    if name.isdigit():
        return int(name)
    if not name.startswith("SIG"):
        name = "SIG" + name
    try:
        return int(getattr(signals.Signals, name))
    except AttributeError:
        raise ValueError(f"unknown signal {name!r}") from None
