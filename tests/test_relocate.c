/* test_relocate.c: a heap file copied or moved elsewhere opens and works
   at whatever address it lands, and a copy is independent of the
   original even while both are open in one process.

   Copyright (C) 2026 The libfmalloc-r authors.
   This file is part of libfmalloc-r, free software under the GNU Lesser
   General Public License, version 2.1 or (at your option) any later version.  */

#include <config.h>

#include "testutil.h"

#include <stdio.h>
#include <string.h>

/* A linked list stored in the heap with file offsets as links. */
struct node {
  uint64_t next; /* file offset of the next node, 0 at the end */
  uint64_t value;
  char text[48];
};

enum { NODES = 200 };

static void build(const char *path, uint8_t uuid[FMR_UUID_SIZE])
{
  fmr_heap *heap;
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_CREATE, &heap));
  uint64_t head = 0;
  for (int i = NODES - 1; i >= 0; i--) {
    struct node *n;
    ck_assert_fmr_ok(fmr_malloc(heap, sizeof *n, (void **)&n));
    n->next = head;
    n->value = (uint64_t)i * 1000003;
    snprintf(n->text, sizeof n->text, "node %d", i);
    head = fmr_ptr_to_offset(heap, n);
    ck_assert_uint_ne(head, 0);
    /* Every node is part of the data: commit it (unnamed). */
    uint64_t node_id;
    ck_assert_fmr_ok(fmr_commit(heap, n, 2, 1, NULL, NULL, 0, 0, &node_id));
  }
  uint64_t id;
  ck_assert_fmr_ok(fmr_commit(heap, NULL, 1, NODES, "list", &head,
                              sizeof head, 0, &id));
  void *p;
  ck_assert_fmr_ok(fmr_malloc(heap, 500000, &p));
  tu_fill(p, 500000, 123);
  ck_assert_fmr_ok(
      fmr_commit(heap, p, 3, 500000, "blob", "blobmeta", 8, 0, &id));
  ck_assert_fmr_ok(fmr_uuid(heap, uuid));
  ck_assert_fmr_ok(fmr_close(heap));
}

static void verify(fmr_heap *heap)
{
  fmr_record rec;
  fmr_record_init(&rec);
  ck_assert_fmr_ok(fmr_record_find(heap, "list", &rec));
  ck_assert_uint_eq(rec.length, NODES);
  ck_assert_uint_eq(rec.meta_len, sizeof(uint64_t));
  uint64_t off;
  memcpy(&off, rec.meta, sizeof off);
  int count = 0;
  while (off != 0) {
    struct node *n = fmr_offset_to_ptr(heap, off);
    ck_assert_ptr_nonnull(n);
    ck_assert_uint_eq(n->value, (uint64_t)count * 1000003);
    char want[48];
    snprintf(want, sizeof want, "node %d", count);
    ck_assert_str_eq(n->text, want);
    off = n->next;
    count++;
    ck_assert_int_le(count, NODES);
  }
  ck_assert_int_eq(count, NODES);
  ck_assert_fmr_ok(fmr_record_find(heap, "blob", &rec));
  ck_assert_uint_eq(rec.type, 3);
  ck_assert_uint_eq(rec.meta_len, 8);
  ck_assert_mem_eq(rec.meta, "blobmeta", 8);
  ck_assert(tu_verify(rec.payload, 500000, 123));
  ck_assert_uint_eq(tu_stat(heap).records_committed, NODES + 2);
  ck_assert_fmr_ok(fmr_check(heap, NULL, NULL));
}

START_TEST(test_copy)
{
  char *dir = tu_tmpdir();
  char *orig = tu_path(dir, "orig.fmr");
  char *copy = tu_path(dir, "copy.fmr");
  uint8_t uuid[FMR_UUID_SIZE], uuid2[FMR_UUID_SIZE];
  build(orig, uuid);
  ck_assert_int_eq(tu_copy_file(orig, copy), 0);

  fmr_heap *heap;
  ck_assert_fmr_ok(tu_open(copy, 0, &heap));
  verify(heap);
  ck_assert_fmr_ok(fmr_uuid(heap, uuid2));
  ck_assert_mem_eq(uuid, uuid2, FMR_UUID_SIZE);
  ck_assert_int_eq(tu_stat(heap).recovered, 0);
  /* The copy is writable like the original. */
  void *p;
  uint64_t id;
  ck_assert_fmr_ok(fmr_malloc(heap, 1000, &p));
  ck_assert_fmr_ok(fmr_commit(heap, p, 1, 1000, "copy-only", NULL, 0, 0, &id));
  ck_assert_fmr_ok(fmr_close(heap));
  ck_assert_fmr_ok(tu_open(copy, 0, &heap));
  fmr_record rec;
  fmr_record_init(&rec);
  ck_assert_fmr_ok(fmr_record_find(heap, "copy-only", &rec));
  ck_assert_fmr_ok(fmr_close(heap));
  ck_assert_fmr_ok(tu_open(orig, 0, &heap));
  ck_assert_fmr(fmr_record_find(heap, "copy-only", &rec), FMR_ENOTFOUND);
  verify(heap);
  ck_assert_fmr_ok(fmr_close(heap));
  free(orig);
  free(copy);
  free(dir);
}
END_TEST

START_TEST(test_move)
{
  char *dir = tu_tmpdir();
  char *dir2 = tu_tmpdir();
  char *orig = tu_path(dir, "orig.fmr");
  char *moved = tu_path(dir2, "moved.fmr");
  uint8_t uuid[FMR_UUID_SIZE];
  build(orig, uuid);
  ck_assert_int_eq(rename(orig, moved), 0);
  fmr_heap *heap;
  ck_assert_fmr(tu_open(orig, 0, &heap), FMR_ENOENT);
  ck_assert_fmr_ok(tu_open(moved, 0, &heap));
  verify(heap);
  ck_assert_fmr_ok(fmr_close(heap));
  free(orig);
  free(moved);
  free(dir);
  free(dir2);
}
END_TEST

START_TEST(test_both_open)
{
  char *dir = tu_tmpdir();
  char *orig = tu_path(dir, "orig.fmr");
  char *copy = tu_path(dir, "copy.fmr");
  uint8_t uuid[FMR_UUID_SIZE], u1[FMR_UUID_SIZE], u2[FMR_UUID_SIZE];
  build(orig, uuid);
  ck_assert_int_eq(tu_copy_file(orig, copy), 0);

  fmr_heap *h1, *h2;
  ck_assert_fmr_ok(tu_open(orig, 0, &h1));
  ck_assert_fmr_ok(tu_open(copy, 0, &h2));
  /* Two files, two heaps, though they share an identity. */
  ck_assert_ptr_ne(h1, h2);
  ck_assert_fmr_ok(fmr_uuid(h1, u1));
  ck_assert_fmr_ok(fmr_uuid(h2, u2));
  ck_assert_mem_eq(u1, u2, FMR_UUID_SIZE);
  ck_assert_uint_eq(tu_stat(h1).refcount, 1);
  ck_assert_uint_eq(tu_stat(h2).refcount, 1);
  verify(h1);
  verify(h2);

  fmr_record r1, r2;

  fmr_record_init(&r1);

  fmr_record_init(&r2);
  ck_assert_fmr_ok(fmr_record_find(h1, "blob", &r1));
  ck_assert_fmr_ok(fmr_record_find(h2, "blob", &r2));
  /* Same offsets, different addresses. */
  ck_assert_uint_eq(r1.payload_offset, r2.payload_offset);
  ck_assert_uint_eq(r1.id, r2.id);
  ck_assert_ptr_ne(r1.payload, r2.payload);
  /* Addresses of one heap are outside the other. */
  ck_assert_uint_eq(fmr_ptr_to_offset(h2, r1.payload), 0);
  ck_assert_uint_eq(fmr_ptr_to_offset(h1, r2.payload), 0);
  ck_assert_ptr_eq(fmr_offset_to_ptr(h1, r1.payload_offset), r1.payload);
  ck_assert_ptr_eq(fmr_offset_to_ptr(h2, r1.payload_offset), r2.payload);

  /* Writing into one does not change the other. */
  memset(r1.payload, 0x11, 1000);
  ck_assert(tu_verify(r2.payload, 500000, 123));
  memset((char *)r2.payload + 1000, 0x22, 1000);
  unsigned char *b1 = r1.payload;
  for (int i = 0; i < 1000; i++)
    ck_assert_uint_eq(b1[i], 0x11);
  unsigned char expect[1000];
  unsigned char *full = malloc(500000);
  tu_fill(full, 500000, 123);
  memcpy(expect, full + 1000, 1000);
  ck_assert_mem_eq(b1 + 1000, expect, 1000);
  free(full);

  /* Catalog changes are independent too. */
  uint64_t id1, id2;
  ck_assert_fmr_ok(fmr_commit(h1, NULL, 1, 0, "only1", NULL, 0, 0, &id1));
  ck_assert_fmr_ok(fmr_commit(h2, NULL, 1, 0, "only2", NULL, 0, 0, &id2));
  ck_assert_fmr_ok(fmr_record_find(h1, "only1", &r1));
  ck_assert_fmr(fmr_record_find(h1, "only2", &r1), FMR_ENOTFOUND);
  ck_assert_fmr_ok(fmr_record_find(h2, "only2", &r2));
  ck_assert_fmr(fmr_record_find(h2, "only1", &r2), FMR_ENOTFOUND);
  ck_assert_fmr_ok(fmr_record_find(h1, "blob", &r1));
  ck_assert_fmr_ok(fmr_record_free(h1, r1.id));
  ck_assert_fmr(fmr_record_find(h1, "blob", &r1), FMR_ENOTFOUND);
  ck_assert_fmr_ok(fmr_record_find(h2, "blob", &r2));

  ck_assert_fmr_ok(fmr_close(h1));
  /* h2 is unaffected by closing h1. */
  ck_assert_fmr_ok(fmr_record_find(h2, "blob", &r2));
  ck_assert_uint_eq(((unsigned char *)r2.payload)[1000], 0x22);
  ck_assert_fmr_ok(fmr_check(h2, NULL, NULL));
  ck_assert_fmr_ok(fmr_close(h2));

  /* And each file kept its own changes. */
  ck_assert_fmr_ok(tu_open(orig, 0, &h1));
  ck_assert_fmr(fmr_record_find(h1, "blob", &r1), FMR_ENOTFOUND);
  ck_assert_fmr_ok(fmr_record_find(h1, "only1", &r1));
  ck_assert_fmr_ok(fmr_close(h1));
  ck_assert_fmr_ok(tu_open(copy, 0, &h2));
  ck_assert_fmr_ok(fmr_record_find(h2, "blob", &r2));
  ck_assert_uint_eq(((unsigned char *)r2.payload)[1000], 0x22);
  ck_assert(tu_verify(r2.payload, 1000, 123));
  ck_assert_fmr_ok(fmr_close(h2));
  free(orig);
  free(copy);
  free(dir);
}
END_TEST

static Suite *relocate_suite(void)
{
  Suite *s = suite_create("relocate");
  TCase *tc = tcase_create("core");
  tu_timeout(tc, 30);
  tcase_add_test(tc, test_copy);
  tcase_add_test(tc, test_move);
  tcase_add_test(tc, test_both_open);
  suite_add_tcase(s, tc);
  return s;
}

int main(void)
{
  return tu_main(relocate_suite());
}
