"""Real workflow tools driving Kairos through the Slurm commands, unchanged.

The tools (snakemake with its Slurm executor plugin, dask-jobqueue) are the ``clients``
extra of pyproject.toml.  ``scripts/setup`` installs them into a virtual environment of
their own, ``.venv/clients`` (snakemake pins versions of packages Kairos itself uses),
so the tests run them with that interpreter, as separate programs that know Kairos only
through ``sbatch``, ``squeue``, ``sacct``, ``scancel``... found first on PATH, as a user
gets them from ``kairos shims DIR``.  ``KAIROS_CLIENTS_PYTHON`` names another
interpreter; without one that imports the tools the tests skip, saying why.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from kairos.testing.commands import clean_environment
from kairos.testing.home import KAIROS, KairosHome


def clients_python() -> Path:
    """The interpreter that has the workflow tools: ``$KAIROS_CLIENTS_PYTHON``, else the
    ``clients`` environment inside this one (``.venv/clients``)."""
    named = os.environ.get("KAIROS_CLIENTS_PYTHON")
    return Path(named) if named else Path(sys.prefix) / "clients" / "bin" / "python"


def require_modules(*modules: str) -> Path:
    """The clients' interpreter, or skip the test saying what is missing and how to get it."""
    python = clients_python()
    if not python.exists():
        pytest.skip(f"no interpreter with the workflow tools at {python}: run ./scripts/setup "
                    f"(or set KAIROS_CLIENTS_PYTHON)")
    probe = subprocess.run([str(python), "-c", f"import {', '.join(modules)}"],
                           capture_output=True, text=True, timeout=120)
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["?"])[-1]
        pytest.skip(f"{python} cannot import {', '.join(modules)} ({last}): run "
                    f"./scripts/setup, which installs pyproject.toml's clients extra there")
    return python


@dataclass
class Site:
    """A Kairos controller in a temporary home and the environment a user of it has:
    Kairos's Slurm commands first on PATH (before any real Slurm in /usr/bin), then the
    clients' interpreter's scripts."""

    live: KairosHome
    workdir: Path
    python: Path
    env: dict[str, str]

    def run(self, *argv: str | Path, timeout: float = 100.0) -> subprocess.CompletedProcess:
        """A program of the clients' environment, run from the work directory."""
        return subprocess.run([str(a) for a in argv], cwd=self.workdir, env=self.env,
                              capture_output=True, text=True, timeout=timeout)


def make_site(tmp_path: Path, python: Path) -> Site:
    live = KairosHome.create(tmp_path / "home", tmp_path / "work")
    live.up()
    shims = tmp_path / "bin"
    subprocess.run([KAIROS, "shims", str(shims)], check=True, capture_output=True,
                   timeout=60, env=live.env)
    env = clean_environment()
    env.update(KAIROS_HOME=str(live.home), XDG_CACHE_HOME=str(tmp_path / "cache"),
               PATH=os.pathsep.join([str(shims), str(python.parent),
                                     env.get("PATH", "/usr/bin:/bin")]))
    return Site(live, live.workdir, python, env)


@pytest.fixture
def snakemake_site(tmp_path):
    site = make_site(tmp_path, require_modules("snakemake", "snakemake_executor_plugin_slurm"))
    yield site
    site.live.stop()


@pytest.fixture
def dask_site(tmp_path):
    site = make_site(tmp_path, require_modules("dask_jobqueue", "distributed"))
    yield site
    site.live.stop()
