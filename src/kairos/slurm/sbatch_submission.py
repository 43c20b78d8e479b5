"""sbatch's settings turned into a ``Submission``: each value checked, then the defaults.

Settings are applied in precedence order (directives, then ``SBATCH_*`` variables,
then the command line), so within and across sources the last one wins; every value
is checked, even one a later setting replaces, as Slurm does.  A bad value is reported
where it was written: ``line 3: invalid --time value '1:xx': use minutes, ...``.

Then the defaults and the rules that involve several options: the job name, the
``slurm-%j.out`` output pattern (``slurm-%A_%a.out`` for an array), ``--nodes`` from
``--nodelist``, ``--ntasks`` from ``--ntasks-per-node``, ``--gpus`` split over the
nodes, ``--mem`` against ``--mem-per-cpu``, ``--nodelist`` against ``--exclude``, and
the job's environment from ``--export``.  ``-n`` without ``-N`` lets the tasks spread
over as many nodes as they need (``Submission.spread``), as in Slurm.

Node selection follows Slurm 22.05: ``-w``/``-x`` take hostlists (``n[1-4],gpu0``; a
file name, which Slurm reads when the value holds a ``/``, is refused); a ``-w`` list
of more nodes than ``-N`` asks for is refused ("Node count specification invalid"),
and without ``-N`` the job gets as many nodes as the list names.  ``--constraint``
takes ``a&b`` or ``a|b`` (``kairos.core.jobs.parse_constraint``); brackets and counts
are refused.  Only the bare ``--exclusive`` (whole nodes) is honoured.

``--signal=[B:]SIG[@secs]`` (``kairos.slurm.signals.parse_warning_signal``; ``R:`` is
refused), ``--open-mode`` (known by its first letter, as Slurm's), ``--comment`` and
``--wckey`` go into the submission as they are; the controller and the nodes act on them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kairos.slurm.arrays import parse_array
from kairos.slurm.deps import parse_dependency
from kairos.slurm.gres import GpuRequest, parse_gpus, parse_gres
from kairos.slurm.hostlist import expand
from kairos.slurm.sbatch_options import SbatchError, Setting
from kairos.slurm.timespec import parse_begin, parse_duration, parse_memory

if TYPE_CHECKING:
    from kairos.model.submission import Submission


@dataclass
class Draft:
    """The submission being built as settings are applied in precedence order."""

    name: str | None = None
    stdout: str | None = None
    stderr: str | None = None
    time_limit: float | None = None
    time_min: float | None = None
    nodes: int = 1
    ntasks: int | None = None
    ntasks_per_node: int | None = None
    cpus_per_task: int = 1
    mem_per_node: int | None = None
    mem_per_cpu: int | None = None
    gpu_option: str | None = None
    gpu_request: GpuRequest = field(default_factory=list)
    partition: str | None = None
    qos: str | None = None
    account: str | None = None
    array: str | None = None
    dependency: str | None = None
    begin: float | None = None
    hold: bool = False
    nice: int = 0
    chdir: str | None = None
    export: str = "ALL"
    parsable: bool = False
    test_only: bool = False
    exclusive: bool = False
    nodelist: str | None = None
    exclude: str | None = None
    constraint: str | None = None
    requeue: bool | None = None
    warning: tuple[int, int, bool] | None = None  #: ``--signal``: (signal, seconds, B:)
    open_mode: str | None = None
    comment: str | None = None
    wckey: str | None = None
    given: set[str] = field(default_factory=set)


def apply_settings(settings: Iterable[Setting], now: float) -> Draft:
    """A draft with ``settings`` applied in order; ``now`` resolves ``--begin``."""
    draft = Draft()
    for setting in settings:
        _apply(draft, setting, now)
    return draft


def _apply(draft: Draft, setting: Setting, now: float) -> None:
    long = setting.option.long
    apply = _APPLY.get(long)
    if apply is None:  # ignored options, --wrap and the info options
        return
    try:
        apply(draft, setting.value, now)
    except ValueError as error:
        raise setting.error(f"invalid --{long} value {setting.value!r}: "
                            f"{_detail(error, setting.value)}") from None
    draft.given.add(long)


def _detail(error: ValueError, value: str | None) -> str:
    """The part of a parser's message after its echo of the value, if it has one."""
    message = str(error)
    marker = f"{value!r}: "
    return message.split(marker, 1)[1] if marker in message else message


# --- values ------------------------------------------------------------------------------

def _text(value: str) -> str:
    if not value.strip():
        raise ValueError("it is empty")
    return value


def _positive(value: str) -> int:
    if not value.strip().isdigit() or int(value) < 1:
        raise ValueError("use a whole number of at least 1")
    return int(value)


def _node_count(value: str) -> int:
    if re.fullmatch(r"\s*\d+\s*-\s*\d+\s*", value):
        raise ValueError("node count ranges are not supported; give one number")
    return _positive(value)


def _time_limit(value: str) -> float | None:
    seconds = parse_duration(value)
    return None if seconds == 0 else seconds  # Slurm: a limit of zero means none


def _nice(value: str | None) -> int:
    if value is None:
        return 100  # Slurm's adjustment for a bare --nice
    if not re.fullmatch(r"\s*[+-]?\d+\s*", value) or abs(int(value)) > 2147483645:
        raise ValueError("use a whole number between -2147483645 and 2147483645")
    return int(value)


def _check_array(value: str) -> str:
    parse_array(value)
    return value.strip()


def _check_dependency(value: str) -> str:
    parse_dependency(value)
    return value.strip()


def _check_export(value: str) -> str:
    _export_items(value)
    return value


_EXPORT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _export_items(value: str) -> tuple[str, list[tuple[str, str | None]]]:
    """(mode, [(name, value or None to copy)]) of an ``--export`` value; mode is
    ``ALL``, ``NONE`` or ``LIST`` (only the named variables)."""
    items = [item.strip() for item in value.split(",") if item.strip()]
    if not items:
        raise ValueError("use ALL, NONE or a comma list of VAR or VAR=value")
    mode = "LIST"
    if items[0].upper() in ("ALL", "NONE"):
        mode, items = items[0].upper(), items[1:]
    if mode == "NONE" and items:
        raise ValueError("NONE cannot be combined with variables; use VAR1,VAR2=value "
                         "to export only those")
    variables: list[tuple[str, str | None]] = []
    for item in items:
        name, equals, assigned = item.partition("=")
        if not _EXPORT_NAME.fullmatch(name):
            raise ValueError(f"{name!r} is not a variable name")
        variables.append((name, assigned if equals else None))
    return mode, variables


def _hostlist(value: str) -> str:
    """A ``-w``/``-x`` value, checked: a hostlist naming at least one node."""
    if "/" in value:
        raise ValueError("reading node names from a file is not supported; list the "
                         "names instead, e.g. n[1-4],gpu0")
    names = expand(value)
    if not names:
        raise ValueError("it names no node")
    blank = next((name for name in names if any(c.isspace() for c in name)), None)
    if blank is not None:
        raise ValueError(f"{blank!r} is not a node name")
    return value.strip()


def _constraint(value: str) -> str | None:
    """A ``--constraint`` value, checked; empty is none, as in Slurm."""
    from kairos.core.jobs import parse_constraint  # cheap, and only when -C is given

    parse_constraint(value)
    return value.strip() or None


def _exclusive(value: str | None) -> bool:
    """``--exclusive``: only the bare form (whole nodes); ``=user`` and ``=mcs`` (sharing
    with one's own jobs) are refused rather than silently made stricter."""
    if value in (None, ""):  # the bare option, or SBATCH_EXCLUSIVE set empty
        return True
    if value.strip().lower() in ("user", "mcs"):
        raise ValueError(f"sharing nodes only with the same {value.strip().lower()} is "
                         "not supported; use --exclusive alone for whole nodes")
    raise ValueError("use --exclusive alone (whole nodes)")


def _open_mode(value: str) -> str:
    """``--open-mode``: ``append`` or ``truncate``, known by the first letter as Slurm
    knows them (``a``, ``APPEND``, ``t``...)."""
    first = value.strip()[:1].lower()
    if first == "a":
        return "append"
    if first == "t":
        return "truncate"
    raise ValueError("use append or truncate")


def _warning(value: str) -> tuple[int, int, bool]:
    from kairos.slurm.signals import parse_warning_signal

    return parse_warning_signal(value)


_Applier = Callable[[Draft, str | None, float], None]


def _setter(attribute: str, convert: Callable[[str], Any]) -> _Applier:
    def apply(draft: Draft, value: str | None, now: float) -> None:
        setattr(draft, attribute, convert(value or ""))
    return apply


def _gpu_setter(option: str, convert: Callable[[str], GpuRequest]) -> _Applier:
    def apply(draft: Draft, value: str | None, now: float) -> None:
        draft.gpu_request, draft.gpu_option = convert(value or ""), option
    return apply


def _flag(attribute: str, to: bool = True) -> _Applier:
    def apply(draft: Draft, value: str | None, now: float) -> None:
        setattr(draft, attribute, to)
    return apply


def _set_exclusive(draft: Draft, value: str | None, now: float) -> None:
    draft.exclusive = _exclusive(value)


def _set_begin(draft: Draft, value: str | None, now: float) -> None:
    draft.begin = parse_begin(value or "", now)


def _set_nice(draft: Draft, value: str | None, now: float) -> None:
    draft.nice = _nice(value)


_APPLY: dict[str, _Applier] = {
    "job-name": _setter("name", _text),
    "output": _setter("stdout", _text),
    "error": _setter("stderr", _text),
    "time": _setter("time_limit", _time_limit),
    "time-min": _setter("time_min", parse_duration),
    "cpus-per-task": _setter("cpus_per_task", _positive),
    "ntasks": _setter("ntasks", _positive),
    "nodes": _setter("nodes", _node_count),
    "ntasks-per-node": _setter("ntasks_per_node", _positive),
    "mem": _setter("mem_per_node", parse_memory),
    "mem-per-cpu": _setter("mem_per_cpu", parse_memory),
    "gres": _gpu_setter("gres", parse_gres),
    "gpus": _gpu_setter("gpus", parse_gpus),
    "gpus-per-node": _gpu_setter("gpus-per-node", parse_gpus),
    "exclusive": _set_exclusive,
    "nodelist": _setter("nodelist", _hostlist),
    "exclude": _setter("exclude", _hostlist),
    "constraint": _setter("constraint", _constraint),
    "partition": _setter("partition", _text),
    "qos": _setter("qos", _text),
    "account": _setter("account", _text),
    "array": _setter("array", _check_array),
    "dependency": _setter("dependency", _check_dependency),
    "begin": _set_begin,
    "hold": _flag("hold"),
    "chdir": _setter("chdir", _text),
    "export": _setter("export", _check_export),
    "parsable": _flag("parsable"),
    "test-only": _flag("test_only"),
    "nice": _set_nice,
    "requeue": _flag("requeue"),
    "no-requeue": _flag("requeue", False),
    "signal": _setter("warning", _warning),
    "open-mode": _setter("open_mode", _open_mode),
    "comment": _setter("comment", str),
    "wckey": _setter("wckey", str),
}


# --- the submission ----------------------------------------------------------------------

def build_submission(draft: Draft, *, script: str, argv: list[str], default_name: str,
                     cwd: str, env: Mapping[str, str], submit_host: str) -> Submission:
    """The ``Submission`` a complete draft asks for, with its defaults filled in."""
    # Imported here: the package kairos.model also loads the job record and the core's
    # job types, which sbatch needs only once a submission got this far.
    from kairos.model.submission import Submission

    if {"mem", "mem-per-cpu"} <= draft.given:
        raise SbatchError("--mem and --mem-per-cpu are mutually exclusive; give one of them")
    nodes = _node_count(draft)
    ntasks = draft.ntasks
    if ntasks is None:
        ntasks = (draft.ntasks_per_node or 1) * nodes
    spread = _spreads(draft, nodes, ntasks)
    default_stdout = "slurm-%A_%a.out" if draft.array is not None else "slurm-%j.out"
    return Submission(
        script=script, argv=list(argv),
        name=draft.name if draft.name is not None else default_name,
        work_dir=os.path.normpath(os.path.join(cwd, draft.chdir or "")),
        stdout=draft.stdout if draft.stdout is not None else default_stdout,
        stderr=draft.stderr, time_limit=draft.time_limit, time_min=draft.time_min,
        nodes=nodes, ntasks=ntasks, cpus_per_task=draft.cpus_per_task,
        ntasks_per_node=draft.ntasks_per_node if "ntasks-per-node" in draft.given else None,
        spread=spread,
        mem_per_node=draft.mem_per_node, mem_per_cpu=draft.mem_per_cpu,
        gpus=_gpus_per_node(draft, nodes), partition=draft.partition, qos=draft.qos,
        account=draft.account, array=draft.array, dependency=draft.dependency,
        begin=draft.begin, hold=draft.hold, nice=draft.nice,
        environment=_job_environment(draft.export, env), export=draft.export,
        submit_host=submit_host, submit_dir=os.path.normpath(cwd),
        test_only=draft.test_only, cpus_per_task_set="cpus-per-task" in draft.given,
        ntasks_set="ntasks" in draft.given, exclusive=draft.exclusive,
        nodelist=expand(draft.nodelist) if draft.nodelist else [],
        exclude=expand(draft.exclude) if draft.exclude else [], constraint=draft.constraint,
        requeue=draft.requeue, **_warning_fields(draft.warning), open_mode=draft.open_mode,
        comment=draft.comment or None, wckey=draft.wckey or None,
    )


def _warning_fields(warning: tuple[int, int, bool] | None) -> dict[str, Any]:
    if warning is None:
        return {}
    signum, seconds, batch = warning
    return {"warn_signal": signum, "warn_time": seconds, "warn_batch": batch}


def _spreads(draft: Draft, nodes: int, ntasks: int) -> bool:
    """Whether the tasks may go to more nodes than ``nodes``: ``-n`` without ``-N``, as
    in Slurm (``-n 3`` on nodes of one CPU is three nodes).  Not with
    ``--ntasks-per-node``, which fixes the node count (``_node_count``), nor with
    ``--gpus``, a total that cannot be split over nodes not known yet."""
    return ("nodes" not in draft.given and "ntasks-per-node" not in draft.given
            and draft.gpu_option != "gpus" and ntasks > nodes)


def _node_count(draft: Draft) -> int:
    """``--nodes``, or as many nodes as ``--nodelist`` names when ``-N`` is not given
    (Slurm 22.05 raises the count; given ``-N``, it refuses a longer list).  Without
    ``-N``, ``-n`` with ``--ntasks-per-node`` needs enough nodes for that many tasks
    on each at most (Slurm treats it as a maximum then)."""
    required = set(expand(draft.nodelist)) if draft.nodelist else set()
    excluded = set(expand(draft.exclude)) if draft.exclude else set()
    both = sorted(required & excluded)
    if both:
        raise SbatchError(f"Invalid node name specified: {', '.join(both)} both in "
                          "--nodelist and in --exclude")
    if "nodes" not in draft.given:
        least = max(draft.nodes, len(required))
        if draft.ntasks is not None and draft.ntasks_per_node:
            least = max(least, -(-draft.ntasks // draft.ntasks_per_node))
        return least
    if len(required) > draft.nodes:
        raise SbatchError(f"Node count specification invalid: --nodelist names "
                          f"{len(required)} nodes, more than --nodes={draft.nodes}; "
                          "raise --nodes or leave it out")
    return draft.nodes


def _gpus_per_node(draft: Draft, nodes: int) -> list[tuple[str | None, int]]:
    request = [(gpu_type, count) for gpu_type, count in draft.gpu_request if count > 0]
    if draft.gpu_option != "gpus" or nodes == 1:
        return request
    for gpu_type, count in request:
        if count % nodes:
            what = f"{gpu_type}:{count}" if gpu_type else str(count)
            raise SbatchError(f"--gpus={what} cannot be split evenly over {nodes} "
                              "nodes; use --gpus-per-node")
    return [(gpu_type, count // nodes) for gpu_type, count in request]


def _job_environment(export: str, env: Mapping[str, str]) -> dict[str, str]:
    mode, variables = _export_items(export)
    if mode == "ALL":
        environment = dict(env)
    else:
        environment = {k: v for k, v in env.items() if k.startswith("SLURM_")}
    for name, assigned in variables:
        if assigned is not None:
            environment[name] = assigned
        elif name in env:
            environment[name] = env[name]
    return environment
