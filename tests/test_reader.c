/* test_reader.c: a reader racing a writer in another process.  The reader
   opens, refreshes, looks up and checks while the writer commits, frees,
   renames, grows the file and links new catalog segments; it must never
   crash, never report damage the file does not have, and never take
   long.  Also: a miss is cheap when the writer published nothing, and a
   reader learns that fmr_compact replaced its file.

   Copyright (C) 2026 The libfmalloc-r authors.
   This file is part of libfmalloc-r, free software under the GNU Lesser
   General Public License, version 2.1 or (at your option) any later version.
 */

#include <config.h>

#include "testutil.h"

#include "fmr-internal.h" /* on-disk layout, to damage a slot */

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Shared with the writer child: the round it is in, and a stop flag. */
struct shared {
  _Atomic int round;
  _Atomic int stop;
  _Atomic int writer_failed;
};

struct writer_args {
  const char *dir;
  struct shared *shared;
  double seconds;
};

/* The race needs many fresh files: on a disk each one costs flushes
   (creation, growth, close), 12 files a second here, and the window
   (a reader between its meta read and its catalog walk while the writer
   grows the file for a new segment) is hit about once in 15 files.  So
   the files go to /dev/shm when there is one (a mkdtemp directory,
   removed at the end), 40 files a second. */
static char *shm_base; /* made before, removed after the test cases, in
                          the parent process: also when a test fails */

static void shm_setup(void)
{
  struct stat st;
  if (shm_base == NULL && stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) &&
      access("/dev/shm", W_OK) == 0) {
    shm_base = strdup("/dev/shm/fmr-test-reader.XXXXXX");
    if (shm_base != NULL && mkdtemp(shm_base) == NULL) {
      free(shm_base);
      shm_base = NULL;
    }
  }
}

static void shm_teardown(void)
{
  if (shm_base != NULL)
    tu_rmtree(shm_base);
  free(shm_base);
  shm_base = NULL;
}

static char *race_dir(void)
{
  if (shm_base != NULL) {
    char *dir = tu_path(shm_base, "t.XXXXXX");
    if (mkdtemp(dir) != NULL)
      return dir;
    free(dir);
  }
  return tu_tmpdir();
}

static void round_path(char *buf, size_t len, const char *dir, int round)
{
  snprintf(buf, len, "%s/race-%d.fmr", dir, round);
}

static void record_name(char *buf, size_t len, uint64_t n)
{
  /* Long names: aux blocks of several granules. */
  snprintf(buf, len, "record-%llu-with-a-name-long-enough-to-span-granules",
           (unsigned long long)n);
}

/* Each round: a new small file, records committed, freed (their slots are
   reused at once, last in first out), renamed (superseded slots use up
   slots, so new segments are linked), and big blocks that make the file
   grow, so new slots point past what a reader mapped. */
static int writer_main(void *arg)
{
  struct writer_args *a = arg;
  prctl(PR_SET_PDEATHSIG, SIGKILL); /* the reader crashed: stop */
  double end = now() + a->seconds;
  uint64_t seed = 12345, serial = 0;
  char path[4096], name[128];
  for (int round = 1; now() < end && !atomic_load(&a->shared->stop); round++) {
    fmr_options o;
    fmr_options_init(&o);
    o.flags = FMR_OPEN_CREATE;
    o.initial_size = 64 * TU_KIB;
    o.max_size = 1 * TU_GIB;
    fmr_heap *heap;
    round_path(path, sizeof path, a->dir, round);
    if (fmr_open(path, &o, &heap) != FMR_OK)
      goto fail;
    uint64_t ids[4096];
    size_t n = 0;
    /* Readers open the file from now on, while the first segments are
       linked (each one where the file just grew). */
    atomic_store(&a->shared->round, round);
    if (round > 1) {
      round_path(path, sizeof path, a->dir, round - 1);
      unlink(path);
    }
    for (; n < 400; n++) {
      record_name(name, sizeof name, ++serial);
      if (fmr_commit(heap, NULL, 1, 0, name, NULL, 0, 0, &ids[n]) != FMR_OK)
        goto fail;
    }
    for (int op = 0;
         op < (round % 4 == 0 ? 4000 : 0) && !atomic_load(&a->shared->stop);
         op++) {
      uint64_t r = tu_rand(&seed);
      size_t i = (size_t)(r % n);
      switch ((r >> 32) % 8) {
      case 0:
      case 1: /* free, then commit into the slot just freed */
        if (fmr_record_free(heap, ids[i]) != FMR_OK)
          goto fail;
        record_name(name, sizeof name, ++serial);
        if (fmr_commit(heap, NULL, 1, 0, name, NULL, 0, 0, &ids[i]) != FMR_OK)
          goto fail;
        break;
      case 2:
      case 3: /* rename: a new slot, the old one superseded */
        record_name(name, sizeof name, ++serial);
        if (fmr_record_rename(heap, ids[i], name) != FMR_OK)
          goto fail;
        break;
      case 4: /* more records */
        if (n < sizeof ids / sizeof ids[0]) {
          record_name(name, sizeof name, ++serial);
          if (fmr_commit(heap, NULL, 1, 0, name, NULL, 0, 0, &ids[n]) !=
              FMR_OK)
            goto fail;
          n++;
        }
        break;
      case 5: /* grow the file: a block nobody frees */
        if (op % 64 == 5) {
          void *p;
          fmr_malloc(heap, 256 * TU_KIB, &p);
        }
        break;
      case 6:
        if (op % 512 == 6)
          fmr_sync(heap);
        break;
      default:
        break;
      }
    }
    fmr_close(heap);
  }
  return 0;
fail:
  atomic_store(&a->shared->writer_failed, 1);
  fprintf(stderr, "writer: %s\n", fmr_errmsg());
  return 1;
}

static struct shared *shared_new(void)
{
  struct shared *s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE,
                          MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ck_assert_ptr_ne(s, MAP_FAILED);
  memset(s, 0, sizeof *s);
  return s;
}

static bool transient_ok(int rc)
{
  /* What a reader may get while the writer works: a name not there, the
     round's file deleted before the open. */
  return rc == FMR_OK || rc == FMR_ENOTFOUND || rc == FMR_ENOENT;
}

/* Items 4 and 5: a reader loading, refreshing and looking up while the
   writer works must neither crash nor report damage. */
START_TEST(test_reader_races_writer)
{
  char *dir = race_dir();
  struct shared *shared = shared_new();
  struct writer_args wa = {dir, shared, 8.0};
  pid_t writer = tu_fork(writer_main, &wa);
  char path[4096], name[128];
  uint64_t seed = 99, opens = 0, loads = 0;
  int corrupt = 0;
  char first_error[512] = "";
  double end = now() + 7.0;
  while (atomic_load(&shared->round) == 0 && now() < end)
    usleep(1000);
  while (now() < end && !atomic_load(&shared->writer_failed)) {
    round_path(path, sizeof path, dir, atomic_load(&shared->round));
    fmr_heap *heap;
    int rc = tu_open(path, FMR_OPEN_READONLY, &heap);
    if (rc == FMR_ECORRUPT || rc == FMR_ECHECKSUM) {
      if (corrupt++ == 0)
        snprintf(first_error, sizeof first_error, "open: %s", fmr_errmsg());
      continue;
    }
    ck_assert_msg(transient_ok(rc), "reader open: %s", fmr_errmsg());
    if (rc != FMR_OK)
      continue;
    opens++;
    for (int k = 0; k < 40; k++) {
      rc = fmr_refresh(heap);
      loads++;
      if (rc == FMR_ECORRUPT || rc == FMR_ECHECKSUM) {
        if (corrupt++ == 0)
          snprintf(first_error, sizeof first_error, "refresh: %s",
                   fmr_errmsg());
        continue;
      }
      ck_assert_msg(transient_ok(rc), "refresh: %s", fmr_errmsg());
      fmr_record rec;
      fmr_record_init(&rec);
      record_name(name, sizeof name, tu_rand(&seed) % 20000);
      rc = fmr_record_find(heap, name, &rec);
      ck_assert_msg(transient_ok(rc) || rc == FMR_ECORRUPT, "find: %s",
                    fmr_errmsg());
      if (rc == FMR_ECORRUPT && corrupt++ == 0)
        snprintf(first_error, sizeof first_error, "find: %s", fmr_errmsg());
    }
    fmr_close(heap);
  }
  atomic_store(&shared->stop, 1);
  ck_assert_int_eq(tu_wait(writer), 0);
  ck_assert_msg(corrupt == 0,
                "%d false reports of damage (%llu opens, %llu "
                "refreshes); first: %s",
                corrupt, (unsigned long long)opens, (unsigned long long)loads,
                first_error);
  ck_assert_uint_gt(opens, 10);
  munmap(shared, sizeof *shared);
  tu_rmtree(dir);
  free(dir);
}
END_TEST

/* One file, changed without pause until the reader says stop. */
static int hammer_main(void *arg)
{
  struct writer_args *a = arg;
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  char path[4096], name[128];
  uint64_t seed = 777, serial = 0, ids[3000];
  size_t n = 0;
  fmr_heap *heap;
  round_path(path, sizeof path, a->dir, 0);
  if (tu_open(path, FMR_OPEN_CREATE, &heap) != FMR_OK)
    goto fail;
  for (; n < 2000; n++) {
    record_name(name, sizeof name, ++serial);
    if (fmr_commit(heap, NULL, 1, 0, name, NULL, 0, 0, &ids[n]) != FMR_OK)
      goto fail;
  }
  fmr_sync(heap);
  atomic_store(&a->shared->round, 1);
  double end = now() + a->seconds;
  for (uint64_t op = 0; !atomic_load(&a->shared->stop) && now() < end; op++) {
    uint64_t r = tu_rand(&seed);
    size_t i = (size_t)(r % n);
    int rc = FMR_OK;
    switch ((r >> 32) % 6) {
    case 0:
    case 1:
      rc = fmr_record_free(heap, ids[i]);
      record_name(name, sizeof name, ++serial);
      if (rc == FMR_OK)
        rc = fmr_commit(heap, NULL, 1, 0, name, NULL, 0, 0, &ids[i]);
      break;
    case 2:
    case 3:
      record_name(name, sizeof name, ++serial);
      rc = fmr_record_rename(heap, ids[i], name);
      break;
    case 4:
      if (n < sizeof ids / sizeof ids[0]) {
        record_name(name, sizeof name, ++serial);
        rc = fmr_commit(heap, NULL, 1, 0, name, NULL, 0, 0, &ids[n++]);
      }
      break;
    default:
      if (op % 256 == 5)
        rc = fmr_sync(heap);
      break;
    }
    if (rc != FMR_OK)
      goto fail;
  }
  return fmr_close(heap) == FMR_OK ? 0 : 1;
fail:
  fprintf(stderr, "hammer: %s\n", fmr_errmsg());
  atomic_store(&a->shared->writer_failed, 1);
  return 1;
}

static void count_problem(const char *msg, void *arg)
{
  int *count = arg;
  if ((*count)++ == 0)
    fprintf(stderr, "problem: %s\n", msg);
}

/* Item 13: fmr_check on a reader while a writer changes the catalog
   without pause reports no problem the file does not have. */
START_TEST(test_check_with_live_writer)
{
  char *dir = race_dir();
  struct shared *shared = shared_new();
  struct writer_args wa = {dir, shared, 20.0};
  pid_t writer = tu_fork(hammer_main, &wa);
  char path[4096];
  while (atomic_load(&shared->round) == 0 &&
         !atomic_load(&shared->writer_failed))
    usleep(1000);
  round_path(path, sizeof path, dir, 0);
  fmr_heap *heap;
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_READONLY, &heap));
  int bad_runs = 0, runs = 0;
  double start = now();
  for (; runs < 40 && now() - start < 8.0; runs++) {
    int problems = 0;
    int rc = fmr_check(heap, count_problem, &problems);
    if (rc != FMR_OK || problems != 0)
      bad_runs++;
  }
  ck_assert_fmr_ok(fmr_close(heap));
  atomic_store(&shared->stop, 1);
  ck_assert_int_eq(tu_wait(writer), 0);
  ck_assert_msg(bad_runs == 0, "%d of %d checks reported false problems",
                bad_runs, runs);
  ck_assert_int_ge(runs, 30);
  /* With the writer gone the file checks clean, and damage is still
     reported: break a slot's checksum. */
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_READONLY, &heap));
  int problems = 0;
  ck_assert_fmr_ok(fmr_check(heap, count_problem, &problems));
  ck_assert_int_eq(problems, 0);
  ck_assert_fmr_ok(fmr_close(heap));
  uint64_t head, state = 0, slot;
  ck_assert_int_eq(tu_pread(path,
                            offsetof(struct fmr_disk_meta, meta_catalog_head),
                            &head, sizeof head),
                   0);
  for (slot = head + sizeof(struct fmr_disk_segment);
       state != FMR_SLOT_COMMITTED; slot += sizeof(struct fmr_disk_record))
    ck_assert_int_eq(tu_pread(path, slot, &state, sizeof state), 0);
  slot -= sizeof(struct fmr_disk_record);
  uint32_t sum;
  uint64_t at = slot + offsetof(struct fmr_disk_record, rec_checksum);
  ck_assert_int_eq(tu_pread(path, at, &sum, sizeof sum), 0);
  sum ^= 1;
  ck_assert_int_eq(tu_pwrite(path, at, &sum, sizeof sum), 0);
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_READONLY, &heap));
  problems = 0;
  ck_assert_fmr(fmr_check(heap, count_problem, &problems), FMR_ECORRUPT);
  ck_assert_int_eq(problems, 1);
  ck_assert_fmr_ok(fmr_close(heap));
  munmap(shared, sizeof *shared);
  tu_rmtree(dir);
  free(dir);
}
END_TEST

static void make_records(const char *path, uint64_t count)
{
  fmr_heap *heap;
  char name[128];
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_CREATE, &heap));
  for (uint64_t i = 0; i < count; i++) {
    uint64_t id;
    record_name(name, sizeof name, i);
    ck_assert_fmr_ok(fmr_commit(heap, NULL, 1, 0, name, NULL, 0, 0, &id));
  }
  ck_assert_fmr_ok(fmr_close(heap));
}

static int commit_late(const char *mode, const char *path)
{
  fmr_heap *heap;
  uint64_t id;
  if (strcmp(mode, "compact") == 0 && fmr_compact(path, NULL, NULL) != FMR_OK)
    return 1;
  if (tu_open(path, 0, &heap) != FMR_OK ||
      fmr_commit(heap, NULL, 1, 0, "late", NULL, 0, 0, &id) != FMR_OK ||
      fmr_close(heap) != FMR_OK)
    return 2;
  return 0;
}

/* Item 8: a reader's lookup of a missing name reloads the catalog only
   when the writer published something.  20,000 records take about 20 ms
   to load: 200 misses took 4 s when each one reloaded. */
START_TEST(test_miss_without_changes_is_cheap)
{
  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "miss.fmr");
  make_records(path, 20000);
  fmr_heap *heap;
  fmr_record rec;
  fmr_record_init(&rec);
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_READONLY, &heap));
  double start = now();
  for (int i = 0; i < 200; i++)
    ck_assert_fmr(fmr_record_find(heap, "no such record", &rec),
                  FMR_ENOTFOUND);
  double misses = now() - start;
  ck_assert_msg(misses < 0.5, "200 misses took %.3f s", misses);
  start = now();
  for (int i = 0; i < 200; i++)
    ck_assert_fmr_ok(fmr_refresh(heap));
  ck_assert_msg(now() - start < 0.5, "200 refreshes took %.3f s",
                now() - start);
  /* What a writer publishes later is still found by a miss. */
  ck_assert_int_eq(tu_wait(tu_spawn("commit", path)), 0);
  ck_assert_fmr_ok(fmr_record_find(heap, "late", &rec));
  ck_assert_fmr(fmr_record_find(heap, "no such record", &rec), FMR_ENOTFOUND);
  ck_assert_fmr_ok(fmr_close(heap));
  tu_rmtree(dir);
  free(path);
  free(dir);
}
END_TEST

/* A file whose last writer did not count changes (a library without
   FMR_FEATURE_COMPAT_CHANGE_COUNT: meta_change_txn stale) still opens for
   reading and writing, and its reader reloads on every miss. */
START_TEST(test_file_without_change_count)
{
  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "old.fmr");
  make_records(path, 100);
  /* Make both meta pages look written by an older library. */
  for (int page = 0; page < FMR_META_PAGES; page++) {
    struct fmr_disk_meta meta;
    uint64_t at = (uint64_t)page * FMR_META_PAGE_SIZE;
    ck_assert_int_eq(tu_pread(path, at, &meta, sizeof meta), 0);
    meta.meta_features_compat &= ~(uint64_t)FMR_FEATURE_COMPAT_CHANGE_COUNT;
    meta.meta_change_txn = 0;
    meta.meta_checksum =
        fmr_crc32c(0, &meta, offsetof(struct fmr_disk_meta, meta_checksum));
    ck_assert_int_eq(tu_pwrite(path, at, &meta, sizeof meta), 0);
  }
  fmr_heap *heap;
  fmr_record rec;
  fmr_record_init(&rec);
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_READONLY, &heap));
  ck_assert_fmr(fmr_record_find(heap, "late", &rec), FMR_ENOTFOUND);
  ck_assert_int_eq(tu_wait(tu_spawn("commit", path)), 0);
  ck_assert_fmr_ok(fmr_record_find(heap, "late", &rec));
  ck_assert_fmr_ok(fmr_close(heap));
  tu_rmtree(dir);
  free(path);
  free(dir);
}
END_TEST

/* Item 14: after fmr_compact replaced the file, the reader is told to
   reopen (it used to refresh to nothing, forever), keeps reading what
   it has, and a new open sees the new file. */
START_TEST(test_compacted_file_is_reported)
{
  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "compact.fmr");
  make_records(path, 50);
  fmr_heap *heap;
  fmr_record rec;
  fmr_record_init(&rec);
  char name[128];
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_READONLY, &heap));
  ck_assert_fmr_ok(fmr_refresh(heap));
  ck_assert_int_eq(tu_wait(tu_spawn("compact", path)), 0);
  ck_assert_fmr(fmr_refresh(heap), FMR_EREPLACED);
  ck_assert_msg(strstr(fmr_errmsg(), "open the path again") != NULL, "%s",
                fmr_errmsg());
  ck_assert_fmr(fmr_record_find(heap, "late", &rec), FMR_EREPLACED);
  ck_assert_fmr(fmr_refresh(heap), FMR_EREPLACED);
  record_name(name, sizeof name, 7);
  ck_assert_fmr_ok(fmr_record_find(heap, name, &rec));
  ck_assert_str_eq(fmr_strerror(FMR_EREPLACED),
                   "the heap file was replaced at its path (compacted?) "
                   "after this reader opened it: it sees nothing new; close "
                   "it and open the path again");
  ck_assert_fmr_ok(fmr_close(heap));
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_READONLY, &heap));
  ck_assert_fmr_ok(fmr_record_find(heap, "late", &rec));
  ck_assert_fmr_ok(fmr_refresh(heap));
  ck_assert_fmr_ok(fmr_close(heap));
  tu_rmtree(dir);
  free(path);
  free(dir);
}
END_TEST

Suite *reader_suite(void)
{
  Suite *s = suite_create("reader");
  TCase *tc = tcase_create("race");
  tcase_add_unchecked_fixture(tc, shm_setup, shm_teardown);
  tu_timeout(tc, 30);
  tcase_add_test(tc, test_reader_races_writer);
  suite_add_tcase(s, tc);
  tc = tcase_create("check");
  tcase_add_unchecked_fixture(tc, shm_setup, shm_teardown);
  tu_timeout(tc, 30);
  tcase_add_test(tc, test_check_with_live_writer);
  suite_add_tcase(s, tc);
  tc = tcase_create("refresh");
  tu_timeout(tc, 30);
  tcase_add_test(tc, test_miss_without_changes_is_cheap);
  tcase_add_test(tc, test_file_without_change_count);
  tcase_add_test(tc, test_compacted_file_is_reported);
  suite_add_tcase(s, tc);
  return s;
}

int main(int argc, char **argv)
{
  tu_child_main(argc, argv, commit_late);
  return tu_main(reader_suite());
}
