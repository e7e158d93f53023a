/* errors.c: error codes, their descriptions, and the per-thread detailed
   message of the last failure.

   Copyright (C) 2026 The libfmalloc-r authors.
   This file is part of libfmalloc-r, free software under the GNU Lesser
   General Public License, version 2.1 or (at your option) any later version.
 */

#include <config.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fmr-internal.h"

static _Thread_local char last_message[512];

FMR_EXPORT const char *fmr_version(void)
{
  return FMR_VERSION_STRING;
}

FMR_EXPORT const char *fmr_strerror(int code)
{
  switch (code) {
  case FMR_OK:
    return "success";
  case FMR_EINVAL:
    return "invalid argument";
  case FMR_ENOMEM:
    return "out of memory in this process";
  case FMR_EIO:
    return "system call failed (see the detailed message)";
  case FMR_ENOSPC:
    return "no space left: the disk is full or the file size limit was "
           "reached; free disk space or raise the limit";
  case FMR_EFULL:
    return "heap reached its maximum size; reopen it with a larger "
           "max_size";
  case FMR_ELOCKED:
    return "another process has the heap file open for writing; close it "
           "there or open read-only";
  case FMR_EEMPTY:
    return "file is empty, not a heap; open it with FMR_OPEN_CREATE to "
           "create a heap in it";
  case FMR_ENOTHEAP:
    return "file is not a libfmalloc-r heap (bad magic); it was left "
           "untouched";
  case FMR_EVERSION:
    return "heap file has an unsupported format version; use a newer "
           "libfmalloc-r";
  case FMR_EFEATURE:
    return "heap file uses features this libfmalloc-r lacks; use a newer "
           "libfmalloc-r";
  case FMR_EBYTEORDER:
    return "heap file was written on a machine of the other byte order";
  case FMR_EPAGESIZE:
    return "heap file records an unsupported page size";
  case FMR_ETRUNCATED:
    return "heap file is shorter than its header records: it was "
           "truncated or partly copied; restore it from a full copy";
  case FMR_ECHECKSUM:
    return "checksum mismatch: the heap file is damaged; run 'fmr check', "
           "and 'fmr recover' to drop damaged records";
  case FMR_ECORRUPT:
    return "heap file structure is inconsistent: the file is damaged; run "
           "'fmr check'";
  case FMR_ENOTFOUND:
    return "no such record";
  case FMR_EEXIST:
    return "record name already in use";
  case FMR_EREADONLY:
    return "heap is open read-only";
  case FMR_ESCRATCH:
    return "operation needs a persistent heap; scratch heaps have no "
           "catalog";
  case FMR_EBUSY:
    return "file is already open in this process in an incompatible mode";
  case FMR_ESTALE:
    return "record generation does not match: the record was changed";
  case FMR_ENAMETOOLONG:
    return "record name is longer than FMR_NAME_MAX bytes";
  case FMR_ENOENT:
    return "file does not exist; pass FMR_OPEN_CREATE to create it";
  case FMR_EACCES:
    return "permission denied";
  case FMR_ECOMMITTED:
    return "block is the payload of a committed record; free the record "
           "instead";
  case FMR_ENOTOWNED:
    return "pointer is not a live block of this heap";
  case FMR_ETOOBIG:
    return "requested size is too large";
  case FMR_EFORKED:
    return "heap was opened before fork(); open the file again in this "
           "process";
  case FMR_EGONE:
    return "the heap file was deleted or replaced after it was opened: "
           "changes would be lost when the heap closes; open the path "
           "again";
  case FMR_EREPLACED:
    return "the heap file was replaced at its path (compacted?) after this "
           "reader opened it: it sees nothing new; close it and open the "
           "path again";
  case FMR_EDANGLING:
    return "the path is a symbolic link to a file that does not exist; "
           "no heap is created through it: create the target or remove the "
           "link";
  default:
    return "unknown error code";
  }
}

FMR_EXPORT const char *fmr_errmsg(void)
{
  return last_message;
}

void fmr_clear_error(void)
{
  last_message[0] = '\0';
}

static void set_message(int code, int errnum, const char *fmt, va_list ap)
{
  size_t n;
  int w = vsnprintf(last_message, sizeof last_message, fmt, ap);
  if (w < 0)
    last_message[0] = '\0';
  n = strlen(last_message);
  if (errnum != 0 && n < sizeof last_message)
    snprintf(last_message + n, sizeof last_message - n, ": %s",
             strerror(errnum));
  else if (errnum == 0 && n == 0)
    snprintf(last_message, sizeof last_message, "%s", fmr_strerror(code));
}

int fmr_fail(int code, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  set_message(code, 0, fmt, ap);
  va_end(ap);
  return code;
}

int fmr_fail_errno(int code, int errnum, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  set_message(code, errnum, fmt, ap);
  va_end(ap);
  return code;
}
