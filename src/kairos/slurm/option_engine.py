"""Reading a Slurm command's options the way Slurm 22.05 reads them (``getopt_long``),
for every command that takes a job's options: ``sbatch``, ``srun`` and ``salloc``.

Each command has an ``OptionTable``: its options (``OptionDef``: spellings, whether a
value is taken, the environment variable that may set it, and whether Kairos honours,
ignores or refuses it) and a parser speaking the command's error words.  The rules are
getopt's, the same for all: ``--time=5``, ``--time 5``, ``-t5``, ``-t 5``, bundled flags
(``-Hv``), unambiguous prefixes of long options (``--part``); a value follows its
option whatever it looks like (``-J -x``); the first non-option ends the options (the
script for sbatch, the command for srun and salloc), and so does ``--``; an option whose
value is optional (``--nice``, ``-k``) takes one only when it is attached
(``--nice=5``, ``-k5``), so ``--nice job.sh`` is ``--nice`` and a script; the first
error is reported, in getopt's words.

The parser is argparse (``SlurmArgumentParser``).  Where getopt's rules differ from
argparse's (where the options end, values that look like options, optional values),
the words are prepared for it first (``OptionTable._option_words``).  Reading gives
``Setting``s, each knowing where it came from (``line 3``, ``SBATCH_QOS``, or the
command line), so that a bad value is reported where it was written.
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


class SlurmOptionError(ValueError):
    """Options a command refuses: a bad option, directive, value or script.  The
    message names the script line (``line 3: ...``) or the environment variable the
    setting came from."""


def located(origin: str, message: str) -> SlurmOptionError:
    """A ``SlurmOptionError`` naming where the offending setting was written."""
    return SlurmOptionError(f"{origin}: {message}" if origin else message)


class Arg(Enum):
    """Whether an option takes a value (``OPTIONAL``: only as ``--opt=value``)."""

    NONE = "none"
    REQUIRED = "required"
    OPTIONAL = "optional"


@dataclass(frozen=True)
class OptionDef:
    """One option of a command: its long and short names, its argument, the variable
    that may set it, and what Kairos does with it: honours it (the default), accepts it
    with no effect (``ignored``; ``why`` may say more), or refuses it (``refused``
    says why)."""

    long: str
    short: str | None
    arg: Arg
    env: str | None = None
    ignored: bool = False
    refused: str | None = None
    why: str = ""


@dataclass(frozen=True)
class Setting:
    """One option as given: where (``""`` for the command line, ``line 3``,
    ``SBATCH_QOS``), which option, and its value (``None`` for a flag, or for an
    optional value not given)."""

    origin: str
    option: OptionDef
    value: str | None

    def error(self, message: str) -> SlurmOptionError:
        return located(self.origin, message)


class OptionTable:
    """A command's options, in the order getopt lists them (which decides the order of
    the possibilities an ambiguous prefix names), and the reading of its words."""

    def __init__(self, options: Sequence[OptionDef], parser: type[GetoptParser],
                 prog: str) -> None:
        self.options = tuple(options)
        self.by_long = {o.long: o for o in self.options}
        self.by_short = {o.short: o for o in self.options if o.short}
        self._parser_class = parser
        self._prog = prog

    @functools.cached_property
    def parser(self) -> GetoptParser:
        parser = self._parser_class(self._prog)
        for option in self.options:
            spellings = [f"-{option.short}"] if option.short else []
            parser.add_argument(*spellings, f"--{option.long}", action=_Record, option=option,
                                dest="settings", default=None, nargs=_NARGS[option.arg])
        return parser

    def read(self, tokens: Sequence[str], origin: str = "") -> tuple[list[Setting], list[str]]:
        """The settings in ``tokens`` (in order) and the rest: the words from the first
        non-option on, as given (starting with ``--`` when that ended the options).

        Raises ``SlurmOptionError`` (prefixed with ``origin``) in getopt's words for the
        first unknown or ambiguous option, value given to a flag or missing value.
        """
        words, unreadable, rest = self._option_words(tokens)
        try:
            namespace = self.parser.parse(words)
            if unreadable is not None:
                self._reject(unreadable)
        except UsageError as error:
            raise located(origin, str(error)) from None
        return [Setting(origin, option, value) for option, value in namespace.settings or ()], rest

    def _option_words(self, tokens: Sequence[str]) -> tuple[list[str], str | None, list[str]]:
        """(the option words as argparse is to read them, the first option word it
        cannot read, the rest), by getopt's rules where argparse has others:

        * the options end at ``--`` or at the first word that is neither an option nor
          an option's value (argparse would read on, and fail on an ambiguous prefix
          among the script's own arguments);
        * the first error is the one reported (argparse reports an ambiguous prefix
          before anything else and an unknown option last), so the words stop at the
          first one argparse cannot read;
        * a value follows its option whatever it looks like (``-J -x``: argparse would
          take ``-x`` for an option, so it is marked as a value);
        * an optional value is only ever attached (``--nice job.sh`` is ``--nice`` and
          the script: argparse would take ``job.sh`` for its value, so the bare option
          is marked as having none).
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
                read = self._how_argparse_reads(token)
                if read is None:
                    return words, token, []
                option, start = read
                value_next = option is not None and start is None and option.arg is Arg.REQUIRED
                words.append(_marked(token, option, start))
        return words, None, []

    def _how_argparse_reads(self, token: str) -> tuple[OptionDef | None, int | None] | None:
        """For an option word: the option in it that takes a value (``None`` if none
        does) and where the value attached to it starts (``None`` if none is); ``None``
        when argparse cannot read the word (an unknown or ambiguous option, a value
        given to a flag: ``--hold=1``, ``-H=1``, ``-HZ``)."""
        if token.startswith("--"):
            name, equals, _ = token[2:].partition("=")
            option = self.long_option(name)
            if option is None or (equals and option.arg is Arg.NONE):
                return None
            if option.arg is Arg.NONE:
                return None, None
            return option, (len(name) + 3 if equals else None)
        for start, letter in enumerate(token[1:], start=2):  # flags until one with a value
            option = self.by_short.get(letter)
            if option is None:
                return None
            if option.arg is not Arg.NONE:
                return option, (start if start < len(token) else None)
        return None, None

    def _reject(self, token: str) -> NoReturn:
        """Raise ``UsageError`` for a word argparse cannot read: argparse's words (made
        getopt's) for a long option, the letter getopt stops at in a bundle."""
        if token.startswith("--"):
            self.parser.parse([token])
        letter = next(c for c in token[1:] if c not in self.by_short)
        raise UsageError(self.parser.invalid_letter(letter))

    def long_option(self, name: str) -> OptionDef | None:
        """The option a long name or an unambiguous prefix of one names, as argparse
        resolves it; ``None`` when there is none or several."""
        if name in self.by_long:
            return self.by_long[name]
        found = [o for o in self.options if o.long.startswith(name)]
        return found[0] if len(found) == 1 else None


def _marked(token: str, option: OptionDef | None, start: int | None) -> str:
    """An option word as argparse is to read it: an attached value marked as one
    (argparse would split ``-t=5`` at ``=`` and drop a value ``--``), an optional value
    not given marked as missing."""
    if option is None:
        return token
    if start is not None:
        return token[:start] + _VALUE + token[start:]
    if option.arg is Arg.OPTIONAL:
        return f"{token}={_NO_VALUE}" if token.startswith("--") else token + _NO_VALUE
    return token


# Marks for argparse: a value (``-J \0-x``, ``--time=\05``, ``-t\05``) has a NUL before it,
# an optional value not given (``--nice=\0\0``, ``-k\0\0``) is two NULs.  argv,
# environment values and batch scripts cannot hold a NUL, so no real value looks like
# either.
_VALUE = "\0"
_NO_VALUE = "\0\0"
_NARGS = {Arg.NONE: 0, Arg.REQUIRED: None, Arg.OPTIONAL: "?"}


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


class GetoptParser(SlurmArgumentParser):
    """``SlurmArgumentParser`` in getopt's words, as srun and salloc print them: the
    command's name, getopt's sentence, and ``Try "srun --help" for more information``
    (``option '--excl' is ambiguous; possibilities: '--exclude' '--exclusive'``,
    ``option '--label' doesn't allow an argument``).  A command that words its errors
    otherwise overrides the ``_present*`` methods."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, help_option=False)
        # argparse never prints these commands' help (their own text does): a fixed
        # width spares it asking for the terminal's size (and importing shutil).
        self.formatter_class = functools.partial(argparse.HelpFormatter, width=80)

    # --- how the command presents getopt's sentences

    def _present(self, words: str) -> str:
        return f"{self.prog}: {words}\n{self._try_help()}"

    def _present_unknown(self, words: str) -> str:
        return self._present(words)

    def _present_other(self, message: str) -> str:
        return f"{self.prog}: error: {message}\n{self._try_help()}"

    # --- getopt's sentences

    def invalid_letter(self, letter: str) -> str:
        return self._present_unknown(f"invalid option -- '{letter}'")

    def _unknown_message(self, token: str) -> str:
        if token.startswith("--"):
            return self._present_unknown(f"unrecognized option '{self._unknown_spelling(token)}'")
        return self.invalid_letter(token[1:2])

    def _unknown_spelling(self, token: str) -> str:
        """How an unknown or ambiguous long option is named (getopt: the whole word,
        ``--foo=1``)."""
        return token

    def _slurm_message(self, message: str) -> str:
        match = _AMBIGUOUS.fullmatch(message)
        if match is not None and match[1].partition("=")[0] == "--":
            # "--=x": argparse offers every option; getopt knows none
            return self._unknown_message("--")
        words = (self._missing_value_words(message) or self._ambiguous_words(match)
                 or self._flag_value_words(message))
        return self._present(words) if words is not None else self._present_other(message)

    def _typed_spelling(self, names: list[str]) -> str:
        # Only the last word can lack its value (a word after one that needs a value
        # is that value); getopt names a short option even in a bundle (-Ht).
        last = self._argv[-1] if self._argv else ""
        short = last.startswith("-") and not last.startswith("--")
        return names[0] if short and len(names) > 1 else names[-1]

    def _ambiguous_words(self, match: re.Match[str] | None) -> str | None:
        if match is None:
            return None
        typed = self._unknown_spelling(match[1])
        choices = " ".join(f"'{name}'" for name in match[2].split(", "))
        return f"option '{typed}' is ambiguous; possibilities: {choices}"

    @staticmethod
    def _flag_value_words(message: str) -> str | None:
        """``--hold=1``: argparse says it "ignored explicit argument"."""
        match = _IGNORED_VALUE.fullmatch(message)
        if match is None:
            return None
        return f"option '{match[1].split('/')[-1]}' doesn't allow an argument"


_AMBIGUOUS = re.compile(r"ambiguous option: (.+?) could match (.+)")
_IGNORED_VALUE = re.compile(r"argument (\S+): ignored explicit argument .+")


def spelling(option: OptionDef) -> str:
    """``-t, --time=VALUE``: an option as a help text lists it."""
    short = f"-{option.short}, " if option.short else "    "
    value = {Arg.NONE: "", Arg.REQUIRED: "=VALUE", Arg.OPTIONAL: "[=VALUE]"}[option.arg]
    return f"{short}--{option.long}{value}"


def grouped_help(prog: str, operands: str, options) -> str:
    """A command's ``--help``: the options Kairos honours, those it accepts with a
    warning that they change nothing, and those it refuses (the command says why)."""
    lines = [f"Usage: {prog} [OPTIONS...] {operands}", "", "Options:"]
    lines += [f"  {spelling(o)}" for o in options if not o.ignored and not o.refused]
    lines += ["", "Accepted with a warning, no effect:",
              "  " + " ".join(f"--{o.long}" for o in options if o.ignored),
              "", f"Refused ({prog} says why):",
              "  " + " ".join(f"--{o.long}" for o in options if o.refused)]
    return "\n".join(lines) + "\n"

