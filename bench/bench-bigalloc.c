/* bench-bigalloc.c: one huge block, fmr versus anonymous mmap.

   Copyright (C) 2026 The libfmalloc-r authors.
   This file is part of libfmalloc-r, free software under the GNU Lesser
   General Public License, version 2.1 or (at your option) any later version.

   Usage: bench-bigalloc [MIB]

   Allocates MIB mebibytes (default 1024, i.e. 1 GiB) as one block in a
   scratch heap and writes one byte per 4 KiB page, then does the same with
   an anonymous private mmap.  Reports seconds for allocate + touch of each
   and the ratio fmr / mmap.  The fmr figure includes growing and reserving
   the heap file (posix_fallocate) on the file system of $TMPDIR or /tmp.  */

#include <config.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "bench-common.h"

#define PROGRAM      "bench-bigalloc"
#define TOUCH_STRIDE 4096u

static void touch(volatile char *p, size_t size)
{
  size_t i;
  for (i = 0; i < size; i += TOUCH_STRIDE)
    p[i] = (char)(i >> 12);
}

int main(int argc, char **argv)
{
  unsigned long long mib = 1024;
  fmr_options options;
  fmr_heap *heap;
  size_t size;
  char dir[4096];
  char *p;
  double t0, t1, t2, t3, t_fmr, t_fmr_alloc, t_close, t_mmap;
  int rc;

  if (argc > 2) {
    fprintf(stderr, "Usage: " PROGRAM " [MIB]\n");
    return 2;
  }
  if (argc > 1)
    mib = bench_parse_count(PROGRAM, argv[1]);
  size = (size_t)mib << 20;

  bench_make_tmpdir(PROGRAM, dir, sizeof dir);
  fmr_options_init(&options);
  options.mode = FMR_MODE_SCRATCH;
  rc = fmr_open(dir, &options, &heap);
  if (rc != FMR_OK)
    bench_fail(PROGRAM, "fmr_open (scratch)", rc);

  t0 = bench_now_ns();
  rc = fmr_malloc(heap, size, (void **)&p);
  if (rc != FMR_OK)
    bench_fail(PROGRAM, "fmr_malloc", rc);
  t1 = bench_now_ns();
  touch(p, size);
  t2 = bench_now_ns();
  rc = fmr_free(heap, p);
  if (rc != FMR_OK)
    bench_fail(PROGRAM, "fmr_free", rc);
  rc = fmr_close(heap);
  if (rc != FMR_OK)
    bench_fail(PROGRAM, "fmr_close", rc);
  t3 = bench_now_ns();
  bench_remove(dir, NULL);
  t_fmr_alloc = t1 - t0;
  t_fmr = t2 - t0;
  t_close = t3 - t2;

  t0 = bench_now_ns();
  p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
           0);
  if (p == MAP_FAILED) {
    perror(PROGRAM ": mmap");
    return 1;
  }
  touch(p, size);
  t1 = bench_now_ns();
  munmap(p, size);
  t_mmap = t1 - t0;

  printf(PROGRAM ": %llu MiB in one block, one byte written per %u "
                 "bytes\n",
         mib, TOUCH_STRIDE);
  printf("fmr_malloc + touch:   %8.3f s (fmr_malloc alone %.3f s; "
         "free + close %.3f s, not counted)\n",
         t_fmr / 1e9, t_fmr_alloc / 1e9, t_close / 1e9);
  printf("mmap + touch:         %8.3f s\n", t_mmap / 1e9);
  printf("ratio fmr/mmap:       %8.2f\n", t_fmr / t_mmap);
  return 0;
}
