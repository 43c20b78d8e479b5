"""--dependency specs."""

from __future__ import annotations

import pytest

from kairos.slurm.deps import format_dependency, parse_dependency


@pytest.mark.parametrize("spec, pairs", [
    ("afterok:12", [("afterok", 12)]),
    ("afterok:12:13", [("afterok", 12), ("afterok", 13)]),
    ("after:1,afternotok:2,afterany:3", [("after", 1), ("afternotok", 2), ("afterany", 3)]),
    ("singleton", [("singleton", None)]),
    ("afterok:60,singleton", [("afterok", 60), ("singleton", None)]),
    ("AFTEROK:60", [("afterok", 60)]),            # the peer takes any case
    ("60", [("afterany", 60)]),                   # a bare id means afterany
    ("afterok:12_3", [("afterok", "12_3")]),      # array tasks stay strings
])
def test_parse(spec, pairs):
    assert parse_dependency(spec) == pairs


@pytest.mark.parametrize("spec, fragment", [
    ("afterok:1?afterok:2", "'?' (any of) dependencies are not supported"),
    ("foo:1", "unknown kind 'foo'"),
    ("aftercorr:60", "'aftercorr' is not supported"),
    ("after:60+5", "delays"),
    ("afterok:", "needs job ids"),
    ("afterok:60,", "empty"),
    ("afterok:x", "'x' is not a job id"),
    ("singleton:3", "singleton takes no job ids"),
    ("", "empty dependency"),
])
def test_refused_specs_say_why(spec, fragment):
    with pytest.raises(ValueError) as error:
        parse_dependency(spec)
    assert fragment in str(error.value)


def test_format_reads_back():
    pairs = [("afterok", 12), ("afterany", "4_2"), ("singleton", None)]
    assert format_dependency(pairs) == "afterok:12,afterany:4_2,singleton"
    assert parse_dependency(format_dependency(pairs)) == pairs
