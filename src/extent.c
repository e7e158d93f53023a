/* extent.c: the free extents of a heap, kept in process memory.

   A two-level segregated fit (TLSF) index: free extents are binned by
   size, first by the power of two (first level) and then into sixteen
   equal sub-ranges (second level); bitmaps find a non-empty bin in
   constant time.  Two hash maps, by start and by end, find a freed
   extent's neighbours so that they merge at once.  Units are granules.

   Copyright (C) 2026 The libfmalloc-r authors.
   This file is part of libfmalloc-r, free software under the GNU Lesser
   General Public License, version 2.1 or (at your option) any later version.
 */

#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "fmr-internal.h"

static inline int log2_floor(uint64_t n)
{
  return 63 - __builtin_clzll(n);
}

/* Bin of an extent of N granules (N > 0). */
static inline void bin_of(uint64_t n, int *fl, int *sl)
{
  if (n < FMR_TLSF_SL) {
    *fl = 0;
    *sl = (int)n;
  } else {
    int t = log2_floor(n);
    *fl = t - FMR_TLSF_SL_BITS + 1;
    *sl = (int)((n >> (t - FMR_TLSF_SL_BITS)) ^ FMR_TLSF_SL);
  }
}

void fmr_extents_init(struct fmr_extents *ext)
{
  memset(ext, 0, sizeof *ext);
  fmr_map_init(&ext->by_start);
  fmr_map_init(&ext->by_end);
}

void fmr_extents_destroy(struct fmr_extents *ext)
{
  free(ext->nodes);
  fmr_map_destroy(&ext->by_start);
  fmr_map_destroy(&ext->by_end);
  fmr_extents_init(ext);
}

static uint32_t node_new(struct fmr_extents *ext)
{
  uint32_t idx;
  if (ext->node_free != 0) {
    idx = ext->node_free;
    ext->node_free = ext->nodes[idx].next;
    return idx;
  }
  if (ext->node_count + 1 >= ext->node_capacity) {
    uint32_t capacity = ext->node_capacity ? ext->node_capacity * 2 : 64;
    struct fmr_extent_node *nodes =
        realloc(ext->nodes, (size_t)capacity * sizeof *nodes);
    if (nodes == NULL)
      return 0;
    ext->nodes = nodes;
    ext->node_capacity = capacity;
    if (ext->node_count == 0)
      ext->node_count = 1; /* node 0 means "none" */
  }
  return ext->node_count++;
}

static void node_release(struct fmr_extents *ext, uint32_t idx)
{
  ext->nodes[idx].next = ext->node_free;
  ext->node_free = idx;
}

static void bin_push(struct fmr_extents *ext, uint32_t idx)
{
  int fl, sl;
  struct fmr_extent_node *node = &ext->nodes[idx];
  bin_of(node->len, &fl, &sl);
  node->prev = 0;
  node->next = ext->heads[fl][sl];
  if (node->next != 0)
    ext->nodes[node->next].prev = idx;
  ext->heads[fl][sl] = idx;
  ext->fl_bitmap |= UINT64_C(1) << fl;
  ext->sl_bitmap[fl] |= 1u << sl;
}

static void bin_unlink(struct fmr_extents *ext, uint32_t idx)
{
  int fl, sl;
  struct fmr_extent_node *node = &ext->nodes[idx];
  bin_of(node->len, &fl, &sl);
  if (node->prev != 0)
    ext->nodes[node->prev].next = node->next;
  else
    ext->heads[fl][sl] = node->next;
  if (node->next != 0)
    ext->nodes[node->next].prev = node->prev;
  if (ext->heads[fl][sl] == 0) {
    ext->sl_bitmap[fl] &= ~(1u << sl);
    if (ext->sl_bitmap[fl] == 0)
      ext->fl_bitmap &= ~(UINT64_C(1) << fl);
  }
}

int fmr_extents_insert(struct fmr_extents *ext, uint64_t start, uint64_t len)
{
  uint64_t *v;
  uint32_t idx;
  if (len == 0)
    return FMR_OK;
  ext->free_granules += len;
  /* Merge with the extent that ends where this one starts. */
  if ((v = fmr_map_get(&ext->by_end, start)) != NULL) {
    uint32_t left = (uint32_t)*v;
    bin_unlink(ext, left);
    fmr_map_remove(&ext->by_end, start, NULL);
    fmr_map_remove(&ext->by_start, ext->nodes[left].start, NULL);
    start = ext->nodes[left].start;
    len += ext->nodes[left].len;
    node_release(ext, left);
    ext->count--;
  }
  /* And with the one that starts where it ends. */
  if ((v = fmr_map_get(&ext->by_start, start + len)) != NULL) {
    uint32_t right = (uint32_t)*v;
    bin_unlink(ext, right);
    fmr_map_remove(&ext->by_start, start + len, NULL);
    fmr_map_remove(&ext->by_end, start + len + ext->nodes[right].len, NULL);
    len += ext->nodes[right].len;
    node_release(ext, right);
    ext->count--;
  }
  idx = node_new(ext);
  if (idx == 0)
    goto fail;
  ext->nodes[idx].start = start;
  ext->nodes[idx].len = len;
  if (fmr_map_put(&ext->by_start, start, idx) != FMR_OK)
    goto fail_node;
  if (fmr_map_put(&ext->by_end, start + len, idx) != FMR_OK) {
    fmr_map_remove(&ext->by_start, start, NULL);
    goto fail_node;
  }
  bin_push(ext, idx);
  ext->count++;
  return FMR_OK;

fail_node:
  node_release(ext, idx);
fail:
  /* The merged neighbours are lost from the index: the space leaks until
     the next open, which rebuilds free space from the catalog. */
  ext->free_granules -= len;
  return FMR_ENOMEM;
}

/* Remove LEN granules from the front of free extent IDX. */
static void take_front(struct fmr_extents *ext, uint32_t idx, uint64_t len)
{
  struct fmr_extent_node *node = &ext->nodes[idx];
  uint64_t start = node->start;
  bin_unlink(ext, idx);
  fmr_map_remove(&ext->by_start, start, NULL);
  ext->free_granules -= len;
  if (node->len == len) {
    fmr_map_remove(&ext->by_end, start + len, NULL);
    node_release(ext, idx);
    ext->count--;
  } else {
    /* Keep the tail free; its end, and so its by_end entry, is unchanged.
       by_start cannot need to grow: an entry was just removed. */
    node->start = start + len;
    node->len -= len;
    fmr_map_put(&ext->by_start, node->start, idx);
    bin_push(ext, idx);
  }
}

/* No bin above LEN's own holds an extent: look in LEN's bin itself, whose
   extents may be shorter than LEN or not, for one that fits (first fit;
   the list is walked only on this path, before the heap would grow).
   Without this a heap grows, or fmr_compact makes a larger file, while a
   free extent large enough for the request is there. */
static uint64_t first_fit_in_bin(struct fmr_extents *ext, uint64_t len)
{
  int fl, sl;
  bin_of(len, &fl, &sl);
  if (!(ext->sl_bitmap[fl] & (1u << sl)))
    return 0;
  for (uint32_t idx = ext->heads[fl][sl]; idx != 0;
       idx = ext->nodes[idx].next) {
    if (ext->nodes[idx].len >= len) {
      uint64_t start = ext->nodes[idx].start;
      take_front(ext, idx, len);
      return start;
    }
  }
  return 0;
}

uint64_t fmr_extents_take(struct fmr_extents *ext, uint64_t len)
{
  int fl, sl;
  uint64_t want = len;
  if (len == 0)
    return 0;
  /* Round up to the next bin boundary so that any extent in the bin
     found is large enough (good fit). */
  if (want >= FMR_TLSF_SL) {
    uint64_t round =
        (UINT64_C(1) << (log2_floor(want) - FMR_TLSF_SL_BITS)) - 1;
    if (want + round < want)
      return 0;
    want += round;
  }
  bin_of(want, &fl, &sl);
  uint32_t sl_map = ext->sl_bitmap[fl] & (~0u << sl);
  if (sl_map == 0) {
    uint64_t fl_map =
        fl + 1 < 64 ? ext->fl_bitmap & (~UINT64_C(0) << (fl + 1)) : 0;
    if (fl_map == 0)
      return first_fit_in_bin(ext, len);
    fl = __builtin_ctzll(fl_map);
    sl_map = ext->sl_bitmap[fl];
  }
  sl = __builtin_ctz(sl_map);
  uint32_t idx = ext->heads[fl][sl];
  uint64_t start = ext->nodes[idx].start;
  take_front(ext, idx, len);
  return start;
}

int fmr_extents_take_at(struct fmr_extents *ext, uint64_t start, uint64_t len)
{
  uint64_t *v = fmr_map_get(&ext->by_start, start);
  if (v == NULL || ext->nodes[*v].len < len || len == 0)
    return FMR_ENOTFOUND;
  take_front(ext, (uint32_t)*v, len);
  return FMR_OK;
}

uint64_t fmr_extents_largest(const struct fmr_extents *ext)
{
  uint64_t best = 0;
  if (ext->fl_bitmap == 0)
    return 0;
  int fl = log2_floor(ext->fl_bitmap);
  int sl = 31 - __builtin_clz(ext->sl_bitmap[fl]);
  for (uint32_t i = ext->heads[fl][sl]; i != 0; i = ext->nodes[i].next)
    if (ext->nodes[i].len > best)
      best = ext->nodes[i].len;
  return best;
}

void fmr_extents_walk(const struct fmr_extents *ext,
                      void (*fn)(uint64_t start, uint64_t len, void *arg),
                      void *arg)
{
  for (int fl = 0; fl < FMR_TLSF_FL; fl++)
    for (int sl = 0; sl < FMR_TLSF_SL; sl++)
      for (uint32_t i = ext->heads[fl][sl]; i != 0; i = ext->nodes[i].next)
        fn(ext->nodes[i].start, ext->nodes[i].len, arg);
}
