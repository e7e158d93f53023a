/* test_compact.c: fmr_compact rewrites a heap without free space and
   tombstones, keeping every committed record as it was, and a crash in
   the middle leaves a whole file.

   Copyright (C) 2026 The libfmalloc-r authors.
   This file is part of libfmalloc-r, free software under the GNU Lesser
   General Public License, version 2.1 or (at your option) any later version.
 */

#include <config.h>

#include "testutil.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NREC 300

struct kept {
  uint64_t id, generation;
  size_t size;
  uint32_t type;
  char name[16];
  int live;
};

static struct kept kept[NREC];

/* A heap with NREC records of which some are freed, some tombstoned, some
   renamed or updated, and a large freed block: lots to compact away. */
static void make_heap(const char *path)
{
  fmr_heap *heap;
  void *p;
  ck_assert_fmr_ok(tu_open_sized(path, FMR_OPEN_CREATE, 64 * 1024, 0, &heap));
  for (int i = 0; i < NREC; i++) {
    struct kept *k = &kept[i];
    k->size = 64 + (size_t)(i * 97 % 5000);
    k->type = (uint32_t)i;
    snprintf(k->name, sizeof k->name, "rec%d", i);
    ck_assert_fmr_ok(fmr_malloc(heap, k->size, &p));
    tu_fill(p, k->size, (uint64_t)i);
    ck_assert_fmr_ok(fmr_commit(heap, p, k->type, k->size, k->name, k->name,
                                strlen(k->name), 0, &k->id));
    k->generation = 1;
    k->live = 1;
  }
  ck_assert_fmr_ok(fmr_malloc(heap, 8 * 1024 * 1024, &p));
  memset(p, 1, 8 * 1024 * 1024);
  ck_assert_fmr_ok(fmr_free(heap, p));
  for (int i = 0; i < NREC; i += 3) {
    ck_assert_fmr_ok(fmr_record_free(heap, kept[i].id));
    kept[i].live = 0;
  }
  for (int i = 1; i < NREC; i += 7) {
    if (!kept[i].live)
      continue;
    ck_assert_fmr_ok(fmr_record_tombstone(heap, kept[i].id));
    kept[i].live = 0;
  }
  for (int i = 2; i < NREC; i += 11) {
    if (!kept[i].live)
      continue;
    snprintf(kept[i].name, sizeof kept[i].name, "new%d", i);
    ck_assert_fmr_ok(fmr_record_rename(heap, kept[i].id, kept[i].name));
    kept[i].generation++;
  }
  ck_assert_fmr_ok(fmr_close(heap));
}

/* Every live record is there as it was, and nothing else. */
static void verify(const char *path, const uint8_t *uuid, int compacted)
{
  fmr_heap *heap;
  uint8_t u[FMR_UUID_SIZE];
  int live = 0;
  uint64_t max_id = 0;
  ck_assert_fmr_ok(tu_open(path, 0, &heap));
  ck_assert_fmr_ok(fmr_check(heap, NULL, NULL));
  ck_assert_fmr_ok(fmr_uuid(heap, u));
  ck_assert_mem_eq(u, uuid, FMR_UUID_SIZE);
  for (int i = 0; i < NREC; i++) {
    fmr_record r;
    fmr_record_init(&r);
    if (kept[i].id > max_id)
      max_id = kept[i].id;
    if (!kept[i].live)
      continue;
    live++;
    ck_assert_fmr_ok(fmr_record_get(heap, kept[i].id, &r));
    ck_assert_uint_eq(r.generation, kept[i].generation);
    ck_assert_uint_eq(r.type, kept[i].type);
    ck_assert_uint_eq(r.length, kept[i].size);
    ck_assert_str_eq(r.name, kept[i].name);
    /* The metadata is the record's first name. */
    char first[16];
    snprintf(first, sizeof first, "rec%d", i);
    ck_assert_uint_eq(r.meta_len, strlen(first));
    ck_assert_mem_eq(r.meta, first, strlen(first));
    ck_assert(tu_verify(r.payload, kept[i].size, (uint64_t)i));
  }
  fmr_stats st = tu_stat(heap);
  ck_assert_uint_eq(st.records_committed, (uint64_t)live);
  if (compacted)
    ck_assert_uint_eq(st.records_tombstone, 0);
  /* Ids are never handed out again. */
  uint64_t id;
  ck_assert_fmr_ok(fmr_commit(heap, NULL, 0, 0, NULL, NULL, 0, 0, &id));
  ck_assert_uint_gt(id, max_id);
  ck_assert_fmr_ok(fmr_record_free(heap, id));
  ck_assert_fmr_ok(fmr_close(heap));
}

static void read_uuid(const char *path, uint8_t *uuid)
{
  fmr_heap *heap;
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_READONLY, &heap));
  ck_assert_fmr_ok(fmr_uuid(heap, uuid));
  ck_assert_fmr_ok(fmr_close(heap));
}

START_TEST(test_compact_shrinks_and_keeps)
{
  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "c.fmr");
  uint8_t uuid[FMR_UUID_SIZE];
  make_heap(path);
  read_uuid(path, uuid);
  int64_t size0 = tu_file_size(path);
  uint64_t before, after;
  ck_assert_fmr_ok(fmr_compact(path, &before, &after));
  ck_assert_uint_eq(before, (uint64_t)size0);
  ck_assert_uint_eq(after, (uint64_t)tu_file_size(path));
  ck_assert_uint_lt(after * 4, before); /* 8 MiB of garbage went */
  verify(path, uuid, 1);
  /* Nothing left beside it, and a second compaction changes nothing. */
  ck_assert_int_eq(tu_count_entries(dir), 1);
  uint64_t again;
  ck_assert_fmr_ok(fmr_compact(path, NULL, &again));
  ck_assert_uint_le(again, after);
  verify(path, uuid, 1);
  free(path);
  free(dir);
}
END_TEST

/* A file that is all payload, in blocks whose sizes are not at a bin
   boundary of the allocator: compaction must not make it larger (the
   good-fit search once missed the one free extent that fitted exactly
   and grew the new file by 4 MiB). */
START_TEST(test_compact_full_file_does_not_grow)
{
  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "full.fmr");
  fmr_heap *heap;
  ck_assert_fmr_ok(tu_open_sized(path, FMR_OPEN_CREATE, 64 * TU_KIB, 0,
                                 &heap));
  static const size_t sizes[] = {1000000, 700000, 123456, 999999, 333333};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    void *p;
    char name[16];
    snprintf(name, sizeof name, "r%zu", i);
    ck_assert_fmr_ok(fmr_malloc(heap, sizes[i], &p));
    tu_fill(p, sizes[i], i);
    ck_assert_fmr_ok(fmr_commit(heap, p, 1, sizes[i], name, NULL, 0, 0,
                                NULL));
  }
  ck_assert_fmr_ok(fmr_close(heap));
  uint64_t before, after, again;
  ck_assert_fmr_ok(fmr_compact(path, &before, &after));
  ck_assert_uint_le(after, before);
  ck_assert_fmr_ok(fmr_compact(path, NULL, &again));
  ck_assert_uint_le(again, after);
  ck_assert_fmr_ok(tu_open(path, 0, &heap));
  ck_assert_fmr_ok(fmr_check(heap, NULL, NULL));
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    fmr_record r;
    fmr_record_init(&r);
    char name[16];
    snprintf(name, sizeof name, "r%zu", i);
    ck_assert_fmr_ok(fmr_record_find(heap, name, &r));
    ck_assert(tu_verify(r.payload, sizes[i], i));
  }
  ck_assert_fmr_ok(fmr_close(heap));
  free(path);
  free(dir);
}
END_TEST

START_TEST(test_compact_empty_and_errors)
{
  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "e.fmr");
  fmr_heap *heap;
  ck_assert_fmr(fmr_compact(NULL, NULL, NULL), FMR_EINVAL);
  ck_assert_fmr(fmr_compact(path, NULL, NULL), FMR_ENOENT);
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_CREATE, &heap));
  /* Open here: refused, and the file is left as it is. */
  ck_assert_fmr(fmr_compact(path, NULL, NULL), FMR_EBUSY);
  ck_assert_fmr_ok(fmr_close(heap));
  uint64_t after;
  ck_assert_fmr_ok(fmr_compact(path, NULL, &after));
  ck_assert_fmr_ok(tu_open(path, 0, &heap));
  ck_assert_fmr_ok(fmr_check(heap, NULL, NULL));
  ck_assert_uint_eq(tu_stat(heap).records_committed, 0);
  ck_assert_fmr_ok(fmr_close(heap));
  /* Not a heap: untouched. */
  char *junk = tu_path(dir, "junk");
  ck_assert_int_eq(tu_write_file(junk, "not a heap at all", 17), 0);
  ck_assert_fmr(fmr_compact(junk, NULL, NULL), FMR_ENOTHEAP);
  ck_assert_int_eq(tu_file_size(junk), 17);
  free(junk);
  free(path);
  free(dir);
}
END_TEST

struct holder {
  const char *path;
  int ready, release;
};

static int hold_writer(void *arg)
{
  struct holder *h = arg;
  fmr_heap *heap;
  char c = 'r';
  CHILD_CHECK_RC(tu_open(h->path, 0, &heap), 0);
  CHILD_CHECK(tu_write_all(h->ready, &c, 1) == 0);
  CHILD_CHECK(tu_read_all(h->release, &c, 1) == 0);
  CHILD_CHECK_RC(fmr_close(heap), 0);
  return 0;
}

START_TEST(test_compact_locked)
{
  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "l.fmr");
  fmr_heap *heap;
  int up[2], down[2];
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_CREATE, &heap));
  ck_assert_fmr_ok(fmr_close(heap));
  ck_assert_int_eq(pipe(up), 0);
  ck_assert_int_eq(pipe(down), 0);
  struct holder h = {path, up[1], down[0]};
  pid_t pid = tu_fork(hold_writer, &h);
  char c;
  ck_assert_int_eq(tu_read_all(up[0], &c, 1), 0);
  ck_assert_fmr(fmr_compact(path, NULL, NULL), FMR_ELOCKED);
  ck_assert_int_eq(tu_write_all(down[1], &c, 1), 0);
  ck_assert_int_eq(tu_wait(pid), 0);
  ck_assert_fmr_ok(fmr_compact(path, NULL, NULL));
  close(up[0]);
  close(up[1]);
  close(down[0]);
  close(down[1]);
  free(path);
  free(dir);
}
END_TEST

static int compact_forever(void *arg)
{
  const char *path = arg;
  for (;;)
    if (fmr_compact(path, NULL, NULL) != FMR_OK)
      return 1;
}

/* kill -9 in the middle of compactions: the file at PATH is always a
   whole heap with every record. */
START_TEST(test_compact_killed)
{
  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "k.fmr");
  uint8_t uuid[FMR_UUID_SIZE];
  make_heap(path);
  read_uuid(path, uuid);
  uint64_t seed = (uint64_t)time(NULL);
  for (int round = 0; round < 15; round++) {
    pid_t pid = tu_fork(compact_forever, path);
    struct timespec ts = {0, (long)(tu_rand(&seed) % 20000000)};
    nanosleep(&ts, NULL);
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    ck_assert_int_eq(tu_wait(pid), 256 + SIGKILL);
    verify(path, uuid, 0); /* old file or new: both whole */
  }
  free(path);
  free(dir);
}
END_TEST

/* One thread compacts the file over and over while another opens it,
   commits a record and closes it: every commit whose open succeeded is
   in the file at the end (an open that shared the heap being compacted
   would write into the file that the rename replaces). */
struct race {
  const char *path;
  atomic_int done;
  int compactions, busy;
};

static void *compact_loop(void *arg)
{
  struct race *r = arg;
  while (!atomic_load(&r->done)) {
    /* a pause between compactions, so that the other thread's opens are
       not refused (FMR_EBUSY) nearly all the time on a loaded machine */
    struct timespec pause = {0, 200000};
    nanosleep(&pause, NULL);
    int rc = fmr_compact(r->path, NULL, NULL);
    if (rc == FMR_OK)
      r->compactions++;
    else if (rc == FMR_EBUSY)
      r->busy++;
    else {
      fprintf(stderr, "fmr_compact: %s (%s)\n", fmr_strerror(rc),
              fmr_errmsg());
      return (void *)1;
    }
  }
  return NULL;
}

START_TEST(test_compact_races_an_open)
{
  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "race.fmr");
  fmr_heap *heap;
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_CREATE, &heap));
  ck_assert_fmr_ok(fmr_close(heap));
  struct race r = {path, 0, 0, 0};
  pthread_t t;
  ck_assert_int_eq(pthread_create(&t, NULL, compact_loop, &r), 0);
  enum { COMMITS = 200 };
  int committed = 0, refused = 0;
  uint64_t seed = (uint64_t)time(NULL);
  time_t give_up = time(NULL) + 60;
  while (committed < COMMITS && time(NULL) < give_up) {
    int rc = tu_open(path, 0, &heap);
    if (rc == FMR_EBUSY) {
      /* being compacted: try again shortly */
      struct timespec pause = {0, 100000};
      nanosleep(&pause, NULL);
      refused++;
      continue;
    }
    ck_assert_fmr_ok(rc);
    void *p;
    char name[32];
    snprintf(name, sizeof name, "c%d", committed);
    ck_assert_fmr_ok(fmr_malloc(heap, 200, &p));
    tu_fill(p, 200, (uint64_t)committed);
    ck_assert_fmr_ok(fmr_commit(heap, p, 1, 200, name, NULL, 0, 0, NULL));
    ck_assert_fmr_ok(fmr_close(heap));
    committed++;
    /* leave the file closed for a moment, so that compactions run
       between the opens as well as across them */
    struct timespec pause = {0, (long)(tu_rand(&seed) % 3000000)};
    nanosleep(&pause, NULL);
  }
  atomic_store(&r.done, 1);
  void *res;
  ck_assert_int_eq(pthread_join(t, &res), 0);
  ck_assert_ptr_null(res);
  ck_assert_int_eq(committed, COMMITS);
  ck_assert_fmr_ok(tu_open(path, 0, &heap));
  for (int i = 0; i < COMMITS; i++) {
    char name[32];
    fmr_record rec;
    fmr_record_init(&rec);
    snprintf(name, sizeof name, "c%d", i);
    ck_assert_msg(fmr_record_find(heap, name, &rec) == FMR_OK,
                  "commit %d lost (%d compactions, %d opens refused)", i,
                  r.compactions, refused);
    ck_assert(tu_verify(rec.payload, 200, (uint64_t)i));
  }
  ck_assert_fmr_ok(fmr_check(heap, NULL, NULL));
  ck_assert_fmr_ok(fmr_close(heap));
  ck_assert_int_ge(r.compactions, 20); /* the two threads did overlap */
  free(path);
  free(dir);
}
END_TEST

static Suite *compact_suite(void)
{
  Suite *s = suite_create("compact");
  TCase *tc = tcase_create("core");
  tu_timeout(tc, 120);
  tcase_add_test(tc, test_compact_shrinks_and_keeps);
  tcase_add_test(tc, test_compact_full_file_does_not_grow);
  tcase_add_test(tc, test_compact_empty_and_errors);
  tcase_add_test(tc, test_compact_locked);
  tcase_add_test(tc, test_compact_killed);
  tcase_add_test(tc, test_compact_races_an_open);
  suite_add_tcase(s, tc);
  return s;
}

int main(void)
{
  return tu_main(compact_suite());
}
