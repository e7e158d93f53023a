/* test_bitflip.c: a bit flipped in any byte of the meta pages and the
   first catalog segment, and in random bytes elsewhere, and the file cut
   at every page boundary: each gives an error code or a heap that passes
   its checks, never a crash (CI runs this under ASan and UBSan too).

   Copyright (C) 2026 The libfmalloc-r authors.
   This file is part of libfmalloc-r, free software under the GNU Lesser
   General Public License, version 2.1 or (at your option) any later version.
 */

#include <config.h>

#include "testutil.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fmr-internal.h"

static unsigned char *good;
static size_t good_len;
static char *dir, *path;

static void free_good(void)
{
  free(good);
  free(path);
  free(dir);
  good = NULL;
  path = dir = NULL;
}

static void make_good(void)
{
  fmr_heap *heap;
  void *p;
  dir = tu_tmpdir();
  path = tu_path(dir, "flip.fmr");
  char *orig = tu_path(dir, "orig.fmr");
  ck_assert_fmr_ok(tu_open_sized(orig, FMR_OPEN_CREATE, 64 * 1024, 0, &heap));
  for (int i = 0; i < 20; i++) {
    char name[16];
    snprintf(name, sizeof name, "r%d", i);
    ck_assert_fmr_ok(fmr_malloc(heap, 100 + (size_t)i * 50, &p));
    tu_fill(p, 100 + (size_t)i * 50, (uint64_t)i);
    ck_assert_fmr_ok(fmr_commit(heap, p, 1, (uint64_t)i, name, name,
                                strlen(name), 0, NULL));
  }
  fmr_record r;
  fmr_record_init(&r);
  ck_assert_fmr_ok(fmr_record_find(heap, "r3", &r));
  ck_assert_fmr_ok(fmr_record_tombstone(heap, r.id));
  ck_assert_fmr_ok(fmr_close(heap));
  ck_assert_int_eq(tu_read_file(orig, &good, &good_len), 0);
  free(orig);
}

static int is_error_code(int rc)
{
  return rc < 0 && rc >= FMR_EDANGLING;
}

/* Open the damaged file read-only (and, when WRITER, read-write): an
   error code, or a heap whose walk and check do not crash.  Returns the
   read-only open's result. */
static int try_open(int writer, const char *what)
{
  fmr_heap *heap;
  fmr_options o;
  fmr_options_init(&o);
  o.flags = FMR_OPEN_READONLY;
  o.max_size = 64 * 1024 * 1024;
  int rc = fmr_open(path, &o, &heap);
  ck_assert_msg(rc == FMR_OK || is_error_code(rc), "%s: open gave %d", what,
                rc);
  if (rc == FMR_OK) {
    fmr_stats st;
    fmr_stats_init(&st);
    ck_assert_fmr_ok(fmr_stat(heap, &st));
    fmr_check(heap, NULL, NULL); /* may find the damage; must not crash */
    fmr_record rec;
    fmr_record_init(&rec);
    for (uint64_t id = 1; id <= 21; id++)
      if (fmr_record_get(heap, id, &rec) == FMR_OK && rec.payload != NULL)
        ck_assert_uint_gt(rec.payload_bytes, 0);
    ck_assert_fmr_ok(fmr_close(heap));
  }
  if (writer) {
    o.flags = FMR_OPEN_RECOVER;
    int wrc = fmr_open(path, &o, &heap);
    ck_assert_msg(wrc == FMR_OK || is_error_code(wrc),
                  "%s: writer open gave %d", what, wrc);
    if (wrc == FMR_OK) {
      /* What a recovering writer accepted, it keeps consistent. */
      ck_assert_msg(fmr_check(heap, NULL, NULL) == FMR_OK,
                    "%s: check after recovery: %s", what, fmr_errmsg());
      ck_assert_fmr_ok(fmr_close(heap));
    }
  }
  return rc;
}

START_TEST(test_flip_every_byte)
{
  make_good();
  /* The meta pages and the first catalog segment (with its slots). */
  size_t end = FMR_HEAP_START + sizeof(struct fmr_disk_segment) +
               FMR_SEGMENT_FIRST_SLOTS * sizeof(struct fmr_disk_record);
  ck_assert_uint_le(end, good_len);
  unsigned char *bad = malloc(good_len);
  ck_assert_ptr_nonnull(bad);
  int opened = 0, refused = 0;
  for (size_t at = 0; at < end; at++) {
    char what[64];
    memcpy(bad, good, good_len);
    bad[at] ^= (unsigned char)(1u << (at % 8));
    snprintf(what, sizeof what, "bit %zu of byte %zu", at % 8, at);
    ck_assert_int_eq(tu_write_file(path, bad, good_len), 0);
    int rc = try_open(at % 61 == 0, what);
    if (rc == FMR_OK)
      opened++;
    else
      refused++;
    /* Two meta pages: damage to one of them never loses the file. */
    if (at < FMR_HEAP_START)
      ck_assert_msg(rc == FMR_OK,
                    "%s: a flip in one meta page made the "
                    "file unopenable: %s",
                    what, fmr_errmsg());
  }
  fprintf(stderr, "bitflip: %zu bytes flipped, %d opened, %d refused\n", end,
          opened, refused);
  ck_assert_int_gt(refused, 0); /* segment header damage must be seen */
  free(bad);
  free_good();
}
END_TEST

START_TEST(test_flip_random_and_cut)
{
  make_good();
  unsigned char *bad = malloc(good_len);
  ck_assert_ptr_nonnull(bad);
  uint64_t seed = 77;
  for (int i = 0; i < 300; i++) {
    char what[64];
    memcpy(bad, good, good_len);
    for (int k = 0; k < 1 + i % 5; k++) {
      size_t at = (size_t)(tu_rand(&seed) % good_len);
      bad[at] ^= (unsigned char)(1u << (tu_rand(&seed) % 8));
    }
    snprintf(what, sizeof what, "random flips, round %d", i);
    ck_assert_int_eq(tu_write_file(path, bad, good_len), 0);
    try_open(i % 10 == 0, what);
  }
  /* Cut at every page boundary and at odd lengths. */
  for (size_t len = 0; len < good_len; len += len < 8192 ? 512 : 4096) {
    char what[64];
    snprintf(what, sizeof what, "cut to %zu bytes", len);
    ck_assert_int_eq(tu_write_file(path, good, len), 0);
    int rc = try_open(0, what);
    ck_assert_msg(rc != FMR_OK, "%s: a truncated heap opened", what);
  }
  free(bad);
  free_good();
}
END_TEST

static Suite *bitflip_suite(void)
{
  Suite *s = suite_create("bitflip");
  TCase *tc = tcase_create("core");
  tu_timeout(tc, 300);
  tcase_add_test(tc, test_flip_every_byte);
  tcase_add_test(tc, test_flip_random_and_cut);
  suite_add_tcase(s, tc);
  return s;
}

int main(void)
{
  return tu_main(bitflip_suite());
}
