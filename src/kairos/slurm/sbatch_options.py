"""sbatch's options: the table of what sbatch accepts, and reading them from words.

The table says, for each option, its spellings, whether it takes a value, the
``SBATCH_*`` variable that may set it and whether Kairos ignores it; ``usage_text``
(``sbatch --help``) and the parser are both made from it.

Words are read the way Slurm 22.05's sbatch (``getopt_long``) reads them: ``--time=5``,
``--time 5``, ``-t5``, ``-t 5``, bundled flags (``-Hv``), unambiguous prefixes of long
options (``--part``); a value follows its option whatever it looks like (``-J -x``);
the first non-option ends the options (on the command line it is the script), and so
does ``--``; an option whose value is optional (``--nice``, ``-k``) takes one only
when it is attached (``--nice=5``, ``-k5``), so ``--nice job.sh`` is ``--nice`` and a
script; the first error is reported, in getopt's words.  The parser is the shared
``SlurmArgumentParser`` (argparse) speaking sbatch's error words.  Where getopt's rules
differ from argparse's (where the options end, values that look like options,
optional values), the words are prepared for it first: ``_option_words``.

Reading gives ``Setting``s, each knowing where it came from (``line 3``,
``SBATCH_QOS``, or the command line), so that a bad value is reported where it was
written.  ``kairos.slurm.sbatch_submission`` turns them into a ``Submission``.
"""

from __future__ import annotations

import argparse
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, NoReturn

from kairos.slurm.options import SlurmArgumentParser, UsageError


class SbatchError(ValueError):
    """A submission sbatch refuses: a bad option, directive, value or script.  The
    message names the script line (``line 3: ...``) or the environment variable it
    came from."""


def located(origin: str, message: str) -> SbatchError:
    """An ``SbatchError`` naming where the offending setting was written."""
    return SbatchError(f"{origin}: {message}" if origin else message)


# --- the table ---------------------------------------------------------------------------

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
COMMAND_LINE_ONLY = frozenset({"wrap", "help", "usage", "version"})
INFO_OPTIONS = ("help", "usage", "version")


@dataclass(frozen=True)
class Setting:
    """One option as given: where (``""`` for the command line, ``line 3``,
    ``SBATCH_QOS``), which option, and its value (``None`` for a flag, or for an
    optional value not given)."""

    origin: str
    option: OptionDef
    value: str | None

    def error(self, message: str) -> SbatchError:
        return located(self.origin, message)


# --- reading words -----------------------------------------------------------------------

def read_options(tokens: Sequence[str], origin: str = "") -> tuple[list[Setting], list[str]]:
    """The settings in ``tokens`` (in order) and the rest: the words from the first
    non-option on, as given (starting with ``--`` when that ended the options).

    Raises ``SbatchError`` (prefixed with ``origin``) in getopt's words for the first
    unknown or ambiguous option, value given to a flag or missing value.
    """
    words, unreadable, rest = _option_words(tokens)
    try:
        namespace = _parser().parse(words)
        if unreadable is not None:
            _reject(unreadable)
    except UsageError as error:
        raise located(origin, str(error)) from None
    return [Setting(origin, option, value) for option, value in namespace.settings or ()], rest


def _option_words(tokens: Sequence[str]) -> tuple[list[str], str | None, list[str]]:
    """(the option words as argparse is to read them, the first option word it cannot
    read, the rest), by getopt's rules where argparse has others:

    * the options end at ``--`` or at the first word that is neither an option nor an
      option's value (argparse would read on, and fail on an ambiguous prefix among
      the script's own arguments);
    * the first error is the one reported (argparse reports an ambiguous prefix
      before anything else and an unknown option last), so the words stop at the
      first one argparse cannot read;
    * a value follows its option whatever it looks like (``-J -x``: argparse would
      take ``-x`` for an option, so it is marked as a value);
    * an optional value is only ever attached (``--nice job.sh`` is ``--nice`` and the
      script: argparse would take ``job.sh`` for its value, so the bare option is
      marked as having none).
    """
    words: list[str] = []
    value_next = False
    for index, token in enumerate(tokens):
        if value_next:
            words.append(_VALUE + token if token.startswith("-") else token)
            value_next = False
        elif token == "--" or token == "-" or not token.startswith("-"):
            return words, None, list(tokens[index:])
        else:
            read = _how_argparse_reads(token)
            if read is None:
                return words, token, []
            option, start = read
            value_next = option is not None and start is None and option.arg is Arg.REQUIRED
            words.append(_marked(token, option, start))
    return words, None, []


def _how_argparse_reads(token: str) -> tuple[OptionDef | None, int | None] | None:
    """For an option word: the option in it that takes a value (``None`` if none
    does) and where the value attached to it starts (``None`` if none is); ``None``
    when argparse cannot read the word (an unknown or ambiguous option, a value given
    to a flag: ``--hold=1``, ``-H=1``, ``-HZ``)."""
    if token.startswith("--"):
        name, equals, _ = token[2:].partition("=")
        option = _long_option(name)
        if option is None or (equals and option.arg is Arg.NONE):
            return None
        if option.arg is Arg.NONE:
            return None, None
        return option, (len(name) + 3 if equals else None)
    for start, letter in enumerate(token[1:], start=2):  # flags until one with a value
        option = _BY_SHORT.get(letter)
        if option is None:
            return None
        if option.arg is not Arg.NONE:
            return option, (start if start < len(token) else None)
    return None, None


def _reject(token: str) -> NoReturn:
    """Raise ``UsageError`` for a word argparse cannot read: argparse's words (made
    getopt's) for a long option, the letter getopt stops at in a bundle."""
    if token.startswith("--"):
        _parser().parse([token])
    raise UsageError(_invalid_letter(next(c for c in token[1:] if c not in _BY_SHORT)))


def _marked(token: str, option: OptionDef | None, start: int | None) -> str:
    """An option word as argparse is to read it: an attached value marked as one
    (argparse would split ``-t=5`` at ``=`` and drop a value ``--``), an optional
    value not given marked as missing."""
    if option is None:
        return token
    if start is not None:
        return token[:start] + _VALUE + token[start:]
    if option.arg is Arg.OPTIONAL:
        return f"{token}={_NO_VALUE}" if token.startswith("--") else token + _NO_VALUE
    return token


def _long_option(name: str) -> OptionDef | None:
    """The option a long name or an unambiguous prefix of one names, as argparse
    resolves it; ``None`` when there is none or several."""
    if name in _BY_LONG:
        return _BY_LONG[name]
    found = [o for o in OPTIONS if o.long.startswith(name)]
    return found[0] if len(found) == 1 else None


# Marks for argparse: a value (``-J \0-x``, ``--time=\05``, ``-t\05``) has a NUL before it,
# an optional value not given (``--nice=\0\0``, ``-k\0\0``) is two NULs.  argv,
# environment values and batch scripts (see ``check_script``) cannot hold a NUL, so no
# real value looks like either.
_VALUE = "\0"
_NO_VALUE = "\0\0"


class _Record(argparse.Action):
    """Appends ``(option, value)`` to ``namespace.settings``: settings are applied in
    the order given, and an option may be given many times (the last one wins)."""

    def __init__(self, option_strings: list[str], dest: str, *, option: OptionDef,
                 **kwargs: Any) -> None:
        super().__init__(option_strings, dest, **kwargs)
        self.option = option

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        value = None  # a flag's values are [], an optional value not given is _NO_VALUE
        if isinstance(values, str) and values != _NO_VALUE:
            value = values.removeprefix(_VALUE)
        if namespace.settings is None:
            namespace.settings = []
        namespace.settings.append((self.option, value))


@functools.cache
def _parser() -> SbatchArgumentParser:
    parser = SbatchArgumentParser()
    for option in OPTIONS:
        spellings = [f"-{option.short}"] if option.short else []
        parser.add_argument(*spellings, f"--{option.long}", action=_Record, option=option,
                            dest="settings", default=None, nargs=_NARGS[option.arg])
    return parser


class SbatchArgumentParser(SlurmArgumentParser):
    """``SlurmArgumentParser`` in sbatch's words: one line without the command's name
    (``kairos sbatch`` prints ``sbatch: error:`` before it, and a directive's line
    number), and getopt's words for ambiguous prefixes and for values given to flags."""

    def __init__(self) -> None:
        super().__init__("sbatch", help_option=False)
        # argparse never prints sbatch's help (usage_text does): a fixed width spares
        # it asking for the terminal's size (and importing shutil) for every option.
        self.formatter_class = functools.partial(argparse.HelpFormatter, width=80)

    def _unknown_message(self, token: str) -> str:
        if token.startswith("--"):
            return f"unrecognized option '{token.partition('=')[0]}' (see sbatch --help)"
        return _invalid_letter(token[1:2])

    def _slurm_message(self, message: str) -> str:
        return (self._missing_value_words(message) or self._ambiguous_words(message)
                or self._flag_value_words(message) or message)

    def _typed_spelling(self, names: list[str]) -> str:
        # Only the last word can lack its value (a word after one that needs a value
        # is that value); getopt names a short option even in a bundle (-Ht).
        last = self._argv[-1] if self._argv else ""
        short = last.startswith("-") and not last.startswith("--")
        return names[0] if short and len(names) > 1 else names[-1]

    def _ambiguous_words(self, message: str) -> str | None:
        match = _AMBIGUOUS.fullmatch(message)
        if match is None:
            return None
        typed = match[1].partition("=")[0]
        if typed == "--":  # "--=x": argparse offers every option; getopt knows none
            return self._unknown_message(typed)
        choices = " ".join(f"'{name}'" for name in match[2].split(", "))
        return f"option '{typed}' is ambiguous; possibilities: {choices}"

    def _flag_value_words(self, message: str) -> str | None:
        """``--hold=1``: argparse says it "ignored explicit argument"."""
        match = _IGNORED_VALUE.fullmatch(message)
        if match is None:
            return None
        return f"option '{match[1].split('/')[-1]}' doesn't allow an argument"


def _invalid_letter(letter: str) -> str:
    return f"invalid option -- '{letter}' (see sbatch --help)"


_AMBIGUOUS = re.compile(r"ambiguous option: (.+?) could match (.+)")
_IGNORED_VALUE = re.compile(r"argument (\S+): ignored explicit argument .+")
_NARGS = {Arg.NONE: 0, Arg.REQUIRED: None, Arg.OPTIONAL: "?"}


# --- sbatch --help -----------------------------------------------------------------------

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
