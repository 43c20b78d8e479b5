"""A munged of its own for each node of a test cluster, so credentials carry its address.

MUNGE puts the address of the munged that encoded a credential into it (its *origin*),
and the controller checks that origin against the address the node registered.  On one
machine every credential would come from the same munged, so a test cluster starts one
munged per node (and one for the controller), each with ``--origin`` the node's address,
its own socket, pid, log and seed files in a folder of the node's home, and the machine's
key, so that all of them decode each other's credentials as in a real cluster.

munged runs as the ``munge`` user, and refuses folders whose ancestors it cannot trust
or reach (a home under ``/root`` or a private temporary folder is neither), so it is
started in a mount namespace of its own where the node's folder is bind-mounted over
``/run/munge``: munged sees a well-kept system folder, everyone else finds its socket in
the node's home.  It runs in the foreground, so the process the cluster started *is*
munged and stopping it is a plain signal.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
import time
from pathlib import Path

MUNGE_USER = "munge"
SYSTEM_KEY = Path("/etc/munge/munge.key")
#: Where munged sees its folder (see the module's docstring).
MOUNT_POINT = "/run/munge"
SOCKET_NAME = "munge.socket"
LOG_NAME = "munged.log"
_SOCKET_PATH_MAX = 108  # sun_path, terminating NUL included
_SBIN = "/usr/local/sbin:/usr/sbin:/sbin"
_ENCODE_HOST = re.compile(r"^ENCODE_HOST:.*\(([^)]+)\)\s*$", re.MULTILINE)


class MungeError(RuntimeError):
    """A munged of the test cluster did not start or does not answer."""


def tool(name: str) -> str | None:
    """The path of a MUNGE or util-linux program (``/usr/sbin`` included)."""
    return shutil.which(name, path=f"{os.environ.get('PATH', '')}:{_SBIN}")


def probe() -> str | None:
    """None when per-node munged daemons can run here, else why not."""
    if os.geteuid() != 0:
        return "starting munged as the munge user needs root"
    missing = [t for t in ("munged", "munge", "unmunge", "setpriv", "unshare") if tool(t) is None]
    if missing:
        return f"not installed: {', '.join(missing)}"
    try:
        pwd.getpwnam(MUNGE_USER)
    except KeyError:
        return f"no {MUNGE_USER!r} user"
    if not SYSTEM_KEY.is_file() or not Path(MOUNT_POINT).is_dir():
        return f"no MUNGE key at {SYSTEM_KEY} or no {MOUNT_POINT} folder"
    encoded = subprocess.run([tool("munge"), "-n"], capture_output=True)
    decoded = subprocess.run([tool("unmunge")], input=encoded.stdout, capture_output=True)
    if encoded.returncode or decoded.returncode:
        return f"munge -n | unmunge fails: {(encoded.stderr or decoded.stderr).decode().strip()}"
    return None


def prepare(folder: Path) -> Path:
    """Make ``folder`` munged's (owned by the munge user, mode 0755 as munged demands of
    its socket folder); the path its socket will have."""
    socket = folder / SOCKET_NAME
    if len(os.fsencode(socket)) >= _SOCKET_PATH_MAX:
        raise MungeError(f"{socket} is too long for a Unix socket ({_SOCKET_PATH_MAX - 1} bytes at most): "
                         "use a shorter home")
    folder.mkdir(parents=True, exist_ok=True)
    user = pwd.getpwnam(MUNGE_USER)
    os.chown(folder, user.pw_uid, user.pw_gid)
    folder.chmod(0o755)
    return socket


def daemon_argv(folder: Path, origin: str) -> list[str]:
    """The command that runs munged on ``folder`` with ``origin``, to be run as root
    inside a private mount namespace (``ip netns exec`` makes one, or ``unshare -m``)."""
    inside = Path(MOUNT_POINT)
    return ["sh", "-c", f'mount --bind "$0" {MOUNT_POINT} && exec "$@"', str(folder),
            tool("setpriv"), f"--reuid={MUNGE_USER}", f"--regid={MUNGE_USER}", "--init-groups",
            tool("munged"), "--foreground",
            f"--socket={inside / SOCKET_NAME}", f"--pid-file={inside / 'munged.pid'}",
            f"--log-file={inside / LOG_NAME}", f"--seed-file={inside / 'munged.seed'}",
            f"--key-file={SYSTEM_KEY}", f"--origin={origin}"]


def private_mounts(argv: list[str]) -> list[str]:
    """``argv`` run in a mount namespace of its own (for a munged outside any node)."""
    return [tool("unshare"), "--mount", "--propagation", "slave", "--", *argv]


def answers(socket: Path) -> bool:
    """Whether the munged behind ``socket`` encodes credentials."""
    return subprocess.run([tool("munge"), "-n", "-S", str(socket)], capture_output=True).returncode == 0


def wait_ready(sockets: list[Path], timeout: float = 10.0) -> None:
    """Wait until every socket's munged answers; :class:`MungeError` after ``timeout``."""
    give_up = time.monotonic() + timeout
    waiting = list(sockets)
    while waiting:
        waiting = [s for s in waiting if not (s.exists() and answers(s))]
        if waiting and time.monotonic() > give_up:
            raise MungeError(f"munged did not answer within {timeout:g} s on {', '.join(map(str, waiting))}; "
                             f"see {LOG_NAME} beside each socket")
        if waiting:
            time.sleep(0.02)


def encode_host(socket: Path, decode_socket: Path | None = None) -> str:
    """The origin address in a credential encoded through ``socket``, as ``unmunge``
    (through ``decode_socket``, default the machine's munged) reads it."""
    encoded = subprocess.run([tool("munge"), "-n", "-S", str(socket)], capture_output=True, check=True)
    decode = [tool("unmunge")] + (["-S", str(decode_socket)] if decode_socket else [])
    decoded = subprocess.run(decode, input=encoded.stdout, capture_output=True, check=True)
    found = _ENCODE_HOST.search(decoded.stdout.decode())
    if found is None:
        raise MungeError(f"unmunge printed no ENCODE_HOST: {decoded.stdout.decode()!r}")
    return found.group(1)
