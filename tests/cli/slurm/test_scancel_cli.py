"""``kairos scancel JOBID.STEPID`` end to end: a real srun running a step with a real
node agent behind a stand-in controller, ended or signalled by scancel while the job
goes on; Slurm's words for a step that does not run."""

from __future__ import annotations

from tests.cli.slurm.conftest import wait_for_output


def test_scancel_of_a_step_ends_that_step_only(commands):
    srun = commands.start("srun", "-n2", "sh", "-c", "echo ready; exec sleep 30")
    wait_for_output(srun, b"ready\nready\n")
    done = commands.run("scancel", "-v", "12.0")
    assert done.returncode == 0 and done.stderr == b"scancel: Terminating step 12.0\n"
    _, err = srun.communicate(timeout=15)
    assert srun.returncode == 143  # its tasks were terminated
    assert f"srun: error: {commands.controller.node}: tasks 0-1: Terminated".encode() in err
    assert commands.controller.jobs[12]["state"] == "RUNNING"
    assert "/api/v1/jobs/cancel" not in commands.controller.paths()  # no job was cancelled


def test_scancel_signal_of_a_step_reaches_its_tasks(commands):
    body = 'trap "echo usr1 $SLURM_PROCID; exit 3" USR1; echo ready; while :; do sleep 0.05; done'
    srun = commands.start("srun", "-n2", "sh", "-c", body)
    wait_for_output(srun, b"ready\nready\n")
    assert commands.run("scancel", "--signal=USR1", "12.0").returncode == 0
    out, _ = srun.communicate(timeout=15)
    assert sorted(out.split(b"\n")[:2]) == [b"usr1 0", b"usr1 1"]
    assert srun.returncode == 3


def test_scancel_of_a_step_that_does_not_run(commands):
    result = commands.run("scancel", "12.7")
    assert result.returncode == 1
    assert result.stderr == (b"scancel: error: Kill job error on job step id 12.7: "
                             b"Invalid job id specified\n")
    assert commands.run("scancel", "-Q", "12.7").stderr == b""
