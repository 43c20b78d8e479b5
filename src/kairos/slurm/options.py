"""argparse for the Slurm-compatible commands: Slurm's option syntax and error words.

Scripts call Kairos's ``sbatch``, ``squeue``, ``scancel``... exactly as they call
Slurm's, so the command lines and the failures must look like Slurm's too:
``-ualice``, ``--user=alice`` and ``-u alice``, unambiguous prefixes of long options,
and ``squeue: unrecognized option '--foo'`` followed by ``Try "squeue --help" for more
information`` (getopt's words, as the 22.05 commands print them).  Every command parses
with ``SlurmArgumentParser``; parsing raises ``UsageError`` carrying the text to print,
so each command's parsing can be tested without a controller.

Only the standard library is imported here: the commands must start fast.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterable, Sequence
from typing import NoReturn

_MISSING_VALUE = re.compile(r"argument (\S+): expected one argument")


class UsageError(ValueError):
    """A command line the command cannot run; ``str()`` is what to print on stderr,
    already in Slurm's words."""


class SlurmArgumentParser(argparse.ArgumentParser):
    """argparse with Slurm's error messages and exit status 1.

    ``-h`` is left free (squeue and sinfo use it for ``--noheader``); ``--help`` prints
    the help unless ``help_option`` is false (the command then declares its own).
    Errors raise ``UsageError`` instead of exiting.
    """

    def __init__(self, prog: str, description: str | None = None, *,
                 help_short: bool = False, help_option: bool = True,
                 dash_values: Iterable[str] = ()) -> None:
        super().__init__(prog=prog, description=description, add_help=False)
        if help_option:
            flags = ("-h", "--help") if help_short else ("--help",)
            self.add_argument(*flags, action="help", help="show this help and exit")
        self._argv: Sequence[str] = ()
        #: Options whose value may start with ``-`` (``squeue -S -p``).
        self._dash_values = frozenset(dash_values)

    def error(self, message: str) -> NoReturn:
        raise UsageError(self._slurm_message(message))

    def parse(self, argv: Sequence[str], *, intermixed: bool = False) -> argparse.Namespace:
        """Parse ``argv``; an unknown option or stray word raises ``UsageError``."""
        self._argv = self._join_dash_values(list(argv))
        parse = self.parse_known_intermixed_args if intermixed else self.parse_known_args
        namespace, extras = parse(list(self._argv))
        if extras:
            raise UsageError(self._unknown_message(extras[0]))
        return namespace

    def _join_dash_values(self, argv: list[str]) -> list[str]:
        """``-S -p`` -> ``-S-p``: argparse would take ``-p`` for an option."""
        joined: list[str] = []
        tokens = iter(argv)
        for token in tokens:
            if token in self._dash_values:
                value = next(tokens, None)
                if value is None:
                    joined.append(token)
                elif value.startswith("-") and len(value) > 1:
                    joined.append(f"{token}={value}" if token.startswith("--")
                                  else token + value)
                else:
                    joined += [token, value]
            else:
                joined.append(token)
        return joined

    def _try_help(self) -> str:
        return f'Try "{self.prog} --help" for more information'

    def _unknown_message(self, token: str) -> str:
        if token.startswith("--"):
            first = f"{self.prog}: unrecognized option '{token}'"
        elif token.startswith("-") and len(token) > 1:
            first = f"{self.prog}: invalid option -- '{token[1]}'"
        else:
            first = f"{self.prog}: error: Unrecognized option: {token}"
        return f"{first}\n{self._try_help()}"

    def _slurm_message(self, message: str) -> str:
        words = self._missing_value_words(message)
        if words is not None:
            return f"{self.prog}: {words}\n{self._try_help()}"
        return f"{self.prog}: error: {message}\n{self._try_help()}"

    def _missing_value_words(self, message: str) -> str | None:
        """getopt's words for argparse's "expected one argument", naming the option as
        it was typed; ``None`` for any other message."""
        match = _MISSING_VALUE.fullmatch(message)
        if match is None:
            return None
        typed = self._typed_spelling(match[1].split("/"))
        if typed.startswith("--"):
            return f"option '{typed}' requires an argument"
        return f"option requires an argument -- '{typed[1:]}'"

    def _typed_spelling(self, names: list[str]) -> str:
        """Which of an option's spellings (``-u``, ``--user``) the command line used."""
        return next((n for n in names if n in self._argv), names[-1])
