#!/bin/bash
#SBATCH --job-name=allreduce
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=1
#SBATCH --time=00:05:00
#SBATCH --output=%x-%j.out
# A distributed job as training scripts write them: one task per node, started by srun,
# meeting through the Slurm environment alone (the first node of the job's node list is
# the rendezvous), then an all-reduce with torch.distributed.  Runs unchanged under
# Slurm and under Kairos; gloo on CPUs, NCCL on GPUs when the job has some
# (`sbatch --gpus-per-node=1 examples/allreduce.sh`).  PYTHON names an interpreter with
# torch (default: python3).  Submit it from this directory: the batch script itself runs
# from the spool, under Slurm as under Kairos, so the program is found through
# SLURM_SUBMIT_DIR.

export MASTER_ADDR=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)
export MASTER_PORT=${MASTER_PORT:-29500}
srun "${PYTHON:-python3}" "$SLURM_SUBMIT_DIR/allreduce.py"
