"""Snakemake 9 with its Slurm executor plugin runs a workflow on Kairos, unchanged.

The plugin submits each rule with ``sbatch --parsable --job-name <run uuid> --comment
rule_<name> ... --wrap=...``, runs the rule inside the job with ``srun -n1
--cpu-bind=q``, reads ``scontrol show config`` (MinJobAge), polls ``sacct -X
--parsable2 --clusters all --format=JobIdRaw,State --starttime ... --endtime now --name
<run uuid>`` until each job ends, and on a failure asks ``sacct -j <id>.<step>
--format=Reason``.  Each of these once stopped the workflow (a hang without an error:
the plugin never learned a job had ended).
"""

from __future__ import annotations

import pytest

SNAKEFILE = """\
rule all:
    input: "b.txt"

rule a:
    output: "a.txt"
    shell: "echo hello from a > {output}"

rule b:
    input: "a.txt"
    output: "b.txt"
    shell: "%s"
"""
COPY = "tr a-z A-Z < {input} > {output}"
FAIL = "echo rule b fails >&2; exit 3"

#: Quick status polls: the plugin waits this long before its first check (default 40 s).
SNAKEMAKE = ("-m", "snakemake", "--executor", "slurm", "--jobs", "2",
             "--default-resources", "mem_mb=400", "runtime=5",
             "--slurm-init-seconds-before-status-checks", "1")


def accounting(site) -> list[dict]:
    client = site.live.client()
    return sorted(client.accounting(all_users=True), key=lambda job: job["job_id"])


@pytest.mark.slow
def test_a_two_rule_workflow_runs_to_completion(snakemake_site):
    site = snakemake_site
    (site.workdir / "Snakefile").write_text(SNAKEFILE % COPY)
    done = site.run(site.python, *SNAKEMAKE)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (site.workdir / "a.txt").read_text() == "hello from a\n"
    assert (site.workdir / "b.txt").read_text() == "HELLO FROM A\n"
    jobs = accounting(site)
    assert [job["state"] for job in jobs] == ["COMPLETED", "COMPLETED"]
    assert len({job["name"] for job in jobs}) == 1  # the run's uuid names every job
    assert "3 of 3 steps (100%) done" in done.stderr


@pytest.mark.slow
def test_a_failing_rule_fails_the_workflow_and_snakemake_says_so(snakemake_site):
    site = snakemake_site
    (site.workdir / "Snakefile").write_text(SNAKEFILE % FAIL)
    done = site.run(site.python, *SNAKEMAKE)
    assert done.returncode == 1, done.stderr[-3000:]
    assert (site.workdir / "a.txt").exists() and not (site.workdir / "b.txt").exists()
    assert [job["state"] for job in accounting(site)] == ["COMPLETED", "FAILED"]
    failed = accounting(site)[1]["job_id"]
    assert "Error in rule b:" in done.stderr
    assert f"SLURM-job '{failed}' failed, SLURM status is: 'FAILED'" in done.stderr
    assert "At least one job did not complete successfully." in done.stderr
    log = next((site.workdir / ".snakemake" / "slurm_logs" / "rule_b").glob(f"{failed}.log"))
    assert "rule b fails" in log.read_text()
