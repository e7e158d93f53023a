#!/bin/sh
# gen-changelog.sh: write a GNU-style ChangeLog from the git history.
# 'make dist' runs it (the dist-hook of Makefile.am) to put the history
# into the tarball, since a tarball has no .git; outside a git checkout
# (a tarball's own 'make dist') the ChangeLog in the tree is kept.
#
# Usage: gen-changelog.sh SRCDIR OUTPUT
#
# One entry per commit, merges left out, newest first; consecutive
# commits of one author on one day share a heading:
#
#   YYYY-MM-DD  Author Name  <address>
#
#   	Subject, wrapped at 72 columns (commit abbrev)
#
#   	Body, wrapped likewise.
#
# Copyright (C) 2026 The libfmalloc-r authors.
# This file is part of libfmalloc-r, free software under the GNU Lesser
# General Public License, version 2.1 or (at your option) any later version.

set -eu
srcdir=${1:?usage: gen-changelog.sh SRCDIR OUTPUT}
out=${2:?usage: gen-changelog.sh SRCDIR OUTPUT}

# $srcdir/.git itself, not any repository above it: a tarball unpacked
# inside a checkout (as make distcheck does) has no history of its own.
if ! test -e "$srcdir/.git"; then
  echo "gen-changelog.sh: $srcdir is not a git checkout; keeping $out"
  exit 0
fi
if ! command -v git >/dev/null 2>&1; then
  echo "gen-changelog.sh: git is not installed; cannot write $out" >&2
  exit 1
fi

tmp="$out.tmp"
# Fields of a commit: heading, abbreviated hash, then the message; the
# records end with a form feed, which commit messages do not contain.
git -C "$srcdir" log --no-merges --date=short \
    --format='%ad  %an  <%ae>%x1f%h%x1f%B%x0c' |
  awk -v RS='\f' -v FS='\037' '
    function wrap(text,    n, i, w, line, out) {
      n = split(text, w, /[ \t]+/)
      line = ""
      out = ""
      for (i = 1; i <= n; i++) {
        if (w[i] == "")
          continue
        if (line != "" && length(line) + 1 + length(w[i]) > 64) {
          out = out "\t" line "\n"
          line = w[i]
        } else {
          line = line == "" ? w[i] : line " " w[i]
        }
      }
      if (line != "")
        out = out "\t" line "\n"
      return out
    }
    {
      sub(/^\n+/, "", $0)
      if ($0 == "")
        next
      split($0, f, "\037")
      heading = f[1]; hash = f[2]; msg = f[3]
      sub(/\n+$/, "", msg)
      if (heading != last) {
        if (NR > 1)
          printf "\n"
        printf "%s\n\n", heading
        last = heading
      } else {
        printf "\n"
      }
      np = split(msg, para, /\n[ \t]*\n/)
      for (p = 1; p <= np; p++) {
        text = para[p]
        gsub(/\n/, " ", text)
        if (p == 1)
          text = text " (" hash ")"
        else
          printf "\n"
        printf "%s", wrap(text)
      }
    }' > "$tmp"
test -s "$tmp" || { rm -f "$tmp"; echo "gen-changelog.sh: empty history" >&2; exit 1; }
mv "$tmp" "$out"
