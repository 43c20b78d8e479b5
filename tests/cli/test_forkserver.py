"""The command server: Slurm commands handed to a warm process of the user's run exactly
as they would in their own process (output, status, working directory, environment,
umask, standard input, signals), and fall back to running in-process whenever the
server cannot be trusted to (none yet, older code, inside a job).

Everything runs for real: a controller in a temporary home, the shims that
``kairos shims`` writes, a server in a temporary directory of its own."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest

from kairos.cli import fastpath
from kairos.node.shims import write_shims
from kairos.testing.commands import clean_environment
from kairos.testing.home import KairosHome


@pytest.fixture(scope="module")
def home():
    root = Path(tempfile.mkdtemp(prefix="kairos-fork-"))
    made = KairosHome(root / "home", root / "work")
    made.workdir.mkdir(parents=True)
    made.run("up")
    yield made
    made.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def shims(home, tmp_path):
    """The shims' folder and the environment to run them in, with a server directory of
    the test's own; its server is stopped afterwards."""
    folder = write_shims(tmp_path / "bin")
    env = clean_environment()
    env.update(KAIROS_HOME=str(home.home), KAIROS_FORKSERVER_DIR=str(tmp_path / "fs"))
    yield folder, env
    for server in _servers(tmp_path / "fs"):
        server.kill()


def _servers(folder: Path) -> list[psutil.Process]:
    """The servers of ``folder`` (not their children, which share their command line)."""
    found = [p for p in psutil.process_iter(["cmdline", "ppid"])
             if "kairos.cli.forkserver" in (p.info["cmdline"] or [])
             and any(str(folder) in word for word in p.info["cmdline"])]
    pids = {p.pid for p in found}
    return [p for p in found if p.info["ppid"] not in pids]


def _run(shims, *argv, cwd=None, input=None, env=None) -> subprocess.CompletedProcess:
    folder, base = shims
    return subprocess.run([str(folder / argv[0]), *argv[1:]], cwd=cwd, input=input,
                          env={**base, **(env or {})}, capture_output=True, text=True,
                          timeout=60)


def _served(shims, command: str, *argv: str, env=None) -> bool:
    """Whether ``command`` was run by the server (rather than in its own process)."""
    _, base = shims
    probe = (f"import sys; from kairos.cli import fastpath\n"
             f"code = fastpath.run({command!r}, {list(argv)!r})\n"
             f"print('here' if code is None else 'served', file=sys.stderr)\n")
    done = subprocess.run([sys.executable, "-c", probe], env={**base, **(env or {})},
                          capture_output=True, text=True, timeout=60)
    return done.stderr.strip().splitlines()[-1] == "served"


def _warm(shims) -> None:
    """Start the server and wait until it serves."""
    deadline = time.monotonic() + 20
    while not _served(shims, "sinfo", "-h"):
        assert time.monotonic() < deadline, "the command server never started"
        time.sleep(0.1)


def test_the_first_command_starts_a_server_and_later_ones_run_in_it(shims):
    folder, env = shims
    assert not _served(shims, "sinfo")  # no server yet: ran here, and started one
    _warm(shims)
    server = Path(env["KAIROS_FORKSERVER_DIR"])
    assert server.stat().st_mode & 0o777 == 0o700
    [sock] = server.glob("commands-*.sock")
    assert sock.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("argv", [["squeue"], ["sinfo"], ["squeue", "-t", "all", "-o", "%i %j %T"],
                                  ["scontrol", "show", "partition"], ["sacct", "-X", "-n"],
                                  ["scontrol", "show", "job", "99999"], ["squeue", "--bogus"]])
def test_output_and_status_are_those_of_the_command_run_alone(shims, argv):
    _warm(shims)
    quick = _run(shims, *argv)
    alone = _run(shims, *argv, env={"KAIROS_FORKSERVER": "0"})
    assert (quick.returncode, quick.stdout, quick.stderr) == \
        (alone.returncode, alone.stdout, alone.stderr)


def test_sbatch_gets_the_callers_directory_environment_umask_and_stdin(shims, home, tmp_path):
    _warm(shims)
    work = tmp_path / "deep" / "dir"
    work.mkdir(parents=True)
    (work / "job.sh").write_text("#!/bin/bash\necho \"$GREETING $(umask) $PWD\"\n")
    done = _run(shims, "sbatch", "--parsable", "-o", "%x.out", "job.sh", cwd=work,
                env={"GREETING": "hello", "SBATCH_JOB_NAME": "named-by-env"})
    assert done.returncode == 0, done.stderr
    home.wait(int(done.stdout), timeout=30)
    assert (work / "named-by-env.out").read_text() == f"hello 0022 {work}\n"
    old = os.umask(0o077)
    try:
        piped = _run(shims, "sbatch", "--parsable", "-o", "piped.out", cwd=work,
                     input="#!/bin/bash\necho from stdin $(umask)\n")
    finally:
        os.umask(old)
    home.wait(int(piped.stdout), timeout=30)
    assert (work / "piped.out").read_text() == "from stdin 0077\n"
    assert _served(shims, "sbatch", "--help")


def test_a_batch_script_runs_with_its_submitters_umask(shims, home, tmp_path):
    # as under Slurm (checked against 22.05: `umask 0027; sbatch` runs the script with
    # 0027), whether or not the command server ran sbatch
    for server in ("1", "0"):
        old = os.umask(0o027)
        try:
            done = _run(shims, "sbatch", "--parsable", "-o", f"umask-{server}.out", "--wrap",
                        "umask; touch made", cwd=tmp_path, env={"KAIROS_FORKSERVER": server})
        finally:
            os.umask(old)
        home.wait(int(done.stdout), timeout=30)
        assert (tmp_path / f"umask-{server}.out").read_text() == "0027\n"
        assert (tmp_path / "made").stat().st_mode & 0o777 == 0o640


def test_a_signal_to_the_caller_reaches_the_command(shims, tmp_path):
    # sbatch --wait on a held job waits until interrupted; Ctrl-C (SIGINT) goes to the
    # caller, which passes it on: the command ends as it would alone.
    _warm(shims)
    folder, env = shims
    waiting = subprocess.Popen([str(folder / "sbatch"), "--wait", "--hold", "--wrap", "sleep 1"],
                               env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    child = _command_child(waiting.pid, tmp_path)
    waiting.send_signal(signal.SIGINT)
    waiting.communicate(timeout=20)
    assert waiting.returncode == 130
    child.wait(timeout=10)  # the command itself ended, not only the caller


def test_a_killed_caller_takes_its_command_along(shims, tmp_path):
    _warm(shims)
    folder, env = shims
    waiting = subprocess.Popen([str(folder / "sbatch"), "--wait", "--hold", "--wrap", "sleep 1"],
                               env=env, cwd=tmp_path, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    child = _command_child(waiting.pid, tmp_path)
    waiting.kill()
    waiting.wait(timeout=10)
    child.wait(timeout=10)


def _command_child(caller: int, folder: Path) -> psutil.Process:
    """The server's child running the caller's command (found by its working directory,
    which is the caller's)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for server in _servers(folder / "fs"):
            for child in server.children():
                try:
                    if child.cwd() == str(folder):
                        return child
                except psutil.Error:
                    pass
        time.sleep(0.05)
    raise AssertionError(f"no command of caller {caller} runs in the server")


def test_a_server_running_older_code_makes_way(shims):
    _warm(shims)
    [server] = _servers(Path(shims[1]["KAIROS_FORKSERVER_DIR"]))
    source = Path(fastpath.__file__).with_name("unix_http.py")
    stamp = source.stat()
    os.utime(source, ns=(stamp.st_atime_ns, stamp.st_mtime_ns + 1_000_000_000))
    try:
        assert not _served(shims, "sinfo")  # answered "stale": ran here
        server.wait(timeout=10)
        _warm(shims)  # and a new server took its place
    finally:
        os.utime(source, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))


def test_commands_in_jobs_and_interactive_ones_run_in_their_own_process(shims):
    _warm(shims)
    assert not _served(shims, "squeue", env={"SLURM_JOB_ID": "7"})
    assert not _served(shims, "srun", "true")
    assert not _served(shims, "squeue", env={"KAIROS_FORKSERVER": "0"})
