#!/bin/bash
# Usage: exit_code.sh CODE. Ends with exit code CODE.
exit "$1"
