"""``kairos salloc`` end to end against the stand-in controller: the allocation, the
command run in it (with Kairos's srun inside), the peer's messages and exit statuses;
and ``sattach``, which says plainly that it cannot help."""

from __future__ import annotations

import signal
import time


def lines(data: bytes) -> list[str]:
    return data.decode().splitlines()


def test_salloc_runs_the_command_in_the_allocation(commands):
    controller = commands.controller
    script = 'echo "job $SLURM_JOB_ID on $SLURM_JOB_NODELIST"; srun -n2 -l echo in; exit 4'
    result = commands.run("salloc", "-n2", "sh", "-c", script, inside=False)
    job_id = max(controller.jobs)
    assert result.returncode == 4
    out = lines(result.stdout)
    assert out[0] == f"job {job_id} on {controller.node}" and sorted(out[1:]) == ["0: in", "1: in"]
    assert lines(result.stderr) == [f"salloc: Granted job allocation {job_id}",
                                    f"salloc: Relinquishing job allocation {job_id}"]
    submitted = controller.jobs[job_id]["submission"]
    assert submitted["allocation"] and submitted["name"] == "interactive"
    assert controller.released == {job_id: 4}
    assert f"/api/v1/jobs/{job_id}/steps" in controller.paths("POST")


def test_salloc_says_when_it_waits(commands):
    commands.controller.pending_for = 1.0
    result = commands.run("salloc", "true", inside=False)
    job_id = max(commands.controller.jobs)
    assert result.returncode == 0
    assert lines(result.stderr) == [f"salloc: Pending job allocation {job_id}",
                                    f"salloc: job {job_id} queued and waiting for resources",
                                    f"salloc: job {job_id} has been allocated resources",
                                    f"salloc: Granted job allocation {job_id}",
                                    f"salloc: Relinquishing job allocation {job_id}"]


def test_salloc_exit_statuses_are_the_peers(commands):
    assert commands.run("salloc", "-Q", "sh", "-c", "kill -USR1 $$", inside=False).returncode == 1
    result = commands.run("salloc", "-Q", "no-such-command-here", inside=False)
    assert result.returncode == 1
    assert result.stderr == (b'salloc: error: _fork_command: Unable to find command '
                             b'"no-such-command-here"\n')


def test_salloc_refused_and_interrupted(commands):
    controller = commands.controller
    controller.refuse_jobs = "Invalid partition name specified"
    result = commands.run("salloc", "-p", "nope", "true", inside=False)
    assert result.returncode == 1
    assert result.stderr == (b"salloc: error: Job submit/allocate failed: Invalid partition "
                             b"name specified\n")
    controller.refuse_jobs = None
    controller.pending_for = 60
    process = commands.start("salloc", "true", inside=False)
    time.sleep(1.5)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=10)
    job_id = max(controller.jobs)
    assert process.returncode == 1
    assert lines(err)[-2:] == [f"salloc: Job allocation {job_id} has been revoked.",
                               "salloc: Job aborted due to signal"]


def test_sattach_says_why_it_cannot_help(commands):
    result = commands.run("sattach", "12.0")
    assert result.returncode == 1
    assert result.stderr.startswith(b"sattach: error: attaching to a running step is not supported")
