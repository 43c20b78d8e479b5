"""The compatibility matrix (docs/compatibility.md) says what the code does, and names
every option of Slurm 22.05's sbatch, srun and salloc; each command's table holds every
option Slurm's getopt table takes, in getopt's order where it matters (the options
sharing a first letter: an ambiguous prefix names them in that order)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from kairos.slurm.compatibility import ABSENT, COMMANDS, main, matrix, render, tables
from tests.slurm.slurm_2205_options import GETOPT, HELP

DOC = Path(__file__).resolve().parents[2] / "docs" / "compatibility.md"


def test_the_document_is_up_to_date():
    assert DOC.read_text(encoding="utf-8") == render(), (
        "docs/compatibility.md is out of date: run "
        "python -m kairos.slurm.compatibility --write docs/compatibility.md")


def test_the_check_mode_tells_a_stale_document(tmp_path, capsys):
    stale = tmp_path / "compatibility.md"
    stale.write_text(render().replace("| warns |", "| yes |", 1))
    assert main(["--check", str(stale)]) == 1
    assert "is not up to date" in capsys.readouterr().err
    assert main(["--write", str(stale)]) == 0 and main(["--check", str(stale)]) == 0


@pytest.mark.parametrize("command", COMMANDS)
def test_every_option_of_slurms_help_is_in_the_matrix(command):
    rows = matrix()
    missing = [name for name in HELP[command] if command not in rows.get(name, {})]
    assert missing == []
    for name in HELP[command]:
        assert re.search(rf"^\| `(-\w, )*--{re.escape(name)}` \|", render(), re.M), name


@pytest.mark.parametrize("command", COMMANDS)
def test_each_table_is_slurms_getopt_table(command):
    table = [o.long for o in tables()[command].options]
    assert sorted(table) == sorted(GETOPT[command])
    for letter in {name[0] for name in table}:
        assert ([n for n in table if n[0] == letter]
                == [n for n in GETOPT[command] if n[0] == letter])


def test_a_row_names_what_each_command_does_and_why():
    text = render()
    assert ("| `--mail-type` | warns | warns | warns | Kairos sends no mail |" in text)
    assert ("| `--reservation` | **refused** | **refused** | **refused** | reservations are "
            "not supported; name the nodes with -w/--nodelist |") in text
    assert ("| `-m, --distribution` | warns | yes | warns | sbatch: the steps lay out their "
            "tasks as each srun's -m says (block by default); salloc: each srun lays its "
            "tasks out in blocks |") in text
    assert f"| `-a, --array` | yes | {ABSENT} | {ABSENT} |  |" in text


def test_every_refusal_and_warning_says_why():
    for command, table in tables().items():
        for option in table.options:
            if option.ignored:
                assert option.why, (command, option.long)


def _live_help(command: str) -> list[str] | None:
    """The long options the real ``command --help`` lists, when it is Slurm 22.05."""
    path = shutil.which(command, path="/usr/bin")
    if path is None:
        return None
    version = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30)
    if not re.match(r"slurm\S* 22\.05\.", version.stdout):
        return None
    text = subprocess.run([path, "--help"], capture_output=True, text=True, timeout=30).stdout
    return sorted(set(re.findall(r"^\s+(?:-[A-Za-z],?\s+)?--([A-Za-z0-9_-]+)", text, re.M)))


@pytest.mark.parametrize("command", COMMANDS)
def test_the_kept_names_are_those_of_a_real_slurm_2205_here(command):
    live = _live_help(command)
    if live is None:
        pytest.skip(f"no Slurm 22.05 {command} in /usr/bin")
    assert live == sorted(HELP[command])
    rows = matrix()
    assert [name for name in live if command not in rows.get(name, {})] == []
