/* altrep.c: the ALTREP classes of Rfmalloc (logical, integer, double,
   complex, raw and character) and the making of their objects.

   Atomic classes: Dataptr is the store's payload in the mapping.
   Character class: see strings.c.  Duplicate of a pinned vector is a
   clone (store.c); of any other vector, a copy in the same heap (or the
   scratch runtime when that heap cannot take it) from the threshold on,
   else R's own copy in ordinary memory.  Extract_subset and Coerce make
   file-backed results the same way.  */

#include "ops.h" /* summary methods (summary.c) */
#include "rfmalloc.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

static R_altrep_class_t cls_lgl, cls_int, cls_real, cls_cplx, cls_raw, cls_str;

/* --- helpers -------------------------------------------------------- */

size_t rfm_elt_size(int type)
{
  switch (type) {
  case LGLSXP:
    return sizeof(int);
  case INTSXP:
    return sizeof(int);
  case REALSXP:
    return sizeof(double);
  case CPLXSXP:
    return sizeof(Rcomplex);
  case RAWSXP:
    return 1;
  default:
    return 0;
  }
}

R_altrep_class_t rfm_class_of_type(int type)
{
  switch (type) {
  case LGLSXP:
    return cls_lgl;
  case INTSXP:
    return cls_int;
  case REALSXP:
    return cls_real;
  case CPLXSXP:
    return cls_cplx;
  case RAWSXP:
    return cls_raw;
  case STRSXP:
    return cls_str;
  default:
    Rf_error("unsupported vector type %s", Rf_type2char(type));
  }
}

int rfm_is_fmalloc(SEXP x)
{
  if (!ALTREP(x))
    return 0;
  return R_altrep_inherits(x, cls_lgl) || R_altrep_inherits(x, cls_int) ||
         R_altrep_inherits(x, cls_real) || R_altrep_inherits(x, cls_cplx) ||
         R_altrep_inherits(x, cls_raw) || R_altrep_inherits(x, cls_str);
}

/* Look through R's wrapper objects (made when attributes are set on a
   shared vector) to the vector they wrap.  */
SEXP rfm_unwrap(SEXP x)
{
  while (ALTREP(x) && !rfm_is_fmalloc(x)) {
    SEXP info = ATTRIB(ALTREP_CLASS(x));
    if (TYPEOF(info) != LISTSXP || TYPEOF(CAR(info)) != SYMSXP)
      break;
    const char *cname = CHAR(PRINTNAME(CAR(info)));
    if (strncmp(cname, "wrap_", 5) != 0)
      break;
    x = R_altrep_data1(x);
  }
  return x;
}

SEXP rfm_runtime_ext_of(SEXP x)
{
  SEXP ext = R_altrep_data1(x);
  if (R_ExternalPtrAddr(ext) == NULL)
    return R_NilValue;
  return R_ExternalPtrProtected(ext);
}

double rfm_threshold(void)
{
  static SEXP sym = NULL;
  if (sym == NULL)
    sym = Rf_install("Rfmalloc.threshold");
  SEXP opt = Rf_GetOption1(sym);
  if (opt == R_NilValue)
    return 1e5;
  double t = Rf_asReal(opt);
  return ISNAN(t) ? 1e5 : t;
}

size_t rfm_payload_size(int type, R_xlen_t n, size_t str_cap)
{
  if (type == STRSXP)
    return rfm_str_table_bytes((uint64_t)n) + str_cap;
  size_t es = rfm_elt_size(type);
  if ((size_t)n > SIZE_MAX / es)
    Rf_error("vector too long");
  return (size_t)n * es;
}

/* A new R object over the store S of the runtime RT_EXT, pinned if PIN. */
SEXP rfm_make_vector(SEXP rt_ext, rfm_store *s, int pin)
{
  R_altrep_class_t cls = rfm_class_of_type(s->type);
  SEXP slots = PROTECT(Rf_allocVector(VECSXP, RFM_SLOTS));
  rfm_vector *v = calloc(1, sizeof *v);
  if (v == NULL)
    Rf_error("out of memory");
  v->rt = R_ExternalPtrAddr(rt_ext);
  v->store = s;
  v->next = s->handles;
  if (s->handles)
    s->handles->prev = v;
  s->handles = v;
  v->cache_version = s->str_version + 1; /* no cache yet */
  SEXP ext = PROTECT(R_MakeExternalPtr(v, rfm_vector_tag, rt_ext));
  rfm_register_vector(ext);
  SEXP ans = R_new_altrep(cls, ext, slots);
  if (pin) {
    PROTECT(ans);
    rfm_pin(ans);
    UNPROTECT(1);
  }
  UNPROTECT(2);
  return ans;
}

/* A new uncommitted vector of TYPE and length N in runtime RT_EXT. */
SEXP rfm_new_vector_cap(SEXP rt_ext, int type, R_xlen_t n, int zero,
                        size_t str_cap)
{
  size_t bytes = rfm_payload_size(type, n, str_cap);
  /* First, before anything is taken: the collection runs finalizers that
     may free blocks and close runtimes.  */
  rfm_gc_before_alloc(rt_ext, bytes);
  rfm_runtime *rt = rfm_runtime_get(rt_ext, 1);
  rfm_store *s = rfm_store_new(rt, type, n, bytes, zero && type != STRSXP);
  if (type == STRSXP)
    rfm_str_init(s->payload, n, str_cap);
  /* The store has no handle until rfm_make_vector links one: release it
     by hand if making the object fails.  */
  return rfm_make_vector(rt_ext, s, 0);
}

SEXP rfm_new_vector(SEXP rt_ext, int type, R_xlen_t n, int zero)
{
  return rfm_new_vector_cap(rt_ext, type, n, zero, type == STRSXP ? 64 : 0);
}

SEXP rfm_alloc_result(SEXP rt, int type, R_xlen_t n)
{
  if (rt != R_NilValue && (double)n >= rfm_threshold()) {
    SEXP target = rfm_result_runtime(rt);
    if (target != R_NilValue)
      return rfm_new_vector(target, type, n, 0);
  }
  return Rf_allocVector(type, n);
}

/* A vector over the committed record REC of RT_EXT: a pinned handle on
   the record's store.  */
SEXP rfm_wrap_record(SEXP rt_ext, const fmr_record *rec)
{
  rfm_runtime *rt = rfm_runtime_get(rt_ext, 0);
  if (!RFM_TAG_IS_OURS(rec->type))
    Rf_error("record %llu was not written by Rfmalloc",
             (unsigned long long)rec->id);
  int type = RFM_TAG_TYPE(rec->type);
  if (rfm_elt_size(type) == 0 && type != STRSXP)
    Rf_error("record %llu holds an unsupported type",
             (unsigned long long)rec->id);
  if (type == STRSXP &&
      !rfm_str_valid(rec->payload, (size_t)rec->payload_bytes, rec->length))
    Rf_error("record %llu is not a valid character vector",
             (unsigned long long)rec->id);
  if (type != STRSXP &&
      rec->payload_bytes < rfm_payload_size(type, (R_xlen_t)rec->length, 0))
    Rf_error("record %llu is shorter than its length says",
             (unsigned long long)rec->id);
  rfm_store *s = rfm_store_of_record(rt, rec);
  SEXP ans = rfm_make_vector(rt_ext, s, 1);
  return ans;
}

/* --- common methods -------------------------------------------------- */

static R_xlen_t vec_Length(SEXP x)
{
  rfm_vector *v = rfm_handle(x);
  return v && v->store ? v->store->length : 0;
}

static Rboolean vec_Inspect(SEXP x, int pre, int deep, int pvec,
                            void (*inspect_subtree)(SEXP, int, int, int))
{
  (void)pre;
  (void)deep;
  (void)pvec;
  (void)inspect_subtree;
  rfm_vector *v = rfm_handle(x);
  if (v == NULL || v->store == NULL) {
    Rprintf(" fmalloc vector (invalid)\n");
    return TRUE;
  }
  rfm_store *s = v->store;
  Rprintf(" fmalloc %s [%s%s%s%s%s, record %llu, %s]\n", Rf_type2char(s->type),
          s->dead        ? "destroyed"
          : s->committed ? "committed"
          : s->malloced  ? "private memory"
                         : "uncommitted",
          v->clone ? " clone" : "", v->pinned ? " pinned" : "",
          v->alias ? " alias" : "", s->str_dirty ? " dirty" : "",
          (unsigned long long)s->record_id, v->rt->path);
  return TRUE;
}

static void *vec_Dataptr(SEXP x, Rboolean writeable)
{
  rfm_vector *v = rfm_vec(x);
  if (writeable && v->clone)
    rfm_detach(x); /* a clone's first write: copy on write */
  return rfm_payload(v);
}

static const void *vec_Dataptr_or_null(SEXP x)
{
  rfm_vector *v = rfm_handle(x);
  if (v == NULL || v->store == NULL || v->store->dead ||
      (!v->store->malloced && v->store->rt->heap == NULL))
    return NULL;
  return v->store->payload;
}

/* A private copy of the vector X (handle V) in the runtime where results
   of X go, or NULL when there is none.  */
static SEXP copy_vector(SEXP x, rfm_vector *v)
{
  SEXP target = rfm_result_runtime(rfm_runtime_ext_of(x));
  if (target == R_NilValue)
    return NULL;
  rfm_store *s = v->store;
  size_t cap = 0;
  if (s->type == STRSXP) {
    rfm_str_flush(x);
    rfm_str_reader r; /* the block checked: its cap bounds the copy */
    rfm_str_reader_init(&r, s);
    cap = (size_t)r.cap;
  }
  SEXP ans = PROTECT(rfm_new_vector_cap(target, s->type, s->length, 0, cap));
  rfm_store *n = rfm_handle(ans)->store;
  memcpy(n->payload, s->payload, rfm_payload_size(s->type, s->length, cap));
  if (s->type == STRSXP &&
      !rfm_str_check_all(n->payload, n->bytes, (uint64_t)n->length))
    Rf_error("the character vector's block (record %llu) is damaged or "
             "was changed by another process: load it again",
             (unsigned long long)s->record_id);
  rfm_str_share_cache(ans, x); /* the strings are the same */
  UNPROTECT(1);
  return ans;
}

static SEXP vec_Duplicate(SEXP x, Rboolean deep)
{
  (void)deep;
  rfm_vector *v = rfm_vec(x);
  /* a clone of a clone shares the store as well: R duplicates a clone
     when something it cannot see (an aborted assignment) still counts
     as holding it */
  if (v->pinned || v->clone)
    return rfm_clone(x);
  if ((double)v->store->length < rfm_threshold())
    return NULL;
  return copy_vector(x, v);
}

/* --- atomic element methods ------------------------------------------ */

#define PAYLOAD(x, ctype) ((ctype *)rfm_payload(rfm_vec(x)))

static int int_Elt(SEXP x, R_xlen_t i)
{
  return PAYLOAD(x, int)[i];
}
static double real_Elt(SEXP x, R_xlen_t i)
{
  return PAYLOAD(x, double)[i];
}
static Rcomplex cplx_Elt(SEXP x, R_xlen_t i)
{
  return PAYLOAD(x, Rcomplex)[i];
}
static Rbyte raw_Elt(SEXP x, R_xlen_t i)
{
  return PAYLOAD(x, Rbyte)[i];
}

#define GET_REGION(fname, ctype)                                              \
  static R_xlen_t fname(SEXP x, R_xlen_t i, R_xlen_t n, ctype *buf)           \
  {                                                                           \
    rfm_vector *v = rfm_vec(x);                                               \
    R_xlen_t len = v->store->length;                                          \
    R_xlen_t k = i < len ? (len - i < n ? len - i : n) : 0;                   \
    if (k > 0)                                                                \
      memcpy(buf, (ctype *)rfm_payload(v) + i, (size_t)k * sizeof(ctype));    \
    return k;                                                                 \
  }
GET_REGION(int_Get_region, int)
GET_REGION(real_Get_region, double)
GET_REGION(cplx_Get_region, Rcomplex)
GET_REGION(raw_Get_region, Rbyte)

/* --- character methods ----------------------------------------------- */

static SEXP str_Elt(SEXP x, R_xlen_t i)
{
  return rfm_str_elt(x, i);
}

/* STRING_PTR: the cache, every element made.  What R writes there is
   the vector's value from now on (the store is dirty until flushed).  */
static void *str_Dataptr(SEXP x, Rboolean writeable)
{
  rfm_vector *v = rfm_vec(x);
  if (writeable && v->clone)
    rfm_detach(x);
  SEXP cache = rfm_str_cache(x, v);
  for (R_xlen_t i = 0; i < v->store->length; i++)
    if (VECTOR_ELT(cache, i) == R_NilValue)
      SET_VECTOR_ELT(cache, i, rfm_str_make_char(v->store, i));
  if (writeable && !v->pinned)
    v->store->str_dirty = 1;
  /* DATAPTR is not API in R >= 4.5. */
  return (void *)DATAPTR_RO(cache);
}

static const void *str_Dataptr_or_null(SEXP x)
{
  (void)x;
  return NULL;
}

static void str_Set_elt(SEXP x, R_xlen_t i, SEXP c)
{
  rfm_vector *v = rfm_vec(x);
  if (v->clone)
    rfm_detach(x);
  rfm_store *s = v->store;
  if (!rfm_store_writable(s))
    Rf_error("cannot modify a character vector of a closed, read-only or "
             "inherited fmalloc runtime");
  int cache_ok = v->cache_version == s->str_version;
  PROTECT(c);
  rfm_str_store(s, i, c);
  UNPROTECT(1);
  SEXP cache = rfm_slot(x, RFM_SLOT_CACHE);
  if (cache != R_NilValue && cache_ok) {
    SET_VECTOR_ELT(cache, i, c);
    v->cache_version = s->str_version;
  }
}

/* --- subsetting and coercion ------------------------------------------ */

/* Index I (1-based, int or double, NA or out of range allowed) of
   vector INDX, as a 0-based position in a vector of length LEN, or -1
   for "gives NA".  */
static R_INLINE R_xlen_t subset_pos(SEXP indx, R_xlen_t k, R_xlen_t len)
{
  if (TYPEOF(indx) == INTSXP) {
    int i = INTEGER(indx)[k];
    return (i == NA_INTEGER || i < 1 || (R_xlen_t)i > len) ? -1
                                                           : (R_xlen_t)i - 1;
  }
  double d = REAL(indx)[k];
  return (ISNAN(d) || d < 1 || d >= (double)len + 1) ? -1 : (R_xlen_t)d - 1;
}

/* INDX read without a call into R per element (TYPEOF, INTEGER and REAL
   are functions outside R itself): its elements in memory, unless it is
   an ALTREP vector (a compact sequence), which subset_pos reads.  50
   random gathers of 5e5 of 1e6 doubles (.subset(x, idx), persistent
   heap): 5.0 to 5.9 s against 6.0 to 6.6 s with two calls per element,
   base R 1.9 to 2.1 s, on a machine with a load average of 17.  */
typedef struct subset_index {
  SEXP indx;
  R_xlen_t len;
  const int *ip;
  const double *dp;
} subset_index;

static void subset_index_init(subset_index *ix, SEXP indx, R_xlen_t len)
{
  ix->indx = indx;
  ix->len = len;
  ix->ip = NULL;
  ix->dp = NULL;
  if (!ALTREP(indx)) {
    if (TYPEOF(indx) == INTSXP)
      ix->ip = INTEGER_RO(indx);
    else
      ix->dp = REAL_RO(indx);
  }
}

static R_INLINE R_xlen_t subset_at(const subset_index *ix, R_xlen_t k)
{
  if (ix->ip != NULL) {
    int i = ix->ip[k];
    return (i == NA_INTEGER || i < 1 || (R_xlen_t)i > ix->len)
               ? -1
               : (R_xlen_t)i - 1;
  }
  if (ix->dp != NULL) {
    double d = ix->dp[k];
    return (ISNAN(d) || d < 1 || d >= (double)ix->len + 1) ? -1
                                                           : (R_xlen_t)d - 1;
  }
  return subset_pos(ix->indx, k, ix->len);
}

/* x[indx] as a new vector, file-backed, computed here; NULL (R does it
   in ordinary memory) below the threshold or when no runtime can take
   the result.  */
static SEXP vec_Extract_subset(SEXP x, SEXP indx, SEXP call)
{
  (void)call;
  if (TYPEOF(indx) != INTSXP && TYPEOF(indx) != REALSXP)
    return NULL;
  rfm_vector *v = rfm_vec(x);
  R_xlen_t n = XLENGTH(indx), len = v->store->length;
  if ((double)n < rfm_threshold())
    return NULL;
  SEXP target = rfm_result_runtime(rfm_runtime_ext_of(x));
  if (target == R_NilValue)
    return NULL;
  if (v->store->type == STRSXP) {
    /* Every offset and length comes from the block, which a writer in
       another process may change under a reader: each is checked by
       rfm_str_read, and the copy never writes past what the first pass
       sized (a second pass that finds more bytes is an error).  */
    rfm_str_flush(x);
    rfm_str_reader r;
    rfm_str_reader_init(&r, v->store);
    size_t total = 0;
    for (R_xlen_t k = 0; k < n; k++) {
      R_xlen_t j = subset_pos(indx, k, len);
      int32_t l;
      int enc;
      if (j >= 0 && rfm_str_read(&r, j, &l, &enc) != NULL)
        total += (size_t)l;
    }
    SEXP ans =
        PROTECT(rfm_new_vector_cap(target, STRSXP, n, 0, total ? total : 64));
    /* The CHARSXPs already made for X serve the subset too.  */
    SEXP from = rfm_slot(x, RFM_SLOT_CACHE), to = R_NilValue;
    if (from != R_NilValue && v->cache_version == v->store->str_version) {
      rfm_vector *a = rfm_handle(ans);
      to = rfm_str_cache(ans, a);
    } else {
      from = R_NilValue;
    }
    rfm_str_reader_init(&r, v->store); /* again: allocating ANS ran GC */
    void *dst = rfm_handle(ans)->store->payload;
    uint64_t used = 0;
    for (R_xlen_t k = 0; k < n; k++) {
      R_xlen_t j = subset_pos(indx, k, len);
      if (j < 0) {
        rfm_str_flags(dst)[k] = RFM_STR_NA;
        continue;
      }
      if (from != R_NilValue)
        SET_VECTOR_ELT(to, k, VECTOR_ELT(from, j));
      int32_t l = 0;
      int enc = 0;
      const char *b = rfm_str_read(&r, j, &l, &enc);
      if (b == NULL) {
        rfm_str_flags(dst)[k] = RFM_STR_NA;
        rfm_str_start(dst)[k] = (int64_t)used;
        rfm_str_len(dst)[k] = 0;
        continue;
      }
      if ((uint64_t)l > total - used)
        Rf_error("the character vector (record %llu) changed while it was "
                 "read: another process is writing it",
                 (unsigned long long)v->store->record_id);
      memcpy(rfm_str_bytes(dst) + used, b, (size_t)l);
      rfm_str_start(dst)[k] = (int64_t)used;
      rfm_str_len(dst)[k] = l;
      rfm_str_flags(dst)[k] = r.flags[j];
      used += (uint64_t)l;
    }
    rfm_str_hdr(dst)->used = used;
    UNPROTECT(1);
    return ans;
  }
  SEXP ans = PROTECT(rfm_new_vector(target, v->store->type, n, 0));
  void *src = rfm_payload(v);
  void *dst = rfm_handle(ans)->store->payload;
  subset_index ix;
  subset_index_init(&ix, indx, len);
  switch (v->store->type) {
  case LGLSXP:
  case INTSXP:
    for (R_xlen_t k = 0; k < n; k++) {
      R_xlen_t j = subset_at(&ix, k);
      ((int *)dst)[k] = j < 0 ? NA_INTEGER : ((int *)src)[j];
    }
    break;
  case REALSXP:
    for (R_xlen_t k = 0; k < n; k++) {
      R_xlen_t j = subset_at(&ix, k);
      ((double *)dst)[k] = j < 0 ? NA_REAL : ((double *)src)[j];
    }
    break;
  case CPLXSXP:
    for (R_xlen_t k = 0; k < n; k++) {
      R_xlen_t j = subset_at(&ix, k);
      if (j < 0) {
        ((Rcomplex *)dst)[k].r = NA_REAL;
        ((Rcomplex *)dst)[k].i = NA_REAL;
      } else {
        ((Rcomplex *)dst)[k] = ((Rcomplex *)src)[j];
      }
    }
    break;
  case RAWSXP:
    for (R_xlen_t k = 0; k < n; k++) {
      R_xlen_t j = subset_at(&ix, k);
      ((Rbyte *)dst)[k] = j < 0 ? 0 : ((Rbyte *)src)[j];
    }
    break;
  }
  UNPROTECT(1);
  return ans;
}

/* Coercion between logical, integer and double, file-backed above the
   threshold, by R's rules (coerce.c): NA stays NA; a double outside the
   integer range becomes NA with R's warning, and is truncated
   otherwise; a number is TRUE when not zero.  Anything else (to or from
   character, complex or raw) is left to R.  */
static SEXP vec_Coerce(SEXP x, int type)
{
  rfm_vector *v = rfm_vec(x);
  int from = v->store->type;
  int numeric_from = from == LGLSXP || from == INTSXP || from == REALSXP;
  int numeric_to = type == LGLSXP || type == INTSXP || type == REALSXP;
  if (!numeric_from || !numeric_to || from == type ||
      (double)v->store->length < rfm_threshold())
    return NULL;
  SEXP target = rfm_result_runtime(rfm_runtime_ext_of(x));
  if (target == R_NilValue)
    return NULL;
  R_xlen_t n = v->store->length;
  SEXP ans = PROTECT(rfm_new_vector(target, type, n, 0));
  const void *src = rfm_payload(v);
  void *dst = rfm_handle(ans)->store->payload;
  int warn = 0;
  if (from == REALSXP) {
    const double *a = src;
    int *r = dst;
    if (type == INTSXP) {
      for (R_xlen_t i = 0; i < n; i++) {
        if (ISNAN(a[i])) {
          r[i] = NA_INTEGER;
        } else if (a[i] >= INT_MAX + 1. || a[i] <= INT_MIN) {
          r[i] = NA_INTEGER;
          warn = 1;
        } else {
          r[i] = (int)a[i];
        }
      }
    } else {
      for (R_xlen_t i = 0; i < n; i++)
        r[i] = ISNAN(a[i]) ? NA_LOGICAL : a[i] != 0;
    }
  } else {
    const int *a = src;
    if (type == REALSXP) {
      double *d = dst;
      for (R_xlen_t i = 0; i < n; i++)
        d[i] = a[i] == NA_INTEGER ? NA_REAL : (double)a[i];
    } else if (type == INTSXP) { /* from logical: the same ints */
      memcpy(dst, a, (size_t)n * sizeof(int));
    } else { /* integer to logical */
      int *r = dst;
      for (R_xlen_t i = 0; i < n; i++)
        r[i] = a[i] == NA_INTEGER ? NA_LOGICAL : a[i] != 0;
    }
  }
  if (warn)
    Rf_warning("NAs introduced by coercion to integer range");
  UNPROTECT(1);
  return ans;
}

/* --- classes ---------------------------------------------------------- */

#define COMMON_METHODS(cls)                                                   \
  R_set_altrep_Length_method(cls, vec_Length);                                \
  R_set_altrep_Inspect_method(cls, vec_Inspect);                              \
  R_set_altrep_Duplicate_method(cls, vec_Duplicate);                          \
  R_set_altrep_Serialized_state_method(cls, rfm_serialized_state);            \
  R_set_altrep_UnserializeEX_method(cls, rfm_unserialize_ex);                 \
  R_set_altrep_Coerce_method(cls, vec_Coerce);                                \
  R_set_altvec_Extract_subset_method(cls, vec_Extract_subset)

void rfm_init_classes(DllInfo *dll)
{
  cls_lgl = R_make_altlogical_class("fmalloc_logical", "Rfmalloc", dll);
  COMMON_METHODS(cls_lgl);
  R_set_altvec_Dataptr_method(cls_lgl, vec_Dataptr);
  R_set_altvec_Dataptr_or_null_method(cls_lgl, vec_Dataptr_or_null);
  R_set_altlogical_Elt_method(cls_lgl, int_Elt);
  R_set_altlogical_Get_region_method(cls_lgl, int_Get_region);

  cls_int = R_make_altinteger_class("fmalloc_integer", "Rfmalloc", dll);
  COMMON_METHODS(cls_int);
  R_set_altvec_Dataptr_method(cls_int, vec_Dataptr);
  R_set_altvec_Dataptr_or_null_method(cls_int, vec_Dataptr_or_null);
  R_set_altinteger_Elt_method(cls_int, int_Elt);
  R_set_altinteger_Get_region_method(cls_int, int_Get_region);
  R_set_altinteger_Sum_method(cls_int, rfm_int_Sum);
  R_set_altinteger_Min_method(cls_int, rfm_int_Min);
  R_set_altinteger_Max_method(cls_int, rfm_int_Max);
  R_set_altinteger_Is_sorted_method(cls_int, rfm_Is_sorted);
  R_set_altinteger_No_NA_method(cls_int, rfm_No_NA);

  cls_real = R_make_altreal_class("fmalloc_double", "Rfmalloc", dll);
  COMMON_METHODS(cls_real);
  R_set_altvec_Dataptr_method(cls_real, vec_Dataptr);
  R_set_altvec_Dataptr_or_null_method(cls_real, vec_Dataptr_or_null);
  R_set_altreal_Elt_method(cls_real, real_Elt);
  R_set_altreal_Get_region_method(cls_real, real_Get_region);
  R_set_altreal_Sum_method(cls_real, rfm_real_Sum);
  R_set_altreal_Min_method(cls_real, rfm_real_Min);
  R_set_altreal_Max_method(cls_real, rfm_real_Max);
  R_set_altreal_Is_sorted_method(cls_real, rfm_Is_sorted);
  R_set_altreal_No_NA_method(cls_real, rfm_No_NA);

  cls_cplx = R_make_altcomplex_class("fmalloc_complex", "Rfmalloc", dll);
  COMMON_METHODS(cls_cplx);
  R_set_altvec_Dataptr_method(cls_cplx, vec_Dataptr);
  R_set_altvec_Dataptr_or_null_method(cls_cplx, vec_Dataptr_or_null);
  R_set_altcomplex_Elt_method(cls_cplx, cplx_Elt);
  R_set_altcomplex_Get_region_method(cls_cplx, cplx_Get_region);

  cls_raw = R_make_altraw_class("fmalloc_raw", "Rfmalloc", dll);
  COMMON_METHODS(cls_raw);
  R_set_altvec_Dataptr_method(cls_raw, vec_Dataptr);
  R_set_altvec_Dataptr_or_null_method(cls_raw, vec_Dataptr_or_null);
  R_set_altraw_Elt_method(cls_raw, raw_Elt);
  R_set_altraw_Get_region_method(cls_raw, raw_Get_region);

  cls_str = R_make_altstring_class("fmalloc_character", "Rfmalloc", dll);
  COMMON_METHODS(cls_str);
  R_set_altvec_Dataptr_method(cls_str, str_Dataptr);
  R_set_altvec_Dataptr_or_null_method(cls_str, str_Dataptr_or_null);
  R_set_altstring_Elt_method(cls_str, str_Elt);
  R_set_altstring_Set_elt_method(cls_str, str_Set_elt);
}
