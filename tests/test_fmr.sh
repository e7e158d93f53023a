#!/bin/sh
# test_fmr.sh: the fmr tool as a shell user sees it (issue 12, The CLI):
# one-line error messages, getopt_long parsing, exit codes, the type
# column, create, --json for info, ls and check, dump and load.
#
# Copyright (C) 2026 The libfmalloc-r authors.
# This file is part of libfmalloc-r, free software under the GNU Lesser
# General Public License, version 2.1 or (at your option) any later version.
#
# The tool is $fmr, by default $top_builddir/fmr/fmr.  JSON is checked
# with python3 when it is installed (skipped parts are said so).

set -u

top_builddir=${top_builddir:-..}
fmr=${fmr:-$top_builddir/fmr/fmr}
test -x "$fmr" || { echo "test_fmr.sh: $fmr not built" >&2; exit 99; }
case $fmr in
  /*) ;;
  *) fmr=$(pwd)/$fmr ;;
esac

tmpdir=$(mktemp -d "${TMPDIR:-/tmp}/fmr-cli.XXXXXX") \
  || { echo "test_fmr.sh: cannot create a scratch directory" >&2; exit 99; }
trap 'rm -rf "$tmpdir"' EXIT
trap 'exit 1' HUP INT TERM
cd "$tmpdir" || exit 99

failures=0
fail () {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

# expect STATUS EXPECTED-STDERR COMMAND...: run COMMAND, compare its exit
# status and its whole stderr byte for byte (the final newline included).
expect () {
  want_status=$1 want_err=$2
  shift 2
  "$@" > out.txt 2> err.txt
  status=$?
  if test -n "$want_err"; then
    printf '%s\n' "$want_err" > want.txt
  else
    : > want.txt
  fi
  test "$status" -eq "$want_status" \
    || fail "'$*' exited $status, not $want_status"
  cmp -s err.txt want.txt \
    || fail "'$*' stderr: '$(cat err.txt)', not '$want_err'"
}

# expect_status STATUS COMMAND...: only the exit status.
expect_status () {
  want_status=$1
  shift
  "$@" > out.txt 2> err.txt
  status=$?
  test "$status" -eq "$want_status" \
    || fail "'$*' exited $status, not $want_status: $(cat err.txt)"
}

# fields LINE FILE N...: fields N... of line LINE of FILE, split on blanks.
fields () {
  line=$1 file=$2
  shift 2
  sed -n "${line}p" "$file" | awk -v want="$*" \
    'BEGIN { n = split(want, w, " ") }
     { s = ""; for (i = 1; i <= n; i++) s = s (i > 1 ? " " : "") $w[i]; print s }'
}

if command -v python3 > /dev/null 2>&1; then
  have_python=yes
else
  have_python=no
  echo "test_fmr.sh: no python3: JSON output is not parsed"
fi

# json_ok FILE [PYTHON-EXPR]: FILE holds one valid JSON document, and the
# expression (on the document d) is true.
json_ok () {
  test "$have_python" = yes || return 0
  python3 - "$1" "${2:-True}" <<'EOF' || fail "JSON of $1: ${2:-valid}"
import json, sys
with open(sys.argv[1], encoding="utf-8") as f:
    d = json.load(f)
if not eval("(" + sys.argv[2] + ")"):
    print("got:", d, file=sys.stderr)
    sys.exit(1)
EOF
}

echo "== error messages: one line, no API names"
expect 2 "fmr: $tmpdir/missing.heap: no such file" \
  "$fmr" check "$tmpdir/missing.heap"
test -e missing.heap && fail "check created the missing file"
echo "hello" > text.txt
expect 2 "fmr: text.txt: not a heap file" "$fmr" check text.txt
test "$(cat text.txt)" = hello || fail "check changed a file that is no heap"
mkdir adir
expect 2 "fmr: adir: is a directory" "$fmr" ls adir
: > empty.heap
expect 2 "fmr: empty.heap: empty file, not a heap" "$fmr" info empty.heap
expect 2 "fmr: text.txt: not a heap file" "$fmr" recover text.txt
expect 2 "fmr: missing.heap: no such file" "$fmr" drop missing.heap 1
expect 2 "fmr: missing.heap: no such file" "$fmr" dump missing.heap
expect 2 "fmr: missing.heap: no such file" "$fmr" compact missing.heap
ln -s nowhere dangling.heap
expect 2 "fmr: dangling.heap: no such file" "$fmr" info dangling.heap
grep -q FMR_ err.txt && fail "an API name in: $(cat err.txt)"

echo "== create"
expect 0 "" "$fmr" create --size 4M h.heap
expect 1 "fmr: h.heap: file exists" "$fmr" create h.heap
expect 1 "fmr: text.txt: file exists" "$fmr" create text.txt
test "$(cat text.txt)" = hello || fail "create changed an existing file"
expect 2 "fmr: create: invalid size for --size: '0'
Try 'fmr create --help' for more information." "$fmr" create -s 0 z.heap
expect 2 "fmr: create: invalid size for --size: '12X'
Try 'fmr create --help' for more information." "$fmr" create --size=12X z.heap
test -e z.heap && fail "a bad --size left a file"
expect 2 "fmr: create: option '--size' requires an argument
Try 'fmr create --help' for more information." "$fmr" create --size
expect 1 "fmr: nodir/x.heap: No such file or directory" \
  "$fmr" create nodir/x.heap
expect_status 0 "$fmr" info --json h.heap
cp out.txt info.json
json_ok info.json 'd["file_size"] == 4194304 and d["records_committed"] == 0'
expect_status 0 "$fmr" check h.heap
grep -qx "h.heap: ok" out.txt || fail "check of a new heap: $(cat out.txt)"

echo "== option parsing"
expect 2 "fmr: missing command
Try 'fmr --help' for more information." "$fmr"
expect 2 "fmr: unknown command 'frobnicate'
Try 'fmr --help' for more information." "$fmr" frobnicate h.heap
expect 2 "fmr: unrecognized option '--bogus'
Try 'fmr --help' for more information." "$fmr" --bogus
expect 2 "fmr: ls: unrecognized option '-x'
Try 'fmr ls --help' for more information." "$fmr" ls -lx h.heap
expect 2 "fmr: ls: unrecognized option '--bogus'
Try 'fmr ls --help' for more information." "$fmr" ls --bogus h.heap
expect 2 "fmr: ls: option '--long=1' takes no argument
Try 'fmr ls --help' for more information." "$fmr" ls --long=1 h.heap
expect 2 "fmr: info: unrecognized option '--long'
Try 'fmr info --help' for more information." "$fmr" info --long h.heap
expect 2 "fmr: ls: missing FILE operand
Try 'fmr ls --help' for more information." "$fmr" ls
expect 2 "fmr: ls: extra operand 'two'
Try 'fmr ls --help' for more information." "$fmr" ls h.heap two
expect 2 "fmr: drop: missing ID or NAME operand
Try 'fmr drop --help' for more information." "$fmr" drop h.heap
for cmd in create info ls check recover drop tombstone reclaim compact \
           dump load help; do
  expect 0 "" "$fmr" "$cmd" --help
  grep -q "^Usage: fmr $cmd " out.txt || fail "$cmd --help: $(head -1 out.txt)"
  expect 0 "" "$fmr" help "$cmd"
done
expect 0 "" "$fmr" --help
grep -q "^  dump " out.txt || fail "fmr --help does not list dump"
# -- ends the options: a file whose name starts with '-'.
expect 0 "" "$fmr" create -- -odd.heap
test -s ./-odd.heap || fail "create -- -odd.heap made no file"
expect 0 "" "$fmr" ls -ln -- -odd.heap
# Options after the operand are still options (GNU permutation).
expect 0 "" "$fmr" ls h.heap -l
grep -q OFFSET out.txt || fail "ls FILE -l did not print the long format"

echo "== load, the type column, ls"
cat > in.dump <<'EOF'
fmr-dump 1
# written by hand for test_fmr.sh
record type=0x62656e63 length=3 meta=2 payload=5 name=first
abcd
0102030405
record type=0x00000007 length=0 meta=0 payload=- name=we\x20ird"\xff\x0a\x5cx
record type=0x01020304 length=9 meta=0 payload=70
000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f
000102030405
record type=0x2d2d2d2d length=1 meta=1 payload=1 name=2024
ff
00
record type=0x22414222 length=0 meta=0 payload=- name=quote
end
EOF
expect 0 "" "$fmr" load a.heap < in.dump
expect_status 0 "$fmr" ls a.heap
cp out.txt ls.txt
test "$(fields 2 ls.txt 4 6 7)" = "benc 64 first" || fail "ls line 1: $(sed -n 2p ls.txt)"
test "$(fields 3 ls.txt 4 7)" = '0x00000007 we\x20ird"\xff\x0a\x5cx' \
  || fail "ls line 2: $(sed -n 3p ls.txt)"
test "$(fields 4 ls.txt 4 7)" = "0x01020304 -" || fail "ls line 3: $(sed -n 4p ls.txt)"
test "$(fields 5 ls.txt 4 7)" = "---- 2024" || fail "ls line 4: $(sed -n 5p ls.txt)"
expect_status 0 "$fmr" ls -n a.heap
test "$(fields 2 out.txt 4)" = 0x62656e63 || fail "ls -n: $(sed -n 2p out.txt)"
expect_status 0 "$fmr" ls -ln a.heap
test "$(fields 2 out.txt 4 8)" = "0x62656e63 2" || fail "ls -ln: $(sed -n 2p out.txt)"

echo "== --json"
expect_status 0 "$fmr" ls --json a.heap
cp out.txt ls.json
json_ok ls.json 'len(d["records"]) == 5
  and d["records"][4]["type_tag"] == "\"AB\""
  and d["records"][0]["type_tag"] == "benc"
  and d["records"][0]["type"] == 0x62656e63
  and d["records"][0]["meta_bytes"] == 2
  and d["records"][1]["name"] == "we ird\"\u00ff\n\\x"
  and d["records"][2]["name"] is None
  and d["records"][3]["name"] == "2024"'
expect_status 0 "$fmr" ls --json h.heap
cp out.txt empty-ls.json
json_ok empty-ls.json 'd["records"] == []'
expect_status 0 "$fmr" info --json a.heap
cp out.txt info.json
json_ok info.json 'd["records_committed"] == 5 and d["clean"] is True
  and d["file"] == "a.heap"'
expect_status 0 "$fmr" check --json a.heap
cp out.txt check.json
json_ok check.json 'd["ok"] is True and d["problems"] == [] and d["count"] == 0'
expect 2 "fmr: text.txt: not a heap file" "$fmr" check --json text.txt
test -s out.txt && fail "check --json of no heap printed: $(cat out.txt)"

echo "== dump and load round trip"
expect 0 "" "$fmr" dump a.heap
cp out.txt a.dump
head -1 a.dump | grep -qx "fmr-dump 1" || fail "dump header: $(head -1 a.dump)"
tail -1 a.dump | grep -qx "end" || fail "dump end: $(tail -1 a.dump)"
expect 0 "" "$fmr" load b.heap < a.dump
expect 0 "" "$fmr" dump b.heap
grep -v '^#' a.dump > a.body
grep -v '^#' out.txt > b.body
cmp -s a.body b.body || fail "dump of the reloaded heap differs"
# The payload bytes themselves survive.
grep -q '^0102030405000000' a.dump || fail "payload of 'first' not dumped"
expect_status 0 "$fmr" check b.heap
# A name already used is an error; the records before it stay.
expect 1 "fmr: b.heap: input line 3: name already used by another record" \
  "$fmr" load b.heap < a.dump
echo "not a dump" > bad.dump
expect 1 "fmr: c.heap: input line 1: not an fmr dump (no 'fmr-dump 1' line)" \
  "$fmr" load c.heap < bad.dump
test -e c.heap && fail "load of bad input created the heap"
printf 'fmr-dump 1\nrecord type=0x1 length=1 meta=0 payload=2\nzz11\nend\n' \
  > badhex.dump
expect 1 "fmr: d.heap: input line 3: bad hexadecimal digit" \
  "$fmr" load d.heap < badhex.dump
printf 'fmr-dump 1\nrecord type=0x1 length=1 meta=0 payload=2\n' > short.dump
expect 1 "fmr: e.heap: input line 3: unexpected end of input in hexadecimal data" \
  "$fmr" load e.heap < short.dump
printf 'fmr-dump 1\nrecord type=1 length=1 meta=0 payload=-\nend\n' > bad2.dump
expect 1 "fmr: f.heap: input line 2: bad record field" \
  "$fmr" load f.heap < bad2.dump
printf 'fmr-dump 1\n' > noend.dump
expect 1 "fmr: g.heap: input line 2: unexpected end of input (no 'end' line)" \
  "$fmr" load g.heap < noend.dump

echo "== edits by name with -n, and by id"
expect 0 "" "$fmr" drop -n a.heap 2024
grep -qx "dropped record 4 2024" out.txt || fail "drop -n: $(cat out.txt)"
expect 1 "fmr: a.heap: record named '2024': no such record" \
  "$fmr" drop --name a.heap 2024
expect 1 "fmr: a.heap: record 99: no such record" "$fmr" tombstone a.heap 99

echo "== a busy file: another process is writing"
if mkfifo fifo 2> /dev/null; then
  "$fmr" load a.heap < fifo > load.out 2>&1 &
  loader=$!
  exec 3> fifo
  printf 'fmr-dump 1\n' >&3
  # The loader holds the writer lock once it has read the header line;
  # wait for that with a reader (a writer here could take the lock first
  # and make the loader fail): the file is then not clean.
  i=0
  until "$fmr" info a.heap 2> /dev/null | grep -q "last close: *not clean"
  do
    i=$((i + 1))
    test "$i" -lt 200 || break
    sleep 0.05
  done
  "$fmr" reclaim a.heap > out.txt 2> err.txt
  status=$?
  printf '%s\n' "fmr: a.heap: in use by another process that is writing to it" \
    > want.txt
  test "$status" -eq 2 || fail "reclaim of a busy file exited $status (loader: $(cat load.out))"
  cmp -s err.txt want.txt || fail "busy file: '$(cat err.txt)'"
  (printf 'end\n' >&3) 2> /dev/null # a subshell: SIGPIPE if it died
  exec 3>&-
  wait "$loader" || fail "the loader failed: $(cat load.out)"
else
  echo "test_fmr.sh: no mkfifo: the busy-file case is not tested"
fi

if test "$failures" -gt 0; then
  echo "test_fmr.sh: $failures failure(s)" >&2
  exit 1
fi
echo "test_fmr.sh: PASS"
exit 0
