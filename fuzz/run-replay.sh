#!/bin/sh
# run-replay.sh: make check's run of the fuzz target over the corpus
# (fuzz/corpus/: seeds and every input that once crashed or hung).
set -e
exec ./replay$EXEEXT "${srcdir:-.}/corpus"
