"""The quick way to run a Slurm command: hand it to this user's command server.

Workflow managers start ``sbatch`` and ``squeue`` as processes, one per job and one per
poll.  A Python command spends most of its life importing (about 50 ms) before it does
a few milliseconds of work; Slurm's C commands start in about 10.  The command server
(``kairos.cli.forkserver``) is a process of this user's that has imported the commands
once and forks a child for each one.  This module is the other end: it imports only
modules built into the interpreter, sends the command line, the environment, the
working directory and its standard streams (the file descriptors themselves) over a
Unix socket, forwards the signals it gets to the child, and exits as the child did.

:func:`run` answers ``None`` when the quick way is not taken (no server yet: one is
started for the next command; a server running older code; a command that must run
here); the caller then runs the command itself.  It is not taken inside jobs: a server
started there would outlive the job and run later commands in its cgroup.  Commands
that talk to a terminal or relay signals for long (``srun``, ``salloc``, ``sattach``)
always run in their own process.  ``KAIROS_FORKSERVER=0`` turns the quick way off.
"""

import _signal
import _socket
import os
import sys

#: The commands the server may run: short-lived, no terminal of their own.
QUICK_COMMANDS = frozenset(("sbatch", "squeue", "scancel", "scontrol", "sinfo", "sacct",
                            "sstat", "sprio", "sshare"))
#: Bumped when what crosses the socket changes.
PROTOCOL = b"kairos-commands-1"
#: The signals passed on to the command (a terminal's, and scancel-like kills).
FORWARDED = (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP, _signal.SIGQUIT,
             _signal.SIGUSR1, _signal.SIGUSR2, _signal.SIGALRM)
SWITCH = "KAIROS_FORKSERVER"
#: What the server keeps of the environment it was started from: each command brings
#: its own, and a server must not look like part of the session that happened to start it.
_SERVER_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "PYTHONDONTWRITEBYTECODE",
               "KAIROS_FORKSERVER_IDLE")


def socket_path() -> str:
    """Where this user's command server for this installation listens: a private
    directory (``$XDG_RUNTIME_DIR/kairos`` or ``/tmp/kairos-<uid>``, or
    ``$KAIROS_FORKSERVER_DIR``), one socket per Python and package location."""
    import binascii

    base = os.environ.get("KAIROS_FORKSERVER_DIR")
    if not base:
        runtime = os.environ.get("XDG_RUNTIME_DIR")
        base = (runtime + "/kairos") if runtime else f"/tmp/kairos-{os.getuid()}"
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    tag = binascii.crc32(f"{sys.executable}\0{here}".encode())
    return f"{base}/commands-{tag:08x}.sock"


def wanted(name: str) -> bool:
    return (name in QUICK_COMMANDS and os.environ.get(SWITCH, "1") != "0"
            and "SLURM_JOB_ID" not in os.environ)


def run(name: str, argv: list[str]) -> int | None:
    """Run ``name argv`` in the command server; its exit status, or None when the caller
    must run it itself (see the module docstring)."""
    if not wanted(name):
        return None
    path = socket_path()
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError:
        sock.close()
        start_server(path)
        return None
    try:
        return _delegate(sock, name, argv)
    finally:
        sock.close()


def _delegate(sock, name: str, argv: list[str]) -> int | None:
    umask = os.umask(0o022)
    os.umask(umask)
    fields = [PROTOCOL, name.encode(), str(umask).encode(), str(len(argv)).encode()]
    fields += [os.fsencode(arg) for arg in argv]
    fields += [os.fsencode(k) + b"=" + os.fsencode(v) for k, v in os.environ.items()]
    payload = b"\0".join(fields)
    cwd = os.open(".", os.O_RDONLY | os.O_DIRECTORY)
    fds = b"".join(fd.to_bytes(4, sys.byteorder, signed=True) for fd in (0, 1, 2, cwd))
    header = len(payload).to_bytes(8, "big")
    child = [0]
    pending: list[int] = []

    def forward(signum, frame):
        if child[0]:
            try:
                os.kill(child[0], signum)
            except OSError:
                pass
        else:
            pending.append(signum)

    # Caught from before the request leaves: a Ctrl-C that comes while the child starts
    # is passed on once its pid is known, not lost or turned on this process.
    previous = {signum: _signal.signal(signum, forward) for signum in FORWARDED}

    def run_here() -> int | None:
        """Nothing ran in the server: undo the handlers; a signal that came meanwhile
        ends the command as it would have ended it in-process, before it started."""
        for signum, handler in previous.items():
            _signal.signal(signum, handler)
        return 128 + pending[0] if pending else None

    try:
        sock.sendmsg([header, payload], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, fds)])
    except OSError:
        return run_here()
    finally:
        os.close(cwd)
    answer = b""
    while True:
        try:
            data = sock.recv(256)
        except InterruptedError:
            continue
        except OSError:
            data = b""
        if not data:
            break
        answer += data
        lines = answer.split(b"\n")
        if not child[0] and lines[0].startswith(b"pid ") and len(lines) > 1:
            child[0] = int(lines[0][4:])
            for signum in pending:
                forward(signum, None)
    lines = answer.split(b"\n")
    if not child[0]:
        return run_here()  # the server took nothing on (older code: it said "stale")
    for line in lines[1:]:
        if line.startswith(b"exit "):
            return int(line[5:])
        if line.startswith(b"signal "):
            signum = int(line[7:])
            _signal.signal(signum, _signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return 128 + signum
    os.write(2, b"kairos: the command server ended before the command did\n")
    return 1


def start_server(path: str) -> None:
    """Start a command server for the next command, detached from this one (its own
    session, its output to nothing)."""
    try:
        first = os.fork()
    except OSError:
        return
    if first:
        try:
            os.waitpid(first, 0)
        except OSError:
            pass
        return
    try:  # the middle process: a new session, then leave the server to init
        os.setsid()
        if os.fork() == 0:
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            os.closerange(3, os.sysconf("SC_OPEN_MAX"))
            os.chdir("/")
            env = {name: value for name, value in os.environ.items() if name in _SERVER_ENV}
            os.execve(sys.executable,
                      [sys.executable, "-P", "-m", "kairos.cli.forkserver", path], env)
    finally:
        os._exit(0)
