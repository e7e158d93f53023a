#!/bin/sh
# run-examples.sh: run the example programs as a test (make check).
#
# Copyright (C) 2026 The libfmalloc-r authors.
# This file is part of libfmalloc-r, free software under the GNU Lesser
# General Public License, version 2.1 or (at your option) any later version.
#
# Runs named-array twice on a fresh heap file (the first run must create
# the array, the second must find it) and catalog-stats on the result,
# then the fmr tool ($fmr, default ../fmr/fmr) on that file: info, ls,
# check, tombstone, reclaim, and its errors for a missing and a foreign
# file.
# The programs are taken from the build directory (the current directory
# under make check, or $builddir); scratch files go to a directory made by
# mktemp -d under $TMPDIR or /tmp and are removed on exit.

set -u

builddir=${builddir:-.}
EXEEXT=${EXEEXT:-}
named_array=$builddir/named-array$EXEEXT
catalog_stats=$builddir/catalog-stats$EXEEXT
fmr=${fmr:-$builddir/../fmr/fmr$EXEEXT}

fail () {
  echo "run-examples.sh: FAIL: $*" >&2
  exit 1
}

for prog in "$named_array" "$catalog_stats" "$fmr"; do
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

echo "== fmr --version, info, ls, check"
out=$("$fmr" --version) || fail "fmr --version failed"
case $out in
  "fmr (libfmalloc-r) "*) ;;
  *) fail "fmr --version printed: $out" ;;
esac
out=$("$fmr" info "$heap") || fail "fmr info failed"
echo "$out"
case $out in
  *"format version:"*1*) ;;
  *) fail "fmr info shows no format version" ;;
esac
out=$("$fmr" ls "$heap") || fail "fmr ls failed"
echo "$out"
case $out in
  *committed*halves*) ;;
  *) fail "fmr ls does not list the committed record halves" ;;
esac
"$fmr" check "$heap" || fail "fmr check found problems in a good heap"

echo "== fmr tombstone, reclaim"
"$fmr" tombstone --name "$heap" halves || fail "fmr tombstone failed"
out=$("$fmr" ls "$heap") || fail "fmr ls failed"
case $out in
  *tombstone*halves*) ;;
  *) fail "fmr ls does not show the tombstone" ;;
esac
out=$("$fmr" reclaim "$heap") || fail "fmr reclaim failed"
case $out in
  *"reclaimed 1 "*) ;;
  *) fail "fmr reclaim printed: $out" ;;
esac
out=$("$fmr" ls "$heap") || fail "fmr ls failed"
case $out in
  *halves*) fail "the record is still listed after reclaim" ;;
esac
out=$("$named_array" "$heap") || fail "named-array after reclaim failed"
case $out in
  created*) ;;
  *) fail "named-array found a reclaimed record" ;;
esac

echo "== fmr errors"
"$fmr" check "$tmpdir/missing.heap" 2>/dev/null
status=$?
test "$status" -eq 2 || fail "fmr check of a missing file exited $status"
head -c 70000 /dev/urandom > "$tmpdir/random.bin"
cp "$tmpdir/random.bin" "$tmpdir/random.orig"
"$fmr" recover "$tmpdir/random.bin" 2>/dev/null
status=$?
test "$status" -eq 2 || fail "fmr recover of random bytes exited $status"
cmp -s "$tmpdir/random.bin" "$tmpdir/random.orig" \
  || fail "fmr recover changed a file that is not a heap"
"$fmr" frobnicate "$heap" 2>/dev/null
status=$?
test "$status" -eq 2 || fail "an unknown command exited $status"

echo "run-examples.sh: PASS"
exit 0
