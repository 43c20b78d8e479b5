"""Shared fixtures of the trust tests: key files, the system's munged, a second munged.

The MUNGE tests run against real munged daemons; they are skipped, with the reason,
where MUNGE is not usable.  The second munged (its own socket, ``--origin 10.99.0.5``,
the system's MUNGE key) stands for another host's: a test cluster runs one per network
namespace.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kairos.trust import create_cluster_key, derive_node_key, munge_status, read_key, write_node_key

SYSTEM_MUNGE_KEY = Path("/etc/munge/munge.key")
OTHER_ORIGIN = "10.99.0.5"


@pytest.fixture
def cluster_key_file(tmp_path: Path) -> Path:
    path = tmp_path / "cluster.key"
    create_cluster_key(path)
    return path


@pytest.fixture
def node_key_files(tmp_path: Path, cluster_key_file: Path) -> dict[str, Path]:
    """The keys of nodes n1 and n2, derived from the cluster key, one file each."""
    cluster_key = read_key(cluster_key_file)
    files = {}
    for name in ("n1", "n2"):
        files[name] = tmp_path / f"{name}.key"
        write_node_key(files[name], derive_node_key(cluster_key, name))
    return files


@pytest.fixture(scope="session")
def system_munge() -> None:
    """Skips the test when the system's munged does not answer."""
    status = munge_status()
    if not status.usable:
        pytest.skip(f"MUNGE is not usable here: {status.reason}")


@pytest.fixture(scope="session")
def other_munged(system_munge, tmp_path_factory) -> Iterator[str]:
    """The socket of a second munged, started as root with the system's key and
    ``--origin 10.99.0.5``; stopped after the session."""
    if os.geteuid() != 0:
        pytest.skip("a second munged is started as root only")
    if not SYSTEM_MUNGE_KEY.exists():
        pytest.skip(f"no MUNGE key at {SYSTEM_MUNGE_KEY} for a second munged")
    folder = tmp_path_factory.mktemp("munged")
    socket = str(folder / "munge.socket")
    # --force: the system's key is owned by the munge user, not by root who runs this one
    command = ["munged", "--force", f"--socket={socket}", f"--key-file={SYSTEM_MUNGE_KEY}",
               f"--pid-file={folder / 'munged.pid'}", f"--log-file={folder / 'munged.log'}",
               f"--seed-file={folder / 'munged.seed'}", f"--origin={OTHER_ORIGIN}"]
    try:
        started = subprocess.run(command, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"cannot start a second munged: {exc}")
    if started.returncode != 0:
        pytest.skip(f"cannot start a second munged: {started.stderr.strip()}")
    try:
        _wait_usable(socket, folder)
        yield socket
    finally:
        _stop(socket, folder / "munged.pid")


def _wait_usable(socket: str, folder: Path) -> None:
    deadline = time.monotonic() + 10
    while (status := munge_status(socket)).reason and time.monotonic() < deadline:
        time.sleep(0.05)
    if not status.usable:
        log = folder / "munged.log"
        pytest.skip(f"the second munged does not answer: {status.reason}; "
                    f"{log.read_text()[-500:] if log.exists() else ''}")


def _stop(socket: str, pid_file: Path) -> None:
    subprocess.run(["munged", "--stop", f"--socket={socket}"], capture_output=True, timeout=20)
    deadline = time.monotonic() + 5
    while pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    if pid_file.exists():  # did not stop: end the one we started, by its pid
        try:
            os.kill(int(pid_file.read_text()), signal.SIGKILL)
        except (ValueError, ProcessLookupError):
            pass
