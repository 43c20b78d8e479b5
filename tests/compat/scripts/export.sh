#!/bin/bash
# What --export gave the job: the test's variables and the basics of a login.
echo "COMPAT_FOO=${COMPAT_FOO-unset}"
echo "COMPAT_BAR=${COMPAT_BAR-unset}"
echo "SLURM_COMPAT_X=${SLURM_COMPAT_X-unset}"
echo "HOME=${HOME-unset}"
echo "USER=${USER-unset}"
