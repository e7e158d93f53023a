/* fmalloc-r.h: public interface of libfmalloc-r, a memory allocator whose
   heap lives in a memory-mapped file.

   Copyright (C) 2026 The libfmalloc-r authors.
   This file is part of libfmalloc-r, free software under the GNU Lesser
   General Public License, version 2.1 or (at your option) any later version.

   A heap file holds allocations addressed by file offset, never by process
   address, so it can be mapped anywhere, copied, moved and reopened.  In a
   persistent heap an allocation becomes durable when it is committed as a
   record of the catalog; everything not committed is reclaimed at close and
   at recovery.  A scratch heap is an anonymous file that nothing outlives.

   Conventions: functions return 0 (FMR_OK) on success or a negative FMR_E*
   code; fmr_strerror() describes a code and fmr_errmsg() gives the details
   of the calling thread's last failure.  Every function is thread-safe; each
   heap has its own lock and no lock is shared between heaps.

   Caveats:
   - Writes into a payload are the caller's and are not atomic: a crash in
     the middle of writing leaves a partly written payload.  Only the
     catalog record (type, length, name, metadata, extent) is atomic.
   - A commit survives kill -9 at once; it survives power loss once
     fmr_sync() has returned (or at once with FMR_COMMIT_SYNC).
   - After fork() the child's copies of the parent's heaps refuse every
     change (FMR_EFORKED); reading through pointers still works, and
     stores through pointers stay in the child (its mapping is a private
     copy-on-write one; pages it has not written show the file as it is
     now, on Linux).  fmr_close() in the child only unmaps.  A child
     that needs to write opens the file anew (read-write fails with
     FMR_ELOCKED while the parent holds the writer lock).
   - A reader (FMR_OPEN_READONLY) sees records committed when it opened or
     last refreshed.  If the writer frees a record the reader still uses,
     the reader keeps seeing the old bytes until the space is reused, and
     then sees whatever the writer writes there; it never faults.  */

#ifndef FMALLOC_R_H
#define FMALLOC_R_H

#include <stddef.h>
#include <stdint.h>

#include "fmalloc-r-version.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(FMR_BUILDING_LIBRARY) && defined(__GNUC__)
#define FMR_EXPORT __attribute__((visibility("default")))
#else
#define FMR_EXPORT
#endif

/* Error codes.  Zero is success; every failure is negative. */
enum fmr_error {
  FMR_OK = 0,
  FMR_EINVAL = -1,        /* invalid argument */
  FMR_ENOMEM = -2,        /* out of process memory */
  FMR_EIO = -3,           /* system call failed; see fmr_errmsg() */
  FMR_ENOSPC = -4,        /* disk full or file size limit reached */
  FMR_EFULL = -5,         /* heap reached its maximum size */
  FMR_ELOCKED = -6,       /* another process holds the writer lock */
  FMR_EEMPTY = -7,        /* file is empty (zero length) */
  FMR_ENOTHEAP = -8,      /* file is not a libfmalloc-r heap (bad magic) */
  FMR_EVERSION = -9,      /* unsupported format version */
  FMR_EFEATURE = -10,     /* file uses features this library lacks */
  FMR_EBYTEORDER = -11,   /* file written on a machine of other byte order */
  FMR_EPAGESIZE = -12,    /* unsupported page size recorded in the file */
  FMR_ETRUNCATED = -13,   /* file shorter than its header records */
  FMR_ECHECKSUM = -14,    /* checksum mismatch (meta pages or a record) */
  FMR_ECORRUPT = -15,     /* inconsistent structure in the file */
  FMR_ENOTFOUND = -16,    /* no such record */
  FMR_EEXIST = -17,       /* name already used by another record */
  FMR_EREADONLY = -18,    /* heap is open read-only */
  FMR_ESCRATCH = -19,     /* operation needs a persistent heap */
  FMR_EBUSY = -20,        /* file already open here in an incompatible way */
  FMR_ESTALE = -21,       /* record generation does not match */
  FMR_ENAMETOOLONG = -22, /* record name longer than FMR_NAME_MAX */
  FMR_ENOENT = -23,       /* file does not exist */
  FMR_EACCES = -24,       /* permission denied */
  FMR_ECOMMITTED = -25,   /* block belongs to a committed record */
  FMR_ENOTOWNED = -26,    /* pointer is not a live block of this heap */
  FMR_ETOOBIG = -27,      /* size does not fit in the address space */
  FMR_EFORKED = -28,      /* heap was opened before fork(); reopen it */
  FMR_EGONE = -29,        /* heap file was deleted or replaced: changes
                             would be lost; open the path again */
  FMR_EREPLACED = -30,    /* a reader's file was replaced at its path
                             (e.g. compacted): reopen to see new records */
  FMR_EDANGLING = -31     /* path is a symbolic link to nothing: no heap
                             is created through it */
};

/* Heap modes. */
enum fmr_mode {
  FMR_MODE_PERSISTENT = 0, /* catalog, durable records */
  FMR_MODE_SCRATCH = 1     /* anonymous file, nothing survives */
};

/* Where a heap's file is now (fmr_file_state()). */
enum fmr_file_state {
  FMR_FILE_CURRENT = 0,  /* the path names the heap's file */
  FMR_FILE_DELETED = 1,  /* the file has no name left; nothing is at the
                            path: changes are refused (FMR_EGONE) */
  FMR_FILE_REPLACED = 2, /* the file has no name left; the path names
                            another file: changes are refused */
  FMR_FILE_MOVED = 3     /* the file has a name, but not the path (renamed,
                            or the path was unlinked after a hard link was
                            made): changes still reach the file */
};

/* Open flags (fmr_options.flags). */
#define FMR_OPEN_CREATE 0x1u   /* create the file if missing or empty */
#define FMR_OPEN_READONLY 0x2u /* map read-only; no lock, no writes */
#define FMR_OPEN_RECOVER 0x4u  /* drop damaged records instead of failing */

/* Record states. */
enum fmr_record_state {
  FMR_RECORD_COMMITTED = 1,
  FMR_RECORD_TOMBSTONE = 2
};

/* Commit flags. */
#define FMR_COMMIT_SYNC 0x1u /* durable against power loss on return */

#define FMR_NAME_MAX 255          /* longest record name, in bytes */
#define FMR_META_MAX (1u << 30)   /* largest metadata blob, in bytes */
#define FMR_ALIGNMENT 64          /* alignment of every payload */
#define FMR_UUID_SIZE 16

typedef struct fmr_heap fmr_heap;

/* Structures that the caller allocates (fmr_options, fmr_record,
   fmr_stats) start with struct_size: the size of the structure the caller
   was compiled with, set by fmr_options_init(), fmr_record_init() and
   fmr_stats_init() (macros that pass sizeof to the library).  Later
   versions add fields only at the end; the library reads and writes no
   byte of such a structure past the caller's struct_size, and refuses a
   struct_size it cannot have been given (smaller than the struct_size
   field, or larger than the library's structure) with FMR_EINVAL. */

/* Options for fmr_open().  Always initialize with fmr_options_init(),
   which sets the defaults and struct_size. */
typedef struct fmr_options {
  size_t struct_size;    /* set by fmr_options_init() */
  int mode;              /* enum fmr_mode; default FMR_MODE_PERSISTENT */
  unsigned flags;        /* FMR_OPEN_* */
  uint64_t initial_size; /* bytes for a new file; 0 means 1 MiB */
  uint64_t max_size;     /* address space reserved; 0 means 256 GiB,
                            or less where address space is limited */
  unsigned file_mode;    /* permissions of a new file before umask;
                            default 0666 */
  /* Appended after file_mode: a caller whose struct_size stops short
     of it gets the default. */
  uint64_t growth_step;  /* bytes each growth of the file adds (at least
                            what the allocation needs); 0 means the
                            default: half the file's size, between 4 MiB
                            and 1 GiB.  Either is cut to what the
                            allocation needs when it would leave less
                            than half the file system's free space. */
} fmr_options;

/* A catalog record as seen by the caller.  Initialize with
   fmr_record_init() before fmr_record_get() or fmr_record_find(); they
   fill the fields that the caller's struct_size covers.  The record that
   fmr_record_foreach() passes is the library's own, with its struct_size.
   The name is copied into the structure (it stays valid whatever happens
   to the record later); FMR_NAME_MAX is fixed by the file format. */
typedef struct fmr_record {
  size_t struct_size;      /* set by fmr_record_init() */
  uint64_t id;             /* stable, never reused in this file */
  uint64_t generation;     /* increases on every update of the record */
  int state;               /* enum fmr_record_state */
  uint32_t type;           /* caller's opaque type tag */
  uint64_t length;         /* caller's opaque length */
  uint64_t payload_offset; /* file offset of the payload; 0 if none */
  uint64_t payload_bytes;  /* bytes reserved for the payload */
  void *payload;           /* payload in this process, or NULL */
  char name[FMR_NAME_MAX + 1]; /* NUL-terminated; "" if unnamed */
  const void *meta;        /* metadata in the mapping; valid until the
                              record changes or the heap closes */
  size_t meta_len;
} fmr_record;

/* Heap statistics.  Initialize with fmr_stats_init() before fmr_stat(),
   which fills the fields that the caller's struct_size covers. */
typedef struct fmr_stats {
  size_t struct_size; /* set by fmr_stats_init() */
  uint32_t format_version;
  int mode;                  /* enum fmr_mode */
  int readonly;              /* 1 if opened read-only */
  int recovered;             /* writer: 1 if the file was not closed
                                cleanly before this open (recovery ran);
                                reader: 1 if the file is not marked
                                clean, i.e. a writer has it open now or
                                did not close it */
  uint8_t uuid[FMR_UUID_SIZE];
  uint64_t file_size;        /* bytes of the file */
  uint64_t max_size;         /* largest size the heap may grow to */
  uint64_t heap_bytes;       /* bytes managed by the allocator */
  uint64_t used_bytes;       /* bytes in live blocks (including catalog) */
  uint64_t free_bytes;       /* bytes free */
  /* The next three are 0 for a reader, which has no allocator; its
     used_bytes counts the catalog and records, free_bytes the rest. */
  uint64_t largest_free;     /* largest free extent */
  uint64_t free_extents;     /* number of free extents */
  uint64_t blocks;           /* live blocks not committed as records */
  uint64_t records_committed;
  uint64_t records_tombstone;
  uint64_t records_damaged;  /* skipped or dropped: bad checksum */
  uint64_t record_bytes;     /* payload bytes of committed records */
  uint64_t tombstone_bytes;  /* payload bytes held by tombstones */
  uint64_t catalog_bytes;    /* bytes of catalog segments */
  uint64_t catalog_slots;    /* record slots in the catalog */
  uint64_t pending_free_bytes; /* freed, reusable after the next sync */
  uint64_t refcount;         /* opens of this heap in this process */
} fmr_stats;

typedef int (*fmr_record_fn)(const fmr_record *record, void *arg);
typedef void (*fmr_report_fn)(const char *problem, void *arg);

/* --- library ------------------------------------------------------ */

/* Version of the library at run time, e.g. "0.1.0". */
FMR_EXPORT const char *fmr_version(void);
/* Static description of an error code (with advice where useful). */
FMR_EXPORT const char *fmr_strerror(int code);
/* Details of the calling thread's last failure ("" if none). */
FMR_EXPORT const char *fmr_errmsg(void);

/* --- heaps -------------------------------------------------------- */

/* Set *OPTIONS to the defaults and its struct_size to STRUCT_SIZE, writing
   no byte past it.  Call it through fmr_options_init(OPTIONS), which
   passes the caller's sizeof. */
FMR_EXPORT void fmr_options_init_size(fmr_options *options,
                                      size_t struct_size);
#define fmr_options_init(options)                                             \
  fmr_options_init_size((options), sizeof *(options))
/* Zero *STATS and set its struct_size (through fmr_stats_init(STATS)). */
FMR_EXPORT void fmr_stats_init_size(fmr_stats *stats, size_t struct_size);
#define fmr_stats_init(stats) fmr_stats_init_size((stats), sizeof *(stats))
/* Zero *RECORD and set its struct_size (through fmr_record_init(RECORD)). */
FMR_EXPORT void fmr_record_init_size(fmr_record *record, size_t struct_size);
#define fmr_record_init(record)                                               \
  fmr_record_init_size((record), sizeof *(record))

/* Open or create the heap file PATH.  OPTIONS may be NULL for defaults
   (persistent, no create).  In scratch mode PATH names a directory, or a
   file whose directory is used; the heap file there has no name.  Opening
   a file this process already holds with the same access returns the same
   heap with its reference count raised; a read-only open of a file this
   process writes gives a reader of its own (its own read-only mapping and
   max_size, changes refused with FMR_EREADONLY), and a read-write open of
   a file open read-only here fails with FMR_EBUSY.  The file is the one
   the path names now, so a heap whose file was deleted or replaced is
   never returned for it.
   Errors: FMR_EINVAL, FMR_ENOENT, FMR_EACCES,
   FMR_EEMPTY, FMR_ENOTHEAP, FMR_EVERSION, FMR_EFEATURE, FMR_EBYTEORDER,
   FMR_EPAGESIZE, FMR_ETRUNCATED, FMR_ECHECKSUM, FMR_ECORRUPT, FMR_ELOCKED,
   FMR_EBUSY, FMR_ENOSPC (also: a writer's open of a sparse file whose holes
   do not fit on its file system), FMR_EIO, FMR_ENOMEM, FMR_EDANGLING (PATH
   is a symbolic link to nothing and FMR_OPEN_CREATE was given: no file is
   created through a link). */
FMR_EXPORT int fmr_open(const char *path, const fmr_options *options,
                        fmr_heap **heap_out);
/* Drop one reference; the last one syncs, marks the file clean, unmaps
   and closes it.  Uncommitted blocks are reclaimed. */
FMR_EXPORT int fmr_close(fmr_heap *heap);
/* Make every committed record durable against power loss.  FMR_EGONE
   (nothing done) if the file was deleted or replaced. */
FMR_EXPORT int fmr_sync(fmr_heap *heap);
/* Reader: pick up the writer's growth and new records. */
FMR_EXPORT int fmr_refresh(fmr_heap *heap);
/* Fill *STATS (set up with fmr_stats_init()) as far as its struct_size
   reaches.  Errors: FMR_EINVAL (also for a bad struct_size). */
FMR_EXPORT int fmr_stat(fmr_heap *heap, fmr_stats *stats);
/* Full consistency check of the file against the in-memory state.
   REPORT (may be NULL) is called once per problem.  Returns 0, or
   FMR_ECORRUPT if any problem was found. */
FMR_EXPORT int fmr_check(fmr_heap *heap, fmr_report_fn report, void *arg);
FMR_EXPORT const char *fmr_path(const fmr_heap *heap);
/* Whether the heap's file is still the file at the path it was opened by:
   an enum fmr_file_state (fmr_errmsg() then says what changed), or
   FMR_EINVAL, FMR_ESCRATCH (a scratch heap's file has no name), or
   FMR_EIO when the file or the path cannot be examined.  Costs an fstat
   and a stat.  A persistent heap whose file lost its last name (deleted,
   or replaced by a rename over it) refuses every catalog change and
   fmr_sync() with FMR_EGONE, since nothing written would outlive the
   process; reading, allocating and freeing blocks still work, and its
   mapping stays valid.  fmr_open() of the path opens the file there now,
   never this heap. */
FMR_EXPORT int fmr_file_state(fmr_heap *heap);
FMR_EXPORT int fmr_mode_of(const fmr_heap *heap);
FMR_EXPORT int fmr_is_readonly(const fmr_heap *heap);

/* --- blocks ------------------------------------------------------- */

/* Allocate SIZE bytes (SIZE 0 gives a minimal block), 64-byte aligned.
   The file grows as needed; disk space is reserved before use, so a full
   disk is FMR_ENOSPC, never a fault.  Errors: FMR_EINVAL, FMR_EREADONLY,
   FMR_EFULL, FMR_ENOSPC, FMR_ETOOBIG, FMR_ENOMEM, FMR_EIO. */
FMR_EXPORT int fmr_malloc(fmr_heap *heap, size_t size, void **ptr_out);
FMR_EXPORT int fmr_calloc(fmr_heap *heap, size_t nmemb, size_t size,
                          void **ptr_out);
/* Like realloc(3); PTR NULL allocates.  On failure *PTR_OUT is unchanged
   and PTR stays valid.  A committed payload cannot be reallocated. */
FMR_EXPORT int fmr_realloc(fmr_heap *heap, void *ptr, size_t size,
                           void **ptr_out);
/* Free a block that is not a committed payload (FMR_ECOMMITTED: free the
   record instead).  NULL is accepted. */
FMR_EXPORT int fmr_free(fmr_heap *heap, void *ptr);
/* Bytes usable in the block at PTR, or 0 if PTR is not a live block. */
FMR_EXPORT size_t fmr_usable_size(fmr_heap *heap, const void *ptr);
/* Translate between this process's addresses and file offsets.  An
   address outside the heap gives 0; an offset outside gives NULL. */
FMR_EXPORT uint64_t fmr_ptr_to_offset(const fmr_heap *heap, const void *ptr);
FMR_EXPORT void *fmr_offset_to_ptr(const fmr_heap *heap, uint64_t offset);

/* --- catalog (persistent heaps) ------------------------------------ */

/* Commit the block PAYLOAD (from fmr_malloc, or NULL for none) as a new
   record with caller's TYPE and LENGTH, an optional unique NAME (NULL or
   "" for none) and optional metadata bytes.  The payload then belongs to
   the record.  Errors: FMR_ESCRATCH, FMR_EREADONLY, FMR_ENOTOWNED,
   FMR_ECOMMITTED, FMR_EEXIST, FMR_ENAMETOOLONG, FMR_EINVAL, space errors,
   FMR_EGONE (the file was deleted or replaced; as for every change of
   the catalog, see fmr_file_state());
   with FMR_COMMIT_SYNC also FMR_EIO from the last flush, when the record
   is committed (and *ID_OUT set) but may not survive a power loss. */
FMR_EXPORT int fmr_commit(fmr_heap *heap, void *payload, uint32_t type,
                          uint64_t length, const char *name,
                          const void *meta, size_t meta_len, unsigned flags,
                          uint64_t *id_out);
/* Fill *RECORD_OUT (set up with fmr_record_init()) with record ID, or
   the committed record named NAME, as far as its struct_size reaches.
   Errors: FMR_EINVAL (also for a bad struct_size), FMR_ESCRATCH,
   FMR_ENOTFOUND, FMR_ENAMETOOLONG. */
FMR_EXPORT int fmr_record_get(fmr_heap *heap, uint64_t id,
                              fmr_record *record_out);
FMR_EXPORT int fmr_record_find(fmr_heap *heap, const char *name,
                               fmr_record *record_out);
/* Replace type, length and metadata of a record atomically; its
   generation increases.  META NULL with META_LEN 0 clears it. */
FMR_EXPORT int fmr_record_update(fmr_heap *heap, uint64_t id, uint32_t type,
                                 uint64_t length, const void *meta,
                                 size_t meta_len);
/* Make the uncommitted block PAYLOAD (or NULL) the record's payload and
   LENGTH its length, atomically; the old payload is freed (reused after the
   next sync) and the generation increases.  This is how a record's data
   grows: fmr_malloc a larger block, copy, then swap it in.  Errors as
   fmr_commit, and FMR_ENOTFOUND. */
FMR_EXPORT int fmr_record_set_payload(fmr_heap *heap, uint64_t id,
                                      void *payload, uint64_t length);
/* Give a record a new name (NULL or "" removes it), atomically. */
FMR_EXPORT int fmr_record_rename(fmr_heap *heap, uint64_t id,
                                 const char *name);
/* Mark a record deleted but keep its payload (readers may still use it).
   Its name is released: fmr_record_find() no longer finds it and another
   record may take it, though the tombstone still shows it.  fmr_reclaim()
   frees tombstones. */
FMR_EXPORT int fmr_record_tombstone(fmr_heap *heap, uint64_t id);
/* Delete a record and free its payload. */
FMR_EXPORT int fmr_record_free(fmr_heap *heap, uint64_t id);
/* Free every tombstone; *COUNT_OUT (may be NULL) gets how many. */
FMR_EXPORT int fmr_reclaim(fmr_heap *heap, uint64_t *count_out);
/* Call FN for every committed and tombstoned record in id order until it
   returns non-zero, which is then returned.  The heap is not locked while
   FN runs, so FN may use HEAP, even change its catalog; a record deleted
   before its turn is skipped. */
FMR_EXPORT int fmr_record_foreach(fmr_heap *heap, fmr_record_fn fn,
                                  void *arg);
/* Rewrite the heap file PATH without its free space and tombstones, so
   that it shrinks.  Every committed record keeps its id, generation, name,
   type, length, metadata and payload bytes, and the file keeps its uuid,
   so references to records stay valid.  The new file is written beside the
   old one (PATH.compact-*) and renamed over it, so a crash leaves the old
   file or the new one at PATH, whole.  PATH must not be open in this
   process (FMR_EBUSY), and while this runs other threads' opens of PATH
   fail with FMR_EBUSY; a writer elsewhere gives FMR_ELOCKED; readers keep
   the old file.  *BEFORE_OUT and *AFTER_OUT (may be NULL) get the file
   sizes.  Errors: those of fmr_open, FMR_ENOSPC, FMR_EIO, FMR_ENOMEM. */
FMR_EXPORT int fmr_compact(const char *path, uint64_t *before_out,
                           uint64_t *after_out);
/* The 16-byte identity of the file, fixed at creation. */
FMR_EXPORT int fmr_uuid(const fmr_heap *heap, uint8_t uuid_out[FMR_UUID_SIZE]);

#ifdef __cplusplus
}
#endif

#endif /* FMALLOC_R_H */
