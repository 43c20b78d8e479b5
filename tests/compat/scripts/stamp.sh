#!/bin/bash
# Usage: stamp.sh [SECONDS [CODE]]. Prints when it started and ended (epoch seconds),
# sleeping SECONDS in between, and exits with CODE: enough to see the order jobs ran in.
echo "start $(date +%s.%N)"
sleep "${1:-0}"
echo "end $(date +%s.%N)"
exit "${2:-0}"
