"""RLScheduler's evaluation protocol (Zhang et al., SC 2020) on the digital twin.

Each trace becomes a pool: its first 10,000 jobs once the protocol's filters have run.
From the pool, windows of 1,024 consecutive jobs start at random offsets; each window is
replayed alone from an empty machine, its submit times shifted so that its first job
arrives at 0, and scored by its average bounded slowdown (10 s bound), averaged over the
windows.  ``docs/rlscheduler.md`` describes every convention.

- ``sequences``: the pool and the windows drawn from it, each a ``Workload``;
- ``released``: the rules of the authors' released simulator, re-implemented as a
  reference to tell differences of scheduler from differences of sequences;
- ``evaluation``: the configurations compared, one window under each, a trace's windows
  (in parallel processes), and the statistics the results are given with.

``benchmarks/rlscheduler_protocol.py`` runs the protocol and prints the tables.
"""
