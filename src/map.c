/* map.c: the small containers the library needs in process memory: an
   open-addressing hash map from nonzero uint64 keys to uint64 values
   (linear probing, deletion by backward shift, so no tombstones) and a
   growable uint64 array.

   Copyright (C) 2026 The libfmalloc-r authors.
   This file is part of libfmalloc-r, free software under the GNU Lesser
   General Public License, version 2.1 or (at your option) any later version.
 */

#include <config.h>

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "fmr-internal.h"

/* Fibonacci hashing: the top bits of the product depend on every bit of
   the key (block offsets are multiples of 64).  A sequential map (record
   ids, handed out in order) keeps neighbouring keys in neighbouring
   buckets instead, so loading a catalog in slot order touches memory in
   order. */
static inline size_t home(const struct fmr_map *map, uint64_t key,
                          unsigned shift, size_t mask)
{
  if (map->sequential)
    return (size_t)key & mask;
  return (size_t)((key * UINT64_C(0x9E3779B97F4A7C15)) >> shift);
}

void fmr_map_init(struct fmr_map *map)
{
  memset(map, 0, sizeof *map);
}

void fmr_map_destroy(struct fmr_map *map)
{
  bool sequential = map->sequential;
  free(map->entries);
  fmr_map_init(map);
  map->sequential = sequential;
}

uint64_t *fmr_map_get(const struct fmr_map *map, uint64_t key)
{
  if (map->entries == NULL)
    return NULL;
  for (size_t i = home(map, key, map->shift, map->mask);;
       i = (i + 1) & map->mask) {
    struct fmr_map_entry *e = &map->entries[i];
    if (e->key == key)
      return &e->value;
    if (e->key == 0)
      return NULL;
  }
}

void fmr_map_prefetch(const struct fmr_map *map, uint64_t key)
{
  if (map->entries != NULL)
    __builtin_prefetch(&map->entries[home(map, key, map->shift, map->mask)]);
}

/* Ask for transparent huge pages for the 2 MiB pages inside a large
   fresh allocation [P, P + BYTES): the index of a catalog of 10^6 records
   is 32 MiB, which in 4 KiB pages takes 8,192 page faults to touch. */
static void want_huge_pages(void *p, size_t bytes)
{
#ifdef MADV_HUGEPAGE
  const uintptr_t huge = (uintptr_t)2 << 20;
  uintptr_t from = ((uintptr_t)p + huge - 1) & ~(huge - 1);
  uintptr_t to = ((uintptr_t)p + bytes) & ~(huge - 1);
  if (to > from)
    madvise((void *)from, to - from, MADV_HUGEPAGE); /* only a hint */
#else
  (void)p;
  (void)bytes;
#endif
}

static int map_resize(struct fmr_map *map, size_t capacity)
{
  struct fmr_map_entry *entries = calloc(capacity, sizeof *entries);
  if (entries == NULL)
    return FMR_ENOMEM;
  if (capacity * sizeof *entries >= ((size_t)4 << 20))
    want_huge_pages(entries, capacity * sizeof *entries);
  size_t mask = capacity - 1;
  unsigned shift = 64 - (unsigned)__builtin_ctzll(capacity);
  if (map->entries != NULL) {
    for (size_t j = 0; j <= map->mask; j++) {
      if (map->entries[j].key == 0)
        continue;
      size_t i = home(map, map->entries[j].key, shift, mask);
      while (entries[i].key != 0)
        i = (i + 1) & mask;
      entries[i] = map->entries[j];
    }
  }
  free(map->entries);
  map->entries = entries;
  map->mask = mask;
  map->shift = shift;
  return FMR_OK;
}

int fmr_map_reserve(struct fmr_map *map, size_t n)
{
  size_t capacity = map->entries == NULL ? 64 : map->mask + 1;
  while ((map->count + n) * 2 > capacity)
    capacity *= 2;
  if (map->entries != NULL && capacity == map->mask + 1)
    return FMR_OK;
  return map_resize(map, capacity);
}

int fmr_map_put(struct fmr_map *map, uint64_t key, uint64_t value)
{
  /* Keep the load at or below one half. */
  if (map->entries == NULL || (map->count + 1) * 2 > map->mask + 1) {
    int rc = fmr_map_reserve(map, 1);
    if (rc != FMR_OK)
      return rc;
  }
  size_t i = home(map, key, map->shift, map->mask);
  while (map->entries[i].key != 0 && map->entries[i].key != key)
    i = (i + 1) & map->mask;
  if (map->entries[i].key == 0) {
    map->entries[i].key = key;
    map->count++;
  }
  map->entries[i].value = value;
  return FMR_OK;
}

bool fmr_map_remove(struct fmr_map *map, uint64_t key, uint64_t *value_out)
{
  if (map->entries == NULL)
    return false;
  size_t mask = map->mask;
  size_t i = home(map, key, map->shift, map->mask);
  while (map->entries[i].key != key) {
    if (map->entries[i].key == 0)
      return false;
    i = (i + 1) & mask;
  }
  if (value_out != NULL)
    *value_out = map->entries[i].value;
  /* Backward-shift deletion: move later members of the probe run into
     the hole when their home slot does not lie cyclically in (hole, j]. */
  size_t hole = i;
  for (size_t j = (i + 1) & mask; map->entries[j].key != 0;
       j = (j + 1) & mask) {
    size_t home_j = home(map, map->entries[j].key, map->shift, mask);
    bool stays = hole <= j ? (hole < home_j && home_j <= j)
                           : (hole < home_j || home_j <= j);
    if (!stays) {
      map->entries[hole] = map->entries[j];
      hole = j;
    }
  }
  map->entries[hole].key = 0;
  map->count--;
  return true;
}

int fmr_vec_push(struct fmr_vec *vec, uint64_t value)
{
  if (vec->count == vec->capacity) {
    size_t capacity = vec->capacity ? vec->capacity * 2 : 16;
    uint64_t *items = realloc(vec->items, capacity * sizeof *items);
    if (items == NULL)
      return FMR_ENOMEM;
    vec->items = items;
    vec->capacity = capacity;
  }
  vec->items[vec->count++] = value;
  return FMR_OK;
}

void fmr_vec_destroy(struct fmr_vec *vec)
{
  free(vec->items);
  memset(vec, 0, sizeof *vec);
}
