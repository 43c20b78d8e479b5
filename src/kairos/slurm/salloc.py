"""``salloc``'s command line turned into the allocation to ask for (an allocation-only
``Submission``) and the command to run in it.

As Slurm 22.05's salloc: the options are sbatch's job options (``-n -N -c --mem -G -p
-t -w -x -C -J -D``...), read up to the first word that is not an option; the rest is
the command (default: ``$SHELL``, else ``/bin/sh``), run on this host with the
allocation's ``SLURM_*`` variables.  The job is named ``interactive`` unless ``-J``
says otherwise.  ``-K/--kill-command[=signal]`` sends the command a signal (default
SIGTERM) if the allocation is revoked while it runs.  The table of every salloc option
and what Kairos does with it is ``kairos.slurm.salloc_options``.
"""

from __future__ import annotations

import dataclasses
import os
import signal
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kairos.slurm.command_line import OptionSyntaxError, read_command_line
from kairos.slurm.option_engine import Setting, SlurmOptionError
from kairos.slurm.salloc_options import ALIASES, INFO_OPTIONS, TABLE
from kairos.slurm.sbatch_submission import Draft, apply_settings, build_submission

if TYPE_CHECKING:
    from kairos.model.submission import Submission

__all__ = ["OptionSyntaxError", "SallocRequest", "SlurmOptionError", "parse_salloc"]

DEFAULT_NAME = "interactive"


@dataclass
class SallocRequest:
    """A parsed salloc command line."""

    command: list[str]
    draft: Draft
    quiet: bool = False
    verbose: int = 0
    kill_signal: int | None = None  #: ``-K``: sent to the command if the job is revoked
    immediate: float | None = None
    warnings: list[str] = field(default_factory=list)
    info: str | None = None

    def submission(self, *, cwd: str, env: Mapping[str, str], submit_host: str) -> Submission:
        shaped = build_submission(self.draft, script="", argv=[], default_name=DEFAULT_NAME,
                                  cwd=cwd, env=env, submit_host=submit_host)
        return dataclasses.replace(shaped, allocation=True, stdout=None, stderr=None)

    def work_dir(self, cwd: str) -> str:
        """Where the command runs: ``-D``, relative to salloc's directory."""
        return os.path.normpath(os.path.join(cwd, self.draft.chdir or ""))


def parse_salloc(argv: list[str], env: Mapping[str, str], *, now: float) -> SallocRequest:
    """A salloc command line; raises ``OptionSyntaxError`` for words getopt cannot read
    and ``SlurmOptionError`` for anything else salloc refuses."""
    line = read_command_line(TABLE, argv, env, aliases=ALIASES, info=INFO_OPTIONS)
    command = line.command or [env.get("SHELL") or "/bin/sh"]
    if line.info is not None:
        return SallocRequest(command, Draft(), info=line.info)
    request = SallocRequest(command, Draft(), warnings=list(line.warnings))
    shared = []
    for setting in line.settings:
        long = setting.option.long
        if long == "quiet":
            request.quiet = True
        elif long == "kill-command":
            request.kill_signal = _signal(setting.value, setting)
        elif long == "immediate":
            value = (setting.value or "").strip()
            if value and not value.isdigit():
                raise setting.error(f"Invalid numeric value \"{setting.value}\" for --immediate.")
            request.immediate = float(value) if value else 1.0
        elif long == "verbose":
            request.verbose += 1
        else:
            shared.append(setting)
    request.draft = apply_settings(shared, now)
    request.submission(cwd="/", env={}, submit_host="")  # the rules between options, now
    return request


def _signal(value: str | None, setting: Setting) -> int:
    from kairos.slurm.signals import signal_number

    if not value:
        return int(signal.SIGTERM)
    try:
        return signal_number(value.strip())
    except ValueError:
        raise setting.error(f"Invalid signal name: {value}") from None
