/* fault.h: the fault injector of test_faults (fault.c).

   Copyright (C) 2026 The libfmalloc-r authors.
   This file is part of libfmalloc-r, free software under the GNU Lesser
   General Public License, version 2.1 or (at your option) any later version.
 */

#ifndef FMR_TEST_FAULT_H
#define FMR_TEST_FAULT_H

#include <stddef.h>

/* Make the Nth following call of KIND (enum fmr_fault_kind) fail. */
void fault_arm(int kind, long n);
void fault_disarm(void);
/* Did the armed call fail since fault_arm? */
int fault_hit(void);
/* The errno of an injected mmap failure (ENOMEM unless set). */
void fault_set_mmap_errno(int err);

/* Called after every successful msync (ADDR, LEN) or fsync/fdatasync
   (FD) of the library: its durability points. */
typedef void (*fault_sync_hook)(int kind, void *addr, size_t len, int fd);
void fault_set_sync_hook(fault_sync_hook hook);

/* Called before every pread of the library, from the thread that makes
   it: a test can hold an open up there.  A nonzero return makes the pread
   fail with that errno. */
typedef int (*fault_pread_hook)(int fd);
void fault_set_pread_hook(fault_pread_hook hook);

#endif
