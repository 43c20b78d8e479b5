#!/bin/bash
# A multi-node job as its script and its steps see it: the allocation, each rank's node,
# a one-task step, and a step whose tasks fail (srun's exit status and its messages).
echo "job: nodes=$SLURM_JOB_NODELIST nnodes=$SLURM_JOB_NUM_NODES ntasks=$SLURM_NTASKS tpn=$SLURM_NTASKS_PER_NODE cpus=$SLURM_JOB_CPUS_PER_NODE tasks=$SLURM_TASKS_PER_NODE batch=$SLURMD_NODENAME"
scontrol show hostnames "$SLURM_JOB_NODELIST"
srun --label bash -c 'echo "procid=$SLURM_PROCID nodeid=$SLURM_NODEID localid=$SLURM_LOCALID node=$SLURMD_NODENAME nodes=$SLURM_STEP_NODELIST ntasks=$SLURM_STEP_NUM_TASKS nnodes=$SLURM_STEP_NUM_NODES tasks=$SLURM_STEP_TASKS_PER_NODE step=$SLURM_STEP_ID"' | sort
srun -N1 -n1 bash -c 'echo "one: node=$SLURMD_NODENAME nnodes=$SLURM_NNODES ntasks=$SLURM_NTASKS step=$SLURM_STEP_ID"'
srun --label bash -c 'exit $((SLURM_PROCID + 2))' 2>srun-errors
echo "srun exit=$?"
sort srun-errors
srun --label bash -c 'env | grep ^SLURM' 2>&1 | sort >step-env
