"""--array specs (accepted and refused forms checked on a Slurm 22.05 peer)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kairos.slurm.arrays import ArraySpec, format_array, parse_array


@pytest.mark.parametrize("spec, indices, limit", [
    ("0-15", list(range(16)), None),
    ("0,6,16-32", [0, 6, *range(16, 33)], None),
    ("0-15:4", [0, 4, 8, 12], None),
    ("0-15%4", list(range(16)), 4),
    ("1-5,7%2", [1, 2, 3, 4, 5, 7], 2),
    ("1-5:2,7", [1, 3, 5, 7], None),
    ("1,1,2", [1, 2], None),
    ("3,1", [1, 3], None),
    ("[1-3]", [1, 2, 3], None),
    ("0-3%0", [0, 1, 2, 3], None),       # the peer shows no cap for %0
    ("1000", [1000], None),
    ("0-1001:2", list(range(0, 1001, 2)), None),
])
def test_parse(spec, indices, limit):
    assert parse_array(spec) == ArraySpec(indices, limit)


@pytest.mark.parametrize("spec, fragment", [
    ("", "empty"), ("%4", "empty"), ("5-2", "goes down"), ("-1", "negative"),
    ("1,-3", "negative"), ("0-1001", "index 1001 is too large"), ("1-5:0", "step"),
    ("a", "cannot read 'a'"), ("0-3 x", "cannot read"), ("1,,2", "cannot read ''"),
    ("0-3%x", "after '%'"), ("0-3:-1", "cannot read"),
])
def test_refused_specs_say_why(spec, fragment):
    with pytest.raises(ValueError) as error:
        parse_array(spec)
    assert fragment in str(error.value)


def test_max_size_is_configurable():
    assert parse_array("0-9", max_size=10).indices == list(range(10))
    with pytest.raises(ValueError, match="below 10 "):
        parse_array("0-10", max_size=10)


@pytest.mark.parametrize("indices, limit, text", [
    ([0, 1, 2, 5], 2, "0-2,5%2"),
    ([1, 3, 5], 1, "1,3,5%1"),            # as squeue showed 1-5:2%1
    ([1, 2], None, "1-2"),
    ([7], None, "7"),
    ([3, 1, 3], None, "1,3"),
])
def test_format_like_slurm(indices, limit, text):
    assert format_array(indices, limit) == text


@given(st.sets(st.integers(min_value=0, max_value=1000), min_size=1),
       st.none() | st.integers(min_value=1, max_value=50))
def test_formatted_arrays_parse_back(indices, limit):
    assert parse_array(format_array(list(indices), limit)) == ArraySpec(sorted(indices), limit)
