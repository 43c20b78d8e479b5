"""``sbatch``'s options and ``#SBATCH`` directives turned into a ``SubmitSpec``.

The ``SubmitSpec`` is what ``kairos sbatch`` POSTs to the controller (fields as in
``docs/live.md``).  Parsing follows Slurm 22.05 (checked on a real one):

* Options are read like ``getopt_long``: ``--time=5``, ``--time 5``, ``-t5``, ``-t 5``,
  bundled flags (``-Hv``) and unambiguous prefixes of long options (``--part``).  On
  the command line the first non-option is the script; what follows it is passed to
  the script.  ``--`` ends the options.
* ``#SBATCH`` directives are read from the top of the script until the first line that
  is neither blank nor a comment; later ``#SBATCH`` lines and indented ones are plain
  comments.  A directive's text is split on blanks, quotes group words and are removed,
  and a ``#`` outside quotes starts a comment (so ``-J a#b`` names the job ``a``).
* Precedence: command line > ``SBATCH_*`` environment variables > directives; within
  one source, the last occurrence wins.  ``--mem`` and ``--mem-per-cpu`` may not both
  be given (in any sources).
* The script must start with ``#!``; ``--wrap=CMD`` makes a ``#!/bin/sh`` script; with
  neither a file nor ``--wrap`` the script is read from standard input.  The default
  job name is the script's file name, ``wrap`` for ``--wrap`` and ``sbatch`` for a
  script from standard input.
* ``--time=0`` means no limit, as in Slurm.  ``--gpus`` counts GPUs for the whole job
  and is split evenly over ``--nodes``; ``--gres=gpu:...`` and ``--gpus-per-node`` are
  per node.  ``--ntasks-per-node`` sets ``ntasks`` to that many per node unless
  ``--ntasks`` is given.  ``--nice`` alone is ``--nice=100``.
* ``--export``: ``ALL`` (default) gives the job the submitter's environment; ``NONE``
  gives it only the submitter's ``SLURM_*`` variables; ``VAR1,VAR2=value`` gives the
  ``SLURM_*`` variables, ``VAR1`` with its current value and ``VAR2=value``;
  ``ALL,VAR2=value`` gives everything with ``VAR2`` replaced.

Supported options: ``-J/--job-name -o/--output -e/--error -t/--time --time-min
-c/--cpus-per-task -n/--ntasks -N/--nodes --ntasks-per-node --mem --mem-per-cpu --gres
-G/--gpus --gpus-per-node -p/--partition -q/--qos -A/--account -a/--array
-d/--dependency -b/--begin -H/--hold -D/--chdir --export --wrap --parsable --test-only
--nice -h/--help --usage -V/--version``.

Environment variables read: ``SBATCH_ACCOUNT SBATCH_ARRAY_INX SBATCH_ERROR
SBATCH_EXPORT SBATCH_GPUS SBATCH_GPUS_PER_NODE SBATCH_GRES SBATCH_JOB_NAME
SBATCH_MEM_PER_CPU SBATCH_MEM_PER_NODE SBATCH_OUTPUT SBATCH_PARTITION SBATCH_QOS
SBATCH_TIMELIMIT``.

Accepted with no effect (real sbatch options that change nothing Kairos decides, so
scripts written for a Slurm cluster run unchanged): ``--acctg-freq --comment
-C/--constraint --contiguous -m/--distribution --exclusive --get-user-env --gpu-bind
--gres-flags --hint --kill-on-invalid-dep --mail-type --mail-user --mem-bind
-k/--no-kill --no-requeue --open-mode --profile --propagate -Q/--quiet --requeue
--signal -s/--oversubscribe --spread-job --tmp --use-min-nodes -v/--verbose --wckey``.
Any other option is an error, so that nothing is queued with a request Kairos would
not honour.
"""

from __future__ import annotations

import os
import re
from dataclasses import MISSING, asdict, dataclass, field, fields
from enum import Enum
from typing import Any, Callable, Iterator, Mapping

from kairos.slurm.arrays import parse_array
from kairos.slurm.deps import parse_dependency
from kairos.slurm.gres import GpuRequest, parse_gpus, parse_gres
from kairos.slurm.timespec import format_timestamp, parse_begin, parse_duration, parse_memory


class SbatchError(ValueError):
    """A submission sbatch refuses: a bad option, directive, value or script.  The
    message names the script line (``line 3: ...``) or the environment variable it
    came from."""


# --- the wire object -------------------------------------------------------------------

@dataclass
class SubmitSpec:
    """One submission as the controller receives it (``POST /api/v1/jobs``)."""

    script: str
    argv: list[str]
    name: str | None
    work_dir: str
    stdout: str | None
    stderr: str | None
    time_limit: float | None
    time_min: float | None
    nodes: int
    ntasks: int
    cpus_per_task: int
    mem_per_node: int | None
    mem_per_cpu: int | None
    gpus: list[tuple[str | None, int]]
    partition: str | None
    qos: str | None
    account: str | None
    array: str | None
    dependency: str | None
    begin: float | None
    hold: bool
    nice: int
    environment: dict[str, str]
    export: str
    submit_host: str
    test_only: bool
    submit_dir: str = ""  #: where sbatch ran (SLURM_SUBMIT_DIR), whatever --chdir says
    cpus_per_task_set: bool = False  #: -c given: the job sees SLURM_CPUS_PER_TASK
    ntasks_set: bool = False  #: -n given: the job sees SLURM_NTASKS / SLURM_NPROCS

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict; ``gpus`` becomes a list of ``[type, count]`` lists."""
        data = asdict(self)
        data["gpus"] = [[gpu_type, count] for gpu_type, count in self.gpus]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SubmitSpec:
        """The spec in a JSON dict; raises ``ValueError`` naming missing, unknown or
        ill-typed fields."""
        names = [f.name for f in fields(cls)]
        optional = {f.name for f in fields(cls) if f.default is not MISSING}
        missing = [n for n in names if n not in data and n not in optional]
        unknown = sorted(set(data) - set(names))
        if missing or unknown:
            raise ValueError(f"invalid SubmitSpec: missing fields {missing}, "
                             f"unknown fields {unknown}")
        for name in names:
            _check_wire_type(name, data[name])
        values = dict(data)
        values["gpus"] = [(gpu_type, count) for gpu_type, count in data["gpus"]]
        values["argv"] = list(data["argv"])
        values["environment"] = dict(data["environment"])
        return cls(**values)


_NUMBER = (int, float)
_WIRE_TYPES: dict[str, tuple[tuple[type, ...], bool]] = {  # field: (types, nullable)
    "script": ((str,), False), "argv": ((list,), False), "name": ((str,), True),
    "work_dir": ((str,), False), "stdout": ((str,), True), "stderr": ((str,), True),
    "time_limit": (_NUMBER, True), "time_min": (_NUMBER, True), "nodes": ((int,), False),
    "ntasks": ((int,), False), "cpus_per_task": ((int,), False),
    "mem_per_node": ((int,), True), "mem_per_cpu": ((int,), True),
    "gpus": ((list,), False), "partition": ((str,), True), "qos": ((str,), True),
    "account": ((str,), True), "array": ((str,), True), "dependency": ((str,), True),
    "begin": (_NUMBER, True), "hold": ((bool,), False), "nice": ((int,), False),
    "environment": ((dict,), False), "export": ((str,), False),
    "submit_host": ((str,), False), "test_only": ((bool,), False),
    "submit_dir": ((str,), False), "cpus_per_task_set": ((bool,), False),
    "ntasks_set": ((bool,), False),
}


def _check_wire_type(name: str, value: Any) -> None:
    types, nullable = _WIRE_TYPES[name]
    if value is None and nullable:
        return
    is_bool = isinstance(value, bool)
    if not isinstance(value, types) or (is_bool and bool not in types):
        raise ValueError(f"invalid SubmitSpec: field {name!r} has the wrong type "
                         f"({type(value).__name__})")
    if name == "gpus" and not all(
            isinstance(g, (list, tuple)) and len(g) == 2 and isinstance(g[1], int)
            and (g[0] is None or isinstance(g[0], str)) for g in value):
        raise ValueError("invalid SubmitSpec: 'gpus' must be a list of [type or null, count]")


@dataclass(frozen=True)
class SbatchRequest:
    """A parsed sbatch invocation: the spec to submit and how to report the result."""

    spec: SubmitSpec
    parsable: bool


# --- the option table ------------------------------------------------------------------

class Arg(Enum):
    """Whether an option takes a value (``OPTIONAL``: only as ``--opt=value``)."""

    NONE = "none"
    REQUIRED = "required"
    OPTIONAL = "optional"


@dataclass(frozen=True)
class OptionDef:
    """One sbatch option: its long and short names, its argument, the ``SBATCH_*``
    variable that may set it, and whether Kairos ignores it."""

    long: str
    short: str | None
    arg: Arg
    env: str | None = None
    ignored: bool = False


_R, _N, _O = Arg.REQUIRED, Arg.NONE, Arg.OPTIONAL
OPTIONS: tuple[OptionDef, ...] = (
    OptionDef("job-name", "J", _R, "SBATCH_JOB_NAME"),
    OptionDef("output", "o", _R, "SBATCH_OUTPUT"),
    OptionDef("error", "e", _R, "SBATCH_ERROR"),
    OptionDef("time", "t", _R, "SBATCH_TIMELIMIT"),
    OptionDef("time-min", None, _R),
    OptionDef("cpus-per-task", "c", _R),
    OptionDef("ntasks", "n", _R),
    OptionDef("nodes", "N", _R),
    OptionDef("ntasks-per-node", None, _R),
    OptionDef("mem", None, _R, "SBATCH_MEM_PER_NODE"),
    OptionDef("mem-per-cpu", None, _R, "SBATCH_MEM_PER_CPU"),
    OptionDef("gres", None, _R, "SBATCH_GRES"),
    OptionDef("gpus", "G", _R, "SBATCH_GPUS"),
    OptionDef("gpus-per-node", None, _R, "SBATCH_GPUS_PER_NODE"),
    OptionDef("partition", "p", _R, "SBATCH_PARTITION"),
    OptionDef("qos", "q", _R, "SBATCH_QOS"),
    OptionDef("account", "A", _R, "SBATCH_ACCOUNT"),
    OptionDef("array", "a", _R, "SBATCH_ARRAY_INX"),
    OptionDef("dependency", "d", _R),
    OptionDef("begin", "b", _R),
    OptionDef("hold", "H", _N),
    OptionDef("chdir", "D", _R),
    OptionDef("export", None, _R, "SBATCH_EXPORT"),
    OptionDef("wrap", None, _R),
    OptionDef("parsable", None, _N),
    OptionDef("test-only", None, _N),
    OptionDef("nice", None, _O),
    OptionDef("help", "h", _N),
    OptionDef("usage", None, _N),
    OptionDef("version", "V", _N),
    *(OptionDef(name, short, arg, ignored=True) for name, short, arg in (
        ("acctg-freq", None, _R), ("comment", None, _R), ("constraint", "C", _R),
        ("contiguous", None, _N), ("distribution", "m", _R), ("exclusive", None, _O),
        ("get-user-env", None, _O), ("gpu-bind", None, _R), ("gres-flags", None, _R),
        ("hint", None, _R), ("kill-on-invalid-dep", None, _R), ("mail-type", None, _R),
        ("mail-user", None, _R), ("mem-bind", None, _R), ("no-kill", "k", _O),
        ("no-requeue", None, _N), ("open-mode", None, _R), ("oversubscribe", "s", _N),
        ("profile", None, _R), ("propagate", None, _O), ("quiet", "Q", _N),
        ("requeue", None, _N), ("signal", None, _R), ("spread-job", None, _N),
        ("tmp", None, _R), ("use-min-nodes", None, _N), ("verbose", "v", _N),
        ("wckey", None, _R))),
)
_BY_LONG = {o.long: o for o in OPTIONS}
_BY_SHORT = {o.short: o for o in OPTIONS if o.short}
_COMMAND_LINE_ONLY = {"wrap", "help", "usage", "version"}
INFO_OPTIONS = ("help", "usage", "version")


@dataclass(frozen=True)
class Setting:
    """One option as given: where (``""`` for the command line, ``line 3``,
    ``SBATCH_QOS``), which option, and its value (``None`` for a flag)."""

    origin: str
    option: OptionDef
    value: str | None

    def error(self, message: str) -> SbatchError:
        return _located(self.origin, message)


# --- getopt_long ---------------------------------------------------------------------

def _read_options(tokens: list[str], origin: str,
                  stop_at_operand: bool) -> tuple[list[Setting], list[str]]:
    """Settings from option tokens, and the operands: everything from the first
    non-option on (command line), or an error for any non-option (directives)."""
    settings: list[Setting] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token == "--":
            return settings, tokens[i + 1:]
        if token.startswith("--"):
            i = _read_long(tokens, i, origin, settings)
        elif token.startswith("-") and token != "-":
            i = _read_short(tokens, i, origin, settings)
        elif stop_at_operand:
            return settings, tokens[i:]
        else:
            raise _located(origin, f"invalid directive {token!r}: a directive holds "
                                   "only options, e.g. #SBATCH --time=10")
        i += 1
    return settings, []


def _read_long(tokens: list[str], i: int, origin: str, settings: list[Setting]) -> int:
    name, equals, value = tokens[i][2:].partition("=")
    option = _long_option(name, origin)
    if option.arg is Arg.NONE and equals:
        raise _located(origin, f"option '--{option.long}' doesn't allow an argument")
    if option.arg is Arg.REQUIRED and not equals:
        if i + 1 >= len(tokens):
            raise _located(origin, f"option '--{option.long}' requires an argument")
        i += 1
        value, equals = tokens[i], "="
    settings.append(Setting(origin, option, value if equals else None))
    return i


def _long_option(name: str, origin: str) -> OptionDef:
    if name in _BY_LONG:
        return _BY_LONG[name]
    candidates = [o for o in OPTIONS if o.long.startswith(name)] if name else []
    if len(candidates) == 1:
        return candidates[0]
    if candidates:
        choices = " ".join(f"'--{o.long}'" for o in candidates)
        raise _located(origin, f"option '--{name}' is ambiguous; possibilities: {choices}")
    raise _located(origin, f"unrecognized option '--{name}' (see sbatch --help)")


def _read_short(tokens: list[str], i: int, origin: str, settings: list[Setting]) -> int:
    letters = tokens[i][1:]
    for position, letter in enumerate(letters):
        option = _BY_SHORT.get(letter)
        if option is None:
            raise _located(origin, f"invalid option -- '{letter}' (see sbatch --help)")
        rest = letters[position + 1:]
        if option.arg is Arg.NONE:
            settings.append(Setting(origin, option, None))
            continue
        if option.arg is Arg.OPTIONAL:
            settings.append(Setting(origin, option, rest or None))
            return i
        if not rest:
            if i + 1 >= len(tokens):
                raise _located(origin, f"option requires an argument -- '{letter}'")
            i += 1
            rest = tokens[i]
        settings.append(Setting(origin, option, rest))
        return i
    return i


def _located(origin: str, message: str) -> SbatchError:
    return SbatchError(f"{origin}: {message}" if origin else message)


# --- the command line ----------------------------------------------------------------

@dataclass(frozen=True)
class CommandLine:
    """What the command line alone says: its settings, the script file (``None``: from
    ``--wrap`` or standard input) and the script's arguments."""

    settings: list[Setting]
    script_path: str | None
    script_args: list[str]

    def last(self, long: str) -> Setting | None:
        found = [s for s in self.settings if s.option.long == long]
        return found[-1] if found else None

    @property
    def info(self) -> str | None:
        """``help``, ``usage`` or ``version`` when the command line asks for one."""
        return next((s.option.long for s in self.settings
                     if s.option.long in INFO_OPTIONS), None)

    @property
    def wrap(self) -> str | None:
        setting = self.last("wrap")
        return None if setting is None else setting.value


def parse_command_line(argv: list[str]) -> CommandLine:
    """The options, script file and script arguments of an sbatch command line."""
    settings, operands = _read_options(list(argv), "", stop_at_operand=True)
    script_path, script_args = (operands[0], operands[1:]) if operands else (None, [])
    return CommandLine(settings, script_path, script_args)


# --- the script ----------------------------------------------------------------------

_NOT_A_SCRIPT = ("this does not look like a batch script: the first line must start "
                 "with #! followed by the path to an interpreter, for instance #!/bin/sh")


def check_script(script: str) -> None:
    """Raise ``SbatchError`` when Slurm would refuse the script text."""
    if not script:
        raise SbatchError("the batch script is empty")
    if not script.startswith("#!"):
        raise SbatchError(_NOT_A_SCRIPT)
    if "\r\n" in script:
        raise SbatchError("the batch script has DOS line breaks (\\r\\n) instead of UNIX "
                          "ones (\\n); convert it, e.g. with dos2unix")
    if "\0" in script:
        raise SbatchError("the batch script contains a NUL character")


def directive_settings(script: str) -> list[Setting]:
    """The settings in a script's ``#SBATCH`` directives, each knowing its line."""
    settings: list[Setting] = []
    for number, text in _directive_lines(script):
        origin = f"line {number}"
        tokens = _directive_tokens(text, origin)
        found, _ = _read_options(tokens, origin, stop_at_operand=False)
        for setting in found:
            if setting.option.long in _COMMAND_LINE_ONLY:
                raise setting.error(f"--{setting.option.long} is only allowed on the "
                                    "command line")
        settings.extend(found)
    return settings


def _directive_lines(script: str) -> Iterator[tuple[int, str]]:
    """(line number, text after ``#SBATCH``) of each directive before the first command."""
    for number, line in enumerate(script.splitlines(), start=1):
        if line.startswith("#SBATCH"):
            yield number, line[len("#SBATCH"):]
        elif line.strip() and not line.lstrip().startswith("#"):
            return


def _directive_tokens(text: str, origin: str) -> list[str]:
    """Words of a directive: blanks separate, quotes group and vanish, ``#`` outside
    quotes ends the directive."""
    tokens: list[str] = []
    word: list[str] = []
    in_word, quote = False, ""
    for char in text:
        if quote:
            if char == quote:
                quote = ""
            else:
                word.append(char)
        elif char in "'\"":
            quote, in_word = char, True
        elif char == "#":
            break
        elif char.isspace():
            if in_word:
                tokens.append("".join(word))
                word, in_word = [], False
        else:
            word.append(char)
            in_word = True
    if quote:
        raise _located(origin, f"unmatched quote ({quote}) in the directive; close it")
    if in_word:
        tokens.append("".join(word))
    return tokens


def environment_settings(env: Mapping[str, str]) -> list[Setting]:
    """Settings from ``SBATCH_*`` variables, in the option table's order."""
    return [Setting(o.env, o, env[o.env]) for o in OPTIONS
            if o.env is not None and o.env in env]


# --- applying settings ---------------------------------------------------------------

@dataclass
class _Draft:
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
    given: set[str] = field(default_factory=set)


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


_Applier = Callable[[_Draft, str | None, float], None]


def _setter(attribute: str, convert: Callable[[str], Any]) -> _Applier:
    def apply(draft: _Draft, value: str | None, now: float) -> None:
        setattr(draft, attribute, convert(value or ""))
    return apply


def _gpu_setter(option: str, convert: Callable[[str], GpuRequest]) -> _Applier:
    def apply(draft: _Draft, value: str | None, now: float) -> None:
        draft.gpu_request, draft.gpu_option = convert(value or ""), option
    return apply


def _flag(attribute: str) -> _Applier:
    def apply(draft: _Draft, value: str | None, now: float) -> None:
        setattr(draft, attribute, True)
    return apply


def _set_begin(draft: _Draft, value: str | None, now: float) -> None:
    draft.begin = parse_begin(value or "", now)


def _set_nice(draft: _Draft, value: str | None, now: float) -> None:
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
}


def _apply(draft: _Draft, setting: Setting, now: float) -> None:
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


# --- putting it together -------------------------------------------------------------

def parse_sbatch(argv: list[str], *, script_text: str | None = None,
                 stdin_text: str | None = None, cwd: str, env: Mapping[str, str],
                 now: float, submit_host: str) -> SbatchRequest:
    """The submission an sbatch command line asks for, with how to report it.

    The script is ``script_text`` when given, else the file named on the command line
    (read here, relative to ``cwd``), else ``--wrap``'s command, else ``stdin_text``.
    Raises ``SbatchError`` for anything sbatch would refuse.
    """
    command_line = parse_command_line(argv)
    script, default_name = _script(command_line, script_text, stdin_text, cwd)
    check_script(script)
    env = dict(env)
    draft = _Draft()
    sources = (directive_settings(script) if command_line.wrap is None else [],
               environment_settings(env), command_line.settings)
    for settings in sources:
        for setting in settings:
            _apply(draft, setting, now)
    return SbatchRequest(_finish(draft, command_line, script, default_name, cwd, env,
                                 submit_host), draft.parsable)


def parse_submission(argv: list[str], *, script_text: str | None = None,
                     stdin_text: str | None = None, cwd: str, env: Mapping[str, str],
                     now: float, submit_host: str) -> SubmitSpec:
    """The ``SubmitSpec`` of an sbatch command line (see ``parse_sbatch``)."""
    return parse_sbatch(argv, script_text=script_text, stdin_text=stdin_text, cwd=cwd,
                        env=env, now=now, submit_host=submit_host).spec


def _script(command_line: CommandLine, script_text: str | None,
            stdin_text: str | None, cwd: str) -> tuple[str, str]:
    """(script text, default job name)."""
    if command_line.wrap is not None:
        if command_line.script_path is not None:
            raise SbatchError("script arguments are not allowed with --wrap; put the "
                              "whole command in --wrap")
        return f"#!/bin/sh\n{command_line.wrap}\n", "wrap"
    path = command_line.script_path
    if path is None:
        if stdin_text is None:
            raise SbatchError("no batch script: name a script file, give --wrap=COMMAND "
                              "or pipe the script to standard input")
        return stdin_text, "sbatch"
    if script_text is None:
        script_text = _read_script(os.path.join(cwd, path), path)
    return script_text, os.path.basename(path)


def _read_script(full_path: str, shown_path: str) -> str:
    try:
        with open(full_path, encoding="utf-8", errors="surrogateescape") as handle:
            return handle.read()
    except OSError as error:
        raise SbatchError(f"unable to open file {shown_path}: {error.strerror}") from None


def _finish(draft: _Draft, command_line: CommandLine, script: str, default_name: str,
            cwd: str, env: dict[str, str], submit_host: str) -> SubmitSpec:
    if {"mem", "mem-per-cpu"} <= draft.given:
        raise SbatchError("--mem and --mem-per-cpu are mutually exclusive; give one of them")
    ntasks = draft.ntasks
    if ntasks is None:
        ntasks = (draft.ntasks_per_node or 1) * draft.nodes
    default_stdout = "slurm-%A_%a.out" if draft.array is not None else "slurm-%j.out"
    return SubmitSpec(
        script=script, argv=list(command_line.script_args),
        name=draft.name if draft.name is not None else default_name,
        work_dir=os.path.normpath(os.path.join(cwd, draft.chdir or "")),
        stdout=draft.stdout if draft.stdout is not None else default_stdout,
        stderr=draft.stderr, time_limit=draft.time_limit, time_min=draft.time_min,
        nodes=draft.nodes, ntasks=ntasks, cpus_per_task=draft.cpus_per_task,
        mem_per_node=draft.mem_per_node, mem_per_cpu=draft.mem_per_cpu,
        gpus=_gpus_per_node(draft), partition=draft.partition, qos=draft.qos,
        account=draft.account, array=draft.array, dependency=draft.dependency,
        begin=draft.begin, hold=draft.hold, nice=draft.nice,
        environment=_job_environment(draft.export, env), export=draft.export,
        submit_host=submit_host, test_only=draft.test_only,
        submit_dir=os.path.normpath(cwd), cpus_per_task_set="cpus-per-task" in draft.given,
        ntasks_set="ntasks" in draft.given,
    )


def _gpus_per_node(draft: _Draft) -> list[tuple[str | None, int]]:
    request = [(gpu_type, count) for gpu_type, count in draft.gpu_request if count > 0]
    if draft.gpu_option != "gpus" or draft.nodes == 1:
        return request
    for gpu_type, count in request:
        if count % draft.nodes:
            what = f"{gpu_type}:{count}" if gpu_type else str(count)
            raise SbatchError(f"--gpus={what} cannot be split evenly over {draft.nodes} "
                              "nodes; use --gpus-per-node")
    return [(gpu_type, count // draft.nodes) for gpu_type, count in request]


# --- what sbatch prints ----------------------------------------------------------------

def usage_text() -> str:
    """``sbatch --help``: the options Kairos honours and those it accepts and ignores."""
    used = [o for o in OPTIONS if not o.ignored]
    ignored = [o for o in OPTIONS if o.ignored]
    lines = ["Usage: sbatch [OPTIONS...] [script [args...]]", "", "Options:"]
    lines += [f"  {_spelling(o)}" for o in used]
    lines += ["", "Accepted for compatibility, no effect:",
              "  " + " ".join(f"--{o.long}" for o in ignored)]
    return "\n".join(lines) + "\n"


def _spelling(option: OptionDef) -> str:
    short = f"-{option.short}, " if option.short else "    "
    value = {Arg.NONE: "", Arg.REQUIRED: "=VALUE", Arg.OPTIONAL: "[=VALUE]"}[option.arg]
    return f"{short}--{option.long}{value}"


def submitted_message(result: dict[str, Any], parsable: bool) -> str:
    """What sbatch prints on standard output once the controller took the job."""
    job_id = result["job_id"]
    return str(job_id) if parsable else f"Submitted batch job {job_id}"


def forecast_message(result: dict[str, Any]) -> str:
    """What ``sbatch --test-only`` prints (on standard error, as Slurm does)."""
    start = format_timestamp(result.get("expected_start"), "Unknown")
    return (f"sbatch: Job {result['job_id']} to start at {start} using "
            f"{result.get('cpus')} processors on nodes {result.get('node_list')} "
            f"in partition {result.get('partition')}")
