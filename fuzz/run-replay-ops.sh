#!/bin/sh
# run-replay-ops.sh: make check's run of the fuzz-ops target over its
# corpus (fuzz/corpus-ops/: seeds and every input that once crashed).
set -e
exec ./replay-ops$EXEEXT "${srcdir:-.}/corpus-ops"
