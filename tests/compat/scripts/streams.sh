#!/bin/bash
# One line to standard output, then one to standard error.
echo to-stdout
echo to-stderr >&2
