#!/bin/sh
# Runs one libFuzzer target for a while: new inputs go to a scratch corpus
# in the build tree, the committed seed corpus is only read. A crash, leak,
# UBSan report or hang (-timeout) fails the test (exit 1: libFuzzer's own
# 77 would read as skipped) and leaves the input in
# the scratch directory as crash-*, leak-* or timeout-*.
# usage: run-fuzz.sh TARGET SEED-CORPUS SCRATCH-DIR DEFAULT-SECONDS
set -eu
target=$1 seeds=$2 scratch=$3
seconds=${SW_FUZZ_SECONDS:-$4}
mkdir -p "$scratch/new"
exec "$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -error_exitcode=1 \
  -print_final_stats=1 -artifact_prefix="$scratch/" "$scratch/new" "$seeds"
