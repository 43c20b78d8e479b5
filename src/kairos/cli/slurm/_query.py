"""Plumbing shared by the Slurm-compatible query and control commands (squeue, scancel,
scontrol, sinfo, sacct, sprio, sshare).

Scripts call these commands exactly as they call Slurm's, so the command lines and the
failures must look like Slurm's too: ``-ualice``, ``--user=alice`` and ``-u alice``,
comma lists, ``12_[1-3]`` job ids; and ``squeue: unrecognized option '--foo'`` followed
by ``Try "squeue --help" for more information`` with exit status 1 (getopt's words, as
the 22.05 commands print them).  The parser, ``SlurmArgumentParser``, lives in
``kairos.slurm.options`` (sbatch uses it too) and is re-exported here with
``UsageError``; parsing raises ``UsageError`` carrying the lines to print, so each
command's ``parse_args`` can be tested without a controller.

Only the standard library is imported here: the commands must start fast.  The HTTP
client is imported by ``run_with_client`` when a command actually talks to the
controller.
"""

from __future__ import annotations

import argparse
import gc
import os
import pwd
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

# The commands take the parser from here with the rest of their plumbing.
from kairos.slurm.options import SlurmArgumentParser, UsageError  # noqa: F401

_JOB_ID = re.compile(r"(\d+)(?:_(\d+|\[[\d,\-:%]+\]))?")


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


def without_collections(show: Callable[..., int], *args) -> int:
    """``show(*args)`` with the cyclic garbage collector off.  A listing of tens of
    thousands of jobs and lines has no cycles among them: collections would only walk
    them again and again (a third of squeue's time at 60,000 jobs)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        return show(*args)
    finally:
        if collecting:
            gc.enable()


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
