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

#include "fmr-internal.h"

static inline size_t slot_of(uint64_t key, size_t mask)
{
  /* Fibonacci hashing: block offsets are multiples of 64, so mix the
     high bits down before masking. */
  uint64_t h = key * UINT64_C(0x9E3779B97F4A7C15);
  return (size_t)(h ^ (h >> 29)) & mask;
}

void fmr_map_init(struct fmr_map *map)
{
  memset(map, 0, sizeof *map);
}

void fmr_map_destroy(struct fmr_map *map)
{
  free(map->keys);
  free(map->values);
  fmr_map_init(map);
}

uint64_t *fmr_map_get(const struct fmr_map *map, uint64_t key)
{
  if (map->keys == NULL)
    return NULL;
  for (size_t i = slot_of(key, map->mask);; i = (i + 1) & map->mask) {
    if (map->keys[i] == key)
      return &map->values[i];
    if (map->keys[i] == 0)
      return NULL;
  }
}

static int map_resize(struct fmr_map *map, size_t capacity)
{
  uint64_t *keys = calloc(capacity, sizeof *keys);
  uint64_t *values = malloc(capacity * sizeof *values);
  if (keys == NULL || values == NULL) {
    free(keys);
    free(values);
    return FMR_ENOMEM;
  }
  size_t mask = capacity - 1;
  if (map->keys != NULL) {
    for (size_t j = 0; j <= map->mask; j++) {
      if (map->keys[j] == 0)
        continue;
      size_t i = slot_of(map->keys[j], mask);
      while (keys[i] != 0)
        i = (i + 1) & mask;
      keys[i] = map->keys[j];
      values[i] = map->values[j];
    }
  }
  free(map->keys);
  free(map->values);
  map->keys = keys;
  map->values = values;
  map->mask = mask;
  return FMR_OK;
}

int fmr_map_reserve(struct fmr_map *map, size_t n)
{
  size_t capacity = map->keys == NULL ? 64 : map->mask + 1;
  while ((map->count + n) * 2 > capacity)
    capacity *= 2;
  if (map->keys != NULL && capacity == map->mask + 1)
    return FMR_OK;
  return map_resize(map, capacity);
}

int fmr_map_put(struct fmr_map *map, uint64_t key, uint64_t value)
{
  /* Keep the load at or below one half. */
  if (map->keys == NULL || (map->count + 1) * 2 > map->mask + 1) {
    size_t capacity = map->keys == NULL ? 64 : (map->mask + 1) * 2;
    int rc = map_resize(map, capacity);
    if (rc != FMR_OK)
      return rc;
  }
  size_t i = slot_of(key, map->mask);
  while (map->keys[i] != 0 && map->keys[i] != key)
    i = (i + 1) & map->mask;
  if (map->keys[i] == 0) {
    map->keys[i] = key;
    map->count++;
  }
  map->values[i] = value;
  return FMR_OK;
}

bool fmr_map_remove(struct fmr_map *map, uint64_t key, uint64_t *value_out)
{
  if (map->keys == NULL)
    return false;
  size_t mask = map->mask;
  size_t i = slot_of(key, mask);
  while (map->keys[i] != key) {
    if (map->keys[i] == 0)
      return false;
    i = (i + 1) & mask;
  }
  if (value_out != NULL)
    *value_out = map->values[i];
  /* Backward-shift deletion: move later members of the probe run into
     the hole when their home slot does not lie cyclically in (hole, j]. */
  size_t hole = i;
  for (size_t j = (i + 1) & mask; map->keys[j] != 0; j = (j + 1) & mask) {
    size_t home = slot_of(map->keys[j], mask);
    bool stays = hole <= j ? (hole < home && home <= j)
                           : (hole < home || home <= j);
    if (!stays) {
      map->keys[hole] = map->keys[j];
      map->values[hole] = map->values[j];
      hole = j;
    }
  }
  map->keys[hole] = 0;
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
