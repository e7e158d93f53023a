/* test_diskfull.c: running out of disk (here: RLIMIT_FSIZE) is the error
   FMR_ENOSPC, never a signal, and leaves committed records intact.

   Copyright (C) 2026 The libfmalloc-r authors.
   This file is part of libfmalloc-r, free software under the GNU Lesser
   General Public License, version 2.1 or (at your option) any later version.  */

#include <config.h>

#include "testutil.h"

#include <signal.h>
#include <string.h>
#include <sys/resource.h>

#define LIMIT (4 * TU_MIB)
#define BLOCK (64 * 1024)

struct full_args {
  const char *path;
  int fd;       /* reports the number of records committed */
  int one_big;  /* start with a single allocation past the limit */
};

static int full_child(void *arg)
{
  struct full_args *a = arg;
  CHILD_CHECK(signal(SIGXFSZ, SIG_IGN) != SIG_ERR);
  struct rlimit rl = {LIMIT, LIMIT};
  CHILD_CHECK(setrlimit(RLIMIT_FSIZE, &rl) == 0);

  fmr_heap *heap;
  CHILD_CHECK_RC(tu_open_sized(a->path, FMR_OPEN_CREATE, 64 * TU_KIB, 0,
                               &heap), 0);
  void *p;
  if (a->one_big)
    CHILD_CHECK_RC(fmr_malloc(heap, 2 * LIMIT, &p), FMR_ENOSPC);

  uint32_t n = 0;
  int rc = 0;
  for (;;) {
    rc = fmr_malloc(heap, BLOCK, &p);
    if (rc != 0)
      break;
    tu_fill(p, BLOCK, n);
    char name[16];
    uint64_t id;
    snprintf(name, sizeof name, "f%u", n);
    rc = fmr_commit(heap, p, 1, BLOCK, name, &n, sizeof n, 0, &id);
    if (rc != 0) {
      CHILD_CHECK_RC(fmr_free(heap, p), 0);
      break;
    }
    n++;
    CHILD_CHECK(n < 1000); /* the limit must stop it long before */
  }
  CHILD_CHECK_RC(rc, FMR_ENOSPC);
  CHILD_CHECK(n >= 10);

  /* Everything committed is intact, and the heap still works. */
  for (uint32_t i = 0; i < n; i++) {
    char name[16];
    fmr_record rec;
    fmr_record_init(&rec);
    snprintf(name, sizeof name, "f%u", i);
    CHILD_CHECK_RC(fmr_record_find(heap, name, &rec), 0);
    CHILD_CHECK(tu_verify(rec.payload, BLOCK, i));
  }
  CHILD_CHECK_RC(fmr_check(heap, NULL, NULL), 0);
  fmr_stats st;
  fmr_stats_init(&st);
  CHILD_CHECK_RC(fmr_stat(heap, &st), 0);
  CHILD_CHECK(st.file_size <= LIMIT);
  CHILD_CHECK(st.records_committed == n);
  /* Small allocations may still fit in what is left. */
  rc = fmr_malloc(heap, 64, &p);
  CHILD_CHECK(rc == 0 || rc == FMR_ENOSPC);
  if (rc == 0)
    CHILD_CHECK_RC(fmr_free(heap, p), 0);
  /* Repeated failures stay failures. */
  CHILD_CHECK_RC(fmr_malloc(heap, LIMIT, &p), FMR_ENOSPC);
  CHILD_CHECK(tu_write_all(a->fd, &n, sizeof n) == 0);
  CHILD_CHECK_RC(fmr_close(heap), 0);
  return 0;
}

static void full_case(int one_big)
{
  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "full.fmr");
  int fds[2];
  ck_assert_int_eq(pipe(fds), 0);
  struct full_args a = {path, fds[1], one_big};
  pid_t pid = tu_fork(full_child, &a);
  close(fds[1]);
  uint32_t n = 0;
  int got = tu_read_all(fds[0], &n, sizeof n);
  close(fds[0]);
  int status = tu_wait(pid);
  ck_assert_msg(!TU_SIGNALED(status), "child killed by signal %d",
                status - 256);
  ck_assert_msg(status == 0, "child exited with %d", status);
  ck_assert_int_eq(got, 0);
  ck_assert_int_le(tu_file_size(path), (int64_t)LIMIT);

  /* Without the limit: everything is there, and the heap can grow. */
  fmr_heap *heap;
  ck_assert_fmr_ok(tu_open(path, 0, &heap));
  fmr_stats st = tu_stat(heap);
  ck_assert_int_eq(st.recovered, 0);
  ck_assert_uint_eq(st.records_committed, n);
  for (uint32_t i = 0; i < n; i++) {
    char name[16];
    fmr_record rec;
    fmr_record_init(&rec);
    snprintf(name, sizeof name, "f%u", i);
    ck_assert_fmr_ok(fmr_record_find(heap, name, &rec));
    ck_assert_uint_eq(rec.meta_len, sizeof i);
    ck_assert_mem_eq(rec.meta, &i, sizeof i);
    ck_assert(tu_verify(rec.payload, BLOCK, i));
  }
  ck_assert_fmr_ok(fmr_check(heap, NULL, NULL));
  void *p;
  ck_assert_fmr_ok(fmr_malloc(heap, 2 * LIMIT, &p));
  memset(p, 1, 2 * LIMIT);
  ck_assert_uint_gt(tu_stat(heap).file_size, LIMIT);
  ck_assert_fmr_ok(fmr_free(heap, p));
  ck_assert_fmr_ok(fmr_close(heap));
  free(path);
  free(dir);
}

START_TEST(test_fill_until_enospc)
{
  full_case(0);
}
END_TEST

START_TEST(test_big_then_fill)
{
  full_case(1);
}
END_TEST

struct create_args {
  const char *path;
};

/* Not even the new file fits: creating is FMR_ENOSPC, no signal. */
static int create_child(void *arg)
{
  struct create_args *a = arg;
  CHILD_CHECK(signal(SIGXFSZ, SIG_IGN) != SIG_ERR);
  struct rlimit rl = {16 * 1024, 16 * 1024};
  CHILD_CHECK(setrlimit(RLIMIT_FSIZE, &rl) == 0);
  fmr_heap *heap;
  CHILD_CHECK_RC(tu_open_sized(a->path, FMR_OPEN_CREATE, TU_MIB, 0, &heap),
                 FMR_ENOSPC);
  return 0;
}

START_TEST(test_create_enospc)
{
  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "nocreate.fmr");
  struct create_args a = {path};
  int status = tu_wait(tu_fork(create_child, &a));
  ck_assert_msg(status == 0, "child status %d", status);
  /* Whatever was left behind is not a heap that opens as valid. */
  fmr_heap *heap;
  int rc = tu_open(path, 0, &heap);
  ck_assert_msg(rc != 0, "a failed create left a valid heap");
  free(path);
  free(dir);
}
END_TEST

static Suite *diskfull_suite(void)
{
  Suite *s = suite_create("diskfull");
  TCase *tc = tcase_create("core");
  tu_timeout(tc, 60);
  tcase_add_test(tc, test_fill_until_enospc);
  tcase_add_test(tc, test_big_then_fill);
  tcase_add_test(tc, test_create_enospc);
  suite_add_tcase(s, tc);
  return s;
}

int main(void)
{
  return tu_main(diskfull_suite());
}
