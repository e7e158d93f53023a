/* test_growth.c: the heap file grows on demand from a small start, up to
   its maximum size; blocks never move while it grows.

   Copyright (C) 2026 The libfmalloc-r authors.
   This file is part of libfmalloc-r, free software under the GNU Lesser
   General Public License, version 2.1 or (at your option) any later version.  */

#include <config.h>

#include "testutil.h"

#include <stddef.h>
#include <string.h>
#include <sys/stat.h>

START_TEST(test_grow_many_blocks)
{
  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "grow.fmr");
  fmr_heap *heap;
  ck_assert_fmr_ok(tu_open_sized(path, FMR_OPEN_CREATE, 64 * TU_KIB, 0, &heap));
  fmr_stats st = tu_stat(heap);
  ck_assert_uint_eq(st.file_size, 64 * TU_KIB);
  ck_assert_int_eq(tu_file_size(path), (int64_t)(64 * TU_KIB));

  enum { N = 3000 };
  static void *ptrs[N];
  static uint64_t offs[N];
  uint64_t last_size = st.file_size;
  int growths = 0;
  for (int i = 0; i < N; i++) {
    size_t size = 1000 + (size_t)(i % 7) * 1000;
    ck_assert_fmr_ok(fmr_malloc(heap, size, &ptrs[i]));
    tu_fill(ptrs[i], size, (uint64_t)i);
    offs[i] = fmr_ptr_to_offset(heap, ptrs[i]);
    ck_assert_uint_ne(offs[i], 0);
    fmr_stats now = tu_stat(heap);
    ck_assert_uint_ge(now.file_size, last_size);
    if (now.file_size > last_size) {
      growths++;
      /* Everything written so far is intact and where it was. */
      for (int k = 0; k <= i; k += 37)
        ck_assert(tu_verify(ptrs[k], 1000 + (size_t)(k % 7) * 1000,
                            (uint64_t)k));
      ck_assert_int_eq(tu_file_size(path), (int64_t)now.file_size);
    }
    last_size = now.file_size;
  }
  st = tu_stat(heap);
  ck_assert_int_gt(growths, 1);
  /* About 12 MB allocated: far past 64 KiB. */
  ck_assert_uint_ge(st.file_size, 100 * 64 * TU_KIB);
  ck_assert_uint_eq(st.used_bytes + st.free_bytes, st.heap_bytes);
  ck_assert_uint_le(st.file_size, st.max_size);
  for (int i = 0; i < N; i++) {
    ck_assert_msg(tu_verify(ptrs[i], 1000 + (size_t)(i % 7) * 1000,
                            (uint64_t)i),
                  "block %d damaged after growth", i);
    ck_assert_ptr_eq(fmr_offset_to_ptr(heap, offs[i]), ptrs[i]);
  }
  /* The first block keeps its address through all growth. */
  ck_assert_uint_eq(fmr_ptr_to_offset(heap, ptrs[0]), offs[0]);
  for (int i = 0; i < N; i += 2)
    ck_assert_fmr_ok(fmr_free(heap, ptrs[i]));
  ck_assert_fmr_ok(fmr_check(heap, NULL, NULL));
  ck_assert_fmr_ok(fmr_close(heap));
  free(path);
  free(dir);
}
END_TEST

START_TEST(test_grow_committed_persist)
{
  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "growc.fmr");
  fmr_heap *heap;
  ck_assert_fmr_ok(tu_open_sized(path, FMR_OPEN_CREATE, 64 * TU_KIB, 0, &heap));
  uint64_t ids[200];
  for (int i = 0; i < 200; i++) {
    void *p;
    ck_assert_fmr_ok(fmr_malloc(heap, 20000, &p));
    tu_fill(p, 20000, (uint64_t)i + 500);
    char name[16];
    snprintf(name, sizeof name, "g%d", i);
    ck_assert_fmr_ok(fmr_commit(heap, p, 1, 20000, name, NULL, 0, 0, &ids[i]));
  }
  uint64_t size = tu_stat(heap).file_size;
  ck_assert_uint_ge(size, 200 * 20000);
  ck_assert_fmr_ok(fmr_close(heap));
  ck_assert_int_eq(tu_file_size(path), (int64_t)size);

  ck_assert_fmr_ok(tu_open(path, 0, &heap));
  ck_assert_uint_eq(tu_stat(heap).file_size, size);
  for (int i = 0; i < 200; i++) {
    fmr_record rec;
    fmr_record_init(&rec);
    char name[16];
    snprintf(name, sizeof name, "g%d", i);
    ck_assert_fmr_ok(fmr_record_find(heap, name, &rec));
    ck_assert_uint_eq(rec.id, ids[i]);
    ck_assert(tu_verify(rec.payload, 20000, (uint64_t)i + 500));
  }
  ck_assert_fmr_ok(fmr_close(heap));
  free(path);
  free(dir);
}
END_TEST

START_TEST(test_one_gib)
{
  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "gib.fmr");
  fmr_heap *heap;
  ck_assert_fmr_ok(tu_open_sized(path, FMR_OPEN_CREATE, 64 * TU_KIB, 0, &heap));
  void *small;
  ck_assert_fmr_ok(fmr_malloc(heap, 4096, &small));
  tu_fill(small, 4096, 1);

  size_t gib = (size_t)TU_GIB + 12345;
  unsigned char *big;
  ck_assert_fmr_ok(fmr_malloc(heap, gib, (void **)&big));
  ck_assert_uint_eq((uintptr_t)big % FMR_ALIGNMENT, 0);
  ck_assert_uint_ge(fmr_usable_size(heap, big), gib);
  fmr_stats st = tu_stat(heap);
  ck_assert_uint_ge(st.file_size, TU_GIB);
  ck_assert_int_eq(tu_file_size(path), (int64_t)st.file_size);
  /* The space is reserved on disk, not a sparse hole. */
  struct stat sb;
  ck_assert_int_eq(stat(path, &sb), 0);
  ck_assert_uint_ge((uint64_t)sb.st_blocks * 512, TU_GIB);

  /* Touch one byte per MiB, and the ends. */
  for (size_t off = 0; off < gib; off += TU_MIB)
    big[off] = (unsigned char)(off >> 20);
  big[gib - 1] = 0xee;
  for (size_t off = 0; off < gib; off += TU_MIB)
    ck_assert_uint_eq(big[off], (unsigned char)(off >> 20));
  ck_assert_uint_eq(big[gib - 1], 0xee);
  ck_assert(tu_verify(small, 4096, 1));

  ck_assert_fmr_ok(fmr_free(heap, big));
  ck_assert_uint_eq(fmr_usable_size(heap, big), 0);
  st = tu_stat(heap);
  ck_assert_uint_ge(st.largest_free, TU_GIB);
  ck_assert_fmr_ok(fmr_check(heap, NULL, NULL));
  ck_assert_fmr_ok(fmr_close(heap));
  ck_assert_int_eq(unlink(path), 0);
  free(path);
  free(dir);
}
END_TEST

START_TEST(test_max_size)
{
  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "max.fmr");
  fmr_heap *heap;
  ck_assert_fmr_ok(
      tu_open_sized(path, FMR_OPEN_CREATE, 64 * TU_KIB, TU_MIB, &heap));
  fmr_stats st = tu_stat(heap);
  ck_assert_uint_eq(st.max_size, TU_MIB);

  void *p;
  static void *ptrs[100];
  int n = 0, rc = 0;
  while (n < 100) {
    rc = fmr_malloc(heap, 16 * TU_KIB, &ptrs[n]);
    if (rc != 0)
      break;
    tu_fill(ptrs[n], 16 * TU_KIB, (uint64_t)n);
    n++;
  }
  ck_assert_fmr(rc, FMR_EFULL);
  /* It did grow, close to the limit, and not past it. */
  ck_assert_int_ge(n, 50);
  ck_assert_int_lt(n, 64);
  st = tu_stat(heap);
  ck_assert_uint_le(st.file_size, TU_MIB);
  ck_assert_int_le(tu_file_size(path), (int64_t)TU_MIB);
  ck_assert_uint_gt(st.file_size, 64 * TU_KIB);
  for (int i = 0; i < n; i++)
    ck_assert(tu_verify(ptrs[i], 16 * TU_KIB, (uint64_t)i));
  /* Freeing makes room again. */
  ck_assert_fmr_ok(fmr_free(heap, ptrs[n - 1]));
  ck_assert_fmr_ok(fmr_malloc(heap, 16 * TU_KIB, &ptrs[n - 1]));
  ck_assert_fmr(fmr_malloc(heap, 16 * TU_KIB, &p), FMR_EFULL);
  ck_assert_fmr_ok(fmr_check(heap, NULL, NULL));
  ck_assert_fmr_ok(fmr_close(heap));
  free(path);
  free(dir);
}
END_TEST

/* One request larger than the maximum size: the heap would have to grow
   past its maximum, which is FMR_EFULL ("heap reached its maximum size");
   FMR_ETOOBIG is for sizes that do not fit in the address space. */
START_TEST(test_max_size_single)
{
  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "max1.fmr");
  fmr_heap *heap;
  void *p;
  ck_assert_fmr_ok(
      tu_open_sized(path, FMR_OPEN_CREATE, 64 * TU_KIB, TU_MIB, &heap));
  ck_assert_fmr(fmr_malloc(heap, 2 * TU_MIB, &p), FMR_EFULL);
  ck_assert_fmr(fmr_malloc(heap, TU_MIB, &p), FMR_EFULL);
  ck_assert_fmr_ok(fmr_malloc(heap, 512 * TU_KIB, &p));
  ck_assert_fmr_ok(fmr_free(heap, p));
  ck_assert_fmr_ok(fmr_close(heap));
  free(path);
  free(dir);
}
END_TEST

static int open_step(const char *path, unsigned flags, uint64_t initial,
                     uint64_t step, fmr_heap **heap_out)
{
  fmr_options o;
  fmr_options_init(&o);
  o.flags = flags;
  o.initial_size = initial;
  o.growth_step = step;
  return fmr_open(path, &o, heap_out);
}

/* Take every free byte of HEAP but KEEP (NULL if no more is free), so that the
   next allocation larger than KEEP must grow the file. */
static void *hold_all_but(fmr_heap *heap, uint64_t keep)
{
  fmr_stats st = tu_stat(heap);
  void *p;
  if (st.largest_free <= keep)
    return NULL;
  ck_assert_fmr_ok(fmr_malloc(heap, st.largest_free - keep, &p));
  return p;
}

/* fmr_options.growth_step (issue 11): each growth adds that much, not
   the default half of the file (at least 4 MiB), and at least what the
   allocation needs; the file keeps its blocks reserved (st_blocks). */
START_TEST(test_growth_step)
{
  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "step.fmr");
  fmr_heap *heap;
  void *p, *q, *r;
  ck_assert_fmr_ok(
      open_step(path, FMR_OPEN_CREATE, TU_MIB, 16 * TU_MIB, &heap));
  ck_assert_uint_eq(tu_stat(heap).file_size, TU_MIB);
  ck_assert_fmr_ok(fmr_malloc(heap, 2 * TU_MIB, &p));
  ck_assert_uint_eq(tu_stat(heap).file_size, 17 * TU_MIB);
  ck_assert_int_eq(tu_file_size(path), (int64_t)(17 * TU_MIB));
  struct stat sb;
  ck_assert_int_eq(stat(path, &sb), 0);
  ck_assert_uint_ge((uint64_t)sb.st_blocks * 512, 17 * TU_MIB);
  /* Again, from a larger file: still the same step. */
  q = hold_all_but(heap, 64 * TU_KIB);
  ck_assert_fmr_ok(fmr_malloc(heap, TU_MIB, &r));
  ck_assert_uint_eq(tu_stat(heap).file_size, 33 * TU_MIB);
  ck_assert_fmr_ok(fmr_free(heap, q));
  ck_assert_fmr_ok(fmr_free(heap, r));
  ck_assert_fmr_ok(fmr_free(heap, p));
  ck_assert_fmr_ok(fmr_check(heap, NULL, NULL));
  ck_assert_fmr_ok(fmr_close(heap));
  /* The step belongs to an open, not to the file: reopened without one,
     the default step applies (half of 33 MiB). */
  ck_assert_fmr_ok(tu_open(path, 0, &heap));
  q = hold_all_but(heap, 64 * TU_KIB);
  ck_assert_fmr_ok(fmr_malloc(heap, TU_MIB, &r));
  ck_assert_uint_eq(tu_stat(heap).file_size, 33 * TU_MIB + 33 * TU_MIB / 2);
  ck_assert_fmr_ok(fmr_close(heap));
  free(path);
  free(dir);
}
END_TEST

/* A step smaller than the allocation: the file grows by what the
   allocation needs; a small step gives small growths. */
START_TEST(test_growth_step_small)
{
  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "small.fmr");
  fmr_heap *heap;
  void *p, *q;
  ck_assert_fmr_ok(
      open_step(path, FMR_OPEN_CREATE, TU_MIB, 256 * TU_KIB, &heap));
  ck_assert_fmr_ok(fmr_malloc(heap, 8 * TU_MIB, &p));
  uint64_t size = tu_stat(heap).file_size;
  ck_assert_uint_ge(size, 8 * TU_MIB);
  ck_assert_uint_le(size, 9 * TU_MIB);
  memset(p, 1, 8 * TU_MIB);
  q = hold_all_but(heap, 64 * TU_KIB);
  ck_assert_fmr_ok(fmr_malloc(heap, 128 * TU_KIB, &p));
  ck_assert_uint_eq(tu_stat(heap).file_size, size + 256 * TU_KIB);
  if (q != NULL)
    ck_assert_fmr_ok(fmr_free(heap, q));
  ck_assert_fmr_ok(fmr_check(heap, NULL, NULL));
  ck_assert_fmr_ok(fmr_close(heap));
  free(path);
  free(dir);
}
END_TEST

/* A caller built before growth_step (a struct_size that stops short of
   it) gets the default step, whatever its memory holds past the end; a
   scratch heap takes the step too; a step too large to be a size is
   refused, creating nothing. */
START_TEST(test_growth_step_abi)
{
  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "old.fmr");
  fmr_heap *heap;
  void *p;
  fmr_options o;
  memset(&o, 0x5a, sizeof o);
  fmr_options_init_size(&o, offsetof(fmr_options, growth_step));
  ck_assert_uint_eq(o.struct_size, offsetof(fmr_options, growth_step));
  ck_assert_uint_eq(o.growth_step, UINT64_C(0x5a5a5a5a5a5a5a5a));
  o.flags = FMR_OPEN_CREATE;
  o.initial_size = TU_MIB;
  o.growth_step = 16 * TU_MIB; /* past struct_size: never read */
  ck_assert_fmr_ok(fmr_open(path, &o, &heap));
  ck_assert_fmr_ok(fmr_malloc(heap, 2 * TU_MIB, &p));
  ck_assert_uint_eq(tu_stat(heap).file_size, 5 * TU_MIB); /* 1 + 4 MiB */
  ck_assert_fmr_ok(fmr_close(heap));

  fmr_options_init(&o);
  o.mode = FMR_MODE_SCRATCH;
  o.initial_size = TU_MIB;
  o.growth_step = 8 * TU_MIB;
  ck_assert_fmr_ok(fmr_open(dir, &o, &heap));
  ck_assert_fmr_ok(fmr_malloc(heap, 2 * TU_MIB, &p));
  ck_assert_uint_eq(tu_stat(heap).file_size, 9 * TU_MIB);
  ck_assert_fmr_ok(fmr_close(heap));

  char *none = tu_path(dir, "none.fmr");
  ck_assert_fmr(open_step(none, FMR_OPEN_CREATE, 0, UINT64_MAX, &heap),
                FMR_ETOOBIG);
  ck_assert_ptr_null(heap);
  ck_assert_int_eq(tu_file_size(none), -1);
  free(none);
  free(path);
  free(dir);
}
END_TEST

static Suite *growth_suite(void)
{
  Suite *s = suite_create("growth");
  TCase *tc = tcase_create("core");
  tu_timeout(tc, 60);
  tcase_add_test(tc, test_grow_many_blocks);
  tcase_add_test(tc, test_grow_committed_persist);
  tcase_add_test(tc, test_max_size);
  tcase_add_test(tc, test_max_size_single);
  tcase_add_test(tc, test_growth_step);
  tcase_add_test(tc, test_growth_step_small);
  tcase_add_test(tc, test_growth_step_abi);
  suite_add_tcase(s, tc);
  TCase *big = tcase_create("gib");
  tu_timeout(big, 300);
  tcase_add_test(big, test_one_gib);
  suite_add_tcase(s, big);
  return s;
}

int main(void)
{
  return tu_main(growth_suite());
}
