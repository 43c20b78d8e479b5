"""``scancel``: cancel or signal jobs, with Slurm 22.05's options and messages.

Jobs are named by id (``12``, ``12_3``, ``12_[1-3]``; several, by spaces or commas)
and/or picked by filters: ``-u/--user`` (``--me``), ``-n/--name``, ``-t/--state``
(pending, running or suspended only, as in Slurm), ``-p/--partition``.  With neither,
scancel refuses (``No job identification provided``), as Slurm does.  ``-s/--signal``
sends a signal (a name with or without ``SIG``, or a number) instead of cancelling;
``-b/--batch`` signals only the batch shell, ``-f/--full`` (the default in Kairos)
the whole job.  ``-v`` says what was done.  ``-i/--interactive`` is refused: Kairos
commands never prompt.

A job step is named ``JOBID.STEPID`` (``12.0``, ``12_3.1``): scancel ends that step on
every node (its tasks are killed, its ``srun`` reports them; the job goes on), or with
``--signal`` signals its tasks.  A step that does not run (any more) is Slurm's ``Kill
job error on job step id 12.7: Invalid job id specified``, exit status 1.  Filters
(``-u -n -t -p``) pick jobs, never steps; given with steps alone, they add no job.
``-M/--clusters`` may name this controller's cluster or ``all`` (see ``_clusters``).
"""

from __future__ import annotations

import re
import signal as signals
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kairos.cli.slurm._clusters import add_clusters_option, checked_cluster
from kairos.cli.slurm._query import (
    SlurmArgumentParser, UsageError, add_list_option, current_user, parse_job_ids,
    resolve_users, run_command,
)
from kairos.core.jobs import JobState

PROG = "scancel"

#: The states scancel may select by, as in Slurm.
_CANCELLABLE = (JobState.PENDING, JobState.RUNNING, JobState.SUSPENDED)
#: ``JOBID.STEPID``: a job (``12``, ``12_3``) and one of its steps.
_STEP = re.compile(r"(\d+(?:_\d+)?)\.(\d+)")


@dataclass(frozen=True)
class CancelOptions:
    """What an scancel command line asks for."""

    ids: list[str] | None = None
    steps: list[tuple[str, int]] | None = None  #: (job id, step id) named as JOBID.STEPID
    users: list[str] | None = None
    names: list[str] | None = None
    states: list[str] | None = None
    partitions: list[str] | None = None
    signal: int | None = None
    batch: bool = False
    verbose: bool = False
    quiet: bool = False
    clusters: list[str] | None = None  #: ``-M``: checked against the controller's


def build_parser() -> SlurmArgumentParser:
    parser = SlurmArgumentParser(PROG, "Cancel or signal jobs (Slurm-compatible).",
                                 help_short=True)
    parser.add_argument("job_ids", nargs="*", metavar="JOB_ID",
                        help="job ids: 12, 12_3, 12_[1-3] (commas or spaces)")
    add_list_option(parser, "-u", "--user", dest="users", metavar="USER",
                    help="jobs of this user")
    parser.add_argument("--me", action="store_true", help="my jobs")
    add_list_option(parser, "-n", "--name", "--jobname", dest="names", metavar="NAME",
                    help="jobs with this name")
    add_list_option(parser, "-t", "--state", dest="states", metavar="STATE",
                    help="PENDING, RUNNING or SUSPENDED")
    add_list_option(parser, "-p", "--partition", dest="partitions", metavar="PARTITION",
                    help="jobs in this partition")
    parser.add_argument("-s", "--signal", metavar="SIGNAL",
                        help="send this signal instead of cancelling")
    parser.add_argument("-b", "--batch", action="store_true",
                        help="signal only the batch shell")
    parser.add_argument("-f", "--full", action="store_true",
                        help="signal the batch shell and all its children (the default)")
    parser.add_argument("-i", "--interactive", action="store_true",
                        help="refused: Kairos commands never prompt")
    parser.add_argument("-v", "--verbose", action="store_true", help="say what was done")
    parser.add_argument("-Q", "--quiet", action="store_true", help="no error messages")
    add_clusters_option(parser)
    return parser


def parse_signal(text: str) -> int:
    """A signal number from ``TERM``, ``SIGTERM``, ``term`` or ``15``; raises
    ``UsageError`` with Slurm's message otherwise."""
    value = text.strip().upper()
    if value.isdigit() and int(value) in {s.value for s in signals.Signals}:
        return int(value)
    name = value if value.startswith("SIG") else "SIG" + value
    try:
        return int(signals.Signals[name])
    except KeyError:
        raise UsageError(f"Unknown job signal: {text}") from None


def _states(items: list[str] | None) -> list[str] | None:
    if not items:
        return None
    states = []
    for item in items:
        try:
            state = JobState.parse(item)
        except ValueError:
            state = None
        if state not in _CANCELLABLE:
            raise UsageError(f"Invalid job state specified: {item}\n"
                             "Valid job states are PENDING, RUNNING, and SUSPENDED")
        states.append(state.name)
    return states


def parse_args(argv: Sequence[str]) -> CancelOptions:
    """The options of an scancel command line; raises ``UsageError`` in Slurm's words."""
    args = build_parser().parse(argv, intermixed=True)
    if args.interactive:
        raise UsageError(f"{PROG}: error: --interactive is not supported: Kairos never "
                         "prompts; list the job ids to cancel instead")
    words = [item for word in args.job_ids for item in word.split(",") if item]
    steps = [_step(word) for word in words if _STEP.fullmatch(word.strip())] or None
    words = [word for word in words if not _STEP.fullmatch(word.strip())]
    ids = parse_job_ids(words, prog=PROG, message="Invalid job id {id}") or None
    users = resolve_users(args.users, prog=PROG, message="Invalid user name") \
        if args.users else None
    if args.me:
        users = (users or []) + [current_user()]
    options = CancelOptions(
        ids=ids, steps=steps, users=users, names=args.names, states=_states(args.states),
        partitions=args.partitions,
        signal=parse_signal(args.signal) if args.signal is not None else None,
        batch=args.batch, verbose=args.verbose, quiet=args.quiet, clusters=args.clusters)
    if not any((options.ids, options.steps, options.users, options.names, options.states,
                options.partitions)):
        raise UsageError(f"{PROG}: error: No job identification provided")
    return options


def _step(word: str) -> tuple[str, int]:
    job, step = _STEP.fullmatch(word.strip()).groups()
    return job, int(step)


def _run(client: Any, options: CancelOptions) -> int:
    checked_cluster(client, options.clusters, prog=PROG)
    status = 0
    if options.ids or not options.steps:
        status = _jobs(client, options)
    for job, step in options.steps or ():
        status = max(status, _one_step(client, options, job, step))
    return status


def _one_step(client: Any, options: CancelOptions, job: str, step: int) -> int:
    """End (or signal) step ``job.step``; the exit status."""
    from kairos.cli.client import ApiError

    label = f"{job}.{step}"
    try:
        if options.signal is None:
            client.cancel_step(job, step)
        else:
            client.signal_step(job, step, options.signal)
    except ApiError as error:
        if error.status not in (400, 403, 404):
            raise
        if not options.quiet:
            why = "Invalid job id specified" if error.status == 404 else error.message
            print(f"{PROG}: error: Kill job error on job step id {label}: {why}",
                  file=sys.stderr)
        return 1
    if options.verbose:
        done = "Terminating step" if options.signal is None else f"Signal {options.signal} to step"
        print(f"{PROG}: {done} {label}", file=sys.stderr)
    return 0


def _jobs(client: Any, options: CancelOptions) -> int:
    from kairos.cli.client import ApiError

    try:
        result = client.cancel(ids=options.ids, users=options.users, names=options.names,
                               states=options.states, partitions=options.partitions,
                               signal=options.signal, batch=options.batch)
    except ApiError:
        if options.quiet:
            return 1
        raise
    if options.verbose:
        for job_id in result.get("cancelled", []):
            print(f"{PROG}: Terminating job {job_id}", file=sys.stderr)
        for job_id in result.get("signalled", []):
            print(f"{PROG}: Signal {options.signal} to job {job_id}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_command(PROG, argv, parse_args, _run)


if __name__ == "__main__":
    sys.exit(main())
