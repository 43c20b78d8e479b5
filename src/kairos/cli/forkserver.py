"""This user's command server: the Slurm commands imported once, a child forked for each.

``kairos.cli.fastpath`` (the client) explains why.  The server is single-threaded (it
forks) and serves one installation of Kairos for one user:

* it listens on a socket in a directory only its user may enter, and takes requests
  only from its own uid (``SO_PEERCRED``);
* each request brings a command line, an environment, a umask and four file
  descriptors (stdin, stdout, stderr, the working directory).  The child takes them
  all, runs the command as ``kairos <command>`` would, and exits with its status; the
  server answers ``pid N`` at once (so the client can pass signals on) and ``exit N`` or
  ``signal N`` when the child ends;
* before each fork it checks that none of the Kairos modules it imported changed on
  disk; if one did it answers ``stale`` and exits, and the client runs the command
  itself and starts a new server;
* it exits after ``KAIROS_FORKSERVER_IDLE`` seconds (default 600) without a request.

Run as ``python -m kairos.cli.forkserver SOCKET``; the client starts it.
"""

from __future__ import annotations

import errno
import importlib
import io
import os
import select
import signal
import socket
import stat
import struct
import sys
import time

from kairos.cli import fastpath

#: Modules a command may import lazily, loaded up front so children find them ready.
PRELOAD = ("kairos.cli.client", "kairos.cli.unix_http", "kairos.model", "kairos.model.job",
           "kairos.model.step", "kairos.model.submission", "kairos.slurm.sbatch",
           "kairos.slurm.sbatch_submission", "kairos.slurm.output", "kairos.server.paths",
           "kairos.cli.slurm._query", "json", "orjson", "pwd", "grp")
_MAX_REQUEST = 16 << 20  # a command line and an environment; scripts are read by the child


class Stale(Exception):
    """A module this server runs changed on disk."""


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m kairos.cli.forkserver SOCKET", file=sys.stderr)
        return 2
    path = argv[0]
    os.chdir("/")
    listener = _listen(path)
    if listener is None:
        return 0  # another server took the socket first
    inode = os.stat(path).st_ino  # the socket file's: a socket's fstat says nothing of it
    _preload()
    sources = _sources()
    idle = float(os.environ.get("KAIROS_FORKSERVER_IDLE", "600"))
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    children: dict[int, socket.socket] = {}
    last = time.monotonic()
    try:
        while True:
            left = last + idle - time.monotonic()
            if left <= 0 and not children:
                return 0  # idle for long enough
            if not _still_ours(path, inode):
                return 0  # another server took the socket's name
            callers = {conn: pid for pid, conn in children.items()}
            ready, _, _ = select.select([listener, wake_r, *callers], [], [],
                                        min(max(left, 0.1), 30.0))
            if wake_r in ready:
                os.read(wake_r, 512)
            for conn in ready:
                if conn in callers and _caller_gone(conn, callers[conn]):
                    children.pop(callers[conn]).close()
            _reap(children)
            if listener in ready:
                last = time.monotonic()
                try:
                    _accept(listener, children, sources)
                except Stale:
                    return 0
    finally:
        if _still_ours(path, inode):
            _unlink(path)
        listener.close()


def _listen(path: str) -> socket.socket | None:
    """Bind ``path`` in a private directory; None when a live server already has it."""
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    info = os.lstat(directory)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() \
            or info.st_mode & 0o077:
        print(f"kairos: {directory} must be a directory of this user's, mode 0700",
              file=sys.stderr)
        return None
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
        return None  # one answers already
    except OSError:
        pass
    finally:
        probe.close()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    temporary = f"{path}.{os.getpid()}"
    try:
        listener.bind(temporary)
        os.chmod(temporary, 0o600)
        listener.listen(64)
        os.replace(temporary, path)  # a stale socket file of a dead server is replaced
    except OSError:
        listener.close()
        return None
    return listener


def _still_ours(path: str, inode: int) -> bool:
    try:
        return os.stat(path).st_ino == inode
    except OSError:
        return False


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _caller_gone(conn: socket.socket, pid: int) -> bool:
    """A caller's connection is readable before its command ended: it closed (it was
    killed, SIGKILL included).  Its command goes with it, as it would have in-process."""
    try:
        data = conn.recv(1, socket.MSG_PEEK)
    except OSError:
        data = b""
    if data:
        return False
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
    return True


def _preload() -> None:
    for name in fastpath.QUICK_COMMANDS:
        importlib.import_module(f"kairos.cli.slurm.{name}")
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:
            pass


def _sources() -> dict[str, int]:
    """The files of the Kairos modules loaded here, with their modification times."""
    found = {}
    for module in list(sys.modules.values()):
        name = getattr(module, "__name__", "")
        path = getattr(module, "__file__", None)
        if path and (name == "kairos" or name.startswith("kairos.")):
            try:
                found[path] = os.stat(path).st_mtime_ns
            except OSError:
                pass
    return found


def _changed(sources: dict[str, int]) -> bool:
    for path, mtime in sources.items():
        try:
            if os.stat(path).st_mtime_ns != mtime:
                return True
        except OSError:
            return True
    return False


def _accept(listener: socket.socket, children: dict, sources: dict[str, int]) -> None:
    conn, _ = listener.accept()
    try:
        _, uid, gid = struct.unpack("3i", conn.getsockopt(
            socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
        if (uid, gid) != (os.getuid(), os.getgid()):
            conn.close()  # another user, or this one in another group: runs in-process
            return
        request = _receive(conn)
    except (OSError, ValueError):
        conn.close()
        return
    except Stale:
        _send(conn, b"stale\n")
        conn.close()
        raise
    if request is None:
        conn.close()
        return
    if _changed(sources):
        _close_fds(request["fds"])
        _send(conn, b"stale\n")
        conn.close()
        raise Stale
    pid = os.fork()
    if pid == 0:
        listener.close()
        conn.close()
        for other in children.values():
            other.close()
        _child(request)  # never returns
    _close_fds(request["fds"])
    children[pid] = conn
    _send(conn, b"pid %d\n" % pid)


def _receive(conn: socket.socket) -> dict | None:
    """One request: its fields and the four descriptors."""
    conn.settimeout(10)
    header, fds, _, _ = socket.recv_fds(conn, 8, 4)
    if len(header) < 8:
        _close_fds(fds)
        return None
    size = int.from_bytes(header[:8], "big")
    if len(fds) != 4 or size > _MAX_REQUEST:
        _close_fds(fds)
        return None
    data = bytearray(header[8:])
    while len(data) < size:
        chunk = conn.recv(min(1 << 20, size - len(data)))
        if not chunk:
            _close_fds(fds)
            return None
        data += chunk
    fields = bytes(data).split(b"\0")
    if fields[0] != fastpath.PROTOCOL:  # a client of another version: make way
        _close_fds(fds)
        raise Stale
    if fields[1].decode() not in fastpath.QUICK_COMMANDS:
        _close_fds(fds)
        return None
    count = int(fields[3])
    argv = [os.fsdecode(arg) for arg in fields[4:4 + count]]
    env = {}
    for item in fields[4 + count:]:
        key, sep, value = item.partition(b"=")
        if sep:
            env[os.fsdecode(key)] = os.fsdecode(value)
    return {"name": fields[1].decode(), "umask": int(fields[2]), "argv": argv, "env": env,
            "fds": fds}


def _child(request: dict) -> None:
    """In the forked child: become the caller's command, run it, exit with its status."""
    code = 1
    # A signal the caller passes on while this child becomes its command waits until the
    # command runs, and then acts as it would on the command run alone.
    signal.pthread_sigmask(signal.SIG_BLOCK, fastpath.FORWARDED)
    try:
        signal.set_wakeup_fd(-1)
        for signum in (signal.SIGCHLD, signal.SIGTERM):
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        stdin, stdout, stderr, cwd = request["fds"]
        for fd, target in ((stdin, 0), (stdout, 1), (stderr, 2)):
            os.dup2(fd, target)
        os.fchdir(cwd)
        _close_fds(request["fds"])
        os.environ.clear()
        os.environ.update(request["env"])
        os.umask(request["umask"])
        sys.stdin = _stream(0, "r")
        sys.stdout = _stream(1, "w")
        sys.stderr = _stream(2, "w", errors="backslashreplace")
        sys.argv = [request["name"], *request["argv"]]
        from kairos.cli.entry import run_slurm_command

        try:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, fastpath.FORWARDED)
            code = run_slurm_command(request["name"], request["argv"])
        except KeyboardInterrupt:
            code = 130  # as run_slurm_command says of a Ctrl-C
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        if not isinstance(e.code, int) and e.code is not None:
            print(e.code, file=sys.stderr)
    except BaseException:  # noqa: BLE001 - report as Python would, then exit 1
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code if isinstance(code, int) else 1)


def _stream(fd: int, mode: str, errors: str = "strict"):
    """A text stream on ``fd`` as Python would open it for this process."""
    raw = io.FileIO(fd, mode, closefd=False)
    interactive = raw.isatty()
    if mode == "r":
        return io.TextIOWrapper(io.BufferedReader(raw), encoding="utf-8", errors=errors)
    return io.TextIOWrapper(io.BufferedWriter(raw), encoding="utf-8", errors=errors,
                            line_buffering=interactive, write_through=fd == 2)


def _reap(children: dict[int, socket.socket]) -> None:
    """Collect every ended child (those whose caller went away included)."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        conn = children.pop(pid, None)
        if conn is None:
            continue
        if os.WIFSIGNALED(status):
            _send(conn, b"signal %d\n" % os.WTERMSIG(status))
        else:
            _send(conn, b"exit %d\n" % os.waitstatus_to_exitcode(status))
        conn.close()


def _send(conn: socket.socket, data: bytes) -> None:
    try:
        conn.sendall(data)
    except OSError as e:
        if e.errno not in (errno.EPIPE, errno.ECONNRESET):
            raise


def _close_fds(fds) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
