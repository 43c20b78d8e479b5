#!/bin/bash
# Where the job runs, and where it was submitted from.
echo "pwd=$(pwd -P)"
echo "SLURM_SUBMIT_DIR=$SLURM_SUBMIT_DIR"
