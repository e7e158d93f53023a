/* test_readonly.c: read-only opens never change the file, refuse every
   change, are readers of their own beside this process's writer, and
   pick up what a writer in another process commits when refreshed.

   Copyright (C) 2026 The libfmalloc-r authors.
   This file is part of libfmalloc-r, free software under the GNU Lesser
   General Public License, version 2.1 or (at your option) any later version.
 */

#include <config.h>

#include "testutil.h"

#include <signal.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>

static char *make_heap(const char *dir)
{
  char *path = tu_path(dir, "ro.fmr");
  fmr_heap *heap;
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_CREATE, &heap));
  for (int i = 0; i < 5; i++) {
    void *p;
    uint64_t id;
    char name[16];
    snprintf(name, sizeof name, "ro%d", i);
    ck_assert_fmr_ok(fmr_malloc(heap, 5000, &p));
    tu_fill(p, 5000, (uint64_t)i);
    ck_assert_fmr_ok(fmr_commit(heap, p, 3, 5000, name, "mm", 2, 0, &id));
  }
  uint64_t id;
  ck_assert_fmr_ok(fmr_commit(heap, NULL, 3, 0, "tomb", NULL, 0, 0, &id));
  ck_assert_fmr_ok(fmr_record_tombstone(heap, id));
  ck_assert_fmr_ok(fmr_close(heap));
  return path;
}

struct snapshot {
  unsigned char *bytes;
  size_t len;
  struct stat st;
};

static struct snapshot take(const char *path)
{
  struct snapshot s;
  ck_assert_int_eq(tu_read_file(path, &s.bytes, &s.len), 0);
  ck_assert_int_eq(stat(path, &s.st), 0);
  return s;
}

static void same(const struct snapshot *a, const char *path)
{
  struct snapshot b = take(path);
  ck_assert_uint_eq(a->len, b.len);
  ck_assert_msg(memcmp(a->bytes, b.bytes, a->len) == 0,
                "a read-only open changed the bytes of %s", path);
  ck_assert_int_eq(a->st.st_mtim.tv_sec, b.st.st_mtim.tv_sec);
  ck_assert_int_eq(a->st.st_mtim.tv_nsec, b.st.st_mtim.tv_nsec);
  ck_assert_int_eq(a->st.st_ctim.tv_sec, b.st.st_ctim.tv_sec);
  ck_assert_int_eq(a->st.st_ctim.tv_nsec, b.st.st_ctim.tv_nsec);
  free(b.bytes);
}

static void check_refusals(fmr_heap *heap)
{
  void *p = (void *)0x1;
  uint64_t id = 12345, count = 12345;
  fmr_record rec;
  fmr_record_init(&rec);
  ck_assert_fmr(fmr_malloc(heap, 100, &p), FMR_EREADONLY);
  ck_assert_fmr(fmr_calloc(heap, 1, 100, &p), FMR_EREADONLY);
  p = (void *)0x1;
  ck_assert_fmr(fmr_realloc(heap, NULL, 100, &p), FMR_EREADONLY);
  ck_assert_ptr_eq(p, (void *)0x1);
  ck_assert_fmr(fmr_commit(heap, NULL, 1, 0, "x", NULL, 0, 0, &id),
                FMR_EREADONLY);
  ck_assert_fmr_ok(fmr_record_find(heap, "ro0", &rec));
  ck_assert_fmr(fmr_record_update(heap, rec.id, 1, 1, NULL, 0),
                FMR_EREADONLY);
  ck_assert_fmr(fmr_record_rename(heap, rec.id, "other"), FMR_EREADONLY);
  ck_assert_fmr(fmr_record_tombstone(heap, rec.id), FMR_EREADONLY);
  ck_assert_fmr(fmr_record_free(heap, rec.id), FMR_EREADONLY);
  ck_assert_fmr(fmr_reclaim(heap, &count), FMR_EREADONLY);
  ck_assert_int_lt(fmr_free(heap, rec.payload), 0);
  ck_assert_fmr_ok(fmr_free(heap, NULL));
  /* Nothing changed. */
  fmr_record again;
  fmr_record_init(&again);
  ck_assert_fmr_ok(fmr_record_find(heap, "ro0", &again));
  ck_assert_uint_eq(again.generation, rec.generation);
  ck_assert_uint_eq(again.type, 3);
  ck_assert(tu_verify(again.payload, 5000, 0));
  ck_assert_fmr(fmr_record_find(heap, "other", &again), FMR_ENOTFOUND);
  ck_assert_uint_eq(tu_stat(heap).records_tombstone, 1);
}

START_TEST(test_readonly_open)
{
  char *dir = tu_tmpdir();
  char *path = make_heap(dir);
  struct snapshot before = take(path);
  /* Let the clock move, so a write would show in the mtime. */
  struct timespec ts = {0, 20 * 1000 * 1000};
  nanosleep(&ts, NULL);

  fmr_heap *heap;
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_READONLY, &heap));
  ck_assert_int_eq(fmr_is_readonly(heap), 1);
  fmr_stats st = tu_stat(heap);
  ck_assert_int_eq(st.readonly, 1);
  ck_assert_uint_eq(st.records_committed, 5);
  ck_assert_uint_eq(st.records_tombstone, 1);
  for (int i = 0; i < 5; i++) {
    char name[16];
    fmr_record rec;
    fmr_record_init(&rec);
    snprintf(name, sizeof name, "ro%d", i);
    ck_assert_fmr_ok(fmr_record_find(heap, name, &rec));
    ck_assert_uint_eq(rec.meta_len, 2);
    ck_assert_mem_eq(rec.meta, "mm", 2);
    ck_assert(tu_verify(rec.payload, 5000, (uint64_t)i));
  }
  check_refusals(heap);
  ck_assert_fmr_ok(fmr_check(heap, NULL, NULL));
  ck_assert_fmr_ok(fmr_sync(heap));
  ck_assert_fmr_ok(fmr_refresh(heap));
  ck_assert_fmr_ok(fmr_close(heap));
  same(&before, path);

  /* Two readers at once. */
  fmr_heap *r1, *r2;
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_READONLY, &r1));
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_READONLY, &r2));
  ck_assert_ptr_eq(r1, r2);
  ck_assert_fmr_ok(fmr_close(r2));
  ck_assert_fmr_ok(fmr_close(r1));
  same(&before, path);
  free(before.bytes);
  free(path);
  free(dir);
}
END_TEST

static int write_to_readonly(void *arg)
{
  /* Runs in a child: a store into a read-only payload must fault.  The
     default action, so that a sanitizer's handler does not turn the
     fault into an exit status.  The child opens the file itself: its
     copy of the parent's reader is a private, writable mapping (see
     test_fork), the mapping of a reader it opens is read-only. */
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigaction(SIGSEGV, &dfl, NULL);
  sigaction(SIGBUS, &dfl, NULL);
  fmr_heap *heap;
  fmr_record rec;
  fmr_record_init(&rec);
  CHILD_CHECK_RC(tu_open(arg, FMR_OPEN_READONLY, &heap), FMR_OK);
  CHILD_CHECK_RC(fmr_record_find(heap, "ro1", &rec), FMR_OK);
  volatile unsigned char *p = rec.payload;
  p[0] = (unsigned char)(p[0] + 1);
  return 0;
}

START_TEST(test_readonly_mapping)
{
  char *dir = tu_tmpdir();
  char *path = make_heap(dir);
  struct snapshot before = take(path);
  fmr_heap *heap;
  fmr_record rec;
  fmr_record_init(&rec);
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_READONLY, &heap));
  ck_assert_fmr_ok(fmr_record_find(heap, "ro1", &rec));
  int status = tu_wait(tu_fork(write_to_readonly, path));
  ck_assert_msg(status == 256 + SIGSEGV || status == 256 + SIGBUS,
                "writing a read-only payload gave status %d", status);
  ck_assert_fmr_ok(fmr_close(heap));
  same(&before, path);
  free(before.bytes);
  free(path);
  free(dir);
}
END_TEST

static int unclean_child(void *arg)
{
  const char *path = arg;
  fmr_heap *heap;
  void *p;
  uint64_t id;
  CHILD_CHECK_RC(tu_open(path, 0, &heap), 0);
  CHILD_CHECK_RC(fmr_malloc(heap, 7000, &p), 0);
  tu_fill(p, 7000, 99);
  CHILD_CHECK_RC(fmr_commit(heap, p, 4, 7000, "late", NULL, 0, 0, &id), 0);
  CHILD_CHECK_RC(fmr_malloc(heap, 50000, &p), 0); /* never committed */
  return 0;                                       /* no close */
}

START_TEST(test_readonly_unclean_file)
{
  char *dir = tu_tmpdir();
  char *path = make_heap(dir);
  ck_assert_int_eq(tu_wait(tu_fork(unclean_child, path)), 0);
  struct snapshot before = take(path);
  struct timespec ts = {0, 20 * 1000 * 1000};
  nanosleep(&ts, NULL);
  /* A reader sees the records of a file that needs recovery, and does not
     recover it. */
  fmr_heap *heap;
  fmr_record rec;
  fmr_record_init(&rec);
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_READONLY, &heap));
  ck_assert_fmr_ok(fmr_record_find(heap, "late", &rec));
  ck_assert(tu_verify(rec.payload, 7000, 99));
  ck_assert_uint_eq(tu_stat(heap).records_committed, 6);
  ck_assert_fmr_ok(fmr_close(heap));
  same(&before, path);
  /* The writer still recovers it afterwards. */
  ck_assert_fmr_ok(tu_open(path, 0, &heap));
  ck_assert_int_eq(tu_stat(heap).recovered, 1);
  ck_assert_fmr_ok(fmr_record_find(heap, "late", &rec));
  ck_assert_fmr_ok(fmr_check(heap, NULL, NULL));
  ck_assert_fmr_ok(fmr_close(heap));
  free(before.bytes);
  free(path);
  free(dir);
}
END_TEST

/* A read-only open of a file this process holds as writer is a reader of
   its own (issue 10, item 16): it used to return the writer heap itself,
   writable (fmr_is_readonly 0, fmr_malloc worked) and with the writer's
   max_size whatever the reader asked for. */
START_TEST(test_readonly_beside_writer)
{
  char *dir = tu_tmpdir();
  char *path = make_heap(dir);
  fmr_heap *w, *r, *r2;
  ck_assert_fmr_ok(tu_open(path, 0, &w));
  ck_assert_fmr_ok(
      tu_open_sized(path, FMR_OPEN_READONLY, 0, 64 * 1024 * 1024, &r));
  ck_assert_ptr_ne(w, r);
  ck_assert_int_eq(fmr_is_readonly(r), 1);
  ck_assert_int_eq(fmr_is_readonly(w), 0);
  fmr_stats st = tu_stat(r);
  ck_assert_int_eq(st.readonly, 1);
  ck_assert_uint_eq(st.max_size, 64 * 1024 * 1024);
  ck_assert_uint_eq(st.refcount, 1);
  ck_assert_uint_eq(tu_stat(w).refcount, 1);
  void *p;
  ck_assert_fmr(fmr_malloc(r, 100, &p), FMR_EREADONLY);
  uint64_t id;
  ck_assert_fmr(fmr_commit(r, NULL, 1, 0, "no", NULL, 0, 0, &id),
                FMR_EREADONLY);
  /* It reads what the writer committed, like a reader elsewhere. */
  fmr_record rec;
  fmr_record_init(&rec);
  ck_assert_fmr_ok(fmr_record_find(r, "ro2", &rec));
  ck_assert(tu_verify(rec.payload, 5000, 2));
  ck_assert_fmr_ok(fmr_malloc(w, 100, &p));
  memset(p, 7, 100);
  ck_assert_fmr_ok(fmr_commit(w, p, 1, 100, "new", NULL, 0, 0, &id));
  ck_assert_fmr_ok(fmr_refresh(r));
  ck_assert_fmr_ok(fmr_record_find(r, "new", &rec));
  ck_assert_uint_eq(rec.id, id);
  ck_assert_uint_eq(((unsigned char *)rec.payload)[99], 7);
  /* A second read-only open shares the reader, a writer open the
     writer. */
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_READONLY, &r2));
  ck_assert_ptr_eq(r2, r);
  ck_assert_uint_eq(tu_stat(r).refcount, 2);
  fmr_heap *w2;
  ck_assert_fmr_ok(tu_open(path, 0, &w2));
  ck_assert_ptr_eq(w2, w);
  ck_assert_fmr_ok(fmr_close(w2));
  ck_assert_fmr_ok(fmr_close(r2));
  /* Closing the writer leaves the reader working, and the reverse. */
  ck_assert_fmr_ok(fmr_close(w));
  ck_assert_fmr_ok(fmr_record_find(r, "new", &rec));
  ck_assert_fmr_ok(fmr_close(r));
  ck_assert_fmr_ok(tu_open(path, 0, &w));
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_READONLY, &r));
  ck_assert_fmr_ok(fmr_close(r));
  ck_assert_fmr_ok(fmr_malloc(w, 100, &p));
  ck_assert_fmr_ok(fmr_free(w, p));
  ck_assert_fmr_ok(fmr_close(w));

  /* The other way round: a writer cannot join a read-only heap. */
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_READONLY, &r));
  ck_assert_fmr(tu_open(path, 0, &w), FMR_EBUSY);
  ck_assert_uint_eq(tu_stat(r).refcount, 1);
  ck_assert_fmr_ok(fmr_close(r));
  ck_assert_fmr_ok(tu_open(path, 0, &w));
  ck_assert_fmr_ok(fmr_close(w));
  free(path);
  free(dir);
}
END_TEST

/* The writer for test_refresh runs as a fresh process (fork and exec),
   because this process has the heap open as a reader.  It talks to the
   parent through two FIFOs in DIR: "up" (to the parent) and "down".
   It commits "second" (large enough to grow the file), then, after the
   parent's go-ahead, "third", and frees "ro4", reporting each step. */
static int writer_main(const char *mode, const char *dir)
{
  CHILD_CHECK(strcmp(mode, "refresh-writer") == 0);
  char *path = tu_path(dir, "ro.fmr");
  char *upname = tu_path(dir, "up");
  char *downname = tu_path(dir, "down");
  int up = open(upname, O_WRONLY);
  CHILD_CHECK(up >= 0);
  int down = open(downname, O_RDONLY);
  CHILD_CHECK(down >= 0);
  fmr_heap *heap;
  void *p;
  uint64_t id;
  char c;
  CHILD_CHECK_RC(tu_open(path, 0, &heap), 0);
  CHILD_CHECK_RC(fmr_malloc(heap, 3 * 1024 * 1024, &p), 0);
  tu_fill(p, 3 * 1024 * 1024, 2);
  CHILD_CHECK_RC(
      fmr_commit(heap, p, 2, 3 * 1024 * 1024, "second", NULL, 0, 0, &id), 0);
  CHILD_CHECK(tu_write_all(up, "1", 1) == 0);
  CHILD_CHECK(tu_read_all(down, &c, 1) == 0);
  CHILD_CHECK_RC(fmr_malloc(heap, 1000, &p), 0);
  tu_fill(p, 1000, 3);
  CHILD_CHECK_RC(fmr_commit(heap, p, 3, 1000, "third", NULL, 0, 0, &id), 0);
  fmr_record rec;
  fmr_record_init(&rec);
  CHILD_CHECK_RC(fmr_record_find(heap, "ro4", &rec), 0);
  CHILD_CHECK_RC(fmr_record_free(heap, rec.id), 0);
  CHILD_CHECK_RC(fmr_close(heap), 0);
  CHILD_CHECK(tu_write_all(up, "2", 1) == 0);
  close(up);
  close(down);
  free(path);
  free(upname);
  free(downname);
  return 0;
}

START_TEST(test_refresh)
{
  char *dir = tu_tmpdir();
  char *path = make_heap(dir);
  char *upname = tu_path(dir, "up");
  char *downname = tu_path(dir, "down");
  ck_assert_int_eq(mkfifo(upname, 0600), 0);
  ck_assert_int_eq(mkfifo(downname, 0600), 0);
  fmr_heap *reader;
  fmr_record rec;
  fmr_record_init(&rec);
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_READONLY, &reader));
  uint64_t size0 = tu_stat(reader).file_size;
  ck_assert_fmr(fmr_record_find(reader, "second", &rec), FMR_ENOTFOUND);

  pid_t pid = tu_spawn("refresh-writer", dir);
  int up = open(upname, O_RDONLY);
  ck_assert_int_ge(up, 0);
  int down = open(downname, O_WRONLY);
  ck_assert_int_ge(down, 0);
  char c = 0;
  ck_assert_int_eq(tu_read_all(up, &c, 1), 0);
  ck_assert_int_eq(c, '1');

  ck_assert_fmr_ok(fmr_refresh(reader));
  fmr_stats st = tu_stat(reader);
  ck_assert_uint_gt(st.file_size, size0);
  ck_assert_uint_ge(st.file_size, 3 * TU_MIB);
  ck_assert_fmr_ok(fmr_record_find(reader, "second", &rec));
  ck_assert_uint_eq(rec.type, 2);
  ck_assert_uint_eq(rec.length, 3 * TU_MIB);
  ck_assert_ptr_nonnull(rec.payload);
  ck_assert(tu_verify(rec.payload, 3 * TU_MIB, 2));
  ck_assert_fmr_ok(fmr_record_find(reader, "ro4", &rec));

  ck_assert_int_eq(tu_write_all(down, "g", 1), 0);
  ck_assert_int_eq(tu_read_all(up, &c, 1), 0);
  ck_assert_int_eq(c, '2');
  ck_assert_int_eq(tu_wait(pid), 0);
  close(up);
  close(down);

  ck_assert_fmr_ok(fmr_refresh(reader));
  ck_assert_fmr_ok(fmr_record_find(reader, "third", &rec));
  ck_assert(tu_verify(rec.payload, 1000, 3));
  ck_assert_fmr(fmr_record_find(reader, "ro4", &rec), FMR_ENOTFOUND);
  ck_assert_fmr_ok(fmr_record_find(reader, "second", &rec));
  ck_assert(tu_verify(rec.payload, 3 * TU_MIB, 2));
  ck_assert_uint_eq(tu_stat(reader).records_committed, 6);
  ck_assert_fmr_ok(fmr_close(reader));
  free(upname);
  free(downname);
  free(path);
  free(dir);
}
END_TEST

static Suite *readonly_suite(void)
{
  Suite *s = suite_create("readonly");
  TCase *tc = tcase_create("core");
  tu_timeout(tc, 30);
  tcase_add_test(tc, test_readonly_open);
  tcase_add_test(tc, test_readonly_mapping);
  tcase_add_test(tc, test_readonly_unclean_file);
  tcase_add_test(tc, test_readonly_beside_writer);
  tcase_add_test(tc, test_refresh);
  suite_add_tcase(s, tc);
  return s;
}

int main(int argc, char **argv)
{
  tu_child_main(argc, argv, writer_main);
  return tu_main(readonly_suite());
}
