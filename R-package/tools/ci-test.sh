#!/bin/sh
# ci-test.sh: build and check the R package Rfmalloc in a temporary
# directory.  Exits non-zero if R CMD build fails or R CMD check reports
# an ERROR or a WARNING, printing the check log (and the test output).
#
# Usage: sh R-package/tools/ci-test.sh [PACKAGE_DIR | TARBALL]
#   PACKAGE_DIR  the package source (default: the directory above tools/):
#                R CMD build makes the tarball to check; the package has no
#                bundled library then, so libfmalloc-r must be installed
#                where pkg-config finds it
#   TARBALL      an Rfmalloc_X.Y.Z.tar.gz (made by 'make r-package', with
#                the library bundled), checked as it is
# Environment: R (default R), TMPDIR; RFMALLOC_TEST_LONG (default true:
# run tests/testthat/test-long.R, which needs a 3 GiB heap file in TMPDIR;
# false leaves it out); RFMALLOC_CRASH_ROUNDS (kill -9 rounds of
# test-crash.R, default 8); NOT_CRAN (default true: run the tests CRAN
# skips, such as test-bigger-than-memory.R, which needs root and a cgroup
# v1 memory controller to do more than skip); RFMALLOC_EXPECT_LIBRARY
# (bundled or installed: fail unless the package's configure took that
# copy of libfmalloc-r).

set -eu

arg=${1:-$(dirname "$0")/..}
case $arg in
  *.tar.gz) tarball_in=$(cd "$(dirname "$arg")" && pwd)/$(basename "$arg") ;;
  *) tarball_in= ; pkgdir=$(cd "$arg" && pwd) ;;
esac
R=${R:-R}
RFMALLOC_TEST_LONG=${RFMALLOC_TEST_LONG:-true}
export RFMALLOC_TEST_LONG
# Tests that CRAN's machines must not run (a memory cgroup, as root)
# run here.
NOT_CRAN=${NOT_CRAN:-true}
export NOT_CRAN

work=$(mktemp -d "${TMPDIR:-/tmp}/rfmalloc-ci.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
cd "$work"

if [ -n "$tarball_in" ]; then
  cp "$tarball_in" .
else
  echo "ci-test: R CMD build $pkgdir (vignettes built)"
  if ! "$R" CMD build "$pkgdir" > build.log 2>&1; then
    cat build.log
    echo "ci-test: R CMD build failed" >&2
    exit 1
  fi
fi
tarball=$(ls Rfmalloc_*.tar.gz)

echo "ci-test: R CMD check --no-manual $tarball"
status=0
"$R" CMD check --no-manual "$tarball" > check.log 2>&1 || status=$?

if [ "$status" -ne 0 ] || grep -E -q '^Status: .*(ERROR|WARNING)' check.log
then
  cat check.log
  for f in Rfmalloc.Rcheck/00install.out Rfmalloc.Rcheck/tests/*.Rout.fail
  do
    if [ -f "$f" ]; then
      echo "==> $f"
      cat "$f"
    fi
  done
  echo "ci-test: R CMD check reported an ERROR or WARNING" >&2
  exit 1
fi
# Which libfmalloc-r configure took (its line in the install log).
grep -h '^configure: using' Rfmalloc.Rcheck/00install.out || true
case ${RFMALLOC_EXPECT_LIBRARY:-} in
  "") ;;
  bundled|installed)
    if grep -q '^configure: using .*the bundled libfmalloc-r' \
         Rfmalloc.Rcheck/00install.out; then
      took=bundled
    else
      took=installed
    fi
    if [ "$took" != "$RFMALLOC_EXPECT_LIBRARY" ]; then
      echo "ci-test: the package took the $took libfmalloc-r, not the" \
           "$RFMALLOC_EXPECT_LIBRARY one" >&2
      exit 1
    fi ;;
  *) echo "ci-test: RFMALLOC_EXPECT_LIBRARY must be bundled or installed" >&2
     exit 2 ;;
esac
grep -E '^Status:' check.log
# The text of each NOTE: its "* checking ... NOTE" line and what follows
# up to the next check.
awk '/^\* .*NOTE$/ { on = 1; print; next } /^\* / { on = 0 } on' check.log
# What the crash and long-vector tests report (kills survived, times).
grep -h -E '^(kill -9 test|long vector test|larger-than-memory test)' \
  Rfmalloc.Rcheck/tests/testthat.Rout 2>/dev/null || true
# testthat's summary, for the caller to count.
grep -h -E '\[ FAIL [0-9]+ \| WARN [0-9]+ \| SKIP [0-9]+ \| PASS [0-9]+ \]' \
  Rfmalloc.Rcheck/tests/testthat.Rout 2>/dev/null | tail -1 || true
echo "ci-test: passed"
