/* check.c: the full consistency check (fmr_check).

   It reads the file afresh, independently of the indexes built at open:
   meta page, every catalog segment and record slot, the extents they hold
   (in bounds, no overlaps, no two live records with one id or one name).
   For a writer it then compares the file with the allocator in memory:
   every extent of the catalog is a live block with the right flags, and
   live blocks, cached blocks, blocks awaiting a sync and free extents tile
   the heap exactly, so used plus free is the heap's size.

   Copyright (C) 2026 The libfmalloc-r authors.
   This file is part of libfmalloc-r, free software under the GNU Lesser
   General Public License, version 2.1 or (at your option) any later version.
 */

#include <config.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fmr-internal.h"

struct checker {
  struct fmr_heap *heap;
  fmr_report_fn report;
  void *arg;
  uint64_t problems;
  struct piece {
    uint64_t offset, bytes, kind;
  } * pieces;
  size_t count, capacity;
  uint64_t catalog_bytes;
  bool nomem;
  /* A reader collects its problems here (NUL-separated) instead of
     reporting them: while a writer changes the file, only those that
     persist are reported (check_reader). */
  bool collect;
  char *found;
  size_t found_len, found_cap;
};

enum { KIND_SEGMENT = 1, KIND_PAYLOAD, KIND_AUX, KIND_BLOCK, KIND_FREE };

static const char *kind_name(uint64_t kind)
{
  switch (kind) {
  case KIND_SEGMENT:
    return "catalog segment";
  case KIND_PAYLOAD:
    return "record payload";
  case KIND_AUX:
    return "record name/metadata block";
  case KIND_BLOCK:
    return "block";
  default:
    return "free extent";
  }
}

static void problem(struct checker *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void problem(struct checker *c, const char *fmt, ...)
{
  char buf[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  c->problems++;
  if (c->collect) {
    size_t len = strlen(buf) + 1;
    if (c->found_len + len > c->found_cap) {
      size_t cap = c->found_cap ? c->found_cap * 2 : 4096;
      while (cap < c->found_len + len)
        cap *= 2;
      char *p = realloc(c->found, cap);
      if (p == NULL) {
        c->nomem = true;
        return;
      }
      c->found = p;
      c->found_cap = cap;
    }
    memcpy(c->found + c->found_len, buf, len);
    c->found_len += len;
  } else if (c->report != NULL) {
    c->report(buf, c->arg);
  }
}

static void add_piece(struct checker *c, uint64_t offset, uint64_t bytes,
                      uint64_t kind)
{
  if (c->count == c->capacity) {
    size_t n = c->capacity ? c->capacity * 2 : 1024;
    struct piece *p = realloc(c->pieces, n * sizeof *p);
    if (p == NULL) {
      c->nomem = true;
      return;
    }
    c->pieces = p;
    c->capacity = n;
  }
  c->pieces[c->count++] = (struct piece){offset, bytes, kind};
}

static int cmp_piece(const void *a, const void *b)
{
  const struct piece *x = a, *y = b;
  return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Sort the pieces and report overlaps; with TILE also gaps, and the end. */
static void check_pieces(struct checker *c, bool tile)
{
  struct fmr_heap *heap = c->heap;
  uint64_t at = FMR_HEAP_START;
  size_t last = SIZE_MAX;
  qsort(c->pieces, c->count, sizeof *c->pieces, cmp_piece);
  for (size_t i = 0; i < c->count; i++) {
    const struct piece *p = &c->pieces[i];
    if (p->offset < FMR_HEAP_START)
      problem(c, "%s at %llu lies inside the meta pages", kind_name(p->kind),
              (unsigned long long)p->offset);
    else if (p->offset < at && last != SIZE_MAX)
      problem(c, "%s at %llu (%llu bytes) overlaps %s at %llu",
              kind_name(p->kind), (unsigned long long)p->offset,
              (unsigned long long)p->bytes, kind_name(c->pieces[last].kind),
              (unsigned long long)c->pieces[last].offset);
    else if (tile && p->offset > at)
      problem(c, "bytes %llu to %llu are neither used nor free",
              (unsigned long long)at, (unsigned long long)p->offset);
    if (p->offset + p->bytes > heap->file_size)
      problem(c, "%s at %llu runs past the end of the heap",
              kind_name(p->kind), (unsigned long long)p->offset);
    if (p->offset + p->bytes > at) {
      at = p->offset + p->bytes;
      last = i;
    }
  }
  if (tile && at < heap->file_size)
    problem(c, "bytes %llu to %llu at the end are neither used nor free",
            (unsigned long long)at, (unsigned long long)heap->file_size);
}

/* An extent of the catalog is the catalog's alone: the caller's blocks
   (heap->blocks) never include it.  Overlaps are found when the pieces are
   tiled; this names the cause. */
static void catalog_extent(struct checker *c, uint64_t offset, uint64_t bytes,
                           uint64_t kind)
{
  add_piece(c, offset, bytes, kind);
  c->catalog_bytes += bytes;
  if (!c->heap->readonly && fmr_map_get(&c->heap->blocks, offset) != NULL)
    problem(c, "%s at %llu is also listed as a block of the caller",
            kind_name(kind), (unsigned long long)offset);
}

static bool in_vec(const struct fmr_vec *v, uint64_t x)
{
  for (size_t i = 0; i < v->count; i++)
    if (v->items[i] == x)
      return true;
  return false;
}

static void scan_catalog(struct checker *c)
{
  struct fmr_heap *heap = c->heap;
  struct fmr_map ids, names;
  uint64_t committed = 0, tombstones = 0;
  fmr_map_init(&ids);
  fmr_map_init(&names);

  for (size_t s = 0; s < heap->segments.count; s++) {
    uint64_t offset = heap->segments.items[s];
    const struct fmr_disk_segment *seg = fmr_at(heap, offset);
    if (memcmp(seg->seg_magic, FMR_SEGMENT_MAGIC, FMR_MAGIC_SIZE) != 0 ||
        seg->seg_self != offset ||
        seg->seg_checksum != fmr_segment_checksum(seg)) {
      problem(c, "catalog segment at %llu is damaged",
              (unsigned long long)offset);
      continue;
    }
    uint64_t bytes =
        sizeof *seg + seg->seg_slots * sizeof(struct fmr_disk_record);
    catalog_extent(c, offset, bytes, KIND_SEGMENT);
    uint64_t next =
        s + 1 < heap->segments.count ? heap->segments.items[s + 1] : 0;
    if (seg->seg_next != next)
      problem(c, "catalog segment at %llu links to %llu, expected %llu",
              (unsigned long long)offset, (unsigned long long)seg->seg_next,
              (unsigned long long)next);

    for (uint64_t i = 0; i < seg->seg_slots; i++) {
      uint64_t slot =
          offset + sizeof *seg + i * sizeof(struct fmr_disk_record);
      /* A copy: a reader's writer may change the slot meanwhile, and
         nothing read from it is used unchecked. */
      struct fmr_disk_record copy;
      const struct fmr_disk_record *r = &copy;
      memcpy(&copy, fmr_at(heap, slot), sizeof copy);
      uint64_t state = copy.rec_state;
      if (state == FMR_SLOT_EMPTY)
        continue;
      int why = fmr_record_validate(heap, r);
      if (why != FMR_OK) {
        problem(c, "record slot at %llu is damaged (%s)",
                (unsigned long long)slot,
                why == FMR_ECHECKSUM ? "checksum" : "fields");
        continue;
      }
      uint64_t *indexed = fmr_map_get(&heap->by_id, r->rec_id);
      if (indexed == NULL) {
        problem(c, "record %llu is in the file but not in the index",
                (unsigned long long)r->rec_id);
        continue;
      }
      if (*indexed != slot) {
        /* An older slot of an updated record waits for the next sync. */
        const struct fmr_disk_record *live = fmr_at(heap, *indexed);
        if (live->rec_generation <= r->rec_generation)
          problem(c, "two live slots hold record id %llu",
                  (unsigned long long)r->rec_id);
        else if (!heap->readonly && !in_vec(&heap->superseded, slot) &&
                 !in_vec(&heap->sync_superseded, slot))
          problem(c,
                  "slot at %llu holds an old generation of record %llu "
                  "but is not waiting to be emptied",
                  (unsigned long long)slot, (unsigned long long)r->rec_id);
        continue;
      }
      if (fmr_map_put(&ids, r->rec_id, slot) != FMR_OK)
        c->nomem = true;
      if (r->rec_id >= heap->next_id && !heap->readonly)
        problem(c, "record id %llu is not below the next id %llu",
                (unsigned long long)r->rec_id,
                (unsigned long long)heap->next_id);
      if (state == FMR_SLOT_COMMITTED) {
        committed++;
        if (r->rec_name_len > 0) {
          const char *name = fmr_at(heap, r->rec_aux_offset);
          uint64_t h = fmr_name_hash(name, r->rec_name_len);
          uint64_t *other;
          /* Hash collisions of distinct names are compared byte-wise. */
          while ((other = fmr_map_get(&names, h)) != NULL) {
            struct fmr_disk_record o_copy;
            const struct fmr_disk_record *o = &o_copy;
            memcpy(&o_copy, fmr_at(heap, *other), sizeof o_copy);
            if (fmr_record_validate(heap, o) == FMR_OK &&
                o->rec_name_len == r->rec_name_len &&
                memcmp(fmr_at(heap, o->rec_aux_offset), name,
                       r->rec_name_len) == 0) {
              problem(c, "records %llu and %llu have the same name \"%.*s\"",
                      (unsigned long long)o->rec_id,
                      (unsigned long long)r->rec_id, (int)r->rec_name_len,
                      name);
              break;
            }
            h = h * UINT64_C(0x9E3779B97F4A7C15) + 1;
            h = h ? h : 1;
          }
          if (other == NULL && fmr_map_put(&names, h, slot) != FMR_OK)
            c->nomem = true;
        }
      } else {
        tombstones++;
      }
      if (r->rec_payload_offset != 0)
        catalog_extent(c, r->rec_payload_offset, r->rec_payload_bytes,
                       KIND_PAYLOAD);
      if (r->rec_aux_offset != 0)
        catalog_extent(c, r->rec_aux_offset, r->rec_aux_bytes, KIND_AUX);
    }
  }
  if (ids.count != heap->by_id.count)
    problem(c, "the index holds %zu records, the file %zu", heap->by_id.count,
            ids.count);
  if (committed != heap->records_committed ||
      tombstones != heap->records_tombstone)
    problem(c,
            "record counts disagree: file %llu committed, %llu "
            "tombstones; counters %llu, %llu",
            (unsigned long long)committed, (unsigned long long)tombstones,
            (unsigned long long)heap->records_committed,
            (unsigned long long)heap->records_tombstone);
  fmr_map_destroy(&ids);
  fmr_map_destroy(&names);
}

static void add_free(uint64_t start, uint64_t len, void *arg)
{
  add_piece(arg, start << FMR_GRANULE_SHIFT, len << FMR_GRANULE_SHIFT,
            KIND_FREE);
}

/* Writer: the catalog's extents (already collected), the caller's blocks,
   cached blocks, pending frees and free extents must tile the heap, and
   the counters must add up. */
static void check_allocator(struct checker *c)
{
  struct fmr_heap *heap = c->heap;
  uint64_t used = c->catalog_bytes, cached = 0, pending = 0;
  for (size_t i = 0; i <= heap->blocks.mask && heap->blocks.entries; i++) {
    const struct fmr_map_entry *e = &heap->blocks.entries[i];
    if (e->key == 0)
      continue;
    uint64_t bytes = e->value & ~(uint64_t)FMR_BLOCK_FLAGS;
    if (e->value & FMR_BLOCK_CACHED)
      cached += bytes;
    else
      used += bytes;
    add_piece(c, e->key, bytes, KIND_BLOCK);
  }
  for (size_t i = 0; i + 1 < heap->pending.count; i += 2) {
    add_piece(c, heap->pending.items[i], heap->pending.items[i + 1],
              KIND_FREE);
    pending += heap->pending.items[i + 1];
  }
  for (size_t i = 0; i + 1 < heap->sync_pending.count; i += 2) {
    add_piece(c, heap->sync_pending.items[i], heap->sync_pending.items[i + 1],
              KIND_FREE);
    pending += heap->sync_pending.items[i + 1];
  }
  fmr_extents_walk(&heap->extents, add_free, c);
  check_pieces(c, true);
  if (used != heap->used_bytes)
    problem(c, "live blocks hold %llu bytes, the counter says %llu",
            (unsigned long long)used, (unsigned long long)heap->used_bytes);
  if (cached != heap->cached_bytes || pending != heap->pending_bytes)
    problem(c, "cached or pending byte counters disagree");
  if (used + cached + pending +
          (heap->extents.free_granules << FMR_GRANULE_SHIFT) !=
      heap->file_size - FMR_HEAP_START)
    problem(c, "used and free bytes do not add up to the heap size");
}

/* A reader checks the file as it is now, while a writer may change it
   under the scan: a problem seen then may be a state the writer passed
   through (a record committed after the catalog was loaded, an update
   between its two slots).  A scan during which the writer published
   nothing (fmr_heap_unchanged) saw one consistent catalog and its
   problems are reported once a second such scan found them too;
   otherwise the scan is repeated, and only problems found by
   CHECK_ATTEMPTS scans in a row are reported. */
#define CHECK_ATTEMPTS 6

static uint64_t message_key(const char *msg)
{
  uint64_t h = fmr_name_hash(msg, strlen(msg));
  return h ? h : 1;
}

static void check_reader(struct checker *c)
{
  struct fmr_heap *heap = c->heap;
  struct fmr_map persist; /* problems of every scan so far, by hash */
  bool was_stable = false;
  fmr_map_init(&persist);
  for (int attempt = 1; attempt <= CHECK_ATTEMPTS; attempt++) {
    int rc = fmr_heap_refresh_locked(heap);
    if (rc != FMR_OK) {
      c->collect = false;
      problem(c, "cannot reload the catalog: %s", fmr_errmsg());
      break;
    }
    c->problems = 0;
    c->count = 0;
    c->catalog_bytes = 0;
    c->found_len = 0;
    c->collect = true;
    if (heap->mode == FMR_MODE_PERSISTENT)
      scan_catalog(c);
    check_pieces(c, false);
    c->collect = false;
    if (c->problems == 0 && !c->nomem)
      break;
    bool stable = fmr_heap_unchanged(heap);
    /* Keep the problems this scan shares with every earlier one. */
    struct fmr_map now;
    fmr_map_init(&now);
    for (size_t at = 0; at < c->found_len; at += strlen(c->found + at) + 1) {
      uint64_t key = message_key(c->found + at);
      if ((attempt == 1 || fmr_map_get(&persist, key) != NULL) &&
          fmr_map_put(&now, key, 1) != FMR_OK)
        c->nomem = true;
    }
    fmr_map_destroy(&persist);
    persist = now;
    if ((stable && was_stable) || attempt == CHECK_ATTEMPTS ||
        persist.count == 0) {
      uint64_t reported = 0;
      for (size_t at = 0; at < c->found_len; at += strlen(c->found + at) + 1) {
        if (fmr_map_get(&persist, message_key(c->found + at)) == NULL)
          continue;
        reported++;
        if (c->report != NULL)
          c->report(c->found + at, c->arg);
      }
      c->problems = reported;
      break;
    }
    was_stable = stable;
    if (stable)
      continue; /* nothing moves: look again at once */
    /* Let the writer get on, then look again. */
    fmr_unlock(heap);
    struct timespec pause = {0, 2000000};
    nanosleep(&pause, NULL);
    fmr_lock(heap);
  }
  fmr_map_destroy(&persist);
}

FMR_EXPORT int fmr_check(fmr_heap *heap, fmr_report_fn report, void *arg)
{
  struct checker c = {.heap = heap, .report = report, .arg = arg};
  if (heap == NULL)
    return fmr_fail(FMR_EINVAL, "fmr_check: heap is required");
  fmr_lock(heap);
  if (heap->readonly) {
    check_reader(&c);
    if (c.nomem)
      problem(&c, "out of memory: the check is incomplete");
    goto done;
  }
  const struct fmr_disk_meta *meta = fmr_at(
      heap, (heap->meta.meta_txn % FMR_META_PAGES) * FMR_META_PAGE_SIZE);
  if (!heap->readonly && memcmp(meta, &heap->meta, sizeof *meta) != 0)
    problem(&c, "the current meta page differs from the heap's copy");
  if (heap->mode == FMR_MODE_PERSISTENT)
    scan_catalog(&c);
  if (heap->readonly)
    check_pieces(&c, false);
  else
    check_allocator(&c);
  if (c.nomem)
    problem(&c, "out of memory: the check is incomplete");
done:
  fmr_unlock(heap);
  free(c.pieces);
  free(c.found);
  if (c.problems > 0)
    return fmr_fail(FMR_ECORRUPT, "%llu problem(s) found in %s",
                    (unsigned long long)c.problems, heap->path);
  return FMR_OK;
}
