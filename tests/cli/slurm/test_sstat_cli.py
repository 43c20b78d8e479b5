"""``kairos sstat``: running steps from the controller, sstat's words for what is not
running (the peer's), and its options."""

from __future__ import annotations

import pytest

from kairos.cli.slurm import sstat
from kairos.slurm.options import UsageError
from tests.cli.slurm.conftest import wait_for_output


def test_sstat_shows_a_running_step(commands):
    process = commands.start("srun", "-n2", "sh", "-c", "echo ready; exec sleep 30")
    try:
        wait_for_output(process, b"ready\nready\n")
        result = commands.run("sstat", "-j", "12", "-P", "-o", "JobID,NTasks,Nodelist")
        assert result.stdout.decode() == f"JobID|NTasks|Nodelist\n12.0|2|{commands.controller.node}\n"
        assert commands.run("sstat", "-n", "-p", "-j", "12.0", "-o", "jobid").stdout == b"12.0|\n"
        result = commands.run("sstat", "-j", "12.3", "-n")
        assert result.returncode == 0
        assert result.stderr == b"sstat: error: StepId=12.3 not found running.\n"
    finally:
        process.terminate()
        process.communicate(timeout=15)
    result = commands.run("sstat", "-j", "12", "-n")
    assert (result.returncode, result.stderr) == (0, b"sstat: error: No steps running for job 12\n")
    result = commands.run("sstat", "-j", "99", "-n")
    assert result.stderr == b"sstat: error: couldn't get steps for job 99\n"


@pytest.mark.parametrize("argv, message", [
    ([], "sstat: error: You didn't give me any jobs to stat."),
    (["-j", "12", "-o", "Foo"], 'sstat: error: Invalid field requested: "Foo"'),
    (["-j", "12", "-o", "MaxVMSize"], 'sstat: error: Field "MaxVMSize" is not recorded by Kairos'),
    (["-j", "12", "-i"], "sstat: error: --pidformat is not supported"),
    (["-j", "x.y"], "sstat: error: Invalid job id: x.y"),
])
def test_sstat_errors(argv, message):
    with pytest.raises(UsageError) as caught:
        sstat.parse_args(argv)
    assert str(caught.value).startswith(message)


def test_sstat_options():
    options = sstat.parse_args(["-a", "-j", "12,13.1", "-P", "-n"])
    assert options.steps == [("12", None), ("13", "1")]
    assert options.all_steps and options.parsable2 and not options.header
    assert sstat.parse_args(["-e"]).help_format
