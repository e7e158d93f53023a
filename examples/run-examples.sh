#!/bin/sh
# run-examples.sh: run the example programs as a test (make check).
#
# Copyright (C) 2026 The libfmalloc-r authors.
# This file is part of libfmalloc-r, free software under the GNU Lesser
# General Public License, version 2.1 or (at your option) any later version.
#
# Runs named-array twice on a fresh heap file (the first run must create
# the array, the second must find it) and catalog-stats on the result.
# The programs are taken from the build directory (the current directory
# under make check, or $builddir); scratch files go to a directory made by
# mktemp -d under $TMPDIR or /tmp and are removed on exit.

set -u

builddir=${builddir:-.}
EXEEXT=${EXEEXT:-}
named_array=$builddir/named-array$EXEEXT
catalog_stats=$builddir/catalog-stats$EXEEXT

fail () {
  echo "run-examples.sh: FAIL: $*" >&2
  exit 1
}

for prog in "$named_array" "$catalog_stats"; do
  test -x "$prog" || { echo "run-examples.sh: $prog not built" >&2; exit 99; }
done

tmpdir=$(mktemp -d "${TMPDIR:-/tmp}/fmr-examples.XXXXXX") \
  || { echo "run-examples.sh: cannot create a scratch directory" >&2; exit 99; }
trap 'rm -rf "$tmpdir"' EXIT
trap 'exit 1' HUP INT TERM
heap=$tmpdir/named.heap

echo "== named-array (first run)"
out=$("$named_array" "$heap") || fail "first named-array run failed"
echo "$out"
case $out in
  created*) ;;
  *) fail "first run did not report 'created'" ;;
esac

echo "== named-array (second run)"
out=$("$named_array" "$heap") || fail "second named-array run failed"
echo "$out"
case $out in
  found*) ;;
  *) fail "second run did not report 'found'" ;;
esac

echo "== catalog-stats"
out=$("$catalog_stats" "$heap") || fail "catalog-stats failed"
echo "$out"
case $out in
  *halves*) ;;
  *) fail "catalog-stats did not list the record \"halves\"" ;;
esac

echo "run-examples.sh: PASS"
exit 0
