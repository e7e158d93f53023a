/* test_files.c: a heap file deleted, replaced or moved under a live heap:
   fmr_file_state() says which, changes to a file with no name left fail
   with FMR_EGONE instead of vanishing at close, and fmr_open() of the
   path opens the file that is there now.

   Copyright (C) 2026 The libfmalloc-r authors.
   This file is part of libfmalloc-r, free software under the GNU Lesser
   General Public License, version 2.1 or (at your option) any later version.
 */

#include <config.h>

#include "testutil.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* A heap at PATH with one committed record NAME of 4000 bytes from SEED. */
static fmr_heap *heap_with_record(const char *path, const char *name,
                                  uint64_t seed, uint64_t *id_out)
{
  fmr_heap *heap;
  void *p;
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_CREATE, &heap));
  ck_assert_fmr_ok(fmr_malloc(heap, 4000, &p));
  tu_fill(p, 4000, seed);
  ck_assert_fmr_ok(fmr_commit(heap, p, 3, 4000, name, NULL, 0, 0, id_out));
  return heap;
}

static void assert_record(fmr_heap *heap, const char *name, uint64_t seed)
{
  fmr_record r;
  fmr_record_init(&r);
  ck_assert_fmr_ok(fmr_record_find(heap, name, &r));
  ck_assert_uint_eq(r.length, 4000);
  ck_assert(tu_verify(r.payload, 4000, seed));
}

/* Every change of the catalog, and fmr_sync, fail with FMR_EGONE on HEAP,
   whose record ID must stay as it was; reads and blocks still work. */
static void assert_refuses_changes(fmr_heap *heap, uint64_t id,
                                   const char *name, uint64_t seed,
                                   const char *why)
{
  void *p, *q;
  uint64_t nid = 0;
  ck_assert_fmr_ok(fmr_malloc(heap, 100, &p));
  ck_assert_fmr(fmr_commit(heap, p, 1, 100, "new", NULL, 0, 0, &nid),
                FMR_EGONE);
  ck_assert_msg(strstr(fmr_errmsg(), why) != NULL, "errmsg: %s", fmr_errmsg());
  ck_assert_uint_eq(nid, 0);
  ck_assert_fmr(
      fmr_commit(heap, NULL, 1, 0, NULL, NULL, 0, FMR_COMMIT_SYNC, &nid),
      FMR_EGONE);
  ck_assert_fmr(fmr_record_update(heap, id, 9, 1, "m", 1), FMR_EGONE);
  ck_assert_fmr(fmr_record_rename(heap, id, "other"), FMR_EGONE);
  ck_assert_fmr(fmr_record_set_payload(heap, id, p, 100), FMR_EGONE);
  ck_assert_fmr(fmr_record_tombstone(heap, id), FMR_EGONE);
  ck_assert_fmr(fmr_record_free(heap, id), FMR_EGONE);
  ck_assert_fmr(fmr_reclaim(heap, NULL), FMR_EGONE);
  ck_assert_fmr(fmr_sync(heap), FMR_EGONE);
  /* Nothing changed; the mapping and the allocator still work. */
  assert_record(heap, name, seed);
  ck_assert_fmr(
      fmr_record_find(heap, "new",
                      &(fmr_record){.struct_size = sizeof(fmr_record)}),
      FMR_ENOTFOUND);
  ck_assert_fmr_ok(fmr_malloc(heap, 5000, &q));
  memset(q, 7, 5000);
  ck_assert_fmr_ok(fmr_free(heap, q));
  ck_assert_fmr_ok(fmr_free(heap, p));
  ck_assert_fmr_ok(fmr_check(heap, NULL, NULL));
}

START_TEST(test_deleted)
{
  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "d.fmr");
  uint64_t id, id2;
  uint8_t u1[FMR_UUID_SIZE], u2[FMR_UUID_SIZE];
  fmr_heap *heap = heap_with_record(path, "a", 1, &id);
  ck_assert_int_eq(fmr_file_state(heap), FMR_FILE_CURRENT);
  ck_assert_int_eq(unlink(path), 0);
  ck_assert_int_eq(fmr_file_state(heap), FMR_FILE_DELETED);
  ck_assert_msg(strstr(fmr_errmsg(), "deleted") != NULL, "errmsg: %s",
                fmr_errmsg());
  assert_refuses_changes(heap, id, "a", 1, "deleted");

  /* Opening the path makes a new heap there, not the old one. */
  fmr_heap *now;
  ck_assert_fmr(tu_open(path, 0, &now), FMR_ENOENT);
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_CREATE, &now));
  ck_assert_ptr_ne(now, heap);
  ck_assert_int_eq(tu_stat(now).refcount, 1);
  ck_assert_int_eq(fmr_file_state(now), FMR_FILE_CURRENT);
  ck_assert_fmr_ok(fmr_uuid(heap, u1));
  ck_assert_fmr_ok(fmr_uuid(now, u2));
  ck_assert(memcmp(u1, u2, FMR_UUID_SIZE) != 0);
  ck_assert_fmr(
      fmr_record_find(now, "a",
                      &(fmr_record){.struct_size = sizeof(fmr_record)}),
      FMR_ENOTFOUND);
  ck_assert_fmr_ok(fmr_commit(now, NULL, 1, 0, "b", NULL, 0, 0, &id2));
  ck_assert_fmr_ok(fmr_sync(now));
  /* A second open of the path shares the new heap. */
  fmr_heap *again;
  ck_assert_fmr_ok(tu_open(path, 0, &again));
  ck_assert_ptr_eq(again, now);
  ck_assert_fmr_ok(fmr_close(again));
  ck_assert_fmr_ok(fmr_close(heap));
  ck_assert_fmr_ok(fmr_close(now));
  ck_assert_int_eq(tu_count_entries(dir), 1);

  ck_assert_fmr_ok(tu_open(path, 0, &now));
  ck_assert_fmr_ok(fmr_record_find(
      now, "b", &(fmr_record){.struct_size = sizeof(fmr_record)}));
  ck_assert_fmr(
      fmr_record_find(now, "a",
                      &(fmr_record){.struct_size = sizeof(fmr_record)}),
      FMR_ENOTFOUND);
  ck_assert_fmr_ok(fmr_close(now));
  free(path);
  free(dir);
}
END_TEST

/* Replaced by another heap renamed over it (REPLACE_BY_COPY: by a copy of
   itself, which keeps its uuid and records). */
static void replaced(int by_copy)
{
  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "r.fmr");
  char *other = tu_path(dir, "other.fmr");
  uint64_t id, oid;
  uint8_t u1[FMR_UUID_SIZE], u2[FMR_UUID_SIZE];
  fmr_heap *heap = heap_with_record(path, "a", 1, &id);
  if (by_copy) {
    ck_assert_fmr_ok(fmr_sync(heap));
    ck_assert_int_eq(tu_copy_file(path, other), 0);
  } else {
    fmr_heap *o = heap_with_record(other, "o", 2, &oid);
    ck_assert_fmr_ok(fmr_close(o));
  }
  ck_assert_int_eq(rename(other, path), 0);
  ck_assert_int_eq(fmr_file_state(heap), FMR_FILE_REPLACED);
  ck_assert_msg(strstr(fmr_errmsg(), "replaced") != NULL, "errmsg: %s",
                fmr_errmsg());
  assert_refuses_changes(heap, id, "a", 1, "replaced");

  /* The path opens the file there now (read-write: the old heap's writer
     lock is on the old file). */
  fmr_heap *now;
  ck_assert_fmr_ok(tu_open(path, 0, &now));
  ck_assert_ptr_ne(now, heap);
  ck_assert_int_eq(fmr_file_state(now), FMR_FILE_CURRENT);
  ck_assert_fmr_ok(fmr_uuid(heap, u1));
  ck_assert_fmr_ok(fmr_uuid(now, u2));
  ck_assert_int_eq(memcmp(u1, u2, FMR_UUID_SIZE) == 0, by_copy);
  if (by_copy)
    assert_record(now, "a", 1);
  else
    assert_record(now, "o", 2);
  ck_assert_fmr_ok(fmr_commit(now, NULL, 1, 0, "c", NULL, 0, 0, &oid));
  assert_record(heap, "a", 1); /* the old mapping is still valid */
  ck_assert_fmr_ok(fmr_close(heap));
  ck_assert_fmr_ok(fmr_close(now));
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_READONLY, &now));
  ck_assert_fmr_ok(fmr_record_find(
      now, "c", &(fmr_record){.struct_size = sizeof(fmr_record)}));
  ck_assert_fmr_ok(fmr_close(now));
  ck_assert_int_eq(tu_count_entries(dir), 1);
  free(other);
  free(path);
  free(dir);
}

START_TEST(test_replaced)
{
  replaced(0);
}
END_TEST

START_TEST(test_replaced_by_copy)
{
  replaced(1);
}
END_TEST

START_TEST(test_moved)
{
  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "m.fmr");
  char *moved = tu_path(dir, "moved.fmr");
  char *link2 = tu_path(dir, "link.fmr");
  uint64_t id, id2;
  fmr_heap *heap = heap_with_record(path, "a", 1, &id);
  ck_assert_int_eq(rename(path, moved), 0);
  ck_assert_int_eq(fmr_file_state(heap), FMR_FILE_MOVED);
  ck_assert_msg(strstr(fmr_errmsg(), "no longer exists") != NULL, "errmsg: %s",
                fmr_errmsg());
  /* The file still has a name: changes reach it. */
  ck_assert_fmr_ok(fmr_commit(heap, NULL, 1, 0, "b", NULL, 0, 0, &id2));
  ck_assert_fmr_ok(fmr_sync(heap));
  /* Its new name opens the same heap; the old name does not. */
  fmr_heap *same, *fresh;
  ck_assert_fmr_ok(tu_open(moved, 0, &same));
  ck_assert_ptr_eq(same, heap);
  ck_assert_fmr_ok(fmr_close(same));
  ck_assert_fmr(tu_open(path, 0, &fresh), FMR_ENOENT);
  /* Another file at the old path: still moved, and that file opens. */
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_CREATE, &fresh));
  ck_assert_ptr_ne(fresh, heap);
  ck_assert_int_eq(fmr_file_state(heap), FMR_FILE_MOVED);
  ck_assert_msg(strstr(fmr_errmsg(), "names another file") != NULL,
                "errmsg: %s", fmr_errmsg());
  ck_assert_fmr_ok(fmr_close(fresh));
  /* A hard link, then the moved name removed: the link keeps the file. */
  ck_assert_int_eq(link(moved, link2), 0);
  ck_assert_int_eq(unlink(moved), 0);
  ck_assert_int_eq(fmr_file_state(heap), FMR_FILE_MOVED);
  ck_assert_fmr_ok(fmr_record_rename(heap, id2, "c"));
  ck_assert_fmr_ok(fmr_close(heap));
  ck_assert_fmr_ok(tu_open(link2, 0, &heap));
  assert_record(heap, "a", 1);
  ck_assert_fmr_ok(fmr_record_find(
      heap, "c", &(fmr_record){.struct_size = sizeof(fmr_record)}));
  ck_assert_fmr_ok(fmr_close(heap));
  free(link2);
  free(moved);
  free(path);
  free(dir);
}
END_TEST

START_TEST(test_state_of_readers_and_scratch)
{
  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "s.fmr");
  uint64_t id;
  fmr_heap *heap = heap_with_record(path, "a", 1, &id);
  ck_assert_fmr_ok(fmr_close(heap));
  fmr_heap *reader;
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_READONLY, &reader));
  ck_assert_int_eq(fmr_file_state(reader), FMR_FILE_CURRENT);
  ck_assert_int_eq(unlink(path), 0);
  ck_assert_int_eq(fmr_file_state(reader), FMR_FILE_DELETED);
  ck_assert_fmr(fmr_sync(reader), FMR_OK); /* a reader writes nothing */
  assert_record(reader, "a", 1);
  /* A writer of a new file at the path is not refused by the reader. */
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_CREATE, &heap));
  ck_assert_ptr_ne(heap, reader);
  ck_assert_fmr_ok(fmr_close(heap));
  ck_assert_fmr_ok(fmr_close(reader));

  fmr_options o;
  fmr_options_init(&o);
  o.mode = FMR_MODE_SCRATCH;
  ck_assert_fmr_ok(fmr_open(dir, &o, &heap));
  ck_assert_int_eq(fmr_file_state(heap), FMR_ESCRATCH);
  ck_assert_fmr_ok(fmr_sync(heap));
  ck_assert_fmr_ok(fmr_close(heap));
  ck_assert_int_eq(fmr_file_state(NULL), FMR_EINVAL);
  free(path);
  free(dir);
}
END_TEST

/* A FIFO at the path is refused at once, not waited on (issue 10: a
   read-only open blocked forever in open(2)). */
START_TEST(test_fifo_refused)
{
  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "fifo.fmr");
  ck_assert_int_eq(mkfifo(path, 0600), 0);
  fmr_heap *heap = NULL;
  ck_assert_fmr(tu_open(path, FMR_OPEN_READONLY, &heap), FMR_EINVAL);
  ck_assert_ptr_null(heap);
  ck_assert_fmr(tu_open(path, 0, &heap), FMR_EINVAL);
  ck_assert_fmr(tu_open(path, FMR_OPEN_CREATE, &heap), FMR_EINVAL);
  ck_assert_ptr_null(heap);
  ck_assert_int_eq(unlink(path), 0);
  free(path);
  free(dir);
}
END_TEST

/* A symbolic link to nothing at the path (issue 10, item 17: an open
   with FMR_OPEN_CREATE failed with FMR_EIO "keeps appearing and
   disappearing"): FMR_EDANGLING with FMR_OPEN_CREATE, FMR_ENOENT without;
   nothing is created at the link's target or beside the link.  A link to
   a heap file opens that file. */
START_TEST(test_dangling_symlink)
{
  char *dir = tu_tmpdir();
  char *target = tu_path(dir, "target.fmr");
  char *link = tu_path(dir, "link.fmr");
  char *rel = tu_path(dir, "rel.fmr");
  char *deep = tu_path(dir, "deep.fmr");
  ck_assert_int_eq(symlink(target, link), 0);
  ck_assert_int_eq(symlink("target.fmr", rel), 0);
  ck_assert_int_eq(symlink("no/such/dir/x.fmr", deep), 0);
  const char *links[] = {link, rel, deep};
  fmr_heap *heap = NULL;
  for (int i = 0; i < 3; i++) {
    ck_assert_fmr(tu_open(links[i], FMR_OPEN_CREATE, &heap), FMR_EDANGLING);
    ck_assert_ptr_null(heap);
    ck_assert_msg(strstr(fmr_errmsg(), "symbolic link") != NULL &&
                      strstr(fmr_errmsg(), "does not exist") != NULL,
                  "errmsg: %s", fmr_errmsg());
    ck_assert_fmr(tu_open(links[i], 0, &heap), FMR_ENOENT);
    ck_assert_msg(strstr(fmr_errmsg(), "symbolic link") != NULL, "errmsg: %s",
                  fmr_errmsg());
    ck_assert_fmr(tu_open(links[i], FMR_OPEN_READONLY, &heap), FMR_ENOENT);
    ck_assert_fmr(
        tu_open(links[i], FMR_OPEN_READONLY | FMR_OPEN_CREATE, &heap),
        FMR_ENOENT);
    ck_assert_ptr_null(heap);
  }
  /* Nothing was made: the three links are all the directory holds. */
  ck_assert_int_eq(tu_count_entries(dir), 3);
  ck_assert_int_eq(access(target, F_OK), -1);

  /* Once the target exists, both links open it (one heap). */
  ck_assert_fmr_ok(tu_open(target, FMR_OPEN_CREATE, &heap));
  fmr_heap *via_link, *via_rel;
  ck_assert_fmr_ok(tu_open(link, FMR_OPEN_CREATE, &via_link));
  ck_assert_fmr_ok(tu_open(rel, 0, &via_rel));
  ck_assert_ptr_eq(via_link, heap);
  ck_assert_ptr_eq(via_rel, heap);
  ck_assert_fmr_ok(fmr_close(via_rel));
  ck_assert_fmr_ok(fmr_close(via_link));
  ck_assert_fmr_ok(fmr_close(heap));
  free(deep);
  free(rel);
  free(link);
  free(target);
  free(dir);
}
END_TEST

static Suite *files_suite(void)
{
  Suite *s = suite_create("files");
  TCase *fifo = tcase_create("fifo");
  tu_timeout(fifo, 5); /* the bug was a hang: fail fast */
  tcase_add_test(fifo, test_fifo_refused);
  suite_add_tcase(s, fifo);
  TCase *tc = tcase_create("core");
  tu_timeout(tc, 30);
  tcase_add_test(tc, test_deleted);
  tcase_add_test(tc, test_replaced);
  tcase_add_test(tc, test_replaced_by_copy);
  tcase_add_test(tc, test_moved);
  tcase_add_test(tc, test_state_of_readers_and_scratch);
  tcase_add_test(tc, test_dangling_symlink);
  suite_add_tcase(s, tc);
  return s;
}

int main(void)
{
  return tu_main(files_suite());
}
