#!/bin/sh
# test_r_configure.sh: the R package's configure (R-package/configure)
# takes the library a user names, the bundled copy, or fails with a
# message that says what to do; and adds an rpath only for a directory
# the dynamic linker does not search.  Needs R (for R CMD config); run by
# make check with top_srcdir and top_builddir in the environment.
#
# Copyright (C) 2026 The libfmalloc-r authors.
# This file is part of libfmalloc-r, free software under the GNU Lesser
# General Public License, version 2.1 or (at your option) any later version.

set -u
: "${top_srcdir:?}" "${top_builddir:?}"
pkg_src="$top_srcdir/R-package"
lib="$top_builddir/src/.libs/libfmalloc-r.so"

if ! R_HOME=$(R RHOME 2>/dev/null) || test -z "$R_HOME"; then
  echo "SKIP: R is not installed"
  exit 77
fi
export R_HOME
if test ! -f "$lib"; then
  echo "SKIP: no shared library ($lib): configured with --disable-shared"
  exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/test_r_configure.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
failures=0
fail () {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# new_pkg NAME [bundle]: a package directory with configure and
# Makevars.in, and the bundled sources if asked.
new_pkg () {
  d=$tmp/$1
  mkdir -p "$d/src"
  cp "$pkg_src/configure" "$d/"
  cp "$pkg_src/src/Makevars.in" "$d/src/"
  if test "${2:-}" = bundle; then
    ${MAKE:-make} -s -C "$top_builddir/src" bundle \
      BUNDLE_DIR="$d/src/libfmalloc-r" > "$tmp/bundle.log" 2>&1 ||
      { cat "$tmp/bundle.log"; fail "make bundle"; }
  fi
  echo "$d"
}

# run NAME DIR [VAR=VALUE...] -- [ARGS...]: run configure in DIR with
# pkg-config unable to find libfmalloc-r; output in $tmp/NAME.out,
# status in $status.
run () {
  name=$1 dir=$2
  shift 2
  vars=
  while test $# -gt 0 && test "$1" != --; do
    vars="$vars $1"
    shift
  done
  test $# -gt 0 && shift
  # shellcheck disable=SC2086  # VAR=VALUE words are meant to be split
  (cd "$dir" && env -u PKG_CONFIG_PATH -u INCLUDE_DIR -u LIB_DIR \
     -u FMR_PREFIX -u FMR_BUNDLED PKG_CONFIG_LIBDIR=/nonexistent $vars \
     sh ./configure "$@") > "$tmp/$name.out" 2>&1
  status=$?
}

expect () { # NAME STATUS PATTERN
  if test "$status" -ne "$2"; then
    fail "$1: exit status $status, expected $2"
    cat "$tmp/$1.out"
  elif ! grep -q -- "$3" "$tmp/$1.out"; then
    fail "$1: output lacks '$3'"
    cat "$tmp/$1.out"
  else
    echo "ok: $1"
  fi
}

# A library built with a sanitizer (configure --enable-asan) cannot be
# loaded by a plain program ("ASan runtime does not come first"): the
# cases that link the built library are left out then, and say so.
sanitized=no
if ldd "$lib" 2>/dev/null | grep -q 'lib[at]san'; then
  sanitized=yes
fi

# A prefix with the library: DIR/include and DIR/lib.
prefix=$tmp/prefix
mkdir -p "$prefix/include" "$prefix/lib"
cp "$top_srcdir/include/fmalloc-r.h" \
   "$top_builddir/include/fmalloc-r-version.h" "$prefix/include/"
for f in "$top_builddir"/src/.libs/libfmalloc-r.so*; do
  cp -P "$f" "$prefix/lib/"
done

# 1. No installed library, a bundle: the bundled copy.
d=$(new_pkg bundled bundle)
run bundled "$d"
expect bundled 0 "using the bundled libfmalloc-r, version"
grep -q "pkg-config cannot find libfmalloc-r" "$tmp/bundled.out" ||
  fail "bundled: configure does not say why it took the bundled copy"
grep -q "^PKG_LIBS = libfmalloc-r/libfmalloc-r.a" "$d/src/Makevars" ||
  fail "bundled: Makevars does not link the bundled archive"
grep -q -- "-DRFM_BUNDLED_LIBRARY" "$d/src/Makevars" ||
  fail "bundled: Makevars lacks -DRFM_BUNDLED_LIBRARY"
grep -q "#define _GNU_SOURCE" "$d/src/libfmalloc-r/config.h" ||
  fail "bundled: no config.h for the bundled sources"

# 2. No library and no bundle: an error that says what to do.
d=$(new_pkg nobundle)
run nobundle "$d"
expect nobundle 1 "has no bundled library"
grep -q "with-fmalloc-r=DIR" "$tmp/nobundle.out" ||
  fail "nobundle: the message does not say how to name the library"
test ! -f "$d/src/Makevars" || fail "nobundle: Makevars written"

# 3. The bundled copy asked for where there is none.
run askbundle "$d" FMR_BUNDLED=yes
expect askbundle 1 "bundled libfmalloc-r was asked for"

# 4. Bad values.
run badvar "$d" FMR_BUNDLED=maybe
expect badvar 1 "FMR_BUNDLED must be yes or no"
run badarg "$d" -- --with-fmalloc=x
expect badarg 1 "unknown argument '--with-fmalloc=x'"
run halfdirs "$d" INCLUDE_DIR="$prefix/include"
expect halfdirs 1 "INCLUDE_DIR and LIB_DIR must be given together"
run nodir "$d" -- --with-fmalloc-r="$tmp/none"
expect nodir 1 "no $tmp/none/include/fmalloc-r.h"

if test "$sanitized" = yes; then
  echo "skipped: the cases that link $lib (built with a sanitizer)"
else
# 5. A named prefix wins over the bundle, with an rpath (not a default
#    directory of the dynamic linker) ...
d=$(new_pkg named bundle)
echo "/somewhere/else" > "$tmp/ld.so.conf"
run named "$d" FMR_LD_SO_CONF="$tmp/ld.so.conf" -- --with-fmalloc-r="$prefix"
expect named 0 "using libfmalloc-r in $prefix/lib"
grep -q -- "-Wl,-rpath,$prefix/lib" "$d/src/Makevars" ||
  fail "named: no rpath for $prefix/lib"
grep -q "^PKG_LIBS.*libfmalloc-r.a" "$d/src/Makevars" &&
  fail "named: the bundled archive is linked too"
# ... and without one when ld.so.conf lists the directory.  The test
#    program then runs only if the loader finds the library another way
#    (here LD_LIBRARY_PATH, standing in for ldconfig's cache); without it
#    configure must refuse, saying to run ldconfig.
printf '# a comment\n%s  \n' "$prefix/lib" > "$tmp/ld.so.conf"
run listed "$d" FMR_LD_SO_CONF="$tmp/ld.so.conf" \
  LD_LIBRARY_PATH="$prefix/lib" -- --with-fmalloc-r="$prefix"
expect listed 0 "using libfmalloc-r in $prefix/lib"
grep -q -- "-Wl,-rpath" "$d/src/Makevars" &&
  fail "listed: rpath added for a directory in ld.so.conf"
run unloadable "$d" FMR_LD_SO_CONF="$tmp/ld.so.conf" \
  INCLUDE_DIR="$prefix/include" LIB_DIR="$prefix/lib"
expect unloadable 1 "cannot compile, link and run"
grep -q "run ldconfig as root" "$tmp/unloadable.out" ||
  fail "unloadable: the loader's message is not shown"

fi

# 6. FMR_BUNDLED=yes takes the bundle even where pkg-config would work.
d=$(new_pkg forced bundle)
run forced "$d" FMR_BUNDLED=yes PKG_CONFIG_LIBDIR="$top_builddir"
expect forced 0 "the bundled libfmalloc-r (asked for)"

test "$failures" -eq 0 || exit 1
echo "PASS: every case of R-package/configure"
