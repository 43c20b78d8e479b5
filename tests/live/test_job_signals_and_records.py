"""``--signal``, ``--open-mode``, ``--comment`` and ``--wckey`` end to end through the
real commands and a real controller.

Slurm 22.05's behaviour, checked on the peer: ``--signal=B:SIG`` reaches the batch
shell alone (not its children); without ``B:`` the job's steps get it and the batch
shell does not (a job without steps gets nothing).  ``scontrol show job`` shows
``Comment=`` (only when set), ``squeue`` ``%k`` and ``-O Comment,WCKey``, sacct
``Comment`` and ``WCKey``.  Where Kairos differs on purpose: a requeued job's output
is appended to by its later runs unless ``--open-mode=truncate`` (the peer, with
JobFileAppend=0, truncates it and loses the earlier runs' output).
"""

from __future__ import annotations

import time

import pytest

#: The checkpoint-then-requeue pattern: USR1 comes (to the batch shell, B:) a while
#: before the limit; the trap saves its work and requeues the job, whose second run
#: resumes and finishes.  ``sleep & wait``: bash runs a trap only once the foreground
#: command ends, and ``wait`` is interrupted by it at once.
CHECKPOINT = """#!/bin/bash
checkpoint() {
    echo "checkpoint in run ${SLURM_RESTART_COUNT:-0}"
    scontrol requeue "$SLURM_JOB_ID"
    exit 0
}
trap checkpoint USR1
echo "start run ${SLURM_RESTART_COUNT:-0}"
if [ "${SLURM_RESTART_COUNT:-0}" = 1 ]; then echo "resumed and finished"; exit 0; fi
while true; do sleep 1 & wait $!; done
"""


def _wait_for(condition, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"waited {timeout:g} s for {what}"
        time.sleep(0.05)


def _running(client, job_id: int) -> None:
    _wait_for(lambda: client.job(str(job_id))["state"] == "RUNNING", f"job {job_id} to run")


@pytest.mark.slow
def test_a_job_warned_before_its_limit_checkpoints_requeues_and_finishes(live):
    # -t 1 with the warning 55 s before it: the signal comes 5 s after the start.
    job_id = live.sbatch(CHECKPOINT, "-t", "1", "--signal=B:USR1@55", "-o", "ck.out")
    [row] = live.wait(job_id, timeout=40)
    assert row["state"] == "COMPLETED" and row["restarts"] == 1
    lines = (live.workdir / "ck.out").read_text().splitlines()
    # both runs' output: the second run appended to the first's (never truncated), with
    # the word of the first run's end (the requeue ends it) between them
    assert lines[:2] == ["start run 0", "checkpoint in run 0"]
    assert lines[-2:] == ["start run 1", "resumed and finished"]
    assert all(line.startswith("kairos-supervisor: error: *** JOB") for line in lines[2:-2])


@pytest.mark.slow
def test_b_signals_only_the_batch_shell_and_follows_a_new_time_limit(live):
    script = ("#!/bin/bash\ntrap 'echo shell got USR1; exit 0' USR1\n"
              "bash -c 'trap \"echo child got USR1\" USR1; sleep 30 & wait' &\n"
              "while true; do sleep 1 & wait $!; done\n")
    # A 10-minute limit would warn after 9:30; lowered to 40 s, the warning comes 10 s in.
    job_id = live.sbatch(script, "-t", "10", "--signal=B:USR1@30", "-o", "b.out")
    client = live.client()
    _running(client, job_id)
    live.run("scontrol", "update", f"JobId={job_id}", "TimeLimit=0:40")
    [row] = live.wait(job_id, timeout=30)
    assert row["state"] == "COMPLETED"
    assert 8 <= row["end_time"] - row["start_time"] < 20
    assert (live.workdir / "b.out").read_text().splitlines() == ["shell got USR1"]


@pytest.mark.slow
def test_without_b_the_steps_get_it_and_the_batch_shell_does_not(live):
    script = ("#!/bin/bash\ntrap 'echo shell got USR1' USR1\n"
              "srun bash -c 'trap \"echo step got USR1; exit 0\" USR1; sleep 30 & wait'\n"
              "echo batch done\n")
    job_id = live.sbatch(script, "-t", "5", "--signal=USR1@55", "-o", "steps.out")
    client = live.client()
    _running(client, job_id)
    # From 5 minutes to 1: the warning, 55 s before it, is due 5 s after the start.
    live.run("scontrol", "update", f"JobId={job_id}", "TimeLimit=1")
    [row] = live.wait(job_id, timeout=30)
    assert row["state"] == "COMPLETED"
    assert (live.workdir / "steps.out").read_text().splitlines() == [
        "step got USR1", "batch done"]


@pytest.mark.slow
def test_an_allocation_warns_its_steps_and_refuses_b(live):
    done = live.run("srun", "-t", "1", "--signal=USR1@57",
                    "bash", "-c", "trap 'echo step got USR1; exit 0' USR1; sleep 30 & wait",
                    timeout=30)
    assert done.stdout.splitlines() == ["step got USR1"]
    client = live.client()
    before = len(client.accounting())
    refused = live.run("srun", "--signal=B:USR1", "true", check=False)
    assert refused.returncode != 0
    assert "--signal=B: signals the batch shell, and an allocation" in refused.stderr
    assert len(client.accounting()) == before  # the refusal used no job id


def test_open_mode_append_keeps_and_truncate_empties_an_existing_file(live):
    for mode, kept in (("append", True), ("truncate", False)):
        out = live.workdir / f"{mode}.out"
        out.write_text("before\n")
        live.wait(live.submit(f"--open-mode={mode}", "-o", str(out), "--wrap", "echo after"))
        assert out.read_text() == ("before\nafter\n" if kept else "after\n")


def test_a_requeued_job_with_open_mode_truncate_keeps_only_its_last_run(live):
    marker = live.workdir / "ran"
    script = (f"#!/bin/bash\necho run $SLURM_RESTART_COUNT\n"
              f"if [ ! -e {marker} ]; then touch {marker}; sleep 30; fi\n")
    job_id = live.sbatch(script, "--open-mode=truncate", "-o", "t.out")
    client = live.client()
    _wait_for(marker.exists, "the first run")
    live.run("scontrol", "requeue", str(job_id))
    [row] = live.wait(job_id)
    assert row["restarts"] == 1
    assert (live.workdir / "t.out").read_text() == "run 1\n"


def test_comment_and_wckey_are_recorded_and_shown_as_slurm_does(live):
    job_id = live.submit("--hold", "--comment=two words", "--wckey=proj1", "--wrap", "true")
    plain = live.submit("--hold", "--wrap", "true")
    shown = live.run("scontrol", "show", "job", str(job_id)).stdout
    assert "\n   Comment=two words \n" in shown  # Slurm 22.05 leaves a space after it
    assert "Comment=" not in live.run("scontrol", "show", "job", str(plain)).stdout
    assert "WCKey" not in shown  # not a key of scontrol show job
    squeue = live.run("squeue", "-j", f"{job_id},{plain}", "-o", "%i|%k|").stdout
    assert squeue.splitlines() == ["JOBID|COMMENT|", f"{job_id}|two words|", f"{plain}|(null)|"]
    wide = live.run("squeue", "-j", str(job_id), "-O", "JobID,Comment,WCKey").stdout
    assert wide.splitlines()[1].split() == [str(job_id), "two", "words", "proj1"]

    live.restart()  # the store keeps them
    live.run("scancel", str(job_id), str(plain))
    live.wait(job_id)
    sacct = live.run("sacct", "-j", str(job_id), "-P", "-o", "JobID,Comment,WCKey").stdout
    assert sacct.splitlines() == ["JobID|Comment|WCKey", f"{job_id}|two words|proj1"]
    header = live.run("sacct", "-j", str(job_id), "-o", "Comment,WCKey").stdout.splitlines()[0]
    assert header == f"{'Comment':>14} {'WCKey':>10} "  # sacct ends its lines with a space


def test_salloc_records_a_comment(live):
    live.run("salloc", "--comment=interactive work", "--wckey=k", "true", timeout=30)
    [row] = [r for r in live.client().accounting() if r["name"] == "interactive"]
    assert (row["comment"], row["wckey"]) == ("interactive work", "k")
