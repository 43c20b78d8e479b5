"""Output file patterns, compared with the file names a Slurm 22.05 peer created."""

from __future__ import annotations

from kairos.slurm.patterns import NO_ARRAY_TASK_ID, expand_pattern


def test_array_task_matches_the_peer():
    # sbatch --array=2-3 -o '<this pattern>' made this file for task 2 (job 86 of 79)
    pattern = "p-%A-%a-%4a-%J-%s-%n-%5x-%z-%2N-%10u-%03j-%-3j-%.3j-%%5-%.out"
    name = expand_pattern(pattern, job_id=86, array_job_id=79, array_task_id=2,
                          name="wrap", user="root", node="vm")
    assert name == "p-79-2-0002-86-batch-0-wrap-%z-vm-root-086-%-3j-%.3j-%5-%.out"


def test_plain_job_matches_the_peer():
    pattern = "out-%A-%a-%j-%J-%x-%u-%N-%t-%%-%4j.txt"
    name = expand_pattern(pattern, job_id=7, name="name1", user="root", node="vm")
    assert name == "out-7-4294967294-7-7-name1-root-vm-0-%-0007.txt"
    assert NO_ARRAY_TASK_ID == 4294967294


def test_defaults():
    assert expand_pattern("slurm-%j.out", job_id=128, name="x", user="u",
                          node="n") == "slurm-128.out"
    assert expand_pattern("slurm-%A_%a.out", job_id=130, array_job_id=128,
                          array_task_id=2, name="x", user="u", node="n") == "slurm-128_2.out"
    assert expand_pattern("job%4j.out", job_id=128, name="x", user="u",
                          node="n") == "job0128.out"


def test_a_backslash_turns_expansion_off_like_the_peer():
    args = dict(job_id=80, name="wrap", user="root", node="vm")
    assert expand_pattern("p-\\\\%j-%x.out", **args) == "p-\\%j-%x.out"
    assert expand_pattern("p-a\\b-%j.out", **args) == "p-ab-%j.out"


def test_a_trailing_percent_stays():
    assert expand_pattern("p-end%", job_id=1, name="x", user="u", node="n") == "p-end%"
