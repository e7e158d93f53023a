/* test_crash.c: a writer killed with SIGKILL at random moments never
   leaves a damaged heap: every commit it reported survives with its bytes,
   every free it reported stays done, nothing is half present, and the
   space accounting adds up.

   FMR_CRASH_ROUNDS sets the number of kills (default 30); FMR_CRASH_SEED
   the random seed (default fixed, so a failure can be replayed).

   Copyright (C) 2026 The libfmalloc-r authors.
   This file is part of libfmalloc-r, free software under the GNU Lesser
   General Public License, version 2.1 or (at your option) any later version.  */

#include <config.h>

#include "testutil.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <time.h>

/* Messages from the child, 16 bytes each (atomic on a pipe). */
struct msg {
  uint32_t kind;
  uint32_t seq;
  uint64_t id;
};

enum {
  M_OPENED = 'O',
  M_COMMIT_INTENT = 'c',
  M_COMMITTED = 'C',
  M_FREE_INTENT = 'f',
  M_FREED = 'F',
  M_TOMB_INTENT = 't',
  M_TOMBSTONED = 'T',
  M_RECLAIM_INTENT = 'r',
  M_RECLAIMED = 'R'
};

/* What a record with sequence number SEQ holds. */
struct rmeta {
  uint64_t seq;
  uint64_t size;
};

static size_t size_of_seq(uint64_t seq)
{
  uint64_t s = seq * 2654435761u;
  return 1 + (size_t)((s >> 7) % 6000);
}

struct child_args {
  const char *path;
  int fd;
  uint32_t seq_base;
  uint64_t seed;
};

static void send_msg(int fd, uint32_t kind, uint32_t seq, uint64_t id)
{
  struct msg m = {kind, seq, id};
  CHILD_CHECK(tu_write_all(fd, &m, sizeof m) == 0);
}

static int crash_child(void *arg)
{
  struct child_args *a = arg;
  fmr_heap *heap;
  CHILD_CHECK_RC(tu_open(a->path, 0, &heap), 0);
  send_msg(a->fd, M_OPENED, 0, 0);
  uint64_t rng = a->seed;
  enum { MAXLIVE = 4096 };
  static uint64_t live[MAXLIVE];
  static int tomb[MAXLIVE];
  int nlive = 0;
  uint32_t seq = a->seq_base;
  for (;;) {
    unsigned r = (unsigned)(tu_rand(&rng) % 100);
    if (r < 60 || nlive < 4) {
      if (nlive == MAXLIVE)
        continue;
      size_t size = size_of_seq(seq);
      void *p;
      char name[24];
      uint64_t id;
      struct rmeta meta = {seq, size};
      CHILD_CHECK_RC(fmr_malloc(heap, size, &p), 0);
      tu_fill(p, size, seq);
      snprintf(name, sizeof name, "r%u", seq);
      send_msg(a->fd, M_COMMIT_INTENT, seq, 0);
      CHILD_CHECK_RC(fmr_commit(heap, p, seq & 0xffff, size, name, &meta,
                                sizeof meta, 0, &id),
                     0);
      send_msg(a->fd, M_COMMITTED, seq, id);
      live[nlive] = id;
      tomb[nlive] = 0;
      nlive++;
      seq++;
    } else if (r < 80) {
      int k = (int)(tu_rand(&rng) % (uint64_t)nlive);
      send_msg(a->fd, M_FREE_INTENT, 0, live[k]);
      CHILD_CHECK_RC(fmr_record_free(heap, live[k]), 0);
      send_msg(a->fd, M_FREED, 0, live[k]);
      live[k] = live[nlive - 1];
      tomb[k] = tomb[nlive - 1];
      nlive--;
    } else if (r < 93) {
      int k = (int)(tu_rand(&rng) % (uint64_t)nlive);
      if (tomb[k])
        continue;
      send_msg(a->fd, M_TOMB_INTENT, 0, live[k]);
      CHILD_CHECK_RC(fmr_record_tombstone(heap, live[k]), 0);
      send_msg(a->fd, M_TOMBSTONED, 0, live[k]);
      tomb[k] = 1;
    } else {
      uint64_t count;
      send_msg(a->fd, M_RECLAIM_INTENT, 0, 0);
      CHILD_CHECK_RC(fmr_reclaim(heap, &count), 0);
      send_msg(a->fd, M_RECLAIMED, 0, count);
      int j = 0;
      for (int k = 0; k < nlive; k++)
        if (!tomb[k]) {
          live[j] = live[k];
          tomb[j] = 0;
          j++;
        }
      nlive = j;
    }
  }
  return 0;
}

/* The parent's model of the catalog. */
enum { GONE = 0, COMMITTED = 1, TOMBSTONE = 2 };

struct ent {
  uint64_t seq, id;
  int state;   /* GONE, COMMITTED, TOMBSTONE */
  int pending; /* an intent without its done message: 'f', 't', 'r' */
  int seen;
};

static struct ent *ents;
static size_t nents, cap_ents;
static fmr_heap *heap;

static struct ent *find_id(uint64_t id)
{
  size_t lo = 0, hi = nents;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (ents[mid].id < id)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < nents && ents[lo].id == id ? &ents[lo] : NULL;
}

static struct ent *find_seq(uint64_t seq)
{
  size_t lo = 0, hi = nents;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (ents[mid].seq < seq)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < nents && ents[lo].seq == seq ? &ents[lo] : NULL;
}

static void add_ent(uint64_t seq, uint64_t id)
{
  if (nents > 0) {
    ck_assert_msg(id > ents[nents - 1].id, "id %llu not above %llu",
                  (unsigned long long)id,
                  (unsigned long long)ents[nents - 1].id);
    ck_assert_uint_gt(seq, ents[nents - 1].seq);
  }
  if (nents == cap_ents) {
    cap_ents = cap_ents ? cap_ents * 2 : 1024;
    ents = realloc(ents, cap_ents * sizeof *ents);
    ck_assert_ptr_nonnull(ents);
  }
  ents[nents++] = (struct ent){seq, id, COMMITTED, 0, 0};
}

struct verify_state {
  uint32_t pending_commit; /* seq of a commit in flight, or 0 */
  int visited;
  char problem[400];
};

#define PROBLEM(v, ...)                                                     \
  do {                                                                      \
    snprintf((v)->problem, sizeof (v)->problem, __VA_ARGS__);               \
    return 1;                                                               \
  } while (0)

static int check_record(const fmr_record *rec, void *arg)
{
  struct verify_state *v = arg;
  v->visited++;
  unsigned long seq;
  char tail;
  if (sscanf(rec->name, "r%lu%c", &seq, &tail) != 1 &&
      rec->state == FMR_RECORD_COMMITTED)
    PROBLEM(v, "record %llu has name \"%s\"", (unsigned long long)rec->id,
            rec->name);
  struct rmeta meta;
  if (rec->meta_len != sizeof meta)
    PROBLEM(v, "record %llu: meta_len %zu", (unsigned long long)rec->id,
            rec->meta_len);
  memcpy(&meta, rec->meta, sizeof meta);
  if (rec->state == FMR_RECORD_TOMBSTONE)
    seq = (unsigned long)meta.seq; /* tombstones have no name */
  if (meta.seq != seq || meta.size != size_of_seq(seq) ||
      rec->length != meta.size || rec->type != (seq & 0xffff))
    PROBLEM(v, "record %llu (seq %lu): metadata does not match",
            (unsigned long long)rec->id, seq);
  if (rec->payload == NULL || rec->payload_bytes < meta.size)
    PROBLEM(v, "record %llu: payload missing", (unsigned long long)rec->id);
  if (!tu_verify(rec->payload, meta.size, seq))
    PROBLEM(v, "record %llu (seq %lu): payload damaged",
            (unsigned long long)rec->id, seq);

  struct ent *e = find_seq(seq);
  if (e == NULL) {
    /* Only the commit in flight may appear unannounced. */
    if (seq != v->pending_commit || rec->state != FMR_RECORD_COMMITTED)
      PROBLEM(v, "record %llu (seq %lu) was never reported",
              (unsigned long long)rec->id, seq);
    add_ent(seq, rec->id);
    v->pending_commit = 0;
    e = &ents[nents - 1];
  }
  if (e->id != rec->id)
    PROBLEM(v, "seq %lu: id %llu, reported %llu", seq,
            (unsigned long long)rec->id, (unsigned long long)e->id);
  int state = rec->state == FMR_RECORD_TOMBSTONE ? TOMBSTONE : COMMITTED;
  if (rec->state != FMR_RECORD_COMMITTED &&
      rec->state != FMR_RECORD_TOMBSTONE)
    PROBLEM(v, "record %llu: state %d", (unsigned long long)rec->id,
            rec->state);
  int ok;
  switch (e->pending) {
  case 'f':
    ok = 1; /* the free may not have happened yet */
    break;
  case 't':
    ok = e->state == COMMITTED; /* either state */
    break;
  case 'r':
    ok = state == TOMBSTONE;
    break;
  default:
    ok = e->state == state;
  }
  if (!ok)
    PROBLEM(v, "record %llu (seq %lu): state %d, expected %d (pending %c)",
            (unsigned long long)rec->id, seq, state, e->state,
            e->pending ? e->pending : '-');
  e->state = state;
  e->pending = 0;
  e->seen = 1;
  return 0;
}

static void report(const char *problem, void *arg)
{
  int *n = arg;
  if ((*n)++ < 10)
    fprintf(stderr, "fmr_check: %s\n", problem);
}

static void verify_heap(int round, int child_opened)
{
  fmr_stats st = tu_stat(heap);
  if (child_opened)
    ck_assert_msg(st.recovered == 1, "round %d: recovered is %d", round,
                  st.recovered);
  ck_assert_uint_eq(st.records_damaged, 0);
  int problems = 0;
  ck_assert_fmr_ok(fmr_check(heap, report, &problems));
  ck_assert_int_eq(problems, 0);
  ck_assert_msg(st.used_bytes + st.free_bytes == st.heap_bytes,
                "round %d: used %llu + free %llu != heap %llu", round,
                (unsigned long long)st.used_bytes,
                (unsigned long long)st.free_bytes,
                (unsigned long long)st.heap_bytes);
  ck_assert_uint_le(st.largest_free, st.free_bytes);
  ck_assert_uint_le(st.heap_bytes, st.file_size);
}

static void verify_records(int round, struct verify_state *v)
{
  for (size_t i = 0; i < nents; i++)
    ents[i].seen = 0;
  v->visited = 0;
  v->problem[0] = '\0';
  int rc = fmr_record_foreach(heap, check_record, v);
  ck_assert_msg(rc == 0, "round %d: %s (foreach returned %d)", round,
                v->problem, rc);
  size_t live = 0, tombs = 0;
  for (size_t i = 0; i < nents; i++) {
    struct ent *e = &ents[i];
    if (e->seen) {
      live += e->state == COMMITTED;
      tombs += e->state == TOMBSTONE;
      continue;
    }
    /* Not in the heap: only allowed if it was freed, or an intent to free
       or reclaim it was in flight. */
    ck_assert_msg(e->state == GONE || e->pending == 'f' || e->pending == 'r',
                  "round %d: record %llu (seq %llu, state %d) is missing",
                  round, (unsigned long long)e->id,
                  (unsigned long long)e->seq, e->state);
    e->state = GONE;
    e->pending = 0;
  }
  fmr_stats st = tu_stat(heap);
  ck_assert_uint_eq(st.records_committed, live);
  ck_assert_uint_eq(st.records_tombstone, tombs);
  ck_assert_int_eq(v->visited, (int)(live + tombs));
  /* Direct lookups agree with the iteration. */
  for (size_t i = 0; i < nents; i++) {
    fmr_record rec;
    fmr_record_init(&rec);
    if (ents[i].state == GONE) {
      if (i + 64 >= nents) /* the recent ones are enough */
        ck_assert_fmr(fmr_record_get(heap, ents[i].id, &rec), FMR_ENOTFOUND);
      continue;
    }
    ck_assert_fmr_ok(fmr_record_get(heap, ents[i].id, &rec));
    if (ents[i].state == COMMITTED) {
      char name[24];
      snprintf(name, sizeof name, "r%llu", (unsigned long long)ents[i].seq);
      ck_assert_fmr_ok(fmr_record_find(heap, name, &rec));
      ck_assert_uint_eq(rec.id, ents[i].id);
    }
  }
}

/* Keep the heap small: free the oldest records beyond KEEP. */
static void trim(size_t keep)
{
  size_t live = 0;
  for (size_t i = 0; i < nents; i++)
    live += ents[i].state != GONE;
  for (size_t i = 0; i < nents && live > keep; i++)
    if (ents[i].state != GONE) {
      ck_assert_fmr_ok(fmr_record_free(heap, ents[i].id));
      ents[i].state = GONE;
      live--;
    }
  /* Drop entries long gone from the model. */
  size_t j = 0;
  for (size_t i = 0; i < nents; i++)
    if (ents[i].state != GONE || i + 64 >= nents)
      ents[j++] = ents[i];
  nents = j;
}

START_TEST(test_kill9)
{
  int rounds = 30;
  const char *env = getenv("FMR_CRASH_ROUNDS");
  if (env && atoi(env) > 0)
    rounds = atoi(env);
  uint64_t seed = 20260101;
  env = getenv("FMR_CRASH_SEED");
  if (env && *env)
    seed = strtoull(env, NULL, 0);
  uint64_t rng = seed;
  fprintf(stderr, "crash: FMR_CRASH_SEED=%llu FMR_CRASH_ROUNDS=%d\n",
          (unsigned long long)seed, rounds);

  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "crash.fmr");
  ck_assert_fmr_ok(tu_open_sized(path, FMR_OPEN_CREATE, 64 * TU_KIB, 0, &heap));
  ck_assert_fmr_ok(fmr_close(heap));

  uint64_t total_commits = 0;
  int opened_rounds = 0;
  for (int round = 0; round < rounds; round++) {
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    fcntl(fds[1], F_SETPIPE_SZ, 1 << 20);
    struct child_args a = {path, fds[1], (uint32_t)(round + 1) * 1000000u,
                           tu_rand(&rng)};
    pid_t pid = tu_fork(crash_child, &a);
    close(fds[1]);

    /* Most rounds let the child open the heap (which may take a while:
       it recovers the previous round's crash) and then kill it 0 to 15 ms
       into its work; every fifth round kills it 0 to 30 ms after the
       fork, possibly in the middle of opening and recovering. */
    int opened = 0;
    long delay_us;
    if (round % 5 != 4) {
      struct msg first;
      ck_assert_int_eq(tu_read_all(fds[0], &first, sizeof first), 0);
      ck_assert_uint_eq(first.kind, M_OPENED);
      opened = 1;
      delay_us = (long)(tu_rand(&rng) % 15000);
    } else {
      delay_us = (long)(tu_rand(&rng) % 30000);
    }
    struct timespec ts = {0, delay_us * 1000};
    nanosleep(&ts, NULL);
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    int status = tu_wait(pid);
    /* The child must have been killed, not have failed a check. */
    ck_assert_msg(status == 256 + SIGKILL,
                  "round %d: child ended with status %d", round, status);

    struct verify_state v = {0};
    struct msg m;
    int rc;
    while ((rc = tu_read_all(fds[0], &m, sizeof m)) == 0) {
      struct ent *e;
      switch (m.kind) {
      case M_OPENED:
        opened = 1;
        break;
      case M_COMMIT_INTENT:
        v.pending_commit = m.seq;
        break;
      case M_COMMITTED:
        ck_assert_uint_eq(m.seq, v.pending_commit);
        add_ent(m.seq, m.id);
        v.pending_commit = 0;
        total_commits++;
        break;
      case M_FREE_INTENT:
      case M_TOMB_INTENT:
        e = find_id(m.id);
        ck_assert_ptr_nonnull(e);
        e->pending = (int)m.kind;
        break;
      case M_FREED:
        e = find_id(m.id);
        ck_assert_ptr_nonnull(e);
        e->state = GONE;
        e->pending = 0;
        break;
      case M_TOMBSTONED:
        e = find_id(m.id);
        ck_assert_ptr_nonnull(e);
        e->state = TOMBSTONE;
        e->pending = 0;
        break;
      case M_RECLAIM_INTENT:
        for (size_t i = 0; i < nents; i++)
          if (ents[i].state == TOMBSTONE)
            ents[i].pending = 'r';
        break;
      case M_RECLAIMED:
        for (size_t i = 0; i < nents; i++)
          if (ents[i].pending == 'r') {
            ents[i].state = GONE;
            ents[i].pending = 0;
          }
        break;
      default:
        ck_abort_msg("bad message %u", m.kind);
      }
    }
    ck_assert_int_eq(rc, 1); /* clean end of file, no torn message */
    close(fds[0]);
    opened_rounds += opened;

    ck_assert_fmr_ok(tu_open(path, 0, &heap));
    verify_heap(round, opened);
    verify_records(round, &v);
    if (round % 3 == 0)
      trim(300);
    ck_assert_fmr_ok(fmr_check(heap, NULL, NULL));
    ck_assert_fmr_ok(fmr_close(heap));
  }
  fprintf(stderr,
          "crash: %d rounds, %d with the writer at work, %llu commits "
          "reported\n",
          rounds, opened_rounds, (unsigned long long)total_commits);
  /* The kills hit a working writer often enough to mean something. */
  ck_assert_int_ge(opened_rounds, rounds / 2);
  ck_assert_uint_ge(total_commits, (uint64_t)rounds);

  /* A clean open at the end. */
  ck_assert_fmr_ok(tu_open(path, 0, &heap));
  ck_assert_int_eq(tu_stat(heap).recovered, 0);
  ck_assert_fmr_ok(fmr_check(heap, NULL, NULL));
  ck_assert_fmr_ok(fmr_close(heap));
  free(ents);
  free(path);
  free(dir);
}
END_TEST

static Suite *crash_suite(void)
{
  Suite *s = suite_create("crash");
  TCase *tc = tcase_create("core");
  int rounds = 30;
  const char *env = getenv("FMR_CRASH_ROUNDS");
  if (env && atoi(env) > 0)
    rounds = atoi(env);
  tu_timeout(tc, 60 + rounds * 2);
  tcase_add_test(tc, test_kill9);
  suite_add_tcase(s, tc);
  return s;
}

int main(void)
{
  return tu_main(crash_suite());
}
