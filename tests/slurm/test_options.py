"""SlurmArgumentParser: argparse with getopt's error words, raising UsageError."""

from __future__ import annotations

import pytest

from kairos.slurm.options import SlurmArgumentParser, UsageError


def parser(**kwargs) -> SlurmArgumentParser:
    parser = SlurmArgumentParser("demo", **kwargs)
    parser.add_argument("-u", "--user")
    parser.add_argument("-S", "--sort")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser


def message(parser: SlurmArgumentParser, argv: list[str]) -> str:
    with pytest.raises(UsageError) as error:
        parser.parse(argv)
    return str(error.value)


def test_slurm_spellings_and_prefixes():
    options = parser().parse(["-ualice", "--sor=x", "-v"])
    assert (options.user, options.sort, options.verbose) == ("alice", "x", True)


@pytest.mark.parametrize("argv, first", [
    (["--foo"], "demo: unrecognized option '--foo'"),
    (["-x"], "demo: invalid option -- 'x'"),
    (["word"], "demo: error: Unrecognized option: word"),
    (["-u"], "demo: option requires an argument -- 'u'"),
    (["--user"], "demo: option '--user' requires an argument"),
])
def test_errors_in_getopts_words(argv, first):
    assert message(parser(), argv) == f'{first}\nTry "demo --help" for more information'


def test_values_starting_with_a_dash_for_the_options_that_allow_them():
    assert parser(dash_values=["-S"]).parse(["-S", "-p"]).sort == "-p"


def test_help_option_can_be_left_to_the_command():
    assert "--help" in parser().format_help()
    own = SlurmArgumentParser("demo", help_option=False)
    own.add_argument("-h", "--help", action="store_true")
    assert own.parse(["-h"]).help
