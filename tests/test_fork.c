/* test_fork.c: a fork() child's copies of its parent's heaps are
   private copy-on-write mappings: the child reads the parent's records,
   may store through pointers without a fault, and nothing it stores
   reaches the file or the parent; every change through the API fails
   with FMR_EFORKED.

   Copyright (C) 2026 The libfmalloc-r authors.
   This file is part of libfmalloc-r, free software under the GNU Lesser
   General Public License, version 2.1 or (at your option) any later version.
 */

#include <config.h>

#include "testutil.h"

#include <string.h>

#define PAYLOAD 20000

struct child_arg {
  fmr_heap *heap;
  unsigned char *p; /* the record's payload in the inherited mapping */
  int refusal;      /* what a change returns: FMR_EFORKED, or
                       FMR_EREADONLY for a reader's heap */
};

/* In the child: the parent's bytes are there; overwrite them through
   the pointer and read the new ones back; the API refuses changes. */
static int scribble_child(void *argp)
{
  struct child_arg *a = argp;
  CHILD_CHECK(tu_verify(a->p, PAYLOAD, 7));
  memset(a->p, 0xAB, PAYLOAD);
  for (size_t i = 0; i < PAYLOAD; i++)
    CHILD_CHECK(a->p[i] == 0xAB);
  void *q = NULL;
  CHILD_CHECK_RC(fmr_malloc(a->heap, 64, &q), a->refusal);
  uint64_t id;
  CHILD_CHECK_RC(fmr_commit(a->heap, NULL, 1, 0, "new", NULL, 0, 0, &id),
                 a->refusal);
  CHILD_CHECK_RC(fmr_close(a->heap), FMR_OK);
  return 0;
}

static void check_record(const char *path, uint64_t seed)
{
  fmr_heap *heap;
  fmr_record rec;
  fmr_record_init(&rec);
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_READONLY, &heap));
  ck_assert_fmr_ok(fmr_record_find(heap, "rec", &rec));
  ck_assert(tu_verify(rec.payload, PAYLOAD, seed));
  ck_assert_fmr_ok(fmr_close(heap));
}

/* A new heap at PATH with a PAYLOAD-byte block filled from SEED (*P). */
static fmr_heap *heap_with_block(const char *path, uint64_t seed,
                                 unsigned char **p)
{
  fmr_heap *heap;
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_CREATE, &heap));
  ck_assert_fmr_ok(fmr_malloc(heap, PAYLOAD, (void **)p));
  tu_fill(*p, PAYLOAD, seed);
  return heap;
}

/* Commit the block P of HEAP as the record "rec", synced. */
static void commit_rec(fmr_heap *heap, unsigned char *p)
{
  uint64_t id;
  ck_assert_fmr_ok(
      fmr_commit(heap, p, 1, PAYLOAD, "rec", NULL, 0, FMR_COMMIT_SYNC, &id));
}

START_TEST(test_child_writes_stay_in_child)
{
  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "fork.fmr");
  unsigned char *p;
  fmr_heap *heap = heap_with_block(path, 7, &p);
  commit_rec(heap, p);
  struct child_arg a = {heap, p, FMR_EFORKED};
  ck_assert_int_eq(tu_wait(tu_fork(scribble_child, &a)), 0);
  /* the parent's view and the file are unchanged */
  ck_assert(tu_verify(p, PAYLOAD, 7));
  ck_assert_fmr_ok(fmr_close(heap));
  check_record(path, 7);
  free(path);
  free(dir);
}
END_TEST

START_TEST(test_reader_child_writes_without_fault)
{
  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "fork-ro.fmr");
  unsigned char *p;
  fmr_heap *heap = heap_with_block(path, 7, &p);
  commit_rec(heap, p);
  ck_assert_fmr_ok(fmr_close(heap));
  /* a reader's mapping is read-only; its child's private copy is not */
  fmr_record rec;
  fmr_record_init(&rec);
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_READONLY, &heap));
  ck_assert_fmr_ok(fmr_record_find(heap, "rec", &rec));
  struct child_arg a = {heap, rec.payload, FMR_EREADONLY};
  int status = tu_wait(tu_fork(scribble_child, &a));
  ck_assert_msg(status == 0, "child exited with %d (%s)", status,
                TU_SIGNALED(status) ? "killed by a signal" : "failed");
  ck_assert(tu_verify(rec.payload, PAYLOAD, 7));
  ck_assert_fmr_ok(fmr_close(heap));
  check_record(path, 7);
  free(path);
  free(dir);
}
END_TEST

/* The child sees what the parent stored before the fork, and the parent
   goes on changing its heap afterwards without the child's copy getting
   in the way. */
static int read_child(void *argp)
{
  struct child_arg *a = argp;
  CHILD_CHECK(tu_verify(a->p, PAYLOAD, 9));
  return 0;
}

START_TEST(test_parent_goes_on_after_fork)
{
  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "fork-on.fmr");
  unsigned char *p;
  fmr_heap *heap = heap_with_block(path, 9, &p);
  struct child_arg a = {heap, p, FMR_EFORKED};
  ck_assert_int_eq(tu_wait(tu_fork(read_child, &a)), 0);
  commit_rec(heap, p);
  tu_fill(p, PAYLOAD, 11);
  ck_assert_fmr_ok(fmr_close(heap));
  check_record(path, 11);
  free(path);
  free(dir);
}
END_TEST

/* A reader's child refreshes its copy after the file grew (here the
   child itself writes the file, which no one holds for writing): the new
   part is mapped privately too, so the child may store into it without a
   fault, and its stores do not reach the file. */
static int refresh_child(void *argp)
{
  struct child_arg *a = argp;
  const char *path = fmr_path(a->heap);
  fmr_heap *w;
  unsigned char *q;
  uint64_t id;
  fmr_record rec;
  fmr_record_init(&rec);
  CHILD_CHECK_RC(tu_open(path, 0, &w), FMR_OK);
  CHILD_CHECK(w != a->heap);
  CHILD_CHECK_RC(fmr_malloc(w, 4 * TU_MIB, (void **)&q), FMR_OK);
  tu_fill(q, 4 * TU_MIB, 13);
  CHILD_CHECK_RC(
      fmr_commit(w, q, 1, 4 * TU_MIB, "big", NULL, 0, FMR_COMMIT_SYNC, &id),
      FMR_OK);
  CHILD_CHECK_RC(fmr_close(w), FMR_OK);
  CHILD_CHECK_RC(fmr_refresh(a->heap), FMR_OK);
  CHILD_CHECK_RC(fmr_record_find(a->heap, "big", &rec), FMR_OK);
  CHILD_CHECK(tu_verify(rec.payload, 4 * TU_MIB, 13));
  memset(rec.payload, 0xCD, 4 * TU_MIB);
  CHILD_CHECK(((unsigned char *)rec.payload)[4 * TU_MIB - 1] == 0xCD);
  CHILD_CHECK_RC(fmr_close(a->heap), FMR_OK);
  return 0;
}

START_TEST(test_reader_child_refreshes)
{
  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "fork-refresh.fmr");
  unsigned char *p;
  fmr_heap *heap = heap_with_block(path, 7, &p);
  commit_rec(heap, p);
  ck_assert_fmr_ok(fmr_close(heap));
  int64_t before = tu_file_size(path);
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_READONLY, &heap));
  struct child_arg a = {heap, NULL, FMR_EREADONLY};
  int status = tu_wait(tu_fork(refresh_child, &a));
  ck_assert_msg(status == 0, "child exited with %d", status);
  ck_assert_int_gt(tu_file_size(path), before);
  ck_assert_fmr_ok(fmr_close(heap));
  check_record(path, 7);
  fmr_record rec;
  fmr_record_init(&rec);
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_READONLY, &heap));
  ck_assert_fmr_ok(fmr_record_find(heap, "big", &rec));
  ck_assert(tu_verify(rec.payload, 4 * TU_MIB, 13));
  ck_assert_fmr_ok(fmr_close(heap));
  free(path);
  free(dir);
}
END_TEST

static Suite *fork_suite(void)
{
  Suite *s = suite_create("fork");
  TCase *tc = tcase_create("private mapping");
  tcase_add_test(tc, test_child_writes_stay_in_child);
  tcase_add_test(tc, test_reader_child_writes_without_fault);
  tcase_add_test(tc, test_parent_goes_on_after_fork);
  tcase_add_test(tc, test_reader_child_refreshes);
  suite_add_tcase(s, tc);
  return s;
}

int main(void)
{
  return tu_main(fork_suite());
}
