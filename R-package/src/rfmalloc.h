/* rfmalloc.h: private declarations shared by the C sources of Rfmalloc.

   A runtime is an R external pointer (tag: the symbol fmalloc_runtime)
   whose address is an rfm_runtime owning one fmr_heap.

   The data of a vector is a store (rfm_store): one block of a heap, either
   a committed catalog record or a block nothing else knows.  Every R
   object over a store is an ALTREP object whose data1 is an external
   pointer (tag: fmalloc_vector) to a handle (rfm_vector); the pointer's
   protected field is the runtime's external pointer, so a runtime is
   reachable while any of its vectors is.  All handles on one store share
   it: a record loaded twice is one store, so a change through one handle
   (a grown character block, a destroy) is seen by all.

   R's value semantics (store.c): R writes into a vector's memory only
   when it believes nothing else refers to it.  A handle whose store is
   shared outside R's knowledge (a committed record, an alias) is
   "pinned": its R object holds a reference to itself (data2), so R always
   sees it as shared and duplicates it before any change.  Duplicating a
   pinned vector makes a "clone": a new handle on the same store that
   gets its own copy the moment anything writes through it (copy on
   write).  Assignments into the variable that holds a saved object
   (x[i] <- v) reach the record through the package's `[<-` methods
   (assign.c), which "promote" the clone R made back to a handle on the
   record when the assignment runs where the vector belongs (the frame
   that loaded it, or the top level).  */

#ifndef RFMALLOC_H
#define RFMALLOC_H

#define R_NO_REMAP
/* R's headers in this order (Altrep.h and Rdynload.h need SEXP) */
#include <R.h>
#include <Rinternals.h>

#include <R_ext/Altrep.h>
#include <R_ext/Rdynload.h>
#include <Rversion.h>
#include <stdint.h>

#include <fmalloc-r.h>

/* Record type tags: this marker in the upper 16 bits, the SEXPTYPE in
   the low 8, and role flags between.  A list saved with fmalloc_save()
   is a CONTAINER record (its payload: the record ids of its elements,
   as doubles, then the list's attributes, persist.c) and ELEMENT
   records; a list held by a list is both.  The roots are the named
   records and those without the ELEMENT flag; an unnamed ELEMENT record
   that no root reaches through containers is what a crash in the middle
   of saving or destroying a list leaves behind (or an element a re-saved
   list let go of); the writer frees such records when it opens the heap
   (sweep_orphans in runtime.c), so lists are saved and destroyed all or
   nothing.  */
#define RFM_TAG_MARKER       0x52460000u
#define RFM_TAG_ELEMENT      0x1000u
#define RFM_TAG_CONTAINER    0x2000u
#define RFM_TAG(sexptype)    (RFM_TAG_MARKER | (uint32_t)(sexptype))
#define RFM_TAG_IS_OURS(tag) (((tag)&0xffff0000u) == RFM_TAG_MARKER)
#define RFM_TAG_TYPE(tag)    ((int)((tag)&0xffu))
#define RFM_TAG_ROLE(tag)    ((tag) & (RFM_TAG_ELEMENT | RFM_TAG_CONTAINER))

/* Roles given to rfm_commit(): how the record's role flags change. */
enum {
  RFM_ROLE_PLAIN = 0,        /* a vector of its own: flags cleared */
  RFM_ROLE_ELEMENT = 1,      /* a list element: new records flagged, a
                                record committed before keeps its flags */
  RFM_ROLE_CONTAINER = 2,    /* a list's ids vector */
  RFM_ROLE_KEEP = 3,         /* leave the flags as they are */
  RFM_ROLE_MARK_ELEMENT = 4, /* add the element flag to a committed record
                               (before its list is destroyed) */
  RFM_ROLE_NESTED = 5        /* the ids vector of a list held by a list:
                                new records CONTAINER and ELEMENT, a
                                record committed before gains CONTAINER */
};

struct rfm_store;
struct rfm_table;

typedef struct rfm_runtime {
  fmr_heap *heap;       /* NULL once closed */
  char *path;           /* normalized path given to open */
  int mode;             /* enum fmr_mode */
  int readonly;         /* opened read-only (file locked by another) */
  int close_requested;  /* cleanup_fmalloc() was called */
  unsigned forkgen;     /* rfm_forkgen when opened: differs in a child */
  double swept_records; /* orphaned list elements freed at open */
  double swept_bytes;
  int handle_dead;           /* the runtime's external pointer was finalized */
  R_xlen_t nvec;             /* live vector handles of this runtime */
  struct rfm_store *stores;  /* every live store of this runtime */
  struct rfm_table *records; /* record id -> store, for live stores */
  void *standin;       /* closed with force: anonymous memory where the
                          heap was mapped, until the last vector goes */
  size_t standin_len;
  /* GC pressure (store.c): bytes of private blocks made minus those
     freed since the package last asked R to collect (when gc_epoch is
     rfm_gc_epoch; any other value means zero), and the collections the
     package asked for because of this runtime.  */
  double gc_unsaved;
  unsigned long gc_epoch;
  double gc_collections;
} rfm_runtime;

typedef struct rfm_store {
  rfm_runtime *rt;
  void *payload; /* in the heap's mapping, or from malloc() */
  size_t bytes;  /* size of the payload block */
  R_xlen_t length;
  int type;             /* SEXPTYPE */
  int committed;        /* the payload is a catalog record's */
  int editable;         /* a committed record assignments may change:
                           named, or an element of a saved list */
  int dead;             /* destroyed: the payload is no longer ours */
  int malloced;         /* payload from malloc() (no heap could hold a
                           private copy) */
  int str_dirty;        /* character: the CHARSXP cache of its (only)
                           handle holds what R wrote through STRING_PTR,
                           not yet copied into the block */
  unsigned str_version; /* character: bumped by every change of an
                           element, so other handles' caches refresh */
  uint64_t record_id;
  uint64_t generation;
  struct rfm_vector *handles;          /* handles on this store */
  R_xlen_t nclones;                    /* of which clones */
  struct rfm_store *rt_next, *rt_prev; /* in rt->stores */
} rfm_store;

typedef struct rfm_vector {
  rfm_store *store;
  rfm_runtime *rt;                /* the runtime counting this handle (nvec) */
  struct rfm_vector *next, *prev; /* in store->handles */
  unsigned cache_version; /* character: str_version the cache matches */
  unsigned clone : 1;     /* R's duplicate of a pinned vector: shares the
                             store until something writes through it */
  unsigned pinned : 1;    /* the R object refers to itself (see above) */
  unsigned alias : 1;     /* made by as_fmalloc_matrix(copy = FALSE) */
} rfm_vector;

/* data2 of every vector: a list of these slots. */
enum {
  RFM_SLOT_CACHE = 0,  /* character: CHARSXPs made so far (a VECSXP) */
  RFM_SLOT_PIN = 1,    /* the object itself, when pinned */
  RFM_SLOT_SOURCE = 2, /* a clone: the pinned object it was made from */
  RFM_SLOT_OWNER = 3,  /* a weak reference to the environment where
                          assignments may change the record (store.c) */
  RFM_SLOTS = 4
};

/* Character payload layout, in one heap block:
   [header | int64 start[n] | int32 len[n] | uint8 flags[n] | pad | bytes].
   Element i is bytes[start[i] .. start[i] + len[i]).  Set_elt appends
   new bytes; when the byte area is full the block is reallocated with
   live strings compacted.  */
typedef struct rfm_str_header {
  uint64_t magic;
  uint64_t n;
  uint64_t used; /* bytes used in the byte area */
  uint64_t cap;  /* capacity of the byte area */
} rfm_str_header;

#define RFM_STR_MAGIC    0x5246535452303031ull /* "RFSTR001" */
#define RFM_STR_NA       0x80u
#define RFM_STR_ENC_MASK 0x03u /* 0 native, 1 UTF-8, 2 latin1, 3 bytes */

/* runtime.c */
extern SEXP rfm_runtime_tag, rfm_vector_tag;
extern unsigned rfm_forkgen; /* bumped in every fork() child */
void rfm_fail(int code, const char *what);
rfm_runtime *rfm_runtime_get(SEXP rt, int need_writable);
SEXP rfm_runtime_open(const char *path, int mode, double initial_size,
                      unsigned flags);
SEXP rfm_runtime_open_ex(const char *path, int mode, double size_hint,
                         double max_size, unsigned flags);
/* The open persistent runtime of PATH in this process, or R_NilValue
   (scratch runtimes are never found: each open is its own).  */
SEXP rfm_runtime_find(const char *path);
/* Where the heap file of RT is now: an enum fmr_file_state, or -1 (a
   scratch or closed runtime, or the file cannot be examined).  */
int rfm_runtime_file_state(const rfm_runtime *rt);
/* R error unless the heap file of the persistent RT is still there to
   take a save (not deleted, not replaced by another file: WHAT, e.g.
   "save into", says what was refused). */
void rfm_runtime_check_file(const rfm_runtime *rt, const char *what);
void rfm_register_vector(SEXP ext);
void rfm_unload_all(void);
void rfm_init_runtime(void);
/* Can RT take new blocks (open, writable, not closing, not forked)? */
int rfm_can_allocate(const rfm_runtime *rt);
/* Is RT inherited from the parent of this process (fork)? */
int rfm_forked(const rfm_runtime *rt);
/* The runtime new results of a vector of RT_EXT go to: RT_EXT itself
   if it can allocate, else this process's scratch runtime in tempdir()
   (opened on first use), else R_NilValue (ordinary memory).  */
SEXP rfm_result_runtime(SEXP rt_ext);
/* The frame reading a reference back (readRDS(), unserialize()), or
   R_NilValue.  */
SEXP rfm_reader_frame(void);

/* store.c */
/* R's garbage collector sees only the small R objects over file-backed
   vectors, not their blocks.  Before a new block of BYTES in RT, ask R
   to collect (R_gc, which also runs the finalizers that free the blocks
   of unreachable vectors) when the blocks made in RT since the last
   such collection, less those freed, reach the budget (option
   Rfmalloc.gc_budget), or when the block would grow the file and enough
   was made since to hold it.  Call it before taking any pointer into a
   store that a finalizer could free; RT_EXT must be protected.  */
void rfm_gc_before_alloc(SEXP rt_ext, size_t bytes);
/* Account BYTES of private blocks made (DELTA > 0) or freed in RT.  */
void rfm_gc_account(rfm_runtime *rt, double delta);
/* getOption("Rfmalloc.gc_budget"), checked: bytes, Inf for never, or a
   negative number for the default (max(256 MiB, file size / 4)).  */
double rfm_gc_budget_option(void);
rfm_store *rfm_store_new(rfm_runtime *rt, int type, R_xlen_t n, size_t bytes,
                         int zero);
rfm_store *rfm_store_of_record(rfm_runtime *rt, const fmr_record *rec);
void rfm_store_committed(rfm_store *s);
void rfm_store_forget(rfm_store *s);
void rfm_store_release(rfm_store *s);
rfm_store *rfm_store_find_record(rfm_runtime *rt, uint64_t id);
void rfm_table_free(struct rfm_table *t);
void rfm_handle_drop(rfm_vector *v);
SEXP rfm_make_vector(SEXP rt_ext, rfm_store *s, int pin);
rfm_vector *rfm_handle(SEXP x); /* NULL if X is not usable */
rfm_vector *rfm_vec(SEXP x);    /* the handle, checked usable */
void *rfm_payload(rfm_vector *v);
SEXP rfm_slot(SEXP x, int slot);
void rfm_set_slot(SEXP x, int slot, SEXP value);
void rfm_pin(SEXP x);
void rfm_unpin(SEXP x);
/* MAYBE_SHARED(x), not counting a pin */
int rfm_shared(SEXP x);
/* REFCNT(x), not counting .Last.value */
int rfm_holders(SEXP x);
SEXP rfm_clone(SEXP x);
void rfm_detach(SEXP x);
void rfm_set_owner(SEXP x, SEXP env);
int rfm_promotable(SEXP x, SEXP caller);
int rfm_promotable_wrapped(SEXP src, SEXP caller);
void rfm_promote(SEXP x, SEXP caller);
SEXP rfm_promote_wrapped(SEXP w, SEXP src);

/* assign.c */
SEXP rfm_caller_env(SEXP method_env);
void rfm_detach_clones(rfm_store *s, rfm_vector *except);
int rfm_store_writable(const rfm_store *s);

/* altrep.c */
void rfm_init_classes(DllInfo *dll);
R_altrep_class_t rfm_class_of_type(int type);
int rfm_is_fmalloc(SEXP x);
SEXP rfm_unwrap(SEXP x);
SEXP rfm_new_vector(SEXP rt_ext, int type, R_xlen_t n, int zero);
SEXP rfm_new_vector_cap(SEXP rt_ext, int type, R_xlen_t n, int zero,
                        size_t str_cap);
/* getOption("Rfmalloc.threshold"), default 1e5: results at least this
   long are file-backed. */
double rfm_threshold(void);
SEXP rfm_wrap_record(SEXP rt_ext, const fmr_record *rec);
SEXP rfm_runtime_ext_of(SEXP x);
size_t rfm_elt_size(int type);
size_t rfm_payload_size(int type, R_xlen_t n, size_t str_cap);
/* A result of TYPE and length N for a computation on a vector of RT
   (an external pointer, or R_NilValue): file-backed when N reaches the
   threshold and some runtime can hold it, else ordinary memory.  */
SEXP rfm_alloc_result(SEXP rt, int type, R_xlen_t n);

/* strings.c */
size_t rfm_str_table_bytes(uint64_t n);
rfm_str_header *rfm_str_hdr(void *p);
int64_t *rfm_str_start(void *p);
int32_t *rfm_str_len(void *p);
uint8_t *rfm_str_flags(void *p);
char *rfm_str_bytes(void *p);
void rfm_str_init(void *p, R_xlen_t n, size_t cap);
int rfm_str_valid(const void *p, size_t bytes, uint64_t n);
SEXP rfm_str_cache(SEXP x, rfm_vector *v);
SEXP rfm_str_make_char(rfm_store *s, R_xlen_t i);
typedef struct rfm_str_reader {
  rfm_store *s;
  R_xlen_t n;
  uint64_t cap;
  const int64_t *start;
  const int32_t *len;
  const uint8_t *flags;
  const char *bytes;
} rfm_str_reader;
void rfm_str_reader_init(rfm_str_reader *r, rfm_store *s);
int rfm_str_check_all(const void *p, size_t bytes, uint64_t n);
const char *rfm_str_read(const rfm_str_reader *r, R_xlen_t i, int32_t *len,
                         int *enc);
SEXP rfm_str_mkchar(const char *b, int32_t len, int enc);
uint8_t rfm_str_char_flags(SEXP c);
SEXP rfm_str_elt(SEXP x, R_xlen_t i);
void rfm_str_share_cache(SEXP to, SEXP from);
void rfm_str_store(rfm_store *s, R_xlen_t i, SEXP c);
void rfm_str_flush(SEXP x);

/* persist.c */
/* A growable vector of record ids (or other 64-bit numbers); sorted once
   filled by rfm_listed_ids.  Zero-initialise it; free IDS after use.  */
typedef struct rfm_idlist {
  uint64_t *ids;
  size_t n, cap;
  int oom;
} rfm_idlist;
/* Append ID to L: 0, or 1 (and L->oom set) when out of memory.  */
int rfm_idlist_add(rfm_idlist *l, uint64_t id);
/* The ids that the saved lists (CONTAINER records) of HEAP hold, in
   OUT (free OUT->ids); 0 or an FMR_E* code.  */
int rfm_listed_ids(fmr_heap *heap, rfm_idlist *out);
int rfm_listed_has(const rfm_idlist *l, uint64_t id);
/* Is REC a serialized temporary: a committed Rfmalloc record without a
   name or role flags that no saved list (LISTED) holds?  */
int rfm_is_serialized_temporary(const fmr_record *rec, const rfm_idlist *l);
void rfm_commit(rfm_store *s, const char *name, SEXP meta, int role);
SEXP rfm_serialized_state(SEXP x);
SEXP rfm_unserialize_ex(SEXP cls, SEXP state, SEXP attr, int objf, int levs);

/* altlist.c (ALTLIST on R >= 4.3; stubs before) */
void rfm_init_list_class(DllInfo *dll);
int rfm_is_fmalloc_list(SEXP x);

#endif
