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


#: The longest warning Slurm takes: ``--signal``'s seconds are 16 bits there.
MAX_WARN_TIME = 65535
#: Seconds before the time limit when ``--signal`` gives none.
DEFAULT_WARN_TIME = 60


def parse_warning_signal(value: str) -> tuple[int, int, bool]:
    """``--signal=[{R|B}:]SIG[@secs]`` as ``(signal number, seconds, batch shell only)``.

    As in Slurm 22.05: SIG by name (``USR1``, ``SIGUSR1``, any case) or number, secs
    from 0 to 65535 (default 60); ``B:`` sends it to the batch shell alone.  ``R:``
    (sent when a reservation ends) is refused: Kairos has no reservations."""
    text = value.strip()
    flags, colon, rest = text.partition(":")
    if not colon:
        flags, rest = "", text
    flags = flags.upper()
    if "R" in flags:
        raise ValueError("R: (signal at the end of a reservation) is not supported: Kairos "
                         "has no reservations; use B: or no prefix")
    if flags not in ("", "B"):
        raise ValueError(f"unknown prefix {flags + ':'!r}; use B: (the batch shell only) "
                         "or none (the job's steps)")
    name, at, seconds_text = rest.partition("@")
    usage = "use [B:]SIG[@seconds], e.g. B:USR1@120"
    if not name:
        raise ValueError(f"no signal given; {usage}")
    try:
        number = signal_number(name)
    except ValueError:
        raise ValueError(f"unknown signal {name!r}; {usage}") from None
    if number not in {int(s) for s in signals.valid_signals()} or number == 0:
        raise ValueError(f"{name} is not a signal number of this system; {usage}")
    seconds = DEFAULT_WARN_TIME
    if at:
        if not seconds_text.isdigit() or int(seconds_text) > MAX_WARN_TIME:
            raise ValueError(f"the time before the limit must be 0 to {MAX_WARN_TIME} "
                             f"seconds; {usage}")
        seconds = int(seconds_text)
    return number, seconds, flags == "B"
