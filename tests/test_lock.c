/* test_lock.c: one writer per file across processes; readers coexist with
   the writer; the lock goes away when the writer closes or dies.

   Copyright (C) 2026 The libfmalloc-r authors.
   This file is part of libfmalloc-r, free software under the GNU Lesser
   General Public License, version 2.1 or (at your option) any later version.  */

#include <config.h>

#include "testutil.h"

#include <signal.h>
#include <string.h>

/* The writer child: open, commit, report 'R', wait for a byte, then close
   (if the byte is 'c') or keep waiting to be killed, report 'C', wait for
   end of file, exit. */
struct holder {
  const char *path;
  int to_parent;
  int from_parent;
  int parent_ends[2]; /* the parent's ends, closed in the child */
};

static int holder_child(void *arg)
{
  struct holder *h = arg;
  fmr_heap *heap;
  /* Without this the child would hold the write end of its own input and
     never see end of file. */
  close(h->parent_ends[0]);
  close(h->parent_ends[1]);
  CHILD_CHECK_RC(tu_open(h->path, FMR_OPEN_CREATE, &heap), 0);
  for (int i = 0; i < 3; i++) {
    void *p;
    uint64_t id;
    char name[16];
    snprintf(name, sizeof name, "held%d", i);
    CHILD_CHECK_RC(fmr_malloc(heap, 2000, &p), 0);
    tu_fill(p, 2000, (uint64_t)i);
    CHILD_CHECK_RC(fmr_commit(heap, p, 5, 2000, name, NULL, 0, 0, &id), 0);
  }
  CHILD_CHECK(tu_write_all(h->to_parent, "R", 1) == 0);
  char cmd;
  CHILD_CHECK(tu_read_all(h->from_parent, &cmd, 1) == 0);
  if (cmd == 'c') {
    CHILD_CHECK_RC(fmr_close(heap), 0);
    CHILD_CHECK(tu_write_all(h->to_parent, "C", 1) == 0);
  }
  /* Wait for the parent to finish or kill us. */
  CHILD_CHECK(tu_read_all(h->from_parent, &cmd, 1) == 1);
  return 0;
}

struct running {
  pid_t pid;
  int to_child;
  int from_child;
};

static struct running start_holder(const char *path)
{
  int up[2], down[2];
  ck_assert_int_eq(pipe(up), 0);
  ck_assert_int_eq(pipe(down), 0);
  struct holder h = {path, up[1], down[0], {up[0], down[1]}};
  struct running r;
  r.pid = tu_fork(holder_child, &h);
  close(up[1]);
  close(down[0]);
  r.to_child = down[1];
  r.from_child = up[0];
  char c = 0;
  ck_assert_int_eq(tu_read_all(r.from_child, &c, 1), 0);
  ck_assert_int_eq(c, 'R');
  return r;
}

static void verify_held(fmr_heap *heap)
{
  for (int i = 0; i < 3; i++) {
    char name[16];
    fmr_record rec;
    fmr_record_init(&rec);
    snprintf(name, sizeof name, "held%d", i);
    ck_assert_fmr_ok(fmr_record_find(heap, name, &rec));
    ck_assert_uint_eq(rec.type, 5);
    ck_assert(tu_verify(rec.payload, 2000, (uint64_t)i));
  }
}

START_TEST(test_writer_excludes_writer)
{
  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "lock.fmr");
  struct running r = start_holder(path);

  fmr_heap *heap;
  unsigned char *before, *after;
  size_t lb, la;
  ck_assert_int_eq(tu_read_file(path, &before, &lb), 0);
  ck_assert_fmr(tu_open(path, 0, &heap), FMR_ELOCKED);
  ck_assert_fmr(tu_open(path, FMR_OPEN_CREATE, &heap), FMR_ELOCKED);
  ck_assert_fmr(tu_open(path, FMR_OPEN_RECOVER, &heap), FMR_ELOCKED);
  ck_assert_int_eq(tu_read_file(path, &after, &la), 0);
  ck_assert_uint_eq(la, lb);
  ck_assert_int_eq(memcmp(before, after, lb), 0);
  free(before);
  free(after);

  /* Readers do not wait for the writer. */
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_READONLY, &heap));
  ck_assert_int_eq(fmr_is_readonly(heap), 1);
  verify_held(heap);
  ck_assert_fmr_ok(fmr_close(heap));

  /* The writer closes; now a writer here gets in. */
  ck_assert_int_eq(tu_write_all(r.to_child, "c", 1), 0);
  char c = 0;
  ck_assert_int_eq(tu_read_all(r.from_child, &c, 1), 0);
  ck_assert_int_eq(c, 'C');
  ck_assert_fmr_ok(tu_open(path, 0, &heap));
  ck_assert_int_eq(tu_stat(heap).recovered, 0);
  verify_held(heap);
  ck_assert_fmr_ok(fmr_close(heap));

  close(r.to_child);
  ck_assert_int_eq(tu_wait(r.pid), 0);
  close(r.from_child);
  free(path);
  free(dir);
}
END_TEST

START_TEST(test_lock_released_by_death)
{
  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "dead.fmr");
  struct running r = start_holder(path);
  fmr_heap *reader, *heap;
  /* A reader opened while the writer lives keeps working after it dies. */
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_READONLY, &reader));
  ck_assert_fmr(tu_open(path, 0, &heap), FMR_EBUSY);

  ck_assert_int_eq(kill(r.pid, SIGKILL), 0);
  ck_assert_int_eq(tu_wait(r.pid), 256 + SIGKILL);
  close(r.to_child);
  close(r.from_child);
  verify_held(reader);
  ck_assert_fmr_ok(fmr_close(reader));

  ck_assert_fmr_ok(tu_open(path, 0, &heap));
  ck_assert_int_eq(tu_stat(heap).recovered, 1);
  verify_held(heap);
  ck_assert_fmr_ok(fmr_check(heap, NULL, NULL));
  ck_assert_fmr_ok(fmr_close(heap));
  free(path);
  free(dir);
}
END_TEST

/* Runs in a fresh process (exec), since this process holds the heap. */
static int try_writer_child(const char *mode, const char *path)
{
  fmr_heap *heap;
  CHILD_CHECK(strcmp(mode, "try-writer") == 0);
  CHILD_CHECK_RC(tu_open(path, 0, &heap), FMR_ELOCKED);
  CHILD_CHECK_RC(tu_open(path, FMR_OPEN_READONLY, &heap), 0);
  fmr_record rec;
  fmr_record_init(&rec);
  CHILD_CHECK_RC(fmr_record_find(heap, "parent", &rec), 0);
  CHILD_CHECK(tu_verify(rec.payload, 100, 77));
  CHILD_CHECK_RC(fmr_close(heap), 0);
  return 0;
}

START_TEST(test_parent_holds)
{
  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "ph.fmr");
  fmr_heap *heap;
  void *p;
  uint64_t id;
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_CREATE, &heap));
  ck_assert_fmr_ok(fmr_malloc(heap, 100, &p));
  tu_fill(p, 100, 77);
  ck_assert_fmr_ok(fmr_commit(heap, p, 1, 100, "parent", NULL, 0, 0, &id));
  /* Two children in turn, while this process keeps the writer lock. */
  for (int i = 0; i < 2; i++)
    ck_assert_int_eq(tu_wait(tu_spawn("try-writer", path)), 0);
  ck_assert_fmr_ok(fmr_close(heap));
  free(path);
  free(dir);
}
END_TEST

static Suite *lock_suite(void)
{
  Suite *s = suite_create("lock");
  TCase *tc = tcase_create("core");
  tu_timeout(tc, 30);
  tcase_add_test(tc, test_writer_excludes_writer);
  tcase_add_test(tc, test_lock_released_by_death);
  tcase_add_test(tc, test_parent_holds);
  suite_add_tcase(s, tc);
  return s;
}

int main(int argc, char **argv)
{
  tu_child_main(argc, argv, try_writer_child);
  return tu_main(lock_suite());
}
