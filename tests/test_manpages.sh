#!/bin/sh
# test_manpages.sh: every public function, macro and constant of
# fmalloc-r.h has its manual page, the pages render without warnings, and
# every libfmalloc-r page they and fmr(1) refer to exists.  Run by make
# check with top_srcdir and top_builddir in the environment, after doc/
# wrote the pages into $top_builddir/doc/man3 (make check builds doc
# first).
#
#   1. Each FMR_EXPORT function and each function-like fmr_* macro has
#      doc/man3/NAME.3: a page that lists NAME in its NAME section, or a
#      stub ".so man3/PAGE.3" whose PAGE does.
#   2. Each FMR_* constant of fmalloc-r.h and fmalloc-r-version.h.in
#      (enumeration constants, #defines) appears in some page.
#   3. Every reference NAME(3) to an fmr_* or libfmalloc-r page, and
#      fmr(1), in our pages and in fmr(1), names a page that exists.
#   4. The .TH line carries the version and a YYYY-MM-DD date, no @VAR@.
#   5. groff -man -ww -z renders each page (stubs through their .so)
#      without a warning, and man(1) finds each stub's page.
# Without groff, 1-4 still run and the test is skipped (77) if they pass.
#
# Copyright (C) 2026 The libfmalloc-r authors.
# This file is part of libfmalloc-r, free software under the GNU Lesser
# General Public License, version 2.1 or (at your option) any later version.

set -u
: "${top_srcdir:?}" "${top_builddir:?}"
header="$top_srcdir/include/fmalloc-r.h"
vheader="$top_srcdir/include/fmalloc-r-version.h.in"
mandir="$top_builddir/doc/man3"
status=0
fail () { echo "FAIL: $*"; status=1; }

test -d "$mandir" || { echo "FAIL: no $mandir: run make in doc/ first"; exit 1; }

# fmr(1): wherever it lives (doc/, or fmr/ with the tool), as written or
# as made from a template.
fmr1=
for f in "$top_builddir/doc/fmr.1" "$top_srcdir/doc/fmr.1" \
         "$top_builddir/fmr/fmr.1" "$top_srcdir/fmr/fmr.1" \
         "$top_srcdir/src/fmr.1"; do
  if test -f "$f"; then fmr1=$f; break; fi
done
test -n "$fmr1" || fail "fmr.1 not found"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/test_manpages.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT

# Target of a stub (its one line is ".so man3/PAGE.3"), or "" for a page.
stub_target () {
  sed -n '1s|^\.so man3/\([A-Za-z0-9_.-]*\)\.3$|\1|p' "$1"
}
# The names a page documents: its NAME section, "a, b, c \- what".
page_names () {
  sed -n '/^\.SH NAME/{n;p;}' "$1" | sed 's/ *\\-.*//; s/,/ /g'
}

# 1. Functions and macros.
{
  sed -n 's/^FMR_EXPORT[^(]*[ *]\([A-Za-z_][A-Za-z0-9_]*\)(.*/\1/p' "$header"
  sed -n 's/^#define \(fmr_[a-z0-9_]*\)(.*/\1/p' "$header"
} | sort -u > "$tmp/functions"
n=$(wc -l < "$tmp/functions")
test "$n" -gt 30 || fail "only $n public functions found in $header"
while read -r fn; do
  page="$mandir/$fn.3"
  if test ! -f "$page"; then
    fail "$fn has no manual page ($page)"
    continue
  fi
  target=$(stub_target "$page")
  if test -n "$target"; then
    if test ! -f "$mandir/$target.3"; then
      fail "$fn.3 is a link to $target.3, which does not exist"
      continue
    fi
    if test -n "$(stub_target "$mandir/$target.3")"; then
      fail "$fn.3 links to $target.3, itself a link"
      continue
    fi
    page="$mandir/$target.3"
  fi
  page_names "$page" | tr ' ' '\n' | grep -qx "$fn" ||
    fail "$fn is not in the NAME section of $(basename "$page")"
done < "$tmp/functions"

# The pages proper (not stubs), for the checks below.
for p in "$mandir"/*.3; do
  test -n "$(stub_target "$p")" || echo "$p"
done > "$tmp/pages"

# 2. Constants.
{
  sed -n 's/^#define \(FMR_[A-Z0-9_]*\).*/\1/p' "$header" "$vheader"
  sed -n 's/^ *\(FMR_[A-Z0-9_]*\) = .*/\1/p' "$header"
} | grep -v -x -e FMR_EXPORT -e FMR_BUILDING_LIBRARY | sort -u > "$tmp/constants"
n=$(wc -l < "$tmp/constants")
test "$n" -gt 40 || fail "only $n constants found in $header"
# shellcheck disable=SC2046
cat $(cat "$tmp/pages") > "$tmp/all"
while read -r c; do
  grep -q "\\b$c\\b" "$tmp/all" || fail "constant $c is in no manual page"
done < "$tmp/constants"

# 3. References, read from the rendered text (no fonts, one long line per
# paragraph, so none is broken or hyphenated) when groff is there, else
# from the source with its fonts and \- removed.
have_groff=no
command -v groff >/dev/null 2>&1 && have_groff=yes
render_text () {
  if test $have_groff = yes; then
    groff -man -Tascii -P-cbou -rLL=5000n -rHY=0 "$1" 2>/dev/null
  else
    sed -e 's/\\f[BIRP]//g' -e 's/\\-/-/g' -e 's/^\.[A-Z][A-Z]* //' \
        -e 's/ (\([0-9]\))/(\1)/g' "$1"
  fi
}
for p in $(cat "$tmp/pages") $fmr1; do
  render_text "$p" |
    grep -o '\(fmr_[a-z0-9_]*\|libfmalloc-r\|fmr\)([0-9])' |
    sed "s|^|$(basename "$p") |"
done | sort -u > "$tmp/refs"
test -s "$tmp/refs" || fail "no references found in the pages"
while read -r from ref; do
  name=${ref%(*}
  sect=$(echo "$ref" | sed 's/.*(\([0-9]\))/\1/')
  case $sect in
    3) test -f "$mandir/$name.3" || fail "$from cites $ref, which does not exist" ;;
    1) test "$name" = fmr && test -n "$fmr1" ||
         fail "$from cites $ref, which does not exist" ;;
    *) fail "$from cites $ref: no such section of libfmalloc-r" ;;
  esac
done < "$tmp/refs"
grep -q '^fmr\.1 ' "$tmp/refs" ||
  fail "no reference to a libfmalloc-r page found in fmr(1) ($fmr1)"

# 4. The .TH line.
version=$(sed -n 's/^#define FMR_VERSION_STRING "\(.*\)"/\1/p' \
  "$top_builddir/include/fmalloc-r-version.h")
while read -r p; do
  th=$(grep '^\.TH ' "$p")
  case $th in
    *@*) fail "$(basename "$p"): unsubstituted .TH: $th" ;;
  esac
  echo "$th" | grep -q "\"[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]\" \"libfmalloc-r $version\"" ||
    fail "$(basename "$p"): .TH without the release date and version $version: $th"
  grep -q '@[A-Za-z_]*@' "$p" && fail "$(basename "$p"): unsubstituted @VARIABLE@"
done < "$tmp/pages"

# 5. Rendering.
if test $have_groff = no; then
  test $status = 0 || exit $status
  echo "SKIP: groff is not installed (Debian: apt-get install groff-base);" \
    "pages, links, constants and references are right, rendering is not checked"
  exit 77
fi
pages_checked=0
for p in "$mandir"/*.3 $fmr1; do
  # A stub's .so is resolved from the directory above man3/, as man does.
  (cd "$(dirname "$p")/.." &&
   groff -man -Tutf8 -ww -z "$(basename "$(dirname "$p")")/$(basename "$p")") \
    > "$tmp/warnings" 2>&1
  if test -s "$tmp/warnings"; then
    fail "groff warns about $p:"
    cat "$tmp/warnings"
  fi
  pages_checked=$((pages_checked + 1))
done
if command -v man >/dev/null 2>&1; then
  for p in "$mandir"/*.3; do
    target=$(stub_target "$p")
    test -n "$target" || continue
    name=$(basename "$p" .3)
    MANPAGER=cat MANWIDTH=80 man -M "$mandir/.." 3 "$name" 2>"$tmp/manerr" |
      grep -q "$(echo "$target" | tr a-z A-Z)(3)" ||
      { fail "man -M $mandir/.. 3 $name does not show $target(3):"; cat "$tmp/manerr"; }
  done
else
  echo "note: man(1) is not installed; the stubs were checked with groff only"
fi
echo "$(wc -l < "$tmp/functions") functions, $(wc -l < "$tmp/constants") constants," \
  "$(wc -l < "$tmp/refs") references, $pages_checked pages rendered"
exit $status
