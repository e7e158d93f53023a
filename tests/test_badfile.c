/* test_badfile.c: opening files that are not heaps, or damaged heaps,
   gives the documented error, never a crash, and never changes the file.

   Copyright (C) 2026 The libfmalloc-r authors.
   This file is part of libfmalloc-r, free software under the GNU Lesser
   General Public License, version 2.1 or (at your option) any later version.  */

#include <config.h>

#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "fmr-internal.h" /* on-disk layout of the meta pages */

static uint32_t meta_crc(const struct fmr_disk_meta *m)
{
  return tu_crc32c(m, offsetof(struct fmr_disk_meta, meta_checksum));
}

static void read_meta(const char *path, int page, struct fmr_disk_meta *m)
{
  ck_assert_int_eq(tu_pread(path, (uint64_t)page * FMR_META_PAGE_SIZE, m,
                            sizeof *m),
                   0);
}

static void write_meta(const char *path, int page,
                       const struct fmr_disk_meta *m)
{
  ck_assert_int_eq(tu_pwrite(path, (uint64_t)page * FMR_META_PAGE_SIZE, m,
                             sizeof *m),
                   0);
}

/* A valid heap with a few records, closed cleanly; both meta pages are
   valid afterwards. */
static char *make_heap(const char *dir, const char *name)
{
  char *path = tu_path(dir, name);
  fmr_heap *heap;
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_CREATE, &heap));
  for (int i = 0; i < 4; i++) {
    void *p;
    uint64_t id;
    char rname[16];
    snprintf(rname, sizeof rname, "rec%d", i);
    ck_assert_fmr_ok(fmr_malloc(heap, 3000, &p));
    tu_fill(p, 3000, (uint64_t)i);
    ck_assert_fmr_ok(
        fmr_commit(heap, p, 1, 3000, rname, "meta", 4, FMR_COMMIT_SYNC, &id));
  }
  ck_assert_fmr_ok(fmr_close(heap));
  /* Reopen and close once more so that both pages have been written. */
  ck_assert_fmr_ok(tu_open(path, 0, &heap));
  ck_assert_fmr_ok(fmr_sync(heap));
  ck_assert_fmr_ok(fmr_close(heap));
  for (int page = 0; page < FMR_META_PAGES; page++) {
    struct fmr_disk_meta m;
    read_meta(path, page, &m);
    ck_assert_mem_eq(m.meta_magic, "FMALLOCR", 8);
    ck_assert_uint_eq(m.meta_version, FMR_FORMAT_VERSION);
    ck_assert_uint_eq(m.meta_byte_order, 0x01020304u);
    ck_assert_uint_eq(m.meta_size, sizeof m);
    ck_assert_msg(m.meta_checksum == meta_crc(&m),
                  "meta page %d: stored checksum %08x, CRC-32C %08x", page,
                  m.meta_checksum, meta_crc(&m));
    ck_assert_uint_eq(m.meta_file_size, (uint64_t)tu_file_size(path));
  }
  return path;
}

/* Open PATH (flags FLAGS) expecting CODE, and check that the file's bytes
   and modification time did not change.  The time is first set a year
   back, so that a change is seen even within one tick of the file
   system's clock (a writer's posix_fallocate of a file that has all its
   blocks changes it, and a refused open must not: issue 10, item 3). */
static void expect_refused(const char *path, unsigned flags, int code)
{
  unsigned char *before, *after;
  size_t len_before, len_after;
  struct stat st_before, st_after;
  ck_assert_int_eq(tu_read_file(path, &before, &len_before), 0);
  struct timespec past[2] = {{time(NULL) - 365 * 86400, 0},
                             {time(NULL) - 365 * 86400, 0}};
  ck_assert_int_eq(utimensat(AT_FDCWD, path, past, 0), 0);
  /* Out of the page cache, as after a reboot: on ext4, SEEK_HOLE then
     calls the unwritten extents of posix_fallocate holes. */
  int fd = open(path, O_RDONLY);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
  close(fd);
  ck_assert_int_eq(stat(path, &st_before), 0);
  fmr_heap *heap = (fmr_heap *)0x1;
  ck_assert_fmr(tu_open(path, flags, &heap), code);
  ck_assert_int_eq(tu_read_file(path, &after, &len_after), 0);
  ck_assert_int_eq(stat(path, &st_after), 0);
  ck_assert_uint_eq(len_after, len_before);
  ck_assert_msg(memcmp(before, after, len_before) == 0,
                "a refused open changed %s", path);
  ck_assert_int_eq(st_after.st_mtim.tv_sec, st_before.st_mtim.tv_sec);
  ck_assert_int_eq(st_after.st_mtim.tv_nsec, st_before.st_mtim.tv_nsec);
  ck_assert_uint_gt(strlen(fmr_errmsg()), 0);
  free(before);
  free(after);
}

static void expect_refused_all(const char *path, int code)
{
  expect_refused(path, 0, code);
  expect_refused(path, FMR_OPEN_CREATE, code);
  expect_refused(path, FMR_OPEN_READONLY, code);
  expect_refused(path, FMR_OPEN_RECOVER, code);
}

START_TEST(test_empty_file)
{
  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "empty");
  ck_assert_int_eq(tu_write_file(path, "", 0), 0);
  expect_refused(path, 0, FMR_EEMPTY);
  expect_refused(path, FMR_OPEN_READONLY, FMR_EEMPTY);
  ck_assert_int_eq(tu_file_size(path), 0);
  /* With FMR_OPEN_CREATE an empty file becomes a heap. */
  fmr_heap *heap;
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_CREATE, &heap));
  ck_assert_fmr_ok(fmr_close(heap));
  ck_assert_int_gt(tu_file_size(path), 8192);
  ck_assert_fmr_ok(tu_open(path, 0, &heap));
  ck_assert_fmr_ok(fmr_close(heap));
  free(path);
  free(dir);
}
END_TEST

START_TEST(test_random_bytes)
{
  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "random");
  size_t len = 64 * 1024;
  unsigned char *buf = malloc(len);
  tu_fill(buf, len, 424242);
  ck_assert_int_eq(tu_write_file(path, buf, len), 0);
  expect_refused_all(path, FMR_ENOTHEAP);
  free(buf);

  /* Text, and a file shorter than the magic. */
  char *text = tu_path(dir, "text");
  const char *s = "This is a text file, not a heap.\n";
  ck_assert_int_eq(tu_write_file(text, s, strlen(s)), 0);
  expect_refused_all(text, FMR_ENOTHEAP);
  char *tiny = tu_path(dir, "tiny");
  ck_assert_int_eq(tu_write_file(tiny, "FMA", 3), 0);
  expect_refused_all(tiny, FMR_ENOTHEAP);
  /* All zeros. */
  char *zeros = tu_path(dir, "zeros");
  unsigned char *z = calloc(1, 1 << 20);
  ck_assert_int_eq(tu_write_file(zeros, z, 1 << 20), 0);
  free(z);
  expect_refused_all(zeros, FMR_ENOTHEAP);
  free(zeros);
  free(tiny);
  free(text);
  free(path);
  free(dir);
}
END_TEST

START_TEST(test_truncated)
{
  char *dir = tu_tmpdir();
  char *orig = make_heap(dir, "orig.fmr");
  int64_t size = tu_file_size(orig);
  ck_assert_int_eq(size, (int64_t)TU_MIB);
  const int64_t lengths[] = {100, 4096, 5000, 8192, 8193, 12288,
                             size / 2, size - 4096, size - 1};
  for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
    char name[32];
    snprintf(name, sizeof name, "trunc%zu", i);
    char *path = tu_path(dir, name);
    ck_assert_int_eq(tu_copy_file(orig, path), 0);
    ck_assert_int_eq(tu_truncate(path, (uint64_t)lengths[i]), 0);
    expect_refused_all(path, FMR_ETRUNCATED);
    free(path);
  }
  /* The original is fine. */
  fmr_heap *heap;
  ck_assert_fmr_ok(tu_open(orig, 0, &heap));
  ck_assert_fmr_ok(fmr_check(heap, NULL, NULL));
  ck_assert_fmr_ok(fmr_close(heap));
  free(orig);
  free(dir);
}
END_TEST

/* Apply EDIT to both meta pages of a copy of a valid heap, fixing the
   checksums if FIX, and expect CODE from every kind of open. */
static void both_pages(void (*edit)(struct fmr_disk_meta *), int fix,
                       int code)
{
  char *dir = tu_tmpdir();
  char *path = make_heap(dir, "h.fmr");
  for (int page = 0; page < FMR_META_PAGES; page++) {
    struct fmr_disk_meta m;
    read_meta(path, page, &m);
    edit(&m);
    if (fix)
      m.meta_checksum = meta_crc(&m);
    write_meta(path, page, &m);
  }
  expect_refused_all(path, code);
  free(path);
  free(dir);
}

static void edit_magic(struct fmr_disk_meta *m)
{
  m->meta_magic[0] = 'X';
}

static void edit_version(struct fmr_disk_meta *m)
{
  m->meta_version = FMR_FORMAT_VERSION + 1;
}

static void edit_version_zero(struct fmr_disk_meta *m)
{
  m->meta_version = 0;
}

static void edit_byte_order(struct fmr_disk_meta *m)
{
  m->meta_byte_order = 0x04030201u;
}

static void edit_checksum(struct fmr_disk_meta *m)
{
  m->meta_checksum ^= 0x00010000u;
}

static void edit_body(struct fmr_disk_meta *m)
{
  m->meta_next_id += 1000; /* a field the checksum covers */
}

static void edit_page_size(struct fmr_disk_meta *m)
{
  m->meta_page_size = 65536;
}

static void edit_incompat(struct fmr_disk_meta *m)
{
  m->meta_features_incompat |= UINT64_C(1) << 40;
}

START_TEST(test_wrong_magic)
{
  both_pages(edit_magic, 0, FMR_ENOTHEAP);
  both_pages(edit_magic, 1, FMR_ENOTHEAP);
}
END_TEST

START_TEST(test_version)
{
  both_pages(edit_version, 1, FMR_EVERSION);
  both_pages(edit_version, 0, FMR_EVERSION);
  both_pages(edit_version_zero, 1, FMR_EVERSION);
}
END_TEST

START_TEST(test_byte_order)
{
  both_pages(edit_byte_order, 1, FMR_EBYTEORDER);
  both_pages(edit_byte_order, 0, FMR_EBYTEORDER);
}
END_TEST

START_TEST(test_checksum)
{
  both_pages(edit_checksum, 0, FMR_ECHECKSUM);
  both_pages(edit_body, 0, FMR_ECHECKSUM);
}
END_TEST

START_TEST(test_page_size)
{
  both_pages(edit_page_size, 1, FMR_EPAGESIZE);
}
END_TEST

START_TEST(test_feature)
{
  both_pages(edit_incompat, 1, FMR_EFEATURE);
}
END_TEST

START_TEST(test_ro_compat_feature)
{
  char *dir = tu_tmpdir();
  char *path = make_heap(dir, "ro.fmr");
  for (int page = 0; page < FMR_META_PAGES; page++) {
    struct fmr_disk_meta m;
    read_meta(path, page, &m);
    m.meta_features_ro_compat |= UINT64_C(1) << 33;
    m.meta_checksum = meta_crc(&m);
    write_meta(path, page, &m);
  }
  /* Writers refuse unknown read-only-compatible features; readers don't. */
  expect_refused(path, 0, FMR_EFEATURE);
  fmr_heap *heap;
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_READONLY, &heap));
  fmr_record rec;
  fmr_record_init(&rec);
  ck_assert_fmr_ok(fmr_record_find(heap, "rec2", &rec));
  ck_assert(tu_verify(rec.payload, 3000, 2));
  ck_assert_fmr_ok(fmr_close(heap));
  free(path);
  free(dir);
}
END_TEST

static void one_page_broken(int page)
{
  char *dir = tu_tmpdir();
  char *path = make_heap(dir, "one.fmr");
  struct fmr_disk_meta m;
  read_meta(path, page, &m);
  memset(&m, 0x5c, sizeof m); /* garbage over the whole page head */
  write_meta(path, page, &m);

  fmr_heap *heap;
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_READONLY, &heap));
  ck_assert_fmr_ok(fmr_close(heap));
  ck_assert_fmr_ok(tu_open(path, 0, &heap));
  ck_assert_fmr_ok(fmr_check(heap, NULL, NULL));
  fmr_record rec;
  fmr_record_init(&rec);
  int found = 0;
  for (int i = 0; i < 4; i++) {
    char rname[16];
    snprintf(rname, sizeof rname, "rec%d", i);
    if (fmr_record_find(heap, rname, &rec) == 0) {
      found++;
      ck_assert(tu_verify(rec.payload, 3000, (uint64_t)i));
    }
  }
  /* The records were committed long before the last meta update. */
  ck_assert_int_eq(found, 4);
  /* It is usable, and afterwards the file opens cleanly. */
  void *p;
  uint64_t id;
  ck_assert_fmr_ok(fmr_malloc(heap, 100, &p));
  ck_assert_fmr_ok(fmr_commit(heap, p, 1, 100, "new", NULL, 0, 0, &id));
  ck_assert_fmr_ok(fmr_close(heap));
  ck_assert_fmr_ok(tu_open(path, 0, &heap));
  ck_assert_fmr_ok(fmr_record_find(heap, "new", &rec));
  ck_assert_fmr_ok(fmr_close(heap));
  free(path);
  free(dir);
}

START_TEST(test_one_meta_page_broken)
{
  one_page_broken(0);
  one_page_broken(1);
}
END_TEST

/* Offset of the slot of record NAME, found through the catalog head. */
static uint64_t slot_of(const char *path, uint64_t id)
{
  struct fmr_disk_meta m0, m1;
  read_meta(path, 0, &m0);
  read_meta(path, 1, &m1);
  const struct fmr_disk_meta *m = m0.meta_txn > m1.meta_txn ? &m0 : &m1;
  uint64_t seg = m->meta_catalog_head;
  while (seg != 0) {
    struct fmr_disk_segment s;
    ck_assert_int_eq(tu_pread(path, seg, &s, sizeof s), 0);
    ck_assert_mem_eq(s.seg_magic, FMR_SEGMENT_MAGIC, 8);
    for (uint64_t k = 0; k < s.seg_slots; k++) {
      uint64_t off = seg + sizeof s + k * sizeof(struct fmr_disk_record);
      struct fmr_disk_record r;
      ck_assert_int_eq(tu_pread(path, off, &r, sizeof r), 0);
      if (r.rec_state == FMR_SLOT_COMMITTED && r.rec_id == id)
        return off;
    }
    seg = s.seg_next;
  }
  ck_abort_msg("record %llu not in the catalog", (unsigned long long)id);
  return 0;
}

static void damaged_record(int in_aux)
{
  char *dir = tu_tmpdir();
  char *path = make_heap(dir, "rec.fmr");
  fmr_heap *heap;
  fmr_record rec;
  fmr_record_init(&rec);
  ck_assert_fmr_ok(tu_open(path, 0, &heap));
  ck_assert_fmr_ok(fmr_record_find(heap, "rec1", &rec));
  uint64_t id = rec.id;
  ck_assert_fmr_ok(fmr_close(heap));

  uint64_t slot = slot_of(path, id);
  struct fmr_disk_record r;
  ck_assert_int_eq(tu_pread(path, slot, &r, sizeof r), 0);
  ck_assert_uint_eq(
      r.rec_checksum,
      tu_crc32c(&r.rec_id, offsetof(struct fmr_disk_record, rec_checksum) -
                               offsetof(struct fmr_disk_record, rec_id)));
  if (in_aux) {
    /* Flip a byte of the stored name. */
    ck_assert_uint_ne(r.rec_aux_offset, 0);
    unsigned char c;
    ck_assert_int_eq(tu_pread(path, r.rec_aux_offset, &c, 1), 0);
    ck_assert_uint_eq(c, 'r');
    c = 'R';
    ck_assert_int_eq(tu_pwrite(path, r.rec_aux_offset, &c, 1), 0);
  } else {
    r.rec_length ^= 0x100;
    ck_assert_int_eq(tu_pwrite(path, slot, &r, sizeof r), 0);
  }
  expect_refused(path, 0, FMR_ECHECKSUM);

  /* FMR_OPEN_RECOVER drops the record and keeps the others. */
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_RECOVER, &heap));
  fmr_stats st = tu_stat(heap);
  ck_assert_uint_eq(st.records_damaged, 1);
  ck_assert_uint_eq(st.records_committed, 3);
  ck_assert_fmr(fmr_record_get(heap, id, &rec), FMR_ENOTFOUND);
  ck_assert_fmr(fmr_record_find(heap, "rec1", &rec), FMR_ENOTFOUND);
  for (int i = 0; i < 4; i++) {
    char rname[16];
    if (i == 1)
      continue;
    snprintf(rname, sizeof rname, "rec%d", i);
    ck_assert_fmr_ok(fmr_record_find(heap, rname, &rec));
    ck_assert(tu_verify(rec.payload, 3000, (uint64_t)i));
  }
  ck_assert_fmr_ok(fmr_check(heap, NULL, NULL));
  ck_assert_fmr_ok(fmr_close(heap));
  /* The damaged record was dropped for good. */
  ck_assert_fmr_ok(tu_open(path, 0, &heap));
  ck_assert_uint_eq(tu_stat(heap).records_committed, 3);
  ck_assert_fmr_ok(fmr_close(heap));
  free(path);
  free(dir);
}

START_TEST(test_damaged_record)
{
  damaged_record(0);
}
END_TEST

START_TEST(test_damaged_record_aux)
{
  damaged_record(1);
}
END_TEST

struct reports {
  int count;
  int empty;
};

static void count_report(const char *problem, void *arg)
{
  struct reports *r = arg;
  r->count++;
  if (problem == NULL || problem[0] == '\0')
    r->empty++;
}

/* fmr_check finds damage done to an open heap's file behind its back. */
START_TEST(test_check_detects)
{
  char *dir = tu_tmpdir();
  char *path = make_heap(dir, "chk.fmr");
  fmr_heap *heap;
  fmr_record rec;
  fmr_record_init(&rec);
  ck_assert_fmr_ok(tu_open(path, 0, &heap));
  struct reports r = {0, 0};
  ck_assert_fmr_ok(fmr_check(heap, count_report, &r));
  ck_assert_int_eq(r.count, 0);
  ck_assert_fmr_ok(fmr_record_find(heap, "rec2", &rec));
  uint64_t slot = slot_of(path, rec.id);
  struct fmr_disk_record d;
  ck_assert_int_eq(tu_pread(path, slot, &d, sizeof d), 0);
  d.rec_length ^= 0x40;
  /* A write through the file is visible in the shared mapping. */
  ck_assert_int_eq(tu_pwrite(path, slot, &d, sizeof d), 0);
  ck_assert_fmr(fmr_check(heap, count_report, &r), FMR_ECORRUPT);
  ck_assert_int_ge(r.count, 1);
  ck_assert_int_eq(r.empty, 0);
  /* Without a report function the answer is the same. */
  ck_assert_fmr(fmr_check(heap, NULL, NULL), FMR_ECORRUPT);
  /* Repair it and the check passes again. */
  d.rec_length ^= 0x40;
  ck_assert_int_eq(tu_pwrite(path, slot, &d, sizeof d), 0);
  r.count = 0;
  ck_assert_fmr_ok(fmr_check(heap, count_report, &r));
  ck_assert_int_eq(r.count, 0);
  ck_assert_fmr_ok(fmr_close(heap));
  free(path);
  free(dir);
}
END_TEST

START_TEST(test_missing)
{
  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "missing.fmr");
  fmr_heap *heap;
  ck_assert_fmr(tu_open(path, 0, &heap), FMR_ENOENT);
  ck_assert_fmr(tu_open(path, FMR_OPEN_READONLY, &heap), FMR_ENOENT);
  ck_assert_int_lt(tu_file_size(path), 0);
  char *deep = tu_path(dir, "no/such/dir/x.fmr");
  ck_assert_fmr(tu_open(deep, FMR_OPEN_CREATE, &heap), FMR_ENOENT);
  ck_assert_int_eq(tu_count_entries(dir), 0);
  free(deep);
  free(path);
  free(dir);
}
END_TEST

START_TEST(test_directory)
{
  char *dir = tu_tmpdir();
  char *sub = tu_path(dir, "sub");
  ck_assert_int_eq(mkdir(sub, 0755), 0);
  static const unsigned flags[] = {0, FMR_OPEN_CREATE, FMR_OPEN_READONLY};
  for (size_t i = 0; i < 3; i++) {
    fmr_heap *heap = NULL;
    int rc = tu_open(sub, flags[i], &heap);
    ck_assert_msg(rc < 0, "opening a directory returned %d", rc);
    ck_assert_int_ne(rc, FMR_ENOENT);
    struct stat st;
    ck_assert_int_eq(stat(sub, &st), 0);
    ck_assert(S_ISDIR(st.st_mode));
    ck_assert_int_eq(tu_count_entries(sub), 0);
  }
  free(sub);
  free(dir);
}
END_TEST

struct access_args {
  const char *file;
  const char *newfile;
};

static int access_child(void *arg)
{
  struct access_args *a = arg;
  if (geteuid() == 0) {
    /* Drop to nobody; failing to do so must fail the test. */
    CHILD_CHECK(setgroups(0, NULL) == 0);
    CHILD_CHECK(setgid(65534) == 0);
    CHILD_CHECK(setuid(65534) == 0);
    CHILD_CHECK(geteuid() == 65534);
    /* Root privileges really are gone. */
    CHILD_CHECK(setuid(0) != 0);
  }
  CHILD_CHECK(open(a->file, O_RDONLY) < 0 && errno == EACCES);
  fmr_heap *heap;
  CHILD_CHECK_RC(tu_open(a->file, 0, &heap), FMR_EACCES);
  CHILD_CHECK_RC(tu_open(a->file, FMR_OPEN_READONLY, &heap), FMR_EACCES);
  CHILD_CHECK_RC(tu_open(a->file, FMR_OPEN_CREATE, &heap), FMR_EACCES);
  CHILD_CHECK_RC(tu_open(a->newfile, FMR_OPEN_CREATE, &heap), FMR_EACCES);
  return 0;
}

START_TEST(test_access)
{
  char *dir = tu_tmpdir();
  char *path = make_heap(dir, "secret.fmr");
  char *sub = tu_path(dir, "closed");
  ck_assert_int_eq(mkdir(sub, 0755), 0);
  char *newfile = tu_path(sub, "new.fmr");
  ck_assert_int_eq(chmod(dir, 0755), 0);
  if (geteuid() == 0) {
    ck_assert_int_eq(chmod(path, 0600), 0);
  } else {
    ck_assert_int_eq(chmod(path, 0), 0);
    ck_assert_int_eq(chmod(sub, 0555), 0);
  }
  unsigned char *before, *after;
  size_t lb, la;
  ck_assert_int_eq(tu_read_file(path, &before, &lb), 0);
  struct access_args a = {path, newfile};
  int status = tu_wait(tu_fork(access_child, &a));
  ck_assert_msg(status == 0, "permission child exited with %d", status);
  chmod(path, 0600);
  chmod(sub, 0755);
  ck_assert_int_eq(tu_read_file(path, &after, &la), 0);
  ck_assert_uint_eq(la, lb);
  ck_assert_int_eq(memcmp(before, after, lb), 0);
  ck_assert_int_lt(tu_file_size(newfile), 0);
  free(before);
  free(after);
  free(newfile);
  free(sub);
  free(path);
  free(dir);
}
END_TEST

static Suite *badfile_suite(void)
{
  Suite *s = suite_create("badfile");
  TCase *tc = tcase_create("core");
  tu_timeout(tc, 60);
  tcase_add_test(tc, test_empty_file);
  tcase_add_test(tc, test_random_bytes);
  tcase_add_test(tc, test_truncated);
  tcase_add_test(tc, test_wrong_magic);
  tcase_add_test(tc, test_version);
  tcase_add_test(tc, test_byte_order);
  tcase_add_test(tc, test_checksum);
  tcase_add_test(tc, test_page_size);
  tcase_add_test(tc, test_feature);
  tcase_add_test(tc, test_ro_compat_feature);
  tcase_add_test(tc, test_one_meta_page_broken);
  tcase_add_test(tc, test_damaged_record);
  tcase_add_test(tc, test_damaged_record_aux);
  tcase_add_test(tc, test_check_detects);
  tcase_add_test(tc, test_missing);
  tcase_add_test(tc, test_directory);
  tcase_add_test(tc, test_access);
  suite_add_tcase(s, tc);
  return s;
}

int main(void)
{
  return tu_main(badfile_suite());
}
