/* bench-open.c: time to open a heap with many records, clean and unclean.

   Copyright (C) 2026 The libfmalloc-r authors.
   This file is part of libfmalloc-r, free software under the GNU Lesser
   General Public License, version 2.1 or (at your option) any later version.

   Usage: bench-open [RECORDS [RUNS]]

   Creates a persistent heap with RECORDS (default 100,000) committed
   records of 16-byte payloads named "rec<N>" and closes it.  Then:
   - clean open: times fmr_open read-write (and read-only) of the cleanly
     closed file, median of RUNS (default 7) runs;
   - recovering open: a child process opens the file, commits one more
     record and calls _exit(0) without fmr_close, leaving the file unclean;
     the parent times the fmr_open that recovers it.  The unclean state is
     made anew before each of RUNS runs and the median is reported.
   It also times a plain read(2) of as many bytes as the catalog holds
   (the ratio of an open to it is the figure to compare across machines)
   and prints the spread (min .. max) of every series.
   Targets: clean open < 50 ms, recovering open < 1 s.  */

#include <config.h>

#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench-common.h"

#define PROGRAM      "bench-open"
#define PAYLOAD_SIZE 16u
#define RECORD_TYPE  0x62656e63u /* "benc" */

/* Milliseconds to read BYTES of PATH with read(2) into memory: what an
   open that only looked at the catalog's bytes would cost at least. */
static double time_plain_read(const char *path, uint64_t bytes)
{
  char *buf = malloc(1 << 20);
  int fd = open(path, O_RDONLY);
  double t0, t1;
  if (buf == NULL || fd < 0) {
    perror(PROGRAM ": plain read");
    exit(1);
  }
  t0 = bench_now_ns();
  while (bytes > 0) {
    size_t want = bytes < (1 << 20) ? (size_t)bytes : (size_t)1 << 20;
    ssize_t got = read(fd, buf, want);
    if (got <= 0)
      break;
    buf[0] ^= buf[got - 1]; /* use the bytes */
    bytes -= (uint64_t)got;
  }
  t1 = bench_now_ns();
  close(fd);
  free(buf);
  return (t1 - t0) / 1e6;
}

/* Allocate a small payload, fill it, and commit it under NAME.  */
static int add_record(fmr_heap *heap, const char *name)
{
  char *p;
  int rc;

  rc = fmr_malloc(heap, PAYLOAD_SIZE, (void **)&p);
  if (rc != FMR_OK)
    return rc;
  memset(p, 0, PAYLOAD_SIZE);
  snprintf(p, PAYLOAD_SIZE, "%s", name);
  rc = fmr_commit(heap, p, RECORD_TYPE, PAYLOAD_SIZE, name, NULL, 0, 0, NULL);
  if (rc != FMR_OK)
    fmr_free(heap, p);
  return rc;
}

/* Time one fmr_open of PATH with FLAGS; return milliseconds and store
   whether the library reports a recovery in *RECOVERED.  */
static double time_open(const char *path, unsigned flags, int *recovered)
{
  fmr_options options;
  fmr_stats st;
  fmr_stats_init(&st);
  fmr_heap *heap;
  double t0, t1;
  int rc;

  fmr_options_init(&options);
  options.flags = flags;
  t0 = bench_now_ns();
  rc = fmr_open(path, &options, &heap);
  t1 = bench_now_ns();
  if (rc != FMR_OK)
    bench_fail(PROGRAM, "fmr_open", rc);
  rc = fmr_stat(heap, &st);
  if (rc != FMR_OK)
    bench_fail(PROGRAM, "fmr_stat", rc);
  *recovered = st.recovered;
  rc = fmr_close(heap);
  if (rc != FMR_OK)
    bench_fail(PROGRAM, "fmr_close", rc);
  return (t1 - t0) / 1e6;
}

/* Leave PATH unclean: a child opens it, commits one record named
   "extra<SERIAL>" and exits without closing.  */
static void make_unclean(const char *path, unsigned long long serial)
{
  pid_t pid;
  int status;

  fflush(NULL);
  pid = fork();
  if (pid < 0) {
    perror(PROGRAM ": fork");
    exit(1);
  }
  if (pid == 0) {
    fmr_options options;
    fmr_heap *heap;
    char name[64];

    fmr_options_init(&options);
    if (fmr_open(path, &options, &heap) != FMR_OK)
      _exit(10);
    snprintf(name, sizeof name, "extra%llu", serial);
    if (add_record(heap, name) != FMR_OK)
      _exit(11);
    _exit(0); /* no fmr_close: the file stays unclean */
  }
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
      WEXITSTATUS(status) != 0) {
    fprintf(stderr,
            PROGRAM ": child failed to make the file unclean "
                    "(status %d)\n",
            status);
    exit(1);
  }
}

int main(int argc, char **argv)
{
  unsigned long long records = 100000, runs = 7, i;
  fmr_options options;
  fmr_stats st;
  fmr_stats_init(&st);
  fmr_heap *heap;
  char dir[4096], path[4200], name[64];
  double *clean_rw, *clean_ro, *unclean, *plain, t0, t1;
  double m_clean, m_ro, m_unclean;
  int rc, recovered, unclean_missed = 0, clean_flagged = 0;

  if (argc > 3) {
    fprintf(stderr, "Usage: " PROGRAM " [RECORDS [RUNS]]\n");
    return 2;
  }
  if (argc > 1)
    records = bench_parse_count(PROGRAM, argv[1]);
  if (argc > 2)
    runs = bench_parse_count(PROGRAM, argv[2]);
  clean_rw = calloc(runs, sizeof *clean_rw);
  clean_ro = calloc(runs, sizeof *clean_ro);
  unclean = calloc(runs, sizeof *unclean);
  plain = calloc(runs, sizeof *plain);
  if (clean_rw == NULL || clean_ro == NULL || unclean == NULL ||
      plain == NULL) {
    fprintf(stderr, PROGRAM ": out of memory\n");
    return 1;
  }

  bench_make_tmpdir(PROGRAM, dir, sizeof dir);
  snprintf(path, sizeof path, "%s/open.heap", dir);

  /* Build the heap.  */
  fmr_options_init(&options);
  options.flags = FMR_OPEN_CREATE;
  t0 = bench_now_ns();
  rc = fmr_open(path, &options, &heap);
  if (rc != FMR_OK)
    bench_fail(PROGRAM, "fmr_open (create)", rc);
  for (i = 0; i < records; i++) {
    snprintf(name, sizeof name, "rec%llu", i);
    rc = add_record(heap, name);
    if (rc != FMR_OK)
      bench_fail(PROGRAM, "commit", rc);
  }
  rc = fmr_stat(heap, &st);
  if (rc != FMR_OK)
    bench_fail(PROGRAM, "fmr_stat", rc);
  rc = fmr_close(heap);
  if (rc != FMR_OK)
    bench_fail(PROGRAM, "fmr_close", rc);
  t1 = bench_now_ns();
  printf(PROGRAM ": %llu records of %u bytes committed and closed in "
                 "%.3f s (%.0f commits/s); file %" PRIu64 " bytes, "
                 "catalog %" PRIu64 " bytes\n",
         records, PAYLOAD_SIZE, (t1 - t0) / 1e9,
         (double)records / ((t1 - t0) / 1e9), st.file_size, st.catalog_bytes);

  for (i = 0; i < runs; i++) {
    plain[i] = time_plain_read(path, st.catalog_bytes);
    clean_rw[i] = time_open(path, 0, &recovered);
    clean_flagged |= recovered;
    clean_ro[i] = time_open(path, FMR_OPEN_READONLY, &recovered);
    clean_flagged |= recovered;
  }
  for (i = 0; i < runs; i++) {
    make_unclean(path, i);
    unclean[i] = time_open(path, 0, &recovered);
    if (!recovered)
      unclean_missed = 1;
  }

  m_clean = bench_median(clean_rw, runs);
  m_ro = bench_median(clean_ro, runs);
  m_unclean = bench_median(unclean, runs);
  double m_plain = bench_median(plain, runs);
  printf("clean open (read-write): %9.3f ms median of %llu (target < 50 ms: "
         "%s)\n",
         m_clean, runs, m_clean < 50.0 ? "met" : "NOT met");
  printf("clean open (read-only):  %9.3f ms median of %llu\n", m_ro, runs);
  printf("recovering open:         %9.3f ms median of %llu (target < 1 s: "
         "%s)\n",
         m_unclean, runs, m_unclean < 1000.0 ? "met" : "NOT met");
  printf("ratio recovering/clean:  %9.1f\n", m_unclean / m_clean);
  printf("plain read of the catalog's %" PRIu64 " bytes: %.3f ms median; "
         "ratio clean open/read: %.1f (read-write), %.1f (read-only)\n",
         st.catalog_bytes, m_plain, m_clean / m_plain, m_ro / m_plain);
  printf("spread (min .. max): read-write %.3f .. %.3f, read-only %.3f .. "
         "%.3f, recovering %.3f .. %.3f ms\n",
         clean_rw[0], clean_rw[runs - 1], clean_ro[0], clean_ro[runs - 1],
         unclean[0], unclean[runs - 1]);
  if (clean_flagged)
    printf("warning: a clean open reported recovery\n");
  if (unclean_missed)
    printf("warning: an unclean open did not report recovery\n");

  bench_remove(dir, path);
  free(clean_rw);
  free(clean_ro);
  free(unclean);
  free(plain);
  return clean_flagged || unclean_missed ? 1 : 0;
}
