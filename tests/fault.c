/* fault.c: the fault injector linked into test_faults (see
   FMR_FAULT_INJECTION in src/fmr-internal.h).  fault_arm(KIND, N) makes
   the Nth following call of that kind fail; fault_hits() says whether it
   did.

   Copyright (C) 2026 The libfmalloc-r authors.
   This file is part of libfmalloc-r, free software under the GNU Lesser
   General Public License, version 2.1 or (at your option) any later version.
 */

#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define FMR_FAULT_NO_MACROS
#include "fault.h"
#include "fmr-internal.h"

static int armed_kind = -1;
static long countdown;
static int hit;
static fault_sync_hook sync_hook;
static int mmap_errno = ENOMEM;
static fault_pread_hook pread_hook;

void fault_set_pread_hook(fault_pread_hook hook)
{
  pread_hook = hook;
}

void fault_set_mmap_errno(int err)
{
  mmap_errno = err;
}

void fault_set_sync_hook(fault_sync_hook hook)
{
  sync_hook = hook;
}

void fault_arm(int kind, long n)
{
  armed_kind = kind;
  countdown = n;
  hit = 0;
}

void fault_disarm(void)
{
  armed_kind = -1;
}

int fault_hit(void)
{
  return hit;
}

/* Should this call of KIND fail? */
static int fail(int kind)
{
  if (kind != armed_kind || countdown <= 0)
    return 0;
  if (--countdown > 0)
    return 0;
  hit = 1;
  armed_kind = -1;
  return 1;
}

void *fmr_fault_malloc(size_t size)
{
  if (fail(FMR_FAULT_MALLOC)) {
    errno = ENOMEM;
    return NULL;
  }
  return malloc(size);
}

void *fmr_fault_calloc(size_t nmemb, size_t size)
{
  if (fail(FMR_FAULT_MALLOC)) {
    errno = ENOMEM;
    return NULL;
  }
  return calloc(nmemb, size);
}

void *fmr_fault_realloc(void *ptr, size_t size)
{
  if (fail(FMR_FAULT_MALLOC)) {
    errno = ENOMEM;
    return NULL;
  }
  return realloc(ptr, size);
}

char *fmr_fault_strdup(const char *s)
{
  if (fail(FMR_FAULT_MALLOC)) {
    errno = ENOMEM;
    return NULL;
  }
  return strdup(s);
}

char *fmr_fault_strndup(const char *s, size_t n)
{
  if (fail(FMR_FAULT_MALLOC)) {
    errno = ENOMEM;
    return NULL;
  }
  return strndup(s, n);
}

int fmr_fault_open(const char *path, int flags, ...)
{
  mode_t mode = 0;
  if (flags & (O_CREAT | O_TMPFILE)) {
    va_list ap;
    va_start(ap, flags);
    mode = (mode_t)va_arg(ap, int);
    va_end(ap);
  }
  if (fail(FMR_FAULT_OPEN)) {
    errno = EMFILE;
    return -1;
  }
  return open(path, flags, mode);
}

int fmr_fault_mkostemp(char *template, int flags)
{
  if (fail(FMR_FAULT_OPEN)) {
    errno = EMFILE;
    return -1;
  }
  return mkostemp(template, flags);
}

void *fmr_fault_mmap(void *addr, size_t len, int prot, int flags, int fd,
                     off_t offset)
{
  if (fail(FMR_FAULT_MMAP)) {
    errno = mmap_errno;
    return MAP_FAILED;
  }
  return mmap(addr, len, prot, flags, fd, offset);
}

int fmr_fault_posix_fallocate(int fd, off_t offset, off_t len)
{
  if (fail(FMR_FAULT_FALLOCATE))
    return ENOSPC;
  return posix_fallocate(fd, offset, len);
}

int fmr_fault_msync(void *addr, size_t len, int flags)
{
  if (fail(FMR_FAULT_MSYNC)) {
    errno = EIO;
    return -1;
  }
  int rc = msync(addr, len, flags);
  if (rc == 0 && sync_hook != NULL)
    sync_hook(FMR_FAULT_MSYNC, addr, len, -1);
  return rc;
}

int fmr_fault_fsync(int fd)
{
  if (fail(FMR_FAULT_FSYNC)) {
    errno = EIO;
    return -1;
  }
  int rc = fsync(fd);
  if (rc == 0 && sync_hook != NULL)
    sync_hook(FMR_FAULT_FSYNC, NULL, 0, fd);
  return rc;
}

int fmr_fault_fdatasync(int fd)
{
  if (fail(FMR_FAULT_FSYNC)) {
    errno = EIO;
    return -1;
  }
  int rc = fdatasync(fd);
  if (rc == 0 && sync_hook != NULL)
    sync_hook(FMR_FAULT_FSYNC, NULL, 0, fd);
  return rc;
}

ssize_t fmr_fault_pread(int fd, void *buf, size_t count, off_t offset)
{
  if (pread_hook != NULL) {
    int err = pread_hook(fd);
    if (err != 0) {
      errno = err;
      return -1;
    }
  }
  if (fail(FMR_FAULT_PREAD)) {
    errno = EIO;
    return -1;
  }
  return pread(fd, buf, count, offset);
}

int fmr_fault_link(const char *from, const char *to)
{
  if (fail(FMR_FAULT_LINK)) {
    errno = EIO;
    return -1;
  }
  return link(from, to);
}

int fmr_fault_renameat2(int olddirfd, const char *oldpath, int newdirfd,
                        const char *newpath, unsigned int flags)
{
  if (fail(FMR_FAULT_LINK)) {
    errno = EIO;
    return -1;
  }
  return renameat2(olddirfd, oldpath, newdirfd, newpath, flags);
}
