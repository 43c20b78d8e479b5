#!/bin/bash
#SBATCH --job-name=squares
#SBATCH --array=1-8%4
#SBATCH --cpus-per-task=1
#SBATCH --mem=100M
#SBATCH --time=00:05:00
#SBATCH --output=%x-%A_%a.out
# An ordinary Slurm job array: eight tasks, at most four at a time.  Runs unchanged
# under Slurm (`sbatch examples/array.sh`) and under Kairos (`kairos sbatch ...`).

n=$SLURM_ARRAY_TASK_ID
echo "task $n of $SLURM_ARRAY_TASK_COUNT (job $SLURM_JOB_ID, array $SLURM_ARRAY_JOB_ID) on $SLURM_JOB_NODELIST"
sleep 1
echo "$n squared is $((n * n))"
