#!/bin/bash
# Prints the Slurm environment the job was given, one NAME=value a line, sorted.
env | grep -E '^(SLURM_|SLURMD_|ENVIRONMENT=)' | LC_ALL=C sort
