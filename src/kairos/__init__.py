"""Kairos: a workload manager for clusters where HPC and AI meet.

Layers (one folder each): ``core`` (pure scheduling), ``predict`` (runtime models),
``sim`` (digital twin on a virtual clock), ``cli`` (command line).
"""

__version__ = "0.1.0"
