"""Plumbing shared by the Slurm-compatible query and control commands (squeue, scancel,
scontrol, sinfo, sacct, sprio, sshare).

Scripts call these commands exactly as they call Slurm's, so the command lines and the
failures must look like Slurm's too: ``-ualice``, ``--user=alice`` and ``-u alice``,
comma lists, ``12_[1-3]`` job ids; and ``squeue: unrecognized option '--foo'`` followed
by ``Try "squeue --help" for more information`` with exit status 1 (getopt's words, as
the 22.05 commands print them).  Parsing raises ``UsageError`` carrying the lines to
print, so each command's ``parse_args`` can be tested without a controller.

Only the standard library is imported here: the commands must start fast.  The HTTP
client is imported by ``run_with_client`` when a command actually talks to the
controller.
"""

from __future__ import annotations

import argparse
import os
import pwd
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NoReturn

_MISSING_VALUE = re.compile(r"argument (\S+): expected one argument")
_JOB_ID = re.compile(r"(\d+)(?:_(\d+|\[[\d,\-:%]+\]))?")


class UsageError(ValueError):
    """A command line the command cannot run; ``str()`` is what to print on stderr,
    already in Slurm's words and prefixed with the command name."""


class SlurmArgumentParser(argparse.ArgumentParser):
    """argparse with Slurm's error messages and exit status 1.

    ``-h`` is left free (squeue and sinfo use it for ``--noheader``); ``--help`` prints
    the help.  Errors raise ``UsageError`` instead of exiting.
    """

    def __init__(self, prog: str, description: str | None = None, *,
                 help_short: bool = False, dash_values: Iterable[str] = ()) -> None:
        super().__init__(prog=prog, description=description, add_help=False)
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
        match = _MISSING_VALUE.fullmatch(message)
        if match is not None:
            names = match[1].split("/")
            typed = next((n for n in names if n in self._argv), names[-1])
            if typed.startswith("--"):
                first = f"{self.prog}: option '{typed}' requires an argument"
            else:
                first = f"{self.prog}: option requires an argument -- '{typed[1:]}'"
            return f"{first}\n{self._try_help()}"
        return f"{self.prog}: error: {message}\n{self._try_help()}"


def comma_list(text: str) -> list[str]:
    """``a,b,,c`` -> ``[a, b, c]`` (argparse ``type`` for Slurm's comma lists)."""
    return [item.strip() for item in text.split(",") if item.strip()]


def add_list_option(parser: argparse.ArgumentParser, *flags: str, dest: str,
                    metavar: str, help: str) -> None:
    """An option taking a comma list; given twice, the lists add up."""
    parser.add_argument(*flags, dest=dest, type=comma_list, action="extend",
                        metavar=metavar, help=help)


def current_user() -> str:
    """The name of the user running the command."""
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())


def resolve_users(items: Iterable[str], *, prog: str, message: str = "Invalid user") -> list[str]:
    """User names for names or numeric uids; raises ``UsageError`` (``<prog>: error:
    <message>: <item>``) for one this machine does not know."""
    names = []
    for item in items:
        try:
            names.append(pwd.getpwuid(int(item)).pw_name if item.isdigit()
                         else pwd.getpwnam(item).pw_name)
        except KeyError:
            raise UsageError(f"{prog}: error: {message}: {item}") from None
    return names


def parse_job_ids(items: Iterable[str], *, prog: str,
                  message: str = "Invalid job id: {id}") -> list[str]:
    """Job ids as strings: ``12``, ``12_3``, and ``12_[1-3,5]`` expanded to one id per
    task; raises ``UsageError`` with ``message`` (``{id}`` is the bad item)."""
    from kairos.slurm.arrays import parse_array

    ids: list[str] = []
    for item in items:
        match = _JOB_ID.fullmatch(item.strip())
        if match is None:
            raise UsageError(f"{prog}: error: " + message.format(id=item))
        job, task = match[1], match[2]
        if task is None or not task.startswith("["):
            ids.append(item.strip())
            continue
        try:
            indices = parse_array(task[1:-1]).indices
        except ValueError:
            raise UsageError(f"{prog}: error: " + message.format(id=item)) from None
        ids += [f"{job}_{index}" for index in indices]
    return ids


def write(text: str) -> None:
    """Print command output; a reader that went away (``| head``) is not an error."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def fail(text: str) -> int:
    """Print an error (already in its final words) on stderr; exit status 1."""
    print(text, file=sys.stderr)
    return 1


def run_command(prog: str, argv: Sequence[str] | None,
                parse: Callable[[Sequence[str]], Any],
                act: Callable[[Any, Any], int], *,
                needs_client: Callable[[Any], bool] = lambda options: True) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``), connect to the controller and run
    ``act(client, options)`` (``client`` is ``None`` when ``needs_client(options)`` is
    false); usage and controller errors print Slurm-style and give exit status 1."""
    try:
        options = parse(sys.argv[1:] if argv is None else list(argv))
    except UsageError as error:
        return fail(str(error))
    if not needs_client(options):
        return act(None, options)
    from kairos.cli.client import ApiError, connect

    try:
        return act(connect(), options)
    except ApiError as error:
        return fail(f"{prog}: error: {getattr(error, 'message', error)}")
    except UsageError as error:
        return fail(str(error))
    except OSError as error:
        return fail(f"{prog}: error: {error}")
