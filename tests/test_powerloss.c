/* test_powerloss.c: the file a power loss can leave, at every durability
   point of a workload.

   Copyright (C) 2026 The libfmalloc-r authors.
   This file is part of libfmalloc-r, free software under the GNU Lesser
   General Public License, version 2.1 or (at your option) any later version.

   Linked with its own copy of the library compiled with FMR_FAULT_INJECTION,
   whose msync, fsync and fdatasync report each success to a hook.  The
   hook keeps the "durable image" of the heap file: what is on disk if only
   flushed writes reached it.  At every durability point it saves three
   images a power loss could leave: the durable image alone (every unsynced
   write lost), the whole current file (every write reached the disk), and
   the durable image with a random half of the changed pages taken from the
   current file (pages written back in any order).  Afterwards each image
   must open, pass fmr_check, hold every record committed before the last
   completed fmr_sync (or with FMR_COMMIT_SYNC) that was not freed, with
   its bytes; hold no record freed before that sync; and any record that
   was committed before it and freed later must, if it comes back, come
   back intact (freed space is reused only after a sync).  */

#include <config.h>

#include "testutil.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fault.h"
#include "fmr-internal.h"

#define MAX_RECORDS 256
#define MAX_IMAGES  256
#define PAGE        4096

enum expect {
  UNKNOWN = 0,    /* committed after the last sync: anything goes */
  MUST,           /* committed and synced, still live */
  INTACT_IF_BACK, /* synced, freed after the last sync */
  MUST_NOT        /* freed, and that was synced */
};

struct record {
  uint64_t id;
  uint64_t seed;
  size_t size;
  int live;
  enum expect now; /* what an image taken now must show */
};

static struct record records[MAX_RECORDS];
static int nrecords;

static char *dir, *heap_path;
static int tracked_fd = -1; /* read-only fd on the heap file */
static unsigned char *durable;
static size_t durable_size, durable_cap;
static int nimages;
static unsigned char *expectations[MAX_IMAGES];
static uint64_t rng = 12345;
static int subset_mode; /* test_page_subsets: the hook only tracks */
static int verifying;   /* the flushes are another file's */

static unsigned char *read_current(size_t *size_out)
{
  struct stat st;
  ck_assert_int_eq(fstat(tracked_fd, &st), 0);
  size_t size = (size_t)st.st_size;
  unsigned char *buf = malloc(size ? size : 1);
  ck_assert_ptr_nonnull(buf);
  size_t got = 0;
  while (got < size) {
    ssize_t n = pread(tracked_fd, buf + got, size - got, (off_t)got);
    ck_assert_int_gt(n, 0);
    got += (size_t)n;
  }
  *size_out = size;
  return buf;
}

static void durable_reserve(size_t size)
{
  if (size <= durable_cap)
    return;
  durable = realloc(durable, size);
  ck_assert_ptr_nonnull(durable);
  memset(durable + durable_cap, 0, size - durable_cap);
  durable_cap = size;
}

/* File offset of ADDR if it lies in a mapping of the heap file. */
static int mapped_offset(const void *addr, uint64_t *offset)
{
  FILE *f = fopen("/proc/self/maps", "r");
  char line[4096];
  int found = 0;
  ck_assert_ptr_nonnull(f);
  while (fgets(line, sizeof line, f) != NULL) {
    unsigned long start, end, off;
    char path[4000] = "";
    if (sscanf(line, "%lx-%lx %*s %lx %*s %*s %3999s", &start, &end, &off,
               path) < 3)
      continue;
    if ((uintptr_t)addr >= start && (uintptr_t)addr < end &&
        strcmp(path, heap_path) == 0) {
      *offset = off + ((uintptr_t)addr - start);
      found = 1;
      break;
    }
  }
  fclose(f);
  return found;
}

static void save_image(const unsigned char *bytes, size_t size)
{
  ck_assert_int_lt(nimages, MAX_IMAGES);
  char name[32];
  snprintf(name, sizeof name, "img%03d", nimages);
  char *path = tu_path(dir, name);
  ck_assert_int_eq(tu_write_file(path, bytes, size), 0);
  free(path);
  unsigned char *e = calloc(MAX_RECORDS, 1); /* UNKNOWN: not yet made */
  ck_assert_ptr_nonnull(e);
  for (int i = 0; i < nrecords; i++)
    e[i] = (unsigned char)records[i].now;
  expectations[nimages++] = e;
}

static void hook(int kind, void *addr, size_t len, int fd)
{
  size_t cur_size;
  (void)fd;
  if (tracked_fd < 0 || verifying)
    return;
  unsigned char *cur = read_current(&cur_size);
  if (kind == FMR_FAULT_MSYNC) {
    uint64_t off;
    if (!mapped_offset(addr, &off)) {
      free(cur);
      return; /* another file */
    }
    /* The flushed pages are now as in the page cache. */
    uint64_t end = off + len;
    if (end > cur_size)
      end = cur_size;
    durable_reserve(end);
    if (end > off)
      memcpy(durable + off, cur + off, end - off);
  } else {
    /* fsync and fdatasync flush the whole file, and its size. */
    durable_reserve(cur_size);
    memcpy(durable, cur, cur_size);
    durable_size = cur_size;
  }
  if (subset_mode) {
    free(cur);
    return;
  }
  /* Three images a power loss right now could leave. */
  save_image(durable, durable_size);
  save_image(cur, cur_size);
  unsigned char *mix = malloc(durable_size ? durable_size : 1);
  ck_assert_ptr_nonnull(mix);
  memcpy(mix, durable, durable_size);
  for (size_t p = 0; p < durable_size; p += PAGE) {
    size_t n = durable_size - p < PAGE ? durable_size - p : PAGE;
    if (p + n <= cur_size && (tu_rand(&rng) & 1))
      memcpy(mix + p, cur + p, n);
  }
  save_image(mix, durable_size);
  free(mix);
  free(cur);
}

static void commit(fmr_heap *heap, size_t size, unsigned flags)
{
  void *p;
  ck_assert_int_lt(nrecords, MAX_RECORDS);
  struct record *r = &records[nrecords];
  r->seed = 1000 + (uint64_t)nrecords;
  r->size = size;
  ck_assert_fmr_ok(fmr_malloc(heap, size, &p));
  tu_fill(p, size, r->seed);
  char name[16];
  snprintf(name, sizeof name, "p%d", nrecords);
  ck_assert_fmr_ok(
      fmr_commit(heap, p, 3, size, name, name, strlen(name), flags, &r->id));
  r->live = 1;
  r->now = (flags & FMR_COMMIT_SYNC) ? MUST : UNKNOWN;
  nrecords++;
}

static void free_record(fmr_heap *heap, int i)
{
  ck_assert_fmr_ok(fmr_record_free(heap, records[i].id));
  records[i].live = 0;
  if (records[i].now == MUST)
    records[i].now = INTACT_IF_BACK;
}

/* After a completed sync: what is live is durable, what is freed gone. */
static void synced(void)
{
  for (int i = 0; i < nrecords; i++)
    records[i].now = records[i].live ? MUST : MUST_NOT;
}

static void workload(void)
{
  fmr_heap *heap;
  ck_assert_fmr_ok(
      tu_open_sized(heap_path, FMR_OPEN_CREATE, 64 * 1024, 0, &heap));
  ck_assert_fmr_ok(fmr_close(heap));

  /* Track from a clean, fully written file. */
  tracked_fd = open(heap_path, O_RDONLY);
  ck_assert_int_ge(tracked_fd, 0);
  durable = read_current(&durable_size);
  durable_cap = durable_size;
  fault_set_sync_hook(hook);

  ck_assert_fmr_ok(tu_open(heap_path, 0, &heap));
  for (int round = 0; round < 4; round++) {
    if (round == 0)
      commit(heap, 3 * 1024 * 1024, 0); /* the file grows */
    /* Records with FMR_COMMIT_SYNC land in a second catalog segment in
       round 2, between two syncs. */
    for (int i = 0; i < 20; i++)
      commit(heap, 100 + 37 * (size_t)i, i % 7 == 3 ? FMR_COMMIT_SYNC : 0);
    /* Free some older records, rename and update others. */
    for (int i = round * 20 + 1; i < round * 20 + 21; i += 5)
      if (records[i].live)
        free_record(heap, i);
    char newname[16];
    snprintf(newname, sizeof newname, "renamed%d", round);
    ck_assert_fmr_ok(fmr_record_rename(heap, records[round * 20 + 2].id,
                                       round % 2 ? newname : NULL));
    ck_assert_fmr_ok(fmr_record_update(heap, records[round * 20 + 3].id, 9, 1,
                                       "new meta", 8));
    ck_assert_fmr_ok(fmr_sync(heap));
    synced();
  }
  /* Unsynced changes at the end, then a clean close. */
  commit(heap, 500, 0);
  free_record(heap, 3 * 20 + 4);
  ck_assert_fmr_ok(fmr_close(heap));
  fault_set_sync_hook(NULL);
  close(tracked_fd);
  tracked_fd = -1;
}

static void verify_image(int k)
{
  char name[32], what[64];
  snprintf(name, sizeof name, "img%03d", k);
  snprintf(what, sizeof what, "image %d (%s)", k,
           k % 3 == 0   ? "durable"
           : k % 3 == 1 ? "all written"
                        : "mixed");
  char *img = tu_path(dir, name);
  char *path = tu_path(dir, "verify.fmr");
  unlink(path);
  ck_assert_int_eq(tu_copy_file(img, path), 0);
  fmr_heap *heap;
  int rc = tu_open(path, 0, &heap);
  ck_assert_msg(rc == FMR_OK, "%s: open: %s (%s)", what, fmr_strerror(rc),
                fmr_errmsg());
  ck_assert_msg(fmr_check(heap, NULL, NULL) == FMR_OK, "%s: check: %s", what,
                fmr_errmsg());
  const unsigned char *e = expectations[k];
  for (int i = 0; i < nrecords; i++) {
    fmr_record rec;
    fmr_record_init(&rec);
    rc = fmr_record_get(heap, records[i].id, &rec);
    int present = rc == FMR_OK && rec.state == FMR_RECORD_COMMITTED;
    switch (e[i]) {
    case MUST:
      ck_assert_msg(present, "%s: record %d lost", what, i);
      /* fall through */
    case INTACT_IF_BACK:
      if (present)
        ck_assert_msg(
            rec.payload_bytes >= records[i].size &&
                tu_verify(rec.payload, records[i].size, records[i].seed),
            "%s: record %d has the wrong bytes", what, i);
      break;
    case MUST_NOT:
      ck_assert_msg(!present, "%s: freed record %d came back", what, i);
      break;
    default:
      break;
    }
  }
  ck_assert_int_eq(fmr_close(heap), FMR_OK);
  free(path);
  free(img);
}

START_TEST(test_power_loss_images)
{
  dir = tu_tmpdir();
  heap_path = tu_path(dir, "heap.fmr");
  workload();
  fprintf(stderr, "powerloss: %d durability points, %d images\n", nimages / 3,
          nimages);
  ck_assert_int_ge(nimages, 3 * 10);
  for (int k = 0; k < nimages; k++) {
    verify_image(k);
    free(expectations[k]);
  }
  free(durable);
  free(heap_path);
  free(dir);
}
END_TEST

/* ------------------------------------------------------------------ */
/* The page-subset model: from the durable image of the last flush, a
   power loss keeps or loses every page written since, each on its own.
   At chosen points between syncs, every such image (all of them when few
   pages differ, a random sample otherwise) must open for writing, pass
   fmr_check, keep every record that no operation touched since the last
   completed sync, with its bytes, bring back no record whose free was
   synced, and issue a new id above every id ever issued.  */

#define SUB_MAX 160

struct subrec {
  uint64_t id;
  uint64_t seed, synced_seed; /* payload now, and at the last sync */
  size_t size, synced_size;
  int live, synced_live; /* committed now, and at the last sync */
  int touched;           /* changed (or made) since the last sync */
  int ever_synced;       /* was durable at some sync */
  /* Every payload the record had, and whether an fmr_sync made it
     durable: a synced version that comes back must have its bytes (its
     space is reused only once no slot on disk can claim it); a version
     never synced may come back with any bytes. */
  uint64_t seeds[16], offsets[16];
  size_t sizes[16];
  int synced[16];
  int nversions;
};

static void sub_version(fmr_heap *heap, struct subrec *r)
{
  fmr_record rec;
  fmr_record_init(&rec);
  ck_assert_int_lt(r->nversions, 16);
  ck_assert_fmr_ok(fmr_record_get(heap, r->id, &rec));
  r->seeds[r->nversions] = r->seed;
  r->sizes[r->nversions] = r->size;
  r->offsets[r->nversions] = rec.payload_offset;
  r->synced[r->nversions++] = 0;
}

static struct subrec subs[SUB_MAX];
static int nsubs;
static uint64_t sub_seed = 50000, highest_id;
static long sub_images, sub_points;

static void sub_synced(fmr_heap *heap)
{
  ck_assert_fmr_ok(fmr_sync(heap));
  for (int i = 0; i < nsubs; i++) {
    subs[i].synced_seed = subs[i].seed;
    subs[i].synced_size = subs[i].size;
    subs[i].synced_live = subs[i].live;
    subs[i].touched = 0;
    if (subs[i].live) {
      subs[i].ever_synced = 1;
      subs[i].synced[subs[i].nversions - 1] = 1;
    }
  }
}

static int sub_commit_named(fmr_heap *heap, size_t size, int named)
{
  ck_assert_int_lt(nsubs, SUB_MAX);
  struct subrec *r = &subs[nsubs];
  void *p;
  ck_assert_fmr_ok(fmr_malloc(heap, size, &p));
  r->seed = sub_seed++;
  r->size = size;
  tu_fill(p, size, r->seed);
  char name[16];
  snprintf(name, sizeof name, "s%d", nsubs);
  ck_assert_fmr_ok(
      fmr_commit(heap, p, 4, size, named ? name : NULL, NULL, 0, 0, &r->id));
  sub_version(heap, r);
  if (r->id > highest_id)
    highest_id = r->id;
  r->live = 1;
  r->touched = 1;
  return nsubs++;
}

static int sub_commit(fmr_heap *heap, size_t size)
{
  return sub_commit_named(heap, size, 1);
}

static void sub_set_payload(fmr_heap *heap, int i, size_t size)
{
  struct subrec *r = &subs[i];
  void *p;
  ck_assert_fmr_ok(fmr_malloc(heap, size, &p));
  r->seed = sub_seed++;
  r->size = size;
  tu_fill(p, size, r->seed);
  ck_assert_fmr_ok(fmr_record_set_payload(heap, r->id, p, size));
  sub_version(heap, r);
  r->touched = 1;
}

static void sub_touch(fmr_heap *heap, int i, int what)
{
  struct subrec *r = &subs[i];
  char name[24];
  switch (what) {
  case 0:
    ck_assert_fmr_ok(fmr_record_free(heap, r->id));
    r->live = 0;
    break;
  case 1:
    snprintf(name, sizeof name, "s%d.%llu", i, (unsigned long long)sub_seed++);
    ck_assert_fmr_ok(fmr_record_rename(heap, r->id, name));
    break;
  default:
    ck_assert_fmr_ok(fmr_record_update(heap, r->id, 4, r->size, "m", 1));
    break;
  }
  r->touched = 1;
}

static void sub_verify(const unsigned char *img, size_t size, const char *what)
{
  char *path = tu_path(dir, "subset.fmr");
  unlink(path);
  ck_assert_int_eq(tu_write_file(path, img, size), 0);
  fmr_heap *heap;
  int rc = tu_open(path, 0, &heap);
  ck_assert_msg(rc == FMR_OK, "%s: writer open: %s (%s)", what,
                fmr_strerror(rc), fmr_errmsg());
  ck_assert_msg(fmr_check(heap, NULL, NULL) == FMR_OK, "%s: check: %s", what,
                fmr_errmsg());
  for (int i = 0; i < nsubs; i++) {
    struct subrec *r = &subs[i];
    fmr_record rec;
    fmr_record_init(&rec);
    rc = fmr_record_get(heap, r->id, &rec);
    int present = rc == FMR_OK && rec.state == FMR_RECORD_COMMITTED;
    if (!r->touched && r->synced_live)
      ck_assert_msg(present, "%s: record %d (id %llu) lost", what, i,
                    (unsigned long long)r->id);
    if (!r->touched && !r->synced_live && r->ever_synced)
      ck_assert_msg(!present, "%s: freed record %d (id %llu) came back", what,
                    i, (unsigned long long)r->id);
    if (present) {
      /* Any version that was ever written, with its own bytes. */
      int ok = 1;
      for (int v = 0; v < r->nversions; v++)
        if (r->synced[v] && rec.payload_offset == r->offsets[v])
          ok = rec.payload_bytes >= r->sizes[v] &&
               tu_verify(rec.payload, r->sizes[v], r->seeds[v]);
      if (!r->touched)
        ok = rec.payload_bytes >= r->synced_size &&
             tu_verify(rec.payload, r->synced_size, r->synced_seed);
      ck_assert_msg(ok, "%s: record %d (id %llu) has the wrong bytes", what, i,
                    (unsigned long long)r->id);
    }
  }
  uint64_t id;
  ck_assert_fmr_ok(fmr_commit(heap, NULL, 1, 0, NULL, NULL, 0, 0, &id));
  ck_assert_msg(id > highest_id, "%s: id %llu issued again (highest %llu)",
                what, (unsigned long long)id, (unsigned long long)highest_id);
  ck_assert_int_eq(fmr_close(heap), FMR_OK);
  free(path);
}

/* Every image a power loss now could leave, or a sample of them. */
static void sub_point(void)
{
  size_t cur_size;
  unsigned char *cur = read_current(&cur_size);
  size_t ndiff = 0, npages = (durable_size + PAGE - 1) / PAGE;
  size_t *diff = malloc((npages + 1) * sizeof *diff);
  ck_assert_ptr_nonnull(diff);
  for (size_t p = 0; p < npages; p++) {
    size_t off = p * PAGE,
           n = durable_size - off < PAGE ? durable_size - off : PAGE;
    if (off + n <= cur_size && memcmp(durable + off, cur + off, n) != 0)
      diff[ndiff++] = p;
  }
  unsigned char *img = malloc(durable_size ? durable_size : 1);
  ck_assert_ptr_nonnull(img);
  size_t images = ndiff <= 7 ? (size_t)1 << ndiff : 160;
  for (size_t k = 0; k < images; k++) {
    memcpy(img, durable, durable_size);
    for (size_t d = 0; d < ndiff; d++) {
      int keep = ndiff <= 7 ? (int)((k >> d) & 1)
                 : k == 0   ? 0
                 : k == 1   ? 1
                            : (int)(tu_rand(&rng) & 1);
      if (keep) {
        size_t off = diff[d] * PAGE;
        size_t n = durable_size - off < PAGE ? durable_size - off : PAGE;
        memcpy(img + off, cur + off, n);
      }
    }
    char what[96];
    snprintf(what, sizeof what,
             "point %ld, image %zu of %zu (%zu pages differ)", sub_points, k,
             images, ndiff);
    verifying = 1;
    sub_verify(img, durable_size, what);
    verifying = 0;
    sub_images++;
  }
  sub_points++;
  free(img);
  free(diff);
  free(cur);
}

START_TEST(test_page_subsets)
{
  dir = tu_tmpdir();
  heap_path = tu_path(dir, "heap.fmr");
  fmr_heap *heap;
  ck_assert_fmr_ok(
      tu_open_sized(heap_path, FMR_OPEN_CREATE, 256 * 1024, 0, &heap));
  ck_assert_fmr_ok(fmr_close(heap));
  tracked_fd = open(heap_path, O_RDONLY);
  ck_assert_int_ge(tracked_fd, 0);
  durable = read_current(&durable_size);
  durable_cap = durable_size;
  subset_mode = 1;
  fault_set_sync_hook(hook);
  ck_assert_fmr_ok(tu_open(heap_path, 0, &heap));

  /* The sequence of issue 10, item 1: X's payload swapped and synced,
     X's old space reused by C, X freed, no sync. */
  int x = sub_commit_named(heap, 4096, 0); /* no aux block: see below */
  for (int i = 0; i < 70; i++) /* X's next slot: in the next segment */
    sub_commit(heap, 64);
  sub_synced(heap);
  fmr_record before, after;
  fmr_record_init(&before);
  fmr_record_init(&after);
  ck_assert_fmr_ok(fmr_record_get(heap, subs[x].id, &before));
  sub_set_payload(heap, x, 4096);
  sub_synced(heap);
  /* The sync emptied X's old slot; an empty record takes that slot, so
     that C's slot lies elsewhere and a power loss can keep C's slot and
     X's free but lose the emptying of X's old slot.  (Were X named, C's
     aux block could take X's old one, and the checksum of X's old slot
     would then fail and hide the overlap.) */
  uint64_t empty_id;
  ck_assert_fmr_ok(fmr_commit(heap, NULL, 1, 0, NULL, NULL, 0, 0, &empty_id));
  highest_id = empty_id;
  int c = sub_commit(heap, 4096);
  ck_assert_fmr_ok(fmr_record_get(heap, subs[c].id, &after));
  ck_assert_uint_eq(after.payload_offset, before.payload_offset);
  sub_touch(heap, x, 0);
  sub_point();
  sub_synced(heap);

  /* Then a random mix, a point every few operations. */
  uint64_t r = 777;
  for (int step = 0; step < 120 && nsubs < SUB_MAX - 2; step++) {
    int live[SUB_MAX], nlive = 0;
    for (int i = 0; i < nsubs; i++)
      if (subs[i].live)
        live[nlive++] = i;
    unsigned op = (unsigned)(tu_rand(&r) % 10);
    size_t size = 64 + (size_t)(tu_rand(&r) % 6000);
    if (op < 3 || nlive < 4)
      sub_commit(heap, size);
    else if (op < 5) {
      int i = live[tu_rand(&r) % (uint64_t)nlive];
      if (subs[i].nversions < 16)
        sub_set_payload(heap, i, size);
    } else if (op < 9)
      sub_touch(heap, live[tu_rand(&r) % (uint64_t)nlive], (int)(op - 5) % 3);
    else
      sub_synced(heap);
    if (step % 6 == 5)
      sub_point();
  }
  ck_assert_fmr_ok(fmr_close(heap));
  fault_set_sync_hook(NULL);
  subset_mode = 0;
  close(tracked_fd);
  tracked_fd = -1;
  fprintf(stderr, "page subsets: %ld points, %ld images\n", sub_points,
          sub_images);
  ck_assert_int_ge(sub_points, 15);
  free(durable);
  durable = NULL;
  durable_size = durable_cap = 0;
  tu_rmtree(dir);
  free(heap_path);
  free(dir);
}
END_TEST

/* ------------------------------------------------------------------ */
/* fmr_sync flushes without the heap lock (issue 10, item 11): while its
   msync runs, another thread allocates, commits and frees on the heap.
   The sync hook runs inside the library's msync wrapper, so a thread
   started there finds the lock free or blocks on it. */

static fmr_heap *during_heap;
static int during_armed, during_done, during_ok;

static void *during_worker(void *arg)
{
  (void)arg;
  void *p;
  uint64_t id;
  int ok = fmr_malloc(during_heap, 1000, &p) == FMR_OK;
  if (ok) {
    memset(p, 7, 1000);
    ok = fmr_commit(during_heap, p, 1, 1000, "during", NULL, 0, 0, &id) ==
         FMR_OK;
  }
  void *q;
  if (ok && fmr_malloc(during_heap, 100, &q) == FMR_OK)
    fmr_free(during_heap, q);
  __atomic_store_n(&during_ok, ok, __ATOMIC_SEQ_CST);
  __atomic_store_n(&during_done, 1, __ATOMIC_SEQ_CST);
  return NULL;
}

static void during_hook(int kind, void *addr, size_t len, int fd)
{
  (void)addr;
  (void)len;
  (void)fd;
  if (kind != FMR_FAULT_MSYNC || !during_armed)
    return;
  during_armed = 0;
  pthread_t t;
  ck_assert_int_eq(pthread_create(&t, NULL, during_worker, NULL), 0);
  for (int i = 0; i < 2000 && !__atomic_load_n(&during_done, __ATOMIC_SEQ_CST);
       i++)
    usleep(1000);
  if (__atomic_load_n(&during_done, __ATOMIC_SEQ_CST))
    pthread_join(t, NULL);
  else
    pthread_detach(t); /* blocked on the heap lock: joins after the sync */
}

START_TEST(test_sync_without_lock)
{
  char *tdir = tu_tmpdir();
  char *path = tu_path(tdir, "during.fmr");
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_CREATE, &during_heap));
  void *p;
  uint64_t id;
  ck_assert_fmr_ok(fmr_malloc(during_heap, 1 << 20, &p));
  memset(p, 1, 1 << 20);
  ck_assert_fmr_ok(
      fmr_commit(during_heap, p, 1, 1 << 20, "big", NULL, 0, 0, &id));
  fault_set_sync_hook(during_hook);
  during_armed = 1;
  ck_assert_fmr_ok(fmr_sync(during_heap));
  fault_set_sync_hook(NULL);
  ck_assert_msg(__atomic_load_n(&during_done, __ATOMIC_SEQ_CST),
                "another thread could not allocate during fmr_sync's flush");
  ck_assert_int_eq(during_ok, 1);
  /* What the other thread did is consistent and durable at the next
     sync. */
  ck_assert_fmr_ok(fmr_check(during_heap, NULL, NULL));
  ck_assert_fmr_ok(fmr_sync(during_heap));
  ck_assert_fmr_ok(fmr_close(during_heap));
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_READONLY, &during_heap));
  fmr_record rec;
  fmr_record_init(&rec);
  ck_assert_fmr_ok(fmr_record_find(during_heap, "during", &rec));
  ck_assert_fmr_ok(fmr_close(during_heap));
  tu_rmtree(tdir);
  free(path);
  free(tdir);
}
END_TEST

static Suite *powerloss_suite(void)
{
  Suite *s = suite_create("powerloss");
  TCase *tc = tcase_create("core");
  tu_timeout(tc, 300);
  tcase_add_test(tc, test_power_loss_images);
  tcase_add_test(tc, test_page_subsets);
  tcase_add_test(tc, test_sync_without_lock);
  suite_add_tcase(s, tc);
  return s;
}

int main(void)
{
  return tu_main(powerloss_suite());
}
