#!/bin/bash
#SBATCH -J compat-array
#SBATCH --array=1-7:3%2
#SBATCH -o %x-%A_%a.out
# One task of a three-task array (indices 1, 4 and 7, at most two at once): prints the
# task's array variables; task 7 fails with exit code 2.
env | grep -E '^(SLURM_ARRAY_|SLURM_JOB_ID=|SLURM_JOBID=|SLURM_JOB_NAME=)' | LC_ALL=C sort
if [ "$SLURM_ARRAY_TASK_ID" = 7 ]; then
  exit 2
fi
