"""The Slurm command list: every command is a module with ``main``, reachable as
``kairos NAME``, and the step commands start without importing anything heavy."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from kairos.cli.slurm import SLURM_COMMANDS

HEAVY = {"fastapi", "sqlalchemy", "typer", "rich", "numpy", "psutil", "httpx", "pydantic",
         "kairos.server", "kairos.node"}


def test_every_command_has_a_main():
    assert {"srun", "salloc", "sattach", "sstat"} <= set(SLURM_COMMANDS)
    for name in SLURM_COMMANDS:
        assert callable(importlib.import_module(f"kairos.cli.slurm.{name}").main)


@pytest.mark.parametrize("name, argv", [
    ("srun", ["--foo"]), ("srun", ["-n2", "--pty", "true"]), ("salloc", ["--no-shell"]),
    ("sstat", []), ("sattach", ["1.0"])])
def test_the_commands_import_nothing_heavy(name, argv):
    code = (f"import sys; from kairos.cli.slurm.{name} import main; main({argv!r}); "
            f"print(sorted(m for m in sys.modules if m in {HEAVY!r}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=True)
    assert result.stdout.strip() == "[]"
    assert result.stderr


def test_the_kairos_executable_dispatches_the_new_commands():
    kairos = [sys.executable, "-c", "from kairos.cli.entry import main; main()"]
    result = subprocess.run([*kairos, "srun", "--usage"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0 and result.stdout.startswith("Usage: srun")
    result = subprocess.run([*kairos, "salloc", "--version"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0 and result.stdout.endswith("(salloc)\n")
