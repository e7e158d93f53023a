/* fuzz-ops.c: fuzz target for sequences of operations on a heap file.

   Copyright (C) 2026 The libfmalloc-r authors.
   This file is part of libfmalloc-r, free software under the GNU Lesser
   General Public License, version 2.1 or (at your option) any later version.

   The input is a heap file and an operation script, mutated together:

     bytes 0-1   L, the script length (little endian; capped to what the
                 input holds)
     then        the heap file (may be empty: a new heap is made in it)
     last L      the script

   The script is at the end so that mutations of the file part (inserted
   or removed bytes) leave it intact, and a mutation of the script only
   moves a byte between the file's tail, which is mostly free space, and
   the script.  The file is opened read-write with FMR_OPEN_CREATE and
   FMR_OPEN_RECOVER (failing with an error code is fine); then the
   script is read in steps of OP_BYTES (16) bytes, each one operation on
   the public API: its first byte chooses the operation, the others give
   its arguments (zeros past the step's end).  Fixed steps keep a
   mutated byte from shifting the operations after it.  The operations:
   malloc, calloc, realloc, free, commit, record find, get, update, rename,
   set_payload, tombstone and free, reclaim, sync, refresh, stat, check,
   foreach, close and reopen read-write or read-only, fmr_compact, and
   calls with bad arguments.  Only pointers the target knows to be live
   are passed; ids may be the target's records, the file's own records or
   made up.  Some operations take a choice from a byte the older script
   did not use (so the corpus keeps its meaning):
     - reopen, one time in eight, opens a scratch heap (FMR_MODE_SCRATCH,
       in the file's directory) instead; the following operations run on
       it (catalog calls must fail with FMR_ESCRATCH) until the next
       reopen, read-only reopen or compaction, or the end, reopens the
       file;
     - sync, reopen (its close), commit with FMR_COMMIT_SYNC, malloc
       (one time in eight) and compaction (one time in four) (the
       step's last byte) make the Nth msync or fsync fail with EIO, in
       the builds linked with the fault injector of test_faults
       (FMR_FUZZ_FAULTS: replay-ops and the libFuzzer binary).  What must
       hold then: fmr_sync returns FMR_EIO and releases no freed space
       (pending bytes unchanged, superseded slots kept: fmr_check);
       fmr_close returns FMR_EIO and the next writer open recovers the
       file with every committed record and no id reused; a commit
       returns FMR_EIO and either made no record (id 0, the block still
       the caller's, its name free) or made it (id set); a malloc
       returns FMR_EIO, allocates nothing and the heap checks fully; a
       compaction returns FMR_EIO, leaves no temporary file, and the
       file (the old one, or the whole copy when the directory's fsync
       failed after the rename) opens with every committed record, its
       tombstones all kept or all gone.
   Only the first MAX_HEAVY (2) closes and opens of an input run (a
   reopen counts once, a read-only reopen or a compaction twice); later
   ones do nothing.

   The target keeps a model of its own blocks (size and byte pattern) and
   records (name, type, length, metadata, payload pattern, state).  After
   every operation a cheap check (check_quick) compares fmr_stat with the
   model: used + free bytes add up to the heap, the live block count and
   the record counts agree.  After every FULL_EVERY (8) operations, before
   every close, after every open and at the end, the full check
   (check_all): fmr_check passes (the heap came from the library's own
   open and was changed only through the API), fmr_record_foreach agrees
   with the counters, every record of the model is found by id and name
   with its fields and payload bytes, and no byte of a live block changed
   behind the caller's back.  A block's or payload's bytes are also
   compared whenever it leaves the model (freed, reallocated, committed,
   replaced, reclaimed), so that no change is missed between two full
   checks.  Ids are never reused.  Error codes must be the documented
   ones.  A broken invariant aborts, so libFuzzer reports it.  Built as a
   libFuzzer target with clang (make -C fuzz fuzz) and, for make check,
   linked with replay.c, which runs it on every file of corpus-ops/.

   Speed (libFuzzer, ASan and UBSan, on /dev/shm): what costs is closing
   and opening a heap (munmap of a mapping with pages in it, page
   faults: 10-20 us for each page touched in a virtual machine), not the
   operations; hence MAX_HEAVY, the full check every FULL_EVERY
   operations, large blocks mostly up to 64 KiB (pick_size), the smaller
   ASan quarantine below and run-fuzz-ops working in /dev/shm.  Built
   with -DFUZZ_OPS_PROFILE, the target prints at exit the CPU time of
   each phase of its inputs and of each operation.  */

#ifdef FMR_FUZZ_FAULTS
/* Linked with the library's sources compiled with FMR_FAULT_INJECTION
   and tests/fault.c: msync and fsync can be made to fail. */
#include <config.h>
#define FMR_FAULT_NO_MACROS
#include "fault.h"
#include "fmr-internal.h"
#endif

#include <dirent.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fmalloc-r.h>

#include "fuzz-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__asan_default_options(void);

/* Under ASan (the libFuzzer build): a quarantine of 16 MiB instead of
   256 MiB.  With the default, the little memory the library allocates
   and frees per input was never reused within a run, so every
   allocation touched fresh pages (page faults and munmap were a quarter
   of the time); 16 MiB still holds the frees of many inputs.
   ASAN_OPTIONS overrides it. */
const char *__asan_default_options(void)
{
  return "quarantine_size_mb=16";
}

#define OP_BYTES    16
#define MAX_OPS     256
#define MAX_BLOCKS  24
#define MAX_RECS    24
#define MAX_FOREIGN 16
#define META_MAX    24
/* fmr_check and the other full checks (check_all) run after every
   FULL_EVERY operations; the cheap ones (check_quick) after each. */
#define FULL_EVERY 8
/* Closes and opens of the file (reopen, read-only reopen, compaction)
   after the first MAX_HEAVY of an input do nothing: each costs more than
   a hundred other operations (mostly munmap), and inputs full of them
   made the target twenty times slower without adding coverage.  A
   read-only reopen (two closes and opens) and a compaction (three, and
   a copy of the file) count twice. */
#ifndef MAX_HEAVY
#define MAX_HEAVY 2
#endif
/* Small: ASan clears the shadow of every unmapped range, and a heap
   grows by at least 4 MiB or up to its maximum, whichever is less; with
   1 MiB (the smallest reservation, it is rounded up to 1 MiB) the first
   growth of an input allocates, zeroes and later unmaps a quarter of
   the pages it did with 16 MiB (on /dev/shm: 15% of the CPU time of a
   run of the corpus; requests beyond it take the FMR_EFULL path). */
#ifndef MAX_SIZE
#define MAX_SIZE (UINT64_C(1) << 20)
#endif

struct block {
  unsigned char *ptr;
  size_t size;
  uint8_t fill;
};

enum { REC_COMMITTED = 1, REC_TOMBSTONE = 2 };

struct rec {
  uint64_t id;
  int state;
  char name[24]; /* "" if none */
  uint32_t type;
  uint64_t length;
  unsigned char meta[META_MAX];
  size_t meta_len;
  size_t filled; /* payload bytes with the pattern (0: no payload) */
  uint8_t fill;
};

static struct state {
  const uint8_t *script;
  size_t script_len, pos, end; /* end of the current step */
  int op, opcode;
  const char *path;
  fmr_heap *heap;
  int readonly;
  int scratch; /* S.heap is a scratch heap; the file is closed */
  struct block blocks[MAX_BLOCKS];
  int nblocks;
  struct rec recs[MAX_RECS];
  int nrecs;
  uint64_t foreign[MAX_FOREIGN]; /* ids of records the target did not make */
  int nforeign;
  uint64_t max_id; /* highest id seen in this run */
  int heavy;       /* closes and opens done by the script (MAX_HEAVY) */
} S;

static void fail(const char *fmt, ...)
{
  va_list ap;
  fprintf(stderr, "fuzz-ops: op %d (opcode %d): ", S.op, S.opcode);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n  last errmsg: %s\n", fmr_errmsg());
  abort();
}

#define EXPECT(cond, ...)                                                     \
  do {                                                                        \
    if (!(cond))                                                              \
      fail(__VA_ARGS__);                                                      \
  } while (0)

/* ------------------------------------------------------------------ */
/* Profile (built with -DFUZZ_OPS_PROFILE): the CPU time (user and
   system) of each phase of the inputs and of each operation, printed at
   exit.  How the figures in HACKING were made. */

#ifdef FUZZ_OPS_PROFILE
#include <time.h>
enum { P_WRITE, P_OPEN, P_OPS, P_HEAVY, P_QUICK, P_FULL, P_END, P_COUNT };
static const char *const phase_name[P_COUNT] = {
    "write input file", "first open + check", "operations", "heavy operations",
    "quick checks", "full checks (loop)", "final close/reopen/close"};
static double phase_sec[P_COUNT], phase_t0, prof_start;
static long prof_inputs;
static double op_sec[64];
static long op_count[64];
static double cpu_now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
static void prof_report(void)
{
  double total = cpu_now() - prof_start, in = 0;
  for (int i = 0; i < P_COUNT; i++)
    in += phase_sec[i];
  fprintf(stderr, "fuzz-ops profile: %ld inputs, %.3f s CPU, %.3f ms an input\n",
          prof_inputs, total,
          prof_inputs ? 1e3 * total / (double)prof_inputs : 0);
  for (int i = 0; i < P_COUNT; i++)
    fprintf(stderr, "  %-28s %7.3f s %5.1f%% %7.3f ms/input\n", phase_name[i],
            phase_sec[i], 100 * phase_sec[i] / total,
            1e3 * phase_sec[i] / (double)(prof_inputs ? prof_inputs : 1));
  fprintf(stderr, "  %-28s %7.3f s %5.1f%%\n", "outside the target",
          total - in, 100 * (total - in) / total);
  for (int i = 0; i < 64; i++)
    if (op_count[i] > 0)
      fprintf(stderr, "  opcode %2d: %8ld runs %7.3f s %7.1f us each\n", i,
              op_count[i], op_sec[i], 1e6 * op_sec[i] / (double)op_count[i]);
}
static void prof_begin(void)
{
  if (prof_start == 0) {
    prof_start = cpu_now();
    atexit(prof_report);
  }
  phase_t0 = cpu_now();
  prof_inputs++;
}
static void prof_op(unsigned opcode)
{
  op_sec[opcode % 64] += cpu_now() - phase_t0;
  op_count[opcode % 64]++;
}
static void prof_phase(int phase)
{
  double t = cpu_now();
  phase_sec[phase] += t - phase_t0;
  phase_t0 = t;
}
#else
#define prof_begin() ((void)0)
#define prof_op(o) ((void)0)
#define prof_phase(p) ((void)0)
#endif

/* ------------------------------------------------------------------ */
/* The script                                                           */

static unsigned byte(void)
{
  return S.pos < S.end ? S.script[S.pos++] : 0;
}

static unsigned u16(void)
{
  unsigned lo = byte();
  return lo | byte() << 8;
}

/* A 64-bit number from two bytes: a value and a shift. */
static uint64_t wide(void)
{
  uint64_t v = byte();
  return v << (byte() % 64);
}

/* Sizes: mostly small, sometimes zero, large or absurd. */
static size_t pick_size(int *absurd)
{
  unsigned k = byte();
  *absurd = 0;
  switch (k % 8) {
  case 0:
    return 0;
  case 1:
  case 2:
  case 3:
    return byte() + (k >> 3);
  case 4:
  case 5:
    return u16() & 0x3fff;
  case 6:
    /* Up to 64 KiB, one time in four up to 256 KiB: every page of a
       block is written, read back at every full check and again after
       every open (10-20 us a page fault in a virtual machine), so large
       blocks made a few inputs ten times slower than the rest. */
    return (size_t)u16() * ((k >> 3) % 4 == 0 ? 4 : 1);
  default:
    *absurd = 1;
    switch ((k >> 3) % 4) {
    case 0:
      return SIZE_MAX;
    case 1:
      return SIZE_MAX / 2;
    case 2:
      return (size_t)MAX_SIZE + 1;
    default:
      return (size_t)1 << 40;
    }
  }
}

static char long_name[FMR_NAME_MAX + 2];

/* A name: one of a few short ones (so that they collide), none, empty,
   too long, or bytes of the script. */
static const char *pick_name(char *buf, size_t bufsize)
{
  unsigned k = byte() % 24;
  if (k < 16) {
    snprintf(buf, bufsize, "n%u", k % 12);
    return buf;
  }
  switch (k) {
  case 16:
    return NULL;
  case 17:
    return "";
  case 18:
    memset(long_name, 'x', FMR_NAME_MAX + 1);
    long_name[FMR_NAME_MAX + 1] = '\0';
    return long_name;
  case 19:
    memset(long_name, 'y', FMR_NAME_MAX);
    long_name[FMR_NAME_MAX] = '\0';
    return long_name; /* the longest allowed */
  default: {
    size_t n = byte() % 5;
    for (size_t i = 0; i < n && i + 1 < bufsize; i++)
      buf[i] = (char)(byte() | 1); /* no NUL inside */
    buf[n] = '\0';
    return buf;
  }
  }
}

/* ------------------------------------------------------------------ */
/* The model                                                            */

static uint8_t pattern(uint8_t fill, size_t i);

/* Metadata: up to META_MAX bytes of a pattern; its length. */
static size_t pick_meta(unsigned char *meta)
{
  size_t len = byte() % (META_MAX + 1);
  uint8_t fill = (uint8_t)byte();
  for (size_t k = 0; k < len; k++)
    meta[k] = pattern(fill, k);
  return len;
}

/* The bytes of a block or payload: a window of a fixed pseudo-random
   table chosen by the block's FILL byte, written and compared with
   memcpy and memcmp (a byte loop costs most of the time of a run under
   the fuzzer's instrumentation). */
#define TABLE_SIZE 65536
static unsigned char table[2 * TABLE_SIZE];

static void make_table(void)
{
  uint32_t x = 2463534242u;
  if (table[0] != 0 || table[1] != 0)
    return;
  for (size_t i = 0; i < TABLE_SIZE; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    table[i] = table[i + TABLE_SIZE] = (unsigned char)(x >> 24);
  }
}

static const unsigned char *window(uint8_t fill, size_t i)
{
  return table + ((size_t)fill * 257 + i) % TABLE_SIZE;
}

static uint8_t pattern(uint8_t fill, size_t i)
{
  return *window(fill, i);
}

static void fill_bytes(unsigned char *p, size_t n, uint8_t fill)
{
  for (size_t i = 0; i < n; i += TABLE_SIZE)
    memcpy(p + i, window(fill, i), n - i < TABLE_SIZE ? n - i : TABLE_SIZE);
}

static int same_bytes(const unsigned char *p, size_t n, uint8_t fill)
{
  for (size_t i = 0; i < n; i += TABLE_SIZE)
    if (memcmp(p + i, window(fill, i),
               n - i < TABLE_SIZE ? n - i : TABLE_SIZE) != 0)
      return 0;
  return 1;
}

static int space_error(int rc)
{
  return rc == FMR_EFULL || rc == FMR_ENOSPC || rc == FMR_ENOMEM ||
         rc == FMR_ETOOBIG;
}

/* A catalog call on a scratch heap: refused with FMR_ESCRATCH, or with
   BAD (FMR_EINVAL, FMR_ENAMETOOLONG; 0 if none) for bad arguments. */
static void expect_scratch(int rc, int bad, const char *what)
{
  EXPECT(rc == FMR_ESCRATCH || (bad != 0 && rc == bad),
         "%s on a scratch heap: %s", what, fmr_strerror(rc));
}

static struct rec *find_rec(uint64_t id)
{
  for (int i = 0; i < S.nrecs; i++)
    if (S.recs[i].id == id)
      return &S.recs[i];
  return NULL;
}

static void drop_rec(struct rec *r)
{
  *r = S.recs[--S.nrecs];
}

static void add_foreign(uint64_t id)
{
  for (int i = 0; i < S.nforeign; i++)
    if (S.foreign[i] == id)
      return;
  if (S.nforeign < MAX_FOREIGN)
    S.foreign[S.nforeign++] = id;
}

static void see_id(uint64_t id)
{
  if (id > S.max_id)
    S.max_id = id;
}

static void drop_block(int i)
{
  S.blocks[i] = S.blocks[--S.nblocks];
}

/* Index of a live block, or -1 (none, or the script asks for NULL). */
static int pick_block(void)
{
  unsigned k = byte();
  if (S.nblocks == 0 || k % 8 == 7)
    return -1;
  return (int)(k % (unsigned)S.nblocks);
}

/* An id: one of the target's records, one of the file's, or made up. */
static uint64_t pick_id(void)
{
  unsigned k = byte() % 8;
  if (k < 4 && S.nrecs > 0)
    return S.recs[byte() % (unsigned)S.nrecs].id;
  if (k < 6 && S.nforeign > 0)
    return S.foreign[byte() % (unsigned)S.nforeign];
  switch (k % 4) {
  case 0:
    return 0;
  case 1:
    return UINT64_MAX;
  case 2:
    return S.max_id + 1 + byte();
  default:
    return wide();
  }
}

/* ------------------------------------------------------------------ */
/* Invariants                                                           */

struct walk {
  uint64_t last, committed, tombstones;
  uint64_t stop_after, seen;
};

static int walk_record(const fmr_record *r, void *arg)
{
  struct walk *w = arg;
  EXPECT(r->id > w->last, "foreach: id %llu after %llu",
         (unsigned long long)r->id, (unsigned long long)w->last);
  EXPECT(r->state == FMR_RECORD_COMMITTED || r->state == FMR_RECORD_TOMBSTONE,
         "foreach: state %d", r->state);
  EXPECT(strlen(r->name) <= FMR_NAME_MAX, "foreach: name too long");
  EXPECT((r->payload == NULL) == (r->payload_offset == 0),
         "foreach: payload pointer and offset disagree");
  w->last = r->id;
  see_id(r->id);
  if (r->state == FMR_RECORD_COMMITTED)
    w->committed++;
  else
    w->tombstones++;
  if (find_rec(r->id) == NULL)
    add_foreign(r->id);
  if (w->stop_after != 0 && ++w->seen == w->stop_after)
    return 77;
  return 0;
}

static void check_rec(const struct rec *m)
{
  fmr_record r;
  fmr_record_init(&r);
  int rc = fmr_record_get(S.heap, m->id, &r);
  EXPECT(rc == FMR_OK, "record %llu lost: %s", (unsigned long long)m->id,
         fmr_strerror(rc));
  EXPECT(r.id == m->id, "get: wrong id");
  EXPECT(r.state == (m->state == REC_COMMITTED ? FMR_RECORD_COMMITTED
                                               : FMR_RECORD_TOMBSTONE),
         "record %llu: state %d", (unsigned long long)m->id, r.state);
  EXPECT(r.type == m->type && r.length == m->length,
         "record %llu: type or length changed", (unsigned long long)m->id);
  EXPECT(strcmp(r.name, m->name) == 0, "record %llu: name \"%s\", not \"%s\"",
         (unsigned long long)m->id, r.name, m->name);
  EXPECT(r.meta_len == m->meta_len &&
             (m->meta_len == 0 || memcmp(r.meta, m->meta, m->meta_len) == 0),
         "record %llu: metadata changed", (unsigned long long)m->id);
  EXPECT(r.payload_bytes >= m->filled, "record %llu: payload shrank",
         (unsigned long long)m->id);
  if (m->filled > 0)
    EXPECT(r.payload != NULL && same_bytes(r.payload, m->filled, m->fill),
           "record %llu: payload bytes changed", (unsigned long long)m->id);
  if (m->state == REC_COMMITTED && m->name[0] != '\0') {
    rc = fmr_record_find(S.heap, m->name, &r);
    EXPECT(rc == FMR_OK && r.id == m->id, "record %llu not found by name %s",
           (unsigned long long)m->id, m->name);
  }
}

/* The cheap check, after every operation: the counters of fmr_stat add
   up and agree with the model.  Returns the stats. */
static fmr_stats check_quick(void)
{
  fmr_stats st;
  fmr_stats_init(&st);
  int rc = fmr_stat(S.heap, &st);
  EXPECT(rc == FMR_OK, "fmr_stat: %s", fmr_strerror(rc));
  EXPECT(st.readonly == S.readonly, "stat: readonly %d", st.readonly);
  EXPECT(st.mode == (S.scratch ? FMR_MODE_SCRATCH : FMR_MODE_PERSISTENT),
         "stat: mode %d", st.mode);
  EXPECT(st.heap_bytes + 8192 == st.file_size, "stat: heap bytes %llu of %llu",
         (unsigned long long)st.heap_bytes, (unsigned long long)st.file_size);
  EXPECT(st.used_bytes + st.free_bytes == st.heap_bytes,
         "stat: used %llu + free %llu != heap %llu",
         (unsigned long long)st.used_bytes, (unsigned long long)st.free_bytes,
         (unsigned long long)st.heap_bytes);
  EXPECT(st.file_size <= st.max_size, "stat: file larger than max");
  if (!S.readonly) {
    EXPECT(st.blocks == (uint64_t)S.nblocks, "stat: %llu blocks, model %d",
           (unsigned long long)st.blocks, S.nblocks);
    EXPECT(st.largest_free <= st.free_bytes, "stat: largest free extent");
    EXPECT(st.pending_free_bytes <= st.free_bytes, "stat: pending");
  }
  if (S.scratch) {
    EXPECT(st.records_committed == 0 && st.records_tombstone == 0 &&
               st.catalog_bytes == 0 && st.pending_free_bytes == 0,
           "scratch heap with a catalog");
    return st;
  }
  uint64_t committed = 0, tombstones = 0;
  for (int i = 0; i < S.nrecs; i++) {
    if (S.recs[i].state == REC_COMMITTED)
      committed++;
    else
      tombstones++;
  }
  EXPECT(st.records_committed >= committed &&
             st.records_tombstone >= tombstones,
         "stat: %llu + %llu records, the model has %llu + %llu",
         (unsigned long long)st.records_committed,
         (unsigned long long)st.records_tombstone,
         (unsigned long long)committed, (unsigned long long)tombstones);
  return st;
}

/* The bytes of the model's block I are intact: checked when the block
   leaves the model (freed, committed, reallocated, closed) so that no
   change goes unseen between two full checks. */
static void check_block(int i)
{
  const struct block *b = &S.blocks[i];
  EXPECT(same_bytes(b->ptr, b->size, b->fill), "block %p changed",
         (void *)b->ptr);
}

/* The full check, after every FULL_EVERY operations, around every close
   and open and at the end: fmr_check, fmr_record_foreach against the
   counters, every record of the model and every byte of the model's
   blocks and payloads. */
static void check_all(void)
{
  fmr_stats st = check_quick();
  int rc = fmr_check(S.heap, NULL, NULL);
  EXPECT(rc == FMR_OK, "fmr_check: %s", fmr_strerror(rc));
  if (S.scratch) {
    struct walk w = {0};
    EXPECT(fmr_record_foreach(S.heap, walk_record, &w) == FMR_ESCRATCH,
           "foreach on a scratch heap");
    for (int i = 0; i < S.nblocks; i++)
      check_block(i);
    return;
  }
  struct walk w = {0};
  rc = fmr_record_foreach(S.heap, walk_record, &w);
  EXPECT(rc == FMR_OK, "foreach: %d", rc);
  EXPECT(w.committed == st.records_committed &&
             w.tombstones == st.records_tombstone,
         "foreach saw %llu + %llu records, stat says %llu + %llu",
         (unsigned long long)w.committed, (unsigned long long)w.tombstones,
         (unsigned long long)st.records_committed,
         (unsigned long long)st.records_tombstone);
  for (int i = 0; i < S.nrecs; i++)
    check_rec(&S.recs[i]);
  for (int i = 0; i < S.nblocks; i++)
    check_block(i);
}

/* ------------------------------------------------------------------ */
/* Injected flush failures                                              */

/* The last byte of the step: an argument that does not shift the
   others (operations that existed before it read theirs in order). */
static unsigned last_byte(void)
{
  return S.end > S.pos ? S.script[S.end - 1] : 0;
}

#ifdef FMR_FUZZ_FAULTS
static int fault_armed;

/* Make the Nth following msync (MSYNC) or fsync/fdatasync fail with EIO
   as K says: one step in two arms nothing. */
static void arm_fault(unsigned k, int fsync_too)
{
  fault_armed = 0;
  if (k % 4 < 2)
    return;
  if (k % 4 == 3 && fsync_too)
    fault_arm(FMR_FAULT_FSYNC, 1 + (long)(k >> 2) % 2);
  else
    fault_arm(FMR_FAULT_MSYNC, 1 + (long)(k >> 2) % 3);
  fault_armed = 1;
}

/* Did the armed failure happen?  Disarms. */
static int fault_done(void)
{
  int hit = fault_armed && fault_hit();
  fault_disarm();
  fault_armed = 0;
  return hit;
}
#else
static void arm_fault(unsigned k, int fsync_too)
{
  (void)k;
  (void)fsync_too;
}

static int fault_done(void)
{
  return 0;
}
#endif

/* ------------------------------------------------------------------ */
/* Opening and closing                                                  */

static int open_heap(unsigned flags)
{
  fmr_options o;
  fmr_options_init(&o);
  o.flags = flags;
  o.initial_size = 64 * 1024; /* a new heap: small */
  o.max_size = MAX_SIZE;
  S.readonly = (flags & FMR_OPEN_READONLY) != 0;
  return fmr_open(S.path, &o, &S.heap);
}

/* Close after a full check; uncommitted blocks vanish. */
static void close_heap(void)
{
  check_all();
  int rc = fmr_close(S.heap);
  S.heap = NULL;
  EXPECT(rc == FMR_OK, "close: %s", fmr_strerror(rc));
  S.nblocks = 0;
  S.scratch = 0;
}

/* Open the file again after a close; CLEAN: the close succeeded, so the
   file needs no recovery. */
static void reopen_unchecked(unsigned flags, int clean)
{
  int rc = open_heap(flags);
  EXPECT(rc == FMR_OK, "reopen (flags %u) after a %s close: %s", flags,
         clean ? "clean" : "failed", fmr_strerror(rc));
  fmr_stats st;
  fmr_stats_init(&st);
  fmr_stat(S.heap, &st);
  EXPECT(!S.readonly && clean ? st.recovered == 0 : 1,
         "clean file needed recovery");
}

/* The same, and check everything. */
static void reopen_after(unsigned flags, int clean)
{
  reopen_unchecked(flags, clean);
  check_all();
}

static void reopen(unsigned flags)
{
  reopen_after(flags, 1);
}

/* A scratch heap in the file's directory instead of the (closed) file. */
static void open_scratch(void)
{
  fmr_options o;
  fmr_options_init(&o);
  o.mode = FMR_MODE_SCRATCH;
  o.initial_size = 64 * 1024;
  o.max_size = MAX_SIZE;
  S.readonly = 0;
  int rc = fmr_open(S.path, &o, &S.heap);
  EXPECT(rc == FMR_OK, "open of a scratch heap: %s", fmr_strerror(rc));
  S.scratch = 1;
  check_all();
  EXPECT(fmr_sync(S.heap) == FMR_OK, "sync of a scratch heap");
}

/* ------------------------------------------------------------------ */
/* Operations                                                           */

static void op_malloc(void)
{
  int absurd;
  size_t size = pick_size(&absurd);
  void *p;
  if (S.nblocks == MAX_BLOCKS)
    return;
  /* One time in eight (the step's last byte), an msync or fsync fails:
     the allocation's growth (fdatasync, meta page) or its reuse of
     freed space (a sync) may flush. */
  unsigned k = last_byte();
  if (k % 8 == 7)
    arm_fault(k >> 3, 1);
  int rc = fmr_malloc(S.heap, size, &p);
  if (fault_done()) {
    /* Nothing allocated (the block count: check_quick), and the heap
       checks fully. */
    EXPECT(rc == FMR_EIO, "malloc with a failed flush: %s", fmr_strerror(rc));
    check_all();
    return;
  }
  if (rc != FMR_OK) {
    EXPECT(space_error(rc), "malloc %zu: %s", size, fmr_strerror(rc));
    EXPECT(absurd || size > 65536 || rc != FMR_ETOOBIG, "malloc %zu: %s", size,
           fmr_strerror(rc));
    return;
  }
  EXPECT(!absurd || size <= MAX_SIZE, "malloc of %zu bytes worked", size);
  EXPECT((uintptr_t)p % FMR_ALIGNMENT == 0, "malloc: unaligned");
  EXPECT(fmr_usable_size(S.heap, p) >= size, "usable size < %zu", size);
  uint64_t off = fmr_ptr_to_offset(S.heap, p);
  EXPECT(off != 0 && fmr_offset_to_ptr(S.heap, off) == p,
         "offset translation");
  struct block *b = &S.blocks[S.nblocks++];
  b->ptr = p;
  b->size = size;
  b->fill = (uint8_t)byte();
  fill_bytes(b->ptr, size, b->fill);
}

static void op_calloc(void)
{
  size_t n = byte() % 16;
  int absurd;
  size_t size = pick_size(&absurd);
  void *p;
  if (S.nblocks == MAX_BLOCKS)
    return;
  int rc = fmr_calloc(S.heap, n, size, &p);
  if (rc != FMR_OK) {
    EXPECT(space_error(rc), "calloc: %s", fmr_strerror(rc));
    return;
  }
  size_t total = n * size;
  static const unsigned char zeros[4096];
  const unsigned char *c = p;
  for (size_t i = 0; i < total; i += sizeof zeros)
    EXPECT(memcmp(c + i, zeros,
                  total - i < sizeof zeros ? total - i : sizeof zeros) == 0,
           "calloc: bytes not zero near %zu", i);
  struct block *b = &S.blocks[S.nblocks++];
  b->ptr = p;
  b->size = total;
  b->fill = (uint8_t)byte();
  fill_bytes(b->ptr, total, b->fill);
}

static void op_realloc(void)
{
  int i = pick_block(), absurd;
  size_t size = pick_size(&absurd);
  void *p;
  if (i < 0 && S.nblocks == MAX_BLOCKS)
    return;
  if (i >= 0)
    check_block(i);
  int rc = fmr_realloc(S.heap, i >= 0 ? S.blocks[i].ptr : NULL, size, &p);
  if (rc != FMR_OK) {
    EXPECT(space_error(rc), "realloc %zu: %s", size, fmr_strerror(rc));
    return;
  }
  EXPECT((uintptr_t)p % FMR_ALIGNMENT == 0, "realloc: unaligned");
  EXPECT(fmr_usable_size(S.heap, p) >= size, "realloc: usable size");
  if (i < 0)
    i = S.nblocks++;
  else {
    size_t kept = size < S.blocks[i].size ? size : S.blocks[i].size;
    EXPECT(same_bytes(p, kept, S.blocks[i].fill), "realloc lost bytes");
  }
  S.blocks[i].ptr = p;
  S.blocks[i].size = size;
  S.blocks[i].fill = (uint8_t)byte();
  fill_bytes(p, size, S.blocks[i].fill);
}

static void op_free(void)
{
  int i = pick_block();
  if (i < 0) {
    EXPECT(fmr_free(S.heap, NULL) == FMR_OK, "free(NULL)");
    return;
  }
  check_block(i);
  int rc = fmr_free(S.heap, S.blocks[i].ptr);
  EXPECT(rc == FMR_OK, "free: %s", fmr_strerror(rc));
  drop_block(i);
}

/* Another record holds NAME (non-empty) now: its id, or 0. */
static uint64_t name_holder(const char *name)
{
  fmr_record r;
  fmr_record_init(&r);
  if (S.scratch || name == NULL || name[0] == '\0' ||
      strlen(name) > FMR_NAME_MAX)
    return 0;
  int rc = fmr_record_find(S.heap, name, &r);
  EXPECT(rc == FMR_OK || rc == FMR_ENOTFOUND, "find %s: %s", name,
         fmr_strerror(rc));
  return rc == FMR_OK ? r.id : 0;
}

static void op_commit(void)
{
  int i = pick_block();
  char buf[24];
  const char *name = pick_name(buf, sizeof buf);
  unsigned char meta[META_MAX];
  size_t meta_len = pick_meta(meta);
  uint32_t type = (uint32_t)byte();
  uint64_t length = u16();
  unsigned flags = byte() % 8 == 0 ? FMR_COMMIT_SYNC : 0;
  size_t name_len = name != NULL ? strlen(name) : 0;
  uint64_t holder = name_holder(name);
  uint64_t id = 0;
  if (i >= 0)
    check_block(i);
  if (flags & FMR_COMMIT_SYNC)
    arm_fault(last_byte(), 0);
  int rc = fmr_commit(S.heap, i >= 0 ? S.blocks[i].ptr : NULL, type, length,
                      name, meta_len ? meta : NULL, meta_len, flags, &id);
  if (fault_done()) {
    /* A failed flush of the payload or the name block creates no record
       and leaves the block the caller's; one of the slot leaves the
       record committed, only not known to be durable. */
    EXPECT(rc == FMR_EIO, "commit with a failed msync: %s", fmr_strerror(rc));
    if (id == 0) {
      if (i >= 0) {
        EXPECT(fmr_usable_size(S.heap, S.blocks[i].ptr) >= S.blocks[i].size,
               "commit failed, the block is gone");
        check_block(i);
      }
      EXPECT(holder != 0 || name_holder(name) == 0,
             "commit failed, its name is taken");
      return;
    }
    rc = FMR_OK;
  }
  if (S.scratch) {
    expect_scratch(rc, name_len > FMR_NAME_MAX ? FMR_ENAMETOOLONG : 0,
                   "commit");
    return;
  }
  if (name_len > FMR_NAME_MAX) {
    EXPECT(rc == FMR_ENAMETOOLONG, "commit with a long name: %s",
           fmr_strerror(rc));
    return;
  }
  if (holder != 0) {
    EXPECT(rc == FMR_EEXIST, "commit with the taken name %s: %s", name,
           fmr_strerror(rc));
    return;
  }
  if (rc != FMR_OK) {
    EXPECT(space_error(rc), "commit: %s", fmr_strerror(rc));
    return;
  }
  EXPECT(id > S.max_id, "commit gave id %llu, %llu was seen before",
         (unsigned long long)id, (unsigned long long)S.max_id);
  see_id(id);
  if (S.nrecs == MAX_RECS || name_len >= sizeof S.recs[0].name) {
    add_foreign(id); /* not followed */
    if (i >= 0)
      drop_block(i);
    return;
  }
  struct rec *r = &S.recs[S.nrecs++];
  memset(r, 0, sizeof *r);
  r->id = id;
  r->state = REC_COMMITTED;
  if (name != NULL)
    memcpy(r->name, name, name_len + 1);
  r->type = type;
  r->length = length;
  memcpy(r->meta, meta, meta_len);
  r->meta_len = meta_len;
  if (i >= 0) {
    r->filled = S.blocks[i].size;
    r->fill = S.blocks[i].fill;
    drop_block(i);
  }
  if (byte() % 2 == 0) {
    /* Committing the same payload again, or freeing it as a block. */
    fmr_record rec;
    fmr_record_init(&rec);
    EXPECT(fmr_record_get(S.heap, id, &rec) == FMR_OK, "get new record");
    if (rec.payload != NULL) {
      EXPECT(fmr_free(S.heap, rec.payload) == FMR_ECOMMITTED,
             "free of a committed payload");
      EXPECT(fmr_commit(S.heap, rec.payload, 0, 0, NULL, NULL, 0, 0, NULL) ==
                 FMR_ECOMMITTED,
             "second commit of a payload");
    }
  }
}

static void op_find(void)
{
  char buf[24];
  const char *name = pick_name(buf, sizeof buf);
  fmr_record r;
  fmr_record_init(&r);
  int rc = fmr_record_find(S.heap, name, &r);
  if (S.scratch) {
    int bad = name == NULL || name[0] == '\0' ? FMR_EINVAL
              : strlen(name) > FMR_NAME_MAX   ? FMR_ENAMETOOLONG
                                              : 0;
    expect_scratch(rc, bad, "find");
    return;
  }
  if (name == NULL || name[0] == '\0') {
    EXPECT(rc == FMR_EINVAL, "find without a name: %s", fmr_strerror(rc));
    return;
  }
  if (strlen(name) > FMR_NAME_MAX) {
    EXPECT(rc == FMR_ENAMETOOLONG, "find with a long name: %s",
           fmr_strerror(rc));
    return;
  }
  for (int i = 0; i < S.nrecs; i++)
    if (S.recs[i].state == REC_COMMITTED && strcmp(S.recs[i].name, name) == 0)
      EXPECT(rc == FMR_OK && r.id == S.recs[i].id, "find %s: %s", name,
             fmr_strerror(rc));
  EXPECT(rc == FMR_OK || rc == FMR_ENOTFOUND, "find: %s", fmr_strerror(rc));
  if (rc == FMR_OK)
    EXPECT(strcmp(r.name, name) == 0 && r.state == FMR_RECORD_COMMITTED,
           "find %s gave record \"%s\" in state %d", name, r.name, r.state);
}

static void op_get(void)
{
  uint64_t id = pick_id();
  fmr_record r;
  fmr_record_init(&r);
  int rc = fmr_record_get(S.heap, id, &r);
  struct rec *m = find_rec(id);
  if (S.scratch) {
    expect_scratch(rc, 0, "get");
    return;
  }
  if (m != NULL) {
    check_rec(m);
    return;
  }
  EXPECT(rc == FMR_OK || rc == FMR_ENOTFOUND, "get: %s", fmr_strerror(rc));
  EXPECT(id != 0 || rc == FMR_ENOTFOUND, "get of id 0 worked");
  if (rc == FMR_OK) {
    EXPECT(r.id == id, "get %llu gave %llu", (unsigned long long)id,
           (unsigned long long)r.id);
    see_id(id);
  }
}

/* The result of a change to record ID that the model does not follow. */
static void expect_foreign(int rc, uint64_t id, const char *what)
{
  EXPECT(rc == FMR_OK || rc == FMR_ENOTFOUND || rc == FMR_EEXIST ||
             space_error(rc),
         "%s of record %llu: %s", what, (unsigned long long)id,
         fmr_strerror(rc));
}

static void op_update(void)
{
  uint64_t id = pick_id();
  unsigned char meta[META_MAX];
  size_t meta_len = pick_meta(meta);
  uint32_t type = (uint32_t)u16();
  uint64_t length = wide();
  struct rec *m = find_rec(id);
  fmr_record before;
  fmr_record_init(&before);
  if (m != NULL && !S.scratch)
    EXPECT(fmr_record_get(S.heap, id, &before) == FMR_OK, "get");
  int rc = fmr_record_update(S.heap, id, type, length, meta_len ? meta : NULL,
                             meta_len);
  if (S.scratch) {
    expect_scratch(rc, 0, "update");
    return;
  }
  if (m == NULL) {
    expect_foreign(rc, id, "update");
    return;
  }
  if (m->state == REC_TOMBSTONE) {
    EXPECT(rc == FMR_ENOTFOUND, "update of a tombstone: %s", fmr_strerror(rc));
    return;
  }
  if (rc != FMR_OK) {
    EXPECT(space_error(rc), "update: %s", fmr_strerror(rc));
    return;
  }
  m->type = type;
  m->length = length;
  memcpy(m->meta, meta, meta_len);
  m->meta_len = meta_len;
  fmr_record after;
  fmr_record_init(&after);
  EXPECT(fmr_record_get(S.heap, id, &after) == FMR_OK &&
             after.generation > before.generation,
         "update: generation did not grow");
  check_rec(m);
}

static void op_rename(void)
{
  uint64_t id = pick_id();
  char buf[24];
  const char *name = pick_name(buf, sizeof buf);
  size_t name_len = name != NULL ? strlen(name) : 0;
  uint64_t holder = name_holder(name);
  struct rec *m = find_rec(id);
  int rc = fmr_record_rename(S.heap, id, name);
  if (S.scratch) {
    expect_scratch(rc, name_len > FMR_NAME_MAX ? FMR_ENAMETOOLONG : 0,
                   "rename");
    return;
  }
  if (name_len > FMR_NAME_MAX) {
    EXPECT(rc == FMR_ENAMETOOLONG, "rename to a long name: %s",
           fmr_strerror(rc));
    return;
  }
  if (m == NULL) {
    expect_foreign(rc, id, "rename");
    return;
  }
  if (m->state == REC_TOMBSTONE) {
    EXPECT(rc == FMR_ENOTFOUND, "rename of a tombstone: %s", fmr_strerror(rc));
    return;
  }
  if (holder != 0 && holder != id) {
    EXPECT(rc == FMR_EEXIST, "rename to the taken name %s: %s", name,
           fmr_strerror(rc));
    return;
  }
  if (rc != FMR_OK) {
    EXPECT(space_error(rc), "rename: %s", fmr_strerror(rc));
    return;
  }
  if (name_len >= sizeof m->name) {
    /* Too long for the model: stop following it. */
    add_foreign(id);
    drop_rec(m);
    return;
  }
  memcpy(m->name, name != NULL ? name : "", name_len + 1);
  check_rec(m);
}

static void op_set_payload(void)
{
  uint64_t id = pick_id();
  int i = pick_block();
  uint64_t length = u16();
  struct rec *m = find_rec(id);
  if (i >= 0)
    check_block(i);
  if (m != NULL && !S.scratch)
    check_rec(m); /* the old payload is intact until now */
  int rc = fmr_record_set_payload(S.heap, id, i >= 0 ? S.blocks[i].ptr : NULL,
                                  length);
  if (S.scratch) {
    expect_scratch(rc, 0, "set_payload");
    return;
  }
  if (m == NULL) {
    expect_foreign(rc, id, "set_payload");
    if (rc == FMR_OK && i >= 0)
      drop_block(i);
    return;
  }
  if (m->state == REC_TOMBSTONE) {
    EXPECT(rc == FMR_ENOTFOUND, "set_payload of a tombstone: %s",
           fmr_strerror(rc));
    return;
  }
  if (rc != FMR_OK) {
    EXPECT(space_error(rc), "set_payload: %s", fmr_strerror(rc));
    return;
  }
  m->length = length;
  m->filled = 0;
  if (i >= 0) {
    m->filled = S.blocks[i].size;
    m->fill = S.blocks[i].fill;
    drop_block(i);
  }
  check_rec(m);
}

static void op_tombstone(void)
{
  uint64_t id = pick_id();
  struct rec *m = find_rec(id);
  int rc = fmr_record_tombstone(S.heap, id);
  if (S.scratch) {
    expect_scratch(rc, 0, "tombstone");
    return;
  }
  if (m == NULL) {
    expect_foreign(rc, id, "tombstone");
    return;
  }
  EXPECT(rc == FMR_OK, "tombstone: %s", fmr_strerror(rc));
  if (m->state == REC_COMMITTED && m->name[0] != '\0') {
    fmr_record r;
    fmr_record_init(&r);
    rc = fmr_record_find(S.heap, m->name, &r);
    EXPECT(rc == FMR_ENOTFOUND, "tombstone still found by name: %s",
           fmr_strerror(rc));
  }
  m->state = REC_TOMBSTONE;
  check_rec(m);
}

static void op_record_free(void)
{
  uint64_t id = pick_id();
  struct rec *m = find_rec(id);
  if (m != NULL && !S.scratch)
    check_rec(m); /* the payload is intact until now */
  int rc = fmr_record_free(S.heap, id);
  if (S.scratch) {
    expect_scratch(rc, 0, "record_free");
    return;
  }
  if (m == NULL) {
    expect_foreign(rc, id, "record_free");
    return;
  }
  EXPECT(rc == FMR_OK, "record_free: %s", fmr_strerror(rc));
  fmr_record r;
  fmr_record_init(&r);
  EXPECT(fmr_record_get(S.heap, id, &r) == FMR_ENOTFOUND,
         "freed record still there");
  drop_rec(m);
}

/* Tombstones are gone (reclaim, compact): drop them from the model. */
static int drop_tombstones(void)
{
  int n = 0;
  for (int i = 0; i < S.nrecs;) {
    if (S.recs[i].state == REC_TOMBSTONE) {
      fmr_record r;
      fmr_record_init(&r);
      EXPECT(fmr_record_get(S.heap, S.recs[i].id, &r) == FMR_ENOTFOUND,
             "tombstone %llu survived", (unsigned long long)S.recs[i].id);
      drop_rec(&S.recs[i]);
      n++;
    } else {
      i++;
    }
  }
  return n;
}

static void op_reclaim(void)
{
  uint64_t count = 0;
  for (int i = 0; i < S.nrecs && !S.scratch; i++)
    if (S.recs[i].state == REC_TOMBSTONE)
      check_rec(&S.recs[i]); /* intact until now */
  int rc = fmr_reclaim(S.heap, &count);
  if (S.scratch) {
    expect_scratch(rc, 0, "reclaim");
    return;
  }
  EXPECT(rc == FMR_OK, "reclaim: %s", fmr_strerror(rc));
  fmr_stats st;
  fmr_stats_init(&st);
  fmr_stat(S.heap, &st);
  EXPECT(st.records_tombstone == 0, "tombstones left after reclaim");
  int mine = drop_tombstones();
  EXPECT(count >= (uint64_t)mine, "reclaim counted %llu, the model %d",
         (unsigned long long)count, mine);
}

static void op_foreach_stop(void)
{
  struct walk w = {0};
  w.stop_after = 1 + byte() % 4;
  int rc = fmr_record_foreach(S.heap, walk_record, &w);
  if (S.scratch) {
    expect_scratch(rc, 0, "foreach");
    return;
  }
  EXPECT(rc == (w.seen == w.stop_after ? 77 : FMR_OK),
         "foreach stopped early returned %d", rc);
}

static void op_reopen_readonly(void)
{
  close_heap();
  reopen(FMR_OPEN_READONLY);
  void *p;
  EXPECT(fmr_malloc(S.heap, 10, &p) == FMR_EREADONLY, "malloc in a reader");
  EXPECT(fmr_commit(S.heap, NULL, 0, 0, "r", NULL, 0, 0, NULL) ==
             FMR_EREADONLY,
         "commit in a reader");
  if (S.nrecs > 0)
    EXPECT(fmr_record_free(S.heap, S.recs[0].id) == FMR_EREADONLY,
           "record_free in a reader");
  EXPECT(fmr_refresh(S.heap) == FMR_OK, "refresh");
  close_heap();
  reopen(0);
}

/* After a failed compaction: no temporary file is left beside the file. */
static void check_no_temporary(void)
{
  const char *slash = strrchr(S.path, '/');
  char dir[4096];
  snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - S.path) : 1,
           slash ? S.path : ".");
  DIR *d = opendir(dir);
  EXPECT(d != NULL, "opendir %s", dir);
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    EXPECT(strstr(e->d_name, ".compact-") == NULL,
           "a failed compaction left %s", e->d_name);
  closedir(d);
}

/* Compaction; one time in eight (the step's last byte) with a failed
   msync or fsync: then it returns FMR_EIO, and the file is either the
   old one or the whole copy (the directory's fsync failed after the
   rename), holding every committed record either way. */
static void op_compact(void)
{
  uint64_t before = 0, after = 0;
  unsigned k = last_byte();
  close_heap();
  if (k % 4 == 3)
    arm_fault(k >> 2, 1);
  int rc = fmr_compact(S.path, &before, &after);
  if (fault_done()) {
    EXPECT(rc == FMR_EIO, "compact with a failed flush: %s", fmr_strerror(rc));
    check_no_temporary();
    reopen_unchecked(0, 0);
    int gone = 0, kept = 0;
    for (int i = 0; i < S.nrecs; i++) {
      if (S.recs[i].state != REC_TOMBSTONE)
        continue;
      fmr_record r;
      fmr_record_init(&r);
      if (fmr_record_get(S.heap, S.recs[i].id, &r) == FMR_OK)
        kept++;
      else
        gone++;
    }
    EXPECT(gone == 0 || kept == 0,
           "a failed compaction kept %d tombstones and dropped %d", kept,
           gone);
    if (gone > 0)
      drop_tombstones();
    check_all();
    return;
  }
  EXPECT(rc == FMR_OK || space_error(rc), "compact: %s", fmr_strerror(rc));
  reopen_unchecked(0, 1);
  if (rc == FMR_OK) {
    EXPECT(after <= before || before < 65536, "compact grew %llu to %llu",
           (unsigned long long)before, (unsigned long long)after);
    drop_tombstones();
  }
  check_all();
}

static void op_sync(void)
{
  fmr_stats before = check_quick();
  arm_fault(byte(), 1);
  int rc = fmr_sync(S.heap);
  if (fault_done()) {
    /* Nothing is known durable: freed space stays unusable and
       superseded slots stay (fmr_check), for a later sync to release. */
    EXPECT(rc == FMR_EIO, "sync with a failed flush: %s", fmr_strerror(rc));
    fmr_stats after = check_quick();
    EXPECT(after.pending_free_bytes == before.pending_free_bytes,
           "a failed sync released %llu bytes of freed space",
           (unsigned long long)(before.pending_free_bytes -
                                after.pending_free_bytes));
    check_all();
    return;
  }
  EXPECT(rc == FMR_OK, "sync: %s", fmr_strerror(rc));
}

/* Close and open the file again; or (one time in eight) open a scratch
   heap instead, or close with an injected flush failure: then the file
   is not marked clean, and the next open must recover it with every
   committed record. */
static void op_reopen(void)
{
  unsigned k = byte();
  if (k % 8 == 7 && !S.scratch) {
    close_heap();
    open_scratch();
    return;
  }
  check_all();
  if (!S.scratch)
    arm_fault(byte(), 1);
  int rc = fmr_close(S.heap);
  int failed = fault_done();
  S.heap = NULL;
  S.nblocks = 0;
  S.scratch = 0;
  EXPECT(rc == (failed ? FMR_EIO : FMR_OK), "close%s: %s",
         failed ? " with a failed flush" : "", fmr_strerror(rc));
  reopen_after(0, !failed);
}

static void op_bad_args(void)
{
  static char outside[64]; /* not in the heap */
  fmr_record r;
  fmr_record_init(&r);
  void *p = NULL;
  int rc;
  switch (byte() % 8) {
  case 0:
    EXPECT(fmr_record_get(S.heap, 0, &r) ==
               (S.scratch ? FMR_ESCRATCH : FMR_ENOTFOUND),
           "get of id 0");
    break;
  case 1:
    rc = fmr_commit(S.heap, NULL, 0, 0, NULL, NULL, 1, 0, NULL);
    EXPECT(rc == FMR_EINVAL || (S.scratch && rc == FMR_ESCRATCH),
           "commit with NULL metadata of length 1: %s", fmr_strerror(rc));
    break;
  case 2:
    rc = fmr_commit(S.heap, NULL, 0, 0, NULL, NULL, 0, 0x80, NULL);
    EXPECT(rc == FMR_EINVAL || (S.scratch && rc == FMR_ESCRATCH),
           "commit with unknown flags: %s", fmr_strerror(rc));
    break;
  case 3:
    if (S.nblocks > 0 && S.blocks[0].size > FMR_ALIGNMENT) {
      /* Inside a live block, on a granule: not a block. */
      rc = fmr_free(S.heap, S.blocks[0].ptr + FMR_ALIGNMENT);
      EXPECT(rc == FMR_ENOTOWNED, "free inside a block: %s", fmr_strerror(rc));
    }
    break;
  case 4:
    EXPECT(fmr_calloc(S.heap, SIZE_MAX / 2, 3, &p) == FMR_ETOOBIG,
           "calloc overflow");
    break;
  case 5:
    EXPECT(fmr_offset_to_ptr(S.heap, 0) == NULL &&
               fmr_offset_to_ptr(S.heap, UINT64_MAX) == NULL,
           "offset_to_ptr outside");
    EXPECT(fmr_ptr_to_offset(S.heap, outside) == 0, "ptr_to_offset outside");
    break;
  case 6:
    EXPECT(fmr_usable_size(S.heap, outside) == 0, "usable_size outside");
    break;
  default:
    rc = fmr_record_update(S.heap, 1, 0, 0, NULL, 5);
    EXPECT(rc == FMR_EINVAL || (S.scratch && rc == FMR_ESCRATCH),
           "update with NULL metadata of length 5: %s", fmr_strerror(rc));
    break;
  }
}

/* The operations, in the order of their opcodes (make-corpus.c writes
   them as letters: 'a' is OP_MALLOC, 'b' OP_CALLOC, ...). */
enum {
  OP_MALLOC,
  OP_CALLOC,
  OP_REALLOC,
  OP_FREE,
  OP_COMMIT,
  OP_FIND,
  OP_GET,
  OP_UPDATE,
  OP_RENAME,
  OP_SET_PAYLOAD,
  OP_TOMBSTONE,
  OP_RECORD_FREE,
  OP_RECLAIM,
  OP_SYNC,
  OP_REFRESH,
  OP_FOREACH,
  OP_REOPEN,
  OP_REOPEN_RO,
  OP_COMPACT,
  OP_BAD,
  OP_COUNT
};

static void run_op(unsigned opcode)
{
  int rc;
  S.opcode = (int)opcode;
  if (opcode == OP_REOPEN || opcode == OP_REOPEN_RO || opcode == OP_COMPACT) {
    /* A read-only reopen is two closes and opens, a compaction three
       and a copy of the file: each counts twice. */
    int cost = opcode == OP_REOPEN ? 1 : 2;
    if (S.heavy + cost > MAX_HEAVY)
      return;
    S.heavy += cost;
  }
  switch (opcode) {
  case OP_MALLOC:
    op_malloc();
    break;
  case OP_CALLOC:
    op_calloc();
    break;
  case OP_REALLOC:
    op_realloc();
    break;
  case OP_FREE:
    op_free();
    break;
  case OP_COMMIT:
    op_commit();
    break;
  case OP_FIND:
    op_find();
    break;
  case OP_GET:
    op_get();
    break;
  case OP_UPDATE:
    op_update();
    break;
  case OP_RENAME:
    op_rename();
    break;
  case OP_SET_PAYLOAD:
    op_set_payload();
    break;
  case OP_TOMBSTONE:
    op_tombstone();
    break;
  case OP_RECORD_FREE:
    op_record_free();
    break;
  case OP_RECLAIM:
    op_reclaim();
    break;
  case OP_SYNC:
    op_sync();
    break;
  case OP_REFRESH:
    rc = fmr_refresh(S.heap);
    EXPECT(rc == FMR_OK, "refresh: %s", fmr_strerror(rc));
    break;
  case OP_FOREACH:
    op_foreach_stop();
    break;
  case OP_REOPEN:
    op_reopen();
    break;
  case OP_REOPEN_RO:
    op_reopen_readonly();
    break;
  case OP_COMPACT:
    op_compact();
    break;
  default:
    op_bad_args();
    break;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 2)
    return 0;
  size_t script_len = (size_t)data[0] | (size_t)data[1] << 8;
  if (script_len > size - 2)
    script_len = size - 2;
  prof_begin();
  make_table();
  memset(&S, 0, sizeof S);
#ifdef FMR_FUZZ_FAULTS
  fault_disarm();
#endif
  S.script = data + size - script_len;
  S.script_len = script_len;
  S.path = fuzz_write_input(data + 2, size - 2 - script_len);
  prof_phase(P_WRITE);

  if (open_heap(FMR_OPEN_CREATE | FMR_OPEN_RECOVER) != FMR_OK) {
    unlink(S.path);
    prof_phase(P_OPEN);
    return 0;
  }
  /* Whatever the file held, what opened must be consistent. */
  S.op = -1;
  check_all();
  prof_phase(P_OPEN);
  for (S.op = 0; S.op < MAX_OPS; S.op++) {
    S.pos = (size_t)S.op * OP_BYTES;
    if (S.pos >= script_len)
      break;
    S.end = S.pos + OP_BYTES < script_len ? S.pos + OP_BYTES : script_len;
    unsigned opcode = byte() % OP_COUNT;
    run_op(opcode);
    prof_op(opcode);
    prof_phase(opcode == OP_REOPEN || opcode == OP_REOPEN_RO ||
                       opcode == OP_COMPACT
                   ? P_HEAVY
                   : P_OPS);
    if (S.op % FULL_EVERY == FULL_EVERY - 1) {
      check_all();
      prof_phase(P_FULL);
    } else {
      check_quick();
      prof_phase(P_QUICK);
    }
  }
  /* What a writer closed opens cleanly, with every record (both checked
     fully). */
  S.op = -2;
  close_heap();
  reopen(0);
  int rc = fmr_close(S.heap);
  EXPECT(rc == FMR_OK, "close: %s", fmr_strerror(rc));
  unlink(S.path);
  prof_phase(P_END);
  return 0;
}
