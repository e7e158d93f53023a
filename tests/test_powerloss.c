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
  if (tracked_fd < 0)
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

static Suite *powerloss_suite(void)
{
  Suite *s = suite_create("powerloss");
  TCase *tc = tcase_create("core");
  tu_timeout(tc, 300);
  tcase_add_test(tc, test_power_loss_images);
  suite_add_tcase(s, tc);
  return s;
}

int main(void)
{
  return tu_main(powerloss_suite());
}
