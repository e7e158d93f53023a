/* catalog.c: the durable catalog of named allocations.

   The catalog is the single root of truth of a persistent heap: a chain of
   segments of 128-byte record slots (see fmr-internal.h).  A record is
   published by one 8-byte store of its state after every other field and
   its checksum are written, so each slot is at every instant either empty
   or a complete record.  Updates never change a published slot: a new slot
   with the same id and the next generation is published, then the old one
   emptied; a crash between the two leaves two slots with one id, and the
   open that follows keeps the higher generation.

   At open the catalog is scanned once: it rebuilds the indexes by id and
   by name and, for a writer, the allocator's free space (every byte not
   held by a segment, a payload or an aux block is free).

   Copyright (C) 2026 The libfmalloc-r authors.
   This file is part of libfmalloc-r, free software under the GNU Lesser
   General Public License, version 2.1 or (at your option) any later version.
 */

#include <config.h>

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "fmr-internal.h"

#define SLOT_SIZE      sizeof(struct fmr_disk_record)
#define SEGMENT_HEADER sizeof(struct fmr_disk_segment)

static inline struct fmr_disk_record *slot_at(const struct fmr_heap *heap,
                                              uint64_t offset)
{
  return (struct fmr_disk_record *)fmr_at(heap, offset);
}

static inline uint64_t load_state(const struct fmr_disk_record *r)
{
  return __atomic_load_n(&r->rec_state, __ATOMIC_ACQUIRE);
}

/* Count a change of the catalog in the first segment's seg_changes, as a
   sequence lock: odd while a change is under way, even again after it.
   The odd value is stored before the change (whose own store is a
   release) and the next even one after it (release), so a reader that
   saw any store of the change also sees the counter moved, and one that
   finds the same even value before and after reading the catalog read
   no change (see fmr_heap_unchanged).  Only the writer stores it, under
   the heap lock; a crash in the middle leaves it odd, and the next
   change makes it even again. */
static uint64_t change_begin(struct fmr_heap *heap)
{
  uint64_t head = heap->meta.meta_catalog_head;
  if (head == 0)
    return 0;
  struct fmr_disk_segment *seg = fmr_at(heap, head);
  uint64_t v = __atomic_load_n(&seg->seg_changes, __ATOMIC_RELAXED) | 1;
  __atomic_store_n(&seg->seg_changes, v, __ATOMIC_RELAXED);
  __atomic_thread_fence(__ATOMIC_RELEASE);
  return v;
}

static void change_end(struct fmr_heap *heap, uint64_t v)
{
  uint64_t head = heap->meta.meta_catalog_head;
  if (head == 0)
    return;
  struct fmr_disk_segment *seg = fmr_at(heap, head);
  __atomic_store_n(&seg->seg_changes, v + 1, __ATOMIC_RELEASE);
}

bool fmr_catalog_changes(const struct fmr_heap *heap, uint64_t *changes_out)
{
  uint64_t head = heap->meta.meta_catalog_head;
  uint64_t mapped = atomic_load_explicit(&heap->mapped, memory_order_acquire);
  if (head % FMR_GRANULE != 0 || head < FMR_HEAP_START ||
      mapped < SEGMENT_HEADER || head > mapped - SEGMENT_HEADER)
    return false;
  const struct fmr_disk_segment *seg = fmr_at(heap, head);
  *changes_out = __atomic_load_n(&seg->seg_changes, __ATOMIC_ACQUIRE);
  return true;
}

/* The publishing store: every field written before it is visible to any
   process that sees the new state.  The change is counted around it. */
static inline void store_state(struct fmr_heap *heap,
                               struct fmr_disk_record *r, uint64_t state)
{
  uint64_t v = change_begin(heap);
  __atomic_store_n(&r->rec_state, state, __ATOMIC_RELEASE);
  change_end(heap, v);
}

uint32_t fmr_record_checksum(const struct fmr_disk_record *r)
{
  return fmr_crc32c(0, &r->rec_id,
                    offsetof(struct fmr_disk_record, rec_checksum) -
                        offsetof(struct fmr_disk_record, rec_id));
}

uint32_t fmr_segment_checksum(const struct fmr_disk_segment *s)
{
  return fmr_crc32c(0, s, offsetof(struct fmr_disk_segment, seg_checksum));
}

/* Is [OFFSET, OFFSET + BYTES) a possible block of a heap of SIZE bytes?
   (0, 0) stands for "none". */
static bool extent_ok(uint64_t offset, uint64_t bytes, uint64_t size)
{
  if (offset == 0)
    return bytes == 0;
  return offset % FMR_GRANULE == 0 && bytes % FMR_GRANULE == 0 && bytes > 0 &&
         offset >= FMR_HEAP_START && offset < size && bytes <= size - offset;
}

int fmr_record_validate(const struct fmr_heap *heap,
                        const struct fmr_disk_record *r)
{
  uint64_t state = load_state(r);
  if (state != FMR_SLOT_COMMITTED && state != FMR_SLOT_TOMBSTONE)
    return FMR_ECORRUPT;
  if (r->rec_checksum != fmr_record_checksum(r))
    return FMR_ECHECKSUM;
  if (r->rec_id == 0 || r->rec_generation == 0 ||
      !extent_ok(r->rec_payload_offset, r->rec_payload_bytes, heap->mapped) ||
      !extent_ok(r->rec_aux_offset, r->rec_aux_bytes, heap->mapped) ||
      r->rec_name_len > FMR_NAME_MAX || r->rec_meta_len > FMR_META_MAX ||
      (uint64_t)r->rec_name_len + r->rec_meta_len > r->rec_aux_bytes ||
      (r->rec_aux_offset == 0 && r->rec_name_len + r->rec_meta_len != 0))
    return FMR_ECORRUPT;
  if (r->rec_aux_offset != 0 &&
      fmr_crc32c(0, fmr_at(heap, r->rec_aux_offset),
                 (size_t)r->rec_name_len + r->rec_meta_len) !=
          r->rec_aux_checksum)
    return FMR_ECHECKSUM;
  return FMR_OK;
}

/* ------------------------------------------------------------------ */
/* Name index                                                           */

/* heap->by_name maps a 64-bit hash of a name to the slot of the committed
   record with that name.  Two names with one hash (rare) are told apart by
   probing a deterministic chain of further hash values. */

uint64_t fmr_name_hash(const char *name, size_t len)
{
  uint64_t h = UINT64_C(0xcbf29ce484222325); /* FNV-1a */
  for (size_t i = 0; i < len; i++) {
    h ^= (unsigned char)name[i];
    h *= UINT64_C(0x100000001b3);
  }
  h ^= h >> 33;
  h *= UINT64_C(0xff51afd7ed558ccd);
  h ^= h >> 33;
  return h ? h : 1;
}

static inline uint64_t next_hash(uint64_t h)
{
  h = h * UINT64_C(0x9E3779B97F4A7C15) + UINT64_C(0x632BE59BD9B4E019);
  return h ? h : 1;
}

static bool slot_has_name(const struct fmr_heap *heap, uint64_t slot,
                          const char *name, size_t len)
{
  const struct fmr_disk_record *r = slot_at(heap, slot);
  uint64_t aux = r->rec_aux_offset;
  /* Bounds first: a reader's slot may be reused by the writer. */
  return r->rec_name_len == len && aux >= FMR_HEAP_START &&
         aux < heap->mapped && len <= heap->mapped - aux &&
         memcmp(fmr_at(heap, aux), name, len) == 0;
}

static uint64_t name_lookup(const struct fmr_heap *heap, const char *name,
                            size_t len, uint64_t *key_out)
{
  uint64_t h = fmr_name_hash(name, len);
  for (size_t n = 0; n <= heap->by_name.count; n++, h = next_hash(h)) {
    uint64_t *v = fmr_map_get(&heap->by_name, h);
    if (v == NULL)
      return 0;
    if (slot_has_name(heap, *v, name, len)) {
      if (key_out != NULL)
        *key_out = h;
      return *v;
    }
  }
  return 0;
}

/* Index NAME, whose fmr_name_hash is H, for SLOT; FMR_EEXIST if another
   slot has it. */
static int name_insert_hashed(struct fmr_heap *heap, uint64_t h,
                              const char *name, size_t len, uint64_t slot)
{
  uint64_t *v;
  while ((v = fmr_map_get(&heap->by_name, h)) != NULL) {
    if (slot_has_name(heap, *v, name, len))
      return FMR_EEXIST;
    h = next_hash(h);
  }
  return fmr_map_put(&heap->by_name, h, slot);
}

/* Index NAME for SLOT; FMR_EEXIST if another slot has it. */
static int name_insert(struct fmr_heap *heap, const char *name, size_t len,
                       uint64_t slot)
{
  return name_insert_hashed(heap, fmr_name_hash(name, len), name, len, slot);
}

static void name_remove(struct fmr_heap *heap, const char *name, size_t len)
{
  uint64_t key;
  if (len == 0 || name_lookup(heap, name, len, &key) == 0)
    return;
  fmr_map_remove(&heap->by_name, key, NULL);
  /* Entries further along the chain may have been placed past KEY only
     because it was taken: insert them again so lookups still reach them. */
  size_t limit = heap->by_name.count;
  for (uint64_t h = next_hash(key); limit-- > 0; h = next_hash(h)) {
    uint64_t slot;
    if (!fmr_map_remove(&heap->by_name, h, &slot))
      break;
    const struct fmr_disk_record *r = slot_at(heap, slot);
    name_insert(heap, (const char *)fmr_at(heap, r->rec_aux_offset),
                r->rec_name_len, slot);
  }
}

static const char *record_name(const struct fmr_heap *heap,
                               const struct fmr_disk_record *r)
{
  return r->rec_aux_offset ? (const char *)fmr_at(heap, r->rec_aux_offset)
                           : "";
}

/* ------------------------------------------------------------------ */
/* Payload index                                                        */

/* heap->payloads maps the payload offset of every live record to its
   slot.  While it is not built (heap->payloads_indexed false) the
   functions that change it do nothing: building it scans the catalog. */

static void payload_index_drop(struct fmr_heap *heap)
{
  fmr_map_destroy(&heap->payloads);
  heap->payloads_indexed = false;
}

/* Record that the live slot SLOT has its payload at OFFSET (0: none). */
static void payload_index_put(struct fmr_heap *heap, uint64_t offset,
                              uint64_t slot)
{
  if (!heap->payloads_indexed || offset == 0)
    return;
  /* Without memory the index goes; it is built again when next needed. */
  if (fmr_map_put(&heap->payloads, offset, slot) != FMR_OK)
    payload_index_drop(heap);
}

static void payload_index_remove(struct fmr_heap *heap, uint64_t offset)
{
  if (heap->payloads_indexed && offset != 0)
    fmr_map_remove(&heap->payloads, offset, NULL);
}

static bool payload_index_build(struct fmr_heap *heap)
{
  if (fmr_map_reserve(&heap->payloads, heap->by_id.count) != FMR_OK)
    return false;
  for (size_t i = 0; i <= heap->by_id.mask && heap->by_id.entries; i++) {
    if (heap->by_id.entries[i].key == 0)
      continue;
    uint64_t slot = heap->by_id.entries[i].value;
    uint64_t offset = slot_at(heap, slot)->rec_payload_offset;
    if (offset != 0)
      fmr_map_put(&heap->payloads, offset, slot); /* room reserved */
  }
  heap->payloads_indexed = true;
  return true;
}

/* ------------------------------------------------------------------ */
/* Segments and slots                                                   */

void fmr_catalog_reset(struct fmr_heap *heap)
{
  fmr_map_destroy(&heap->by_id);
  fmr_map_destroy(&heap->by_name);
  payload_index_drop(heap);
  fmr_vec_destroy(&heap->free_slots);
  fmr_vec_destroy(&heap->superseded);
  fmr_vec_destroy(&heap->sync_superseded);
  fmr_vec_destroy(&heap->segments);
  heap->catalog_tail = 0;
  heap->catalog_bytes = heap->catalog_slots = 0;
  heap->catalog_last_slots = 0;
  heap->records_committed = heap->records_tombstone = 0;
  heap->records_damaged = 0;
  heap->record_bytes = heap->tombstone_bytes = heap->aux_bytes = 0;
}

/* Room in heap->free_slots for every slot of the catalog plus SLOTS more,
   and in heap->segments for one more segment, so that emptying a slot or
   adding a segment never needs memory. */
static int reserve_slots(struct fmr_heap *heap, uint64_t slots)
{
  size_t want = (size_t)(heap->catalog_slots + slots);
  if (heap->free_slots.capacity < want) {
    uint64_t *items = realloc(heap->free_slots.items, want * sizeof *items);
    if (items == NULL)
      return FMR_ENOMEM;
    heap->free_slots.items = items;
    heap->free_slots.capacity = want;
  }
  if (fmr_vec_push(&heap->segments, 0) != FMR_OK)
    return FMR_ENOMEM;
  heap->segments.count--;
  return FMR_OK;
}

static int add_segment(struct fmr_heap *heap, uint64_t slots)
{
  uint64_t bytes = SEGMENT_HEADER + slots * SLOT_SIZE;
  uint64_t offset;
  int rc;

  if (reserve_slots(heap, slots) != FMR_OK)
    return fmr_fail(FMR_ENOMEM, "out of memory growing the catalog");
  rc = fmr_block_alloc(heap, bytes, false, &offset);
  if (rc != FMR_OK)
    return rc;

  struct fmr_disk_segment *seg = fmr_at(heap, offset);
  memset(seg, 0, (size_t)bytes);
  memcpy(seg->seg_magic, FMR_SEGMENT_MAGIC, FMR_MAGIC_SIZE);
  seg->seg_self = offset;
  seg->seg_slots = slots;
  seg->seg_checksum = fmr_segment_checksum(seg);
  /* The segment is complete before the chain points to it, in memory
     and on disk: a record committed with FMR_COMMIT_SYNC into the new
     segment flushes only its own slot, so the segment and the link to it
     must already be durable.  Segments are few (each doubles), so the two
     flushes cost little. */
  if (heap->catalog_tail != 0) {
    struct fmr_disk_segment *tail = fmr_at(heap, heap->catalog_tail);
    rc = fmr_heap_msync(heap, offset, bytes);
    if (rc != FMR_OK) {
      fmr_block_release(heap, offset, bytes, false);
      return rc;
    }
    uint64_t v = change_begin(heap);
    __atomic_store_n(&tail->seg_next, offset, __ATOMIC_RELEASE);
    change_end(heap, v);
    fmr_heap_msync(heap, heap->catalog_tail, SEGMENT_HEADER);
  } else {
    heap->meta.meta_catalog_head = offset;
  }
  heap->catalog_tail = offset;
  heap->catalog_last_slots = slots;
  heap->catalog_bytes += bytes;
  heap->catalog_slots += slots;
  heap->segments.items[heap->segments.count++] = offset;
  for (uint64_t i = slots; i-- > 0;)
    heap->free_slots.items[heap->free_slots.count++] =
        offset + SEGMENT_HEADER + i * SLOT_SIZE;
  return FMR_OK;
}

int fmr_catalog_create(struct fmr_heap *heap)
{
  return add_segment(heap, FMR_SEGMENT_FIRST_SLOTS);
}

static int take_slot(struct fmr_heap *heap, uint64_t *slot_out)
{
  if (heap->free_slots.count == 0) {
    uint64_t slots = heap->catalog_last_slots * 2 + 1;
    if (slots > FMR_SEGMENT_MAX_SLOTS)
      slots = FMR_SEGMENT_MAX_SLOTS;
    int rc = add_segment(heap, slots);
    if (rc != FMR_OK)
      return rc;
  }
  *slot_out = heap->free_slots.items[--heap->free_slots.count];
  return FMR_OK;
}

/* Empty a slot.  Only the state changes: the id and checksum stay, so the
   highest id ever issued can be found again after a crash. */
static void release_slot(struct fmr_heap *heap, uint64_t slot)
{
  store_state(heap, slot_at(heap, slot), FMR_SLOT_EMPTY);
  /* Capacity for every slot was reserved when its segment was added. */
  heap->free_slots.items[heap->free_slots.count++] = slot;
}

/* ------------------------------------------------------------------ */
/* Loading                                                              */

struct extent {
  uint64_t offset, bytes; /* bytes | FMR_BLOCK_* flags */
};

static int push_extent(struct extent **v, size_t *n, size_t *cap,
                       uint64_t offset, uint64_t bytes)
{
  if (offset == 0)
    return FMR_OK;
  if (*n == *cap) {
    size_t c = *cap ? *cap * 2 : 256;
    struct extent *e = realloc(*v, c * sizeof *e);
    if (e == NULL)
      return FMR_ENOMEM;
    *v = e;
    *cap = c;
  }
  (*v)[(*n)++] = (struct extent){offset, bytes};
  return FMR_OK;
}

/* A slot that fails validation: a reader skips it; a recovering writer
   drops it; otherwise the open fails. */
static int damaged_slot(struct fmr_heap *heap, uint64_t slot, int why,
                        bool recovering)
{
  heap->records_damaged++;
  if (heap->readonly)
    return FMR_OK;
  if (recovering) {
    release_slot(heap, slot);
    return FMR_OK;
  }
  return fmr_fail(why,
                  "record slot at offset %llu of %s is damaged (%s); open "
                  "with FMR_OPEN_RECOVER or run 'fmr recover' to drop it",
                  (unsigned long long)slot, heap->path,
                  why == FMR_ECHECKSUM ? "checksum mismatch"
                                       : "impossible fields");
}

/* Follow the segment chain, checking every header, into heap->segments,
   and make room for indexing all its slots. */
static int walk_chain(struct fmr_heap *heap)
{
  uint64_t offset = heap->meta.meta_catalog_head;
  uint64_t limit = heap->mapped / sizeof(struct fmr_disk_segment);
  uint64_t slots = 0;

  if (offset == 0)
    return fmr_fail(FMR_ECORRUPT, "%s has no catalog", heap->path);
  while (offset != 0) {
    /* The offset comes from the file: check it before forming a pointer. */
    const struct fmr_disk_segment *seg =
        offset < heap->mapped ? fmr_at(heap, offset) : NULL;
    if (offset % FMR_GRANULE != 0 || offset < FMR_HEAP_START ||
        offset > heap->mapped - SEGMENT_HEADER ||
        memcmp(seg->seg_magic, FMR_SEGMENT_MAGIC, FMR_MAGIC_SIZE) != 0 ||
        seg->seg_self != offset ||
        seg->seg_checksum != fmr_segment_checksum(seg) ||
        seg->seg_slots == 0 || seg->seg_slots > FMR_SEGMENT_MAX_SLOTS ||
        seg->seg_slots * SLOT_SIZE > heap->mapped - offset - SEGMENT_HEADER)
      return fmr_fail(FMR_ECORRUPT,
                      "catalog segment at offset %llu of %s is damaged",
                      (unsigned long long)offset, heap->path);
    if (limit-- == 0)
      return fmr_fail(FMR_ECORRUPT, "the catalog chain of %s loops",
                      heap->path);
    if (fmr_vec_push(&heap->segments, offset) != FMR_OK)
      return fmr_fail(FMR_ENOMEM, "out of memory loading the catalog");
    slots += seg->seg_slots;
    heap->catalog_bytes += SEGMENT_HEADER + seg->seg_slots * SLOT_SIZE;
    heap->catalog_last_slots = seg->seg_slots;
    heap->catalog_tail = offset;
    offset = __atomic_load_n(&seg->seg_next, __ATOMIC_ACQUIRE);
  }
  if (reserve_slots(heap, slots) != FMR_OK ||
      fmr_map_reserve(&heap->by_id, (size_t)slots) != FMR_OK)
    return fmr_fail(FMR_ENOMEM, "out of memory loading the catalog");
  heap->catalog_slots = slots;
  return FMR_OK;
}

/* The first step of a load for the slot at SLOT: an empty slot joins the
   free slots (its id still counts toward the next id: ids are never
   handed out twice); a damaged one goes to damaged_slot; a second slot of
   an id already indexed (a crash in the middle of an update) keeps the
   higher generation, and a writer empties the other.  *LIVE is set when
   the slot was entered in by_id as the record of its id, *TWIN when it
   met another slot of its id.  Returns FMR_OK or an error. */
static int load_slot(struct fmr_heap *heap, uint64_t slot, bool recovering,
                     bool *live, bool *twin)
{
  struct fmr_disk_record *r = slot_at(heap, slot);
  uint64_t state = load_state(r);
  *live = *twin = false;
  if (state == FMR_SLOT_EMPTY) {
    if (r->rec_id >= heap->next_id && r->rec_id < UINT64_MAX / 2 &&
        r->rec_checksum == fmr_record_checksum(r))
      heap->next_id = r->rec_id + 1;
    heap->free_slots.items[heap->free_slots.count++] = slot;
    return FMR_OK;
  }
  int why = fmr_record_validate(heap, r);
  if (why != FMR_OK)
    return damaged_slot(heap, slot, why, recovering);
  if (r->rec_id >= heap->next_id && r->rec_id < UINT64_MAX / 2)
    heap->next_id = r->rec_id + 1;
  uint64_t *other = fmr_map_get(&heap->by_id, r->rec_id);
  if (other != NULL) {
    uint64_t loser = slot;
    if (r->rec_generation > slot_at(heap, *other)->rec_generation) {
      loser = *other;
      *other = slot;
    }
    if (!heap->readonly)
      release_slot(heap, loser);
    *twin = true;
    return FMR_OK;
  }
  fmr_map_put(&heap->by_id, r->rec_id, slot); /* room reserved */
  *live = true;
  return FMR_OK;
}

/* Scan every slot: index live records by id, list empty slots, find the
   next id, and deal with damaged slots and duplicate ids. */
static int walk_segments(struct fmr_heap *heap, bool recovering)
{
  int rc = walk_chain(heap);
  if (rc != FMR_OK)
    return rc;
  for (size_t s = 0; s < heap->segments.count; s++) {
    uint64_t offset = heap->segments.items[s];
    uint64_t slots =
        ((const struct fmr_disk_segment *)fmr_at(heap, offset))->seg_slots;
    for (uint64_t i = 0; i < slots; i++) {
      bool live, twin;
      rc = load_slot(heap, offset + SEGMENT_HEADER + i * SLOT_SIZE,
                     recovering, &live, &twin);
      if (rc != FMR_OK)
        return rc;
    }
  }
  return FMR_OK;
}

static int cmp_extent(const void *a, const void *b)
{
  uint64_t x = ((const struct extent *)a)->offset;
  uint64_t y = ((const struct extent *)b)->offset;
  return x < y ? -1 : x > y;
}

/* Sort extents by offset: least-significant-digit radix sort on 16-bit
   digits of offset / 64, skipping digits all keys share.  A heap with
   100,000 records has 200,000 extents to sort at every open.  The radix
   sort costs a fixed 2 MiB of counters and four passes over them, more
   than qsort of a small catalog, so a few extents are sorted with
   qsort. */
static int sort_extents(struct extent *v, size_t n)
{
  enum { DIGITS = 4, RADIX = 1 << 16, SMALL = 4096 };
  if (n <= SMALL) {
    if (n > 1)
      qsort(v, n, sizeof *v, cmp_extent);
    return FMR_OK;
  }
  size_t(*count)[RADIX] = calloc(DIGITS, sizeof *count);
  struct extent *tmp = malloc(n * sizeof *tmp);
  if (count == NULL || tmp == NULL) {
    free(count);
    free(tmp);
    return FMR_ENOMEM;
  }
  for (size_t i = 0; i < n; i++) {
    uint64_t key = v[i].offset >> FMR_GRANULE_SHIFT;
    for (int d = 0; d < DIGITS; d++)
      count[d][(key >> (16 * d)) & (RADIX - 1)]++;
  }
  struct extent *from = v, *to = tmp;
  for (int d = 0; d < DIGITS; d++) {
    size_t sum = 0;
    bool trivial = false;
    for (size_t b = 0; b < RADIX; b++) {
      size_t c = count[d][b];
      if (c == n)
        trivial = true;
      count[d][b] = sum;
      sum += c;
    }
    if (trivial)
      continue;
    for (size_t i = 0; i < n; i++) {
      uint64_t key = from[i].offset >> FMR_GRANULE_SHIFT;
      to[count[d][(key >> (16 * d)) & (RADIX - 1)]++] = from[i];
    }
    struct extent *t = from;
    from = to;
    to = t;
  }
  if (from != v)
    memcpy(v, from, n * sizeof *v);
  free(count);
  free(tmp);
  return FMR_OK;
}

/* Mark granules [G, G + LEN) in the bitmap BITS; false if one of them
   was marked already. */
static bool mark_granules(uint64_t *bits, uint64_t g, uint64_t len)
{
  while (len > 0) {
    unsigned bit = (unsigned)(g & 63);
    uint64_t take = 64 - bit < len ? 64 - bit : len;
    uint64_t mask = (take == 64 ? ~UINT64_C(0) : (UINT64_C(1) << take) - 1)
                    << bit;
    if (bits[g >> 6] & mask)
      return false;
    bits[g >> 6] |= mask;
    g += take;
    len -= take;
  }
  return true;
}

/* The first granule at or after G and before END whose bit is ONE (1) or
   zero (0), or END. */
static uint64_t next_granule(const uint64_t *bits, uint64_t g, uint64_t end,
                             bool one)
{
  while (g < end) {
    uint64_t w = one ? bits[g >> 6] : ~bits[g >> 6];
    w &= ~UINT64_C(0) << (g & 63);
    if (w != 0) {
      uint64_t found = (g & ~UINT64_C(63)) + (uint64_t)__builtin_ctzll(w);
      return found < end ? found : end;
    }
    g = (g | 63) + 1;
  }
  return end;
}

/* Bitmap of the granules in use, one bit per 64 bytes of the mapping: a
   writer's free space without a sort, in little memory for a heap of
   small records (a 363 MB heap of 10^6 records: 710 KB, against 32 MB of
   extents to sort).  Worth it while at most 32 bytes per extent. */
static uint64_t *granule_bitmap(const struct fmr_heap *heap, uint64_t extents)
{
  uint64_t granules = heap->mapped >> FMR_GRANULE_SHIFT;
  if (granules / 8 > 32 * extents + 4096)
    return NULL;
  return calloc((size_t)(granules + 63) / 64, sizeof(uint64_t));
}

/* Everything between FMR_HEAP_START and the file size not marked in BITS
   is free. */
static int insert_free_runs(struct fmr_heap *heap, const uint64_t *bits)
{
  uint64_t end = heap->file_size >> FMR_GRANULE_SHIFT;
  for (uint64_t g = FMR_HEAP_START >> FMR_GRANULE_SHIFT; g < end;) {
    uint64_t start = next_granule(bits, g, end, false);
    if (start == end)
      break;
    g = next_granule(bits, start, end, true);
    if (fmr_extents_insert(&heap->extents, start, g - start) != FMR_OK)
      return fmr_fail(FMR_ENOMEM, "out of memory loading the catalog");
  }
  return FMR_OK;
}

/* Mark the catalog's segments in BITS; false if one overlaps a block. */
static bool mark_segments(const struct fmr_heap *heap, uint64_t *bits,
                          uint64_t *used)
{
  for (size_t i = 0; i < heap->segments.count; i++) {
    uint64_t offset = heap->segments.items[i];
    const struct fmr_disk_segment *seg = fmr_at(heap, offset);
    uint64_t bytes = SEGMENT_HEADER + seg->seg_slots * SLOT_SIZE;
    if (!mark_granules(bits, offset >> FMR_GRANULE_SHIFT,
                       fmr_round_size(bytes) >> FMR_GRANULE_SHIFT))
      return false;
    *used += bytes;
  }
  return true;
}

/* A writer rebuilds free space: whatever no segment or record holds.
   EXT holds the N extents of the records (with room for the segments'),
   and is freed. */
static int rebuild_free_space(struct fmr_heap *heap, struct extent *ext,
                              size_t n, size_t cap)
{
  int rc = FMR_OK;
  for (size_t i = 0; i < heap->segments.count; i++) {
    const struct fmr_disk_segment *seg = fmr_at(heap, heap->segments.items[i]);
    if (push_extent(&ext, &n, &cap, heap->segments.items[i],
                    SEGMENT_HEADER + seg->seg_slots * SLOT_SIZE) != FMR_OK) {
      rc = fmr_fail(FMR_ENOMEM, "out of memory loading the catalog");
      goto out;
    }
  }
  if (sort_extents(ext, n) != FMR_OK) {
    rc = fmr_fail(FMR_ENOMEM, "out of memory loading the catalog");
    goto out;
  }
  uint64_t at = FMR_HEAP_START;
  for (size_t i = 0; i < n; i++) {
    if (ext[i].offset < at) {
      rc = fmr_fail(FMR_ECORRUPT,
                    "blocks at offsets %llu and %llu of %s overlap",
                    (unsigned long long)ext[i - 1].offset,
                    (unsigned long long)ext[i].offset, heap->path);
      goto out;
    }
    if (ext[i].offset > at &&
        fmr_extents_insert(&heap->extents, at >> FMR_GRANULE_SHIFT,
                           (ext[i].offset - at) >> FMR_GRANULE_SHIFT) !=
            FMR_OK) {
      rc = fmr_fail(FMR_ENOMEM, "out of memory loading the catalog");
      goto out;
    }
    heap->used_bytes += ext[i].bytes;
    at = ext[i].offset + ext[i].bytes;
  }
  if (at < heap->file_size &&
      fmr_extents_insert(&heap->extents, at >> FMR_GRANULE_SHIFT,
                         (heap->file_size - at) >> FMR_GRANULE_SHIFT) !=
          FMR_OK)
    rc = fmr_fail(FMR_ENOMEM, "out of memory loading the catalog");
out:
  free(ext);
  return rc;
}

/* Load in two passes: every slot (walk_segments), then every live record
   through the id index.  Readers load this way, and writers whose
   catalog has two live slots for one id (load_writer). */
static int load_by_index(struct fmr_heap *heap, bool recovering)
{
  struct extent *ext = NULL;
  size_t n = 0, cap = 0;
  int rc;

  rc = walk_segments(heap, recovering);
  if (rc != FMR_OK)
    return rc;
  if (fmr_map_reserve(&heap->by_name, heap->by_id.count) != FMR_OK)
    return fmr_fail(FMR_ENOMEM, "out of memory loading the catalog");
  if (!heap->readonly) {
    cap = 2 * heap->by_id.count + heap->segments.count + 1;
    ext = malloc(cap * sizeof *ext);
    if (ext == NULL)
      return fmr_fail(FMR_ENOMEM, "out of memory loading the catalog");
  }

  /* Index names, count, and collect the extents in use. */
  for (size_t i = 0; i <= heap->by_id.mask && heap->by_id.entries; i++) {
    if (heap->by_id.entries[i].key == 0)
      continue;
    uint64_t slot = heap->by_id.entries[i].value;
    const struct fmr_disk_record *r = slot_at(heap, slot);
    struct fmr_disk_record copy;
    if (heap->readonly) {
      /* The writer may have reused the slot since walk_segments checked
         it: check a copy, and use only the copy. */
      memcpy(&copy, r, sizeof copy);
      if (fmr_record_validate(heap, &copy) != FMR_OK)
        continue;
      r = &copy;
    }
    if (load_state(r) == FMR_SLOT_COMMITTED) {
      heap->records_committed++;
      heap->record_bytes += r->rec_payload_bytes;
      /* A second live record with a name already taken (only a damaged
         file has one) stays reachable by id; fmr_check reports it. */
      if (r->rec_name_len > 0)
        name_insert(heap, record_name(heap, r), r->rec_name_len, slot);
    } else {
      heap->records_tombstone++;
      heap->tombstone_bytes += r->rec_payload_bytes;
    }
    heap->aux_bytes += r->rec_aux_bytes;
    if (!heap->readonly && (push_extent(&ext, &n, &cap, r->rec_payload_offset,
                                        r->rec_payload_bytes) != FMR_OK ||
                            push_extent(&ext, &n, &cap, r->rec_aux_offset,
                                        r->rec_aux_bytes) != FMR_OK)) {
      rc = fmr_fail(FMR_ENOMEM, "out of memory loading the catalog");
      goto out;
    }
  }
  if (heap->readonly)
    goto out;
  return rebuild_free_space(heap, ext, n, cap);
out:
  free(ext);
  return rc;
}

/* Names waiting for their insert into heap->by_name while the bucket
   they hash to is fetched into the cache (a power of two). */
#define NAME_QUEUE 16

struct name_queue {
  uint64_t hash[NAME_QUEUE], slot[NAME_QUEUE];
  size_t head, count;
};

static void name_queue_flush_one(struct fmr_heap *heap, struct name_queue *q)
{
  size_t i = q->head;
  const struct fmr_disk_record *r = slot_at(heap, q->slot[i]);
  /* A second live record with a name already taken (only a damaged
     file has one) stays reachable by id; fmr_check reports it. */
  name_insert_hashed(heap, q->hash[i], record_name(heap, r), r->rec_name_len,
                     q->slot[i]);
  q->head = (i + 1) & (NAME_QUEUE - 1);
  q->count--;
}

static void name_queue_push(struct fmr_heap *heap, struct name_queue *q,
                            uint64_t hash, uint64_t slot)
{
  if (q->count == NAME_QUEUE)
    name_queue_flush_one(heap, q);
  size_t i = (q->head + q->count) & (NAME_QUEUE - 1);
  q->hash[i] = hash;
  q->slot[i] = slot;
  q->count++;
  fmr_map_prefetch(&heap->by_name, hash);
}

/* A writer's load in one pass over the slots: each slot and its aux block
   are read once, while in the cache, to validate the record, index its
   id and name, count it and collect its extents (load_by_index reads
   them twice, the second time in id order).  A file with two live slots
   for one id (a crash in the middle of an update) is loaded again the
   two-pass way, which decides between them first. */
static int load_writer(struct fmr_heap *heap, bool recovering)
{
  struct name_queue names = {.head = 0, .count = 0};
  struct extent *ext = NULL;
  uint64_t *bits = NULL, used = 0;
  size_t n = 0, cap;
  bool twins = false, overlap = false;
  int rc = walk_chain(heap);
  if (rc != FMR_OK)
    return rc;
  if (fmr_map_reserve(&heap->by_name, (size_t)heap->catalog_slots) != FMR_OK)
    return fmr_fail(FMR_ENOMEM, "out of memory loading the catalog");
  /* The extents in use go into a bitmap, or into a list to sort. */
  cap = 2 * (size_t)heap->catalog_slots + heap->segments.count + 1;
  bits = granule_bitmap(heap, cap);
  if (bits == NULL)
    ext = malloc(cap * sizeof *ext);
  if (bits == NULL && ext == NULL)
    return fmr_fail(FMR_ENOMEM, "out of memory loading the catalog");

  for (size_t s = 0; s < heap->segments.count; s++) {
    uint64_t offset = heap->segments.items[s];
    uint64_t slots =
        ((const struct fmr_disk_segment *)fmr_at(heap, offset))->seg_slots;
    for (uint64_t i = 0; i < slots; i++) {
      uint64_t slot = offset + SEGMENT_HEADER + i * SLOT_SIZE;
      struct fmr_disk_record *r = slot_at(heap, slot);
      /* The aux blocks lie anywhere: ask for one a few slots ahead. */
      if (i + 8 < slots) {
        uint64_t ahead = r[8].rec_aux_offset;
        if (ahead >= FMR_HEAP_START && ahead < heap->mapped)
          __builtin_prefetch(fmr_at(heap, ahead));
      }
      bool live, twin;
      if ((rc = load_slot(heap, slot, recovering, &live, &twin)) != FMR_OK)
        goto out;
      twins |= twin;
      if (!live)
        continue;
      uint64_t state = load_state(r);
      if (twins)
        continue; /* counted again below */
      if (state == FMR_SLOT_COMMITTED) {
        heap->records_committed++;
        heap->record_bytes += r->rec_payload_bytes;
        if (r->rec_name_len > 0)
          name_queue_push(heap, &names,
                          fmr_name_hash(record_name(heap, r), r->rec_name_len),
                          slot);
      } else {
        heap->records_tombstone++;
        heap->tombstone_bytes += r->rec_payload_bytes;
      }
      heap->aux_bytes += r->rec_aux_bytes;
      if (bits != NULL) {
        /* Validation put both extents inside the mapping. */
        overlap |=
            !mark_granules(bits, r->rec_payload_offset >> FMR_GRANULE_SHIFT,
                           r->rec_payload_bytes >> FMR_GRANULE_SHIFT) ||
            !mark_granules(bits, r->rec_aux_offset >> FMR_GRANULE_SHIFT,
                           r->rec_aux_bytes >> FMR_GRANULE_SHIFT);
        used += r->rec_payload_bytes + r->rec_aux_bytes;
        continue;
      }
      if (r->rec_payload_offset != 0)
        ext[n++] =
            (struct extent){r->rec_payload_offset, r->rec_payload_bytes};
      if (r->rec_aux_offset != 0)
        ext[n++] = (struct extent){r->rec_aux_offset, r->rec_aux_bytes};
    }
  }
  while (names.count > 0)
    name_queue_flush_one(heap, &names);
  if (bits != NULL && !twins && !overlap)
    overlap = !mark_segments(heap, bits, &used);
  if (twins || overlap) {
    /* Twins: the losers are empty now, and the two-pass load sees one
       slot per id, counting, naming and collecting what this pass had
       done for both.  Overlap: it names the two blocks. */
    uint64_t damaged = heap->records_damaged;
    free(ext);
    free(bits);
    fmr_catalog_reset(heap);
    rc = load_by_index(heap, recovering);
    heap->records_damaged += damaged;
    return rc;
  }
  if (bits != NULL) {
    heap->used_bytes += used;
    rc = insert_free_runs(heap, bits);
    free(bits);
    return rc;
  }
  return rebuild_free_space(heap, ext, n, cap);
out:
  free(ext);
  free(bits);
  return rc;
}

int fmr_catalog_load(struct fmr_heap *heap, unsigned flags)
{
  bool recovering = heap->recovered || (flags & FMR_OPEN_RECOVER);
  if (heap->readonly)
    return load_by_index(heap, recovering);
  return load_writer(heap, recovering);
}

uint64_t fmr_catalog_payload_bytes(struct fmr_heap *heap, uint64_t offset)
{
  if (offset == 0)
    return 0;
  if (!heap->payloads_indexed && !payload_index_build(heap)) {
    /* No memory for the index: scan. */
    payload_index_drop(heap);
    for (size_t i = 0; i <= heap->by_id.mask && heap->by_id.entries; i++) {
      if (heap->by_id.entries[i].key == 0)
        continue;
      const struct fmr_disk_record *r =
          slot_at(heap, heap->by_id.entries[i].value);
      if (r->rec_payload_offset == offset)
        return r->rec_payload_bytes;
    }
    return 0;
  }
  uint64_t *slot = fmr_map_get(&heap->payloads, offset);
  if (slot == NULL)
    return 0;
  /* A reader's slot may have been reused by the writer since its load:
     trust the slot only while it still holds this payload. */
  const struct fmr_disk_record *r = slot_at(heap, *slot);
  uint64_t state = load_state(r);
  if ((state != FMR_SLOT_COMMITTED && state != FMR_SLOT_TOMBSTONE) ||
      r->rec_payload_offset != offset)
    return 0;
  return r->rec_payload_bytes;
}

/* ------------------------------------------------------------------ */
/* Records                                                              */

/* Every change of the catalog asks this first, under the heap lock: a
   file deleted or replaced under the heap refuses changes (one fstat per
   change) rather than losing them silently at close. */
static int catalog_writable(struct fmr_heap *heap)
{
  if (heap->mode != FMR_MODE_PERSISTENT)
    return fmr_fail(FMR_ESCRATCH, "scratch heaps have no catalog");
  int rc = fmr_heap_writable(heap);
  return rc != FMR_OK ? rc : fmr_heap_linked(heap);
}

static int check_name(const char *name, size_t *len_out)
{
  size_t len = name != NULL ? strnlen(name, FMR_NAME_MAX + 1) : 0;
  *len_out = 0;
  if (len > FMR_NAME_MAX)
    return fmr_fail(FMR_ENAMETOOLONG, "record names are at most %d bytes",
                    FMR_NAME_MAX);
  *len_out = len;
  return FMR_OK;
}

/* Write and publish a slot from TEMPLATE (id, generation, payload, type,
   length) with a new aux block holding NAME and META. */
static int write_record(struct fmr_heap *heap,
                        const struct fmr_disk_record *template, uint64_t state,
                        const char *name, size_t name_len, const void *meta,
                        size_t meta_len, unsigned flags, uint64_t *slot_out)
{
  uint64_t aux = 0, aux_bytes = 0, slot;
  uint32_t aux_sum = 0;
  int rc;

  if (fmr_map_reserve(&heap->by_id, 1) != FMR_OK ||
      fmr_map_reserve(&heap->by_name, 1) != FMR_OK)
    return fmr_fail(FMR_ENOMEM, "out of memory");
  if (name_len + meta_len > 0) {
    rc = fmr_block_alloc(heap, name_len + meta_len, false, &aux);
    if (rc != FMR_OK)
      return rc;
    aux_bytes = fmr_round_size(name_len + meta_len);
    unsigned char *p = fmr_at(heap, aux);
    if (name_len > 0)
      memcpy(p, name, name_len);
    if (meta_len > 0)
      memcpy(p + name_len, meta, meta_len);
    aux_sum = fmr_crc32c(0, p, name_len + meta_len);
  }
  rc = take_slot(heap, &slot);
  if (rc != FMR_OK) {
    if (aux != 0)
      fmr_block_release(heap, aux, aux_bytes, false);
    return rc;
  }

  struct fmr_disk_record *r = slot_at(heap, slot);
  struct fmr_disk_record fresh;
  memset(&fresh, 0, sizeof fresh);
  fresh.rec_id = template->rec_id;
  fresh.rec_generation = template->rec_generation;
  fresh.rec_payload_offset = template->rec_payload_offset;
  fresh.rec_payload_bytes = template->rec_payload_bytes;
  fresh.rec_length = template->rec_length;
  fresh.rec_type = template->rec_type;
  fresh.rec_aux_offset = aux;
  fresh.rec_aux_bytes = aux_bytes;
  fresh.rec_name_len = (uint32_t)name_len;
  fresh.rec_meta_len = (uint32_t)meta_len;
  fresh.rec_commit_time = (uint64_t)time(NULL);
  fresh.rec_aux_checksum = aux_sum;
  fresh.rec_checksum = fmr_record_checksum(&fresh);
  /* The slot is empty; fill everything but the state word. */
  memcpy((unsigned char *)r + sizeof r->rec_state,
         (unsigned char *)&fresh + sizeof r->rec_state,
         sizeof fresh - sizeof r->rec_state);

  if (flags & FMR_COMMIT_SYNC) {
    /* Payload and aux block reach the disk before the record does. */
    if ((rc = fmr_heap_msync(heap, fresh.rec_payload_offset,
                             fresh.rec_payload_bytes)) != FMR_OK ||
        (rc = fmr_heap_msync(heap, aux, aux_bytes)) != FMR_OK) {
      release_slot(heap, slot);
      if (aux != 0)
        fmr_block_release(heap, aux, aux_bytes, false);
      return rc;
    }
  }
  store_state(heap, r, state);
  heap->aux_bytes += aux_bytes;
  *slot_out = slot;
  return FMR_OK;
}

/* Check that PAYLOAD (or NULL) is a live block not yet committed; give its
   offset and size (0, 0 for NULL). */
static int free_payload_block(struct fmr_heap *heap, void *payload,
                              uint64_t *offset_out, uint64_t *bytes_out)
{
  uint64_t *block = NULL, offset = 0;
  *offset_out = *bytes_out = 0;
  if (payload == NULL)
    return FMR_OK;
  uintptr_t p = (uintptr_t)payload, b = (uintptr_t)heap->base;
  if (p >= b + FMR_HEAP_START && p < b + heap->mapped) {
    offset = (uint64_t)(p - b);
    block = fmr_map_get(&heap->blocks, offset);
  }
  if (block == NULL && offset != 0 &&
      fmr_catalog_payload_bytes(heap, offset) != 0)
    return fmr_fail(FMR_ECOMMITTED,
                    "block %p is already the payload of a "
                    "record",
                    payload);
  if (block == NULL || (*block & FMR_BLOCK_CACHED))
    return fmr_fail(FMR_ENOTOWNED, "payload %p is not a live block of heap %s",
                    payload, heap->path);
  *offset_out = offset;
  *bytes_out = *block;
  return FMR_OK;
}

FMR_EXPORT int fmr_commit(fmr_heap *heap, void *payload, uint32_t type,
                          uint64_t length, const char *name, const void *meta,
                          size_t meta_len, unsigned flags, uint64_t *id_out)
{
  size_t name_len;
  uint64_t offset, bytes, slot;
  int rc;

  if (heap == NULL)
    return fmr_fail(FMR_EINVAL, "fmr_commit: heap is required");
  if ((rc = check_name(name, &name_len)) != FMR_OK)
    return rc;
  if ((meta == NULL && meta_len != 0) || meta_len > FMR_META_MAX)
    return fmr_fail(FMR_EINVAL, "fmr_commit: bad metadata (NULL with a "
                                "length, or more than FMR_META_MAX bytes)");
  if (flags & ~(unsigned)FMR_COMMIT_SYNC)
    return fmr_fail(FMR_EINVAL, "fmr_commit: unknown flags 0x%x", flags);

  fmr_lock(heap);
  if ((rc = catalog_writable(heap)) != FMR_OK)
    goto out;
  if ((rc = free_payload_block(heap, payload, &offset, &bytes)) != FMR_OK)
    goto out;
  if (name_len > 0 && name_lookup(heap, name, name_len, NULL) != 0) {
    rc = fmr_fail(FMR_EEXIST, "a record named \"%s\" already exists in %s",
                  name, heap->path);
    goto out;
  }

  if ((rc = fmr_heap_reserve_ids(heap)) != FMR_OK)
    goto out;

  struct fmr_disk_record template = {0};
  template.rec_id = heap->next_id;
  template.rec_generation = 1;
  template.rec_payload_offset = offset;
  template.rec_payload_bytes = bytes;
  template.rec_length = length;
  template.rec_type = type;
  rc = write_record(heap, &template, FMR_SLOT_COMMITTED, name, name_len, meta,
                    meta_len, flags, &slot);
  if (rc != FMR_OK)
    goto out;
  heap->next_id++;
  if (payload != NULL)
    fmr_map_remove(&heap->blocks, offset, NULL);    /* now the catalog's */
  fmr_map_put(&heap->by_id, template.rec_id, slot); /* room reserved */
  payload_index_put(heap, offset, slot);
  if (name_len > 0)
    name_insert(heap, name, name_len, slot);
  heap->records_committed++;
  heap->record_bytes += bytes;
  if (id_out != NULL)
    *id_out = template.rec_id;
  /* The record is published whatever happens now; a failed flush leaves
     only its durability against power loss unknown. */
  if (flags & FMR_COMMIT_SYNC)
    rc = fmr_heap_msync(heap, slot, SLOT_SIZE);
out:
  fmr_unlock(heap);
  return rc;
}

int fmr_catalog_copy_record(struct fmr_heap *dst, const struct fmr_heap *src,
                            uint64_t slot)
{
  const struct fmr_disk_record *r = slot_at(src, slot);
  uint64_t payload = 0, new_slot;
  int rc;
  if (r->rec_payload_offset != 0) {
    rc = fmr_block_alloc(dst, r->rec_payload_bytes, false, &payload);
    if (rc != FMR_OK)
      return rc;
    memcpy(fmr_at(dst, payload), fmr_at(src, r->rec_payload_offset),
           (size_t)r->rec_payload_bytes);
  }
  struct fmr_disk_record template = *r;
  template.rec_payload_offset = payload;
  const char *aux = record_name(src, r);
  rc = write_record(dst, &template, FMR_SLOT_COMMITTED, aux, r->rec_name_len,
                    r->rec_meta_len ? aux + r->rec_name_len : NULL,
                    r->rec_meta_len, 0, &new_slot);
  if (rc != FMR_OK) {
    if (payload != 0)
      fmr_block_release(dst, payload, r->rec_payload_bytes, false);
    return rc;
  }
  fmr_map_put(&dst->by_id, r->rec_id, new_slot); /* room reserved */
  payload_index_put(dst, payload, new_slot);
  if (r->rec_name_len > 0)
    name_insert(dst, aux, r->rec_name_len, new_slot);
  dst->records_committed++;
  dst->record_bytes += r->rec_payload_bytes;
  if (r->rec_id >= dst->next_id)
    dst->next_id = r->rec_id + 1;
  return FMR_OK;
}

static void fill_record(const struct fmr_heap *heap, uint64_t slot,
                        fmr_record *out)
{
  /* Work on a copy: in a reader the writer may reuse the slot meanwhile,
     so nothing read from it is trusted without a bounds check. */
  struct fmr_disk_record r = *slot_at(heap, slot);
  memset(out, 0, offsetof(fmr_record, name));
  out->struct_size = sizeof *out;
  out->id = r.rec_id;
  out->generation = r.rec_generation;
  out->state = r.rec_state == FMR_SLOT_COMMITTED ? FMR_RECORD_COMMITTED
                                                 : FMR_RECORD_TOMBSTONE;
  out->type = r.rec_type;
  out->length = r.rec_length;
  out->payload_offset = r.rec_payload_offset;
  out->payload_bytes = r.rec_payload_bytes;
  if (r.rec_payload_offset != 0 &&
      extent_ok(r.rec_payload_offset, r.rec_payload_bytes, heap->mapped))
    out->payload = fmr_at(heap, r.rec_payload_offset);
  out->name[0] = '\0';
  out->meta = NULL;
  out->meta_len = 0;
  if (r.rec_aux_offset == 0 ||
      !extent_ok(r.rec_aux_offset, r.rec_aux_bytes, heap->mapped) ||
      r.rec_name_len > FMR_NAME_MAX ||
      (uint64_t)r.rec_name_len + r.rec_meta_len > r.rec_aux_bytes)
    return;
  const unsigned char *aux = fmr_at(heap, r.rec_aux_offset);
  memcpy(out->name, aux, r.rec_name_len);
  out->name[r.rec_name_len] = '\0';
  out->meta = r.rec_meta_len ? aux + r.rec_name_len : NULL;
  out->meta_len = r.rec_meta_len;
}

/* Is SLOT still the live record ID?  A reader's index can lag behind the
   writer; a writer's never does. */
static bool slot_current(const struct fmr_heap *heap, uint64_t slot,
                         uint64_t id)
{
  if (!heap->readonly)
    return true;
  const struct fmr_disk_record *r = slot_at(heap, slot);
  return r->rec_id == id && fmr_record_validate(heap, r) == FMR_OK;
}

static int lookup_locked(struct fmr_heap *heap, uint64_t id, const char *name,
                         uint64_t *slot_out)
{
  size_t len = name != NULL ? strlen(name) : 0;
  for (int attempt = 0; attempt < 2; attempt++) {
    uint64_t slot = 0;
    if (name != NULL) {
      slot = name_lookup(heap, name, len, NULL);
      if (slot != 0)
        id = slot_at(heap, slot)->rec_id;
    } else {
      uint64_t *v = fmr_map_get(&heap->by_id, id);
      slot = v != NULL ? *v : 0;
    }
    if (slot != 0 && slot_current(heap, slot, id) &&
        (name == NULL ||
         load_state(slot_at(heap, slot)) == FMR_SLOT_COMMITTED)) {
      *slot_out = slot;
      return FMR_OK;
    }
    /* A reader reloads only if the writer published something since
       its last load: a miss costs a lookup, not a catalog scan. */
    if (!heap->readonly || fmr_heap_unchanged(heap))
      break;
    int rc = fmr_heap_refresh_locked(heap);
    if (rc != FMR_OK)
      return rc;
  }
  if (name != NULL)
    return fmr_fail(FMR_ENOTFOUND, "no record named \"%s\" in %s", name,
                    heap->path);
  return fmr_fail(FMR_ENOTFOUND, "no record with id %llu in %s",
                  (unsigned long long)id, heap->path);
}

FMR_EXPORT void fmr_record_init_size(fmr_record *record, size_t struct_size)
{
  if (record == NULL || struct_size < sizeof record->struct_size)
    return;
  memset(record, 0, struct_size);
  record->struct_size = struct_size;
}

/* Fill the caller's RECORD from SLOT, as far as its struct_size (checked
   by the caller) covers: a caller built against an older, shorter
   fmr_record gets no byte written past it. */
static void fill_caller_record(const struct fmr_heap *heap, uint64_t slot,
                               fmr_record *out)
{
  size_t size = out->struct_size;
  if (size == sizeof *out) {
    fill_record(heap, slot, out);
    return;
  }
  fmr_record full;
  fill_record(heap, slot, &full);
  memcpy((char *)out + sizeof out->struct_size,
         (const char *)&full + sizeof full.struct_size,
         size - sizeof out->struct_size);
  out->struct_size = size;
}

static int record_lookup(fmr_heap *heap, uint64_t id, const char *name,
                         fmr_record *out)
{
  uint64_t slot;
  int rc;
  if (heap == NULL || out == NULL)
    return fmr_fail(FMR_EINVAL, "a heap and a record are required");
  if (out->struct_size < sizeof out->struct_size ||
      out->struct_size > sizeof *out)
    return fmr_fail(FMR_EINVAL,
                    "the record was not set up with "
                    "fmr_record_init() (struct_size %zu; this "
                    "library knows %zu bytes)",
                    out->struct_size, sizeof *out);
  if (name != NULL && strnlen(name, FMR_NAME_MAX + 1) > FMR_NAME_MAX)
    return fmr_fail(FMR_ENAMETOOLONG, "record names are at most %d bytes",
                    FMR_NAME_MAX);
  fmr_lock(heap);
  if (heap->mode != FMR_MODE_PERSISTENT)
    rc = fmr_fail(FMR_ESCRATCH, "scratch heaps have no catalog");
  else
    rc = lookup_locked(heap, id, name, &slot);
  if (rc == FMR_OK)
    fill_caller_record(heap, slot, out);
  fmr_unlock(heap);
  return rc;
}

FMR_EXPORT int fmr_record_get(fmr_heap *heap, uint64_t id, fmr_record *out)
{
  return record_lookup(heap, id, NULL, out);
}

FMR_EXPORT int fmr_record_find(fmr_heap *heap, const char *name,
                               fmr_record *out)
{
  if (name == NULL || *name == '\0')
    return fmr_fail(FMR_EINVAL, "fmr_record_find: a name is required");
  return record_lookup(heap, 0, name, out);
}

/* Replace committed record ID by a new slot with the next generation. */
struct rewrite_args {
  bool set_fields, set_name, set_meta, set_payload;
  uint32_t type;
  uint64_t length;
  const char *name;
  size_t name_len;
  const void *meta;
  size_t meta_len;
  void *payload;
};

static int rewrite(struct fmr_heap *heap, uint64_t id,
                   const struct rewrite_args *a)
{
  uint64_t old_slot, new_slot, new_payload = 0, new_bytes = 0;
  const char *name = a->name;
  size_t name_len = a->name_len;
  const void *meta = a->meta;
  size_t meta_len = a->meta_len;
  int rc = lookup_locked(heap, id, NULL, &old_slot);
  if (rc != FMR_OK)
    return rc;
  struct fmr_disk_record *old = slot_at(heap, old_slot);
  if (load_state(old) != FMR_SLOT_COMMITTED)
    return fmr_fail(FMR_ENOTFOUND, "record %llu is a tombstone",
                    (unsigned long long)id);
  struct fmr_disk_record template = *old;
  const char *old_name = record_name(heap, old);
  size_t old_name_len = old->rec_name_len;
  template.rec_generation++;
  if (a->set_fields) {
    template.rec_type = a->type;
    template.rec_length = a->length;
  }
  if (a->set_payload) {
    rc = free_payload_block(heap, a->payload, &new_payload, &new_bytes);
    if (rc != FMR_OK)
      return rc;
    template.rec_payload_offset = new_payload;
    template.rec_payload_bytes = new_bytes;
    template.rec_length = a->length;
  }
  if (!a->set_name) {
    name = old_name;
    name_len = old_name_len;
  } else if (name_len > 0) {
    uint64_t holder = name_lookup(heap, name, name_len, NULL);
    if (holder != 0 && holder != old_slot)
      return fmr_fail(FMR_EEXIST, "a record named \"%.*s\" already exists",
                      (int)name_len, name);
  }
  if (!a->set_meta) {
    meta = old->rec_meta_len ? (const unsigned char *)old_name + old_name_len
                             : NULL;
    meta_len = old->rec_meta_len;
  }
  rc = write_record(heap, &template, FMR_SLOT_COMMITTED, name, name_len, meta,
                    meta_len, 0, &new_slot);
  if (rc != FMR_OK)
    return rc;
  /* The new slot is live.  The old one stays in the file until the next
     sync: were it emptied now, a power loss could keep that store and
     lose the new slot, and the record with it.  Until then an open after
     a crash finds both and keeps the higher generation. */
  if (old_name_len > 0)
    name_remove(heap, old_name, old_name_len);
  uint64_t old_aux = old->rec_aux_offset;
  uint64_t old_aux_bytes = old->rec_aux_bytes;
  uint64_t old_payload = old->rec_payload_offset;
  uint64_t old_bytes = old->rec_payload_bytes;
  heap->aux_bytes -= old->rec_aux_bytes;
  if (fmr_vec_push(&heap->superseded, old_slot) != FMR_OK)
    release_slot(heap, old_slot); /* no memory to wait: empty it now */
  fmr_map_put(&heap->by_id, id, new_slot);
  if (a->set_payload)
    payload_index_remove(heap, old_payload);
  payload_index_put(heap, template.rec_payload_offset, new_slot);
  if (name_len > 0)
    name_insert(heap, record_name(heap, slot_at(heap, new_slot)), name_len,
                new_slot);
  if (old_aux != 0)
    fmr_block_release(heap, old_aux, old_aux_bytes, true);
  if (a->set_payload) {
    if (new_payload != 0)
      fmr_map_remove(&heap->blocks, new_payload, NULL);
    if (old_payload != 0)
      fmr_block_release(heap, old_payload, old_bytes, true);
    heap->record_bytes += new_bytes - old_bytes;
  }
  return FMR_OK;
}

FMR_EXPORT int fmr_record_update(fmr_heap *heap, uint64_t id, uint32_t type,
                                 uint64_t length, const void *meta,
                                 size_t meta_len)
{
  if (heap == NULL || (meta == NULL && meta_len != 0) ||
      meta_len > FMR_META_MAX)
    return fmr_fail(FMR_EINVAL, "fmr_record_update: bad arguments");
  fmr_lock(heap);
  int rc = catalog_writable(heap);
  if (rc == FMR_OK)
    rc = rewrite(heap, id,
                 &(struct rewrite_args){.set_fields = true,
                                        .type = type,
                                        .length = length,
                                        .set_meta = true,
                                        .meta = meta,
                                        .meta_len = meta_len});
  fmr_unlock(heap);
  return rc;
}

FMR_EXPORT int fmr_record_rename(fmr_heap *heap, uint64_t id, const char *name)
{
  size_t len;
  int rc;
  if (heap == NULL)
    return fmr_fail(FMR_EINVAL, "fmr_record_rename: heap is required");
  if ((rc = check_name(name, &len)) != FMR_OK)
    return rc;
  fmr_lock(heap);
  rc = catalog_writable(heap);
  if (rc == FMR_OK)
    rc = rewrite(heap, id,
                 &(struct rewrite_args){
                     .set_name = true, .name = name, .name_len = len});
  fmr_unlock(heap);
  return rc;
}

FMR_EXPORT int fmr_record_set_payload(fmr_heap *heap, uint64_t id,
                                      void *payload, uint64_t length)
{
  if (heap == NULL)
    return fmr_fail(FMR_EINVAL, "fmr_record_set_payload: heap is required");
  fmr_lock(heap);
  int rc = catalog_writable(heap);
  if (rc == FMR_OK)
    rc = rewrite(heap, id,
                 &(struct rewrite_args){.set_payload = true,
                                        .payload = payload,
                                        .length = length});
  fmr_unlock(heap);
  return rc;
}

FMR_EXPORT int fmr_record_tombstone(fmr_heap *heap, uint64_t id)
{
  uint64_t slot;
  if (heap == NULL)
    return fmr_fail(FMR_EINVAL, "fmr_record_tombstone: heap is required");
  fmr_lock(heap);
  int rc = catalog_writable(heap);
  if (rc == FMR_OK)
    rc = lookup_locked(heap, id, NULL, &slot);
  if (rc == FMR_OK) {
    struct fmr_disk_record *r = slot_at(heap, slot);
    if (load_state(r) == FMR_SLOT_COMMITTED) {
      if (r->rec_name_len > 0)
        name_remove(heap, record_name(heap, r), r->rec_name_len);
      store_state(heap, r, FMR_SLOT_TOMBSTONE);
      heap->records_committed--;
      heap->records_tombstone++;
      heap->record_bytes -= r->rec_payload_bytes;
      heap->tombstone_bytes += r->rec_payload_bytes;
    }
  }
  fmr_unlock(heap);
  return rc;
}

/* Empty now the superseded slots of record ID in V: once the live slot
   is emptied they would bring an old version back at the next open.  (The
   space they reference is pending already, and is released only after a
   flush that includes these stores.) */
static void drop_superseded_in(struct fmr_heap *heap, struct fmr_vec *v,
                               uint64_t id)
{
  size_t keep = 0;
  for (size_t i = 0; i < v->count; i++) {
    uint64_t slot = v->items[i];
    if (slot_at(heap, slot)->rec_id == id)
      release_slot(heap, slot);
    else
      v->items[keep++] = slot;
  }
  v->count = keep;
}

static void drop_superseded(struct fmr_heap *heap, uint64_t id)
{
  drop_superseded_in(heap, &heap->superseded, id);
  drop_superseded_in(heap, &heap->sync_superseded, id);
}

void fmr_catalog_empty_slots(struct fmr_heap *heap, const uint64_t *slots,
                             size_t n)
{
  for (size_t i = 0; i < n; i++)
    release_slot(heap, slots[i]);
}

int fmr_catalog_flush_slots(struct fmr_heap *heap, const uint64_t *slots,
                            size_t n)
{
  uint64_t last_page = UINT64_MAX;
  for (size_t i = 0; i < n; i++) {
    /* Slots of one segment are often neighbours: flush each page once. */
    uint64_t page = slots[i] / FMR_META_PAGE_SIZE;
    if (page == last_page &&
        (slots[i] + SLOT_SIZE - 1) / FMR_META_PAGE_SIZE == page)
      continue;
    last_page = page;
    int rc = fmr_heap_msync(heap, slots[i], SLOT_SIZE);
    if (rc != FMR_OK)
      return rc;
  }
  return FMR_OK;
}

static void free_slot_record(struct fmr_heap *heap, uint64_t slot)
{
  struct fmr_disk_record *r = slot_at(heap, slot);
  drop_superseded(heap, r->rec_id);
  if (load_state(r) == FMR_SLOT_COMMITTED) {
    if (r->rec_name_len > 0)
      name_remove(heap, record_name(heap, r), r->rec_name_len);
    heap->records_committed--;
    heap->record_bytes -= r->rec_payload_bytes;
  } else {
    heap->records_tombstone--;
    heap->tombstone_bytes -= r->rec_payload_bytes;
  }
  fmr_map_remove(&heap->by_id, r->rec_id, NULL);
  payload_index_remove(heap, r->rec_payload_offset);
  heap->aux_bytes -= r->rec_aux_bytes;
  uint64_t payload = r->rec_payload_offset, aux = r->rec_aux_offset;
  uint64_t payload_bytes = r->rec_payload_bytes, aux_bytes = r->rec_aux_bytes;
  /* Empty the slot first: from then on the space is unreferenced.  It is
     reused only after the next sync (a power loss before it could bring
     the record back). */
  release_slot(heap, slot);
  if (payload != 0)
    fmr_block_release(heap, payload, payload_bytes, true);
  if (aux != 0)
    fmr_block_release(heap, aux, aux_bytes, true);
}

FMR_EXPORT int fmr_record_free(fmr_heap *heap, uint64_t id)
{
  uint64_t slot;
  if (heap == NULL)
    return fmr_fail(FMR_EINVAL, "fmr_record_free: heap is required");
  fmr_lock(heap);
  int rc = catalog_writable(heap);
  if (rc == FMR_OK)
    rc = lookup_locked(heap, id, NULL, &slot);
  if (rc == FMR_OK)
    free_slot_record(heap, slot);
  fmr_unlock(heap);
  return rc;
}

FMR_EXPORT int fmr_reclaim(fmr_heap *heap, uint64_t *count_out)
{
  uint64_t count = 0;
  if (heap == NULL)
    return fmr_fail(FMR_EINVAL, "fmr_reclaim: heap is required");
  fmr_lock(heap);
  int rc = catalog_writable(heap);
  if (rc == FMR_OK) {
    for (size_t s = 0; s < heap->segments.count; s++) {
      uint64_t offset = heap->segments.items[s];
      const struct fmr_disk_segment *seg = fmr_at(heap, offset);
      for (uint64_t i = 0; i < seg->seg_slots; i++) {
        uint64_t slot = offset + SEGMENT_HEADER + i * SLOT_SIZE;
        struct fmr_disk_record *r = slot_at(heap, slot);
        uint64_t *live = fmr_map_get(&heap->by_id, r->rec_id);
        if (load_state(r) == FMR_SLOT_TOMBSTONE && live != NULL &&
            *live == slot) {
          free_slot_record(heap, slot);
          count++;
        }
      }
    }
  }
  fmr_unlock(heap);
  if (count_out != NULL)
    *count_out = count;
  return rc;
}

static int cmp_u64(const void *a, const void *b)
{
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

FMR_EXPORT int fmr_record_foreach(fmr_heap *heap, fmr_record_fn fn, void *arg)
{
  uint64_t *ids = NULL;
  size_t n = 0;
  int rc = FMR_OK;
  fmr_record *record;

  if (heap == NULL || fn == NULL)
    return fmr_fail(FMR_EINVAL, "fmr_record_foreach: heap and fn are "
                                "required");
  record = malloc(sizeof *record);
  if (record == NULL)
    return fmr_fail(FMR_ENOMEM, "out of memory");
  fmr_lock(heap);
  if (heap->mode != FMR_MODE_PERSISTENT) {
    rc = fmr_fail(FMR_ESCRATCH, "scratch heaps have no catalog");
  } else if (heap->by_id.count > 0) {
    ids = malloc(heap->by_id.count * sizeof *ids);
    if (ids == NULL)
      rc = fmr_fail(FMR_ENOMEM, "out of memory");
    for (size_t i = 0; ids != NULL && i <= heap->by_id.mask; i++)
      if (heap->by_id.entries[i].key != 0)
        ids[n++] = heap->by_id.entries[i].key;
  }
  fmr_unlock(heap);
  if (rc == FMR_OK) {
    if (n > 1)
      qsort(ids, n, sizeof *ids, cmp_u64);
    /* The heap is unlocked while FN runs: it may change the catalog. */
    for (size_t i = 0; i < n && rc == FMR_OK; i++) {
      uint64_t slot;
      fmr_lock(heap);
      uint64_t *v = fmr_map_get(&heap->by_id, ids[i]);
      slot = v != NULL ? *v : 0;
      if (slot != 0 && slot_current(heap, slot, ids[i]))
        fill_record(heap, slot, record);
      else
        slot = 0;
      fmr_unlock(heap);
      if (slot != 0)
        rc = fn(record, arg);
    }
  }
  free(ids);
  free(record);
  return rc;
}
