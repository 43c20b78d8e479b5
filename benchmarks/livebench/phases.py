"""The measurements, one function per phase, each adding its rows to the report:
command-line start (``cold``), submissions by ``sbatch`` (``cli``) and through the API
(``api``), ``squeue`` with a long queue (``squeue``) and the drain of many trivial jobs
(``drain``, in :mod:`.drain`).  ``benchmarks/live.py``'s docstring says what each one
measures and why."""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys

from kairos.node.shims import write_shims
from kairos.testing.commands import CommandFailed
from kairos.testing.home import KAIROS

from .controller import BenchController
from .drain import phase_drain
from .measure import err, in_sequence, median_ms, run_parallel
from .options import JOB_OPTIONS, Options
from .peer import BenchPeer
from .report import Report, Row, at_least, at_most

PYTHON = sys.executable
#: Every phase, in the order they run.
PHASES = ("cold", "cli", "api", "squeue", "drain")


def run_phases(phases: list[str], kairos: BenchController, peer: BenchPeer | None,
               opts: Options, report: Report) -> None:
    """Run the named phases in :data:`PHASES`' order; a phase that fails is noted and
    the others still run."""
    steps = {
        "cold": lambda: phase_cold_start(kairos, peer, opts, report),
        "cli": lambda: phase_cli_submissions(kairos, peer, opts, report),
        "api": lambda: phase_api_submissions(kairos, opts, report),
        "squeue": lambda: phase_squeue_queued(kairos, peer, opts, report),
        "drain": lambda: phase_drain(kairos, peer, opts, report),
    }
    for name in PHASES:
        if name in phases:
            err.print(f"[bold]phase: {name}[/]")
            before = len(report.rows)
            report.sample_load()
            try:
                steps[name]()
            except (RuntimeError, OSError, subprocess.SubprocessError) as e:
                why = e.reason if isinstance(e, CommandFailed) else str(e)
                report.notes.append(f"phase {name} failed: {why}")
                err.print(f"[red]phase {name} failed:[/] {why}")
            for row in report.rows[before:]:
                err.print("  " + " | ".join(cell for cell in row.cells() if cell))


def phase_cold_start(kairos: BenchController, peer: BenchPeer | None, opts: Options,
                     report: Report) -> None:
    """``kairos squeue`` on an idle controller, ``kairos --help``, ``python -c pass``."""
    kairos.restart()
    runs, no_cache = opts.cold_runs, bool(os.environ.get("PYTHONDONTWRITEBYTECODE"))
    squeue = report.add(Row("squeue_idle", f"`squeue`, idle controller (median of {runs})"
                            + (", no bytecode cache (PYTHONDONTWRITEBYTECODE=1 here)" if no_cache else ""),
                            "ms", target=at_most(150, "ms")))
    squeue.kairos = median_ms([KAIROS, "squeue"], runs, kairos.env, kairos.workdir,
                              "kairos squeue (idle)")
    if peer is not None:
        squeue.peer = median_ms(peer.argv("squeue"), runs, label="peer squeue (idle)")
        squeue.note = "the shared peer may list other people's jobs"
    shims = write_shims(kairos.root / "bin")
    shim = report.add(Row("squeue_shim", f"`squeue` shim (`kairos shims`), idle controller "
                          f"(median of {runs})", "ms", target=at_most(40, "ms")))
    shim.kairos = median_ms([str(shims / "squeue")], runs, kairos.env, kairos.workdir,
                            "squeue shim (idle)")
    shim.peer = squeue.peer
    alone = report.add(Row("squeue_alone", f"`squeue` shim with `KAIROS_FORKSERVER=0`: the "
                           f"command in its own process (median of {runs})", "ms"))
    alone.kairos = median_ms([str(shims / "squeue")], runs,
                             {**kairos.env, "KAIROS_FORKSERVER": "0"}, kairos.workdir,
                             "squeue shim, no command server (idle)")
    alone.peer = squeue.peer
    env = kairos.env
    if no_cache:  # what an installed Kairos does: bytecode compiled once, then reused
        env = {k: v for k, v in kairos.env.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = str(kairos.root / "pycache")
        cached = report.add(Row("squeue_idle_cached", f"`squeue`, idle controller (median of "
                                f"{runs}), bytecode cached as after an install", "ms",
                                target=at_most(150, "ms")))
        cached.kairos = median_ms([KAIROS, "squeue"], runs, env, kairos.workdir,
                                  "kairos squeue (idle, bytecode cached)")
        cached.peer = squeue.peer
    help_row = report.add(Row("help", f"`kairos --help` (median of {runs})", "ms",
                              peer_note="n/a"))
    help_row.kairos = median_ms([KAIROS, "--help"], runs, env, kairos.workdir, "kairos --help")
    floor = report.add(Row("python", f"`python -c pass`, the floor (median of {runs})",
                           "ms", peer_note="n/a"))
    floor.kairos = median_ms([PYTHON, "-c", "pass"], runs, env, label="python -c pass")
    report.imports = slowest_imports(kairos, env, 5)


def slowest_imports(kairos: BenchController, env: dict, count: int, runs: int = 5) -> list[dict]:
    """The top-level imports of ``kairos squeue`` that take longest (``-X importtime``,
    each module's median over ``runs`` runs)."""
    samples: dict[str, list[tuple[float, float]]] = {}
    for _ in range(runs):
        proc = subprocess.run([PYTHON, "-X", "importtime", KAIROS, "squeue"], env=env,
                              cwd=kairos.workdir, capture_output=True, text=True)
        for line in proc.stderr.splitlines():
            m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| ( *)(\S+)", line)
            if m and not m.group(3):  # top level: together they cover every import
                samples.setdefault(m.group(4), []).append(
                    (int(m.group(1)) / 1000, int(m.group(2)) / 1000))
    rows = [{"module": module, "self_ms": statistics.median(s for s, _ in pairs),
             "cumulative_ms": statistics.median(c for _, c in pairs)}
            for module, pairs in samples.items()]
    total = sum(r["cumulative_ms"] for r in rows)
    rows.sort(key=lambda r: r["cumulative_ms"], reverse=True)
    return [{"module": "(all imports)", "self_ms": None, "cumulative_ms": total}] + rows[:count]


def phase_cli_submissions(kairos: BenchController, peer: BenchPeer | None, opts: Options,
                          report: Report) -> None:
    """``sbatch --hold --wrap true`` processes one after another."""
    kairos.restart()
    n, name = opts.cli_submits, f"{opts.tag}-cli"
    args = ["--hold", *JOB_OPTIONS, f"--job-name={name}", "--wrap", "true"]
    row = report.add(Row("cli_submit", f"submissions/s, CLI: {n} held `sbatch` in a row",
                         "jobs/s", higher_is_better=True))
    ids, seconds = in_sequence(n, lambda: kairos.submit(*args), "kairos sbatch")
    row.kairos = n / seconds
    kairos.cancel(ids)
    sbatch = str(write_shims(kairos.root / "bin") / "sbatch")
    shim = report.add(Row("cli_submit_shim", f"submissions/s, CLI: {n} held `sbatch` (shim) "
                          "in a row", "jobs/s", higher_is_better=True,
                          target=at_least(40, "jobs/s")))
    alone = report.add(Row("cli_submit_alone", f"submissions/s, CLI: {n} held `sbatch` (shim, "
                           "`KAIROS_FORKSERVER=0`: in its own process) in a row", "jobs/s",
                           higher_is_better=True))
    for line, env, label in ((shim, kairos.env, "sbatch shim"),
                             (alone, {**kairos.env, "KAIROS_FORKSERVER": "0"},
                              "sbatch shim, no command server")):
        ids, seconds = in_sequence(n, lambda env=env: _shim_submit(sbatch, args, kairos, env),
                                   label)
        line.kairos = n / seconds
        kairos.cancel(ids)
    if peer is not None:
        peer.wait_for_room(n + 100, 420)
        ids, seconds = in_sequence(n, lambda: peer.submit(*args), "peer sbatch")
        row.peer = shim.peer = alone.peer = n / seconds
        peer.cancel(ids)


def _shim_submit(sbatch: str, args: list[str], kairos: BenchController, env: dict) -> int:
    done = subprocess.run([sbatch, "--parsable", *args], env=env, cwd=kairos.workdir,
                          capture_output=True, text=True, check=True)
    return int(done.stdout.strip().split(";")[0])


def phase_api_submissions(kairos: BenchController, opts: Options, report: Report) -> None:
    """Held submissions through the Python API, 1 client and several."""
    n = opts.api_submits
    spec = kairos.spec("--hold", *JOB_OPTIONS, name=f"{opts.tag}-api")
    for clients in (1, opts.api_clients):
        kairos.restart()
        row = report.add(Row(f"api_submit_{clients}",
                             f"submissions/s, API: {n:,} held, {clients} client"
                             + ("s" if clients > 1 else "") + ", one job per request",
                             "jobs/s", peer_note="n/a (no API)", higher_is_better=True,
                             target=at_least(2000, "jobs/s") if clients > 1 else None))
        ids, seconds = kairos.submit_api(spec, n, clients, f"API submit, {clients} client(s)")
        row.kairos = n / seconds
        kairos.cancel(ids)
    kairos.restart()
    size = opts.batch_size
    row = report.add(Row("api_submit_batch", f"submissions/s, API: {n:,} held, 1 client, "
                         f"{size} jobs per request (`Client.submit_many`)", "jobs/s",
                         peer_note="n/a (no API)", higher_is_better=True))
    ids, seconds = kairos.submit_batches(spec, n, size, f"API submit, batches of {size}")
    row.kairos = n / seconds
    kairos.cancel(ids)


def phase_squeue_queued(kairos: BenchController, peer: BenchPeer | None, opts: Options,
                        report: Report) -> None:
    """``squeue`` with a long queue of held jobs."""
    row = report.add(Row("squeue_queued", "", "ms", target=None))
    peer_count = None
    if peer is not None:
        peer_count, row.peer = _peer_squeue(peer, opts)
    kairos.restart()
    spec = kairos.spec("--hold", *JOB_OPTIONS, name=f"{opts.tag}-queued")
    ids, _ = kairos.submit_api(spec, opts.queued, opts.api_clients,
                               f"Kairos: queue {opts.queued:,} held jobs")
    _check_lines(kairos.run("squeue", "-h").stdout, opts.queued, "kairos squeue")
    row.kairos = median_ms([KAIROS, "squeue"], opts.runs, kairos.env, kairos.workdir,
                           "kairos squeue (queued)")
    kairos.cancel(ids)
    row.measure = (f"`squeue`, {opts.queued:,} held jobs queued (median of {opts.runs})"
                   if peer_count in (None, opts.queued) else
                   f"`squeue`, held jobs queued: Kairos {opts.queued:,}, peer {peer_count:,} "
                   f"(median of {opts.runs})")
    if peer_count is not None and peer_count != opts.queued:
        row.note = (f"the peer's MaxJobCount ({peer.config.get('MaxJobCount')}) counts finished "
                    f"records too; it got {peer_count:,} jobs")


def _peer_squeue(peer: BenchPeer, opts: Options) -> tuple[int, float]:
    room = peer.wait_for_room(opts.peer_queued + 200, 420)
    count = max(0, min(opts.peer_queued, room - 200))
    name = f"{opts.tag}-queued"
    args = ["--hold", *JOB_OPTIONS, f"--job-name={name}", "--wrap", "true"]
    ids = run_parallel(count, opts.parallel, lambda _: peer.submit(*args),
                       f"peer: queue {count:,} held jobs")
    try:
        _check_lines(peer.run("squeue", "-h", "-n", name, check=False).stdout, count,
                     "peer squeue")
        return count, median_ms(peer.argv("squeue"), opts.runs, label="peer squeue (queued)")
    finally:
        peer.cancel(ids)


def _check_lines(out: str, expected: int, what: str) -> None:
    lines = len(out.splitlines())
    if lines < expected:
        raise RuntimeError(f"{what} listed {lines} jobs, expected {expected}")
