"""Slurm's user commands that Kairos does not provide say so, with what to use instead,
rather than reach another scheduler installed on the same machine."""

from __future__ import annotations

import subprocess

import pytest

from kairos.node.shims import write_shims
from kairos.slurm import COMMANDS, DECLINED
from kairos.testing.commands import clean_environment
from kairos.testing.home import KAIROS

#: Slurm 22.05's user commands (its slurm-client package's programs).
SLURM_2205_USER_COMMANDS = ("sacct", "sacctmgr", "salloc", "sattach", "sbatch", "sbcast",
                            "scancel", "scontrol", "sdiag", "sinfo", "sprio", "squeue",
                            "sreport", "srun", "sshare", "sstat", "strigger")


def test_every_slurm_user_command_is_provided_or_declined():
    assert set(COMMANDS) | set(DECLINED) == set(SLURM_2205_USER_COMMANDS)
    assert not set(COMMANDS) & set(DECLINED)


@pytest.mark.parametrize("name", sorted(DECLINED))
def test_a_declined_command_says_why_and_fails(name, tmp_path):
    folder = write_shims(tmp_path / "bin")
    env = clean_environment()
    env["KAIROS_HOME"] = str(tmp_path / "home")  # nothing must start there
    for argv in ([str(folder / name), "--help"], [KAIROS, name, "x"]):
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 1
        assert done.stdout == ""
        assert done.stderr.startswith(f"{name}: error: Kairos does not provide {name}: ")
        assert DECLINED[name] in done.stderr
    assert not (tmp_path / "home").exists()
