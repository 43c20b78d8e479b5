"""``salloc``: get an allocation, run a command in it on this host, give it back, as
Slurm 22.05's salloc does.

Parsing lives in ``kairos.slurm.salloc`` (pure); this module asks for the allocation
and holds it (``kairos.cli.slurm._allocation``: ``salloc: Pending job allocation N``,
``salloc: job N queued and waiting for resources`` and ``... has been allocated
resources`` when it has to wait, then ``salloc: Granted job allocation N``), runs the
command with salloc's environment plus the allocation's ``SLURM_*`` variables (from the
controller), and at the end says ``salloc: Relinquishing job allocation N`` and releases
the job with the command's exit code.

While the command runs, salloc ignores Ctrl-C and SIGQUIT, which are for the command
(as a shell waiting for its foreground job does); SIGTERM and SIGHUP are passed on to it.
If the controller ends the allocation meanwhile (time limit, scancel), salloc says
``salloc: Job allocation N has been revoked.`` and, with ``-K``, signals the command.

Exit status: the command's; 1 when it was killed by a signal, could not be started, or
no allocation was granted (as the peer's salloc); 255 for a command line getopt cannot
read.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kairos.cli.slurm._allocation import Allocation
    from kairos.cli.slurm._signals import Signals
    from kairos.slurm.salloc import SallocRequest

PROG = "salloc"
SYNTAX_STATUS = 255
#: Signals salloc catches while it holds an allocation.
HANDLED = (signal.SIGINT, signal.SIGQUIT, signal.SIGTERM, signal.SIGHUP)
#: Of those, the ones passed on to the running command.
PASSED_ON = frozenset({signal.SIGTERM, signal.SIGHUP})


def main(argv: list[str] | None = None) -> int:
    """Run salloc with ``argv`` (default: the process's arguments); the exit status."""
    from kairos.slurm.salloc import OptionSyntaxError, SlurmOptionError, parse_salloc

    args = sys.argv[1:] if argv is None else list(argv)
    try:
        request = parse_salloc(args, os.environ, now=time.time())
    except OptionSyntaxError as error:
        print(error, file=sys.stderr)
        return SYNTAX_STATUS
    except SlurmOptionError as error:
        print(f"salloc: error: {error}", file=sys.stderr)
        return 1
    if request.info is not None:
        return _print_info(request.info)
    if not request.quiet:
        for warning in request.warnings:
            print(f"salloc: warning: {warning}", file=sys.stderr)
    return _run(request)


def _print_info(info: str) -> int:
    from kairos.slurm.salloc_options import USAGE, help_text

    if info == "version":
        from kairos import __version__

        print(f"kairos {__version__} (salloc)")
    elif info == "usage":
        print(USAGE)
    else:
        print(help_text(), end="")
    return 0


def _run(request: SallocRequest) -> int:
    import socket

    from kairos.cli.client import ApiError, connect
    from kairos.cli.slurm._allocation import Stopped, Words, obtain
    from kairos.cli.slurm._signals import Signals

    signals = Signals(HANDLED)
    allocation = None
    status = 1
    try:
        client = connect()
        submission = request.submission(cwd=os.getcwd(), env=os.environ,
                                        submit_host=socket.gethostname())
        words = Words(PROG, "Job submit/allocate failed", pending=True, granted=True,
                      revoked_end=".")
        allocation = obtain(client, submission.to_json(), words, signals,
                            quiet=request.quiet, immediate=request.immediate)
        if request.verbose and not request.quiet:
            print(f"salloc: Nodes {allocation.node_list} are ready for job", file=sys.stderr)
        env = {**os.environ, **client.allocation_environment(allocation.job_id)}
        _with_kairos_commands(env, Path(client.path))
        status = _command(request, allocation, env, signals)
    except Stopped as stop:
        status = stop.status
    except ApiError as error:
        print(f"salloc: error: {error.message}", file=sys.stderr)
    except OSError as error:
        print(f"salloc: error: cannot reach the Kairos controller: {error}", file=sys.stderr)
    finally:
        if allocation is not None:
            if not request.quiet:
                print(f"salloc: Relinquishing job allocation {allocation.job_id}",
                      file=sys.stderr, flush=True)
            allocation.release(status)
        signals.restore()
    return status


def _with_kairos_commands(env: dict[str, str], socket: Path) -> None:
    """Put the Slurm command names that run Kairos's commands first on ``env``'s PATH,
    when the controller (or node daemon) at ``socket`` wrote them beside it: an ``srun``
    typed in the allocation's shell must reach Kairos even where another Slurm's
    commands are installed (``kairos.node.shims``)."""
    shims = socket.parent / "bin"
    if (shims / "srun").is_file():
        from kairos.node.shims import on_path

        on_path(env, shims)


def _command(request: SallocRequest, allocation: Allocation, env: dict[str, str],
             signals: Signals) -> int:
    """Run the command until it ends; its exit status as salloc reports it."""
    import subprocess

    try:
        child = subprocess.Popen(request.command, env=env, cwd=request.work_dir(os.getcwd()))
    except OSError:
        print(f'salloc: error: _fork_command: Unable to find command "{request.command[0]}"',
              file=sys.stderr)
        return 1
    told = False
    while True:
        try:
            code = child.wait(timeout=0.2)
            break
        except subprocess.TimeoutExpired:
            pass
        for number in signals.take():
            if number in PASSED_ON:
                child.send_signal(number)
        if allocation.revoked and not told:
            told = True
            print(f"salloc: Job allocation {allocation.job_id} has been revoked.",
                  file=sys.stderr, flush=True)
            if request.kill_signal is not None:
                child.send_signal(request.kill_signal)
    return code if code >= 0 else 1
