#!/bin/sh
# Runs a program and checks that it exits 0 and that its output is exactly
# the expected lines, in order.
# Usage: check-output.sh [--ignore REGEX] [--any-order] EXPECTED PROGRAM [ARG...]
#   EXPECTED      the expected lines, joined by newlines
#   --ignore      leave out output lines matching the extended REGEX (whole
#                 line) before comparing: lines that vary from run to run
#   --any-order   compare sorted lines: for two processes printing at once
set -u
ignore=
sort=cat
while :; do
  case $1 in
    --ignore) ignore=$2; shift 2 ;;
    --any-order) sort=sort; shift ;;
    *) break ;;
  esac
done
expected=$1
shift
output=$("$@") || { echo "$* exited with status $?" >&2; exit 1; }
printf '%s\n' "$output"
if [ -n "$ignore" ]; then
  output=$(printf '%s\n' "$output" | grep -vxE -- "$ignore")
fi
got=$(printf '%s\n' "$output" | $sort)
want=$(printf '%s\n' "$expected" | $sort)
if [ "$got" != "$want" ]; then
  printf 'expected:\n%s\ngot:\n%s\n' "$want" "$got" >&2
  exit 1
fi
