/* lock.c: the slow paths of the heap lock (fmr_lock in fmr-internal.h).

   Where Linux futexes exist (HAVE_FUTEX) the lock is one 32-bit word
   with three states, after Ulrich Drepper's "Futexes are tricky":
     0  free;
     1  taken, and no thread sleeps on it;
     2  taken, and threads may sleep on it: the unlock wakes one.
   fmr_lock exchanges 1 into the word; if it held 0, the lock is taken.
   fmr_unlock exchanges 0 into it; if it held 2, it wakes one sleeper.
   Otherwise both are one atomic exchange, as the spin lock they replace
   was one exchange and one store.

   The exchange of 1 can turn a 2 into a 1 while the lock is taken (the
   thread then comes here with SEEN == 2).  The sleepers still get their
   wake: this thread puts 2 back before it sleeps or takes the lock, so
   whoever unlocks after it (itself, or the owner it sleeps behind) sees
   2.  Only the wake of an unlock in between is lost, and that unlock
   has let this thread, which is awake, take the lock.

   Without futexes the lock is a pthread mutex and nothing here is used.

   Copyright (C) 2026 The libfmalloc-r authors.
   This file is part of libfmalloc-r, free software under the GNU Lesser
   General Public License, version 2.1 or (at your option) any later version.
 */

#include <config.h>

#include "fmr-internal.h"

#ifdef HAVE_FUTEX

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Tries of a free lock before sleeping: a critical section is usually
   tens of nanoseconds, much less than a sleep and a wake. */
#define SPINS 100

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

void fmr_lock_wait(struct fmr_heap *heap, int seen)
{
  _Atomic int *word = &heap->lock;

  /* While no thread sleeps (SEEN == 1), spin a little: the owner is
     likely to be done soon.  The compare-exchange never lowers a 2. */
  if (seen == 1) {
    for (int i = 0; i < SPINS; i++) {
      cpu_relax();
      int c = atomic_load_explicit(word, memory_order_relaxed);
      if (c == 2)
        break;
      if (c == 0 &&
          atomic_compare_exchange_weak_explicit(
              word, &c, 1, memory_order_acquire, memory_order_relaxed))
        return;
    }
  }
  /* Sleep until the word is 0.  The lock is taken with 2, since others
     may be asleep: the unlock then wakes one of them. */
  while (atomic_exchange_explicit(word, 2, memory_order_acquire) != 0)
    (void)syscall(SYS_futex, (int *)word, FUTEX_WAIT_PRIVATE, 2, NULL, NULL,
                  0);
}

void fmr_lock_wake(struct fmr_heap *heap)
{
  (void)syscall(SYS_futex, (int *)&heap->lock, FUTEX_WAKE_PRIVATE, 1, NULL,
                NULL, 0);
}

#endif /* HAVE_FUTEX */
