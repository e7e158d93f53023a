#!/bin/sh
# run-replay-ops.sh: make check's run of the fuzz-ops target over its
# corpus (fuzz/corpus-ops/: the seeds ops-*.bin of make-corpus --ops,
# cov-* inputs of fuzzing runs that reached new code (libFuzzer -merge=1
# -use_counters=0), and every input that once crashed).
set -e
exec ./replay-ops$EXEEXT "${srcdir:-.}/corpus-ops"
