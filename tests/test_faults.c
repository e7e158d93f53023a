/* test_faults.c: every system call and allocation the library makes,
   failed in turn (Nth-call fault injection, tests/fault.c).

   Copyright (C) 2026 The libfmalloc-r authors.
   This file is part of libfmalloc-r, free software under the GNU Lesser
   General Public License, version 2.1 or (at your option) any later version.

   This program is linked with its own copy of the library compiled with
   FMR_FAULT_INJECTION.  For each kind of call (malloc, open, mmap,
   posix_fallocate, msync, fsync, pread, link) and N = 1, 2, ... it makes
   the Nth call of that kind fail during a workload (create a heap, grow
   it, commit, rename, update, swap a payload, free, sync, close) until the
   workload completes without reaching N.  After every failure: the
   operation returned an error code (or absorbed the failure), the open
   heap still passes fmr_check, and a reopen without faults finds exactly
   the records the workload had committed, with their bytes.  Under
   AddressSanitizer this also proves that no failure path leaks.  */

#include <config.h>

#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fault.h"
#include "fmr-internal.h"

#define MAX_RECORDS 8 /* w0 .. w7 */

struct expect {
  char name[16];
  size_t size;
  uint64_t seed;
  int live;
};

static struct expect expected[MAX_RECORDS];

static const char *kind_names[FMR_FAULT_KINDS] = {
    "malloc", "open", "mmap", "fallocate", "msync", "fsync", "pread", "link"};

/* Commit record I of SIZE bytes filled from SEED. */
static int put(fmr_heap *heap, int i, size_t size, uint64_t seed)
{
  void *p;
  int rc = fmr_malloc(heap, size, &p);
  if (rc != FMR_OK)
    return rc;
  tu_fill(p, size, seed);
  char name[16];
  snprintf(name, sizeof name, "w%d", i);
  rc = fmr_commit(heap, p, 7, size, name, name, strlen(name), 0, NULL);
  if (rc != FMR_OK) {
    ck_assert_int_eq(fmr_free(heap, p), FMR_OK);
    return rc;
  }
  snprintf(expected[i].name, sizeof expected[i].name, "%s", name);
  expected[i].size = size;
  expected[i].seed = seed;
  expected[i].live = 1;
  return FMR_OK;
}

/* The workload; returns the first error.  Each expectation changes only
   after the operation that makes it true has returned success. */
static int workload(const char *path)
{
  fmr_options o;
  fmr_heap *heap;
  fmr_record rec;
  fmr_record_init(&rec);
  int rc;
  fmr_options_init(&o);
  o.flags = FMR_OPEN_CREATE;
  o.initial_size = 64 * 1024;
  o.max_size = 256 * 1024 * 1024;
  rc = fmr_open(path, &o, &heap);
  if (rc != FMR_OK)
    return rc;
  for (int i = 0; i < 6 && rc == FMR_OK; i++)
    rc = put(heap, i, i == 2 ? 6 * 1024 * 1024 : 1000 * (size_t)(i + 1),
             100 + (uint64_t)i);
  if (rc == FMR_OK && (rc = fmr_record_find(heap, "w1", &rec)) == FMR_OK &&
      (rc = fmr_record_rename(heap, rec.id, "w1b")) == FMR_OK)
    snprintf(expected[1].name, sizeof expected[1].name, "w1b");
  if (rc == FMR_OK && (rc = fmr_record_find(heap, "w0", &rec)) == FMR_OK)
    rc = fmr_record_update(heap, rec.id, 8, 1, "meta", 4);
  if (rc == FMR_OK && (rc = fmr_record_find(heap, "w3", &rec)) == FMR_OK) {
    void *p;
    if ((rc = fmr_malloc(heap, 9000, &p)) == FMR_OK) {
      tu_fill(p, 9000, 999);
      rc = fmr_record_set_payload(heap, rec.id, p, 9000);
      if (rc == FMR_OK) {
        expected[3].size = 9000;
        expected[3].seed = 999;
      } else {
        ck_assert_int_eq(fmr_free(heap, p), FMR_OK);
      }
    }
  }
  if (rc == FMR_OK && (rc = fmr_record_find(heap, "w4", &rec)) == FMR_OK &&
      (rc = fmr_record_free(heap, rec.id)) == FMR_OK)
    expected[4].live = 0;
  if (rc == FMR_OK)
    rc = fmr_sync(heap);
  if (rc == FMR_OK)
    rc = put(heap, 6, 50000, 106); /* may reuse the freed space */
  if (rc != FMR_OK) {
    /* Whatever failed, the heap in memory is still consistent. */
    fault_disarm();
    ck_assert_msg(fmr_check(heap, NULL, NULL) == FMR_OK,
                  "fmr_check after a failure: %s", fmr_errmsg());
  }
  int close_rc = fmr_close(heap);
  if (rc != FMR_OK || close_rc != FMR_OK)
    return rc != FMR_OK ? rc : close_rc;

  /* Second session: the open of an existing heap, and more changes. */
  o.flags = 0;
  rc = fmr_open(path, &o, &heap);
  if (rc != FMR_OK)
    return rc;
  rc = put(heap, 7, 3000, 107);
  if (rc == FMR_OK && (rc = fmr_record_find(heap, "w5", &rec)) == FMR_OK &&
      (rc = fmr_record_free(heap, rec.id)) == FMR_OK)
    expected[5].live = 0;
  if (rc != FMR_OK) {
    fault_disarm();
    ck_assert_msg(fmr_check(heap, NULL, NULL) == FMR_OK,
                  "fmr_check after a failure: %s", fmr_errmsg());
  }
  close_rc = fmr_close(heap);
  return rc != FMR_OK ? rc : close_rc;
}

/* Reopen without faults: exactly the expected records, intact. */
static void verify(const char *path, const char *what)
{
  fmr_heap *heap;
  int live = 0;
  for (int i = 0; i < MAX_RECORDS; i++)
    live += expected[i].live;
  int rc = tu_open(path, 0, &heap);
  if (rc == FMR_ENOENT) {
    ck_assert_msg(live == 0, "%s: the file is gone with %d records", what,
                  live);
    return;
  }
  ck_assert_msg(rc == FMR_OK, "%s: reopen: %s (%s)", what, fmr_strerror(rc),
                fmr_errmsg());
  ck_assert_msg(fmr_check(heap, NULL, NULL) == FMR_OK, "%s: check: %s", what,
                fmr_errmsg());
  for (int i = 0; i < MAX_RECORDS; i++) {
    if (!expected[i].live)
      continue;
    fmr_record rec;
    fmr_record_init(&rec);
    rc = fmr_record_find(heap, expected[i].name, &rec);
    ck_assert_msg(rc == FMR_OK, "%s: record %s: %s", what, expected[i].name,
                  fmr_strerror(rc));
    ck_assert_msg(
        rec.payload_bytes >= expected[i].size &&
            tu_verify(rec.payload, expected[i].size, expected[i].seed),
        "%s: record %s has the wrong bytes", what, expected[i].name);
  }
  fmr_stats st = tu_stat(heap);
  ck_assert_msg(st.records_committed == (uint64_t)live,
                "%s: %llu records, expected %d", what,
                (unsigned long long)st.records_committed, live);
  ck_assert_int_eq(fmr_close(heap), FMR_OK);
}

static void run_kind(int kind)
{
  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "faults.fmr");
  long n;
  for (n = 1; n < 5000; n++) {
    char what[64];
    unlink(path);
    memset(expected, 0, sizeof expected);
    fault_arm(kind, n);
    int rc = workload(path);
    int hit = fault_hit();
    fault_disarm();
    snprintf(what, sizeof what, "%s call %ld", kind_names[kind], n);
    if (!hit) {
      ck_assert_msg(rc == FMR_OK, "%s: workload failed without a fault: %s",
                    what, fmr_errmsg());
      verify(path, what);
      break;
    }
    ck_assert_msg(rc <= 0 && rc >= FMR_EDANGLING, "%s: odd return %d", what,
                  rc);
    verify(path, what);
  }
  fprintf(stderr, "faults: %s: %ld calls failed in turn\n", kind_names[kind],
          n - 1);
  ck_assert_msg(n > 1 || kind == FMR_FAULT_LINK || kind == FMR_FAULT_OPEN,
                "the workload makes no %s call: the injector is not wired",
                kind_names[kind]);
  ck_assert_msg(n < 5000, "%s: the workload never completed",
                kind_names[kind]);
  free(path);
  free(dir);
}

START_TEST(test_faults_of_kind)
{
  run_kind(_i);
}
END_TEST

/* valgrind refuses a large address-space reservation with EINVAL, not
   ENOMEM: the default maximum then settles for less as for ENOMEM; an
   explicit max_size is not shrunk. */
START_TEST(test_reserve_einval)
{
  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "einval.fmr");
  fmr_options o;
  fmr_heap *heap = NULL;
  fmr_options_init(&o);
  o.flags = FMR_OPEN_CREATE;
  fault_set_mmap_errno(EINVAL);
  fault_arm(FMR_FAULT_MMAP, 1);
  int rc = fmr_open(path, &o, &heap);
  ck_assert_msg(fault_hit(), "the reservation was not the first mmap");
  ck_assert_msg(rc == FMR_OK, "EINVAL from the reservation: %s",
                fmr_errmsg());
  fmr_stats st = tu_stat(heap);
  ck_assert_uint_lt(st.max_size, UINT64_C(256) << 30);
  ck_assert_uint_ge(st.max_size, UINT64_C(64) << 20);
  ck_assert_int_eq(fmr_close(heap), FMR_OK);

  o.flags = 0;
  o.max_size = UINT64_C(1) << 30;
  fault_arm(FMR_FAULT_MMAP, 1);
  rc = fmr_open(path, &o, &heap);
  ck_assert(fault_hit());
  ck_assert_int_eq(rc, FMR_ENOMEM);
  fault_disarm();
  fault_set_mmap_errno(ENOMEM);
  ck_assert_int_eq(fmr_open(path, &o, &heap), FMR_OK);
  ck_assert_int_eq(fmr_close(heap), FMR_OK);
  unlink(path);
  rmdir(dir);
  free(path);
  free(dir);
}
END_TEST

static Suite *faults_suite(void)
{
  Suite *s = suite_create("faults");
  TCase *tc = tcase_create("core");
  tu_timeout(tc, 300);
  tcase_add_loop_test(tc, test_faults_of_kind, 0, FMR_FAULT_KINDS);
  suite_add_tcase(s, tc);
  TCase *reserve = tcase_create("reserve");
  tcase_add_test(reserve, test_reserve_einval);
  suite_add_tcase(s, reserve);
  return s;
}

int main(void)
{
  return tu_main(faults_suite());
}
