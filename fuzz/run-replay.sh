#!/bin/sh
# run-replay.sh: make check's run of the fuzz-open target over the corpus
# (fuzz/corpus/: seeds and every input that once crashed or hung).
set -e
exec ./replay$EXEEXT "${srcdir:-.}/corpus"
