"""``srun``: run a command's tasks as a job step, as Slurm 22.05's srun does.

Parsing lives in ``kairos.slurm.srun`` (pure); this module does the rest: outside a job
it asks for an allocation and holds it (``kairos.cli.slurm._allocation``), it starts the
listener the step's nodes connect to, asks the controller for the step (retrying while
other steps hold the allocation's CPUs, with Slurm's "step creation temporarily
disabled"), relays the step (``kairos.cli.slurm._stepio``) and gives the allocation
back with the step's exit status.

A controller that does not answer (it is being started again) is waited for
(``kairos.cli.slurm._patience``) before srun gives up on the step.

Exit status: the tasks' (``kairos.slurm.step_report``: 128 plus the signal that killed
one, else the highest exit code); 1 when srun itself fails (no step could be made, the
controller cannot be reached); 255 for a command line getopt cannot read, as Slurm's
srun.  The address the nodes connect to is chosen by ``_stepio.io_address``:
``$KAIROS_IO_ADDR``, else this host's address on the route to the job's nodes, else
the loopback address (every node in the controller's process).
"""

from __future__ import annotations

import os
import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kairos.cli.client import Client
    from kairos.cli.slurm._signals import Signals
    from kairos.slurm.srun import SrunRequest

PROG = "srun"
SYNTAX_STATUS = 255


def main(argv: list[str] | None = None) -> int:
    """Run srun with ``argv`` (default: the process's arguments); the exit status."""
    from kairos.slurm.srun import OptionSyntaxError, SlurmOptionError, parse_srun

    args = sys.argv[1:] if argv is None else list(argv)
    try:
        request = parse_srun(args, os.environ, now=time.time())
    except OptionSyntaxError as error:
        print(error, file=sys.stderr)
        return SYNTAX_STATUS
    except SlurmOptionError as error:
        print(f"srun: error: {error}", file=sys.stderr)
        return 1
    if request.info is not None:
        return _print_info(request.info)
    if not request.command:
        print("srun: fatal: No command given to execute.", file=sys.stderr)
        return 1
    if not request.quiet:
        for warning in request.warnings:
            print(f"srun: warning: {warning}", file=sys.stderr)
    return _run(request)


def _print_info(info: str) -> int:
    from kairos.slurm.srun_options import USAGE, help_text

    if info == "version":
        from kairos import __version__

        print(f"kairos {__version__} (srun)")
    elif info == "usage":
        print(USAGE)
    elif info == "mpi-list":
        print("MPI plugin types are...\n\tnone")
    else:
        print(help_text(), end="")
    return 0


def _run(request: SrunRequest) -> int:
    from kairos.cli.client import ApiError, connect
    from kairos.cli.slurm._allocation import Stopped
    from kairos.cli.slurm._signals import Signals
    from kairos.cli.slurm._stepio import HANDLED

    signals = Signals(HANDLED)
    allocation = None
    status = 1
    try:
        client = connect()
        if request.inside:
            job_id, extra_env, node_list = int(request.job_id or 0), None, None
            if _job_of_environment() == job_id:
                node_list = os.environ.get("SLURM_JOB_NODELIST")
        else:
            allocation = _allocate(client, request, signals)
            job_id, node_list = allocation.job_id, allocation.node_list
            extra_env = client.allocation_environment(job_id)
        status = _step(client, request, job_id, node_list, extra_env, signals)
    except Stopped as stop:
        status = stop.status
    except ApiError as error:
        if request.inside and error.status == 404:
            _no_such_job(request.job_id)
        else:
            print(f"srun: error: {error.message}", file=sys.stderr)
        status = 1
    except OSError as error:
        print(f"srun: error: cannot reach the Kairos controller: {error}", file=sys.stderr)
        status = 1
    finally:
        if allocation is not None:
            allocation.release(status)
        signals.restore()
    return status


def _no_such_job(job_id: int | None) -> None:
    """Slurm's words for a job that does not exist (any more)."""
    print(f"srun: error: Unable to confirm allocation for job {job_id}: Invalid job id "
          f"specified\nsrun: Check SLURM_JOB_ID environment variable. Expired or invalid "
          f"job {job_id}", file=sys.stderr)


def _job_of_environment() -> int | None:
    text = (os.environ.get("SLURM_JOB_ID") or os.environ.get("SLURM_JOBID") or "").strip()
    return int(text) if text.isdigit() else None


def _allocate(client: Client, request: SrunRequest, signals: Signals):
    import socket

    from kairos.cli.slurm._allocation import Words, obtain

    submission = request.submission(cwd=os.getcwd(), env=os.environ,
                                    submit_host=socket.gethostname())
    words = Words(PROG, "Unable to allocate resources")
    return obtain(client, submission.to_json(), words, signals, quiet=request.quiet,
                  immediate=request.immediate)


def _step(client: Client, request: SrunRequest, job_id: int, node_list: str | None,
          extra_env: dict[str, str] | None, signals: Signals) -> int:
    import secrets

    from kairos.cli.slurm._steplinks import io_address, listen
    from kairos.cli.slurm._stepio import StepSession

    listener = listen()
    try:
        token = secrets.token_hex(16)
        addresses = _patient(lambda: _node_addresses(client, job_id, node_list), request,
                             signals)
        io = {"host": io_address(os.environ, addresses),
              "port": listener.getsockname()[1], "token": token}
        step = request.step_request(cwd=os.getcwd(), env=os.environ, io=io, extra_env=extra_env,
                                    umask=_umask())
        created = _create_step(client, job_id, step.to_json(), request, signals)
        if isinstance(created, int):
            return created
        if request.verbose:
            print(f"srun: StepId={created['job_id']}.{created['step_id']}: "
                  f"{created.get('ntasks')} tasks on {created.get('node_list')}",
                  file=sys.stderr)
        session = StepSession(client=client, request=request, created=created,
                              listener=listener, token=token, signals=signals)
        return session.run()
    finally:
        listener.close()


def _patient(ask, request: SrunRequest, signals: Signals):
    """``ask()``, waiting for a controller that is restarting (see ``_patience``)."""
    from kairos.cli.slurm._allocation import STOPPING
    from kairos.cli.slurm._patience import patiently

    return patiently(ask, prog=PROG, signals=signals, stopping=STOPPING, quiet=request.quiet)


def _umask() -> int:
    """This process's umask (read by setting it, so set back at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _node_addresses(client: Client, job_id: int, node_list: str | None) -> list[str]:
    """The network addresses of the job's nodes that have one (none when every node
    is in the controller's process)."""
    if os.environ.get("KAIROS_IO_ADDR"):
        return []
    from kairos.slurm.hostlist import expand

    if not node_list:
        node_list = client.job(str(job_id)).get("node_list") or ""
    names = expand(node_list) if node_list else []
    by_name = {n.get("name"): n.get("addr") for n in client.nodes()}
    return [by_name[name] for name in names if by_name.get(name)]


def _create_step(client: Client, job_id: int, step: dict[str, Any], request: SrunRequest,
                 signals: Signals) -> dict[str, Any] | int:
    """The controller's answer to the step, once it has room for it; or srun's exit
    status when it never will, or when a signal ends the wait."""
    from kairos.cli.client import ApiError
    from kairos.cli.slurm._allocation import STOPPING

    waited = False
    while True:
        try:
            created = _patient(lambda: client.create_step(job_id, step), request, signals)
            break
        except ApiError as error:
            if error.status == 404:
                _no_such_job(job_id)
                return 1
            if error.status != 409:
                print(f"srun: error: Unable to create step for job {job_id}: {error.message}",
                      file=sys.stderr)
                return 1
            if not waited and not request.quiet:
                print(f"srun: Job {job_id} step creation temporarily disabled, retrying "
                      f"({error.message})", file=sys.stderr)
            waited = True
        stop = [s for s in signals.wait(1.0) if s in STOPPING]
        if stop:
            print(f"srun: Cancelled pending job step with signal {int(stop[0])}", file=sys.stderr)
            print(f"srun: error: Unable to create step for job {job_id}: Job/step already "
                  "completing or completed", file=sys.stderr)
            return 1
    if waited and not request.quiet:
        print(f"srun: Step created for job {job_id}", file=sys.stderr)
    return created


if __name__ == "__main__":
    sys.exit(main())
