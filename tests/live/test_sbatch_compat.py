"""sbatch with options and scripts written for a Slurm cluster, through a real
controller: options Kairos ignores are said to be ignored and the job runs; options it
refuses, scripts over ``max_script_size`` and requests no node can meet are refused in
Slurm's words, before anything is queued, so no job id is used (checked on a Slurm
22.05 peer where noted)."""

from __future__ import annotations

import pytest

from kairos.cli.client import ApiError
from kairos.slurm.sbatch import parse_submission

#: Slurm's default max_script_size (bytes): the peer took a script of exactly this size
#: and refused one a byte longer.
LIMIT = 4 * 1024 * 1024
TOO_LONG = "Pathname of a file, directory or other parameter too long"


def script_of_size(size: int) -> str:
    head = "#!/bin/sh\ntrue\n"
    return head + "#" * (size - len(head) - 1) + "\n"


def test_ignored_options_warn_once_each_and_the_job_runs(live):
    path = live.workdir / "job.sh"
    path.write_text("#!/bin/sh\n#SBATCH --mail-type=END\n#SBATCH --mail-user=a@b.c\n"
                    "#SBATCH --hint=nomultithread\n#SBATCH --mail-type=FAIL\necho ran\n")
    done = live.run("sbatch", "--parsable", "--profile=task", str(path))
    job_id = int(done.stdout)
    assert done.stderr.splitlines() == [
        "sbatch: warning: line 2: --mail-type is ignored: Kairos sends no mail",
        "sbatch: warning: line 3: --mail-user is ignored: Kairos sends no mail",
        "sbatch: warning: line 4: --hint is ignored: tasks are not bound to particular "
        "CPUs or memory: a step uses its job's cores",
        "sbatch: warning: --profile is ignored: usage is sampled at the end of each step"]
    [row] = live.wait(job_id)
    assert row["state"] == "COMPLETED"
    quiet = live.run("sbatch", "--parsable", "-Q", str(path))
    assert quiet.stderr == "" and int(quiet.stdout) == job_id + 1


def test_a_refused_option_queues_nothing_and_uses_no_job_id(live):
    first = live.submit("-H", "--wrap", "true")
    path = live.workdir / "job.sh"
    path.write_text("#!/bin/sh\n#SBATCH --mail-type=END\n#SBATCH --reservation=maint\ntrue\n")
    refused = live.run("sbatch", str(path), check=False)
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr == ("sbatch: error: line 3: --reservation is not supported: "
                              "reservations are not supported; name the nodes with "
                              "-w/--nodelist\n")
    assert live.submit("-H", "--wrap", "true") == first + 1
    live.run("scancel", str(first), str(first + 1))


def test_a_script_over_max_script_size_is_refused_like_slurm(live):
    first = live.submit("-H", "--wrap", "true")
    (live.workdir / "big.sh").write_text(script_of_size(LIMIT + 1))
    refused = live.run("sbatch", "big.sh", check=False)
    # the peer: "sbatch: error: Batch job submission failed: Pathname of a file,
    # directory or other parameter too long", exit status 1
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr == (
        f"sbatch: error: Batch job submission failed: {TOO_LONG}: the batch script is "
        f"{LIMIT + 1} bytes, over the limit of {LIMIT} bytes (max_script_size); keep "
        "large data in files the script reads\n")
    (live.workdir / "fits.sh").write_text(script_of_size(LIMIT))
    assert live.submit("-H", "fits.sh") == first + 1  # no id went to the refused one
    live.run("scancel", str(first), str(first + 1))


def test_the_api_refuses_a_script_over_the_limit_with_the_same_reason(live):
    live.up()
    submission = parse_submission(["big.sh"], script_text=script_of_size(LIMIT + 1),
                                  cwd=str(live.workdir), env={}, now=0.0, submit_host="h")
    with pytest.raises(ApiError) as refused:
        live.client().submit(submission.to_json())
    assert refused.value.status == 400
    assert refused.value.message.startswith(f"{TOO_LONG}: the batch script is {LIMIT + 1} "
                                            "bytes")


def test_max_script_size_is_a_controller_setting(make_live):
    live = make_live("max_script_size = 100\n")
    (live.workdir / "small.sh").write_text(script_of_size(101))
    refused = live.run("sbatch", "small.sh", check=False)
    assert refused.returncode == 1
    assert "the batch script is 101 bytes, over the limit of 100 bytes" in refused.stderr
    (live.workdir / "small.sh").write_text(script_of_size(100))
    job_id = live.submit("small.sh")
    assert live.wait(job_id)[0]["state"] == "COMPLETED"


def test_a_request_no_node_can_meet_names_no_job_id(live):
    first = live.submit("-H", "--wrap", "true")
    refused = live.run("sbatch", "--constraint=bar", "--wrap", "true", check=False)
    # the peer: "sbatch: error: Batch job submission failed: Invalid feature
    # specification"; Kairos adds which feature, and names no job (none is used)
    assert refused.returncode == 1
    assert refused.stderr == ("sbatch: error: Batch job submission failed: Invalid feature "
                              "specification: no node has features ['bar']\n")
    too_many = live.run("sbatch", "-c", "100000", "--wrap", "true", check=False)
    assert too_many.returncode == 1
    assert too_many.stderr.startswith("sbatch: error: Batch job submission failed: "
                                      "Requested node configuration is not available: ")
    assert f"job {first + 1}" not in too_many.stderr
    assert live.submit("-H", "--wrap", "true") == first + 1
    live.run("scancel", str(first), str(first + 1))


def test_wait_exits_with_the_jobs_exit_code_like_slurm(live):
    # the peer: `sbatch -W --wrap "exit 3"` prints "Submitted batch job N", exits 3
    done = live.run("sbatch", "-W", "--wrap", "exit 3", check=False)
    assert done.returncode == 3 and done.stdout.startswith("Submitted batch job ")
    job_id = int(done.stdout.split()[-1])
    assert live.client().job(str(job_id))["state"] == "FAILED"
    # killed by a signal: 1; an array: the highest exit code of its tasks
    assert live.run("sbatch", "-W", "--wrap", "kill -9 $$", check=False).returncode == 1
    array = live.run("sbatch", "--wait", "-a", "1-2", "--wrap", "exit $SLURM_ARRAY_TASK_ID",
                     check=False)
    assert array.returncode == 2


def test_verbose_lists_the_options_in_effect(live):
    done = live.run("sbatch", "-v", "-J", "x", "--mail-type=END", "--wrap", "true")
    assert done.stderr.splitlines()[:6] == [
        "sbatch: defined options",
        "sbatch: -------------------- --------------------",
        "sbatch: job-name            : x",
        "sbatch: mail-type           : END",
        "sbatch: verbose             : 1",
        "sbatch: wrap                : true"]
