/* test_basic.c: options, opening, block allocation, address translation,
   error strings and the version.

   Copyright (C) 2026 The libfmalloc-r authors.
   This file is part of libfmalloc-r, free software under the GNU Lesser
   General Public License, version 2.1 or (at your option) any later version.  */

#include <config.h>

#include "testutil.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>

static fmr_heap *create_heap(char **dir_out, char **path_out)
{
  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "heap.fmr");
  fmr_heap *heap = NULL;
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_CREATE, &heap));
  ck_assert_ptr_nonnull(heap);
  if (dir_out)
    *dir_out = dir;
  else
    free(dir);
  if (path_out)
    *path_out = path;
  else
    free(path);
  return heap;
}

START_TEST(test_options_defaults)
{
  fmr_options options;
  memset(&options, 0xff, sizeof options);
  fmr_options_init(&options);
  ck_assert_uint_eq(options.struct_size, sizeof(fmr_options));
  ck_assert_int_eq(options.mode, FMR_MODE_PERSISTENT);
  ck_assert_uint_eq(options.flags, 0);
  /* 0 is documented to mean 1 MiB and 256 GiB. */
  ck_assert_msg(options.initial_size == 0 || options.initial_size == TU_MIB,
                "initial_size default %llu",
                (unsigned long long)options.initial_size);
  ck_assert_msg(options.max_size == 0 || options.max_size == 256 * TU_MIB * 1024,
                "max_size default %llu", (unsigned long long)options.max_size);
  ck_assert_uint_eq(options.file_mode, 0666);
}
END_TEST

START_TEST(test_open_create)
{
  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "new.fmr");
  struct stat st;
  fmr_heap *heap = NULL;

  ck_assert_int_ne(stat(path, &st), 0);
  /* Without FMR_OPEN_CREATE a missing file is an error and stays missing. */
  ck_assert_fmr(tu_open(path, 0, &heap), FMR_ENOENT);
  ck_assert_int_ne(stat(path, &st), 0);
  ck_assert_fmr(fmr_open(path, NULL, &heap), FMR_ENOENT);
  ck_assert_int_ne(stat(path, &st), 0);

  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_CREATE, &heap));
  ck_assert_ptr_nonnull(heap);
  ck_assert_int_eq(stat(path, &st), 0);
  ck_assert(S_ISREG(st.st_mode));
  /* initial_size 0 means 1 MiB. */
  ck_assert_int_eq((int64_t)st.st_size, (int64_t)TU_MIB);

  fmr_stats stats = tu_stat(heap);
  ck_assert_uint_eq(stats.file_size, (uint64_t)st.st_size);
  ck_assert_int_eq(stats.mode, FMR_MODE_PERSISTENT);
  ck_assert_int_eq(stats.readonly, 0);
  ck_assert_int_eq(stats.recovered, 0);
  ck_assert_uint_eq(stats.format_version, 1);
  ck_assert_uint_eq(stats.refcount, 1);
  ck_assert_uint_eq(stats.records_committed, 0);
  ck_assert_uint_eq(stats.records_tombstone, 0);
  ck_assert_uint_le(stats.heap_bytes, stats.file_size);
  ck_assert_uint_gt(stats.heap_bytes, 0);
  ck_assert_uint_eq(stats.used_bytes + stats.free_bytes, stats.heap_bytes);
  ck_assert_uint_le(stats.largest_free, stats.free_bytes);

  uint8_t uuid[FMR_UUID_SIZE], zero[FMR_UUID_SIZE] = {0};
  ck_assert_fmr_ok(fmr_uuid(heap, uuid));
  ck_assert_mem_eq(uuid, stats.uuid, FMR_UUID_SIZE);
  ck_assert_int_ne(memcmp(uuid, zero, FMR_UUID_SIZE), 0);

  ck_assert_int_eq(fmr_mode_of(heap), FMR_MODE_PERSISTENT);
  ck_assert_int_eq(fmr_is_readonly(heap), 0);
  const char *p = fmr_path(heap);
  ck_assert_ptr_nonnull(p);
  char *real = realpath(path, NULL);
  ck_assert_ptr_nonnull(real);
  ck_assert_msg(strcmp(p, path) == 0 || strcmp(p, real) == 0,
                "fmr_path gave %s for %s", p, path);
  free(real);
  ck_assert_fmr_ok(fmr_close(heap));

  /* Reopening without create works and keeps the identity. */
  ck_assert_fmr_ok(tu_open(path, 0, &heap));
  uint8_t uuid2[FMR_UUID_SIZE];
  ck_assert_fmr_ok(fmr_uuid(heap, uuid2));
  ck_assert_mem_eq(uuid, uuid2, FMR_UUID_SIZE);
  ck_assert_fmr_ok(fmr_close(heap));

  /* A second file gets another identity. */
  char *path2 = tu_path(dir, "other.fmr");
  ck_assert_fmr_ok(tu_open(path2, FMR_OPEN_CREATE, &heap));
  ck_assert_fmr_ok(fmr_uuid(heap, uuid2));
  ck_assert_int_ne(memcmp(uuid, uuid2, FMR_UUID_SIZE), 0);
  ck_assert_fmr_ok(fmr_close(heap));
  free(path2);
  free(path);
  free(dir);
}
END_TEST

/* max_size 0 means 256 GiB (fmr_options in fmalloc-r.h). */
START_TEST(test_default_max_size)
{
  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "max.fmr");
  fmr_heap *heap;
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_CREATE, &heap));
  ck_assert_uint_eq(tu_stat(heap).max_size, 256 * TU_MIB * 1024);
  ck_assert_fmr_ok(fmr_close(heap));
  /* An explicit max_size is what stats report. */
  ck_assert_fmr_ok(tu_open_sized(path, 0, 0, 64 * TU_MIB, &heap));
  ck_assert_uint_eq(tu_stat(heap).max_size, 64 * TU_MIB);
  ck_assert_fmr_ok(fmr_close(heap));
  free(path);
  free(dir);
}
END_TEST

START_TEST(test_open_file_mode)
{
  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "mode.fmr");
  fmr_options options;
  fmr_options_init(&options);
  options.flags = FMR_OPEN_CREATE;
  options.file_mode = 0640;
  mode_t old = umask(022);
  fmr_heap *heap;
  ck_assert_fmr_ok(fmr_open(path, &options, &heap));
  umask(old);
  struct stat st;
  ck_assert_int_eq(stat(path, &st), 0);
  ck_assert_uint_eq(st.st_mode & 0777, 0640);
  ck_assert_fmr_ok(fmr_close(heap));

  /* The default 0666 goes through the umask, as open(2) does. */
  char *path2 = tu_path(dir, "umask.fmr");
  options.file_mode = 0666;
  old = umask(027);
  ck_assert_fmr_ok(fmr_open(path2, &options, &heap));
  umask(old);
  ck_assert_int_eq(stat(path2, &st), 0);
  ck_assert_uint_eq(st.st_mode & 0777, 0640);
  ck_assert_fmr_ok(fmr_close(heap));
  free(path2);
  free(path);
  free(dir);
}
END_TEST

START_TEST(test_open_invalid)
{
  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "inv.fmr");
  fmr_heap *heap = NULL;
  ck_assert_fmr(tu_open(NULL, FMR_OPEN_CREATE, &heap), FMR_EINVAL);
  ck_assert_fmr(tu_open(path, FMR_OPEN_CREATE, NULL), FMR_EINVAL);
  ck_assert_fmr(tu_open("", FMR_OPEN_CREATE, &heap), FMR_EINVAL);
  fmr_options options;
  fmr_options_init(&options);
  options.flags = FMR_OPEN_CREATE;
  options.mode = 7;
  ck_assert_fmr(fmr_open(path, &options, &heap), FMR_EINVAL);
  struct stat st;
  ck_assert_int_ne(stat(path, &st), 0);
  free(path);
  free(dir);
}
END_TEST

START_TEST(test_malloc_aligned)
{
  fmr_heap *heap = create_heap(NULL, NULL);
  static const size_t sizes[] = {0,    1,    2,    63,    64,    65,
                                 127,  128,  1000, 1024,  1025,  4095,
                                 4096, 4097, 9999, 65536, 100000, 300000};
  enum { N = sizeof sizes / sizeof sizes[0] };
  void *ptrs[N];
  fmr_stats before = tu_stat(heap);
  for (size_t i = 0; i < N; i++) {
    ptrs[i] = NULL;
    ck_assert_fmr_ok(fmr_malloc(heap, sizes[i], &ptrs[i]));
    ck_assert_ptr_nonnull(ptrs[i]);
    ck_assert_uint_eq((uintptr_t)ptrs[i] % FMR_ALIGNMENT, 0);
    size_t usable = fmr_usable_size(heap, ptrs[i]);
    ck_assert_uint_ge(usable, sizes[i] ? sizes[i] : 1);
    /* Fill the whole usable area: blocks must not overlap. */
    tu_fill(ptrs[i], usable, 1000 + i);
  }
  fmr_stats after = tu_stat(heap);
  ck_assert_uint_eq(after.blocks, before.blocks + N);
  ck_assert_uint_gt(after.used_bytes, before.used_bytes);
  ck_assert_uint_eq(after.used_bytes + after.free_bytes, after.heap_bytes);
  for (size_t i = 0; i < N; i++) {
    ck_assert_msg(tu_verify(ptrs[i], fmr_usable_size(heap, ptrs[i]),
                            1000 + i),
                  "block %zu (size %zu) was overwritten", i, sizes[i]);
    for (size_t j = 0; j < i; j++)
      ck_assert_ptr_ne(ptrs[i], ptrs[j]);
  }
  for (size_t i = 0; i < N; i++)
    ck_assert_fmr_ok(fmr_free(heap, ptrs[i]));
  after = tu_stat(heap);
  ck_assert_uint_eq(after.blocks, before.blocks);
  ck_assert_uint_eq(after.used_bytes + after.free_bytes, after.heap_bytes);
  ck_assert_fmr_ok(fmr_check(heap, NULL, NULL));
  ck_assert_fmr_ok(fmr_close(heap));
}
END_TEST

START_TEST(test_malloc_invalid)
{
  fmr_heap *heap = create_heap(NULL, NULL);
  void *p = NULL;
  ck_assert_fmr(fmr_malloc(NULL, 16, &p), FMR_EINVAL);
  ck_assert_fmr(fmr_malloc(heap, 16, NULL), FMR_EINVAL);
  ck_assert_fmr(fmr_malloc(heap, SIZE_MAX, &p), FMR_ETOOBIG);
  ck_assert_fmr(fmr_malloc(heap, SIZE_MAX - 1, &p), FMR_ETOOBIG);
  ck_assert_fmr(fmr_calloc(heap, SIZE_MAX / 2, 3, &p), FMR_ETOOBIG);
  ck_assert_fmr(fmr_calloc(heap, 3, SIZE_MAX / 2, &p), FMR_ETOOBIG);
  /* The heap still works afterwards. */
  ck_assert_fmr_ok(fmr_malloc(heap, 16, &p));
  ck_assert_fmr_ok(fmr_free(heap, p));
  ck_assert_fmr_ok(fmr_close(heap));
}
END_TEST

START_TEST(test_calloc_zeroes)
{
  fmr_heap *heap = create_heap(NULL, NULL);
  enum { N = 64 };
  void *ptrs[N];
  /* Fill blocks with non-zero bytes and free them, so that calloc below
     gets the same space back. */
  for (int round = 0; round < 3; round++) {
    for (int i = 0; i < N; i++) {
      size_t size = 48 + (size_t)i * 97;
      ck_assert_fmr_ok(fmr_malloc(heap, size, &ptrs[i]));
      memset(ptrs[i], 0xab, fmr_usable_size(heap, ptrs[i]));
    }
    for (int i = 0; i < N; i++)
      ck_assert_fmr_ok(fmr_free(heap, ptrs[i]));
    for (int i = 0; i < N; i++) {
      size_t size = 48 + (size_t)i * 97;
      ck_assert_fmr_ok(fmr_calloc(heap, 1, size, &ptrs[i]));
      ck_assert_uint_eq((uintptr_t)ptrs[i] % FMR_ALIGNMENT, 0);
      size_t k = tu_first_nonzero(ptrs[i], size);
      ck_assert_msg(k == size, "calloc block %d (%zu bytes): byte %zu is %u",
                    i, size, k, ((unsigned char *)ptrs[i])[k]);
    }
    for (int i = 0; i < N; i++) {
      memset(ptrs[i], 0xcd, 48);
      ck_assert_fmr_ok(fmr_free(heap, ptrs[i]));
    }
  }
  /* nmemb * size, both non-trivial. */
  void *p;
  ck_assert_fmr_ok(fmr_calloc(heap, 1000, 33, &p));
  ck_assert_uint_ge(fmr_usable_size(heap, p), 33000);
  ck_assert_uint_eq(tu_first_nonzero(p, 33000), 33000);
  ck_assert_fmr_ok(fmr_free(heap, p));
  ck_assert_fmr_ok(fmr_calloc(heap, 0, 10, &p));
  ck_assert_ptr_nonnull(p);
  ck_assert_fmr_ok(fmr_free(heap, p));
  ck_assert_fmr_ok(fmr_close(heap));
}
END_TEST

START_TEST(test_realloc)
{
  fmr_heap *heap = create_heap(NULL, NULL);
  void *p = NULL, *q = NULL, *blocker = NULL;

  /* NULL allocates. */
  ck_assert_fmr_ok(fmr_realloc(heap, NULL, 100, &p));
  ck_assert_ptr_nonnull(p);
  ck_assert_uint_ge(fmr_usable_size(heap, p), 100);
  tu_fill(p, 100, 1);
  /* Something right after it, so that growing may have to move. */
  ck_assert_fmr_ok(fmr_malloc(heap, 64, &blocker));

  size_t size = 100;
  for (int i = 0; i < 7; i++) {
    size_t bigger = size * 5;
    ck_assert_fmr_ok(fmr_realloc(heap, p, bigger, &q));
    ck_assert_uint_eq((uintptr_t)q % FMR_ALIGNMENT, 0);
    ck_assert_uint_ge(fmr_usable_size(heap, q), bigger);
    ck_assert_msg(tu_verify(q, size, (uint64_t)i + 1),
                  "contents lost growing %zu -> %zu", size, bigger);
    if (q != p)
      ck_assert_uint_eq(fmr_usable_size(heap, p), 0);
    tu_fill(q, bigger, (uint64_t)i + 2);
    p = q;
    size = bigger;
  }
  /* Shrink, keeping the prefix (the last fill used seed 8). */
  {
    size_t smaller = size / 7;
    ck_assert_fmr_ok(fmr_realloc(heap, p, smaller, &q));
    ck_assert_uint_ge(fmr_usable_size(heap, q), smaller);
    ck_assert_msg(tu_verify(q, smaller, 8),
                  "contents lost shrinking %zu -> %zu", size, smaller);
    p = q;
    size = smaller;
  }
  /* Failure leaves the block and *ptr_out alone. */
  void *unchanged = (void *)0x1;
  ck_assert_fmr(fmr_realloc(heap, p, SIZE_MAX, &unchanged), FMR_ETOOBIG);
  ck_assert_ptr_eq(unchanged, (void *)0x1);
  ck_assert_uint_ge(fmr_usable_size(heap, p), size);
  ck_assert(tu_verify(p, size, 8));

  /* realloc of a pointer that is not a block. */
  int local;
  ck_assert_fmr(fmr_realloc(heap, &local, 10, &q), FMR_ENOTOWNED);

  ck_assert_fmr_ok(fmr_free(heap, p));
  ck_assert_fmr_ok(fmr_free(heap, blocker));
  ck_assert_fmr_ok(fmr_check(heap, NULL, NULL));
  ck_assert_fmr_ok(fmr_close(heap));
}
END_TEST

START_TEST(test_realloc_shrink_steps)
{
  fmr_heap *heap = create_heap(NULL, NULL);
  void *p, *q;
  size_t size = 200000;
  ck_assert_fmr_ok(fmr_malloc(heap, size, &p));
  tu_fill(p, size, 77);
  static const size_t steps[] = {150000, 70000, 4096, 1000, 65, 64, 1};
  for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
    ck_assert_fmr_ok(fmr_realloc(heap, p, steps[i], &q));
    ck_assert_uint_ge(fmr_usable_size(heap, q), steps[i]);
    /* The first steps[i] bytes are a prefix of the original pattern. */
    unsigned char *ref = malloc(steps[i]);
    tu_fill(ref, steps[i], 77);
    ck_assert_msg(memcmp(q, ref, steps[i]) == 0, "shrink to %zu lost data",
                  steps[i]);
    free(ref);
    p = q;
  }
  ck_assert_fmr_ok(fmr_free(heap, p));
  ck_assert_fmr_ok(fmr_close(heap));
}
END_TEST

START_TEST(test_usable_size)
{
  fmr_heap *heap = create_heap(NULL, NULL);
  void *p;
  int local = 0;
  ck_assert_fmr_ok(fmr_malloc(heap, 1000, &p));
  size_t usable = fmr_usable_size(heap, p);
  ck_assert_uint_ge(usable, 1000);
  ck_assert_uint_eq(usable % FMR_ALIGNMENT, 0);
  /* Usable bytes really are usable. */
  memset(p, 0x5a, usable);
  ck_assert_uint_eq(fmr_usable_size(heap, NULL), 0);
  ck_assert_uint_eq(fmr_usable_size(heap, &local), 0);
  ck_assert_uint_eq(fmr_usable_size(heap, (char *)p + 64), 0);
  ck_assert_uint_eq(fmr_usable_size(heap, (char *)p + 1), 0);
  ck_assert_fmr_ok(fmr_free(heap, p));
  ck_assert_uint_eq(fmr_usable_size(heap, p), 0);
  ck_assert_fmr_ok(fmr_close(heap));
}
END_TEST

START_TEST(test_offsets)
{
  fmr_heap *heap = create_heap(NULL, NULL);
  void *ptrs[20];
  for (int i = 0; i < 20; i++) {
    ck_assert_fmr_ok(fmr_malloc(heap, (size_t)i * 500 + 1, &ptrs[i]));
    uint64_t off = fmr_ptr_to_offset(heap, ptrs[i]);
    ck_assert_uint_ne(off, 0);
    ck_assert_uint_eq(off % FMR_ALIGNMENT, 0);
    /* Payloads are past the two meta pages. */
    ck_assert_uint_ge(off, 8192);
    ck_assert_ptr_eq(fmr_offset_to_ptr(heap, off), ptrs[i]);
    /* Interior pointers translate too. */
    ck_assert_uint_eq(fmr_ptr_to_offset(heap, (char *)ptrs[i] + 1), off + 1);
    ck_assert_ptr_eq(fmr_offset_to_ptr(heap, off + 1), (char *)ptrs[i] + 1);
  }
  fmr_stats stats = tu_stat(heap);
  int local = 0;
  void *mine = malloc(64);
  ck_assert_uint_eq(fmr_ptr_to_offset(heap, NULL), 0);
  ck_assert_uint_eq(fmr_ptr_to_offset(heap, &local), 0);
  ck_assert_uint_eq(fmr_ptr_to_offset(heap, mine), 0);
  free(mine);
  ck_assert_ptr_null(fmr_offset_to_ptr(heap, UINT64_MAX));
  ck_assert_ptr_null(fmr_offset_to_ptr(heap, stats.max_size));
  ck_assert_ptr_null(fmr_offset_to_ptr(heap, stats.max_size + 4096));
  ck_assert_ptr_null(fmr_offset_to_ptr(heap, UINT64_MAX - 63));
  /* The last byte of the file is inside. */
  ck_assert_ptr_nonnull(fmr_offset_to_ptr(heap, stats.file_size - 1));
  for (int i = 0; i < 20; i++)
    ck_assert_fmr_ok(fmr_free(heap, ptrs[i]));
  ck_assert_fmr_ok(fmr_close(heap));
}
END_TEST

START_TEST(test_free_errors)
{
  fmr_heap *heap = create_heap(NULL, NULL);
  fmr_heap *other = create_heap(NULL, NULL);
  void *p, *q, *o;
  int local = 0;
  ck_assert_fmr_ok(fmr_free(heap, NULL));
  ck_assert_fmr_ok(fmr_malloc(heap, 256, &p));
  ck_assert_fmr_ok(fmr_malloc(heap, 256, &q));
  ck_assert_fmr_ok(fmr_malloc(other, 256, &o));
  tu_fill(q, 256, 3);
  tu_fill(o, 256, 4);
  fmr_stats before = tu_stat(heap);

  ck_assert_fmr(fmr_free(heap, &local), FMR_ENOTOWNED);
  void *libc = malloc(100);
  ck_assert_fmr(fmr_free(heap, libc), FMR_ENOTOWNED);
  free(libc);
  ck_assert_fmr(fmr_free(heap, (char *)p + 64), FMR_ENOTOWNED);
  ck_assert_fmr(fmr_free(heap, (char *)p + 8), FMR_ENOTOWNED);
  ck_assert_fmr(fmr_free(heap, o), FMR_ENOTOWNED);
  fmr_stats mid = tu_stat(heap);
  ck_assert_uint_eq(mid.blocks, before.blocks);
  ck_assert_uint_eq(mid.used_bytes, before.used_bytes);

  ck_assert_fmr_ok(fmr_free(heap, p));
  ck_assert_fmr(fmr_free(heap, p), FMR_ENOTOWNED);
  ck_assert_fmr(fmr_free(heap, p), FMR_ENOTOWNED);
  fmr_stats after = tu_stat(heap);
  ck_assert_uint_eq(after.blocks, before.blocks - 1);

  /* Nothing was damaged by the bad frees. */
  ck_assert(tu_verify(q, 256, 3));
  ck_assert(tu_verify(o, 256, 4));
  ck_assert_fmr_ok(fmr_check(heap, NULL, NULL));
  ck_assert_fmr_ok(fmr_check(other, NULL, NULL));
  void *r;
  ck_assert_fmr_ok(fmr_malloc(heap, 256, &r));
  ck_assert_ptr_ne(r, q);
  ck_assert_fmr_ok(fmr_free(heap, r));
  ck_assert_fmr_ok(fmr_free(heap, q));
  ck_assert_fmr_ok(fmr_free(other, o));
  ck_assert_fmr(fmr_free(NULL, q), FMR_EINVAL);
  ck_assert_fmr_ok(fmr_close(heap));
  ck_assert_fmr_ok(fmr_close(other));
}
END_TEST

static const int all_codes[] = {
    FMR_OK,        FMR_EINVAL,     FMR_ENOMEM,       FMR_EIO,
    FMR_ENOSPC,    FMR_EFULL,      FMR_ELOCKED,      FMR_EEMPTY,
    FMR_ENOTHEAP,  FMR_EVERSION,   FMR_EFEATURE,     FMR_EBYTEORDER,
    FMR_EPAGESIZE, FMR_ETRUNCATED, FMR_ECHECKSUM,    FMR_ECORRUPT,
    FMR_ENOTFOUND, FMR_EEXIST,     FMR_EREADONLY,    FMR_ESCRATCH,
    FMR_EBUSY,     FMR_ESTALE,     FMR_ENAMETOOLONG, FMR_ENOENT,
    FMR_EACCES,    FMR_ECOMMITTED, FMR_ENOTOWNED,    FMR_ETOOBIG,
    FMR_EFORKED,   FMR_EGONE,      FMR_EREPLACED,    FMR_EDANGLING};

START_TEST(test_strerror)
{
  enum { N = sizeof all_codes / sizeof all_codes[0] };
  ck_assert_int_eq(N, 32);
  for (int i = 0; i < N; i++) {
    ck_assert_int_eq(all_codes[i], -i); /* dense: none skipped */
    const char *s = fmr_strerror(all_codes[i]);
    ck_assert_ptr_nonnull(s);
    ck_assert_msg(strlen(s) > 3, "code %d has text \"%s\"", all_codes[i], s);
    for (int j = 0; j < i; j++)
      ck_assert_msg(strcmp(s, fmr_strerror(all_codes[j])) != 0,
                    "codes %d and %d share the text \"%s\"", all_codes[i],
                    all_codes[j], s);
  }
  /* Unknown codes still give a string, distinct from every known one. */
  static const int unknown[] = {-32, -1000, 1, INT_MIN, INT_MAX};
  for (size_t u = 0; u < sizeof unknown / sizeof unknown[0]; u++) {
    const char *s = fmr_strerror(unknown[u]);
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_gt(strlen(s), 0);
    for (int j = 0; j < N; j++)
      ck_assert_str_ne(s, fmr_strerror(all_codes[j]));
  }
}
END_TEST

static void *errmsg_thread(void *arg)
{
  char **out = arg;
  const char *before = fmr_errmsg();
  out[0] = strdup(before ? before : "(null)");
  fmr_heap *heap;
  int rc = tu_open("/nonexistent-dir-fmr-test/x.fmr", 0, &heap);
  const char *after = fmr_errmsg();
  out[1] = strdup(after ? after : "(null)");
  out[2] = rc == FMR_ENOENT ? strdup("ok") : strdup("wrong code");
  return NULL;
}

START_TEST(test_errmsg)
{
  char *out[3] = {0};
  pthread_t t;
  ck_assert_int_eq(pthread_create(&t, NULL, errmsg_thread, out), 0);
  ck_assert_int_eq(pthread_join(t, NULL), 0);
  ck_assert_str_eq(out[0], "");
  ck_assert_str_eq(out[2], "ok");
  ck_assert_uint_gt(strlen(out[1]), 0);
  for (int i = 0; i < 3; i++)
    free(out[i]);
  /* Per thread: this thread's message is not the other one's. */
  fmr_heap *heap;
  ck_assert_fmr(tu_open("/nonexistent-dir-fmr-test/y.fmr", 0, &heap),
                FMR_ENOENT);
  ck_assert_uint_gt(strlen(fmr_errmsg()), 0);
}
END_TEST

START_TEST(test_version)
{
  const char *v = fmr_version();
  ck_assert_ptr_nonnull(v);
  ck_assert_str_eq(v, FMR_VERSION_STRING);
  char expect[64];
  snprintf(expect, sizeof expect, "%d.%d.%d", (int)FMR_VERSION_MAJOR,
           (int)FMR_VERSION_MINOR, (int)FMR_VERSION_PATCH);
  ck_assert_int_eq(strncmp(v, expect, strlen(expect)), 0);
}
END_TEST

static Suite *basic_suite(void)
{
  Suite *s = suite_create("basic");
  TCase *tc = tcase_create("core");
  tu_timeout(tc, 30);
  tcase_add_test(tc, test_options_defaults);
  tcase_add_test(tc, test_open_create);
  tcase_add_test(tc, test_default_max_size);
  tcase_add_test(tc, test_open_file_mode);
  tcase_add_test(tc, test_open_invalid);
  tcase_add_test(tc, test_malloc_aligned);
  tcase_add_test(tc, test_malloc_invalid);
  tcase_add_test(tc, test_calloc_zeroes);
  tcase_add_test(tc, test_realloc);
  tcase_add_test(tc, test_realloc_shrink_steps);
  tcase_add_test(tc, test_usable_size);
  tcase_add_test(tc, test_offsets);
  tcase_add_test(tc, test_free_errors);
  tcase_add_test(tc, test_strerror);
  tcase_add_test(tc, test_errmsg);
  tcase_add_test(tc, test_version);
  suite_add_tcase(s, tc);
  return s;
}

int main(void)
{
  return tu_main(basic_suite());
}
