/* test_threads.c: several heaps open at once, several threads in one heap,
   and reference-counted opens of the same file.

   Copyright (C) 2026 The libfmalloc-r authors.
   This file is part of libfmalloc-r, free software under the GNU Lesser
   General Public License, version 2.1 or (at your option) any later version.  */

#include <config.h>

#include "testutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

START_TEST(test_two_heaps_interleaved)
{
  char *dir = tu_tmpdir();
  char *pa = tu_path(dir, "a.fmr");
  char *pb = tu_path(dir, "b.fmr");
  fmr_heap *a, *b;
  ck_assert_fmr_ok(tu_open(pa, FMR_OPEN_CREATE, &a));
  ck_assert_fmr_ok(tu_open(pb, FMR_OPEN_CREATE, &b));
  ck_assert_ptr_ne(a, b);
  uint8_t ua[FMR_UUID_SIZE], ub[FMR_UUID_SIZE];
  ck_assert_fmr_ok(fmr_uuid(a, ua));
  ck_assert_fmr_ok(fmr_uuid(b, ub));
  ck_assert_int_ne(memcmp(ua, ub, FMR_UUID_SIZE), 0);

  enum { N = 100 };
  void *pas[N], *pbs[N];
  uint64_t ida[N], idb[N];
  for (int i = 0; i < N; i++) {
    char name[16];
    snprintf(name, sizeof name, "x%d", i);
    ck_assert_fmr_ok(fmr_malloc(a, 100 + (size_t)i, &pas[i]));
    ck_assert_fmr_ok(fmr_malloc(b, 200 + (size_t)i, &pbs[i]));
    tu_fill(pas[i], 100 + (size_t)i, (uint64_t)i);
    tu_fill(pbs[i], 200 + (size_t)i, (uint64_t)i + 1000);
    /* Blocks of one heap are not blocks of the other. */
    ck_assert_uint_eq(fmr_ptr_to_offset(b, pas[i]), 0);
    ck_assert_uint_eq(fmr_ptr_to_offset(a, pbs[i]), 0);
    ck_assert_fmr(fmr_free(b, pas[i]), FMR_ENOTOWNED);
    ck_assert_fmr(fmr_commit(a, pbs[i], 1, 1, NULL, NULL, 0, 0, &ida[i]),
                  FMR_ENOTOWNED);
    /* The same name in both heaps. */
    ck_assert_fmr_ok(fmr_commit(a, pas[i], 1, 100 + (uint64_t)i, name, "A",
                                1, 0, &ida[i]));
    ck_assert_fmr_ok(fmr_commit(b, pbs[i], 2, 200 + (uint64_t)i, name, "B",
                                1, 0, &idb[i]));
  }
  for (int i = 0; i < N; i++) {
    char name[16];
    snprintf(name, sizeof name, "x%d", i);
    fmr_record ra, rb;
    fmr_record_init(&ra);
    fmr_record_init(&rb);
    ck_assert_fmr_ok(fmr_record_find(a, name, &ra));
    ck_assert_fmr_ok(fmr_record_find(b, name, &rb));
    ck_assert_uint_eq(ra.id, ida[i]);
    ck_assert_uint_eq(rb.id, idb[i]);
    ck_assert_ptr_eq(ra.payload, pas[i]);
    ck_assert_ptr_eq(rb.payload, pbs[i]);
    ck_assert_uint_eq(ra.type, 1);
    ck_assert_uint_eq(rb.type, 2);
    ck_assert_mem_eq(ra.meta, "A", 1);
    ck_assert_mem_eq(rb.meta, "B", 1);
    ck_assert(tu_verify(ra.payload, 100 + (size_t)i, (uint64_t)i));
    ck_assert(tu_verify(rb.payload, 200 + (size_t)i, (uint64_t)i + 1000));
  }
  ck_assert_fmr_ok(fmr_record_free(a, ida[0]));
  fmr_record r;
  fmr_record_init(&r);
  ck_assert_fmr(fmr_record_find(a, "x0", &r), FMR_ENOTFOUND);
  ck_assert_fmr_ok(fmr_record_find(b, "x0", &r));
  ck_assert_fmr_ok(fmr_close(a));
  /* b goes on after a is closed. */
  ck_assert(tu_verify(pbs[N - 1], 200 + N - 1, 1000 + N - 1));
  void *p;
  ck_assert_fmr_ok(fmr_malloc(b, 5000, &p));
  ck_assert_fmr_ok(fmr_free(b, p));
  ck_assert_fmr_ok(fmr_check(b, NULL, NULL));
  ck_assert_fmr_ok(fmr_close(b));
  free(pa);
  free(pb);
  free(dir);
}
END_TEST

struct worker {
  fmr_heap *heap;
  const char *path; /* own heap to open, if heap is NULL */
  int index;
  int iterations;
  int failures;
  char what[160];
};

#define WORKER_FAIL(w, ...)                                                 \
  do {                                                                      \
    if ((w)->failures++ == 0)                                               \
      snprintf((w)->what, sizeof (w)->what, __VA_ARGS__);                   \
  } while (0)

static void *worker_run(void *arg)
{
  struct worker *w = arg;
  fmr_heap *heap = w->heap;
  int own = heap == NULL;
  if (own && fmr_open(w->path, NULL, &heap) != 0) {
    /* The caller created the file; opening it must work. */
    WORKER_FAIL(w, "open %s: %s", w->path, fmr_errmsg());
    return NULL;
  }
  enum { LIVE = 64 };
  void *ptrs[LIVE] = {0};
  size_t sizes[LIVE] = {0};
  uint64_t seeds[LIVE] = {0};
  uint64_t rng = (uint64_t)w->index * 7919 + 1;
  int committed = 0;
  for (int it = 0; it < w->iterations; it++) {
    int slot = (int)(tu_rand(&rng) % LIVE);
    if (ptrs[slot]) {
      if (!tu_verify(ptrs[slot], sizes[slot], seeds[slot]))
        WORKER_FAIL(w, "thread %d: block overwritten", w->index);
      if (it % 3 == 0) {
        /* Resize instead of freeing: the bytes kept must survive. */
        size_t size = 1 + (size_t)(tu_rand(&rng) % 9000);
        void *q;
        int rc = fmr_realloc(heap, ptrs[slot], size, &q);
        if (rc != 0) {
          WORKER_FAIL(w, "thread %d: realloc %zu: %s", w->index, size,
                      fmr_strerror(rc));
          continue;
        }
        size_t kept = size < sizes[slot] ? size : sizes[slot];
        if (!tu_verify(q, kept, seeds[slot]))
          WORKER_FAIL(w, "thread %d: realloc lost bytes", w->index);
        ptrs[slot] = q;
        sizes[slot] = size;
        tu_fill(q, size, seeds[slot]);
        continue;
      }
      if (fmr_free(heap, ptrs[slot]) != 0)
        WORKER_FAIL(w, "thread %d: free failed", w->index);
      ptrs[slot] = NULL;
      continue;
    }
    size_t size = 1 + (size_t)(tu_rand(&rng) % 6000);
    int rc;
    if (it % 5 == 0)
      rc = fmr_calloc(heap, 1, size, &ptrs[slot]);
    else
      rc = fmr_malloc(heap, size, &ptrs[slot]);
    if (rc != 0) {
      WORKER_FAIL(w, "thread %d: alloc %zu: %s", w->index, size,
                  fmr_strerror(rc));
      ptrs[slot] = NULL;
      continue;
    }
    if ((uintptr_t)ptrs[slot] % FMR_ALIGNMENT != 0)
      WORKER_FAIL(w, "thread %d: unaligned", w->index);
    if (it % 5 == 0) {
      const unsigned char *b = ptrs[slot];
      for (size_t k = 0; k < size; k++)
        if (b[k] != 0) {
          WORKER_FAIL(w, "thread %d: calloc not zero", w->index);
          break;
        }
    }
    sizes[slot] = size;
    seeds[slot] = ((uint64_t)w->index << 32) | (uint64_t)it;
    tu_fill(ptrs[slot], size, seeds[slot]);
    /* Now and then commit the block as a named record. */
    if (it % 50 == 7) {
      char name[32];
      uint64_t id;
      snprintf(name, sizeof name, "t%d-%d", w->index, committed);
      rc = fmr_commit(heap, ptrs[slot], (uint32_t)w->index, size, name,
                      &seeds[slot], sizeof seeds[slot], 0, &id);
      if (rc != 0)
        WORKER_FAIL(w, "thread %d: commit: %s", w->index, fmr_strerror(rc));
      committed++;
      ptrs[slot] = NULL;
    }
  }
  for (int i = 0; i < LIVE; i++)
    if (ptrs[i]) {
      if (!tu_verify(ptrs[i], sizes[i], seeds[i]))
        WORKER_FAIL(w, "thread %d: block overwritten at end", w->index);
      if (fmr_free(heap, ptrs[i]) != 0)
        WORKER_FAIL(w, "thread %d: final free", w->index);
    }
  /* Every committed record is there with its bytes. */
  for (int c = 0; c < committed; c++) {
    char name[32];
    fmr_record rec;
    fmr_record_init(&rec);
    snprintf(name, sizeof name, "t%d-%d", w->index, c);
    if (fmr_record_find(heap, name, &rec) != 0) {
      WORKER_FAIL(w, "thread %d: record %s missing", w->index, name);
      continue;
    }
    uint64_t seed;
    if (rec.meta_len != sizeof seed || rec.type != (uint32_t)w->index) {
      WORKER_FAIL(w, "thread %d: record %s wrong", w->index, name);
      continue;
    }
    memcpy(&seed, rec.meta, sizeof seed);
    if (!tu_verify(rec.payload, rec.length, seed))
      WORKER_FAIL(w, "thread %d: record %s payload", w->index, name);
  }
  w->iterations = committed;
  if (own && fmr_close(heap) != 0)
    WORKER_FAIL(w, "thread %d: close", w->index);
  return NULL;
}

START_TEST(test_threads_one_heap)
{
  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "mt.fmr");
  fmr_heap *heap;
  ck_assert_fmr_ok(tu_open_sized(path, FMR_OPEN_CREATE, 64 * TU_KIB, 0, &heap));
  enum { T = 4 };
  struct worker w[T];
  pthread_t th[T];
  for (int i = 0; i < T; i++) {
    memset(&w[i], 0, sizeof w[i]);
    w[i].heap = heap;
    w[i].index = i + 1;
    w[i].iterations = 4000;
    ck_assert_int_eq(pthread_create(&th[i], NULL, worker_run, &w[i]), 0);
  }
  for (int i = 0; i < T; i++)
    ck_assert_int_eq(pthread_join(th[i], NULL), 0);
  uint64_t total = 0;
  for (int i = 0; i < T; i++) {
    ck_assert_msg(w[i].failures == 0, "%d failures, first: %s",
                  w[i].failures, w[i].what);
    total += (uint64_t)w[i].iterations;
  }
  fmr_stats st = tu_stat(heap);
  ck_assert_uint_eq(st.records_committed, total);
  ck_assert_uint_eq(st.used_bytes + st.free_bytes, st.heap_bytes);
  ck_assert_fmr_ok(fmr_check(heap, NULL, NULL));
  ck_assert_fmr_ok(fmr_close(heap));

  /* And all of it survives a reopen. */
  ck_assert_fmr_ok(tu_open(path, 0, &heap));
  ck_assert_uint_eq(tu_stat(heap).records_committed, total);
  ck_assert_fmr_ok(fmr_check(heap, NULL, NULL));
  ck_assert_fmr_ok(fmr_close(heap));
  free(path);
  free(dir);
}
END_TEST

/* Everything at once on one heap: allocating workers, a thread that
   commits, finds, updates, renames, re-points, tombstones and frees its
   own records, an observer (stat, check, foreach, uuid, address
   translation, sync, reclaim) and a thread that opens and closes the same
   file again and again (the same heap, reference-counted).  Built with
   --enable-tsan this is the data-race test of the library. */

struct hammer {
  fmr_heap *heap;
  const char *path;
  atomic_int stop;
  uint8_t uuid[FMR_UUID_SIZE];
  int rounds; /* catalog thread: records made */
  int opens;  /* opener: opens done */
  int checks; /* observer: passes done */
  struct worker cat, obs, opener; /* failure reports */
};

static void *catalog_run(void *arg)
{
  struct hammer *h = arg;
  struct worker *w = &h->cat;
  uint64_t rng = 4242;
  for (int r = 0; r < h->rounds; r++) {
    char name[32], other[32];
    void *p, *q;
    uint64_t id, seed = 0xc000 + (uint64_t)r;
    fmr_record rec;
    fmr_record_init(&rec);
    size_t size = 1 + (size_t)(tu_rand(&rng) % 3000);
    snprintf(name, sizeof name, "cat-%d", r);
    snprintf(other, sizeof other, "cat-%d-renamed", r);
    if (fmr_malloc(h->heap, size, &p) != 0) {
      WORKER_FAIL(w, "catalog: malloc: %s", fmr_errmsg());
      continue;
    }
    tu_fill(p, size, seed);
    if (fmr_commit(h->heap, p, 7, size, name, &seed, sizeof seed,
                   r % 16 == 0 ? FMR_COMMIT_SYNC : 0, &id) != 0) {
      WORKER_FAIL(w, "catalog: commit: %s", fmr_errmsg());
      fmr_free(h->heap, p);
      continue;
    }
    if (fmr_record_find(h->heap, name, &rec) != 0 || rec.id != id ||
        rec.payload != p || !tu_verify(rec.payload, size, seed))
      WORKER_FAIL(w, "catalog: find %s", name);
    if (fmr_record_update(h->heap, id, 8, size, "m2", 2) != 0)
      WORKER_FAIL(w, "catalog: update: %s", fmr_errmsg());
    if (fmr_record_rename(h->heap, id, other) != 0)
      WORKER_FAIL(w, "catalog: rename: %s", fmr_errmsg());
    if (fmr_record_find(h->heap, name, &rec) != FMR_ENOTFOUND)
      WORKER_FAIL(w, "catalog: old name %s still found", name);
    if (fmr_record_get(h->heap, id, &rec) != 0 || rec.type != 8 ||
        strcmp(rec.name, other) != 0 || rec.meta_len != 2 ||
        memcmp(rec.meta, "m2", 2) != 0 || rec.generation < 3)
      WORKER_FAIL(w, "catalog: get %s", other);
    /* Grow the payload: a new block, copied, swapped in. */
    if (fmr_malloc(h->heap, size * 2, &q) == 0) {
      memcpy(q, p, size);
      memset((char *)q + size, 0, size);
      if (fmr_record_set_payload(h->heap, id, q, size * 2) != 0) {
        WORKER_FAIL(w, "catalog: set_payload: %s", fmr_errmsg());
        fmr_free(h->heap, q);
      } else {
        p = q;
      }
    } else {
      WORKER_FAIL(w, "catalog: malloc 2: %s", fmr_errmsg());
    }
    if (fmr_record_get(h->heap, id, &rec) != 0 || rec.payload != p ||
        !tu_verify(rec.payload, size, seed))
      WORKER_FAIL(w, "catalog: payload of %s after set_payload", other);
    if (fmr_record_update(h->heap, UINT64_MAX - (uint64_t)r, 1, 1, NULL, 0) !=
        FMR_ENOTFOUND)
      WORKER_FAIL(w, "catalog: update of an unknown id");
    switch (r % 3) {
    case 0: /* kept */
      break;
    case 1:
      if (fmr_record_tombstone(h->heap, id) != 0)
        WORKER_FAIL(w, "catalog: tombstone: %s", fmr_errmsg());
      break;
    default:
      if (fmr_record_free(h->heap, id) != 0)
        WORKER_FAIL(w, "catalog: free: %s", fmr_errmsg());
      if (fmr_record_get(h->heap, id, &rec) != FMR_ENOTFOUND)
        WORKER_FAIL(w, "catalog: freed record %s found", other);
      break;
    }
  }
  return NULL;
}

static int count_record(const fmr_record *r, void *arg)
{
  /* Only the copied fields: another thread may change the record (and
     its metadata and payload) as soon as this callback runs. */
  if (r->id != 0 && r->name[FMR_NAME_MAX] == '\0')
    (*(uint64_t *)arg)++;
  return 0;
}

static void *observer_run(void *arg)
{
  struct hammer *h = arg;
  struct worker *w = &h->obs;
  void *mine;
  if (fmr_malloc(h->heap, 500, &mine) != 0) {
    WORKER_FAIL(w, "observer: malloc: %s", fmr_errmsg());
    return NULL;
  }
  tu_fill(mine, 500, 99);
  while (!atomic_load(&h->stop)) {
    fmr_stats st;
    fmr_stats_init(&st);
    uint8_t uuid[FMR_UUID_SIZE];
    uint64_t n = 0, reclaimed;
    if (fmr_stat(h->heap, &st) != 0)
      WORKER_FAIL(w, "observer: stat: %s", fmr_errmsg());
    else if (st.used_bytes + st.free_bytes != st.heap_bytes ||
             st.refcount < 1 || st.heap_bytes + 8192 != st.file_size)
      WORKER_FAIL(w, "observer: stat: used %llu + free %llu != %llu",
                  (unsigned long long)st.used_bytes,
                  (unsigned long long)st.free_bytes,
                  (unsigned long long)st.heap_bytes);
    if (fmr_uuid(h->heap, uuid) != 0 ||
        memcmp(uuid, h->uuid, FMR_UUID_SIZE) != 0)
      WORKER_FAIL(w, "observer: uuid changed");
    uint64_t off = fmr_ptr_to_offset(h->heap, mine);
    if (off == 0 || fmr_offset_to_ptr(h->heap, off) != mine ||
        fmr_usable_size(h->heap, mine) < 500 || !tu_verify(mine, 500, 99))
      WORKER_FAIL(w, "observer: own block");
    if (fmr_record_foreach(h->heap, count_record, &n) != 0)
      WORKER_FAIL(w, "observer: foreach: %s", fmr_errmsg());
    if (h->checks % 4 == 0 && fmr_check(h->heap, NULL, NULL) != 0)
      WORKER_FAIL(w, "observer: check: %s", fmr_errmsg());
    if (h->checks % 8 == 3 && fmr_sync(h->heap) != 0)
      WORKER_FAIL(w, "observer: sync: %s", fmr_errmsg());
    if (h->checks % 8 == 5 && fmr_reclaim(h->heap, &reclaimed) != 0)
      WORKER_FAIL(w, "observer: reclaim: %s", fmr_errmsg());
    h->checks++;
  }
  if (fmr_free(h->heap, mine) != 0)
    WORKER_FAIL(w, "observer: free: %s", fmr_errmsg());
  return NULL;
}

static void *opener_run(void *arg)
{
  struct hammer *h = arg;
  struct worker *w = &h->opener;
  while (!atomic_load(&h->stop)) {
    fmr_heap *again;
    fmr_stats st;
    fmr_stats_init(&st);
    if (fmr_open(h->path, NULL, &again) != 0) {
      WORKER_FAIL(w, "opener: open: %s", fmr_errmsg());
      break;
    }
    if (again != h->heap)
      WORKER_FAIL(w, "opener: a second heap for the same file");
    if (fmr_stat(again, &st) != 0 || st.refcount < 2)
      WORKER_FAIL(w, "opener: refcount %llu", (unsigned long long)st.refcount);
    if (fmr_close(again) != 0)
      WORKER_FAIL(w, "opener: close: %s", fmr_errmsg());
    h->opens++;
  }
  return NULL;
}

START_TEST(test_threads_hammer)
{
  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "hammer.fmr");
  struct hammer h;
  memset(&h, 0, sizeof h);
  ck_assert_fmr_ok(
      tu_open_sized(path, FMR_OPEN_CREATE, 64 * TU_KIB, 0, &h.heap));
  ck_assert_fmr_ok(fmr_uuid(h.heap, h.uuid));
  h.path = path;
  h.rounds = 300;
  atomic_init(&h.stop, 0);
  enum { T = 3 };
  struct worker w[T];
  pthread_t th[T], cat, obs, opener;
  for (int i = 0; i < T; i++) {
    memset(&w[i], 0, sizeof w[i]);
    w[i].heap = h.heap;
    w[i].index = i + 10;
    w[i].iterations = 3000;
    ck_assert_int_eq(pthread_create(&th[i], NULL, worker_run, &w[i]), 0);
  }
  ck_assert_int_eq(pthread_create(&cat, NULL, catalog_run, &h), 0);
  ck_assert_int_eq(pthread_create(&obs, NULL, observer_run, &h), 0);
  ck_assert_int_eq(pthread_create(&opener, NULL, opener_run, &h), 0);
  for (int i = 0; i < T; i++)
    ck_assert_int_eq(pthread_join(th[i], NULL), 0);
  ck_assert_int_eq(pthread_join(cat, NULL), 0);
  atomic_store(&h.stop, 1);
  ck_assert_int_eq(pthread_join(obs, NULL), 0);
  ck_assert_int_eq(pthread_join(opener, NULL), 0);

  uint64_t workers_records = 0;
  for (int i = 0; i < T; i++) {
    ck_assert_msg(w[i].failures == 0, "%d failures, first: %s",
                  w[i].failures, w[i].what);
    workers_records += (uint64_t)w[i].iterations;
  }
  struct worker *others[] = {&h.cat, &h.obs, &h.opener};
  for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
    ck_assert_msg(others[i]->failures == 0, "%d failures, first: %s",
                  others[i]->failures, others[i]->what);
  ck_assert_int_gt(h.checks, 0);

  /* The catalog thread kept every third record, tombstoned every third
     (the observer may have reclaimed some of those) and freed the rest. */
  uint64_t kept = (uint64_t)(h.rounds + 2) / 3;
  fmr_stats st = tu_stat(h.heap);
  ck_assert_uint_eq(st.refcount, 1);
  ck_assert_uint_eq(st.records_committed, workers_records + kept);
  ck_assert_uint_le(st.records_tombstone, (uint64_t)(h.rounds + 1) / 3);
  ck_assert_uint_eq(st.used_bytes + st.free_bytes, st.heap_bytes);
  ck_assert_fmr_ok(fmr_check(h.heap, NULL, NULL));
  ck_assert_fmr_ok(fmr_close(h.heap));

  ck_assert_fmr_ok(tu_open(path, 0, &h.heap));
  ck_assert_uint_eq(tu_stat(h.heap).records_committed,
                    workers_records + kept);
  ck_assert_fmr_ok(fmr_check(h.heap, NULL, NULL));
  fmr_record rec;
  fmr_record_init(&rec);
  ck_assert_fmr_ok(fmr_record_find(h.heap, "cat-0-renamed", &rec));
  ck_assert(tu_verify(rec.payload, rec.length / 2, 0xc000));
  ck_assert_fmr_ok(fmr_close(h.heap));
  free(path);
  free(dir);
}
END_TEST

START_TEST(test_threads_own_heaps)
{
  char *dir = tu_tmpdir();
  enum { T = 2 };
  char *paths[T];
  struct worker w[T];
  pthread_t th[T];
  for (int i = 0; i < T; i++) {
    char name[16];
    fmr_heap *heap;
    snprintf(name, sizeof name, "own%d.fmr", i);
    paths[i] = tu_path(dir, name);
    ck_assert_fmr_ok(tu_open(paths[i], FMR_OPEN_CREATE, &heap));
    ck_assert_fmr_ok(fmr_close(heap));
    memset(&w[i], 0, sizeof w[i]);
    w[i].path = paths[i];
    w[i].index = i + 1;
    w[i].iterations = 4000;
  }
  for (int i = 0; i < T; i++)
    ck_assert_int_eq(pthread_create(&th[i], NULL, worker_run, &w[i]), 0);
  for (int i = 0; i < T; i++)
    ck_assert_int_eq(pthread_join(th[i], NULL), 0);
  for (int i = 0; i < T; i++) {
    ck_assert_msg(w[i].failures == 0, "%d failures, first: %s",
                  w[i].failures, w[i].what);
    fmr_heap *heap;
    ck_assert_fmr_ok(tu_open(paths[i], 0, &heap));
    fmr_stats st = tu_stat(heap);
    ck_assert_uint_eq(st.records_committed, (uint64_t)w[i].iterations);
    ck_assert_int_eq(st.recovered, 0);
    ck_assert_fmr_ok(fmr_check(heap, NULL, NULL));
    /* Each heap holds only its own thread's records. */
    fmr_record rec;
    fmr_record_init(&rec);
    char other[32];
    snprintf(other, sizeof other, "t%d-0", T - i);
    ck_assert_fmr(fmr_record_find(heap, other, &rec), FMR_ENOTFOUND);
    ck_assert_fmr_ok(fmr_close(heap));
    free(paths[i]);
  }
  free(dir);
}
END_TEST

START_TEST(test_same_path_refcount)
{
  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "rc.fmr");
  fmr_heap *h1, *h2, *h3;
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_CREATE, &h1));
  ck_assert_uint_eq(tu_stat(h1).refcount, 1);
  ck_assert_fmr_ok(tu_open(path, 0, &h2));
  ck_assert_ptr_eq(h1, h2);
  ck_assert_uint_eq(tu_stat(h1).refcount, 2);
  /* Another spelling of the same path is the same file. */
  char *other = tu_path(dir, "./rc.fmr");
  ck_assert_fmr_ok(tu_open(other, FMR_OPEN_CREATE, &h3));
  ck_assert_ptr_eq(h1, h3);
  ck_assert_uint_eq(tu_stat(h1).refcount, 3);
  ck_assert_fmr_ok(fmr_close(h3));

  void *p;
  uint64_t id;
  ck_assert_fmr_ok(fmr_malloc(h1, 1000, &p));
  tu_fill(p, 1000, 8);
  ck_assert_fmr_ok(fmr_close(h1));
  /* Still open once: the block and the heap are usable. */
  ck_assert_uint_eq(tu_stat(h2).refcount, 1);
  ck_assert(tu_verify(p, 1000, 8));
  ck_assert_uint_ge(fmr_usable_size(h2, p), 1000);
  ck_assert_fmr_ok(fmr_commit(h2, p, 1, 1000, "kept", NULL, 0, 0, &id));
  fmr_record rec;
  fmr_record_init(&rec);
  ck_assert_fmr_ok(fmr_record_find(h2, "kept", &rec));
  ck_assert_fmr_ok(fmr_check(h2, NULL, NULL));
  ck_assert_fmr_ok(fmr_close(h2));

  ck_assert_fmr_ok(tu_open(path, 0, &h1));
  ck_assert_uint_eq(tu_stat(h1).refcount, 1);
  ck_assert_fmr_ok(fmr_record_find(h1, "kept", &rec));
  ck_assert(tu_verify(rec.payload, 1000, 8));
  ck_assert_fmr_ok(fmr_close(h1));
  free(other);
  free(path);
  free(dir);
}
END_TEST

struct opener {
  const char *path;
  fmr_heap *heap;
  int rc;
};

static void *open_thread(void *arg)
{
  struct opener *o = arg;
  o->rc = fmr_open(o->path, NULL, &o->heap);
  return NULL;
}

START_TEST(test_concurrent_open)
{
  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "co.fmr");
  fmr_heap *h;
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_CREATE, &h));
  ck_assert_fmr_ok(fmr_close(h));
  for (int round = 0; round < 20; round++) {
    enum { T = 4 };
    struct opener o[T];
    pthread_t th[T];
    for (int i = 0; i < T; i++) {
      o[i].path = path;
      o[i].heap = NULL;
      o[i].rc = 1;
      ck_assert_int_eq(pthread_create(&th[i], NULL, open_thread, &o[i]), 0);
    }
    for (int i = 0; i < T; i++)
      ck_assert_int_eq(pthread_join(th[i], NULL), 0);
    for (int i = 0; i < T; i++) {
      ck_assert_fmr_ok(o[i].rc);
      ck_assert_ptr_eq(o[i].heap, o[0].heap);
    }
    ck_assert_uint_eq(tu_stat(o[0].heap).refcount, T);
    for (int i = 0; i < T; i++)
      ck_assert_fmr_ok(fmr_close(o[i].heap));
  }
  free(path);
  free(dir);
}
END_TEST

struct creator {
  const char *path;
  fmr_heap *heap;
  int rc;
};

static void *create_thread(void *arg)
{
  struct creator *c = arg;
  c->rc = tu_open(c->path, FMR_OPEN_CREATE, &c->heap);
  return NULL;
}

/* Threads creating the same new file at once (each formats a file of its
   own without the registry lock, one links it into place) end with one
   heap. */
START_TEST(test_concurrent_create)
{
  char *dir = tu_tmpdir();
  for (int round = 0; round < 20; round++) {
    enum { T = 4 };
    char name[32];
    snprintf(name, sizeof name, "cc%d.fmr", round);
    char *path = tu_path(dir, name);
    struct creator c[T];
    pthread_t th[T];
    for (int i = 0; i < T; i++) {
      c[i].path = path;
      c[i].heap = NULL;
      c[i].rc = 1;
      ck_assert_int_eq(pthread_create(&th[i], NULL, create_thread, &c[i]), 0);
    }
    for (int i = 0; i < T; i++)
      ck_assert_int_eq(pthread_join(th[i], NULL), 0);
    for (int i = 0; i < T; i++) {
      ck_assert_fmr_ok(c[i].rc);
      ck_assert_ptr_eq(c[i].heap, c[0].heap);
    }
    ck_assert_uint_eq(tu_stat(c[0].heap).refcount, T);
    for (int i = 0; i < T; i++)
      ck_assert_fmr_ok(fmr_close(c[i].heap));
    /* No temporary file is left beside it. */
    ck_assert_int_eq(tu_count_entries(dir), round + 1);
    free(path);
  }
  free(dir);
}
END_TEST

static Suite *threads_suite(void)
{
  Suite *s = suite_create("threads");
  TCase *tc = tcase_create("core");
  tu_timeout(tc, 60);
  tcase_add_test(tc, test_two_heaps_interleaved);
  tcase_add_test(tc, test_threads_one_heap);
  tcase_add_test(tc, test_threads_hammer);
  tcase_add_test(tc, test_threads_own_heaps);
  tcase_add_test(tc, test_same_path_refcount);
  tcase_add_test(tc, test_concurrent_open);
  tcase_add_test(tc, test_concurrent_create);
  suite_add_tcase(s, tc);
  return s;
}

int main(void)
{
  return tu_main(threads_suite());
}
