"""A real distributed workload on the test cluster: examples/allreduce.sh, two ranks on
two nodes started by srun, meeting through the Slurm environment only, running an
all-reduce with torch.distributed (gloo).  Needs torch (skipped without it)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="torch is not installed (scripts/setup installs it "
                                    "from local wheels when there are some)")

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_two_ranks_on_two_nodes_all_reduce(cluster):
    job = cluster.submit("--chdir", str(cluster.workdir), "allreduce.sh", cwd=EXAMPLES,
                         env={"PYTHON": sys.executable,
                              "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"})
    [row] = cluster.wait(job, timeout=120)
    out = (cluster.workdir / f"allreduce-{job}.out").read_text()
    assert row["state"] == "COMPLETED", out
    lines = sorted(line for line in out.splitlines() if line.startswith("rank "))
    assert lines == [f"rank 0 of 2 on kn1 (cpu): sum 3, expected 3",
                     f"rank 1 of 2 on kn2 (cpu): sum 3, expected 3"], out
