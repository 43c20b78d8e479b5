#!/bin/bash
# Ends killed by a signal (SIGUSR1), not by an exit code.
kill -USR1 $$
