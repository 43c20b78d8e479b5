"""Job steps on the one-machine default (no node daemons): a batch script whose only
command is ``srun``, with per-task output patterns, as workflow managers write them."""

from __future__ import annotations

import socket


def test_srun_as_the_only_command_writes_one_file_per_task(live):
    job = live.sbatch("#!/bin/bash\nsrun -o step-%j-%t-%N.out bash -c 'echo task $SLURM_PROCID "
                      "of $SLURM_NTASKS step $SLURM_STEP_ID'\n", "-n", "2", "-o", "batch.out")
    [row] = live.wait(job, timeout=60)
    assert row["state"] == "COMPLETED"
    host = socket.gethostname().split(".")[0]
    for task in (0, 1):
        path = live.workdir / f"step-{job}-{task}-{host}.out"
        assert path.read_text() == f"task {task} of 2 step 0\n"
    assert (live.workdir / "batch.out").read_text() == ""
    steps = live.run("sacct", "-j", str(job), "--parsable2", "-n", "-o", "JobID,State,ExitCode")
    assert steps.stdout.splitlines() == [f"{job}|COMPLETED|0:0", f"{job}.batch|COMPLETED|0:0",
                                         f"{job}.0|COMPLETED|0:0"]


def test_a_failing_srun_fails_the_job_with_the_task_exit_code(live):
    job = live.sbatch("#!/bin/bash\nsrun -n1 --cpu-bind=q bash -c 'exit 3'\n", "-n", "1",
                      "-o", "fail.out")
    [row] = live.wait(job, timeout=60)
    assert (row["state"], row["exit_code"]) == ("FAILED", 3)
    host = socket.gethostname().split(".")[0]
    assert (live.workdir / "fail.out").read_text().splitlines()[-1] == \
        f"srun: error: {host}: task 0: Exited with exit code 3"
