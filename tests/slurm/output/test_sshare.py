"""sshare's table of shares and usage, fixed and parsable."""

from __future__ import annotations

from kairos.slurm.output.sshare import format_sshare
from tests.slurm.output.conftest import lines


SHARE_ROWS = [dict(account="root", user="", raw_shares=None, norm_shares=0.0,
                   raw_usage=123456, effective_usage=1.0, fairshare=None),
              dict(account="lab", user="alice", raw_shares=1, norm_shares=0.5,
                   raw_usage=100.4, effective_usage=0.25, fairshare=0.7)]


def test_sshare_matches_the_peers_header_and_layout():
    assert lines(format_sshare(SHARE_ROWS)) == [
        "Account                    User  RawShares  NormShares    RawUsage  EffectvUsage  "
        "FairShare ",
        "-------------------- ---------- ---------- ----------- ----------- ------------- "
        "---------- ",
        "root                                          0.000000      123456      1.000000 "
        "           ",
        " lab                      alice          1    0.500000         100      0.250000 "
        "  0.700000 "]
    long = lines(format_sshare([], long=True))[0]
    assert long.startswith("Account                    User  RawShares  NormShares    "
                           "RawUsage   NormUsage  EffectvUsage  FairShare    LevelFS ")


def test_sshare_parsable_forms():
    assert lines(format_sshare(SHARE_ROWS[1:], parsable2=True)) == [
        "Account|User|RawShares|NormShares|RawUsage|EffectvUsage|FairShare",
        " lab|alice|1|0.500000|100|0.250000|0.700000"]
    assert format_sshare([], parsable=True) == \
        "Account|User|RawShares|NormShares|RawUsage|EffectvUsage|FairShare|\n"
