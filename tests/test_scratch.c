/* test_scratch.c: scratch heaps are anonymous files that nothing outlives,
   not even a process killed with SIGKILL, and have no catalog.

   Copyright (C) 2026 The libfmalloc-r authors.
   This file is part of libfmalloc-r, free software under the GNU Lesser
   General Public License, version 2.1 or (at your option) any later version.  */

#include <config.h>

#include "testutil.h"

#include <signal.h>
#include <string.h>

static int open_scratch(const char *path, fmr_heap **heap)
{
  fmr_options options;
  fmr_options_init(&options);
  options.mode = FMR_MODE_SCRATCH;
  return fmr_open(path, &options, heap);
}

START_TEST(test_scratch_alloc)
{
  char *dir = tu_tmpdir();
  fmr_heap *heap;
  ck_assert_fmr_ok(open_scratch(dir, &heap));
  ck_assert_int_eq(fmr_mode_of(heap), FMR_MODE_SCRATCH);
  ck_assert_int_eq(fmr_is_readonly(heap), 0);
  fmr_stats st = tu_stat(heap);
  ck_assert_int_eq(st.mode, FMR_MODE_SCRATCH);
  ck_assert_uint_eq(st.records_committed, 0);

  enum { N = 200 };
  void *ptrs[N];
  for (int i = 0; i < N; i++) {
    size_t size = 10 + (size_t)i * 211;
    ck_assert_fmr_ok(fmr_malloc(heap, size, &ptrs[i]));
    ck_assert_uint_eq((uintptr_t)ptrs[i] % FMR_ALIGNMENT, 0);
    tu_fill(ptrs[i], size, (uint64_t)i);
  }
  void *z;
  ck_assert_fmr_ok(fmr_calloc(heap, 100, 100, &z));
  ck_assert_uint_eq(tu_first_nonzero(z, 10000), 10000);
  void *big;
  ck_assert_fmr_ok(fmr_malloc(heap, 8 * TU_MIB, &big));
  memset(big, 0x33, 8 * TU_MIB);
  ck_assert_fmr_ok(fmr_realloc(heap, ptrs[0], 100000, &ptrs[0]));
  ck_assert(tu_verify(ptrs[0], 10, 0));
  for (int i = 1; i < N; i++)
    ck_assert(tu_verify(ptrs[i], 10 + (size_t)i * 211, (uint64_t)i));
  ck_assert_uint_ne(fmr_ptr_to_offset(heap, big), 0);
  ck_assert_fmr_ok(fmr_free(heap, big));
  ck_assert_fmr_ok(fmr_free(heap, z));
  for (int i = 0; i < N; i++)
    ck_assert_fmr_ok(fmr_free(heap, ptrs[i]));
  ck_assert_fmr(fmr_free(heap, ptrs[5]), FMR_ENOTOWNED);
  ck_assert_fmr_ok(fmr_check(heap, NULL, NULL));
  /* No named file while open either. */
  ck_assert_int_eq(tu_count_entries(dir), 0);
  ck_assert_fmr_ok(fmr_close(heap));
  ck_assert_int_eq(tu_count_entries(dir), 0);
  free(dir);
}
END_TEST

START_TEST(test_scratch_no_catalog)
{
  char *dir = tu_tmpdir();
  fmr_heap *heap;
  ck_assert_fmr_ok(open_scratch(dir, &heap));
  void *p;
  uint64_t id, count;
  fmr_record rec;
  fmr_record_init(&rec);
  ck_assert_fmr_ok(fmr_malloc(heap, 64, &p));
  ck_assert_fmr(fmr_commit(heap, p, 1, 64, "x", NULL, 0, 0, &id),
                FMR_ESCRATCH);
  ck_assert_fmr(fmr_commit(heap, NULL, 1, 0, NULL, NULL, 0, 0, &id),
                FMR_ESCRATCH);
  ck_assert_fmr(fmr_record_get(heap, 1, &rec), FMR_ESCRATCH);
  ck_assert_fmr(fmr_record_find(heap, "x", &rec), FMR_ESCRATCH);
  ck_assert_fmr(fmr_record_update(heap, 1, 1, 1, NULL, 0), FMR_ESCRATCH);
  ck_assert_fmr(fmr_record_rename(heap, 1, "y"), FMR_ESCRATCH);
  ck_assert_fmr(fmr_record_tombstone(heap, 1), FMR_ESCRATCH);
  ck_assert_fmr(fmr_record_free(heap, 1), FMR_ESCRATCH);
  ck_assert_fmr(fmr_reclaim(heap, &count), FMR_ESCRATCH);
  /* The block is still the caller's. */
  ck_assert_fmr_ok(fmr_free(heap, p));
  ck_assert_fmr_ok(fmr_close(heap));
  ck_assert_int_eq(tu_count_entries(dir), 0);
  free(dir);
}
END_TEST

static int never_called(const fmr_record *rec, void *arg)
{
  (void)rec;
  (*(int *)arg)++;
  return 0;
}

START_TEST(test_scratch_foreach)
{
  char *dir = tu_tmpdir();
  fmr_heap *heap;
  int calls = 0;
  ck_assert_fmr_ok(open_scratch(dir, &heap));
  ck_assert_fmr(fmr_record_foreach(heap, never_called, &calls), FMR_ESCRATCH);
  ck_assert_int_eq(calls, 0);
  ck_assert_fmr_ok(fmr_close(heap));
  free(dir);
}
END_TEST

START_TEST(test_scratch_file_path)
{
  /* A file path: its directory is used, and no file of that name made. */
  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "whatever.fmr");
  fmr_heap *heap, *heap2;
  ck_assert_fmr_ok(open_scratch(path, &heap));
  ck_assert_int_lt(tu_file_size(path), 0);
  /* Each scratch open is its own heap. */
  ck_assert_fmr_ok(open_scratch(path, &heap2));
  ck_assert_ptr_ne(heap, heap2);
  void *a, *b;
  ck_assert_fmr_ok(fmr_malloc(heap, 1000, &a));
  ck_assert_fmr_ok(fmr_malloc(heap2, 1000, &b));
  memset(a, 1, 1000);
  memset(b, 2, 1000);
  ck_assert_uint_eq(((unsigned char *)a)[999], 1);
  ck_assert_uint_eq(fmr_ptr_to_offset(heap2, a), 0);
  ck_assert_fmr(fmr_free(heap2, a), FMR_ENOTOWNED);
  ck_assert_fmr_ok(fmr_close(heap));
  ck_assert_uint_eq(((unsigned char *)b)[999], 2);
  ck_assert_fmr_ok(fmr_close(heap2));
  ck_assert_int_eq(tu_count_entries(dir), 0);

  char *missing = tu_path(dir, "no/such/dir");
  ck_assert_fmr(open_scratch(missing, &heap), FMR_ENOENT);
  free(missing);
  free(path);
  free(dir);
}
END_TEST

struct kill_args {
  const char *dir;
  int fd;
};

static int scratch_child(void *arg)
{
  struct kill_args *a = arg;
  fmr_heap *heap;
  void *p;
  CHILD_CHECK_RC(open_scratch(a->dir, &heap), 0);
  CHILD_CHECK_RC(fmr_malloc(heap, 16 * 1024 * 1024, &p), 0);
  memset(p, 0x44, 16 * 1024 * 1024);
  CHILD_CHECK(tu_write_all(a->fd, "R", 1) == 0);
  for (;;)
    pause();
  return 0;
}

START_TEST(test_scratch_killed)
{
  char *dir = tu_tmpdir();
  int fds[2];
  ck_assert_int_eq(pipe(fds), 0);
  struct kill_args a = {dir, fds[1]};
  pid_t pid = tu_fork(scratch_child, &a);
  close(fds[1]);
  char c = 0;
  ck_assert_int_eq(tu_read_all(fds[0], &c, 1), 0);
  ck_assert_int_eq(c, 'R');
  ck_assert_int_eq(kill(pid, SIGKILL), 0);
  ck_assert_int_eq(tu_wait(pid), 256 + SIGKILL);
  close(fds[0]);
  ck_assert_int_eq(tu_count_entries(dir), 0);
  free(dir);
}
END_TEST

static Suite *scratch_suite(void)
{
  Suite *s = suite_create("scratch");
  TCase *tc = tcase_create("core");
  tu_timeout(tc, 30);
  tcase_add_test(tc, test_scratch_alloc);
  tcase_add_test(tc, test_scratch_no_catalog);
  tcase_add_test(tc, test_scratch_foreach);
  tcase_add_test(tc, test_scratch_file_path);
  tcase_add_test(tc, test_scratch_killed);
  suite_add_tcase(s, tc);
  return s;
}

int main(void)
{
  return tu_main(scratch_suite());
}
