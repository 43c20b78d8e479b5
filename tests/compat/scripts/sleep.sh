#!/bin/bash
# Usage: sleep.sh SECONDS. Sleeps, for jobs that must be stopped (time limit, scancel).
sleep "$1"
