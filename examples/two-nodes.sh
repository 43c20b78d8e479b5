#!/bin/bash
#SBATCH --job-name=two-nodes
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=2
#SBATCH --time=00:05:00
#SBATCH --output=%x-%j.out
# A job on two nodes: its script runs on the first one, and srun starts one task per
# slot on both, each told who it is by the Slurm environment.  Runs unchanged under
# Slurm and under Kairos (`kairos up --nodes 2` gives a test cluster on one machine).

echo "batch script on $SLURMD_NODENAME; the job has $SLURM_JOB_NODELIST ($SLURM_TASKS_PER_NODE tasks per node)"
srun --label bash -c 'echo "task $SLURM_PROCID of $SLURM_NTASKS on $SLURMD_NODENAME (node $SLURM_NODEID, local task $SLURM_LOCALID)"' | sort
