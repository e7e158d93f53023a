/* testutil.h: helpers shared by the libfmalloc-r test programs: a
   temporary directory per program, file helpers, child processes and
   byte patterns.

   Copyright (C) 2026 The libfmalloc-r authors.
   This file is part of libfmalloc-r, free software under the GNU Lesser
   General Public License, version 2.1 or (at your option) any later version.  */

#ifndef FMR_TESTUTIL_H
#define FMR_TESTUTIL_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

#include "fmalloc-r.h"

/* Assert that EXPR (an fmr_* call) returns CODE, and say what it returned
   otherwise, with fmr_errmsg(). */
#define ck_assert_fmr(expr, code)                                           \
  do {                                                                      \
    int tu_rc_ = (expr);                                                    \
    int tu_want_ = (code);                                                  \
    ck_assert_msg(tu_rc_ == tu_want_,                                       \
                  "%s returned %d (%s), expected %d (%s); errmsg: %s",      \
                  #expr, tu_rc_, fmr_strerror(tu_rc_), tu_want_,            \
                  fmr_strerror(tu_want_), fmr_errmsg());                    \
  } while (0)

#define ck_assert_fmr_ok(expr) ck_assert_fmr(expr, FMR_OK)

/* Checks inside a forked child, where Check's assertions must not be used:
   print the failure and exit with status 99. */
#define CHILD_CHECK(cond)                                                   \
  do {                                                                      \
    if (!(cond)) {                                                          \
      fprintf(stderr, "%s:%d: child check failed: %s (errmsg: %s)\n",       \
              __FILE__, __LINE__, #cond, fmr_errmsg());                     \
      fflush(stderr);                                                       \
      _exit(99);                                                            \
    }                                                                       \
  } while (0)

#define CHILD_CHECK_RC(expr, code)                                          \
  do {                                                                      \
    int tu_rc_ = (expr);                                                    \
    if (tu_rc_ != (code)) {                                                 \
      fprintf(stderr, "%s:%d: child: %s returned %d (%s), expected %d;"     \
              " errmsg: %s\n", __FILE__, __LINE__, #expr, tu_rc_,           \
              fmr_strerror(tu_rc_), (int)(code), fmr_errmsg());             \
      fflush(stderr);                                                       \
      _exit(99);                                                            \
    }                                                                       \
  } while (0)

#define TU_KIB ((uint64_t)1024)
#define TU_MIB ((uint64_t)1024 * 1024)
#define TU_GIB ((uint64_t)1024 * 1024 * 1024)

/* The directory this program made for its files (under $TMPDIR or /tmp);
   tu_main() creates it before the tests run and removes it afterwards,
   whatever the tests did. */
extern char *tu_base;

/* A new empty directory inside tu_base.  Never NULL (aborts the test). */
char *tu_tmpdir(void);
/* DIR "/" NAME, malloc'd.  Safe in child processes (no Check calls). */
char *tu_path(const char *dir, const char *name);
/* Remove PATH and everything below it.  Returns 0 or -1. */
int tu_rmtree(const char *path);
/* Number of entries in DIR other than "." and "..", or -1. */
int tu_count_entries(const char *dir);

/* Whole-file helpers; return 0 or -1. */
int tu_read_file(const char *path, unsigned char **buf_out, size_t *len_out);
int tu_write_file(const char *path, const void *buf, size_t len);
/* Copy with read(2)/write(2). */
int tu_copy_file(const char *src, const char *dst);
int tu_pwrite(const char *path, uint64_t offset, const void *buf, size_t len);
int tu_pread(const char *path, uint64_t offset, void *buf, size_t len);
int tu_truncate(const char *path, uint64_t size);
int64_t tu_file_size(const char *path);

/* Deterministic bytes for SEED; tu_verify() returns 1 if P holds them. */
void tu_fill(void *p, size_t len, uint64_t seed);
int tu_verify(const void *p, size_t len, uint64_t seed);
uint64_t tu_rand(uint64_t *state);
/* CRC-32C of LEN bytes, written out bit by bit, independently of the
   library's (for tests that forge checksummed on-disk structures). */
uint32_t tu_crc32c(const void *data, size_t len);
/* Index of the first non-zero byte of P[0..LEN), or LEN if all are zero. */
size_t tu_first_nonzero(const void *p, size_t len);

/* Open PATH with FLAGS and defaults otherwise. */
int tu_open(const char *path, unsigned flags, fmr_heap **heap_out);
/* Open PATH with FLAGS, INITIAL_SIZE and MAX_SIZE. */
int tu_open_sized(const char *path, unsigned flags, uint64_t initial_size,
                  uint64_t max_size, fmr_heap **heap_out);
/* fmr_stat(), asserting success. */
fmr_stats tu_stat(fmr_heap *heap);

/* Run FN(ARG) in a forked child, which exits with its return value.
   Returns the child's pid (asserting that fork worked). */
pid_t tu_fork(int (*fn)(void *), void *arg);
/* Run this test program anew (fork and exec of /proc/self/exe) with the
   arguments MODE and ARG, for a child that must not inherit this process's
   heaps.  main() hands such a call to tu_child_main().  Returns the pid. */
pid_t tu_spawn(const char *mode, const char *arg);
/* If ARGV asks for a child mode, run FN(MODE, ARG) and exit with its
   result; otherwise return. */
void tu_child_main(int argc, char **argv,
                   int (*fn)(const char *mode, const char *arg));
/* Wait for PID: its exit status 0..255, or 256 + the signal that killed
   it, or -1 if waitpid failed. */
int tu_wait(pid_t pid);
#define TU_SIGNALED(status) ((status) >= 256)

/* Pipe helpers: write or read exactly LEN bytes; return 0, or -1 (read
   returns 1 on end of file before any byte). */
int tu_write_all(int fd, const void *buf, size_t len);
int tu_read_all(int fd, void *buf, size_t len);

/* tcase_set_timeout(TC, SECONDS), or the larger CK_DEFAULT_TIMEOUT from the
   environment (CK_TIMEOUT_MULTIPLIER still applies to either). */
void tu_timeout(TCase *tc, double seconds);

/* Run the suite in a fresh tu_base and return the exit status for main. */
int tu_main(Suite *suite);

#endif /* FMR_TESTUTIL_H */
