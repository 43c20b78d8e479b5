"""Hostlists both ways, zero padding kept (orderings checked with scontrol on a peer)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kairos.slurm.hostlist import compress, expand


@pytest.mark.parametrize("hostlist, names", [
    ("dev[0-3]", ["dev0", "dev1", "dev2", "dev3"]),
    ("n[01-04,06]", ["n01", "n02", "n03", "n04", "n06"]),
    ("n[8-10]", ["n8", "n9", "n10"]),
    ("n[08-10]", ["n08", "n09", "n10"]),
    ("n[8-010]", ["n8", "n9", "n10"]),           # the first number sets the width
    ("a1,b[2-3],c", ["a1", "b2", "b3", "c"]),
    ("n[1-2],,m", ["n1", "n2", "m"]),
    ("vm", ["vm"]),
    ("", []),
])
def test_expand(hostlist, names):
    assert expand(hostlist) == names


def test_expand_dev_0_25_has_26_names():
    names = expand("dev[0-25]")
    assert len(names) == 26 and names[0] == "dev0" and names[-1] == "dev25"


@pytest.mark.parametrize("hostlist, fragment", [
    ("n[3-1]", "goes down"), ("n[1-3", "bracket"), ("n[]", "range ''"),
    ("a[1-3]x", "nothing may follow"), ("n[a-b]", "range 'a-b'"),
    ("r[1-2]n[1-2]", "bracket"),
])
def test_bad_hostlists_say_what_is_wrong(hostlist, fragment):
    with pytest.raises(ValueError, match="invalid hostlist") as error:
        expand(hostlist)
    assert fragment in str(error.value)


@pytest.mark.parametrize("names, hostlist", [
    ([f"dev{i}" for i in range(26)], "dev[0-25]"),
    (["n01", "n02", "n03", "n04", "n06"], "n[01-04,06]"),
    (["n8", "n9", "n10"], "n[8-10]"),
    (["n08", "n09", "n10"], "n[08-10]"),
    (["n1"], "n1"),
    (["b3", "a1", "b2", "b3"], "a1,b[2-3]"),
    (["vm", "n1", "n2"], "n[1-2],vm"),
    (["n1", "n01"], "n[01,1]"),
    ([], ""),
])
def test_compress(names, hostlist):
    assert compress(names) == hostlist


def test_compress_unsorted_keeps_order_like_scontrol():
    names = ["n3", "n1", "n2", "a1", "n5", "n01", "n9", "n10", "n010"]
    assert compress(names, sort=False) == "n[3,1-2],a1,n[5,01,9-10,010]"


numbers = st.lists(st.integers(min_value=0, max_value=120), min_size=1, max_size=30)


@given(numbers, st.integers(min_value=1, max_value=4), st.sampled_from(["n", "gpu-", "r1n"]))
def test_padded_names_survive_the_round_trip(values, width, prefix):
    names = sorted({f"{prefix}{v:0{width}d}" for v in values},
                   key=lambda n: int(n[len(prefix):]))
    assert expand(compress(names)) == names


@given(numbers)
def test_unpadded_names_survive_the_round_trip(values):
    names = [f"dev{v}" for v in sorted(set(values))]
    assert expand(compress(names)) == names
    assert compress(expand(compress(names))) == compress(names)
