"""Run the controller: in the foreground (``serve``) or as a background daemon
(``start_background``, what ``kairos up`` and the first ``sbatch`` do), and stop it.

One controller per ``KAIROS_HOME``: it holds an exclusive lock on its pid file for its
whole life, so a second one started by a race exits at once.  The API socket is created
here (not by uvicorn) so its mode is right before anyone can connect: 0600 for a
per-user controller, 0666 when root runs a shared one.  Stopping the controller leaves
running jobs alone (they belong to their supervisors); the next start adopts them.

``python -m kairos.server.daemon`` is the daemon's entry point.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import gc
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path


class AlreadyRunning(RuntimeError):
    pass


#: The cyclic garbage collector's thresholds in the controller (CPython's are 700, 10,
#: 10).  A controller holds millions of long-lived objects (jobs, nodes, the core's
#: profiles) and makes many more per round that live only until the round ends; with
#: the default first threshold those are promoted and set off full collections of the
#: whole heap: 32 of them (up to 1.8 s each, 36 s of collection in all) in a 224 s run of
#: 14,000 emulated nodes and 60,000 jobs.  At 4,000 nodes and 20,000 jobs, two runs of
#: each in turn (benchmarks/scale_live.py): submissions while busy 152-156/s -> 167-198/s,
#: backlog starts 384-400/s -> 408-412/s, submission to last end 86-87 s -> 71-81 s, for
#: 15 % more memory (223 against 194 MiB).
COLLECTOR_THRESHOLDS = (50_000, 20, 10)


def serve(settings) -> None:
    """Run the API and the scheduling loop until SIGTERM/SIGINT."""
    import uvicorn

    from kairos.server.api import create_app
    from kairos.node.peercred import PeerCredentialsProtocol

    os.umask(0o077)  # the database holds every user's scripts and environments
    gc.set_threshold(*COLLECTOR_THRESHOLDS)
    if os.geteuid() == 0:
        # A shared controller: users must reach the socket (0666) but not list the home.
        os.chmod(settings.home, 0o711)
    lock = _lock(settings.pid_path)
    sock = _bind(settings.socket_path)
    sockets = [sock]
    if settings.cluster is not None:  # node daemons and forwarded requests, signed
        sockets.append(bind_tcp(*settings.cluster.listen))
    logging.basicConfig(level=logging.WARNING,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    config = uvicorn.Config(create_app(settings), http=PeerCredentialsProtocol,
                            lifespan="on", log_level="warning", access_log=False,
                            timeout_graceful_shutdown=5, backlog=4096)
    server = uvicorn.Server(config)
    try:
        server.run(sockets=sockets)  # uvloop when installed
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(settings.socket_path)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(settings.pid_path)
        lock.close()


def _lock(pid_path: Path):
    pid_path.parent.mkdir(parents=True, exist_ok=True)
    f = open(pid_path, "a+")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        if e.errno in (errno.EAGAIN, errno.EACCES):
            raise AlreadyRunning(f"a controller is already running (pid file {pid_path})") from None
        raise
    f.seek(0)
    f.truncate()
    f.write(f"{os.getpid()}\n")
    f.flush()
    return f


def _bind(path: Path) -> socket.socket:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)  # stale: we hold the lock, so nobody else serves it
    if len(os.fsencode(path)) > 107:
        raise OSError(f"the socket path {path} is longer than Unix sockets allow (107 bytes); "
                      "set KAIROS_HOME to a shorter directory")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177 if os.geteuid() != 0 else 0o111)
    try:
        sock.bind(str(path))
    finally:
        os.umask(old)
    os.chmod(path, 0o600 if os.geteuid() != 0 else 0o666)
    sock.listen(4096)
    sock.setblocking(False)
    return sock


def bind_tcp(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (IPv4 or IPv6), with a clear error when the
    address is taken or not this host's."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port} ({e.strerror}): is another controller "
                      f"running there, or is {host} not an address of this host? See "
                      f"[cluster] listen in config.toml") from None
    sock.listen(4096)
    sock.setblocking(False)
    return sock


def running_pid(settings) -> int | None:
    """The pid of this home's controller, or None when none is running."""
    try:
        with open(settings.pid_path) as f:
            try:
                fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError:
                text = f.read().strip() or "0"
                return int(text) or None
            fcntl.flock(f, fcntl.LOCK_UN)
            return None  # nobody holds the lock: a stale file
    except (FileNotFoundError, ValueError):
        return None


def start_background(settings, *, timeout: float = 20.0) -> int:
    """Start a controller daemon for ``settings.home`` and wait until it answers."""
    settings.home.mkdir(parents=True, exist_ok=True)
    log = open(settings.log_path, "ab")
    env = dict(os.environ, KAIROS_HOME=str(settings.home))
    proc = subprocess.Popen([sys.executable, "-m", "kairos.server.daemon"],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                            start_new_session=True, close_fds=True, env=env,
                            cwd=str(settings.home))
    log.close()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _answers(settings.socket_path):
            return proc.pid
        code = proc.poll()
        if code is not None:
            pid = running_pid(settings)
            if pid is not None and _answers(settings.socket_path, wait=timeout):
                return pid  # another start won the race
            raise RuntimeError(f"the controller exited at start (status {code}); "
                               f"its log: {settings.log_path}\n{_tail(settings.log_path)}")
        time.sleep(0.02)
    raise RuntimeError(f"the controller did not answer within {timeout:.0f} s; "
                       f"its log: {settings.log_path}")


def stop(settings, *, timeout: float = 15.0) -> int | None:
    """Stop this home's controller (SIGTERM, then SIGKILL); returns its pid or None."""
    pid = running_pid(settings)
    if pid is None:
        return None
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if running_pid(settings) is None:
            return pid
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    return pid


def _answers(path: Path, wait: float = 0.0) -> bool:
    deadline = time.monotonic() + wait
    while True:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(2)
                s.connect(str(path))
                s.sendall(b"GET /api/v1/status HTTP/1.1\r\nHost: kairos\r\nConnection: close\r\n\r\n")
                if s.recv(12).startswith(b"HTTP/1.1 200"):
                    return True
        except OSError:
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def main() -> int:
    from kairos.server.config import load_settings

    settings = load_settings()
    try:
        serve(settings)
    except AlreadyRunning as e:
        print(f"kairos: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
