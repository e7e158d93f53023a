/* test_speed.c: operations whose cost must not grow with the number of
   records, and the bookkeeping that keeps them fast: the index of
   committed payloads behind fmr_usable_size and the FMR_ECOMMITTED
   errors of fmr_free, fmr_realloc and fmr_commit (issue 10, item 9).

   Timing assertions compare against bounds a hundred times looser than
   what the constant-time code needs and ten times tighter than what a
   scan of the catalog costs, so a loaded machine does not fail them.

   Copyright (C) 2026 The libfmalloc-r authors.
   This file is part of libfmalloc-r, free software under the GNU Lesser
   General Public License, version 2.1 or (at your option) any later version.  */

#include <config.h>

#include "testutil.h"

#include <string.h>
#include <time.h>

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
  ck_assert_fmr_ok(fmr_record_find(heap, "c", &rec));
  expect_committed(heap, rec.payload, 512);
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
  suite_add_tcase(s, tc);
  return s;
}

int main(void)
{
  return tu_main(speed_suite());
}
