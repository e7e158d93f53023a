/* test_speed.c: operations whose cost must not grow with the number of
   records, and the bookkeeping that keeps them fast: the index of
   committed payloads behind fmr_usable_size and the FMR_ECOMMITTED
   errors of fmr_free, fmr_realloc and fmr_commit (issue 10, item 9); and
   the cases where a writer's one-pass open (issue 10, item 12) must give
   up and load the two-pass way: two live slots for one id, overlapping
   blocks.

   Timing assertions compare against bounds a hundred times looser than
   what the constant-time code needs and ten times tighter than what a
   scan of the catalog costs, so a loaded machine does not fail them.

   Copyright (C) 2026 The libfmalloc-r authors.
   This file is part of libfmalloc-r, free software under the GNU Lesser
   General Public License, version 2.1 or (at your option) any later version.  */

#include <config.h>

#include "testutil.h"

#include <stddef.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "fmr-internal.h" /* on-disk layout of meta pages and slots */

static double now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Commit COUNT records of SIZE bytes named "r<N>"; the payloads go in
   PAYLOADS (may be NULL). */
static void fill_heap(fmr_heap *heap, size_t count, size_t size,
                      void **payloads)
{
  char name[32];
  for (size_t i = 0; i < count; i++) {
    void *p;
    ck_assert_fmr_ok(fmr_malloc(heap, size, &p));
    memset(p, (int)(i & 0xff), size);
    snprintf(name, sizeof name, "r%zu", i);
    ck_assert_fmr_ok(fmr_commit(heap, p, 1, size, name, NULL, 0, 0, NULL));
    if (payloads != NULL)
      payloads[i] = p;
  }
}

/* The size and error paths on committed payloads cost a hash lookup, not
   a walk over every record: 6,000 calls on a heap of 50,000 records took
   about 3 s when each walked the catalog. */
START_TEST(test_committed_payload_constant_time)
{
  enum { RECORDS = 50000, CALLS = 2000 };
  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "speed.fmr");
  fmr_heap *heap;
  void **payloads = calloc(RECORDS, sizeof *payloads);
  ck_assert_ptr_nonnull(payloads);
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_CREATE, &heap));
  fill_heap(heap, RECORDS, 100, payloads);

  /* The first call may build the index. */
  ck_assert_uint_eq(fmr_usable_size(heap, payloads[0]), 128);
  double t0 = now_ms();
  for (size_t i = 0; i < CALLS; i++) {
    void *p = payloads[(i * 7919) % RECORDS], *r;
    ck_assert_uint_eq(fmr_usable_size(heap, p), 128);
    ck_assert_fmr(fmr_free(heap, p), FMR_ECOMMITTED);
    ck_assert_fmr(fmr_realloc(heap, p, 4096, &r), FMR_ECOMMITTED);
  }
  double elapsed = now_ms() - t0;
  ck_assert_msg(elapsed < 300.0, "%d calls on committed payloads took %.1f ms",
                3 * CALLS, elapsed);
  ck_assert_fmr_ok(fmr_close(heap));
  free(payloads);
  free(path);
  free(dir);
}
END_TEST

/* usable size of P in HEAP, and the error fmr_free gives for it */
static void expect_committed(fmr_heap *heap, void *p, size_t bytes)
{
  void *r;
  ck_assert_uint_eq(fmr_usable_size(heap, p), bytes);
  ck_assert_fmr(fmr_free(heap, p), FMR_ECOMMITTED);
  ck_assert_fmr(fmr_realloc(heap, p, bytes * 2, &r), FMR_ECOMMITTED);
}

static void expect_not_committed(fmr_heap *heap, void *p)
{
  ck_assert_uint_eq(fmr_usable_size(heap, p), 0);
  ck_assert_fmr(fmr_free(heap, p), FMR_ENOTOWNED);
}

/* The index follows every change of the catalog once it is built. */
START_TEST(test_payload_index_follows_changes)
{
  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "follow.fmr");
  fmr_heap *heap, *reader;
  void *a, *b, *c, *d;
  uint64_t ida, idb, idc, idd;
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_CREATE, &heap));
  fill_heap(heap, 100, 64, NULL);
  ck_assert_fmr_ok(fmr_malloc(heap, 200, &a));
  ck_assert_fmr_ok(fmr_commit(heap, a, 1, 200, "a", NULL, 0, 0, &ida));
  /* Built now, before the changes below. */
  expect_committed(heap, a, 256);

  ck_assert_fmr_ok(fmr_malloc(heap, 300, &b));
  ck_assert_uint_eq(fmr_usable_size(heap, b), 320);
  ck_assert_fmr_ok(fmr_commit(heap, b, 1, 300, "b", NULL, 0, 0, &idb));
  expect_committed(heap, b, 320);

  /* New payload: the old block is no record's any more, the new one is. */
  ck_assert_fmr_ok(fmr_malloc(heap, 1000, &c));
  ck_assert_fmr_ok(fmr_record_set_payload(heap, ida, c, 1000));
  expect_committed(heap, c, 1024);
  expect_not_committed(heap, a);

  /* Rename and update move the record to a new slot. */
  ck_assert_fmr_ok(fmr_record_rename(heap, ida, "a2"));
  ck_assert_fmr_ok(fmr_record_update(heap, ida, 2, 999, "m", 1));
  expect_committed(heap, c, 1024);

  /* A tombstone keeps its payload; reclaim and free give it up. */
  ck_assert_fmr_ok(fmr_record_tombstone(heap, idb));
  expect_committed(heap, b, 320);
  ck_assert_fmr_ok(fmr_reclaim(heap, NULL));
  expect_not_committed(heap, b);
  ck_assert_fmr_ok(fmr_record_free(heap, ida));
  expect_not_committed(heap, c);

  /* A block at a freed payload's offset is the caller's again. */
  ck_assert_fmr_ok(fmr_sync(heap));
  ck_assert_fmr_ok(fmr_malloc(heap, 1000, &d));
  ck_assert_fmr_ok(fmr_commit(heap, d, 1, 1000, "d", NULL, 0, 0, &idd));
  expect_committed(heap, d, 1024);
  ck_assert_fmr_ok(fmr_record_free(heap, idd));
  ck_assert_fmr_ok(fmr_sync(heap));
  ck_assert_fmr_ok(fmr_malloc(heap, 1000, &d));
  ck_assert_uint_eq(fmr_usable_size(heap, d), 1024);
  ck_assert_fmr_ok(fmr_free(heap, d));

  /* After a reopen (index built anew) and in a reader. */
  ck_assert_fmr_ok(fmr_malloc(heap, 500, &c));
  ck_assert_fmr_ok(fmr_commit(heap, c, 1, 500, "c", NULL, 0, 0, &idc));
  uint64_t offset = fmr_ptr_to_offset(heap, c);
  ck_assert_fmr_ok(fmr_close(heap));
  ck_assert_fmr_ok(tu_open(path, 0, &heap));
  c = fmr_offset_to_ptr(heap, offset);
  expect_committed(heap, c, 512);
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_READONLY, &reader));
  ck_assert_uint_eq(fmr_usable_size(reader, fmr_offset_to_ptr(reader, offset)),
                    512);
  ck_assert_fmr_ok(fmr_close(reader));

  /* Compaction rebuilds the file: the payloads are indexed there too. */
  ck_assert_fmr_ok(fmr_close(heap));
  ck_assert_fmr_ok(fmr_compact(path, NULL, NULL));
  ck_assert_fmr_ok(tu_open(path, 0, &heap));
  fmr_record rec;
  fmr_record_init(&rec);
  ck_assert_fmr_ok(fmr_record_find(heap, "c", &rec));
  expect_committed(heap, rec.payload, 512);
  ck_assert_fmr_ok(fmr_check(heap, NULL, NULL));
  ck_assert_fmr_ok(fmr_close(heap));
  free(path);
  free(dir);
}
END_TEST

/* File offset of the live slot of record ID in the first catalog
   segment of PATH (0 if none), and the slot in *OUT. */
static uint64_t find_slot(const char *path, uint64_t id,
                          struct fmr_disk_record *out)
{
  struct fmr_disk_meta meta;
  struct fmr_disk_segment seg;
  ck_assert_int_eq(tu_pread(path, 0, &meta, sizeof meta), 0);
  uint64_t head = meta.meta_catalog_head;
  ck_assert_int_eq(tu_pread(path, head, &seg, sizeof seg), 0);
  for (uint64_t i = 0; i < seg.seg_slots; i++) {
    uint64_t at = head + sizeof seg + i * sizeof *out;
    ck_assert_int_eq(tu_pread(path, at, out, sizeof *out), 0);
    if (out->rec_id == id && out->rec_state == FMR_SLOT_COMMITTED)
      return at;
  }
  return 0;
}

static void write_slot(const char *path, uint64_t at,
                       struct fmr_disk_record *r)
{
  r->rec_checksum =
      tu_crc32c(&r->rec_id, offsetof(struct fmr_disk_record, rec_checksum) -
                                offsetof(struct fmr_disk_record, rec_id));
  ck_assert_int_eq(tu_pwrite(path, at, r, sizeof *r), 0);
}

/* A crash between the steps of an update leaves two live slots for one
   id; the writer's open keeps the higher generation, and counts, names
   and free space are those of the kept slot alone. */
START_TEST(test_open_twin_slots)
{
  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "twins.fmr");
  fmr_heap *heap;
  void *p;
  uint64_t id;
  fmr_record rec;
  fmr_record_init(&rec);
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_CREATE, &heap));
  fill_heap(heap, 20, 100, NULL);
  ck_assert_fmr_ok(fmr_malloc(heap, 300, &p));
  ck_assert_fmr_ok(fmr_commit(heap, p, 1, 300, "old", NULL, 0, 0, &id));
  ck_assert_fmr_ok(fmr_close(heap));

  /* The next generation in a free slot, with a new type and length (the
     same aux block), as an update that a crash stopped before the old
     slot was emptied leaves it. */
  struct fmr_disk_record old, twin;
  uint64_t old_at = find_slot(path, id, &old);
  ck_assert_uint_ne(old_at, 0);
  uint64_t twin_at = old_at + 10 * sizeof twin;
  ck_assert_int_eq(tu_pread(path, twin_at, &twin, sizeof twin), 0);
  ck_assert_uint_eq(twin.rec_state, FMR_SLOT_EMPTY);
  twin = old;
  twin.rec_generation = old.rec_generation + 1;
  twin.rec_type = 77;
  twin.rec_length = 123;
  write_slot(path, twin_at, &twin);

  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_RECOVER, &heap));
  fmr_stats st = tu_stat(heap);
  ck_assert_uint_eq(st.records_committed, 21);
  ck_assert_fmr_ok(fmr_record_find(heap, "old", &rec));
  ck_assert_uint_eq(rec.id, id);
  ck_assert_uint_eq(rec.type, 77);
  ck_assert_uint_eq(rec.length, 123);
  ck_assert_uint_eq(rec.generation, old.rec_generation + 1);
  ck_assert_fmr_ok(fmr_check(heap, NULL, NULL));
  /* The old slot was emptied: the next open has one slot for the id. */
  ck_assert_fmr_ok(fmr_close(heap));
  ck_assert_uint_eq(find_slot(path, id, &old), twin_at);
  ck_assert_fmr_ok(tu_open(path, 0, &heap));
  ck_assert_uint_eq(tu_stat(heap).records_committed, 21);
  ck_assert_fmr_ok(fmr_check(heap, NULL, NULL));
  ck_assert_fmr_ok(fmr_close(heap));
  free(path);
  free(dir);
}
END_TEST

/* Two records whose payloads overlap: the writer's open refuses the file
   and names both blocks, whether the one-pass open tracks space in a
   bitmap or not; a reader opens it. */
START_TEST(test_open_overlap_refused)
{
  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "overlap.fmr");
  fmr_heap *heap;
  void *p, *q;
  uint64_t idp, idq;
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_CREATE, &heap));
  fill_heap(heap, 20, 100, NULL);
  ck_assert_fmr_ok(fmr_malloc(heap, 4096, &p));
  ck_assert_fmr_ok(fmr_commit(heap, p, 1, 4096, "p", NULL, 0, 0, &idp));
  ck_assert_fmr_ok(fmr_malloc(heap, 128, &q));
  ck_assert_fmr_ok(fmr_commit(heap, q, 1, 128, "q", NULL, 0, 0, &idq));
  uint64_t p_offset = fmr_ptr_to_offset(heap, p);
  ck_assert_fmr_ok(fmr_close(heap));

  /* q's payload now lies inside p's. */
  struct fmr_disk_record r;
  uint64_t at = find_slot(path, idq, &r);
  ck_assert_uint_ne(at, 0);
  r.rec_payload_offset = p_offset + 1024;
  write_slot(path, at, &r);

  ck_assert_fmr(tu_open(path, 0, &heap), FMR_ECORRUPT);
  ck_assert_ptr_nonnull(strstr(fmr_errmsg(), "overlap"));
  char want[64];
  snprintf(want, sizeof want, "%llu", (unsigned long long)p_offset);
  ck_assert_ptr_nonnull(strstr(fmr_errmsg(), want));
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_READONLY, &heap));
  ck_assert_fmr_ok(fmr_close(heap));
  free(path);
  free(dir);
}
END_TEST

/* The one-pass open rebuilds the same free space as before: a heap with
   holes of every size, closed and reopened, has the same statistics,
   passes fmr_check, and hands out its holes again. */
START_TEST(test_open_free_space_same)
{
  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "holes.fmr");
  fmr_heap *heap;
  uint64_t ids[300];
  char name[32];
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_CREATE, &heap));
  for (size_t i = 0; i < 300; i++) {
    void *p;
    size_t size = 1 + (i * 2654435761u) % 9000;
    ck_assert_fmr_ok(fmr_malloc(heap, size, &p));
    snprintf(name, sizeof name, "h%zu", i);
    ck_assert_fmr_ok(fmr_commit(heap, p, 1, size, i % 3 ? name : NULL, NULL, 0,
                                0, &ids[i]));
  }
  for (size_t i = 0; i < 300; i += 4)
    ck_assert_fmr_ok(fmr_record_free(heap, ids[i]));
  for (size_t i = 1; i < 300; i += 6)
    ck_assert_fmr_ok(fmr_record_tombstone(heap, ids[i]));
  ck_assert_fmr_ok(fmr_sync(heap));
  fmr_stats before = tu_stat(heap);
  ck_assert_fmr_ok(fmr_close(heap));
  ck_assert_fmr_ok(tu_open(path, 0, &heap));
  fmr_stats after = tu_stat(heap);
  ck_assert_uint_eq(after.records_committed, before.records_committed);
  ck_assert_uint_eq(after.records_tombstone, before.records_tombstone);
  ck_assert_uint_eq(after.free_bytes, before.free_bytes);
  ck_assert_uint_eq(after.used_bytes, before.used_bytes);
  ck_assert_fmr_ok(fmr_check(heap, NULL, NULL));
  ck_assert_fmr_ok(fmr_close(heap));
  free(path);
  free(dir);
}
END_TEST

static Suite *speed_suite(void)
{
  Suite *s = suite_create("speed");
  TCase *tc = tcase_create("core");
  tu_timeout(tc, 120);
  tcase_add_test(tc, test_committed_payload_constant_time);
  tcase_add_test(tc, test_payload_index_follows_changes);
  tcase_add_test(tc, test_open_twin_slots);
  tcase_add_test(tc, test_open_overlap_refused);
  tcase_add_test(tc, test_open_free_space_same);
  suite_add_tcase(s, tc);
  return s;
}

int main(void)
{
  return tu_main(speed_suite());
}
