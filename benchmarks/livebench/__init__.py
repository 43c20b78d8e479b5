"""The live benchmark (``benchmarks/live.py``): Kairos's live manager beside a real
Slurm 22.05, its parts one module each.

- :mod:`.options`: how big a run is, and what every benchmark job asks for;
- :mod:`.measure`: wall-clock timing, parallel submitters and progress bars;
- :mod:`.controller` and :mod:`.peer`: the two systems, built on the drivers of
  :mod:`kairos.testing` with what only the benchmark needs;
- :mod:`.phases` and :mod:`.drain`: the measurements, one function per phase;
- :mod:`.report` and :mod:`.output`: the rows found, and the table, Markdown page and
  JSON file made of them;
- :mod:`.cli`: the command line that runs it all.
"""
