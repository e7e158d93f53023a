/* bench-reader.c: a reader's lookups by name, found and missing.

   Copyright (C) 2026 The libfmalloc-r authors.
   This file is part of libfmalloc-r, free software under the GNU Lesser
   General Public License, version 2.1 or (at your option) any later version.

   Usage: bench-reader [RECORDS...]

   For each count (default 100000 and 1000000), creates a persistent heap
   with that many records named "rec<N>" (no payload) and closes it, opens
   it read-only and times fmr_record_find of names that exist (hits) and
   of names that do not (misses), each the mean over many lookups
   (misses: at most 2 s of them, at least 3).  Then a child process
   commits one record and the next miss, which must reload the catalog,
   is timed once ("miss after a change").  A miss used to reload the
   whole catalog every time (issue 10, item 8).  */

#include <config.h>

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench-common.h"

#define PROGRAM "bench-reader"

static void make_heap(const char *path, unsigned long long records)
{
  fmr_heap *heap;
  fmr_options o;
  char name[32];
  fmr_options_init(&o);
  o.flags = FMR_OPEN_CREATE;
  int rc = fmr_open(path, &o, &heap);
  if (rc != FMR_OK)
    bench_fail(PROGRAM, "create", rc);
  for (unsigned long long i = 0; i < records; i++) {
    uint64_t id;
    snprintf(name, sizeof name, "rec%llu", i);
    rc = fmr_commit(heap, NULL, 1, 0, name, NULL, 0, 0, &id);
    if (rc != FMR_OK)
      bench_fail(PROGRAM, "commit", rc);
  }
  rc = fmr_close(heap);
  if (rc != FMR_OK)
    bench_fail(PROGRAM, "close", rc);
}

static void commit_one(const char *path)
{
  pid_t pid = fork();
  if (pid == 0) {
    fmr_heap *heap;
    uint64_t id;
    if (fmr_open(path, NULL, &heap) != FMR_OK ||
        fmr_commit(heap, NULL, 1, 0, "late", NULL, 0, 0, &id) != FMR_OK ||
        fmr_close(heap) != FMR_OK)
      _exit(1);
    _exit(0);
  }
  int status;
  if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
      WEXITSTATUS(status) != 0) {
    fprintf(stderr, "%s: the writer child failed\n", PROGRAM);
    exit(1);
  }
}

static void run(const char *dir, unsigned long long records)
{
  char path[4096], name[32];
  fmr_heap *heap;
  fmr_options o;
  fmr_record *rec = malloc(sizeof *rec);
  if (rec == NULL)
    exit(1);
  snprintf(path, sizeof path, "%s/reader.fmr", dir);
  make_heap(path, records);
  fmr_options_init(&o);
  o.flags = FMR_OPEN_READONLY;
  int rc = fmr_open(path, &o, &heap);
  if (rc != FMR_OK)
    bench_fail(PROGRAM, "open read-only", rc);

  unsigned long long hits = 1000000, i;
  double t0 = bench_now_ns();
  for (i = 0; i < hits; i++) {
    snprintf(name, sizeof name, "rec%llu", (i * 7919) % records);
    rc = fmr_record_find(heap, name, rec);
    if (rc != FMR_OK)
      bench_fail(PROGRAM, "find (hit)", rc);
  }
  double hit_ns = (bench_now_ns() - t0) / (double)hits;

  unsigned long long misses = 0;
  t0 = bench_now_ns();
  double t;
  do {
    snprintf(name, sizeof name, "missing%llu", misses);
    rc = fmr_record_find(heap, name, rec);
    if (rc != FMR_ENOTFOUND)
      bench_fail(PROGRAM, "find (miss)", rc);
    misses++;
    t = bench_now_ns() - t0;
  } while ((t < 2e9 || misses < 3) && misses < 1000000);
  double miss_ns = t / (double)misses;

  commit_one(path);
  t0 = bench_now_ns();
  rc = fmr_record_find(heap, "missing-after-change", rec);
  double change_ns = bench_now_ns() - t0;
  if (rc != FMR_ENOTFOUND)
    bench_fail(PROGRAM, "find (miss after a change)", rc);
  rc = fmr_record_find(heap, "late", rec);
  if (rc != FMR_OK)
    bench_fail(PROGRAM, "find the record committed later", rc);

  printf("%10llu records: hit %8.3f us, miss %10.3f us (%llu misses), "
         "miss after a change %9.3f ms\n",
         records, hit_ns / 1e3, miss_ns / 1e3, misses, change_ns / 1e6);
  fflush(stdout);
  fmr_close(heap);
  free(rec);
  unlink(path);
}

int main(int argc, char **argv)
{
  char dir[4096];
  bench_make_tmpdir(PROGRAM, dir, sizeof dir);
  if (argc > 1) {
    for (int i = 1; i < argc; i++)
      run(dir, bench_parse_count(PROGRAM, argv[i]));
  } else {
    run(dir, 100000);
    run(dir, 1000000);
  }
  bench_remove(dir, NULL);
  return 0;
}
