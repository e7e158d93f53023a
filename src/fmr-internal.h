/* fmr-internal.h: private declarations of libfmalloc-r: the on-disk
   format, the in-memory heap structure and the helpers shared by the
   library's sources.  Never installed.

   Copyright (C) 2026 The libfmalloc-r authors.
   This file is part of libfmalloc-r, free software under the GNU Lesser
   General Public License, version 2.1 or (at your option) any later version.

   On-disk layout of a heap file (all integers in the creator's byte order,
   which must be the reader's; all positions are file offsets):

     [0, 4096)      meta page 0
     [4096, 8192)   meta page 1
     [8192, size)   the heap: 64-byte granules, allocated to blocks.

   The two meta pages alternate: update number N (meta_txn = N) is written to
   page N % 2, so a torn write of one page leaves the other intact.  The
   valid page (magic, version, checksum) with the higher meta_txn is current.

   The catalog is a chain of segments, each a block of the heap holding a
   header and an array of 128-byte record slots.  A slot is published by one
   aligned 8-byte store of its state word after every other field, and the
   checksum over those fields, is written: kill -9 at any instant leaves each
   slot either empty or complete.  The chain is extended the same way: the
   new segment is written first, then the previous segment's seg_next.

   Nothing else about the allocator is stored.  Free space is rebuilt at
   every open from the catalog: every byte of the heap not covered by a
   catalog segment, a committed or tombstoned record's payload or its
   auxiliary block (name and metadata) is free.  So uncommitted blocks vanish
   at close and after a crash without a journal, and a crash can never leave
   the allocator's own structures inconsistent.  */

#ifndef FMR_INTERNAL_H
#define FMR_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fmalloc-r.h"

/* ------------------------------------------------------------------ */
/* On-disk format                                                       */

#define FMR_MAGIC           "FMALLOCR" /* 8 bytes, no NUL on disk */
#define FMR_MAGIC_SIZE      8
#define FMR_FORMAT_VERSION  1u
#define FMR_BYTE_ORDER_MARK 0x01020304u /* reads 0x04030201 if swapped */
#define FMR_META_PAGE_SIZE  4096u       /* recorded as meta_page_size */
#define FMR_META_PAGES      2
#define FMR_HEAP_START      (FMR_META_PAGE_SIZE * FMR_META_PAGES) /* 8192 */
#define FMR_GRANULE         64u /* unit of allocation */
#define FMR_GRANULE_SHIFT   6

/* meta_flags */
#define FMR_META_CLEAN 0x1u /* closed cleanly; cleared while a writer runs */

/* Feature flags.  A reader must refuse a file with an unknown bit in
   meta_features_incompat; a writer must also refuse unknown bits in
   meta_features_ro_compat; unknown compat bits are ignored. */

/* The writer counts catalog changes in seg_changes of the first segment,
   and every meta page it writes has meta_change_txn == meta_txn.  A
   library that does not know the bit keeps it (it copies the meta page)
   but writes meta pages without updating meta_change_txn, so a reader
   trusts the counter only while the two are equal: a writer that does
   not count changes makes readers always reload, as before. */
#define FMR_FEATURE_COMPAT_CHANGE_COUNT 0x1u

#define FMR_FEATURES_COMPAT_KNOWN    FMR_FEATURE_COMPAT_CHANGE_COUNT
#define FMR_FEATURES_RO_COMPAT_KNOWN 0u
#define FMR_FEATURES_INCOMPAT_KNOWN  0u

struct fmr_disk_meta {
  char meta_magic[FMR_MAGIC_SIZE]; /* "FMALLOCR" */
  uint32_t meta_version;           /* FMR_FORMAT_VERSION */
  uint32_t meta_byte_order;        /* FMR_BYTE_ORDER_MARK */
  uint32_t meta_page_size;         /* FMR_META_PAGE_SIZE */
  uint32_t meta_granule;           /* FMR_GRANULE */
  uint64_t meta_features_compat;
  uint64_t meta_features_ro_compat;
  uint64_t meta_features_incompat;
  uint8_t meta_uuid[FMR_UUID_SIZE]; /* identity, fixed at creation */
  uint64_t meta_txn;                /* update number; page meta_txn % 2 */
  uint64_t meta_file_size;          /* bytes of the file the heap uses */
  uint64_t meta_catalog_head;       /* offset of the first segment, or 0 */
  uint64_t meta_next_id;            /* no record id below it is free */
  uint64_t meta_flags;              /* FMR_META_* */
  uint64_t meta_create_time;        /* seconds since the epoch */
  uint64_t meta_change_txn;         /* meta_txn when the writer counts
                                       catalog changes, else stale or 0 */
  uint64_t meta_reserved[4];        /* zero */
  uint32_t meta_size;               /* sizeof (struct fmr_disk_meta) */
  uint32_t meta_checksum;           /* CRC-32C of all bytes before it */
};

#define FMR_SEGMENT_MAGIC "FMRCATSG"

struct fmr_disk_segment {
  char seg_magic[FMR_MAGIC_SIZE]; /* "FMRCATSG" */
  uint64_t seg_self;              /* own offset: catches stray pointers */
  uint64_t seg_slots;             /* record slots that follow the header */
  uint64_t seg_reserved[2];       /* zero */
  uint32_t seg_pad;               /* zero */
  uint32_t seg_checksum;          /* CRC-32C of all bytes before it */
  uint64_t seg_next;              /* next segment or 0; written last */
  uint64_t seg_changes;           /* first segment: catalog changes so far
                                     (not in the checksum); else zero */
};

/* Slot states: distinctive 8-byte values so that stray bytes are not taken
   for a record.  A slot is empty unless its state is one of the two. */
#define FMR_SLOT_EMPTY     0u
#define FMR_SLOT_COMMITTED UINT64_C(0x544d4d4f43524d46) /* "FMRCOMMT" */
#define FMR_SLOT_TOMBSTONE UINT64_C(0x53424d4f54524d46) /* "FMRTOMBS" */

struct fmr_disk_record {
  uint64_t rec_state;          /* FMR_SLOT_*; stored last, atomically */
  uint64_t rec_id;             /* stable id, > 0 */
  uint64_t rec_generation;     /* 1 at commit, +1 per update */
  uint64_t rec_payload_offset; /* 0 if no payload */
  uint64_t rec_payload_bytes;  /* extent reserved for the payload */
  uint64_t rec_length;         /* caller's length */
  uint64_t rec_aux_offset;     /* name then metadata; 0 if neither */
  uint64_t rec_aux_bytes;      /* extent reserved for the aux block */
  uint32_t rec_type;           /* caller's type tag */
  uint32_t rec_flags;          /* zero in version 1 */
  uint32_t rec_name_len;       /* bytes of name, no NUL */
  uint32_t rec_meta_len;       /* bytes of metadata */
  uint64_t rec_commit_time;    /* seconds since the epoch */
  uint64_t rec_reserved[4];    /* zero */
  uint32_t rec_aux_checksum;   /* CRC-32C of name and metadata */
  uint32_t rec_checksum;       /* CRC-32C of rec_id .. rec_aux_checksum */
};

/* A freed slot keeps its id and checksum (only rec_state is cleared), so
   the highest id ever issued can be recomputed at open after a crash. */

#define FMR_SEGMENT_FIRST_SLOTS 63u    /* first segment: 64 + 63 * 128 bytes */
#define FMR_SEGMENT_MAX_SLOTS   32767u /* later ones double up to this */

_Static_assert(sizeof(struct fmr_disk_meta) == 160, "meta layout");
_Static_assert(sizeof(struct fmr_disk_segment) == 64, "segment layout");
_Static_assert(sizeof(struct fmr_disk_record) == 128, "record layout");

/* ------------------------------------------------------------------ */
/* Helpers                                                              */

uint32_t fmr_crc32c(uint32_t crc, const void *data, size_t len);

/* Set the calling thread's detailed error message; returns CODE. */
int fmr_fail(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Same, appending ": strerror(errnum)". */
int fmr_fail_errno(int code, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void fmr_clear_error(void);

/* Open-addressing hash map from nonzero uint64 keys to uint64 values. */
struct fmr_map_entry {
  uint64_t key; /* 0 = empty */
  uint64_t value;
};
struct fmr_map {
  struct fmr_map_entry *entries;
  size_t mask;    /* capacity - 1; capacity is a power of two */
  unsigned shift; /* 64 - log2(capacity) */
  size_t count;
  bool sequential; /* keys come mostly in order: hash by key itself */
};
void fmr_map_init(struct fmr_map *map);
void fmr_map_destroy(struct fmr_map *map);
/* Returns a pointer to the value, or NULL. */
uint64_t *fmr_map_get(const struct fmr_map *map, uint64_t key);
/* Ask for the bucket where KEY would be into the cache (a hint). */
void fmr_map_prefetch(const struct fmr_map *map, uint64_t key);
/* Insert or replace.  Returns 0 or FMR_ENOMEM. */
int fmr_map_put(struct fmr_map *map, uint64_t key, uint64_t value);
/* Returns true if the key was there. */
bool fmr_map_remove(struct fmr_map *map, uint64_t key, uint64_t *value_out);

/* Growable array of uint64. */
struct fmr_vec {
  uint64_t *items;
  size_t count, capacity;
};
int fmr_vec_push(struct fmr_vec *vec, uint64_t value);
/* Make sure the next N insertions of new keys cannot fail. */
int fmr_map_reserve(struct fmr_map *map, size_t n);
void fmr_vec_destroy(struct fmr_vec *vec);

/* Free extents of the heap, in granules (TLSF: two-level segregated
   fit, O(1) allocation and free with immediate coalescing). */
#define FMR_TLSF_FL      64
#define FMR_TLSF_SL_BITS 4
#define FMR_TLSF_SL      (1 << FMR_TLSF_SL_BITS)

struct fmr_extent_node {
  uint64_t start, len; /* granules */
  uint32_t prev, next; /* in the bin list; 0 = none (node 0 unused) */
};

struct fmr_extents {
  struct fmr_extent_node *nodes;
  uint32_t node_count, node_capacity, node_free; /* free-node list */
  uint64_t fl_bitmap;
  uint32_t sl_bitmap[FMR_TLSF_FL];
  uint32_t heads[FMR_TLSF_FL][FMR_TLSF_SL];
  struct fmr_map by_start; /* granule -> node */
  struct fmr_map by_end;   /* granule after the extent -> node */
  uint64_t free_granules;
  uint64_t count;
};
void fmr_extents_init(struct fmr_extents *ext);
void fmr_extents_destroy(struct fmr_extents *ext);
/* Add a free extent, coalescing with neighbours. */
int fmr_extents_insert(struct fmr_extents *ext, uint64_t start, uint64_t len);
/* Take LEN granules; returns the start granule or 0 if none fits. */
uint64_t fmr_extents_take(struct fmr_extents *ext, uint64_t len);
/* Take LEN granules at START, which must begin a free extent at least
   that long; returns 0 or FMR_ENOTFOUND. */
int fmr_extents_take_at(struct fmr_extents *ext, uint64_t start, uint64_t len);
uint64_t fmr_extents_largest(const struct fmr_extents *ext);
/* Call FN for every free extent (unordered). */
void fmr_extents_walk(const struct fmr_extents *ext,
                      void (*fn)(uint64_t start, uint64_t len, void *arg),
                      void *arg);

/* ------------------------------------------------------------------ */
/* The heap in memory                                                   */

/* fmr_heap.blocks maps the offset of every block the caller holds (not
   committed) to its size; committed payloads, aux blocks and catalog
   segments are known from the catalog alone, so a heap with many records
   opens without indexing them twice.  A flag in the low bits of the size
   (sizes are multiples of 64) marks a freed small block in the cache. */
#define FMR_BLOCK_CACHED 0x1u
#define FMR_BLOCK_FLAGS  0x3fu

/* Small blocks (up to FMR_SMALL_MAX bytes) freed by the caller are cached
   per size class and handed out again without touching the extent
   allocator; the cache is bounded and flushed before the heap grows. */
#define FMR_SMALL_MAX       1024u
#define FMR_SMALL_CLASSES   (FMR_SMALL_MAX / FMR_GRANULE)
#define FMR_SMALL_CACHE_MAX 2048u

struct fmr_heap {
  struct fmr_heap *registry_next; /* process-wide list of open heaps */
  dev_t dev;
  ino_t ino;
  /* Opens of the heap in this process.  Changed under the registry lock,
     read without it (fmr_stat, fmr_compact), hence atomic. */
  _Atomic unsigned refcount;
  char *path;
  int fd;
  int mode; /* enum fmr_mode */
  bool readonly;
  bool recovered;
  bool forked;      /* this process is a fork() child of the one that opened */
  bool private_map; /* forked, and the file mapping was made private
                       copy-on-write (atfork_child in heap.c) */
  bool compacting;  /* fmr_compact is rewriting the file: further opens
                       in this process get FMR_EBUSY (registry lock) */
  bool closing;     /* the last fmr_close is under way: opens of the file
                       in this process wait for it (registry lock) */
  bool opening;     /* fmr_open is reading the file, without the registry
                       lock: other opens of the file in this process wait
                       for it (registry lock) */
  bool default_max; /* max_size not given: the reservation may shrink */
#ifdef HAVE_FUTEX
  _Atomic int lock; /* fmr_lock() (lock.c); no lock is shared between heaps */
#else
  pthread_mutex_t lock; /* fmr_lock(); no lock is shared between heaps */
#endif

  uint8_t *base;     /* start of the reserved address range */
  uint64_t reserved; /* bytes reserved (max size) */
  /* Bytes of the file mapped at base.  Changed under the heap lock (by
     growth, or a reader's refresh) but read without it by
     fmr_ptr_to_offset() and fmr_offset_to_ptr(), hence atomic: stored
     with release after the mmap, loaded with acquire there. */
  _Atomic uint64_t mapped;
  uint64_t file_size;        /* bytes the heap uses (recorded in meta) */
  uint64_t growth_step;      /* fmr_options.growth_step of the first open;
                                0: the default step (fmr_heap_grow) */
  struct fmr_disk_meta meta; /* copy of the current meta page */

  struct fmr_extents extents; /* free space */
  struct fmr_map blocks;      /* live block offset -> size | flags */
  struct fmr_vec small_cache[FMR_SMALL_CLASSES]; /* cached free offsets */
  uint64_t cached_bytes;
  uint64_t used_bytes;    /* in live blocks */
  struct fmr_vec pending; /* offset, size pairs freed since last sync */
  uint64_t pending_bytes; /* in pending and sync_pending */
  /* What an fmr_sync under way (with the heap lock released during its
     flush) releases when the flush completes: the pending space and the
     superseded slots it took over at its start (heap.c fmr_sync). */
  bool syncing;
  struct fmr_vec sync_pending;
  struct fmr_vec sync_superseded;

  /* catalog */
  uint64_t catalog_tail; /* last segment, 0 if none */
  uint64_t catalog_bytes, catalog_slots;
  uint64_t next_id;
  /* Ids below id_limit may be issued without writing a meta page: a
     writer's meta pages record id_limit, not next_id, so no crash (kill -9
     or power loss) can bring back a meta page below an id issued (see
     fmr_heap_reserve_ids). */
  uint64_t id_limit;
  struct fmr_map by_id;      /* record id -> slot offset */
  struct fmr_map by_name;    /* name hash -> slot offset (see catalog.c) */
  struct fmr_vec free_slots; /* empty slot offsets */
  struct fmr_vec superseded; /* old slots of updated records, emptied at
                                the next sync (see catalog.c) */
  struct fmr_vec segments;   /* segment offsets, in chain order */
  uint64_t records_committed, records_tombstone, records_damaged;
  uint64_t record_bytes, tombstone_bytes, aux_bytes;
  uint64_t catalog_last_slots; /* slots of the last segment */
  /* Committed and tombstoned payloads by offset (payload offset -> slot),
     for fmr_usable_size and the FMR_ECOMMITTED errors of fmr_free,
     fmr_realloc and fmr_commit.  Built on first use, not at open (an
     open would pay a hash insert per record for what few programs ask),
     then kept up to date by every catalog change; dropped (and built
     again when next needed) by a reload or when memory runs out. */
  struct fmr_map payloads;
  bool payloads_indexed;
  /* Reader: the writer's change counter read before the last catalog
     load, and whether the file's writer keeps one (see
     FMR_FEATURE_COMPAT_CHANGE_COUNT). */
  uint64_t changes_seen;
  bool changes_trusted;
};

/* The heap lock.  Critical sections are short (an allocation is tens of
   nanoseconds) except growth, sync and check, so a waiter spins a little
   and then sleeps.  With Linux futexes (lock.c) taking and releasing a
   free lock costs one atomic exchange each; elsewhere it is a pthread
   mutex. */
#ifdef HAVE_FUTEX
void fmr_lock_wait(struct fmr_heap *heap, int seen);
void fmr_lock_wake(struct fmr_heap *heap);

static inline void fmr_lock_init(struct fmr_heap *heap)
{
  atomic_init(&heap->lock, 0);
}

static inline void fmr_lock_destroy(struct fmr_heap *heap)
{
  (void)heap;
}

static inline void fmr_lock(struct fmr_heap *heap)
{
  int seen = atomic_exchange_explicit(&heap->lock, 1, memory_order_acquire);
  if (seen != 0)
    fmr_lock_wait(heap, seen);
}

static inline void fmr_unlock(struct fmr_heap *heap)
{
  if (atomic_exchange_explicit(&heap->lock, 0, memory_order_release) == 2)
    fmr_lock_wake(heap);
}
#else
static inline void fmr_lock_init(struct fmr_heap *heap)
{
  pthread_mutex_init(&heap->lock, NULL);
}

static inline void fmr_lock_destroy(struct fmr_heap *heap)
{
  pthread_mutex_destroy(&heap->lock);
}

static inline void fmr_lock(struct fmr_heap *heap)
{
  pthread_mutex_lock(&heap->lock);
}

static inline void fmr_unlock(struct fmr_heap *heap)
{
  pthread_mutex_unlock(&heap->lock);
}
#endif

static inline void *fmr_at(const struct fmr_heap *heap, uint64_t offset)
{
  return heap->base + offset;
}

/* heap.c */
/* 0 if the heap may be changed, else FMR_EREADONLY or FMR_EFORKED (with
   the message set).  Caller holds heap->lock. */
int fmr_heap_not_writable(struct fmr_heap *heap);
static inline int fmr_heap_writable(struct fmr_heap *heap)
{
  if (__builtin_expect(heap->readonly || heap->forked, 0))
    return fmr_heap_not_writable(heap);
  return FMR_OK;
}
/* 0, or FMR_EGONE (message set) if the file of the persistent HEAP was
   deleted or replaced: it has no name left, so nothing written to it
   outlives the process.  One fstat; not for the allocation paths. */
int fmr_heap_linked(struct fmr_heap *heap);
int fmr_heap_grow(struct fmr_heap *heap, uint64_t min_bytes);
int fmr_heap_write_meta(struct fmr_heap *heap, bool clean);
int fmr_heap_msync(struct fmr_heap *heap, uint64_t offset, uint64_t len);
/* Reader: re-read the meta page, map what the writer added and reload
   the catalog.  Caller holds heap->lock. */
int fmr_heap_refresh_locked(struct fmr_heap *heap);
/* Reader: true if the writer has published nothing since the last
   catalog load (no new meta page, the change counter unchanged), so a
   reload would find the same catalog.  Caller holds heap->lock. */
bool fmr_heap_unchanged(const struct fmr_heap *heap);

/* A heap file made for fmr_compact(): created at PATH (which must not
   exist) with the writer lock, INITIAL bytes and the given uuid, and not
   in the process registry.  Finish makes it durable and clean; discard
   unmaps and closes it (the caller removes the file if it must go). */
int fmr_heap_create_private(const char *path, unsigned file_mode,
                            uint64_t initial, const uint8_t *uuid,
                            struct fmr_heap **heap_out);
int fmr_heap_finish_private(struct fmr_heap *heap);
void fmr_heap_discard_private(struct fmr_heap *heap);
/* Claim HEAP for fmr_compact: FMR_EBUSY unless this is its only open in
   the process; then no other open in the process can get it until it is
   closed (an open in between would write to the file being replaced). */
int fmr_heap_claim_for_compaction(struct fmr_heap *heap, const char *path);

/* alloc.c: callers hold heap->lock. */
/* Allocate; TRACKED blocks are the caller's and go in heap->blocks. */
int fmr_block_alloc(struct fmr_heap *heap, uint64_t size, bool tracked,
                    uint64_t *offset_out);
/* Free a tracked block. */
void fmr_block_free(struct fmr_heap *heap, uint64_t offset);
/* Free an untracked block of BYTES (catalog space), now, or after the next
   sync when DEFERRED (space of a committed record, which a power loss
   could bring back). */
void fmr_block_release(struct fmr_heap *heap, uint64_t offset, uint64_t bytes,
                       bool deferred);
/* After a successful flush of the whole file (lock held throughout):
   empty the superseded record slots and flush their pages, then make the
   space freed before the flush reusable.  On failure that space stays
   pending. */
int fmr_heap_synced(struct fmr_heap *heap);
/* Make the N offset, size pairs at V reusable (lock held). */
void fmr_heap_release_pending(struct fmr_heap *heap, const uint64_t *v,
                              size_t n);
void fmr_block_flush_cache(struct fmr_heap *heap);
uint64_t fmr_round_size(uint64_t size);

/* catalog.c */
int fmr_catalog_create(struct fmr_heap *heap);
/* Scan the catalog and rebuild free space (writer) or only the indexes
   (reader).  FLAGS are the fmr_open flags. */
int fmr_catalog_load(struct fmr_heap *heap, unsigned flags);
void fmr_catalog_reset(struct fmr_heap *heap);
uint32_t fmr_record_checksum(const struct fmr_disk_record *record);
uint32_t fmr_segment_checksum(const struct fmr_disk_segment *segment);
/* 0, or FMR_ECHECKSUM / FMR_ECORRUPT for a slot that is not a complete,
   plausible committed or tombstoned record. */
int fmr_record_validate(const struct fmr_heap *heap,
                        const struct fmr_disk_record *record);
uint64_t fmr_name_hash(const char *name, size_t len);
/* Bytes of the committed or tombstoned record payload at OFFSET, or 0.
   Constant time but for the first call after an open or reload, which
   indexes the payloads (heap->payloads). */
uint64_t fmr_catalog_payload_bytes(struct fmr_heap *heap, uint64_t offset);
/* Copy the committed record in SRC's slot SLOT into DST with the same id,
   generation, type, length, name, metadata and payload bytes. */
int fmr_catalog_copy_record(struct fmr_heap *dst, const struct fmr_heap *src,
                            uint64_t slot);
/* Record in a durable meta page that ids up to next_id + FMR_ID_RESERVE
   may be in use, before the id next_id is issued (heap.c). */
#define FMR_ID_RESERVE 1024
int fmr_heap_reserve_ids(struct fmr_heap *heap);

/* Empty the N slots at SLOTS (superseded versions whose successors are
   durable).  Lock held. */
void fmr_catalog_empty_slots(struct fmr_heap *heap, const uint64_t *slots,
                             size_t n);
/* Flush the pages that hold the N slots at SLOTS.  Needs no lock if the
   caller keeps the heap open. */
int fmr_catalog_flush_slots(struct fmr_heap *heap, const uint64_t *slots,
                            size_t n);
/* The first segment's seg_changes, or false if the catalog head is not
   a mapped segment. */
bool fmr_catalog_changes(const struct fmr_heap *heap, uint64_t *changes_out);

/* ------------------------------------------------------------------ */
/* Fault injection (test builds only)                                   */

/* tests/test_faults compiles the library's sources with
   FMR_FAULT_INJECTION: every system call that can fail and every memory
   allocation then goes through tests/fault.c, which can make the Nth
   call of a kind fail with a realistic errno.  The library as shipped has
   none of this. */
enum fmr_fault_kind {
  FMR_FAULT_MALLOC, /* malloc, calloc, realloc, strdup, strndup */
  FMR_FAULT_OPEN,   /* open, mkostemp */
  FMR_FAULT_MMAP,
  FMR_FAULT_FALLOCATE,
  FMR_FAULT_MSYNC,
  FMR_FAULT_FSYNC, /* fsync, fdatasync */
  FMR_FAULT_PREAD,
  FMR_FAULT_LINK, /* link, renameat2 */
  FMR_FAULT_KINDS
};

#if defined(FMR_FAULT_INJECTION) && !defined(FMR_FAULT_NO_MACROS)
#include <stdarg.h>
void *fmr_fault_malloc(size_t size);
void *fmr_fault_calloc(size_t nmemb, size_t size);
void *fmr_fault_realloc(void *ptr, size_t size);
char *fmr_fault_strdup(const char *s);
char *fmr_fault_strndup(const char *s, size_t n);
int fmr_fault_open(const char *path, int flags, ...);
int fmr_fault_mkostemp(char *template, int flags);
void *fmr_fault_mmap(void *addr, size_t len, int prot, int flags, int fd,
                     off_t offset);
int fmr_fault_posix_fallocate(int fd, off_t offset, off_t len);
int fmr_fault_msync(void *addr, size_t len, int flags);
int fmr_fault_fsync(int fd);
int fmr_fault_fdatasync(int fd);
ssize_t fmr_fault_pread(int fd, void *buf, size_t count, off_t offset);
int fmr_fault_link(const char *from, const char *to);
int fmr_fault_renameat2(int olddirfd, const char *oldpath, int newdirfd,
                        const char *newpath, unsigned int flags);
#define malloc          fmr_fault_malloc
#define calloc          fmr_fault_calloc
#define realloc         fmr_fault_realloc
#define strdup          fmr_fault_strdup
#define strndup         fmr_fault_strndup
#define open            fmr_fault_open
#define mkostemp        fmr_fault_mkostemp
#define mmap            fmr_fault_mmap
#define posix_fallocate fmr_fault_posix_fallocate
#define msync           fmr_fault_msync
#define fsync           fmr_fault_fsync
#define fdatasync       fmr_fault_fdatasync
#define pread           fmr_fault_pread
#define link            fmr_fault_link
#define renameat2       fmr_fault_renameat2
#endif

#endif /* FMR_INTERNAL_H */
