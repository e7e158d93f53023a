/* rfmalloc.h: private declarations shared by the C sources of Rfmalloc.

   A runtime is an R external pointer (tag: the symbol fmalloc_runtime)
   whose address is an rfm_runtime owning one fmr_heap.  A vector is an
   ALTREP object whose data1 is an external pointer (tag: fmalloc_vector)
   to an rfm_vector; that pointer's protected field is the runtime's
   external pointer (or, for an alias, the owner vector's pointer), so a
   runtime is reachable while any of its vectors is.  */

#ifndef RFMALLOC_H
#define RFMALLOC_H

#define R_NO_REMAP
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
   as doubles) and ELEMENT records.  An unnamed ELEMENT record that no
   CONTAINER lists is what a crash in the middle of saving or destroying
   a list leaves behind (or an element a re-saved list let go of); the
   writer frees such records when it opens the heap (rfm_sweep_orphans),
   so lists are saved and destroyed all or nothing.  */
#define RFM_TAG_MARKER 0x52460000u
#define RFM_TAG_ELEMENT 0x1000u
#define RFM_TAG_CONTAINER 0x2000u
#define RFM_TAG(sexptype) (RFM_TAG_MARKER | (uint32_t)(sexptype))
#define RFM_TAG_IS_OURS(tag) (((tag) & 0xffff0000u) == RFM_TAG_MARKER)
#define RFM_TAG_TYPE(tag) ((int)((tag) & 0xffu))
#define RFM_TAG_ROLE(tag) ((tag) & (RFM_TAG_ELEMENT | RFM_TAG_CONTAINER))

/* Roles given to rfm_commit(): how the record's role flags change. */
enum {
  RFM_ROLE_PLAIN = 0,     /* a vector of its own: flags cleared */
  RFM_ROLE_ELEMENT = 1,   /* a list element: new records flagged, a
                             record committed before keeps its flags */
  RFM_ROLE_CONTAINER = 2, /* a list's ids vector */
  RFM_ROLE_KEEP = 3,      /* leave the flags as they are */
  RFM_ROLE_MARK_ELEMENT = 4 /* add the element flag to a committed record
                               (before its list is destroyed) */
};

typedef struct rfm_runtime {
  fmr_heap *heap;      /* NULL once closed */
  char *path;          /* normalized path given to open */
  int mode;            /* enum fmr_mode */
  int readonly;        /* opened read-only (file locked by another) */
  int close_requested; /* cleanup_fmalloc() was called */
  double swept_records; /* orphaned list elements freed at open */
  double swept_bytes;
  int handle_dead;     /* the runtime's external pointer was finalized */
  R_xlen_t nvec;       /* live vector handles of this runtime */
} rfm_runtime;

typedef struct rfm_vector {
  rfm_runtime *rt;
  struct rfm_vector *owner; /* for an alias: the vector owning the data */
  void *payload;            /* NULL for an alias (use the owner's) */
  size_t bytes;             /* size of the payload block */
  R_xlen_t length;
  uint64_t record_id;
  uint64_t generation;
  int committed;            /* payload belongs to a catalog record */
  int type;                 /* SEXPTYPE */
  int dead;                 /* destroyed: payload no longer ours */
} rfm_vector;

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

#define RFM_STR_MAGIC 0x5246535452303031ull /* "RFSTR001" */
#define RFM_STR_NA 0x80u
#define RFM_STR_ENC_MASK 0x03u /* 0 native, 1 UTF-8, 2 latin1, 3 bytes */

/* runtime.c */
extern SEXP rfm_runtime_tag, rfm_vector_tag;
void rfm_fail(int code, const char *what);
rfm_runtime *rfm_runtime_get(SEXP rt, int need_writable);
SEXP rfm_runtime_open(const char *path, int mode, double initial_size,
                      unsigned flags);
SEXP rfm_runtime_find(const char *path);
void rfm_register_vector(SEXP ext);
void rfm_mark_dead(rfm_runtime *rt, void *payload);
void rfm_unload_all(void);
void rfm_init_runtime(void);

/* vectors.c */
void rfm_init_classes(DllInfo *dll);
int rfm_is_fmalloc(SEXP x);
SEXP rfm_unwrap(SEXP x);
rfm_vector *rfm_vec(SEXP x);
void *rfm_payload(rfm_vector *v);
SEXP rfm_new_vector(SEXP rt_ext, int type, R_xlen_t n, int zero);
/* getOption("Rfmalloc.threshold"), default 1e5: results at least this
   long are file-backed. */
double rfm_threshold(void);
SEXP rfm_wrap_record(SEXP rt_ext, const fmr_record *rec);
SEXP rfm_runtime_ext_of(SEXP x);
size_t rfm_elt_size(int type);
void rfm_commit(rfm_vector *v, const char *name, SEXP meta, int role);

/* altlist.c (ALTLIST on R >= 4.3; stubs before) */
void rfm_init_list_class(DllInfo *dll);
int rfm_is_fmalloc_list(SEXP x);

#endif
