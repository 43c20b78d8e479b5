"""sprio's table of weighted priority factors."""

from __future__ import annotations

from kairos.slurm.output.sprio import format_sprio
from tests.slurm.output.conftest import lines


PRIORITY_ROW = dict(job_id=12, user="alice", account="lab", partition="gpu", priority=12345,
                    factors=dict(age=100, fairshare=5000.4, jobsize=10, partition=1000,
                                 qos=0, site=0, nice=-5))


def test_sprio_default_and_long():
    assert lines(format_sprio([PRIORITY_ROW])) == [
        "          JOBID PARTITION   PRIORITY       SITE        AGE  FAIRSHARE    JOBSIZE  "
        "PARTITION        QOS",
        "             12 gpu            12345          0        100       5000         10  "
        "     1000          0"]
    long = lines(format_sprio([PRIORITY_ROW], long=True))
    assert long[0].split() == ["JOBID", "PARTITION", "USER", "PRIORITY", "SITE", "AGE",
                               "FAIRSHARE", "JOBSIZE", "PARTITION", "QOS", "NICE"]
    assert long[1].endswith("          -5")


def test_sprio_sorts_by_job_id_and_takes_formats():
    rows = [dict(PRIORITY_ROW, job_id=13), PRIORITY_ROW]
    assert format_sprio(rows, "%i %u %Y", header=False) == \
        "12 alice 12345\n13 alice 12345\n"
