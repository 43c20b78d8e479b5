"""``sbatch``'s command line, ``#SBATCH`` directives and ``SBATCH_*`` variables turned
into a ``Submission``.

The ``Submission`` (``kairos.model``) is what ``kairos sbatch`` POSTs to the
controller.  Parsing follows Slurm 22.05 (checked on a real one):

* Options are read like ``getopt_long``: ``--time=5``, ``--time 5``, ``-t5``, ``-t 5``,
  bundled flags (``-Hv``) and unambiguous prefixes of long options (``--part``; an
  ambiguous one is an error naming the possibilities).  On the command line the first
  non-option is the script; what follows it is passed to the script, even words that
  look like options.  ``--`` ends the options.  An option whose value is optional
  (``--nice``, ``--exclusive``, ``--get-user-env``, ``-k/--no-kill``,
  ``--propagate``) takes one only when it is attached (``--nice=5``, ``-k5``), so
  ``--nice job.sh`` is ``--nice`` and the script.
* ``#SBATCH`` directives are read from the top of the script until the first line that
  is neither blank nor a comment; later ``#SBATCH`` lines and indented ones are plain
  comments.  A directive's text is split on blanks, quotes group words and are removed,
  and a ``#`` outside quotes starts a comment (so ``-J a#b`` names the job ``a``).
  ``--wrap``, ``--help``, ``--usage`` and ``--version`` are for the command line only.
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

Every option of Slurm 22.05's sbatch is known (``kairos.slurm.sbatch_options``), and
each is honoured, accepted with a warning that it changes nothing here, or refused
with the reason and what to do instead; ``docs/compatibility.md`` lists them all.  A
warning (``sbatch: warning: line 3: --mail-type is ignored: Kairos sends no mail``)
is given once per option, whichever sources set it, and ``-Q`` silences them; a refused
option (``line 4: --reservation is not supported: ...``) queues nothing.  ``-v`` shows
the options in effect, as Slurm's ``defined options``; ``-W/--wait`` waits for the
job's end and exits with its exit code.  The job's ``SBATCH_*`` variables are those of
the table.

This module reads the sources; the option table and the parser are in
``kairos.slurm.sbatch_options``, the values and defaults in
``kairos.slurm.sbatch_submission``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kairos.slurm.sbatch_options import (ALIASES, COMMAND_LINE_ONLY, INFO_OPTIONS, OPTIONS,
                                         TABLE, SbatchError, Setting, located, read_options,
                                         usage_text)
from kairos.slurm.sbatch_submission import apply_settings, build_submission
from kairos.slurm.timespec import format_timestamp

if TYPE_CHECKING:
    from kairos.model.submission import Submission

__all__ = ["CommandLine", "SbatchError", "SbatchRequest", "check_script",
           "directive_settings", "environment_settings", "forecast_message",
           "parse_command_line", "parse_sbatch", "parse_submission", "submitted_message",
           "usage_text"]


@dataclass(frozen=True)
class SbatchRequest:
    """A parsed sbatch invocation: the submission and how to report the result: the
    warnings for the options it ignores (not printed with ``-Q``), the options in
    effect (printed with ``-v``) and whether to wait for the job's end (``-W``)."""

    submission: Submission
    parsable: bool
    warnings: tuple[str, ...] = ()
    quiet: bool = False
    verbose: int = 0
    defined: tuple[tuple[str, str], ...] = ()
    wait: bool = False


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
    settings, operands = read_options(argv)
    if operands[:1] == ["--"]:
        operands = operands[1:]
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
        found, rest = read_options(_directive_tokens(text, origin), origin)
        if rest and rest[0] != "--":  # what follows "--" is ignored, as by Slurm
            raise located(origin, f"invalid directive {rest[0]!r}: a directive holds "
                                  "only options, e.g. #SBATCH --time=10")
        for setting in found:
            if setting.option.long in COMMAND_LINE_ONLY:
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
        raise located(origin, f"unmatched quote ({quote}) in the directive; close it")
    if in_word:
        tokens.append("".join(word))
    return tokens


def environment_settings(env: Mapping[str, str]) -> list[Setting]:
    """Settings from ``SBATCH_*`` variables, in the option table's order."""
    return [Setting(o.env, o, env[o.env]) for o in OPTIONS
            if o.env is not None and o.env in env]


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
    directives = directive_settings(script) if command_line.wrap is None else []
    given = [*directives, *environment_settings(env), *command_line.settings]
    honoured, warnings = sort_out(given)
    draft = apply_settings(honoured, now)
    submission = build_submission(draft, script=script, argv=command_line.script_args,
                                  default_name=default_name, cwd=cwd, env=env,
                                  submit_host=submit_host)
    verbose = sum(1 for s in given if s.option.long == "verbose")
    return SbatchRequest(submission, draft.parsable, warnings=tuple(warnings),
                         quiet=_flag_given(given, "quiet"), verbose=verbose,
                         defined=_defined(given), wait=_flag_given(given, "wait"))


def sort_out(settings: list[Setting]) -> tuple[list[Setting], list[str]]:
    """The settings Kairos honours (each under its canonical option), and one warning
    for each option it ignores, naming where it was first set and why nothing changes.

    Raises ``SbatchError`` for the first option Kairos refuses: honouring it would
    change what runs or where, so nothing is queued.
    """
    honoured: list[Setting] = []
    warnings: dict[str, str] = {}
    for setting in settings:
        option = setting.option
        if option.refused:
            raise setting.error(f"--{option.long} is not supported: {option.refused}")
        if option.ignored:
            why = f": {option.why}" if option.why else ""
            warnings.setdefault(option.long, str(setting.error(f"--{option.long} is "
                                                               f"ignored{why}")))
            continue
        if option.long in ALIASES:
            setting = Setting(setting.origin, TABLE.by_long[ALIASES[option.long]],
                              setting.value)
        honoured.append(setting)
    return honoured, list(warnings.values())


def _flag_given(settings: list[Setting], long: str) -> bool:
    return any(s.option.long == long for s in settings)


def _defined(settings: list[Setting]) -> tuple[tuple[str, str], ...]:
    """What ``sbatch -v`` lists, as Slurm's "defined options": each option set, by
    name, with its last value (``set`` for a flag; ``verbose``: how many times)."""
    values: dict[str, str] = {}
    for setting in settings:
        long = setting.option.long
        if long == "verbose":
            values[long] = str(int(values.get(long, "0")) + 1)
        else:
            values[long] = "set" if setting.value is None else setting.value
    return tuple(sorted(values.items()))


def defined_options_text(defined: tuple[tuple[str, str], ...]) -> str:
    """``sbatch -v``'s list of the options in effect, in the peer's layout."""
    rule = f"{'-' * 20} {'-' * 20}"
    lines = ["defined options", rule, *(f"{name:<20}: {value}" for name, value in defined),
             rule, "end of defined options"]
    return "".join(f"sbatch: {line}\n" for line in lines)


def parse_submission(argv: list[str], *, script_text: str | None = None,
                     stdin_text: str | None = None, cwd: str, env: Mapping[str, str],
                     now: float, submit_host: str) -> Submission:
    """The ``Submission`` of an sbatch command line (see ``parse_sbatch``)."""
    return parse_sbatch(argv, script_text=script_text, stdin_text=stdin_text, cwd=cwd,
                        env=env, now=now, submit_host=submit_host).submission


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


# --- what sbatch prints ----------------------------------------------------------------

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
