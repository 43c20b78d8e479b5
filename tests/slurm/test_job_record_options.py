"""``--signal``, ``--open-mode``, ``--comment`` and ``--wckey``: read the same way by
sbatch, salloc and srun (outside a job), refused where Slurm 22.05's sbatch refuses them
(checked on the peer: ``Invalid --signal specification``), and carried in the
``Submission``."""

from __future__ import annotations

import signal

import pytest

from kairos.slurm.option_engine import SlurmOptionError
from kairos.slurm.salloc import parse_salloc
from kairos.slurm.sbatch import SbatchError, parse_submission
from kairos.slurm.signals import parse_warning_signal
from kairos.slurm.srun import parse_srun

NOW = 1_790_000_000.0


def sbatch(argv, script="#!/bin/bash\ntrue\n", env=None):
    return parse_submission(argv, script_text=script, stdin_text=None, cwd="/work",
                            env=env or {}, now=NOW, submit_host="login1")


def salloc(argv, env=None):
    return parse_salloc(argv, env or {}, now=NOW).submission(cwd="/work", env={},
                                                             submit_host="login1")


def srun_outside(argv, env=None):
    return parse_srun([*argv, "true"], env or {}, now=NOW).submission(
        cwd="/work", env={}, submit_host="login1")


@pytest.mark.parametrize("value, expected", [
    ("USR1", (signal.SIGUSR1, 60, False)),  # 60 s when no time is given
    ("B:USR1@90", (signal.SIGUSR1, 90, True)),
    ("b:sigusr2@0", (signal.SIGUSR2, 0, True)),
    ("SIGTERM@65535", (signal.SIGTERM, 65535, False)),
    ("10@5", (10, 5, False)),
])
def test_signal_specifications(value, expected):
    assert parse_warning_signal(value) == expected


@pytest.mark.parametrize("value, words", [
    ("FOO@10", "unknown signal 'FOO'"),
    ("USR1@abc", "0 to 65535 seconds"),
    ("USR1@70000", "0 to 65535 seconds"),
    ("USR1@", "0 to 65535 seconds"),
    ("X:USR1", "unknown prefix 'X:'"),
    ("0@10", "not a signal number"),
    ("@10", "no signal given"),
    ("B:", "no signal given"),
    ("R:USR1@10", "R: (signal at the end of a reservation) is not supported"),
    ("RB:USR1", "R: (signal at the end of a reservation) is not supported"),
])
def test_bad_signal_specifications_say_what_is_wrong(value, words):
    with pytest.raises(ValueError) as caught:
        parse_warning_signal(value)
    assert words in str(caught.value)
    with pytest.raises(SbatchError) as refused:
        sbatch([f"--signal={value}", "job.sh"])
    assert str(refused.value).startswith(f"invalid --signal value {value!r}: ")


def test_sbatch_carries_the_four_options():
    spec = sbatch(["--signal=B:USR1@90", "--open-mode=append", "--comment", "a comment",
                   "--wckey=proj", "job.sh"])
    assert (spec.warn_signal, spec.warn_time, spec.warn_batch) == (signal.SIGUSR1, 90, True)
    assert (spec.open_mode, spec.comment, spec.wckey) == ("append", "a comment", "proj")
    plain = sbatch(["job.sh"])
    assert (plain.warn_signal, plain.open_mode, plain.comment, plain.wckey) == (None,) * 4
    assert _round_trips(spec)


def _round_trips(spec) -> bool:
    from kairos.model import Submission
    from kairos.server.schemas import JobSubmit

    return Submission.from_json(JobSubmit(**spec.to_json()).model_dump()) == spec


def test_directives_and_variables_set_them_too():
    script = ("#!/bin/bash\n#SBATCH --signal=USR2@30\n#SBATCH --comment=\"two words\"\n"
              "#SBATCH --open-mode=t\ntrue\n")
    spec = sbatch(["job.sh"], script=script)
    assert (spec.warn_signal, spec.warn_time, spec.warn_batch) == (signal.SIGUSR2, 30, False)
    assert (spec.comment, spec.open_mode) == ("two words", "truncate")
    spec = sbatch(["job.sh"], env={"SBATCH_SIGNAL": "B:TERM@10", "SBATCH_OPEN_MODE": "APPEND",
                                   "SBATCH_WCKEY": "k1"})
    assert (spec.warn_signal, spec.warn_batch, spec.open_mode, spec.wckey) == (
        signal.SIGTERM, True, "append", "k1")


@pytest.mark.parametrize("mode", ["foo", ""])
def test_a_bad_open_mode_is_refused(mode):
    with pytest.raises(SbatchError, match="invalid --open-mode value .*use append or truncate"):
        sbatch([f"--open-mode={mode}", "job.sh"])


@pytest.mark.parametrize("parse", [salloc, srun_outside])
def test_salloc_and_srun_read_them_as_sbatch_does(parse):
    job = parse(["--signal=USR1@120", "--comment=c", "--wckey=w"])
    assert job.allocation
    assert (job.warn_signal, job.warn_time, job.warn_batch) == (signal.SIGUSR1, 120, False)
    assert (job.comment, job.wckey) == ("c", "w")
    with pytest.raises(SlurmOptionError, match="invalid --signal value 'R:USR1'"):
        parse(["--signal=R:USR1"])


def test_salloc_and_srun_read_their_variables():
    assert salloc([], {"SALLOC_SIGNAL": "USR2", "SALLOC_WCKEY": "w"}).wckey == "w"
    assert srun_outside([], {"SLURM_SIGNAL": "USR2@5"}).warn_time == 5


def test_inside_a_job_srun_says_they_belong_to_the_allocation():
    request = parse_srun(["--signal=USR1", "--comment=c", "--wckey=w", "true"],
                         {"SLURM_JOB_ID": "12"}, now=NOW)
    assert request.warnings == [
        f"--{name} is ignored inside job 12: the step runs in the job's allocation"
        for name in ("signal", "comment", "wckey")]
