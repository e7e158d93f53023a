#!/bin/bash
# r45-chroot.sh: check the R package Rfmalloc on R 4.5, in a Debian 13
# (trixie) chroot that has R and no libfmalloc-r: the package's source
# tarball must build the library it bundles.
#
# Usage (as root): bash R-package/tools/r45-chroot.sh TARBALL [PACKAGE_DIR]
#   TARBALL      Rfmalloc_X.Y.Z.tar.gz, the output of 'make r-package' in
#                the libfmalloc-r build tree (the library's sources
#                bundled)
#   PACKAGE_DIR  the package source, for tools/ci-test.sh (default: the
#                directory above tools/)
#
# The chroot is made once with debootstrap (--variant=minbase) and kept in
# FMR_CHROOT (default /var/cache/fmalloc-r-ci/trixie); the stamp file
# FMR_CHROOT/.fmr-ci-stamp is written only after every package is
# installed, and holds the package list.  A run that finds the stamp (with
# the same list) reuses the chroot; one that finds a chroot without it
# (an interrupted build) or with another list removes it and starts over.
# A fresh build takes a few minutes (mostly downloading R and the
# compiler); a reused run takes as long as the package check.
#
# Inside the chroot the tarball is checked by R-package/tools/ci-test.sh
# with RFMALLOC_EXPECT_LIBRARY=bundled: its output, with testthat's
# summary line "[ FAIL n | WARN n | SKIP n | PASS n ]", is printed.
# Exits non-zero if anything fails, if R CMD check reports an ERROR or a
# WARNING, or if the package did not use its bundled library.
#
# /proc and /dev are mounted in the chroot only while commands run there
# and are always unmounted on exit.  Runs are serialized by a lock file.
#
# Environment:
#   FMR_CHROOT         the chroot directory (see above)
#   FMR_DEBIAN_MIRROR  the Debian mirror (default: the first Debian URI
#                      in the host's /etc/apt/sources.list{,.d/*})
#   JOBS               make -j for the library (default 2)

set -euo pipefail

suite=trixie
root=${FMR_CHROOT:-/var/cache/fmalloc-r-ci/$suite}
stamp=$root/.fmr-ci-stamp
jobs=${JOBS:-2}
chroot_packages="r-base-dev r-cran-testthat r-cran-callr r-cran-future r-cran-knitr build-essential pkg-config"
# The chroot's environment: nothing of the caller's leaks in.
chroot_env=(env -i HOME=/root LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=dumb
            PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
            DEBIAN_FRONTEND=noninteractive TMPDIR=/tmp MAKEFLAGS=-j$jobs)

say () { printf '==> [r45 %dm%02ds] %s\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*"; }
die () { echo "r45-chroot: $*" >&2; exit 1; }

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: $0 TARBALL [PACKAGE_DIR]" >&2
  exit 2
fi
tarball=$(readlink -f "$1")
pkgdir=$(cd "${2:-$(dirname "${BASH_SOURCE[0]}")/..}" && pwd)
[ -f "$tarball" ] || die "no tarball $1"
[ -f "$pkgdir/DESCRIPTION" ] || die "no package in $pkgdir"
[ -f "$pkgdir/tools/ci-test.sh" ] || die "no $pkgdir/tools/ci-test.sh"
[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap, chroot, mount)"

# The Debian mirror the host uses (deb822 .sources or one-line format).
host_mirror () {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk 'tolower($1) == "uris:" { for (i = 2; i <= NF; i++) print $i }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk '$1 == "deb" { for (i = 2; i <= NF; i++)
                         if ($i !~ /^\[/ && $i !~ /\]$/ && $i !~ /=/) {
                           print $i; break } }' "$f"
  done
}
mirror=${FMR_DEBIAN_MIRROR:-$(host_mirror | grep -E '/debian/?$' | head -1 || true)}
mirror=${mirror:-http://deb.debian.org/debian}

mkdir -p "$(dirname "$root")"
exec 9> "$root.lock"
flock 9

# Mounts: only while this script runs commands in the chroot.
mounted=()
unmount_all () {
  local i
  for (( i = ${#mounted[@]} - 1; i >= 0; i-- )); do
    umount "${mounted[$i]}" 2>/dev/null || umount -l "${mounted[$i]}" || true
  done
  mounted=()
}
cleanup () {
  local status=$?
  unmount_all
  if [ -n "${work:-}" ]; then rm -rf "$root$work"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mount_all () {
  mountpoint -q "$root/proc" || { mount -t proc proc "$root/proc"; mounted+=("$root/proc"); }
  mountpoint -q "$root/dev" || { mount --bind /dev "$root/dev"; mounted+=("$root/dev"); }
}
in_chroot () { chroot "$root" "${chroot_env[@]}" "$@"; }

# ------------------------------------------------------------------
# The chroot: reuse it, or make it.

# Packages of the list that the stamp does not have; empty if the stamp
# has them all.
missing_packages () {
  local p
  for p in $chroot_packages; do
    case " $(cat "$stamp") " in *" $p "*) ;; *) printf '%s ' "$p" ;; esac
  done
}

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$chroot_packages" ]; then
  say "reusing the $suite chroot in $root"
elif [ -f "$stamp" ] && [ -n "$(missing_packages)" ] \
     && [ -z "$(for p in $(cat "$stamp"); do
                  case " $chroot_packages " in *" $p "*) ;; *) echo "$p" ;; esac
                done)" ]; then
  # A complete chroot whose list lacks packages the new one adds: install
  # just those (the stamp is rewritten only when they are in).
  add=$(missing_packages)
  say "adding $add to the $suite chroot in $root"
  cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
  mount_all
  in_chroot apt-get update
  # shellcheck disable=SC2086  # a list of package names
  in_chroot apt-get install -y --no-install-recommends $add
  in_chroot apt-get clean
  unmount_all
  printf '%s\n' "$chroot_packages" > "$stamp"
else
  t0=$SECONDS
  if [ -e "$root" ]; then
    say "removing the incomplete or outdated chroot $root"
    for m in "$root/proc" "$root/dev/pts" "$root/dev" "$root/sys"; do
      if mountpoint -q "$m" 2>/dev/null; then umount -l "$m"; fi
    done
    rm -rf --one-file-system "$root"
  fi
  if ! command -v debootstrap > /dev/null; then
    say "installing debootstrap on the host"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y debootstrap || { apt-get update && apt-get install -y debootstrap; }
  fi
  say "debootstrap --variant=minbase $suite $root $mirror"
  debootstrap --variant=minbase "$suite" "$root" "$mirror"
  cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
  # No service may start inside the chroot.
  printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
  chmod 755 "$root/usr/sbin/policy-rc.d"
  mount_all
  say "apt-get install $chroot_packages (in the chroot)"
  in_chroot apt-get update
  in_chroot apt-get install -y --no-install-recommends $chroot_packages
  in_chroot apt-get clean
  unmount_all
  printf '%s\n' "$chroot_packages" > "$stamp"
  say "the $suite chroot is ready ($(( SECONDS - t0 )) s)"
fi

# ------------------------------------------------------------------
# Check the package's tarball, with no libfmalloc-r installed.

cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
work=/tmp/fmr-r45.$$
rm -rf "$root$work"
mkdir -p "$root$work/tools"
cp "$tarball" "$root$work/"
cp "$pkgdir/tools/ci-test.sh" "$root$work/tools/"
mount_all

say "R $(in_chroot R --version | head -1 | cut -d' ' -f3) in the chroot"
# What earlier runs (of an older version of this script) installed goes,
# so that only the bundled copy can be found.
rm -f "$root"/usr/local/lib/libfmalloc-r.* "$root"/usr/local/lib/pkgconfig/libfmalloc-r.pc
rm -f "$root"/usr/local/include/fmalloc-r*.h
in_chroot ldconfig

say "R CMD check $(basename "$tarball") (in the chroot)"
status=0
in_chroot env RFMALLOC_EXPECT_LIBRARY=bundled \
  sh "$work/tools/ci-test.sh" "$work/$(basename "$tarball")" || status=$?
say "done (exit status $status)"
exit "$status"
