/* bench-locks.c: waiting for the registry lock and for a heap lock.

   Copyright (C) 2026 The libfmalloc-r authors.
   This file is part of libfmalloc-r, free software under the GNU Lesser
   General Public License, version 2.1 or (at your option) any later version.

   Usage: bench-locks [RECORDS [RUNS [DIRTY_MIB]]]

   Two figures, each the median of RUNS (default 7) runs:
   - registry: fmr_open of a one-record heap, alone and while
     another thread is inside fmr_open of a heap of RECORDS (default
     1,000,000) records (target: no slower than alone, far below the big
     open's time);
   - heap lock: a thread calls fmr_malloc on a heap while another thread
     holds the heap's lock in fmr_check (of the RECORDS heap) or in
     fmr_sync (of DIRTY_MIB, default 256, MiB just written); the waiter's
     CPU time (CLOCK_THREAD_CPUTIME_ID) and wall time are reported
     (target: CPU under 20 % of the wait).  */

#include <config.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench-common.h"

#define PROGRAM "bench-locks"

static double thread_cpu_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static fmr_heap *open_heap(const char *path, unsigned flags)
{
  fmr_options o;
  fmr_heap *heap;
  fmr_options_init(&o);
  o.flags = flags;
  int rc = fmr_open(path, &o, &heap);
  if (rc != FMR_OK)
    bench_fail(PROGRAM, path, rc);
  return heap;
}

static void make_heap(const char *path, unsigned long long records)
{
  fmr_heap *heap = open_heap(path, FMR_OPEN_CREATE);
  for (unsigned long long i = 0; i < records; i++) {
    char name[32];
    void *p;
    snprintf(name, sizeof name, "rec%llu", i);
    int rc = fmr_malloc(heap, 16, &p);
    if (rc == FMR_OK) {
      memset(p, (int)(i & 0xff), 16);
      rc = fmr_commit(heap, p, 1, 16, name, NULL, 0, 0, NULL);
    }
    if (rc != FMR_OK)
      bench_fail(PROGRAM, "commit", rc);
  }
  int rc = fmr_close(heap);
  if (rc != FMR_OK)
    bench_fail(PROGRAM, "close", rc);
}

/* The thread that opens the big heap. */
struct big_open {
  const char *path;
  atomic_int started;
  double ns;
};

static void *big_open_main(void *arg)
{
  struct big_open *b = arg;
  atomic_store(&b->started, 1);
  double t0 = bench_now_ns();
  fmr_heap *heap = open_heap(b->path, 0);
  b->ns = bench_now_ns() - t0;
  fmr_close(heap);
  return NULL;
}

/* The time of an fmr_open of PATH (the close, which syncs, is not
   timed). */
static double small_open(const char *path)
{
  double t0 = bench_now_ns();
  fmr_heap *heap = open_heap(path, 0);
  double ns = bench_now_ns() - t0;
  fmr_close(heap);
  return ns;
}

/* The thread that holds the heap lock in fmr_check or fmr_sync. */
struct holder {
  fmr_heap *heap;
  int sync; /* fmr_sync, else fmr_check */
  atomic_int started;
};

static void *holder_main(void *arg)
{
  struct holder *h = arg;
  atomic_store(&h->started, 1);
  int rc = h->sync ? fmr_sync(h->heap) : fmr_check(h->heap, NULL, NULL);
  if (rc != FMR_OK)
    bench_fail(PROGRAM, h->sync ? "fmr_sync" : "fmr_check", rc);
  return NULL;
}

/* fmr_malloc while HEAP's lock is held by fmr_check or fmr_sync: the
   waiter's CPU and wall time in *CPU and *WALL (ns). */
static void wait_behind(fmr_heap *heap, int sync, void *dirty, size_t bytes,
                        double *cpu, double *wall)
{
  struct holder h = {heap, sync, 0};
  pthread_t t;
  void *p;
  if (sync)
    memset(dirty, (int)(rand() & 0xff), bytes);
  pthread_create(&t, NULL, holder_main, &h);
  while (!atomic_load(&h.started))
    ;
  usleep(2000); /* let it take the lock */
  double c0 = thread_cpu_ns(), t0 = bench_now_ns();
  int rc = fmr_malloc(heap, 64, &p);
  *cpu = thread_cpu_ns() - c0;
  *wall = bench_now_ns() - t0;
  if (rc != FMR_OK)
    bench_fail(PROGRAM, "fmr_malloc", rc);
  fmr_free(heap, p);
  pthread_join(t, NULL);
}

int main(int argc, char **argv)
{
  unsigned long long records =
      argc > 1 ? bench_parse_count(PROGRAM, argv[1]) : 1000000;
  unsigned long long runs = argc > 2 ? bench_parse_count(PROGRAM, argv[2]) : 7;
  unsigned long long dirty_mib =
      argc > 3 ? bench_parse_count(PROGRAM, argv[3]) : 256;
  char dir[4096], big[4200], small[4200];
  double *v = malloc(sizeof *v * runs), *w = malloc(sizeof *w * runs);
  double *x = malloc(sizeof *x * runs);
  if (v == NULL || w == NULL || x == NULL)
    return 1;

  bench_make_tmpdir(PROGRAM, dir, sizeof dir);
  snprintf(big, sizeof big, "%s/big.fmr", dir);
  snprintf(small, sizeof small, "%s/small.fmr", dir);
  make_heap(big, records);
  make_heap(small, 1);
  printf("%s: %llu records, %llu runs (medians)\n", PROGRAM, records, runs);

  for (unsigned long long r = 0; r < runs; r++)
    v[r] = small_open(small);
  double alone = bench_median(v, runs);
  for (unsigned long long r = 0; r < runs; r++) {
    struct big_open b = {big, 0, 0};
    pthread_t t;
    pthread_create(&t, NULL, big_open_main, &b);
    while (!atomic_load(&b.started))
      ;
    usleep(5000); /* well inside the big open */
    v[r] = small_open(small);
    pthread_join(t, NULL);
    w[r] = b.ns;
  }
  printf("registry: fmr_open of a 1-record heap: %.3f ms alone, %.3f ms "
         "during an open of the %llu-record heap (which took %.1f ms)\n",
         alone / 1e6, bench_median(v, runs) / 1e6, records,
         bench_median(w, runs) / 1e6);

  fmr_heap *heap = open_heap(big, 0);
  for (unsigned long long r = 0; r < runs; r++)
    wait_behind(heap, 0, NULL, 0, &v[r], &w[r]);
  for (unsigned long long r = 0; r < runs; r++)
    x[r] = v[r] / w[r];
  printf("heap lock: waiter behind fmr_check: %.1f ms CPU in %.1f ms of "
         "waiting (CPU/wait %.1f %%)\n",
         bench_median(v, runs) / 1e6, bench_median(w, runs) / 1e6,
         100 * bench_median(x, runs));

  size_t bytes = (size_t)dirty_mib << 20;
  void *dirty;
  int rc = fmr_malloc(heap, bytes, &dirty);
  if (rc != FMR_OK)
    bench_fail(PROGRAM, "fmr_malloc of the dirty block", rc);
  for (unsigned long long r = 0; r < runs; r++)
    wait_behind(heap, 1, dirty, bytes, &v[r], &w[r]);
  for (unsigned long long r = 0; r < runs; r++)
    x[r] = w[r] > 0 ? v[r] / w[r] : 0;
  printf("heap lock: waiter behind fmr_sync of %llu MiB: %.1f ms CPU in "
         "%.1f ms of waiting (CPU/wait %.1f %%)\n",
         dirty_mib, bench_median(v, runs) / 1e6, bench_median(w, runs) / 1e6,
         100 * bench_median(x, runs));
  fmr_free(heap, dirty);
  fmr_close(heap);

  unlink(small);
  bench_remove(dir, big);
  free(v);
  free(w);
  free(x);
  return 0;
}
