/* alloc.c: blocks of a heap: allocation, free, reallocation and the
   translation between addresses and file offsets.

   Every block is a whole number of 64-byte granules at a 64-byte aligned
   offset.  Live blocks are kept in heap->blocks (offset -> size | flags);
   free space is in heap->extents.  Small blocks freed by the caller go to a
   per-class cache (still in heap->blocks, flagged FMR_BLOCK_CACHED) and are
   handed out again in constant time.  Nothing here is written to the file:
   free space is rebuilt from the catalog at open.

   Copyright (C) 2026 The libfmalloc-r authors.
   This file is part of libfmalloc-r, free software under the GNU Lesser
   General Public License, version 2.1 or (at your option) any later version.
 */

#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "fmr-internal.h"

uint64_t fmr_round_size(uint64_t size)
{
  if (size == 0)
    size = 1;
  if (size > UINT64_MAX - (FMR_GRANULE - 1))
    return 0;
  return (size + FMR_GRANULE - 1) & ~(uint64_t)(FMR_GRANULE - 1);
}

static inline bool is_small(uint64_t bytes)
{
  return bytes <= FMR_SMALL_MAX;
}

static inline size_t class_of(uint64_t bytes)
{
  return (size_t)(bytes >> FMR_GRANULE_SHIFT) - 1;
}

/* Return every cached small block to the extent allocator. */
void fmr_block_flush_cache(struct fmr_heap *heap)
{
  for (size_t c = 0; c < FMR_SMALL_CLASSES; c++) {
    struct fmr_vec *cache = &heap->small_cache[c];
    uint64_t bytes = (uint64_t)(c + 1) * FMR_GRANULE;
    for (size_t i = 0; i < cache->count; i++) {
      uint64_t offset = cache->items[i];
      fmr_map_remove(&heap->blocks, offset, NULL);
      fmr_extents_insert(&heap->extents, offset >> FMR_GRANULE_SHIFT,
                         bytes >> FMR_GRANULE_SHIFT);
    }
    heap->cached_bytes -= (uint64_t)cache->count * bytes;
    cache->count = 0;
  }
}

void fmr_heap_release_pending(struct fmr_heap *heap, const uint64_t *v,
                              size_t n)
{
  for (size_t i = 0; i + 1 < n; i += 2) {
    fmr_extents_insert(&heap->extents, v[i] >> FMR_GRANULE_SHIFT,
                       v[i + 1] >> FMR_GRANULE_SHIFT);
    heap->pending_bytes -= v[i + 1];
  }
}

/* A superseded slot still claims its old payload and aux block on disk
   until the store that empties it is durable: were that space reused
   first, a power loss that kept the later free of the record's live slot
   but lost the emptying would bring the old version back over another
   record's bytes (issue 10, item 1).  So the slots are emptied and their
   pages flushed before the space is released. */
int fmr_heap_synced(struct fmr_heap *heap)
{
  fmr_catalog_empty_slots(heap, heap->superseded.items,
                          heap->superseded.count);
  int rc = fmr_catalog_flush_slots(heap, heap->superseded.items,
                                   heap->superseded.count);
  heap->superseded.count = 0;
  if (rc != FMR_OK)
    return rc;
  fmr_heap_release_pending(heap, heap->pending.items, heap->pending.count);
  heap->pending.count = 0;
  return FMR_OK;
}

/* Take a cached small block of BYTES, if there is one. */
static inline bool cache_pop(struct fmr_heap *heap, uint64_t bytes,
                             bool tracked, uint64_t *offset_out)
{
  struct fmr_vec *cache = &heap->small_cache[class_of(bytes)];
  if (cache->count == 0)
    return false;
  uint64_t offset = cache->items[--cache->count];
  if (tracked)
    *fmr_map_get(&heap->blocks, offset) = bytes;
  else
    fmr_map_remove(&heap->blocks, offset, NULL);
  heap->cached_bytes -= bytes;
  heap->used_bytes += bytes;
  *offset_out = offset;
  return true;
}

int fmr_block_alloc(struct fmr_heap *heap, uint64_t size, bool tracked,
                    uint64_t *offset_out)
{
  uint64_t bytes = fmr_round_size(size);
  uint64_t granule;
  int rc;

  if (bytes == 0 || bytes > SIZE_MAX)
    return fmr_fail(FMR_ETOOBIG, "cannot allocate %llu bytes",
                    (unsigned long long)size);
  if (bytes > heap->reserved - FMR_HEAP_START)
    return fmr_fail(FMR_EFULL,
                    "cannot allocate %llu bytes: larger than the heap's "
                    "maximum size of %llu bytes; reopen it with a larger "
                    "max_size",
                    (unsigned long long)size,
                    (unsigned long long)heap->reserved);

  if (is_small(bytes) && cache_pop(heap, bytes, tracked, offset_out))
    return FMR_OK;

  /* Make room in the index before taking space, so that a failure leaves
     nothing to undo. */
  if (tracked && fmr_map_reserve(&heap->blocks, 1) != FMR_OK)
    return fmr_fail(FMR_ENOMEM, "out of memory indexing heap blocks");

  for (int attempt = 0;; attempt++) {
    granule = fmr_extents_take(&heap->extents, bytes >> FMR_GRANULE_SHIFT);
    if (granule != 0)
      break;
    if (attempt == 0 && heap->cached_bytes > 0) {
      fmr_block_flush_cache(heap);
      continue;
    }
    if (attempt <= 1 && heap->pending_bytes > 0 &&
        (heap->pending_bytes >= bytes ||
         heap->pending_bytes >= heap->file_size / 4)) {
      /* Space freed from committed records becomes reusable only once the
         free is durable: sync, then reuse it instead of growing. */
      rc = fmr_heap_msync(heap, 0, heap->file_size);
      if (rc == FMR_OK)
        rc = fmr_heap_synced(heap);
      if (rc != FMR_OK)
        return rc;
      attempt = 1;
      continue;
    }
    rc = fmr_heap_grow(heap, bytes);
    if (rc != FMR_OK)
      return rc;
    attempt = 2;
  }

  uint64_t offset = granule << FMR_GRANULE_SHIFT;
  if (tracked)
    fmr_map_put(&heap->blocks, offset, bytes); /* room was made above */
  heap->used_bytes += bytes;
  *offset_out = offset;
  return FMR_OK;
}

/* Free the tracked block whose entry in heap->blocks is V. */
static void free_tracked(struct fmr_heap *heap, uint64_t offset, uint64_t *v)
{
  uint64_t bytes = *v & ~(uint64_t)FMR_BLOCK_FLAGS;
  heap->used_bytes -= bytes;
  if (is_small(bytes)) {
    struct fmr_vec *cache = &heap->small_cache[class_of(bytes)];
    if (cache->count < cache->capacity) {
      cache->items[cache->count++] = offset;
    } else if (cache->count >= FMR_SMALL_CACHE_MAX ||
               fmr_vec_push(cache, offset) != FMR_OK) {
      goto to_extents;
    }
    *v = bytes | FMR_BLOCK_CACHED;
    heap->cached_bytes += bytes;
    return;
  }
to_extents:
  fmr_map_remove(&heap->blocks, offset, NULL);
  fmr_extents_insert(&heap->extents, offset >> FMR_GRANULE_SHIFT,
                     bytes >> FMR_GRANULE_SHIFT);
}

void fmr_block_free(struct fmr_heap *heap, uint64_t offset)
{
  uint64_t *v = fmr_map_get(&heap->blocks, offset);
  if (v != NULL)
    free_tracked(heap, offset, v);
}

void fmr_block_release(struct fmr_heap *heap, uint64_t offset, uint64_t bytes,
                       bool deferred)
{
  heap->used_bytes -= bytes;
  if (deferred && heap->mode == FMR_MODE_PERSISTENT) {
    if (fmr_vec_push(&heap->pending, offset) == FMR_OK) {
      if (fmr_vec_push(&heap->pending, bytes) == FMR_OK) {
        heap->pending_bytes += bytes;
        return;
      }
      heap->pending.count--;
    }
    /* Out of memory: the space stays unused until the next open. */
    return;
  }
  fmr_extents_insert(&heap->extents, offset >> FMR_GRANULE_SHIFT,
                     bytes >> FMR_GRANULE_SHIFT);
}

/* Offset of PTR if it is inside the heap's mapping, else 0. */
static uint64_t offset_of(const struct fmr_heap *heap, const void *ptr)
{
  uintptr_t p = (uintptr_t)ptr, b = (uintptr_t)heap->base;
  uint64_t mapped = atomic_load_explicit(&heap->mapped, memory_order_acquire);
  if (p < b + FMR_HEAP_START || p >= b + mapped)
    return 0;
  return (uint64_t)(p - b);
}

/* The caller's live block at PTR: sets *OFFSET and returns a pointer to
   its size, or sets the error (FMR_ECOMMITTED for a record's payload,
   else FMR_ENOTOWNED) in *RC and returns NULL. */
static uint64_t *live_block(struct fmr_heap *heap, const void *ptr,
                            uint64_t *offset, int *rc)
{
  uint64_t off = offset_of(heap, ptr);
  uint64_t *v = off != 0 && off % FMR_GRANULE == 0
                    ? fmr_map_get(&heap->blocks, off)
                    : NULL;
  if (v != NULL && !(*v & FMR_BLOCK_CACHED)) {
    *offset = off;
    return v;
  }
  if (v == NULL && off != 0 && fmr_catalog_payload_bytes(heap, off) != 0)
    *rc = fmr_fail(FMR_ECOMMITTED,
                   "block %p is the payload of a committed record; free the "
                   "record instead",
                   ptr);
  else
    *rc = fmr_fail(FMR_ENOTOWNED, "pointer %p is not a live block of heap %s",
                   ptr, heap->path);
  return NULL;
}

FMR_EXPORT int fmr_malloc(fmr_heap *heap, size_t size, void **ptr_out)
{
  uint64_t offset;
  int rc;
  if (heap == NULL || ptr_out == NULL)
    return fmr_fail(FMR_EINVAL, "fmr_malloc: heap and ptr_out are required");
  fmr_lock(heap);
  rc = fmr_heap_writable(heap);
  if (rc == FMR_OK) {
    /* Fast path: a cached small block. */
    uint64_t bytes = fmr_round_size(size);
    if (!(bytes != 0 && is_small(bytes) &&
          cache_pop(heap, bytes, true, &offset)))
      rc = fmr_block_alloc(heap, size, true, &offset);
  }
  if (rc == FMR_OK)
    *ptr_out = fmr_at(heap, offset);
  fmr_unlock(heap);
  return rc;
}

FMR_EXPORT int fmr_calloc(fmr_heap *heap, size_t nmemb, size_t size,
                          void **ptr_out)
{
  void *ptr;
  int rc;
  if (size != 0 && nmemb > SIZE_MAX / size)
    return fmr_fail(FMR_ETOOBIG, "fmr_calloc: %zu * %zu bytes overflows",
                    nmemb, size);
  rc = fmr_malloc(heap, nmemb * size, &ptr);
  if (rc == FMR_OK) {
    memset(ptr, 0, nmemb * size);
    *ptr_out = ptr;
  }
  return rc;
}

/* Try to grow the block at OFFSET from OLD to NEW bytes in place, taking
   the free extent that follows it. */
static bool grow_in_place(struct fmr_heap *heap, uint64_t offset, uint64_t old,
                          uint64_t new)
{
  uint64_t end = (offset + old) >> FMR_GRANULE_SHIFT;
  uint64_t need = (new - old) >> FMR_GRANULE_SHIFT;
  uint64_t *v = fmr_map_get(&heap->extents.by_start, end);
  if (v == NULL || heap->extents.nodes[*v].len < need)
    return false;
  return fmr_extents_take_at(&heap->extents, end, need) == FMR_OK;
}

FMR_EXPORT int fmr_realloc(fmr_heap *heap, void *ptr, size_t size,
                           void **ptr_out)
{
  uint64_t offset, *v, old, bytes;
  int rc;
  if (heap == NULL || ptr_out == NULL)
    return fmr_fail(FMR_EINVAL, "fmr_realloc: heap and ptr_out are required");
  if (ptr == NULL)
    return fmr_malloc(heap, size, ptr_out);
  fmr_lock(heap);
  rc = fmr_heap_writable(heap);
  if (rc != FMR_OK)
    goto out;
  if ((v = live_block(heap, ptr, &offset, &rc)) == NULL)
    goto out;
  old = *v;
  bytes = fmr_round_size(size);
  if (bytes == 0 || bytes > heap->reserved - FMR_HEAP_START) {
    rc = bytes == 0 ? fmr_fail(FMR_ETOOBIG,
                               "fmr_realloc: %zu bytes is too "
                               "large",
                               size)
                    : fmr_fail(FMR_EFULL,
                               "fmr_realloc: %zu bytes is more "
                               "than the heap's maximum size",
                               size);
    goto out;
  }
  if (bytes == old || (bytes < old && is_small(old))) {
    *ptr_out = ptr;
    goto out;
  }
  if (bytes < old) {
    /* Shrink a large block: give the tail back. */
    *v = bytes;
    heap->used_bytes -= old - bytes;
    /* The tail may border a free extent: insert merges them. */
    fmr_extents_insert(&heap->extents, (offset + bytes) >> FMR_GRANULE_SHIFT,
                       (old - bytes) >> FMR_GRANULE_SHIFT);
    *ptr_out = ptr;
    goto out;
  }
  if (!is_small(bytes) && grow_in_place(heap, offset, old, bytes)) {
    *fmr_map_get(&heap->blocks, offset) = bytes;
    heap->used_bytes += bytes - old;
    *ptr_out = ptr;
    goto out;
  }
  uint64_t new_offset;
  rc = fmr_block_alloc(heap, bytes, true, &new_offset);
  if (rc != FMR_OK)
    goto out;
  memcpy(fmr_at(heap, new_offset), fmr_at(heap, offset), old);
  /* The entry may have moved when the new block was indexed. */
  fmr_block_free(heap, offset);
  *ptr_out = fmr_at(heap, new_offset);
out:
  fmr_unlock(heap);
  return rc;
}

FMR_EXPORT int fmr_free(fmr_heap *heap, void *ptr)
{
  uint64_t offset;
  int rc = FMR_OK;
  if (ptr == NULL)
    return FMR_OK;
  if (heap == NULL)
    return fmr_fail(FMR_EINVAL, "fmr_free: heap is required");
  fmr_lock(heap);
  rc = fmr_heap_writable(heap);
  if (rc != FMR_OK)
    goto out;
  uint64_t *v = live_block(heap, ptr, &offset, &rc);
  if (v != NULL)
    free_tracked(heap, offset, v);
out:
  fmr_unlock(heap);
  return rc;
}

FMR_EXPORT size_t fmr_usable_size(fmr_heap *heap, const void *ptr)
{
  uint64_t offset, *v, off;
  size_t size = 0;
  int rc;
  if (heap == NULL || ptr == NULL)
    return 0;
  fmr_lock(heap);
  if ((v = live_block(heap, ptr, &offset, &rc)) != NULL)
    size = (size_t)*v;
  else if ((off = offset_of(heap, ptr)) != 0)
    size = (size_t)fmr_catalog_payload_bytes(heap, off);
  fmr_clear_error();
  fmr_unlock(heap);
  return size;
}

FMR_EXPORT uint64_t fmr_ptr_to_offset(const fmr_heap *heap, const void *ptr)
{
  if (heap == NULL || ptr == NULL)
    return 0;
  return offset_of(heap, ptr);
}

FMR_EXPORT void *fmr_offset_to_ptr(const fmr_heap *heap, uint64_t offset)
{
  if (heap == NULL || offset < FMR_HEAP_START ||
      offset >= atomic_load_explicit(&heap->mapped, memory_order_acquire))
    return NULL;
  return heap->base + offset;
}
