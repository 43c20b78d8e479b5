"""``sbatch``: submit a batch script to the Kairos controller, as Slurm's sbatch does.

Parsing lives in ``kairos.slurm.sbatch`` (pure); this module adds the I/O: the
working directory, environment, clock and host name, reading a script from standard
input, the call to the controller and what sbatch prints: a warning on standard error
for each option Kairos ignores (``sbatch: warning: ...``, not with ``-Q``), the options
in effect with ``-v``, and with ``-W/--wait`` it waits for the job's end.  Failures
print ``sbatch: error: <message>`` on standard error and return 1.  (Slurm 22.05 itself
exits with 255 for some option errors, such as an unknown option or a bad ``--time``,
and 1 for the rest; Kairos uses 1 for all.)
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kairos.slurm.sbatch import SbatchRequest

ERROR_STATUS = 1


def main(argv: list[str] | None = None) -> int:
    """Run sbatch with ``argv`` (default: the process's arguments); the exit status."""
    from kairos.slurm.sbatch import SbatchError

    args = sys.argv[1:] if argv is None else list(argv)
    try:
        request = _parse(args)
    except SbatchError as error:
        return _fail(str(error))
    if isinstance(request, int):
        return request
    if request.verbose:
        from kairos.slurm.sbatch import defined_options_text

        print(defined_options_text(request.defined), end="", file=sys.stderr)
    if not request.quiet:
        for warning in request.warnings:
            print(f"sbatch: warning: {warning}", file=sys.stderr)
    return _submit(request)


def _parse(args: list[str]) -> SbatchRequest | int:
    """The parsed request, or the exit status when the command line only asked for
    help, usage or the version."""
    import os
    import socket
    import time

    from kairos.slurm.sbatch import parse_command_line, parse_sbatch

    command_line = parse_command_line(args)
    if command_line.info is not None:
        _print_info(command_line.info)
        return 0
    stdin_text = None
    if command_line.script_path is None and command_line.wrap is None:
        stdin_text = sys.stdin.read()
    return parse_sbatch(args, stdin_text=stdin_text, cwd=os.getcwd(), env=os.environ,
                        now=time.time(), submit_host=socket.gethostname())


def _umask() -> int:
    import os

    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _print_info(info: str) -> None:
    from kairos import __version__
    from kairos.slurm.sbatch import usage_text

    text = usage_text()
    if info == "version":
        print(f"kairos {__version__} (sbatch)")
    elif info == "usage":
        print(text.splitlines()[0])
    else:
        print(text, end="")


def _submit(request: SbatchRequest) -> int:
    from kairos.cli.client import ApiError, connect
    from kairos.slurm.sbatch import forecast_message, submitted_message

    submission = request.submission
    submission.umask = _umask()
    try:
        result = connect().submit(submission.to_json())
    except ApiError as error:
        return _fail(f"Batch job submission failed: {error.message}")
    except OSError as error:
        return _fail(f"cannot reach the Kairos controller: {error}")
    if submission.test_only:
        print(forecast_message(result), file=sys.stderr)
        return 0
    print(submitted_message(result, request.parsable), flush=True)
    if request.wait:
        return _wait(result.get("job_ids") or [result["job_id"]])
    return 0


#: The states a job ends in (``sbatch --wait`` stops waiting when every job is in one).
_ENDED = frozenset({"COMPLETED", "CANCELLED", "FAILED", "TIMEOUT", "NODE_FAIL", "PREEMPTED",
                    "BOOT_FAIL", "DEADLINE", "OUT_OF_MEMORY"})
_LONGEST_PAUSE_S = 2.0


def _wait(job_ids: list[int]) -> int:
    """``sbatch --wait``: ask until every job (each task of an array) has ended, then
    the exit status as Slurm's: the highest of the jobs' exit codes, 1 for a job that
    ended by a signal or without an exit code of its own (cancelled, failed to start)."""
    import time

    from kairos.cli.client import ApiError, connect

    pause = 0.1
    try:
        client = connect()
        while True:
            jobs = client.jobs(ids=[str(job_id) for job_id in job_ids])
            if len(jobs) >= len(job_ids) and all(j["state"] in _ENDED for j in jobs):
                return max(_exit_status(job) for job in jobs)
            time.sleep(pause)
            pause = min(pause * 2, _LONGEST_PAUSE_S)
    except ApiError as error:
        return _fail(f"while waiting for job {job_ids[0]}: {error.message}")
    except OSError as error:
        return _fail(f"while waiting for job {job_ids[0]}: cannot reach the Kairos "
                     f"controller: {error}")
    except KeyboardInterrupt:
        return 130


def _exit_status(job: dict) -> int:
    if job.get("signal"):
        return 1
    if job["state"] in ("COMPLETED", "FAILED"):
        return int(job.get("exit_code") or 0) or (1 if job["state"] == "FAILED" else 0)
    return 1


def _fail(message: str) -> int:
    print(f"sbatch: error: {message}", file=sys.stderr)
    return ERROR_STATUS


if __name__ == "__main__":
    sys.exit(main())
