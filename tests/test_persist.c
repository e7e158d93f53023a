/* test_persist.c: records outlive the process that committed them, after a
   clean close and after an exit without close; what was not committed is
   reclaimed; ids are never reused.

   Copyright (C) 2026 The libfmalloc-r authors.
   This file is part of libfmalloc-r, free software under the GNU Lesser
   General Public License, version 2.1 or (at your option) any later version.  */

#include <config.h>

#include "testutil.h"

#include <string.h>

/* What the writer child stores. */
struct item {
  const char *name;
  uint32_t type;
  size_t bytes;  /* payload bytes, 0 for none */
  uint64_t seed; /* payload pattern */
  const char *meta;
};

static const struct item items[] = {
    {"dbl", 14, 8000, 1, "attr:dbl"},
    {"int", 13, 20000, 2, "attr:int;dim=100,50"},
    {"raw", 24, 100 * 1024, 3, ""},
    {"big", 24, 3 * 1024 * 1024, 4, "big one, grows the file"},
    {"nopayload", 19, 0, 0, "meta only"},
    {"tiny", 10, 1, 5, "t"},
};
enum { NITEMS = sizeof items / sizeof items[0] };

struct writer {
  const char *path;
  int clean;     /* close before exit */
  int junk;      /* also leave uncommitted blocks */
  int fd;        /* pipe: used_bytes after the commits, and ids */
};

static int writer_child(void *arg)
{
  struct writer *w = arg;
  fmr_heap *heap;
  CHILD_CHECK_RC(tu_open(w->path, FMR_OPEN_CREATE, &heap), 0);
  uint64_t ids[NITEMS + 2];
  for (int i = 0; i < NITEMS; i++) {
    void *p = NULL;
    if (items[i].bytes) {
      CHILD_CHECK_RC(fmr_malloc(heap, items[i].bytes, &p), 0);
      tu_fill(p, items[i].bytes, items[i].seed);
    }
    CHILD_CHECK_RC(fmr_commit(heap, p, items[i].type, items[i].bytes * 3,
                              items[i].name, items[i].meta,
                              strlen(items[i].meta), 0, &ids[i]),
                   0);
  }
  /* A renamed record and a tombstone. */
  void *p;
  CHILD_CHECK_RC(fmr_malloc(heap, 300, &p), 0);
  tu_fill(p, 300, 6);
  CHILD_CHECK_RC(fmr_commit(heap, p, 1, 300, "before", "m1", 2, 0,
                            &ids[NITEMS]), 0);
  CHILD_CHECK_RC(fmr_record_rename(heap, ids[NITEMS], "after"), 0);
  CHILD_CHECK_RC(fmr_record_update(heap, ids[NITEMS], 2, 301, "m22", 3), 0);
  CHILD_CHECK_RC(fmr_malloc(heap, 400, &p), 0);
  tu_fill(p, 400, 7);
  CHILD_CHECK_RC(fmr_commit(heap, p, 1, 400, "dead", NULL, 0, 0,
                            &ids[NITEMS + 1]), 0);
  CHILD_CHECK_RC(fmr_record_tombstone(heap, ids[NITEMS + 1]), 0);

  fmr_stats st;

  fmr_stats_init(&st);
  CHILD_CHECK_RC(fmr_stat(heap, &st), 0);
  CHILD_CHECK(tu_write_all(w->fd, &st.used_bytes, sizeof st.used_bytes) == 0);
  CHILD_CHECK(tu_write_all(w->fd, ids, sizeof ids) == 0);

  if (w->junk) {
    for (int i = 0; i < 50; i++) {
      CHILD_CHECK_RC(fmr_malloc(heap, 10000 + (size_t)i * 1000, &p), 0);
      memset(p, 0x77, 10000);
    }
    /* Enough to grow the file. */
    CHILD_CHECK_RC(fmr_malloc(heap, 4 * 1024 * 1024, &p), 0);
    memset(p, 0x78, 4096);
  }
  if (w->clean)
    CHILD_CHECK_RC(fmr_close(heap), 0);
  return 0;
}

/* Run the writer, returning the used_bytes it saw after its commits. */
static uint64_t run_writer(const char *path, int clean, int junk,
                           uint64_t ids[NITEMS + 2])
{
  int fds[2];
  ck_assert_int_eq(pipe(fds), 0);
  struct writer w = {path, clean, junk, fds[1]};
  pid_t pid = tu_fork(writer_child, &w);
  close(fds[1]);
  uint64_t used = 0;
  ck_assert_int_eq(tu_read_all(fds[0], &used, sizeof used), 0);
  ck_assert_int_eq(tu_read_all(fds[0], ids, sizeof(uint64_t) * (NITEMS + 2)),
                   0);
  close(fds[0]);
  ck_assert_int_eq(tu_wait(pid), 0);
  return used;
}

static void verify_items(fmr_heap *heap, const uint64_t ids[NITEMS + 2])
{
  fmr_record rec;
  fmr_record_init(&rec);
  for (int i = 0; i < NITEMS; i++) {
    ck_assert_fmr_ok(fmr_record_find(heap, items[i].name, &rec));
    ck_assert_uint_eq(rec.id, ids[i]);
    ck_assert_int_eq(rec.state, FMR_RECORD_COMMITTED);
    ck_assert_uint_eq(rec.type, items[i].type);
    ck_assert_uint_eq(rec.length, items[i].bytes * 3);
    ck_assert_str_eq(rec.name, items[i].name);
    ck_assert_uint_eq(rec.meta_len, strlen(items[i].meta));
    if (rec.meta_len)
      ck_assert_mem_eq(rec.meta, items[i].meta, rec.meta_len);
    if (items[i].bytes) {
      ck_assert_ptr_nonnull(rec.payload);
      ck_assert_uint_ge(rec.payload_bytes, items[i].bytes);
      ck_assert_ptr_eq(fmr_offset_to_ptr(heap, rec.payload_offset),
                       rec.payload);
      ck_assert_msg(tu_verify(rec.payload, items[i].bytes, items[i].seed),
                    "payload of %s damaged", items[i].name);
    } else {
      ck_assert_ptr_null(rec.payload);
      ck_assert_uint_eq(rec.payload_offset, 0);
    }
  }
  ck_assert_fmr(fmr_record_find(heap, "before", &rec), FMR_ENOTFOUND);
  ck_assert_fmr_ok(fmr_record_find(heap, "after", &rec));
  ck_assert_uint_eq(rec.id, ids[NITEMS]);
  ck_assert_uint_eq(rec.type, 2);
  ck_assert_uint_eq(rec.length, 301);
  ck_assert_uint_eq(rec.meta_len, 3);
  ck_assert_mem_eq(rec.meta, "m22", 3);
  ck_assert(tu_verify(rec.payload, 300, 6));

  ck_assert_fmr(fmr_record_find(heap, "dead", &rec), FMR_ENOTFOUND);
  ck_assert_fmr_ok(fmr_record_get(heap, ids[NITEMS + 1], &rec));
  ck_assert_int_eq(rec.state, FMR_RECORD_TOMBSTONE);
  ck_assert(tu_verify(rec.payload, 400, 7));

  fmr_stats st = tu_stat(heap);
  ck_assert_uint_eq(st.records_committed, NITEMS + 1);
  ck_assert_uint_eq(st.records_tombstone, 1);
  ck_assert_uint_eq(st.records_damaged, 0);
  ck_assert_uint_eq(st.used_bytes + st.free_bytes, st.heap_bytes);
  ck_assert_fmr_ok(fmr_check(heap, NULL, NULL));
}

static void persist_case(int clean, int junk)
{
  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "p.fmr");
  uint64_t ids[NITEMS + 2];
  uint64_t used = run_writer(path, clean, junk, ids);

  fmr_heap *heap;
  ck_assert_fmr_ok(tu_open(path, 0, &heap));
  fmr_stats st = tu_stat(heap);
  ck_assert_int_eq(st.recovered, clean ? 0 : 1);
  ck_assert_uint_eq(st.file_size, (uint64_t)tu_file_size(path));
  verify_items(heap, ids);
  /* Uncommitted blocks are gone: exactly the committed state is in use. */
  ck_assert_uint_eq(st.used_bytes, used);
  ck_assert_fmr_ok(fmr_close(heap));

  /* After this clean close the next open is not a recovery. */
  ck_assert_fmr_ok(tu_open(path, 0, &heap));
  st = tu_stat(heap);
  ck_assert_int_eq(st.recovered, 0);
  ck_assert_uint_eq(st.used_bytes, used);
  verify_items(heap, ids);
  ck_assert_fmr_ok(fmr_close(heap));
  free(path);
  free(dir);
}

START_TEST(test_clean_close)
{
  persist_case(1, 0);
}
END_TEST

START_TEST(test_clean_close_junk)
{
  persist_case(1, 1);
}
END_TEST

START_TEST(test_exit_without_close)
{
  persist_case(0, 0);
}
END_TEST

START_TEST(test_exit_without_close_junk)
{
  persist_case(0, 1);
}
END_TEST

/* Open, allocate without committing, and close: used space must not grow. */
START_TEST(test_no_leak_cycles)
{
  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "leak.fmr");
  fmr_heap *heap;
  void *p;
  uint64_t id;
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_CREATE, &heap));
  ck_assert_fmr_ok(fmr_malloc(heap, 5000, &p));
  ck_assert_fmr_ok(fmr_commit(heap, p, 1, 5000, "keep", NULL, 0, 0, &id));
  ck_assert_fmr_ok(fmr_close(heap));

  uint64_t baseline = 0;
  for (int cycle = 0; cycle < 8; cycle++) {
    ck_assert_fmr_ok(tu_open(path, 0, &heap));
    fmr_stats st = tu_stat(heap);
    if (cycle == 0)
      baseline = st.used_bytes;
    ck_assert_msg(st.used_bytes == baseline,
                  "cycle %d: used %llu, first open %llu", cycle,
                  (unsigned long long)st.used_bytes,
                  (unsigned long long)baseline);
    ck_assert_uint_eq(st.records_committed, 1);
    for (int i = 0; i < 40; i++) {
      ck_assert_fmr_ok(fmr_malloc(heap, 1000 + (size_t)i * 300, &p));
      memset(p, i, 1000);
    }
    /* Some of them freed again, some left for close to reclaim. */
    ck_assert_fmr_ok(fmr_free(heap, p));
    ck_assert_uint_gt(tu_stat(heap).used_bytes, baseline);
    ck_assert_fmr_ok(fmr_close(heap));
  }
  free(path);
  free(dir);
}
END_TEST

struct junk_args {
  const char *path;
};

static int junk_child(void *arg)
{
  struct junk_args *a = arg;
  fmr_heap *heap;
  void *p;
  CHILD_CHECK_RC(tu_open(a->path, 0, &heap), 0);
  for (int i = 0; i < 40; i++) {
    CHILD_CHECK_RC(fmr_malloc(heap, 2000 + (size_t)i * 500, &p), 0);
    memset(p, i, 2000);
  }
  /* Exit without closing. */
  return 0;
}

START_TEST(test_no_leak_unclean_cycles)
{
  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "leak2.fmr");
  fmr_heap *heap;
  void *p;
  uint64_t id;
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_CREATE, &heap));
  ck_assert_fmr_ok(fmr_malloc(heap, 5000, &p));
  tu_fill(p, 5000, 9);
  ck_assert_fmr_ok(fmr_commit(heap, p, 1, 5000, "keep", NULL, 0, 0, &id));
  uint64_t baseline = tu_stat(heap).used_bytes;
  ck_assert_fmr_ok(fmr_close(heap));

  struct junk_args a = {path};
  for (int cycle = 0; cycle < 6; cycle++) {
    ck_assert_int_eq(tu_wait(tu_fork(junk_child, &a)), 0);
    ck_assert_fmr_ok(tu_open(path, 0, &heap));
    fmr_stats st = tu_stat(heap);
    ck_assert_int_eq(st.recovered, 1);
    ck_assert_msg(st.used_bytes == baseline,
                  "cycle %d: used %llu, baseline %llu", cycle,
                  (unsigned long long)st.used_bytes,
                  (unsigned long long)baseline);
    ck_assert_uint_eq(st.used_bytes + st.free_bytes, st.heap_bytes);
    fmr_record rec;
    fmr_record_init(&rec);
    ck_assert_fmr_ok(fmr_record_find(heap, "keep", &rec));
    ck_assert_uint_eq(rec.id, id);
    ck_assert(tu_verify(rec.payload, 5000, 9));
    ck_assert_fmr_ok(fmr_check(heap, NULL, NULL));
    ck_assert_fmr_ok(fmr_close(heap));
  }
  free(path);
  free(dir);
}
END_TEST

START_TEST(test_ids_not_reused)
{
  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "ids.fmr");
  fmr_heap *heap;
  uint64_t a, b, c, d;
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_CREATE, &heap));
  ck_assert_fmr_ok(fmr_commit(heap, NULL, 1, 0, "a", NULL, 0, 0, &a));
  ck_assert_fmr_ok(fmr_commit(heap, NULL, 1, 0, "b", NULL, 0, 0, &b));
  ck_assert_fmr_ok(fmr_commit(heap, NULL, 1, 0, "c", NULL, 0, 0, &c));
  ck_assert_uint_gt(c, b);
  ck_assert_uint_gt(b, a);
  ck_assert_fmr_ok(fmr_record_free(heap, c));
  ck_assert_fmr_ok(fmr_record_free(heap, b));
  ck_assert_fmr_ok(fmr_close(heap));

  ck_assert_fmr_ok(tu_open(path, 0, &heap));
  ck_assert_fmr_ok(fmr_commit(heap, NULL, 1, 0, "d", NULL, 0, 0, &d));
  ck_assert_uint_gt(d, c);
  fmr_record rec;
  fmr_record_init(&rec);
  ck_assert_fmr(fmr_record_get(heap, c, &rec), FMR_ENOTFOUND);
  ck_assert_fmr_ok(fmr_record_get(heap, a, &rec));
  ck_assert_str_eq(rec.name, "a");
  ck_assert_fmr_ok(fmr_close(heap));
  free(path);
  free(dir);
}
END_TEST

struct id_args {
  const char *path;
  int fd;
};

static int ids_child(void *arg)
{
  struct id_args *a = arg;
  fmr_heap *heap;
  uint64_t ids[3];
  CHILD_CHECK_RC(tu_open(a->path, 0, &heap), 0);
  for (int i = 0; i < 3; i++) {
    void *p;
    CHILD_CHECK_RC(fmr_malloc(heap, 100, &p), 0);
    CHILD_CHECK_RC(fmr_commit(heap, p, 1, 100, NULL, NULL, 0, 0, &ids[i]), 0);
  }
  /* Free the highest (and the middle one), then die without closing. */
  CHILD_CHECK_RC(fmr_record_free(heap, ids[2]), 0);
  CHILD_CHECK_RC(fmr_record_free(heap, ids[1]), 0);
  CHILD_CHECK(tu_write_all(a->fd, ids, sizeof ids) == 0);
  return 0;
}

START_TEST(test_ids_not_reused_after_crash)
{
  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "ids2.fmr");
  fmr_heap *heap;
  uint64_t first, next;
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_CREATE, &heap));
  ck_assert_fmr_ok(fmr_commit(heap, NULL, 1, 0, "first", NULL, 0, 0, &first));
  ck_assert_fmr_ok(fmr_close(heap));

  for (int round = 0; round < 3; round++) {
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    struct id_args a = {path, fds[1]};
    pid_t pid = tu_fork(ids_child, &a);
    close(fds[1]);
    uint64_t ids[3];
    ck_assert_int_eq(tu_read_all(fds[0], ids, sizeof ids), 0);
    close(fds[0]);
    ck_assert_int_eq(tu_wait(pid), 0);
    ck_assert_uint_gt(ids[0], first);

    ck_assert_fmr_ok(tu_open(path, 0, &heap));
    ck_assert_int_eq(tu_stat(heap).recovered, 1);
    fmr_record rec;
    fmr_record_init(&rec);
    ck_assert_fmr_ok(fmr_record_get(heap, ids[0], &rec));
    ck_assert_fmr(fmr_record_get(heap, ids[1], &rec), FMR_ENOTFOUND);
    ck_assert_fmr(fmr_record_get(heap, ids[2], &rec), FMR_ENOTFOUND);
    ck_assert_fmr_ok(fmr_commit(heap, NULL, 1, 0, NULL, NULL, 0, 0, &next));
    ck_assert_msg(next > ids[2], "id %llu reused (highest freed %llu)",
                  (unsigned long long)next, (unsigned long long)ids[2]);
    first = next;
    ck_assert_fmr_ok(fmr_close(heap));
  }
  free(path);
  free(dir);
}
END_TEST

/* The issue 10 (item 2) sequence: the rename of A takes the slot B was
   freed from (the only trace of B's id), and the meta page was last
   written at open.  Ids must still not come back after the crash. */
static int slot_reuse_child(void *arg)
{
  struct id_args *a = arg;
  fmr_heap *heap;
  uint64_t ids[2];
  CHILD_CHECK_RC(tu_open(a->path, 0, &heap), 0);
  CHILD_CHECK_RC(fmr_commit(heap, NULL, 1, 0, "A", NULL, 0, 0, &ids[0]), 0);
  CHILD_CHECK_RC(fmr_commit(heap, NULL, 1, 0, "B", NULL, 0, 0, &ids[1]), 0);
  CHILD_CHECK_RC(fmr_sync(heap), 0);
  CHILD_CHECK_RC(fmr_record_free(heap, ids[1]), 0);
  CHILD_CHECK_RC(fmr_record_rename(heap, ids[0], "A2"), 0);
  CHILD_CHECK_RC(fmr_sync(heap), 0);
  CHILD_CHECK(tu_write_all(a->fd, ids, sizeof ids) == 0);
  return 0; /* exits without closing */
}

START_TEST(test_ids_not_reused_after_slot_reuse)
{
  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "ids3.fmr");
  fmr_heap *heap;
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_CREATE, &heap));
  ck_assert_fmr_ok(fmr_close(heap));
  uint64_t highest = 0;
  for (int round = 0; round < 3; round++) {
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    struct id_args a = {path, fds[1]};
    pid_t pid = tu_fork(slot_reuse_child, &a);
    close(fds[1]);
    uint64_t ids[2];
    ck_assert_int_eq(tu_read_all(fds[0], ids, sizeof ids), 0);
    close(fds[0]);
    ck_assert_int_eq(tu_wait(pid), 0);
    ck_assert_uint_gt(ids[0], highest);
    ck_assert_uint_gt(ids[1], ids[0]);

    ck_assert_fmr_ok(tu_open(path, 0, &heap));
    fmr_record rec;
    fmr_record_init(&rec);
    ck_assert_fmr(fmr_record_get(heap, ids[1], &rec), FMR_ENOTFOUND);
    uint64_t next;
    ck_assert_fmr_ok(fmr_commit(heap, NULL, 1, 0, NULL, NULL, 0, 0, &next));
    ck_assert_msg(next > ids[1], "id %llu reused (freed %llu)",
                  (unsigned long long)next, (unsigned long long)ids[1]);
    highest = next;
    /* Free everything, so the next round starts from an empty catalog. */
    ck_assert_fmr_ok(fmr_record_free(heap, next));
    ck_assert_fmr_ok(fmr_record_find(heap, "A2", &rec));
    ck_assert_fmr_ok(fmr_record_free(heap, rec.id));
    ck_assert_fmr_ok(fmr_close(heap));
  }
  free(path);
  free(dir);
}
END_TEST

static Suite *persist_suite(void)
{
  Suite *s = suite_create("persist");
  TCase *tc = tcase_create("core");
  tu_timeout(tc, 60);
  tcase_add_test(tc, test_clean_close);
  tcase_add_test(tc, test_clean_close_junk);
  tcase_add_test(tc, test_exit_without_close);
  tcase_add_test(tc, test_exit_without_close_junk);
  tcase_add_test(tc, test_no_leak_cycles);
  tcase_add_test(tc, test_no_leak_unclean_cycles);
  tcase_add_test(tc, test_ids_not_reused);
  tcase_add_test(tc, test_ids_not_reused_after_crash);
  tcase_add_test(tc, test_ids_not_reused_after_slot_reuse);
  suite_add_tcase(s, tc);
  return s;
}

int main(void)
{
  return tu_main(persist_suite());
}
