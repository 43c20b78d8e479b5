"""The live benchmark's command line (``benchmarks/live.py``): parse the options, find
the peer, run the chosen phases against a fresh controller, then show the table and
save the JSON file (and the Markdown page when asked).  Only job ids this run submitted
are ever cancelled on the peer, Ctrl-C and SIGTERM included."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from rich.console import Console

from kairos.testing.slurm_peer import default_start_script

from .controller import benchmark_controller
from .measure import err
from .options import Options
from .output import markdown, render_table, reuse_peer, save_json
from .peer import BenchPeer, open_peer
from .phases import PHASES, run_phases
from .report import PEER_UNAVAILABLE, Report

REPO = Path(__file__).resolve().parents[2]
DEFAULT_JSON = REPO / "benchmarks" / "results" / "live.json"
#: How the page says it was made (the options follow).
COMMAND = ".venv/bin/python benchmarks/live.py"


def parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--jobs", type=int, default=1000, help="jobs to drain (array size too)")
    parser.add_argument("--queued", type=int, default=10_000, help="held jobs queued for squeue")
    parser.add_argument("--peer-queued", type=int, default=9000,
                        help="held jobs queued on the peer (its MaxJobCount is 10,000)")
    parser.add_argument("--cli-submits", type=int, default=200)
    parser.add_argument("--api-submits", type=int, default=5000)
    parser.add_argument("--api-clients", type=int, default=8, help="concurrent API clients")
    parser.add_argument("--batch-size", type=int, default=100, help="jobs per batch request")
    parser.add_argument("--parallel", type=int, default=8, help="concurrent submitters when draining")
    parser.add_argument("--runs", type=int, default=10, help="squeue runs with a long queue")
    parser.add_argument("--cold-runs", type=int, default=20, help="runs per cold-start measurement")
    parser.add_argument("--phases", default=",".join(PHASES), help=f"subset of {','.join(PHASES)}")
    parser.add_argument("--no-peer", action="store_true", help="Kairos only")
    parser.add_argument("--reuse-peer", action="store_true",
                        help="take the peer's numbers from --json instead of measuring them")
    parser.add_argument("--peer-start", type=Path, default=default_start_script(REPO))
    parser.add_argument("--peer-timeout", type=float, default=5400, help="seconds per peer drain")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where raw results go")
    parser.add_argument("--markdown", type=Path, help="also write the report page here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary KAIROS_HOME")
    return parser


def main(description: str) -> int:
    """Run the benchmark as the command line says; the exit status."""
    arguments = parser(description)
    args = arguments.parse_args()
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    unknown = set(phases) - set(PHASES)
    if unknown:
        arguments.error(f"unknown phase(s) {', '.join(sorted(unknown))}; choose from {', '.join(PHASES)}")

    opts = Options(jobs=args.jobs, queued=args.queued, peer_queued=args.peer_queued,
                   cli_submits=args.cli_submits, api_submits=args.api_submits,
                   api_clients=args.api_clients, parallel=args.parallel, runs=args.runs,
                   cold_runs=args.cold_runs, batch_size=args.batch_size,
                   peer_timeout=args.peer_timeout,
                   tag=f"kbench{os.getpid()}")
    report = Report(options={k: v for k, v in asdict(opts).items() if k != "tag"})
    earlier = None
    if args.reuse_peer:
        if not args.json.is_file():
            arguments.error(f"--reuse-peer: no earlier results at {args.json}")
        earlier = json.loads(args.json.read_text())
    work = Path(tempfile.mkdtemp(prefix="kairos-bench-peer-"))
    peer_note, peer = _peer(args, report, work)
    report.sample_load()
    signal.signal(signal.SIGTERM, _interrupt)
    interrupted = False
    try:
        with benchmark_controller(args.keep) as kairos:
            run_phases(phases, kairos, peer, opts, report)
    except KeyboardInterrupt:
        interrupted = True
        report.notes.append("interrupted: the table is partial; nothing was saved")
    finally:
        if peer is not None:
            peer.cancel()
        shutil.rmtree(work, ignore_errors=True)
    report.sample_load()
    report.notes.append(f"1-minute load average between {min(report.loads):.1f} and "
                        f"{max(report.loads):.1f} at the phases' starts and ends "
                        f"({os.cpu_count()} cores; other people's work included)")
    for row in report.rows:
        if row.peer is None and not row.peer_note:
            row.peer_note = peer_note
    if earlier is not None:
        reuse_peer(report, earlier, args.json)
    console = Console(width=max(Console().width, 160))
    render_table(report, console)
    if interrupted:
        return 130
    save_json(report, args.json)
    if args.markdown:
        command = COMMAND + " " + " ".join(sys.argv[1:])
        args.markdown.write_text(markdown(report, command.strip()))
        err.print(f"wrote {args.markdown}")
    return 0


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt  # SIGTERM cleans up as Ctrl-C does: the peer jobs are cancelled


def _peer(args, report: Report, workdir: Path) -> tuple[str, BenchPeer | None]:
    """The peer to measure (None: not measured) and what to show in its column then."""
    if args.no_peer:
        return "not run (--no-peer)", None
    if args.reuse_peer:
        return "not in the earlier run", None
    peer, problem = open_peer(args.peer_start, workdir)
    if peer is None:
        report.notes.append(f"{PEER_UNAVAILABLE}: {problem}")
        return PEER_UNAVAILABLE, None
    report.peer_parameters = peer.parameters()
    return PEER_UNAVAILABLE, peer
