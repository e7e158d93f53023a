/* compact.c: fmr_compact, which rewrites a heap file without its free
   space and tombstones.

   Copyright (C) 2026 The libfmalloc-r authors.
   This file is part of libfmalloc-r, free software under the GNU Lesser
   General Public License, version 2.1 or (at your option) any later version.

   The old file stays untouched until the end: the new one is written
   beside it under a temporary name, made durable, and renamed over it in
   one step, so a crash at any point leaves either the old file or the new
   one at PATH, whole (and perhaps a PATH.compact-* file to remove).  The
   writer lock of the old file is held throughout, so no writer can change
   it meanwhile; readers that have it open keep reading the old file. */

#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fmr-internal.h"

static int cmp_u64(const void *a, const void *b)
{
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* Bytes the new file needs for the records of SRC: what it holds, plus
   the catalog segments that many records take. */
static uint64_t needed_size(const struct fmr_heap *src, uint64_t records)
{
  uint64_t bytes = FMR_HEAP_START + src->record_bytes + src->aux_bytes;
  uint64_t slots = FMR_SEGMENT_FIRST_SLOTS, total = 0;
  for (;;) {
    bytes += sizeof(struct fmr_disk_segment) +
             slots * sizeof(struct fmr_disk_record);
    total += slots;
    if (total >= records)
      break;
    slots = slots * 2 + 1;
    if (slots > FMR_SEGMENT_MAX_SLOTS)
      slots = FMR_SEGMENT_MAX_SLOTS;
  }
  return bytes;
}

/* fsync the directory holding PATH, so that a rename in it is durable. */
static int sync_directory(const char *path)
{
  char *copy = strdup(path);
  if (copy == NULL)
    return fmr_fail(FMR_ENOMEM, "out of memory");
  int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int rc = FMR_OK;
  if (fd < 0 || fsync(fd) != 0)
    rc = fmr_fail_errno(FMR_EIO, errno, "cannot sync the directory of %s",
                        path);
  if (fd >= 0)
    close(fd);
  free(copy);
  return rc;
}

FMR_EXPORT int fmr_compact(const char *path, uint64_t *before_out,
                           uint64_t *after_out)
{
  fmr_heap *src;
  struct fmr_heap *dst = NULL;
  uint64_t *ids = NULL;
  char *tmp = NULL;
  struct stat st;
  int rc;

  if (path == NULL || *path == '\0')
    return fmr_fail(FMR_EINVAL, "fmr_compact: a path is required");
  rc = fmr_open(path, NULL, &src);
  if (rc != FMR_OK)
    return rc;
  rc = fmr_heap_claim_for_compaction(src, path);
  if (rc != FMR_OK) {
    fmr_close(src);
    return rc;
  }
  fmr_lock(src);
  if (fstat(src->fd, &st) != 0) {
    rc = fmr_fail_errno(FMR_EIO, errno, "cannot stat %s", path);
    goto out;
  }

  /* Committed records in id order; tombstones are left behind. */
  size_t n = 0;
  ids = malloc((src->by_id.count + 1) * sizeof *ids);
  if (ids == NULL) {
    rc = fmr_fail(FMR_ENOMEM, "out of memory");
    goto out;
  }
  for (size_t i = 0; i <= src->by_id.mask && src->by_id.entries; i++) {
    const struct fmr_map_entry *e = &src->by_id.entries[i];
    if (e->key != 0 &&
        ((const struct fmr_disk_record *)fmr_at(src, e->value))->rec_state ==
            FMR_SLOT_COMMITTED)
      ids[n++] = e->key;
  }
  if (n > 1)
    qsort(ids, n, sizeof *ids, cmp_u64);

  size_t len = strlen(path) + 40;
  tmp = malloc(len);
  if (tmp == NULL) {
    rc = fmr_fail(FMR_ENOMEM, "out of memory");
    goto out;
  }
  uint64_t r = 0;
  if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
    r = (uint64_t)getpid();
  snprintf(tmp, len, "%s.compact-%016llx", path, (unsigned long long)r);
  rc = fmr_heap_create_private(tmp, st.st_mode & 07777, needed_size(src, n),
                               src->meta.meta_uuid, &dst);
  if (rc != FMR_OK)
    goto out;
  dst->next_id = src->next_id;
  for (size_t i = 0; i < n && rc == FMR_OK; i++)
    rc = fmr_catalog_copy_record(dst, src, *fmr_map_get(&src->by_id, ids[i]));
  if (rc == FMR_OK)
    rc = fmr_heap_finish_private(dst);
  uint64_t after = dst != NULL ? dst->file_size : 0;
  /* Close the new file before it takes the old one's name: its writer
     lock would make an open of PATH right after the rename fail with
     FMR_ELOCKED. */
  if (dst != NULL)
    fmr_heap_discard_private(dst);
  dst = NULL;
  /* The new file is whole and durable: put it in place in one step. */
  if (rc == FMR_OK && rename(tmp, path) != 0)
    rc = fmr_fail_errno(FMR_EIO, errno, "cannot rename %s to %s", tmp, path);
  if (rc == FMR_OK)
    rc = sync_directory(path);
  if (rc == FMR_OK) {
    if (before_out != NULL)
      *before_out = (uint64_t)st.st_size;
    if (after_out != NULL)
      *after_out = after;
  } else if (tmp != NULL) {
    unlink(tmp);
  }
out:
  if (dst != NULL)
    fmr_heap_discard_private(dst);
  fmr_unlock(src);
  int close_rc = fmr_close(src);
  if (rc == FMR_OK)
    rc = close_rc;
  free(ids);
  free(tmp);
  return rc;
}
