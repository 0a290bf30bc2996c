#!/bin/sh
# Runs an example and checks that it exits 0 and prints every expected line.
# Usage: check-example.sh EXAMPLE EXPECTED-LINE...
set -u
example=$1
shift
output=$("$example") || { echo "$example exited with status $?" >&2; exit 1; }
printf '%s\n' "$output"
for line in "$@"; do
  if ! printf '%s\n' "$output" | grep -qxF -- "$line"; then
    echo "missing from the output: $line" >&2
    exit 1
  fi
done
