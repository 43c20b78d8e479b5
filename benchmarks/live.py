"""Live-mode speed, Kairos beside a real Slurm 22.05 on the same machine.

    .venv/bin/python benchmarks/live.py                     # Kairos and the Slurm peer
    .venv/bin/python benchmarks/live.py --no-peer           # Kairos only
    .venv/bin/python benchmarks/live.py --jobs 1000 --queued 10000 --markdown docs/live-benchmarks.md
    .venv/bin/python benchmarks/live.py --reuse-peer        # peer numbers from the last run's JSON

What is measured, each from an idle, freshly started controller (a temporary
``KAIROS_HOME`` with its own SQLite database; ``kairos down`` at the end):

1. Submissions per second.  Through the command line: ``--cli-submits`` held
   ``sbatch --wrap true`` processes one after another, Kairos and the peer; for Kairos
   as ``kairos sbatch``, as the ``sbatch`` shim that ``kairos shims`` writes (what
   workflow managers run), and as that shim with ``KAIROS_FORKSERVER=0`` (the command
   in its own process rather than forked by the user's command server).  Through
   the Python API (Kairos only; Slurm 22.05 here has no REST daemon): ``--api-submits``
   held jobs from 1 client and from ``--api-clients`` client threads, each with its own
   keep-alive Unix-socket connection.  Jobs are held (``--hold``) so that running them
   does not compete with the submitters for the CPUs; they are cancelled afterwards.
2. Time to drain ``--jobs`` trivial jobs (``true``), from the first submission until the
   last one has finished: as one array and as single jobs.  Single jobs are submitted
   ``--parallel`` at a time: by API client threads for Kairos and by ``sbatch``
   processes for the peer (also by ``kairos sbatch`` processes, in a row of its own).
   Every job asks for ``--mem=100M`` (without it the peer, ``CR_Core_Memory`` with no
   default memory, gives each job the whole node and runs one at a time) and
   ``--nice=1000`` (so other people's jobs on the shared peer are not stuck behind these).
   The peer is done when ``squeue -r -n NAME`` lists none of them (it keeps no accounting).
3. ``squeue`` latency with ``--queued`` held jobs: the wall time of the whole command
   (median of ``--runs``).  The peer holds at most ``MaxJobCount`` job records, finished
   ones included for ``MinJobAge``, so it gets ``--peer-queued`` (or what fits).
4. Command-line start: ``kairos squeue`` and the ``squeue`` shim (with and without the
   command server) against an idle controller, ``kairos --help`` and ``python -c pass``
   as the floor (median of ``--cold-runs``), and the slowest imports of ``kairos
   squeue`` by ``python -X importtime``.

Only job ids this run submitted are ever cancelled on the peer.  The ratio column says
how many times better Kairos did (above 1: Kairos is faster).  Raw numbers go to
``--json`` (default ``benchmarks/results/live.json``).

This file is the entry point; the benchmark's parts are modules of ``livebench/``
beside it, built on the Kairos and Slurm drivers of ``kairos.testing``.
"""

from __future__ import annotations

from livebench.cli import main

if __name__ == "__main__":
    raise SystemExit(main(__doc__.splitlines()[0]))
