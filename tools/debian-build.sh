#!/bin/bash
# tools/debian-build.sh: build the Debian packages of libfmalloc-r from
# this source tree, check them with lintian, install them and run the
# smoke test (debian/tests/smoke), then purge them.
#
# Copyright (C) 2026 The libfmalloc-r authors.
# This file is part of libfmalloc-r, free software under the GNU Lesser
# General Public License, version 2.1 or (at your option) any later version.
#
# Usage: bash tools/debian-build.sh [OUTDIR]
#   OUTDIR (default: a temporary directory, removed at the end) receives
#   the source copy, the .debs, the .changes and the logs.
# Steps:
#   1. copy the tree (git ls-files: the checkout as it is, with no build
#      products) to OUTDIR/src: dpkg-buildpackage writes to the parent
#      of the tree it builds;
#   2. dpkg-buildpackage -us -uc -b (make check included, unless
#      DEB_BUILD_OPTIONS=nocheck);
#   3. lintian --pedantic on the .changes: any tag that
#      debian/source/lintian-overrides or debian/*.lintian-overrides do
#      not justify fails the step (lintian --fail-on error,warning,
#      info,pedantic);
#   4. no rpath in Rfmalloc.so (readelf -d);
#   5. as root only: apt-get install ./*.deb, debian/tests/smoke, then
#      apt-get purge of the four packages (also when the smoke test
#      fails).  This changes the machine: run it after the other tests.
# Prints a line "debian: STEP ok" or "debian: STEP FAILED" per step and
# exits 1 if any failed.  Environment: JOBS (default 2).

set -uo pipefail

srcdir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
jobs=${JOBS:-2}
if [ $# -ge 1 ]; then
  out=$1
  mkdir -p "$out"
  out=$(cd "$out" && pwd)
else
  out=$(mktemp -d "${TMPDIR:-/tmp}/fmr-deb.XXXXXX")
  trap 'rm -rf "$out"' EXIT
fi
packages=(libfmalloc-r0 libfmalloc-r-dev fmr r-cran-rfmalloc)
status=0
step () {                               # step NAME ok|FAILED
  echo "debian: $1 $2"
  [ "$2" = ok ] || status=1
}

# 1. A clean copy of the tree (and no packages of an earlier run).
rm -rf "$out/src" "$out/rpkg"
rm -f "$out"/*.deb "$out"/*.changes "$out"/*.buildinfo
mkdir -p "$out/src"
if git -C "$srcdir" rev-parse --git-dir > /dev/null 2>&1; then
  (cd "$srcdir" && git ls-files -z --cached --others --exclude-standard \
     | xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh \
     | tar --null -T - -cf -) | tar -C "$out/src" -xf -
else
  tar -C "$srcdir" --exclude=./_build --exclude='./_build-*' \
      --exclude=./autom4te.cache -cf - . | tar -C "$out/src" -xf -
fi

# 2. Build.
echo "debian: dpkg-buildpackage -us -uc -b in $out/src"
if (cd "$out/src" && DEB_BUILD_OPTIONS="parallel=$jobs ${DEB_BUILD_OPTIONS:-}" \
      dpkg-buildpackage -us -uc -b) > "$out/build.log" 2>&1; then
  step build ok
else
  tail -80 "$out/build.log"
  step build FAILED
  exit 1
fi
changes=$(ls "$out"/*.changes | head -1)
ls -l "$out"/*.deb
for deb in "$out"/*.deb; do
  printf '%-40s %8s bytes, installed %6s KiB\n' "$(basename "$deb")" \
    "$(stat -c %s "$deb")" "$(dpkg-deb -f "$deb" Installed-Size)"
done

# 3. lintian.
echo "debian: lintian --pedantic $(basename "$changes")"
if lintian --pedantic --info --display-experimental --fail-on error,warning,info,pedantic \
     "$changes" > "$out/lintian.log" 2>&1; then
  cat "$out/lintian.log"
  step lintian ok
else
  cat "$out/lintian.log"
  step lintian FAILED
fi

# 4. No rpath in the R package's shared object.
rdeb=$(ls "$out"/r-cran-rfmalloc_*.deb)
dpkg-deb -x "$rdeb" "$out/rpkg"
so=$(find "$out/rpkg" -name Rfmalloc.so | head -1)
if [ -n "$so" ] && readelf -d "$so" | grep -q 'NEEDED.*libfmalloc-r\.so\.0' \
   && ! readelf -d "$so" | grep -Eq '\((RPATH|RUNPATH)\)'; then
  step no-rpath ok
else
  readelf -d "$so" 2>&1 | head -30
  step no-rpath FAILED
fi

# 5. Install, smoke test, purge.
if [ "$(id -u)" -ne 0 ]; then
  echo "debian: not root: packages not installed, smoke test not run"
  step smoke FAILED
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if apt-get install -y --no-install-recommends "$out"/*.deb > "$out/install.log" 2>&1; then
  step install ok
  if (cd "$out/src" && AUTOPKGTEST_TMP= sh debian/tests/smoke) > "$out/smoke.log" 2>&1; then
    cat "$out/smoke.log"
    step smoke ok
  else
    cat "$out/smoke.log"
    step smoke FAILED
  fi
else
  tail -40 "$out/install.log"
  step install FAILED
fi
if apt-get purge -y "${packages[@]}" > "$out/purge.log" 2>&1 \
   && ! dpkg-query -W -f='${Status}\n' "${packages[@]}" 2>/dev/null \
        | grep -q ' installed$'; then
  step purge ok
else
  tail -20 "$out/purge.log"
  step purge FAILED
fi
exit $status
