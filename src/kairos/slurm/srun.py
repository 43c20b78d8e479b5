"""``srun``'s command line turned into what srun asks the controller for: a step
(``kairos.model.step.StepRequest``) and, outside any job, the allocation to run it in
(an allocation-only ``Submission``).

Inside a job (``SLURM_JOB_ID`` set, or ``--jobid``) srun runs a step of that job; the
options that shape a new allocation have no effect there, and srun says so.  Outside,
srun first asks for an allocation shaped by the same options as sbatch's (``-n -N -c
--mem -G -p -t -w -x -C``...), named after the command, then runs the step in it.

Step options, as in Slurm 22.05: ``-n -N --ntasks-per-node -c --exact --overlap
--exclusive`` (for a step: ``--exact``) ``-w -x -J -t -D --export``; ``-o -e -i`` file
patterns (``-i`` also ``all``, ``none`` or a task id; by default every task reads
srun's standard input, as on the peer: ``printf hi | srun -n2 cat`` prints ``hi``
twice); ``-l/--label``, ``-u/--unbuffered``, ``-Q``, ``-v``, ``-K/--kill-on-bad-exit``,
``-W/--wait``, ``-X/--disable-status``, ``--quit-on-interrupt``, ``-I/--immediate``.
``--mpi=none`` (the default; ``--mpi=list`` lists it): tasks start without an MPI
plugin, so ``pmi2``/``pmix`` are refused rather than leaving each rank alone.
``--cpu-bind`` in its quiet and ``none`` forms is accepted with a warning (a step uses
its job's cores; tasks are not bound one by one); other forms are refused.
``-m/--distribution`` takes ``block`` (consecutive tasks on a node, the default) and
``cyclic`` (tasks dealt to the nodes in turn); a second part (how CPUs are picked within
a node) is accepted with a warning, since tasks are not bound one by one; an inherited
``SLURM_DISTRIBUTION=cyclic``, which a step shows when no node runs two tasks, is read as
the default; ``--open-mode``
takes ``truncate`` (what the nodes do).  The table of every srun option and what Kairos does
with it is ``kairos.slurm.srun_options``.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kairos.slurm.command_line import CommandLine, OptionSyntaxError, read_command_line
from kairos.slurm.option_engine import Setting, SlurmOptionError
from kairos.slurm.sbatch_submission import Draft, apply_settings, build_submission
from kairos.slurm.srun_options import ALIASES, INFO_OPTIONS, JOB_ONLY, TABLE

if TYPE_CHECKING:
    from kairos.model.step import StepRequest
    from kairos.model.submission import Submission

__all__ = ["OptionSyntaxError", "SlurmOptionError", "SrunRequest", "parse_srun"]

#: MPI types Slurm's srun knows that Kairos does not start tasks for.
_MPI_REFUSED = re.compile(r"pmi2|pmix(_v\d+)?|cray_shasta")
#: ``--cpu-bind`` words that ask for no binding, or only for (no) reports of it.
_CPU_BIND_QUIET = frozenset({"q", "quiet", "v", "verbose", "none", "no"})


@dataclass
class SrunRequest:
    """A parsed srun command line: the command, the shared options (``draft``) and
    srun's own."""

    command: list[str]
    draft: Draft
    job_id: int | None  #: the job to run the step in; None: make an allocation
    label: bool = False
    unbuffered: bool = False
    quiet: bool = False
    verbose: int = 0
    kill_on_bad_exit: bool = False
    disable_status: bool = False
    quit_on_interrupt: bool = False
    wait: float | None = None  #: ``-W``: seconds the others may run after the first task ends
    immediate: float | None = None  #: ``-I``: seconds to wait for an allocation at most
    input: str = "all"
    exact: bool = False
    overlap: bool = False
    distribution: str | None = None  #: ``-m block`` given; None: Slurm's default
    warnings: list[str] = dataclasses.field(default_factory=list)
    info: str | None = None  #: ``help``, ``usage``, ``version`` or ``mpi-list``

    @property
    def inside(self) -> bool:
        return self.job_id is not None

    @property
    def reads_stdin(self) -> bool:
        """Whether srun's standard input goes to the tasks (``-i all`` or a task id)."""
        return self.input == "all" or self.input.isdigit()

    def step_request(self, *, cwd: str, env: Mapping[str, str], io: dict[str, Any] | None,
                     extra_env: Mapping[str, str] | None = None,
                     umask: int | None = None) -> StepRequest:
        """The step to ask for; ``env`` is srun's environment (``--export`` picks what
        the tasks get), ``extra_env`` the allocation's variables outside a job, ``umask``
        srun's.  The tasks also see what Slurm's srun adds: SLURM_UMASK, SLURM_LABELIO
        under ``--label`` and SLURM_LAUNCH_NODE_IPADDR (the address the nodes reach srun
        at)."""
        from kairos.model.step import StepRequest

        draft, given = self.draft, self.draft.given
        shaped = self._shaped(cwd, env)
        environment = dict(shaped.environment)
        environment.update(extra_env or {})
        environment.update(self._own_environment(io, umask))
        counted = "nodes" in given or "nodelist" in given
        return StepRequest(
            argv=list(self.command), cwd=shaped.work_dir, env=environment,
            name=draft.name, ntasks=draft.ntasks if "ntasks" in given else None,
            nodes=shaped.nodes if counted else None,
            ntasks_per_node=draft.ntasks_per_node,
            cpus_per_task=draft.cpus_per_task if "cpus-per-task" in given else None,
            exact=self.exact, overlap=self.overlap, nodelist=list(shaped.nodelist),
            exclude=list(shaped.exclude), io=io, stdout=draft.stdout, stderr=draft.stderr,
            stdin=self.input, time_limit=draft.time_limit if "time" in given else None,
            distribution=self.distribution)

    def _own_environment(self, io: dict[str, Any] | None, umask: int | None) -> dict[str, str]:
        env = {}
        if umask is not None:
            env["SLURM_UMASK"] = f"{umask:04o}"
        if self.label:
            env["SLURM_LABELIO"] = "1"
        if io is not None:
            env["SLURM_LAUNCH_NODE_IPADDR"] = str(io["host"])
        return env

    def submission(self, *, cwd: str, env: Mapping[str, str], submit_host: str) -> Submission:
        """The allocation to ask for outside a job: named after the command."""
        shaped = self._shaped(cwd, env, submit_host)
        return dataclasses.replace(shaped, allocation=True, stdout=None, stderr=None)

    def _shaped(self, cwd: str, env: Mapping[str, str], submit_host: str = "") -> Submission:
        return build_submission(self.draft, script="", argv=[],
                                default_name=os.path.basename(self.command[0]), cwd=cwd,
                                env=env, submit_host=submit_host)


def parse_srun(argv: list[str], env: Mapping[str, str], *, now: float) -> SrunRequest:
    """An srun command line; raises ``OptionSyntaxError`` for words getopt cannot read
    (its message is complete) and ``SlurmOptionError`` for anything else srun refuses
    (to be printed after ``srun: error:``)."""
    job_id = _job_in(env)
    skip = ("SLURM_JOB_NAME",) if job_id is not None else ()  # the job's, not an option
    line = read_command_line(TABLE, argv, env, aliases=ALIASES, info=INFO_OPTIONS,
                             skip_env=skip)
    if line.info is not None:
        return SrunRequest(line.command, Draft(), job_id, info=line.info)
    jobid = line.last("jobid")
    if jobid is not None:
        job_id = _whole(jobid, "--jobid", low=1)
    request = SrunRequest(line.command, Draft(), job_id, warnings=list(line.warnings))
    _apply_own(request, line)
    if request.info is not None or not request.command:  # srun says "No command given"
        return request
    shared = [s for s in line.settings if not _own_option(s)]
    if request.inside:
        request.warnings += [f"--{s.option.long} is ignored inside job {job_id}: the "
                             "step runs in the job's allocation"
                             for s in line.settings if s.option.long in JOB_ONLY]
        shared = [s for s in shared if s.option.long not in JOB_ONLY]
        request.immediate = None
    request.draft = apply_settings(shared, now)
    request.exact = request.exact or request.draft.exclusive
    request.warnings = list(dict.fromkeys(request.warnings))
    request._shaped("/", {})  # the rules between options (-N against -w...), checked now
    return request


def _job_in(env: Mapping[str, str]) -> int | None:
    text = env.get("SLURM_JOB_ID") or env.get("SLURM_JOBID")
    return int(text) if text and text.strip().isdigit() else None


# --- srun's own options ----------------------------------------------------------------

def _own_option(setting: Setting) -> bool:
    return setting.option.long in _OWN


def _apply_own(request: SrunRequest, line: CommandLine) -> None:
    for setting in line.settings:
        apply = _OWN.get(setting.option.long)
        if apply is not None:
            apply(request, setting)


def _flag(attribute: str):
    def apply(request: SrunRequest, setting: Setting) -> None:
        setattr(request, attribute, True)
    return apply


def _verbose(request: SrunRequest, setting: Setting) -> None:
    request.verbose += 1


def _kill_on_bad_exit(request: SrunRequest, setting: Setting) -> None:
    value = (setting.value or "1").strip()
    if value not in ("0", "1"):
        raise setting.error(f"invalid --kill-on-bad-exit value {setting.value!r}: use 0 or 1")
    request.kill_on_bad_exit = value == "1"


def _wait(request: SrunRequest, setting: Setting) -> None:
    seconds = _whole(setting, "--wait", low=0)
    request.wait = float(seconds) if seconds else None


def _immediate(request: SrunRequest, setting: Setting) -> None:
    request.immediate = float(_whole(setting, "--immediate", low=0)) if setting.value else 1.0


def _input(request: SrunRequest, setting: Setting) -> None:
    value = (setting.value or "").strip()
    if not value:
        raise setting.error("invalid --input value '': use all, none, a task id or a file name")
    request.input = value.lower() if value.lower() in ("all", "none") else value


def _mpi(request: SrunRequest, setting: Setting) -> None:
    value = (setting.value or "").strip().lower()
    if value == "list":
        request.info = "mpi-list"
    elif _MPI_REFUSED.fullmatch(value):
        raise setting.error(f"--mpi={value} is not supported: Kairos starts tasks without "
                            "an MPI plugin (--mpi=none); start MPI programs with their own "
                            "launcher (mpirun) inside the allocation")
    elif value != "none":
        raise setting.error(f"Invalid MPI type '{setting.value}', --mpi=list for acceptable types")


def _cpu_bind(request: SrunRequest, setting: Setting) -> None:
    words = [w.strip().lower() for w in (setting.value or "").split(",") if w.strip()]
    if not words or not set(words) <= _CPU_BIND_QUIET:
        raise setting.error(f"--cpu-bind={setting.value} is not supported: tasks are not "
                            "bound to CPUs one by one; a step uses its job's cores "
                            "(--cpu-bind=none)")
    request.warnings.append("--cpu-bind is ignored: binding is per allocation (a step uses "
                            "its job's cores)")


def _distribution(request: SrunRequest, setting: Setting) -> None:
    first, *rest = re.split(r"[:,]", (setting.value or "").strip().lower())
    if first == "cyclic" and setting.origin == "SLURM_DISTRIBUTION":
        # What an enclosing step shows when none of its nodes runs two tasks (Slurm's
        # default there, the same layout as blocks): this srun's default too.
        request.distribution = None
        return
    if first not in ("block", "cyclic", "*"):
        raise setting.error(f"-m/--distribution={setting.value} is not supported: tasks are "
                            "laid out over the nodes in blocks (-m block) or in turn "
                            "(-m cyclic)")
    if any(part not in ("", "*") for part in rest):
        request.warnings.append(f"-m/--distribution={setting.value}: only how tasks go to "
                                f"nodes ({first}) is applied; tasks are not bound to CPUs "
                                "one by one")
    request.distribution = None if first == "*" else first


def _open_mode(request: SrunRequest, setting: Setting) -> None:
    value = (setting.value or "").strip().lower()
    if value == "append":
        raise setting.error("--open-mode=append is not supported: a step's output files "
                            "are truncated when it starts; append with >> in the command")
    if value != "truncate":
        raise setting.error(f"invalid --open-mode value {setting.value!r}: use truncate")


def _whole(setting: Setting, name: str, *, low: int) -> int:
    text = (setting.value or "").strip()
    if not text.isdigit() or int(text) < low:
        raise setting.error(f"Invalid numeric value \"{setting.value}\" for {name}.")
    return int(text)


_OWN = {
    "label": _flag("label"), "unbuffered": _flag("unbuffered"), "quiet": _flag("quiet"),
    "verbose": _verbose, "kill-on-bad-exit": _kill_on_bad_exit, "wait": _wait,
    "disable-status": _flag("disable_status"), "quit-on-interrupt": _flag("quit_on_interrupt"),
    "immediate": _immediate, "input": _input, "mpi": _mpi, "cpu-bind": _cpu_bind,
    "distribution": _distribution, "open-mode": _open_mode, "exact": _flag("exact"),
    "overlap": _flag("overlap"), "jobid": lambda request, setting: None,
}
