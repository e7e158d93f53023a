#!/bin/sh
# test_exports.sh: the shared library exports exactly the functions that
# fmalloc-r.h declares with FMR_EXPORT, and each carries the symbol
# version node of src/libfmalloc-r.map (FMALLOC_R_0.1 for the first
# release).  Run by make check with top_srcdir, top_builddir and
# FMR_VERSION_SCRIPT (yes or no, from configure) in the environment.
#
# Copyright (C) 2026 The libfmalloc-r authors.
# This file is part of libfmalloc-r, free software under the GNU Lesser
# General Public License, version 2.1 or (at your option) any later version.

set -u
: "${top_srcdir:?}" "${top_builddir:?}"
header="$top_srcdir/include/fmalloc-r.h"
lib="$top_builddir/src/.libs/libfmalloc-r.so"
node=FMALLOC_R_0.1

if test ! -f "$lib"; then
  echo "SKIP: no shared library ($lib): configured with --disable-shared"
  exit 77
fi
if ! command -v readelf >/dev/null 2>&1; then
  echo "SKIP: readelf (binutils) is not installed"
  exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/test_exports.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT

# The declared set: the identifier before the first "(" of every line
# that starts with FMR_EXPORT.
sed -n 's/^FMR_EXPORT[^(]*[ *]\([A-Za-z_][A-Za-z0-9_]*\)(.*/\1/p' \
  "$header" | sort -u > "$tmp/declared"
test -s "$tmp/declared" || { echo "FAIL: no FMR_EXPORT lines in $header"; exit 1; }

# The exported set: defined dynamic symbols (Ndx not UND), leaving out
# the version nodes themselves (ABS).  Names look like fmr_open@@NODE
# (readelf -W prints the version after the name).
readelf --dyn-syms -W "$lib" |
  awk '$5 == "GLOBAL" || $5 == "WEAK" { if ($7 != "UND" && $7 != "ABS") print $8 }' |
  sort -u > "$tmp/exported"
sed 's/@.*//' "$tmp/exported" | sort -u > "$tmp/names"

status=0
if ! cmp -s "$tmp/declared" "$tmp/names"; then
  echo "FAIL: exported symbols differ from the FMR_EXPORT declarations"
  echo "(< declared in fmalloc-r.h only, > exported only):"
  diff "$tmp/declared" "$tmp/names"
  status=1
fi

if test "${FMR_VERSION_SCRIPT:-no}" != yes; then
  test $status = 0 &&
    echo "SKIP: the exported set is right; the linker takes no version" \
      "script, so symbol versions are not checked"
  test $status = 0 && exit 77
  exit $status
fi

# Every exported symbol is the default version (@@) of the node.
unversioned=$(grep -v "@@$node\$" "$tmp/exported")
if test -n "$unversioned"; then
  echo "FAIL: exported without the version node $node:"
  echo "$unversioned"
  status=1
fi
# The node is defined in the library.
if ! readelf -V -W "$lib" | grep -q "Name: $node"; then
  echo "FAIL: $lib defines no version node $node"
  status=1
fi
test $status = 0 && echo "PASS: $(wc -l < "$tmp/declared") symbols, all @@$node"
exit $status
