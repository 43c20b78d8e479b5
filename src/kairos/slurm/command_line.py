"""The command lines of srun and salloc: options, then the command to run.

Both read their options with the shared engine (``kairos.slurm.option_engine``), their
variables (``SLURM_*``, ``SALLOC_*``) below the command line, and stop at the first
word that is not an option: the command and its arguments, which keep every word as
given (``srun -n2 ls -l``: ``-l`` is ``ls``'s).  Then each setting is sorted out: an
option Kairos refuses is an error saying why; one it accepts with no effect gives a
warning (srun and salloc print them on stderr, unless ``-Q``); the others are honoured.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from kairos.slurm.option_engine import OptionTable, Setting, SlurmOptionError


class OptionSyntaxError(SlurmOptionError):
    """Words getopt cannot read (unknown or ambiguous option, missing value...); the
    message is complete, with the command's name and its ``Try ... --help`` line."""


@dataclass
class CommandLine:
    """What a command line says: the honoured settings (variables first, then the
    words, each under its canonical option), the command, warnings and info asked."""

    settings: list[Setting]
    command: list[str]
    warnings: list[str] = field(default_factory=list)
    info: str | None = None

    def last(self, long: str) -> Setting | None:
        found = [s for s in self.settings if s.option.long == long]
        return found[-1] if found else None

    def given(self, long: str) -> bool:
        return self.last(long) is not None


def read_command_line(table: OptionTable, argv: Sequence[str], env: Mapping[str, str], *,
                      aliases: Mapping[str, str], info: Collection[str],
                      skip_env: Collection[str] = ()) -> CommandLine:
    """The command line of srun or salloc; raises ``OptionSyntaxError`` for words
    getopt cannot read and ``SlurmOptionError`` for a refused option."""
    try:
        words, rest = table.read(argv)
    except SlurmOptionError as error:
        raise OptionSyntaxError(str(error)) from None
    asked = next((s.option.long for s in words if s.option.long in info), None)
    if rest[:1] == ["--"]:
        rest = rest[1:]
    if asked is not None:  # --help, --usage, --version: nothing else matters
        return CommandLine([], list(rest), info=asked)
    variables = [Setting(o.env, o, env[o.env]) for o in table.options
                 if o.env is not None and o.env in env and o.env not in skip_env]
    settings, warnings = [], []
    for setting in [*variables, *words]:
        option = setting.option
        if option.refused:
            raise setting.error(f"--{option.long} is not supported: {option.refused}")
        if option.ignored:
            why = f": {option.why}" if option.why else ""
            warnings.append(f"--{option.long} is ignored{why}")
            continue
        if option.long in aliases:
            setting = Setting(setting.origin, table.by_long[aliases[option.long]], setting.value)
        settings.append(setting)
    return CommandLine(settings, list(rest), _unique(warnings), asked)


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))
