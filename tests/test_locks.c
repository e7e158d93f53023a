/* test_locks.c: the process-wide registry lock and the heap lock.

   Copyright (C) 2026 The libfmalloc-r authors.
   This file is part of libfmalloc-r, free software under the GNU Lesser
   General Public License, version 2.1 or (at your option) any later version.

   This program carries its own copy of the library, compiled with the
   fault injector (tests/fault.c), whose pread hook holds an open of a
   chosen file in the middle of reading it, for as long as a test wants:
   - while one thread opens a file, opens and closes of other files in
     other threads go on, and fork() too (fmr_open held the registry lock
     for all of its work);
   - opens of the same file wait for the first one and share its heap,
     or, if it fails, open the file themselves;
   - a thread waiting for the heap lock sleeps: its CPU time is a small
     part of its wait (the lock was a spin lock that yielded).  */

#include <config.h>

#include "testutil.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fault.h"
#include "fmr-internal.h"

/* ------------------------------------------------------------------ */
/* The pread hook: the first pread of the file with inode gate_ino blocks
   until the test opens the gate.                                       */

static pthread_mutex_t gate_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static ino_t gate_ino;
static int gate_armed;   /* the next pread of gate_ino blocks */
static int gate_blocked; /* a pread is blocked at the gate */
static int gate_open;
static int gate_errno; /* the blocked pread then fails with this */

static int gate_hook(int fd)
{
  struct stat st;
  int err = 0;
  if (fstat(fd, &st) != 0)
    return 0;
  pthread_mutex_lock(&gate_mutex);
  if (gate_armed && st.st_ino == gate_ino) {
    gate_armed = 0;
    gate_blocked = 1;
    pthread_cond_broadcast(&gate_cond);
    while (!gate_open)
      pthread_cond_wait(&gate_cond, &gate_mutex);
    gate_blocked = 0;
    err = gate_errno;
  }
  pthread_mutex_unlock(&gate_mutex);
  return err;
}

/* Make the next pread of PATH's file block (then fail with ERR if not 0). */
static void gate_arm(const char *path, int err)
{
  struct stat st;
  ck_assert_int_eq(stat(path, &st), 0);
  pthread_mutex_lock(&gate_mutex);
  gate_ino = st.st_ino;
  gate_armed = 1;
  gate_blocked = 0;
  gate_open = 0;
  gate_errno = err;
  pthread_mutex_unlock(&gate_mutex);
  fault_set_pread_hook(gate_hook);
}

static void gate_wait_blocked(void)
{
  pthread_mutex_lock(&gate_mutex);
  while (!gate_blocked)
    pthread_cond_wait(&gate_cond, &gate_mutex);
  pthread_mutex_unlock(&gate_mutex);
}

static void gate_release(void)
{
  pthread_mutex_lock(&gate_mutex);
  gate_open = 1;
  gate_armed = 0;
  pthread_cond_broadcast(&gate_cond);
  pthread_mutex_unlock(&gate_mutex);
}

/* ------------------------------------------------------------------ */
/* Threads that open a heap and report when they are done.              */

struct opener {
  pthread_t thread;
  const char *path;
  unsigned flags;
  int close_it; /* close the heap before reporting */
  fmr_heap *heap;
  int rc;
  double ms; /* wall time of the open */
  pthread_mutex_t mutex;
  pthread_cond_t cond;
  int done;
};

static double now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void *opener_main(void *arg)
{
  struct opener *o = arg;
  fmr_heap *heap = NULL;
  double t0 = now_ms();
  int rc = tu_open(o->path, o->flags, &heap);
  double ms = now_ms() - t0;
  if (rc == FMR_OK && o->close_it)
    rc = fmr_close(heap);
  pthread_mutex_lock(&o->mutex);
  o->heap = heap;
  o->rc = rc;
  o->ms = ms;
  o->done = 1;
  pthread_cond_broadcast(&o->cond);
  pthread_mutex_unlock(&o->mutex);
  return NULL;
}

static void opener_start(struct opener *o, const char *path, unsigned flags,
                         int close_it)
{
  memset(o, 0, sizeof *o);
  o->path = path;
  o->flags = flags;
  o->close_it = close_it;
  o->rc = 1;
  pthread_mutex_init(&o->mutex, NULL);
  pthread_cond_init(&o->cond, NULL);
  ck_assert_int_eq(pthread_create(&o->thread, NULL, opener_main, o), 0);
}

/* Has O finished within MS milliseconds? */
static int opener_wait(struct opener *o, double ms)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  long long ns = (long long)ts.tv_nsec + (long long)(ms * 1e6);
  ts.tv_sec += (time_t)(ns / 1000000000);
  ts.tv_nsec = (long)(ns % 1000000000);
  pthread_mutex_lock(&o->mutex);
  while (!o->done)
    if (pthread_cond_timedwait(&o->cond, &o->mutex, &ts) == ETIMEDOUT)
      break;
  int done = o->done;
  pthread_mutex_unlock(&o->mutex);
  return done;
}

static void opener_join(struct opener *o)
{
  ck_assert_int_eq(pthread_join(o->thread, NULL), 0);
  pthread_mutex_destroy(&o->mutex);
  pthread_cond_destroy(&o->cond);
}

/* A closed heap at DIR/NAME with RECORDS small records. */
static char *make_heap(const char *dir, const char *name, int records)
{
  char *path = tu_path(dir, name);
  fmr_heap *heap;
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_CREATE, &heap));
  for (int i = 0; i < records; i++) {
    void *p;
    char rname[32];
    snprintf(rname, sizeof rname, "r%d", i);
    ck_assert_fmr_ok(fmr_malloc(heap, 64, &p));
    tu_fill(p, 64, (uint64_t)i);
    ck_assert_fmr_ok(fmr_commit(heap, p, 1, 64, rname, NULL, 0, 0, NULL));
  }
  ck_assert_fmr_ok(fmr_close(heap));
  return path;
}

/* ------------------------------------------------------------------ */

/* While one thread is in the middle of opening a heap, another opens and
   closes a different heap.  Before, the second waited for the registry
   lock as long as the first open took (here: for ever). */
START_TEST(test_open_other_file_meanwhile)
{
  char *dir = tu_tmpdir();
  char *big = make_heap(dir, "big.fmr", 100);
  char *small = make_heap(dir, "small.fmr", 1);
  struct opener a, b;

  gate_arm(big, 0);
  opener_start(&a, big, 0, 0);
  gate_wait_blocked();
  opener_start(&b, small, 0, 1);
  int b_done = opener_wait(&b, 5000);
  /* Let A go before any assertion, so that a failure leaves no thread
     blocked. */
  gate_release();
  opener_wait(&b, 60000);
  opener_join(&b);
  opener_wait(&a, 60000);
  opener_join(&a);
  ck_assert_msg(b_done, "the open of another file waited for the open of "
                        "big.fmr");
  ck_assert_fmr_ok(b.rc);
  ck_assert_fmr_ok(a.rc);
  fmr_record rec;
  fmr_record_init(&rec);
  ck_assert_fmr_ok(fmr_record_find(a.heap, "r99", &rec));
  ck_assert(tu_verify(rec.payload, 64, 99));
  ck_assert_uint_eq(tu_stat(a.heap).refcount, 1);
  ck_assert_fmr_ok(fmr_close(a.heap));
  fault_set_pread_hook(NULL);
  free(big);
  free(small);
  free(dir);
}
END_TEST

/* Opens of a file that another thread is opening wait for it and share
   its heap: one heap, refcount 3, one writer lock. */
START_TEST(test_same_file_waits_and_shares)
{
  char *dir = tu_tmpdir();
  char *big = make_heap(dir, "big.fmr", 10);
  struct opener a, b, c;

  gate_arm(big, 0);
  opener_start(&a, big, 0, 0);
  gate_wait_blocked();
  opener_start(&b, big, 0, 0);
  opener_start(&c, big, FMR_OPEN_CREATE, 0);
  /* They cannot finish before A does: they would have opened the file a
     second time (and met A's writer lock). */
  int early = opener_wait(&b, 200) || opener_wait(&c, 1);
  gate_release();
  opener_wait(&a, 60000);
  opener_wait(&b, 60000);
  opener_wait(&c, 60000);
  opener_join(&a);
  opener_join(&b);
  opener_join(&c);
  ck_assert_msg(!early, "an open did not wait for the open in progress");
  ck_assert_fmr_ok(a.rc);
  ck_assert_fmr_ok(b.rc);
  ck_assert_fmr_ok(c.rc);
  ck_assert_ptr_eq(a.heap, b.heap);
  ck_assert_ptr_eq(a.heap, c.heap);
  ck_assert_uint_eq(tu_stat(a.heap).refcount, 3);
  ck_assert_fmr_ok(fmr_close(a.heap));
  ck_assert_fmr_ok(fmr_close(b.heap));
  void *p;
  ck_assert_fmr_ok(fmr_malloc(c.heap, 100, &p));
  ck_assert_fmr_ok(fmr_commit(c.heap, p, 1, 100, "late", NULL, 0, 0, NULL));
  ck_assert_fmr_ok(fmr_check(c.heap, NULL, NULL));
  ck_assert_fmr_ok(fmr_close(c.heap));
  /* The writer lock went with the last close. */
  fmr_heap *h;
  ck_assert_fmr_ok(tu_open(big, 0, &h));
  fmr_record rec;
  fmr_record_init(&rec);
  ck_assert_fmr_ok(fmr_record_find(h, "late", &rec));
  ck_assert_fmr_ok(fmr_close(h));
  fault_set_pread_hook(NULL);
  free(big);
  free(dir);
}
END_TEST

/* The open that the others wait for fails: they wake and open the file
   themselves. */
START_TEST(test_failed_open_wakes_waiters)
{
  char *dir = tu_tmpdir();
  char *big = make_heap(dir, "big.fmr", 10);
  struct opener a, b;

  gate_arm(big, EIO);
  opener_start(&a, big, 0, 0);
  gate_wait_blocked();
  opener_start(&b, big, 0, 0);
  int early = opener_wait(&b, 200);
  gate_release();
  opener_wait(&a, 60000);
  opener_wait(&b, 60000);
  opener_join(&a);
  opener_join(&b);
  ck_assert(!early);
  ck_assert_fmr(a.rc, FMR_EIO);
  ck_assert_ptr_null(a.heap);
  ck_assert_fmr_ok(b.rc);
  ck_assert_uint_eq(tu_stat(b.heap).refcount, 1);
  fmr_record rec;
  fmr_record_init(&rec);
  ck_assert_fmr_ok(fmr_record_find(b.heap, "r9", &rec));
  ck_assert(tu_verify(rec.payload, 64, 9));
  ck_assert_fmr_ok(fmr_close(b.heap));
  fault_set_pread_hook(NULL);
  free(big);
  free(dir);
}
END_TEST

struct forker {
  const char *big, *small;
  atomic_int status; /* the child's exit status; -2 while it runs */
};

/* In the child: the heap being opened in the parent is not there, so an
   open meets the parent's writer lock; the other file opens read-only
   (the parent holds its writer lock too). */
static int child_opens(void *arg)
{
  struct forker *f = arg;
  fmr_heap *h;
  if (tu_open(f->big, 0, &h) != FMR_ELOCKED)
    return 1;
  if (tu_open(f->small, FMR_OPEN_READONLY, &h) != FMR_OK)
    return 2;
  if (fmr_close(h) != FMR_OK)
    return 3;
  return 0;
}

static void *fork_main(void *arg)
{
  struct forker *f = arg;
  pid_t pid = fork();
  if (pid == 0)
    _exit(child_opens(f));
  atomic_store(&f->status, pid < 0 ? -1 : tu_wait(pid));
  return NULL;
}

/* fork() while a thread is opening a heap: the fork handlers do not wait
   for the open (they waited for the registry lock, held by the open). */
START_TEST(test_fork_while_opening)
{
  char *dir = tu_tmpdir();
  char *big = make_heap(dir, "big.fmr", 10);
  char *small = make_heap(dir, "small.fmr", 1);
  struct opener a;
  struct forker f = {big, small, -2};
  pthread_t ft;

  /* A heap open across the fork, so the handlers have one to lock. */
  fmr_heap *other;
  ck_assert_fmr_ok(tu_open(small, 0, &other));
  gate_arm(big, 0);
  opener_start(&a, big, 0, 0);
  gate_wait_blocked();
  ck_assert_int_eq(pthread_create(&ft, NULL, fork_main, &f), 0);
  /* The forking thread reports through f.status; poll it. */
  double t0 = now_ms();
  while (atomic_load(&f.status) == -2 && now_ms() - t0 < 5000)
    usleep(10000);
  int forked = atomic_load(&f.status) != -2;
  gate_release();
  ck_assert_int_eq(pthread_join(ft, NULL), 0);
  opener_wait(&a, 60000);
  opener_join(&a);
  ck_assert_msg(forked, "fork() waited for an open in progress");
  ck_assert_int_eq(atomic_load(&f.status), 0);
  ck_assert_fmr_ok(a.rc);
  fmr_record rec;
  fmr_record_init(&rec);
  ck_assert_fmr_ok(fmr_record_find(a.heap, "r9", &rec));
  ck_assert_fmr_ok(fmr_check(a.heap, NULL, NULL));
  ck_assert_fmr_ok(fmr_close(a.heap));
  ck_assert_fmr_ok(fmr_close(other));
  fault_set_pread_hook(NULL);
  free(big);
  free(small);
  free(dir);
}
END_TEST

/* ------------------------------------------------------------------ */
/* The heap lock.                                                       */

struct holder {
  fmr_heap *heap;
  long hold_ms;
  atomic_int held;
};

static void *holder_main(void *arg)
{
  struct holder *h = arg;
  fmr_lock(h->heap);
  atomic_store(&h->held, 1);
  struct timespec ts = {h->hold_ms / 1000, (h->hold_ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
    ;
  fmr_unlock(h->heap);
  return NULL;
}

static double thread_cpu_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* A thread that waits about 200 ms for the heap lock sleeps: its CPU time
   is under 20 % of the wait.  Before, it spun and yielded: 176 ms of CPU
   in 229 ms of waiting behind an fmr_sync. */
START_TEST(test_lock_waiter_sleeps)
{
  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "lock.fmr");
  fmr_heap *heap;
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_CREATE, &heap));
  struct holder h = {heap, 200, 0};
  pthread_t ht;
  ck_assert_int_eq(pthread_create(&ht, NULL, holder_main, &h), 0);
  while (!atomic_load(&h.held))
    usleep(1000);
  double cpu0 = thread_cpu_ms(), t0 = now_ms();
  void *p;
  ck_assert_fmr_ok(fmr_malloc(heap, 64, &p)); /* waits for the lock */
  double cpu = thread_cpu_ms() - cpu0, wall = now_ms() - t0;
  ck_assert_int_eq(pthread_join(ht, NULL), 0);
  fprintf(stderr, "waiter: %.1f ms CPU in %.1f ms of waiting\n", cpu, wall);
  ck_assert_msg(wall > 100, "did not wait: %.1f ms", wall);
  ck_assert_msg(cpu < 0.2 * wall,
                "the waiter burned %.1f ms of CPU in %.1f ms", cpu, wall);
  ck_assert_fmr_ok(fmr_free(heap, p));
  ck_assert_fmr_ok(fmr_close(heap));
  free(path);
  free(dir);
}
END_TEST

struct counter {
  fmr_heap *heap;
  long rounds;
  long *value; /* changed only under the heap lock */
};

static void *count_main(void *arg)
{
  struct counter *c = arg;
  for (long i = 0; i < c->rounds; i++) {
    fmr_lock(c->heap);
    ++*c->value;
    if (i % 1000 == 0) /* now and then a long hold, so waiters sleep */
      usleep(50);
    fmr_unlock(c->heap);
  }
  return NULL;
}

/* Mutual exclusion with sleeping waiters: every increment counts. */
START_TEST(test_lock_excludes)
{
  char *dir = tu_tmpdir();
  char *path = tu_path(dir, "count.fmr");
  fmr_heap *heap;
  ck_assert_fmr_ok(tu_open(path, FMR_OPEN_CREATE, &heap));
  enum { T = 4 };
  long value = 0;
  struct counter c = {heap, 100000, &value};
  pthread_t th[T];
  for (int i = 0; i < T; i++)
    ck_assert_int_eq(pthread_create(&th[i], NULL, count_main, &c), 0);
  for (int i = 0; i < T; i++)
    ck_assert_int_eq(pthread_join(th[i], NULL), 0);
  ck_assert_int_eq(value, T * c.rounds);
  ck_assert_fmr_ok(fmr_close(heap));
  free(path);
  free(dir);
}
END_TEST

static Suite *locks_suite(void)
{
  Suite *s = suite_create("locks");
  TCase *tc = tcase_create("registry");
  tu_timeout(tc, 60);
  tcase_add_test(tc, test_open_other_file_meanwhile);
  tcase_add_test(tc, test_same_file_waits_and_shares);
  tcase_add_test(tc, test_failed_open_wakes_waiters);
  tcase_add_test(tc, test_fork_while_opening);
  suite_add_tcase(s, tc);
  tc = tcase_create("heap_lock");
  tu_timeout(tc, 60);
  tcase_add_test(tc, test_lock_waiter_sleeps);
  tcase_add_test(tc, test_lock_excludes);
  suite_add_tcase(s, tc);
  return s;
}

int main(void)
{
  return tu_main(locks_suite());
}
