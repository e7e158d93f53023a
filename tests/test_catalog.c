/* test_catalog.c: committing blocks as records and managing them: get,
   find, update, rename, tombstone, reclaim, free and iteration.

   Copyright (C) 2026 The libfmalloc-r authors.
   This file is part of libfmalloc-r, free software under the GNU Lesser
   General Public License, version 2.1 or (at your option) any later version.  */

#include <config.h>

#include "testutil.h"

#include <string.h>

static char *heap_dir;
static fmr_heap *heap;

static void open_heap(void)
{
  heap_dir = tu_tmpdir();
  char *path = tu_path(heap_dir, "cat.fmr");
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_CREATE, &heap));
  free(path);
}

static void close_heap(void)
{
  ck_assert_fmr_ok(fmr_close(heap));
  free(heap_dir);
  heap_dir = NULL;
}

/* Allocate SIZE bytes filled with pattern SEED and commit them. */
static uint64_t commit_block(size_t size, uint64_t seed, uint32_t type,
                             const char *name, void **payload_out)
{
  void *p;
  uint64_t id = 0;
  ck_assert_fmr_ok(fmr_malloc(heap, size, &p));
  tu_fill(p, size, seed);
  ck_assert_fmr_ok(
      fmr_commit(heap, p, type, size, name, &seed, sizeof seed, 0, &id));
  ck_assert_uint_gt(id, 0);
  if (payload_out)
    *payload_out = p;
  return id;
}

START_TEST(test_commit_get_find)
{
  open_heap();
  void *p;
  ck_assert_fmr_ok(fmr_malloc(heap, 1000, &p));
  tu_fill(p, 1000, 42);
  const char meta[] = "hello, meta";
  uint64_t id = 0;
  fmr_stats before = tu_stat(heap);
  ck_assert_fmr_ok(
      fmr_commit(heap, p, 7, 125, "alpha", meta, sizeof meta, 0, &id));
  ck_assert_uint_gt(id, 0);
  fmr_stats after = tu_stat(heap);
  ck_assert_uint_eq(after.records_committed, before.records_committed + 1);
  ck_assert_uint_ge(after.record_bytes, before.record_bytes + 1000);

  fmr_record rec;

  memset(&rec, 0xee, sizeof rec);
  rec.struct_size = sizeof rec;
  ck_assert_fmr_ok(fmr_record_get(heap, id, &rec));
  ck_assert_uint_eq(rec.id, id);
  ck_assert_uint_gt(rec.generation, 0);
  ck_assert_int_eq(rec.state, FMR_RECORD_COMMITTED);
  ck_assert_uint_eq(rec.type, 7);
  ck_assert_uint_eq(rec.length, 125);
  ck_assert_ptr_eq(rec.payload, p);
  ck_assert_uint_eq(rec.payload_offset, fmr_ptr_to_offset(heap, p));
  ck_assert_uint_ge(rec.payload_bytes, 1000);
  ck_assert_str_eq(rec.name, "alpha");
  ck_assert_uint_eq(rec.meta_len, sizeof meta);
  ck_assert_ptr_nonnull(rec.meta);
  ck_assert_mem_eq(rec.meta, meta, sizeof meta);
  ck_assert(tu_verify(rec.payload, 1000, 42));

  fmr_record byname;

  fmr_record_init(&byname);
  ck_assert_fmr_ok(fmr_record_find(heap, "alpha", &byname));
  ck_assert_uint_eq(byname.id, id);
  ck_assert_uint_eq(byname.generation, rec.generation);
  ck_assert_ptr_eq(byname.payload, p);
  ck_assert_uint_eq(byname.type, 7);
  ck_assert_mem_eq(byname.meta, meta, sizeof meta);

  ck_assert_fmr(fmr_record_find(heap, "Alpha", &byname), FMR_ENOTFOUND);
  ck_assert_fmr(fmr_record_find(heap, "alph", &byname), FMR_ENOTFOUND);
  ck_assert_fmr(fmr_record_find(heap, "alphaa", &byname), FMR_ENOTFOUND);
  ck_assert_fmr(fmr_record_get(heap, id + 1, &byname), FMR_ENOTFOUND);
  ck_assert_fmr(fmr_record_get(heap, id + 1000000, &byname), FMR_ENOTFOUND);
  ck_assert_fmr(fmr_record_get(heap, 0, &byname), FMR_ENOTFOUND);
  ck_assert_fmr(fmr_record_get(NULL, id, &byname), FMR_EINVAL);
  ck_assert_fmr(fmr_record_get(heap, id, NULL), FMR_EINVAL);
  ck_assert_fmr(fmr_record_find(heap, NULL, &byname), FMR_EINVAL);

  /* An unnamed record (NULL and "") is not found by "". */
  uint64_t id2, id3;
  ck_assert_fmr_ok(fmr_commit(heap, NULL, 1, 0, NULL, NULL, 0, 0, &id2));
  ck_assert_fmr_ok(fmr_commit(heap, NULL, 1, 0, "", NULL, 0, 0, &id3));
  ck_assert_fmr_ok(fmr_record_get(heap, id2, &rec));
  ck_assert_str_eq(rec.name, "");
  ck_assert_uint_eq(rec.meta_len, 0);
  ck_assert_fmr_ok(fmr_record_get(heap, id3, &rec));
  ck_assert_str_eq(rec.name, "");
  ck_assert_fmr_ok(fmr_check(heap, NULL, NULL));
  close_heap();
}
END_TEST

START_TEST(test_commit_null_payload)
{
  open_heap();
  uint64_t id;
  const char meta[] = "only metadata";
  ck_assert_fmr_ok(fmr_commit(heap, NULL, 99, 12345, "empty", meta,
                              sizeof meta, 0, &id));
  fmr_record rec;
  fmr_record_init(&rec);
  ck_assert_fmr_ok(fmr_record_find(heap, "empty", &rec));
  ck_assert_uint_eq(rec.id, id);
  ck_assert_ptr_null(rec.payload);
  ck_assert_uint_eq(rec.payload_offset, 0);
  ck_assert_uint_eq(rec.payload_bytes, 0);
  ck_assert_uint_eq(rec.type, 99);
  ck_assert_uint_eq(rec.length, 12345);
  ck_assert_mem_eq(rec.meta, meta, sizeof meta);
  ck_assert_fmr_ok(fmr_record_free(heap, id));
  ck_assert_fmr(fmr_record_get(heap, id, &rec), FMR_ENOTFOUND);
  close_heap();
}
END_TEST

START_TEST(test_commit_errors)
{
  open_heap();
  void *p, *q;
  uint64_t id, other;
  int local = 0;
  ck_assert_fmr_ok(fmr_malloc(heap, 100, &p));
  ck_assert_fmr_ok(fmr_commit(heap, p, 1, 100, "one", NULL, 0, 0, &id));

  /* Committing the same payload again. */
  ck_assert_fmr(fmr_commit(heap, p, 1, 100, "two", NULL, 0, 0, &other),
                FMR_ECOMMITTED);
  /* A payload that is not a block of this heap. */
  ck_assert_fmr(fmr_commit(heap, &local, 1, 4, "three", NULL, 0, 0, &other),
                FMR_ENOTOWNED);
  ck_assert_fmr_ok(fmr_malloc(heap, 100, &q));
  ck_assert_fmr(fmr_commit(heap, (char *)q + 64, 1, 4, "x", NULL, 0, 0,
                           &other),
                FMR_ENOTOWNED);
  /* A freed block. */
  ck_assert_fmr_ok(fmr_free(heap, q));
  ck_assert_fmr(fmr_commit(heap, q, 1, 100, "four", NULL, 0, 0, &other),
                FMR_ENOTOWNED);
  /* Metadata pointer missing. */
  ck_assert_fmr_ok(fmr_malloc(heap, 100, &q));
  ck_assert_fmr(fmr_commit(heap, q, 1, 100, "five", NULL, 10, 0, &other),
                FMR_EINVAL);
  ck_assert_fmr(fmr_commit(NULL, q, 1, 100, "five", NULL, 0, 0, &other),
                FMR_EINVAL);
  /* None of the failures created a record or took the block. */
  fmr_record rec;
  fmr_record_init(&rec);
  ck_assert_fmr(fmr_record_find(heap, "two", &rec), FMR_ENOTFOUND);
  ck_assert_fmr(fmr_record_find(heap, "three", &rec), FMR_ENOTFOUND);
  ck_assert_fmr(fmr_record_find(heap, "four", &rec), FMR_ENOTFOUND);
  ck_assert_fmr(fmr_record_find(heap, "five", &rec), FMR_ENOTFOUND);
  ck_assert_uint_eq(tu_stat(heap).records_committed, 1);
  ck_assert_fmr_ok(fmr_free(heap, q));

  /* A committed payload cannot be freed or reallocated as a block. */
  tu_fill(p, 100, 5);
  ck_assert_fmr(fmr_free(heap, p), FMR_ECOMMITTED);
  void *r = NULL;
  ck_assert_fmr(fmr_realloc(heap, p, 5000, &r), FMR_ECOMMITTED);
  ck_assert_ptr_null(r);
  ck_assert_fmr_ok(fmr_record_get(heap, id, &rec));
  ck_assert_ptr_eq(rec.payload, p);
  ck_assert(tu_verify(p, 100, 5));
  ck_assert_uint_ge(fmr_usable_size(heap, p), 100);
  ck_assert_fmr_ok(fmr_check(heap, NULL, NULL));
  close_heap();
}
END_TEST

START_TEST(test_ids_increase)
{
  open_heap();
  uint64_t prev = 0;
  uint64_t ids[40];
  for (int i = 0; i < 40; i++) {
    char name[32];
    snprintf(name, sizeof name, "rec%d", i);
    ids[i] = commit_block(64 + (size_t)i * 10, (uint64_t)i, 3, name, NULL);
    ck_assert_uint_gt(ids[i], prev);
    prev = ids[i];
    /* Freeing some must not make their ids come back. */
    if (i % 3 == 2)
      ck_assert_fmr_ok(fmr_record_free(heap, ids[i]));
  }
  for (int i = 0; i < 40; i++) {
    char name[32];
    fmr_record rec;
    fmr_record_init(&rec);
    snprintf(name, sizeof name, "rec%d", i);
    if (i % 3 == 2) {
      ck_assert_fmr(fmr_record_find(heap, name, &rec), FMR_ENOTFOUND);
      continue;
    }
    ck_assert_fmr_ok(fmr_record_find(heap, name, &rec));
    ck_assert_uint_eq(rec.id, ids[i]);
    ck_assert(tu_verify(rec.payload, 64 + (size_t)i * 10, (uint64_t)i));
  }
  close_heap();
}
END_TEST

START_TEST(test_names)
{
  open_heap();
  void *p, *q;
  uint64_t id, id2;
  ck_assert_fmr_ok(fmr_malloc(heap, 64, &p));
  ck_assert_fmr_ok(fmr_commit(heap, p, 1, 64, "dup", NULL, 0, 0, &id));
  ck_assert_fmr_ok(fmr_malloc(heap, 64, &q));
  ck_assert_fmr(fmr_commit(heap, q, 1, 64, "dup", NULL, 0, 0, &id2),
                FMR_EEXIST);
  /* The block stays the caller's. */
  ck_assert_fmr_ok(fmr_free(heap, q));

  char name[FMR_NAME_MAX + 2];
  memset(name, 'n', FMR_NAME_MAX + 1);
  name[FMR_NAME_MAX + 1] = '\0'; /* 256 bytes */
  ck_assert_fmr_ok(fmr_malloc(heap, 64, &q));
  ck_assert_fmr(fmr_commit(heap, q, 1, 64, name, NULL, 0, 0, &id2),
                FMR_ENAMETOOLONG);
  name[FMR_NAME_MAX] = '\0'; /* 255 bytes: the longest allowed */
  ck_assert_fmr_ok(fmr_commit(heap, q, 1, 64, name, NULL, 0, 0, &id2));
  fmr_record rec;
  fmr_record_init(&rec);
  ck_assert_fmr_ok(fmr_record_find(heap, name, &rec));
  ck_assert_uint_eq(rec.id, id2);
  ck_assert_uint_eq(strlen(rec.name), FMR_NAME_MAX);
  ck_assert_str_eq(rec.name, name);

  /* Names are bytes: UTF-8 and punctuation are fine, and case matters. */
  uint64_t id3, id4;
  ck_assert_fmr_ok(fmr_commit(heap, NULL, 1, 0, "caf\xc3\xa9/x y", NULL, 0,
                              0, &id3));
  ck_assert_fmr_ok(fmr_commit(heap, NULL, 1, 0, "DUP", NULL, 0, 0, &id4));
  ck_assert_fmr_ok(fmr_record_find(heap, "caf\xc3\xa9/x y", &rec));
  ck_assert_uint_eq(rec.id, id3);
  ck_assert_fmr_ok(fmr_record_find(heap, "DUP", &rec));
  ck_assert_uint_eq(rec.id, id4);
  ck_assert_fmr_ok(fmr_record_find(heap, "dup", &rec));
  ck_assert_uint_eq(rec.id, id);
  close_heap();
}
END_TEST

START_TEST(test_update)
{
  open_heap();
  void *p;
  uint64_t id = commit_block(3000, 11, 5, "upd", &p);
  fmr_record before, after;
  fmr_record_init(&before);
  fmr_record_init(&after);
  ck_assert_fmr_ok(fmr_record_get(heap, id, &before));

  const char meta[] = "new metadata, longer than the first";
  ck_assert_fmr_ok(fmr_record_update(heap, id, 9, 200, meta, sizeof meta));
  ck_assert_fmr_ok(fmr_record_get(heap, id, &after));
  ck_assert_uint_gt(after.generation, before.generation);
  ck_assert_uint_eq(after.id, id);
  ck_assert_int_eq(after.state, FMR_RECORD_COMMITTED);
  ck_assert_uint_eq(after.type, 9);
  ck_assert_uint_eq(after.length, 200);
  ck_assert_uint_eq(after.meta_len, sizeof meta);
  ck_assert_mem_eq(after.meta, meta, sizeof meta);
  ck_assert_str_eq(after.name, "upd");
  ck_assert_ptr_eq(after.payload, p);
  ck_assert_uint_eq(after.payload_offset, before.payload_offset);
  ck_assert_uint_eq(after.payload_bytes, before.payload_bytes);
  ck_assert(tu_verify(p, 3000, 11));
  ck_assert_fmr_ok(fmr_record_find(heap, "upd", &after));
  ck_assert_mem_eq(after.meta, meta, sizeof meta);

  /* Clearing the metadata. */
  uint64_t gen = after.generation;
  ck_assert_fmr_ok(fmr_record_update(heap, id, 10, 201, NULL, 0));
  ck_assert_fmr_ok(fmr_record_get(heap, id, &after));
  ck_assert_uint_gt(after.generation, gen);
  ck_assert_uint_eq(after.meta_len, 0);
  ck_assert_uint_eq(after.type, 10);
  ck_assert_uint_eq(after.length, 201);
  ck_assert(tu_verify(p, 3000, 11));

  /* Large metadata. */
  size_t big = 200000;
  unsigned char *bigmeta = malloc(big);
  tu_fill(bigmeta, big, 12);
  gen = after.generation;
  ck_assert_fmr_ok(fmr_record_update(heap, id, 10, 201, bigmeta, big));
  ck_assert_fmr_ok(fmr_record_get(heap, id, &after));
  ck_assert_uint_gt(after.generation, gen);
  ck_assert_uint_eq(after.meta_len, big);
  ck_assert(tu_verify(after.meta, big, 12));
  free(bigmeta);

  ck_assert_fmr(fmr_record_update(heap, id + 100, 1, 1, NULL, 0),
                FMR_ENOTFOUND);
  ck_assert_fmr(fmr_record_update(heap, id, 1, 1, NULL, 5), FMR_EINVAL);
  /* The failed calls changed nothing. */
  fmr_record last;
  fmr_record_init(&last);
  ck_assert_fmr_ok(fmr_record_get(heap, id, &last));
  ck_assert_uint_eq(last.generation, after.generation);
  ck_assert_uint_eq(last.type, 10);
  ck_assert_fmr_ok(fmr_check(heap, NULL, NULL));
  close_heap();
}
END_TEST

START_TEST(test_rename)
{
  open_heap();
  void *p;
  uint64_t id = commit_block(500, 21, 2, "old", &p);
  uint64_t other = commit_block(100, 22, 2, "taken", NULL);
  fmr_record rec;
  fmr_record_init(&rec);

  ck_assert_fmr_ok(fmr_record_rename(heap, id, "new"));
  ck_assert_fmr(fmr_record_find(heap, "old", &rec), FMR_ENOTFOUND);
  ck_assert_fmr_ok(fmr_record_find(heap, "new", &rec));
  ck_assert_uint_eq(rec.id, id);
  ck_assert_str_eq(rec.name, "new");
  ck_assert_ptr_eq(rec.payload, p);
  ck_assert(tu_verify(p, 500, 21));
  ck_assert_fmr_ok(fmr_record_get(heap, id, &rec));
  ck_assert_str_eq(rec.name, "new");
  /* Metadata survives a rename. */
  uint64_t seed = 21;
  ck_assert_uint_eq(rec.meta_len, sizeof seed);
  ck_assert_mem_eq(rec.meta, &seed, sizeof seed);

  /* The old name is free for another record. */
  uint64_t id3 = commit_block(64, 23, 2, "old", NULL);
  ck_assert_fmr_ok(fmr_record_find(heap, "old", &rec));
  ck_assert_uint_eq(rec.id, id3);

  /* Taking a name in use, or too long a name, fails and changes nothing. */
  ck_assert_fmr(fmr_record_rename(heap, id, "taken"), FMR_EEXIST);
  char name[FMR_NAME_MAX + 2];
  memset(name, 'z', sizeof name - 1);
  name[sizeof name - 1] = '\0';
  ck_assert_fmr(fmr_record_rename(heap, id, name), FMR_ENAMETOOLONG);
  ck_assert_fmr_ok(fmr_record_find(heap, "new", &rec));
  ck_assert_uint_eq(rec.id, id);
  ck_assert_fmr_ok(fmr_record_find(heap, "taken", &rec));
  ck_assert_uint_eq(rec.id, other);
  ck_assert_fmr(fmr_record_rename(heap, id + 1000, "zzz"), FMR_ENOTFOUND);
  ck_assert_fmr(fmr_record_find(heap, "zzz", &rec), FMR_ENOTFOUND);

  /* Renaming to its own name is fine. */
  ck_assert_fmr_ok(fmr_record_rename(heap, id, "new"));
  ck_assert_fmr_ok(fmr_record_find(heap, "new", &rec));
  ck_assert_uint_eq(rec.id, id);

  /* Removing the name. */
  ck_assert_fmr_ok(fmr_record_rename(heap, id, NULL));
  ck_assert_fmr(fmr_record_find(heap, "new", &rec), FMR_ENOTFOUND);
  ck_assert_fmr_ok(fmr_record_get(heap, id, &rec));
  ck_assert_str_eq(rec.name, "");
  ck_assert_fmr_ok(fmr_record_rename(heap, id, "again"));
  ck_assert_fmr_ok(fmr_record_rename(heap, id, ""));
  ck_assert_fmr(fmr_record_find(heap, "again", &rec), FMR_ENOTFOUND);
  ck_assert_fmr_ok(fmr_check(heap, NULL, NULL));
  close_heap();
}
END_TEST

struct seen {
  int count;
  uint64_t ids[64];
  int states[64];
  int stop_at;    /* return 42 when count reaches it; 0 never */
  int delete_next; /* free the record after the current one */
};

/* Records the callback deletes from: each call frees the record after its
   own in this list, then its own. */
static uint64_t delete_list[16];
static int delete_count;

static int collect(const fmr_record *rec, void *arg)
{
  struct seen *s = arg;
  if (s->count < 64) {
    s->ids[s->count] = rec->id;
    s->states[s->count] = rec->state;
  }
  s->count++;
  if (s->delete_next) {
    int k = 0;
    while (k < delete_count && delete_list[k] != rec->id)
      k++;
    if (k == delete_count)
      return -999; /* visited a record it should have skipped */
    if (k + 1 < delete_count && fmr_record_free(heap, delete_list[k + 1]) != 0)
      return -1000;
    if (fmr_record_free(heap, rec->id) != 0)
      return -1001;
  }
  if (s->stop_at && s->count == s->stop_at)
    return 42;
  return 0;
}

START_TEST(test_tombstone_reclaim)
{
  open_heap();
  void *p;
  uint64_t id = commit_block(777, 31, 4, "grave", &p);
  uint64_t keep = commit_block(64, 32, 4, "keep", NULL);
  fmr_stats before = tu_stat(heap);
  ck_assert_uint_eq(before.records_committed, 2);
  ck_assert_uint_eq(before.records_tombstone, 0);

  ck_assert_fmr_ok(fmr_record_tombstone(heap, id));
  fmr_record rec;
  fmr_record_init(&rec);
  ck_assert_fmr(fmr_record_find(heap, "grave", &rec), FMR_ENOTFOUND);
  ck_assert_fmr_ok(fmr_record_get(heap, id, &rec));
  ck_assert_int_eq(rec.state, FMR_RECORD_TOMBSTONE);
  ck_assert_ptr_eq(rec.payload, p);
  ck_assert(tu_verify(p, 777, 31));
  fmr_stats st = tu_stat(heap);
  ck_assert_uint_eq(st.records_committed, 1);
  ck_assert_uint_eq(st.records_tombstone, 1);
  ck_assert_uint_ge(st.tombstone_bytes, 777);

  /* Tombstones are still visited, with their state. */
  struct seen seen = {0};
  ck_assert_fmr_ok(fmr_record_foreach(heap, collect, &seen));
  ck_assert_int_eq(seen.count, 2);
  ck_assert_uint_eq(seen.ids[0], id);
  ck_assert_int_eq(seen.states[0], FMR_RECORD_TOMBSTONE);
  ck_assert_uint_eq(seen.ids[1], keep);
  ck_assert_int_eq(seen.states[1], FMR_RECORD_COMMITTED);

  /* The name is free again. */
  uint64_t id2 = commit_block(64, 33, 4, "grave", NULL);
  ck_assert_fmr_ok(fmr_record_find(heap, "grave", &rec));
  ck_assert_uint_eq(rec.id, id2);

  /* The payload of a tombstone is still not the caller's to free. */
  ck_assert_int_ne(fmr_free(heap, p), FMR_OK);
  ck_assert(tu_verify(p, 777, 31));

  /* Two more tombstones, then reclaim all three. */
  uint64_t t2 = commit_block(64, 34, 4, NULL, NULL);
  uint64_t t3 = commit_block(4096, 35, 4, NULL, NULL);
  ck_assert_fmr_ok(fmr_record_tombstone(heap, t2));
  ck_assert_fmr_ok(fmr_record_tombstone(heap, t3));
  ck_assert_uint_eq(tu_stat(heap).records_tombstone, 3);
  uint64_t count = 12345;
  ck_assert_fmr_ok(fmr_reclaim(heap, &count));
  ck_assert_uint_eq(count, 3);
  ck_assert_fmr(fmr_record_get(heap, id, &rec), FMR_ENOTFOUND);
  ck_assert_fmr(fmr_record_get(heap, t2, &rec), FMR_ENOTFOUND);
  ck_assert_fmr(fmr_record_get(heap, t3, &rec), FMR_ENOTFOUND);
  st = tu_stat(heap);
  ck_assert_uint_eq(st.records_tombstone, 0);
  ck_assert_uint_eq(st.tombstone_bytes, 0);
  ck_assert_uint_eq(st.records_committed, 2);
  ck_assert_fmr_ok(fmr_record_get(heap, keep, &rec));
  ck_assert(tu_verify(rec.payload, 64, 32));
  count = 12345;
  ck_assert_fmr_ok(fmr_reclaim(heap, &count));
  ck_assert_uint_eq(count, 0);
  ck_assert_fmr_ok(fmr_reclaim(heap, NULL));
  ck_assert_fmr(fmr_record_tombstone(heap, id), FMR_ENOTFOUND);
  ck_assert_fmr_ok(fmr_check(heap, NULL, NULL));
  close_heap();
}
END_TEST

START_TEST(test_record_free)
{
  open_heap();
  void *p;
  uint64_t id = commit_block(10000, 41, 4, "gone", &p);
  fmr_stats before = tu_stat(heap);
  ck_assert_fmr_ok(fmr_record_free(heap, id));
  fmr_record rec;
  fmr_record_init(&rec);
  ck_assert_fmr(fmr_record_get(heap, id, &rec), FMR_ENOTFOUND);
  ck_assert_fmr(fmr_record_find(heap, "gone", &rec), FMR_ENOTFOUND);
  ck_assert_fmr(fmr_record_free(heap, id), FMR_ENOTFOUND);
  ck_assert_fmr(fmr_record_update(heap, id, 1, 1, NULL, 0), FMR_ENOTFOUND);
  ck_assert_fmr(fmr_record_rename(heap, id, "x"), FMR_ENOTFOUND);
  ck_assert_fmr(fmr_record_tombstone(heap, id), FMR_ENOTFOUND);
  fmr_stats after = tu_stat(heap);
  ck_assert_uint_eq(after.records_committed, before.records_committed - 1);
  ck_assert_uint_lt(after.record_bytes, before.record_bytes);
  /* The payload's bytes are no longer in use (they may wait for the next
     sync before they are reused). */
  ck_assert_uint_le(after.used_bytes + 10000, before.used_bytes);
  ck_assert_uint_eq(after.used_bytes + after.free_bytes, after.heap_bytes);
  /* The payload is no longer a block. */
  ck_assert_uint_eq(fmr_usable_size(heap, p), 0);
  ck_assert_fmr(fmr_free(heap, p), FMR_ENOTOWNED);
  /* The name can be used again. */
  uint64_t id2 = commit_block(100, 42, 4, "gone", NULL);
  ck_assert_uint_gt(id2, id);
  /* Freeing a tombstone also works. */
  ck_assert_fmr_ok(fmr_record_tombstone(heap, id2));
  ck_assert_fmr_ok(fmr_record_free(heap, id2));
  ck_assert_fmr(fmr_record_get(heap, id2, &rec), FMR_ENOTFOUND);
  ck_assert_uint_eq(tu_stat(heap).records_tombstone, 0);
  ck_assert_fmr_ok(fmr_check(heap, NULL, NULL));
  close_heap();
}
END_TEST

START_TEST(test_foreach)
{
  open_heap();
  uint64_t ids[10];
  for (int i = 0; i < 10; i++)
    ids[i] = commit_block(64, (uint64_t)i, 1, NULL, NULL);
  /* Rename and update the first ones so that the catalog is not simply
     in insertion order internally. */
  ck_assert_fmr_ok(fmr_record_rename(heap, ids[0], "first"));
  ck_assert_fmr_ok(fmr_record_update(heap, ids[1], 2, 2, "m", 1));
  ck_assert_fmr_ok(fmr_record_free(heap, ids[4]));
  uint64_t late = commit_block(64, 99, 1, "late", NULL);

  struct seen seen = {0};
  ck_assert_fmr_ok(fmr_record_foreach(heap, collect, &seen));
  ck_assert_int_eq(seen.count, 10);
  for (int i = 1; i < seen.count; i++)
    ck_assert_uint_gt(seen.ids[i], seen.ids[i - 1]);
  for (int i = 0; i < seen.count; i++)
    ck_assert_uint_ne(seen.ids[i], ids[4]);
  ck_assert_uint_eq(seen.ids[9], late);

  /* Stopping: the non-zero value comes back and no more calls happen. */
  memset(&seen, 0, sizeof seen);
  seen.stop_at = 3;
  ck_assert_int_eq(fmr_record_foreach(heap, collect, &seen), 42);
  ck_assert_int_eq(seen.count, 3);

  /* Deleting while iterating: each call frees its own record and the
     next one, which must then be skipped. */
  memset(&seen, 0, sizeof seen);
  seen.delete_next = 1;
  fmr_record rec;
  fmr_record_init(&rec);
  ck_assert_fmr_ok(fmr_record_free(heap, late));
  for (int i = 0; i < 10; i++)
    if (i != 4)
      ck_assert_fmr_ok(fmr_record_free(heap, ids[i]));
  ck_assert_uint_eq(tu_stat(heap).records_committed, 0);
  delete_count = 8;
  for (int i = 0; i < 8; i++)
    delete_list[i] = commit_block(64, (uint64_t)i, 1, NULL, NULL);
  ck_assert_fmr_ok(fmr_record_foreach(heap, collect, &seen));
  ck_assert_int_eq(seen.count, 4);
  for (int i = 0; i < 4; i++)
    ck_assert_uint_eq(seen.ids[i], delete_list[2 * i]);
  for (int i = 0; i < 8; i++)
    ck_assert_fmr(fmr_record_get(heap, delete_list[i], &rec), FMR_ENOTFOUND);
  ck_assert_uint_eq(tu_stat(heap).records_committed, 0);

  /* An empty catalog calls nothing. */
  memset(&seen, 0, sizeof seen);
  ck_assert_fmr_ok(fmr_record_foreach(heap, collect, &seen));
  ck_assert_int_eq(seen.count, 0);
  ck_assert_fmr(fmr_record_foreach(heap, NULL, NULL), FMR_EINVAL);
  ck_assert_fmr_ok(fmr_check(heap, NULL, NULL));
  close_heap();
}
END_TEST

static int commit_during(const fmr_record *rec, void *arg)
{
  int *calls = arg;
  (*calls)++;
  /* Commit from inside the callback: must not deadlock. */
  uint64_t id;
  char name[32];
  snprintf(name, sizeof name, "inner%llu", (unsigned long long)rec->id);
  return fmr_commit(heap, NULL, 1, 0, name, NULL, 0, 0, &id) == 0 ? 0 : 1;
}

START_TEST(test_foreach_reentrant)
{
  open_heap();
  uint64_t ids[3];
  for (int i = 0; i < 3; i++)
    ids[i] = commit_block(64, (uint64_t)i, 1, NULL, NULL);
  int calls = 0;
  ck_assert_fmr_ok(fmr_record_foreach(heap, commit_during, &calls));
  /* Records committed during iteration may or may not be visited. */
  ck_assert_int_ge(calls, 3);
  fmr_record rec;
  fmr_record_init(&rec);
  for (int i = 0; i < 3; i++) {
    char name[32];
    snprintf(name, sizeof name, "inner%llu", (unsigned long long)ids[i]);
    ck_assert_fmr_ok(fmr_record_find(heap, name, &rec));
  }
  close_heap();
}
END_TEST

START_TEST(test_commit_sync_flag)
{
  open_heap();
  void *p;
  uint64_t id;
  ck_assert_fmr_ok(fmr_malloc(heap, 128, &p));
  tu_fill(p, 128, 51);
  ck_assert_fmr_ok(
      fmr_commit(heap, p, 1, 128, "synced", NULL, 0, FMR_COMMIT_SYNC, &id));
  ck_assert_fmr_ok(fmr_sync(heap));
  fmr_record rec;
  fmr_record_init(&rec);
  ck_assert_fmr_ok(fmr_record_find(heap, "synced", &rec));
  ck_assert_uint_eq(rec.id, id);
  ck_assert(tu_verify(rec.payload, 128, 51));
  close_heap();
}
END_TEST

/* fmr_record, fmr_stats and fmr_options as a caller built against an
   older release would have them: a prefix of today's structure (its
   first fields), followed here by guard bytes that the library must not
   touch (issue 10, item 15).  Before, these structures had no
   struct_size and the library wrote its whole sizeof into them. */
struct old_record {
  size_t struct_size;
  uint64_t id;
  uint64_t generation;
  int state;
  uint32_t type;
};
struct old_stats {
  size_t struct_size;
  uint32_t format_version;
  int mode;
  int readonly;
  int recovered;
};
struct old_options {
  size_t struct_size;
  int mode;
  unsigned flags;
};
#define GUARD_BYTES 1024
struct guarded {
  union {
    struct old_record record;
    struct old_stats stats;
    struct old_options options;
  } u;
  unsigned char guard[GUARD_BYTES];
};

static void guard_set(struct guarded *g)
{
  memset(g, 0x5a, sizeof *g);
}

static void guard_intact(const struct guarded *g, size_t used)
{
  const unsigned char *b = (const unsigned char *)g;
  for (size_t i = used; i < sizeof *g; i++)
    ck_assert_msg(b[i] == 0x5a, "byte %zu past a %zu-byte structure written",
                  i, used);
}

START_TEST(test_struct_size_prefix)
{
  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "abi.fmr");
  fmr_heap *heap;
  uint64_t id;
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_CREATE, &heap));
  ck_assert_fmr_ok(fmr_commit(heap, NULL, 77, 5, "abi", "m", 1, 0, &id));
  ck_assert_fmr_ok(fmr_record_update(heap, id, 78, 6, "mm", 2));

  struct guarded g;
  guard_set(&g);
  fmr_record_init_size((fmr_record *)&g.u.record, sizeof g.u.record);
  ck_assert_uint_eq(g.u.record.struct_size, sizeof g.u.record);
  guard_intact(&g, sizeof g.u.record);
  ck_assert_fmr_ok(fmr_record_get(heap, id, (fmr_record *)&g.u.record));
  ck_assert_uint_eq(g.u.record.struct_size, sizeof g.u.record);
  ck_assert_uint_eq(g.u.record.id, id);
  ck_assert_uint_eq(g.u.record.generation, 2);
  ck_assert_int_eq(g.u.record.state, FMR_RECORD_COMMITTED);
  ck_assert_uint_eq(g.u.record.type, 78);
  guard_intact(&g, sizeof g.u.record);
  guard_set(&g);
  g.u.record.struct_size = sizeof g.u.record;
  ck_assert_fmr_ok(fmr_record_find(heap, "abi", (fmr_record *)&g.u.record));
  ck_assert_uint_eq(g.u.record.id, id);
  guard_intact(&g, sizeof g.u.record);

  guard_set(&g);
  fmr_stats_init_size((fmr_stats *)&g.u.stats, sizeof g.u.stats);
  guard_intact(&g, sizeof g.u.stats);
  ck_assert_fmr_ok(fmr_stat(heap, (fmr_stats *)&g.u.stats));
  ck_assert_uint_eq(g.u.stats.struct_size, sizeof g.u.stats);
  ck_assert_uint_eq(g.u.stats.format_version, tu_stat(heap).format_version);
  ck_assert_int_eq(g.u.stats.mode, FMR_MODE_PERSISTENT);
  ck_assert_int_eq(g.u.stats.readonly, 0);
  guard_intact(&g, sizeof g.u.stats);

  /* Options: the defaults reach only the caller's fields (fmr_open needs
     all of today's, so it refuses the short structure). */
  guard_set(&g);
  fmr_options_init_size((fmr_options *)&g.u.options, sizeof g.u.options);
  ck_assert_uint_eq(g.u.options.struct_size, sizeof g.u.options);
  ck_assert_int_eq(g.u.options.mode, FMR_MODE_PERSISTENT);
  ck_assert_uint_eq(g.u.options.flags, 0);
  guard_intact(&g, sizeof g.u.options);
  fmr_heap *h2;
  ck_assert_fmr(fmr_open(path, (fmr_options *)&g.u.options, &h2), FMR_EINVAL);
  guard_intact(&g, sizeof g.u.options);

  /* Full-size structures are filled in full, name included. */
  fmr_record rec;
  fmr_record_init(&rec);
  ck_assert_uint_eq(rec.struct_size, sizeof rec);
  ck_assert_fmr_ok(fmr_record_get(heap, id, &rec));
  ck_assert_str_eq(rec.name, "abi");
  ck_assert_uint_eq(rec.meta_len, 2);
  ck_assert_uint_eq(rec.struct_size, sizeof rec);
  ck_assert_fmr_ok(fmr_close(heap));
  tu_rmtree(dir);
  free(path);
  free(dir);
}
END_TEST

START_TEST(test_struct_size_bad)
{
  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "abi.fmr");
  fmr_heap *heap;
  uint64_t id;
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_CREATE, &heap));
  ck_assert_fmr_ok(fmr_commit(heap, NULL, 1, 0, "x", NULL, 0, 0, &id));
  static const size_t bad[] = {
      0, 1, sizeof(size_t) - 1, sizeof(fmr_record) + 1, 1u << 20, (size_t)-1};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    fmr_record rec;
    memset(&rec, 0x5a, sizeof rec);
    rec.struct_size = bad[i];
    ck_assert_fmr(fmr_record_get(heap, id, &rec), FMR_EINVAL);
    ck_assert_fmr(fmr_record_find(heap, "x", &rec), FMR_EINVAL);
    ck_assert_uint_eq(rec.id, 0x5a5a5a5a5a5a5a5aull);
    ck_assert_uint_eq(rec.struct_size, bad[i]);
  }
  static const size_t bad_stats[] = {0, sizeof(fmr_stats) + 1, (size_t)-1};
  for (size_t i = 0; i < sizeof bad_stats / sizeof bad_stats[0]; i++) {
    fmr_stats st;
    memset(&st, 0x5a, sizeof st);
    st.struct_size = bad_stats[i];
    ck_assert_fmr(fmr_stat(heap, &st), FMR_EINVAL);
    ck_assert_uint_eq(st.file_size, 0x5a5a5a5a5a5a5a5aull);
  }
  fmr_options o;
  fmr_options_init(&o);
  o.struct_size = sizeof o + 8;
  fmr_heap *h2;
  ck_assert_fmr(fmr_open(path, &o, &h2), FMR_EINVAL);
  /* A larger structure is a caller built against a newer header: the
     message says so instead of blaming the initialization. */
  ck_assert_ptr_nonnull(strstr(fmr_errmsg(), "compiled against a newer"));
  o.struct_size = 0;
  ck_assert_fmr(fmr_open(path, &o, &h2), FMR_EINVAL);
  ck_assert_fmr_ok(fmr_close(heap));
  tu_rmtree(dir);
  free(path);
  free(dir);
}
END_TEST

START_TEST(test_scratch_refuses_catalog)
{
  char *dir = tu_tmpdir();
  fmr_options options;
  fmr_options_init(&options);
  options.mode = FMR_MODE_SCRATCH;
  ck_assert_fmr_ok(fmr_open(dir, &options, &heap));
  void *p;
  uint64_t id = 777;
  ck_assert_fmr_ok(fmr_malloc(heap, 64, &p));
  ck_assert_fmr(fmr_commit(heap, p, 1, 64, "x", NULL, 0, 0, &id),
                FMR_ESCRATCH);
  /* Still an ordinary block. */
  ck_assert_fmr_ok(fmr_free(heap, p));
  close_heap();
  free(dir);
}
END_TEST

static Suite *catalog_suite(void)
{
  Suite *s = suite_create("catalog");
  TCase *tc = tcase_create("core");
  tu_timeout(tc, 30);
  tcase_add_test(tc, test_commit_get_find);
  tcase_add_test(tc, test_commit_null_payload);
  tcase_add_test(tc, test_commit_errors);
  tcase_add_test(tc, test_ids_increase);
  tcase_add_test(tc, test_names);
  tcase_add_test(tc, test_update);
  tcase_add_test(tc, test_rename);
  tcase_add_test(tc, test_tombstone_reclaim);
  tcase_add_test(tc, test_record_free);
  tcase_add_test(tc, test_foreach);
  tcase_add_test(tc, test_foreach_reentrant);
  tcase_add_test(tc, test_commit_sync_flag);
  tcase_add_test(tc, test_scratch_refuses_catalog);
  tcase_add_test(tc, test_struct_size_prefix);
  tcase_add_test(tc, test_struct_size_bad);
  suite_add_tcase(s, tc);
  return s;
}

int main(void)
{
  return tu_main(catalog_suite());
}
