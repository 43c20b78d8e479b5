"""Where the live manager keeps its files: one folder, ``$KAIROS_HOME``, and the names in it.

The controller's socket, pid file, log, ``config.toml`` and (by default) its SQLite
database all live in the home (default ``~/.kairos``, created private, mode 0700).

The command-line client needs the socket before anything else, and the Slurm-compatible
commands must start in tens of milliseconds, so this module uses the standard library
only; reading and validating ``config.toml`` is ``kairos.server.config``'s job.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

HOME_VARIABLE = "KAIROS_HOME"
#: Names a controller's socket directly (one run by someone else, e.g. root's shared one).
SOCKET_VARIABLE = "KAIROS_SOCKET"

CONFIG_FILE = "config.toml"
SOCKET_FILE = "kairos.sock"
PID_FILE = "kairos.pid"
LOG_FILE = "kairos.log"
DATABASE_FILE = "kairos.db"


def default_home(env: Mapping[str, str] = os.environ) -> Path:
    """``$KAIROS_HOME``, else ``~/.kairos`` (``~`` from ``$HOME`` when set)."""
    if env.get(HOME_VARIABLE):
        return Path(env[HOME_VARIABLE]).expanduser()
    user_home = Path(env["HOME"]) if env.get("HOME") else Path.home()
    return user_home / ".kairos"


def socket_path(env: Mapping[str, str] = os.environ) -> Path:
    """The socket a client talks to: ``$KAIROS_SOCKET``, else the one in the home."""
    explicit = env.get(SOCKET_VARIABLE)
    return Path(explicit) if explicit else default_home(env) / SOCKET_FILE


@dataclass(frozen=True, slots=True)
class Home:
    """A Kairos home folder and the paths of the files in it."""

    root: Path

    @classmethod
    def prepare(cls, root: Path | str | None = None,
                env: Mapping[str, str] = os.environ) -> Home:
        """The home at ``root`` (default: ``default_home(env)``), created private if missing."""
        path = Path(root).expanduser() if root is not None else default_home(env)
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        return cls(path.resolve())

    @property
    def config(self) -> Path:
        return self.root / CONFIG_FILE

    @property
    def socket(self) -> Path:
        return self.root / SOCKET_FILE

    @property
    def pid(self) -> Path:
        return self.root / PID_FILE

    @property
    def log(self) -> Path:
        return self.root / LOG_FILE

    @property
    def database(self) -> Path:
        return self.root / DATABASE_FILE

    @property
    def database_url(self) -> str:
        """The default database: SQLite in the home."""
        return f"sqlite:///{self.database}"
