/* bench-common.h: helpers shared by the benchmark programs.

   Copyright (C) 2026 The libfmalloc-r authors.
   This file is part of libfmalloc-r, free software under the GNU Lesser
   General Public License, version 2.1 or (at your option) any later version.

   Monotonic clock, a scratch directory made with mkdtemp() under $TMPDIR or
   /tmp, and error reporting.  Header-only: each benchmark is one program. */

#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fmalloc-r.h"

/* Nanoseconds on CLOCK_MONOTONIC.  */
static inline double bench_now_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Print the library error CODE for WHAT and exit 1.  */
static inline void bench_fail(const char *program, const char *what, int code)
{
  fprintf(stderr, "%s: %s: %s", program, what, fmr_strerror(code));
  if (fmr_errmsg()[0] != '\0')
    fprintf(stderr, " (%s)", fmr_errmsg());
  fputc('\n', stderr);
  exit(1);
}

/* Create a scratch directory under $TMPDIR or /tmp into BUF.  */
static inline void bench_make_tmpdir(const char *program, char *buf,
                                     size_t size)
{
  const char *tmp = getenv("TMPDIR");
  if (tmp == NULL || tmp[0] == '\0')
    tmp = "/tmp";
  snprintf(buf, size, "%s/fmr-bench.XXXXXX", tmp);
  if (mkdtemp(buf) == NULL) {
    fprintf(stderr, "%s: mkdtemp %s: %s\n", program, buf, strerror(errno));
    exit(1);
  }
}

/* Remove FILE (may be NULL) and then the directory DIR.  */
static inline void bench_remove(const char *dir, const char *file)
{
  if (file != NULL)
    unlink(file);
  rmdir(dir);
}

/* Parse a positive decimal argument, or exit with a usage error.  */
static inline unsigned long long bench_parse_count(const char *program,
                                                   const char *arg)
{
  char *end;
  unsigned long long value;

  errno = 0;
  value = strtoull(arg, &end, 10);
  if (errno != 0 || end == arg || *end != '\0' || value == 0) {
    fprintf(stderr, "%s: invalid count '%s'\n", program, arg);
    exit(2);
  }
  return value;
}

static inline int bench_compare_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The median of the N values at V (sorts them). */
static inline double bench_median(double *v, size_t n)
{
  qsort(v, n, sizeof *v, bench_compare_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

#endif /* BENCH_COMMON_H */
