"""One small process per job that runs it, enforces its limits and records how it ended.

Started by the agent as ``python -I -S <this package>/__main__.py <jobdir>`` in a session
of its own, so it starts in a few milliseconds, needs nothing outside the standard
library, and keeps running when the controller that started it dies (even by ``kill -9``):
the job's result is never lost with the controller, it waits in ``<jobdir>/status.json``.

Files in ``<jobdir>``:

- ``launch.json`` (read): job_id, user, uid, gid, script (text), argv, work_dir, env,
  stdout, stderr (absolute paths; stderr may equal stdout), cpu_ids, mem_limit_mib,
  time_limit (seconds), kill_wait (seconds), open_mode (``truncate``/``append``),
  warn_signal and warn_time (``--signal=B:``: the signal the batch shell alone gets that
  many seconds before the time limit; null: none) and, optionally, notify (a FIFO to
  write ``"<job_id>\\n"`` into once status.json exists).
- ``script`` (written): the batch script, mode 0700, owned by the job's user.
- ``state.json`` (written at start): supervisor_pid, supervisor_start_ticks (the
  kernel's start time of the supervisor, to tell it from a later process with the same
  pid), job_pid (also the job's process group and session id), start (epoch seconds).
- ``limits.json`` (read on SIGHUP): ``{"time_limit": seconds | null}``.
- ``status.json`` (written at the end): state (COMPLETED, FAILED, TIMEOUT, CANCELLED,
  OUT_OF_MEMORY), exit_code, signal, start, end, cpu_time (user + system seconds of
  everything the job ran), max_rss_kib, reason.

Every JSON file is written whole to a temporary name and renamed, so a reader never
sees half of one.

Behaviour, matching a Slurm batch step where Slurm is explicit:

- The job runs in a new session; when the supervisor runs as root and the job's uid is
  not 0, the child drops to the user (supplementary groups, gid, uid) before it opens
  output files or changes directory. Output files are created as the user, truncated or
  appended per open_mode, always written with O_APPEND so several writers never
  overwrite each other; stdin is /dev/null.
- A work directory that cannot be entered is reported on stderr and the job runs in
  /tmp instead (what Slurm 22.05 does). An output file that cannot be opened, or a
  script that cannot be executed, fails the job: FAILED, exit code 1, reason
  ``JobLaunchFailure: ...``.
- Exit 0 is COMPLETED; another exit code is FAILED (reason ``NonZeroExitCode``); death by
  a signal the supervisor did not send is FAILED with that signal (``RaisedSignal:N``).
- Time limit: SIGCONT and SIGTERM to every process of the job, SIGKILL after kill_wait;
  TIMEOUT. SIGTERM to the supervisor is a cancel, handled the same way: CANCELLED.
  SIGHUP re-reads limits.json (a new time limit counted from the job's start; the
  warning follows it).
- Memory limit: a cgroup v2 child group with ``memory.max`` when the supervisor's own
  cgroup delegates the memory controller; otherwise the resident memory of the job's
  processes is summed from /proc every half second and the job is killed with SIGKILL
  when the sum is over the limit; either way OUT_OF_MEMORY.
- When the batch script exits, whatever it left running is killed (Slurm does the same
  with its cgroup process tracking). The supervisor makes itself a child subreaper, so
  processes that daemonize stay in its tree and are found.

Job steps: with ``"kind": "step"`` in launch.json (the agent writes it in
``<jobdir>/steps/<step_id>/``), the supervisor runs the tasks a step has on this node
instead of a batch script, all in its own session, and relays their output, input and
ends to ``srun`` (see :mod:`~kairos.node.supervisor.steploop` for its files and
:mod:`~kairos.node.supervisor.steplaunch` for the tasks' variables and file patterns).
Limits, cancel and leftovers behave as above; each task's end is in status.json.

How it starts, and why that way: ``-I`` (isolated: no environment variables, no user
site, no script directory on ``sys.path``) and ``-S`` (no site-packages) keep the start
fast and immune to whatever the job's or the controller's environment holds. The code
still lives in the ``kairos`` package, imported by its full name, so the agent and the
tests use the very same modules: the bootstrap ``__main__.py``, run by its path, appends
the directory holding ``kairos`` to ``sys.path`` and calls :func:`main`. Running the
package directory instead would put this directory first on ``sys.path`` and make every
module here a top-level name as well. The cost is that ``kairos/__init__.py`` and
``kairos/node/__init__.py`` are imported too: they must stay free of imports, and a test
starts the supervisor the agent's way and checks that it loaded nothing but the standard
library and this package (a step's supervisor also loads :mod:`kairos.model.stepio`, the
frames ``srun`` reads, so ``kairos/model/__init__.py`` must stay free of imports too).

Modules, one concept each, importing only the standard library, each other and, for
steps, :mod:`kairos.model.stepio`:
``files`` (atomic JSON, ``launch.json`` as :class:`~kairos.node.supervisor.files.Launch`,
notes to the job's stderr, the wakeup FIFO), ``procs`` (/proc: start ticks, the job's
processes, signalling them), ``cgroup`` (the cgroup v2 memory limit), ``child`` (the forked
child up to ``exec``), ``outcome`` (the state and reason in status.json) and ``loop``
(the :class:`~kairos.node.supervisor.loop.Supervisor`: signals, timers, limits, reaping);
for steps ``steplaunch`` (a step's launch.json, its tasks' variables and file names),
``taskio`` (where each task's streams go), ``taskchild`` (a forked task up to ``exec``),
``srunlink`` (the connection to srun) and ``steploop`` (the
:class:`~kairos.node.supervisor.steploop.StepSupervisor`).
"""

from __future__ import annotations

import os
import sys

from kairos.node.supervisor.files import read_json
from kairos.node.supervisor.loop import Supervisor
from kairos.node.supervisor.outcome import write_launch_failure


def main(argv: list[str]) -> int:
    """Run the job in ``argv[1]`` to its end; ``argv[0]`` is the program, as in ``sys.argv``."""
    if len(argv) != 2:
        sys.stderr.write(f"usage: {os.path.basename(sys.executable)} -I -S {argv[0] if argv else '__main__.py'} <jobdir>\n")
        return 2
    try:
        supervisor = _supervisor_for(argv[1])
    except (KeyError, TypeError, ValueError) as e:
        write_launch_failure(argv[1], f"launch.json in {argv[1]} is unusable: {type(e).__name__}: {e}")
        return 1
    supervisor.run()
    return 0


def _supervisor_for(jobdir: str) -> Supervisor:
    """A batch supervisor, or a step's when launch.json says ``"kind": "step"``."""
    raw = read_json(os.path.join(jobdir, "launch.json")) or {}
    if raw.get("kind") == "step":
        from kairos.node.supervisor.steploop import StepSupervisor  # only steps load srun's wire

        return StepSupervisor(jobdir, raw)
    return Supervisor(jobdir, raw)
