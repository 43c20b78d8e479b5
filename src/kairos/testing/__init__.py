"""Support for Kairos's own tests and benchmarks: a Kairos in a temporary home, the
Slurm peer to compare against, and reference schedulers to check the core with.

Shipped with the package so that tests and benchmarks share it without importing each
other; nothing else in Kairos imports it (an import contract keeps it so).
"""
