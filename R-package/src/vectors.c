/* vectors.c: the ALTREP classes of Rfmalloc and the functions that make,
   copy, commit, load and destroy file-backed vectors.

   Atomic classes (logical, integer, double, complex, raw): Dataptr is the
   payload in the mapping.  Character class: see rfm_str_header in
   rfmalloc.h; the CHARSXPs given out by Elt are cached in a VECSXP held
   in data2, so each stays reachable as long as the vector.  */

#include "rfmalloc.h"
#include "ops.h" /* summary methods (summary.c) */

#include <stdlib.h>
#include <limits.h>
#include <string.h>

static R_altrep_class_t cls_lgl, cls_int, cls_real, cls_cplx, cls_raw,
    cls_str;

SEXP rfm_uuid_string(fmr_heap *heap);

/* --- helpers -------------------------------------------------------- */

size_t rfm_elt_size(int type)
{
  switch (type) {
  case LGLSXP: return sizeof(int);
  case INTSXP: return sizeof(int);
  case REALSXP: return sizeof(double);
  case CPLXSXP: return sizeof(Rcomplex);
  case RAWSXP: return 1;
  default: return 0;
  }
}

static R_altrep_class_t class_of_type(int type)
{
  switch (type) {
  case LGLSXP: return cls_lgl;
  case INTSXP: return cls_int;
  case REALSXP: return cls_real;
  case CPLXSXP: return cls_cplx;
  case RAWSXP: return cls_raw;
  case STRSXP: return cls_str;
  default: Rf_error("unsupported vector type %s", Rf_type2char(type));
  }
}

int rfm_is_fmalloc(SEXP x)
{
  if (!ALTREP(x))
    return 0;
  return R_altrep_inherits(x, cls_lgl) || R_altrep_inherits(x, cls_int)
         || R_altrep_inherits(x, cls_real) || R_altrep_inherits(x, cls_cplx)
         || R_altrep_inherits(x, cls_raw) || R_altrep_inherits(x, cls_str);
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

static R_INLINE rfm_vector *vec_raw(SEXP x)
{
  return R_ExternalPtrAddr(R_altrep_data1(x));
}

/* The handle of X, checked to be usable. */
rfm_vector *rfm_vec(SEXP x)
{
  rfm_vector *v = vec_raw(x);
  if (v == NULL)
    Rf_error("this fmalloc vector is no longer valid (package unloaded)");
  rfm_vector *o = v->owner ? v->owner : v;
  if (o->dead)
    Rf_error("this fmalloc vector was destroyed with fmalloc_destroy()");
  if (v->rt->heap == NULL)
    Rf_error("the fmalloc runtime of this vector is closed");
  return v;
}

void *rfm_payload(rfm_vector *v)
{
  return v->owner ? v->owner->payload : v->payload;
}

static rfm_vector *data_owner(rfm_vector *v)
{
  return v->owner ? v->owner : v;
}

SEXP rfm_runtime_ext_of(SEXP x)
{
  SEXP ext = R_altrep_data1(x);
  rfm_vector *v = R_ExternalPtrAddr(ext);
  if (v == NULL)
    return R_NilValue;
  while (R_ExternalPtrTag(R_ExternalPtrProtected(ext)) != rfm_runtime_tag)
    ext = R_ExternalPtrProtected(ext);
  return R_ExternalPtrProtected(ext);
}

double rfm_threshold(void)
{
  SEXP opt = Rf_GetOption1(Rf_install("Rfmalloc.threshold"));
  if (opt == R_NilValue)
    return 1e5;
  double t = Rf_asReal(opt);
  return ISNAN(t) ? 1e5 : t;
}

/* A new handle: PROT is the runtime (or the owner's handle for an alias). */
static SEXP new_handle(rfm_runtime *rt, SEXP prot, rfm_vector **out)
{
  rfm_vector *v = calloc(1, sizeof *v);
  if (v == NULL)
    Rf_error("out of memory");
  v->rt = rt;
  SEXP ext = PROTECT(R_MakeExternalPtr(v, rfm_vector_tag, prot));
  rfm_register_vector(ext);
  UNPROTECT(1);
  *out = v;
  return ext;
}

static size_t str_table_bytes(uint64_t n)
{
  size_t t = sizeof(rfm_str_header) + (size_t)n * (8 + 4 + 1);
  return (t + 7) & ~(size_t)7;
}

static rfm_str_header *str_hdr(void *p) { return p; }
static int64_t *str_start(void *p)
{
  return (int64_t *)((char *)p + sizeof(rfm_str_header));
}
static int32_t *str_len(void *p)
{
  return (int32_t *)(str_start(p) + str_hdr(p)->n);
}
static uint8_t *str_flags(void *p)
{
  return (uint8_t *)(str_len(p) + str_hdr(p)->n);
}
static char *str_bytes(void *p)
{
  return (char *)p + str_table_bytes(str_hdr(p)->n);
}

static size_t payload_size(int type, R_xlen_t n, size_t str_cap)
{
  if (type == STRSXP)
    return str_table_bytes((uint64_t)n) + str_cap;
  size_t es = rfm_elt_size(type);
  if ((size_t)n > SIZE_MAX / es)
    Rf_error("vector too long");
  return (size_t)n * es;
}

static void alloc_payload(rfm_vector *v, size_t bytes, int zero)
{
  void *p = NULL;
  int rc = zero ? fmr_calloc(v->rt->heap, 1, bytes, &p)
                : fmr_malloc(v->rt->heap, bytes, &p);
  if (rc != FMR_OK)
    rfm_fail(rc, "cannot allocate in the fmalloc heap");
  v->payload = p;
  v->bytes = bytes;
}

static void str_init(void *p, R_xlen_t n, size_t cap)
{
  rfm_str_header *h = p;
  h->magic = RFM_STR_MAGIC;
  h->n = (uint64_t)n;
  h->used = 0;
  h->cap = cap;
  memset(str_start(p), 0, str_table_bytes(n) - sizeof(rfm_str_header));
}

/* A new uncommitted vector of TYPE and length N in runtime RT_EXT. */
static SEXP new_vector(SEXP rt_ext, int type, R_xlen_t n, int zero,
                       size_t str_cap)
{
  rfm_runtime *rt = rfm_runtime_get(rt_ext, 1);
  rfm_vector *v;
  SEXP ext = PROTECT(new_handle(rt, rt_ext, &v));
  v->type = type;
  v->length = n;
  alloc_payload(v, payload_size(type, n, str_cap), zero && type != STRSXP);
  if (type == STRSXP)
    str_init(v->payload, n, str_cap);
  SEXP ans = R_new_altrep(class_of_type(type), ext, R_NilValue);
  UNPROTECT(1);
  return ans;
}

SEXP rfm_new_vector(SEXP rt_ext, int type, R_xlen_t n, int zero)
{
  return new_vector(rt_ext, type, n, zero, type == STRSXP ? 64 : 0);
}

/* A vector over a committed record. */
SEXP rfm_wrap_record(SEXP rt_ext, const fmr_record *rec)
{
  rfm_runtime *rt = rfm_runtime_get(rt_ext, 0);
  if (!RFM_TAG_IS_OURS(rec->type))
    Rf_error("record %llu was not written by Rfmalloc",
             (unsigned long long)rec->id);
  int type = RFM_TAG_TYPE(rec->type);
  if (type == STRSXP && (rec->payload == NULL
                         || str_hdr(rec->payload)->magic != RFM_STR_MAGIC
                         || str_hdr(rec->payload)->n != rec->length))
    Rf_error("record %llu is not a valid character vector",
             (unsigned long long)rec->id);
  if (type != STRSXP
      && rec->payload_bytes < payload_size(type, (R_xlen_t)rec->length, 0))
    Rf_error("record %llu is shorter than its length says",
             (unsigned long long)rec->id);
  rfm_vector *v;
  SEXP ext = PROTECT(new_handle(rt, rt_ext, &v));
  v->type = type;
  v->length = (R_xlen_t)rec->length;
  v->payload = rec->payload;
  v->bytes = (size_t)rec->payload_bytes;
  v->committed = 1;
  v->record_id = rec->id;
  v->generation = rec->generation;
  SEXP ans = PROTECT(R_new_altrep(class_of_type(type), ext, R_NilValue));
  if (rt->readonly)
    MARK_NOT_MUTABLE(ans);
  UNPROTECT(2);
  return ans;
}

/* A vector sharing the data of X (an alias): no copy. */
static SEXP new_alias(SEXP x)
{
  rfm_vector *src = rfm_vec(x);
  rfm_vector *o = data_owner(src);
  SEXP owner_ext = R_altrep_data1(x);
  if (src->owner)
    owner_ext = R_ExternalPtrProtected(owner_ext);
  rfm_vector *v;
  SEXP ext = PROTECT(new_handle(src->rt, owner_ext, &v));
  v->owner = o;
  v->type = o->type;
  v->length = o->length;
  SEXP ans = R_new_altrep(class_of_type(o->type), ext, R_NilValue);
  UNPROTECT(1);
  return ans;
}

/* --- common methods -------------------------------------------------- */

static R_xlen_t vec_Length(SEXP x)
{
  rfm_vector *v = vec_raw(x);
  return v ? v->length : 0;
}

static Rboolean vec_Inspect(SEXP x, int pre, int deep, int pvec,
                            void (*inspect_subtree)(SEXP, int, int, int))
{
  rfm_vector *v = vec_raw(x);
  if (v == NULL) {
    Rprintf(" fmalloc vector (invalid)\n");
    return TRUE;
  }
  rfm_vector *o = data_owner(v);
  Rprintf(" fmalloc %s [%s%s, record %llu, %s]\n", Rf_type2char(v->type),
          o->committed ? "committed" : "uncommitted",
          v->owner ? " alias" : "", (unsigned long long)o->record_id,
          v->rt->path);
  return TRUE;
}

static void *vec_Dataptr(SEXP x, Rboolean writeable)
{
  rfm_vector *v = rfm_vec(x);
  return rfm_payload(v);
}

static const void *vec_Dataptr_or_null(SEXP x)
{
  rfm_vector *v = vec_raw(x);
  if (v == NULL || data_owner(v)->dead || v->rt->heap == NULL)
    return NULL;
  return rfm_payload(v);
}

/* Copy into a new vector of the same runtime, or NULL (R copies into
   ordinary memory) below the threshold or when the runtime cannot
   allocate.  */
static SEXP vec_Duplicate(SEXP x, Rboolean deep)
{
  rfm_vector *v = rfm_vec(x);
  rfm_runtime *rt = v->rt;
  if ((double)v->length < rfm_threshold() || rt->close_requested
      || rt->readonly)
    return NULL;
  rfm_vector *o = data_owner(v);
  SEXP rt_ext = rfm_runtime_ext_of(x);
  size_t cap = 0;
  if (v->type == STRSXP)
    cap = (size_t)str_hdr(o->payload)->cap;
  SEXP ans = PROTECT(new_vector(rt_ext, v->type, v->length, 0, cap));
  rfm_vector *n = vec_raw(ans);
  memcpy(n->payload, o->payload, payload_size(v->type, v->length, cap));
  /* The strings are the same: share the CHARSXPs already made.  */
  if (v->type == STRSXP && R_altrep_data2(x) != R_NilValue)
    R_set_altrep_data2(ans, Rf_shallow_duplicate(R_altrep_data2(x)));
  UNPROTECT(1);
  return ans;
}

static SEXP vec_Serialized_state(SEXP x)
{
  rfm_vector *v = rfm_vec(x);
  if (v->rt->mode == FMR_MODE_SCRATCH)
    return NULL;
  SEXP opt = Rf_GetOption1(Rf_install("Rfmalloc.serialize"));
  if (Rf_isString(opt) && XLENGTH(opt) >= 1
      && strcmp(CHAR(STRING_ELT(opt, 0)), "value") == 0)
    return NULL;
  rfm_vector *o = data_owner(v);
  if (!o->committed)
    rfm_commit(o, NULL, R_NilValue, RFM_ROLE_KEEP);
  const char *names[] = {"path", "uuid", "id", "generation", "type",
                         "length", ""};
  SEXP state = PROTECT(Rf_mkNamed(VECSXP, names));
  char buf[32];
  SET_VECTOR_ELT(state, 0, Rf_mkString(v->rt->path));
  SET_VECTOR_ELT(state, 1, rfm_uuid_string(v->rt->heap));
  snprintf(buf, sizeof buf, "%llu", (unsigned long long)o->record_id);
  SET_VECTOR_ELT(state, 2, Rf_mkString(buf));
  snprintf(buf, sizeof buf, "%llu", (unsigned long long)o->generation);
  SET_VECTOR_ELT(state, 3, Rf_mkString(buf));
  SET_VECTOR_ELT(state, 4, Rf_mkString(Rf_type2char(v->type)));
  SET_VECTOR_ELT(state, 5, Rf_ScalarReal((double)v->length));
  UNPROTECT(1);
  return state;
}

static const char *state_string(SEXP state, int i)
{
  SEXP s = VECTOR_ELT(state, i);
  if (!Rf_isString(s) || XLENGTH(s) != 1)
    Rf_error("malformed Rfmalloc reference");
  return CHAR(STRING_ELT(s, 0));
}

static SEXP vec_Unserialize(SEXP cls, SEXP state)
{
  if (TYPEOF(state) != VECSXP || XLENGTH(state) != 6)
    Rf_error("malformed Rfmalloc reference");
  const char *path = state_string(state, 0);
  const char *uuid = state_string(state, 1);
  uint64_t id = strtoull(state_string(state, 2), NULL, 10);
  uint64_t gen = strtoull(state_string(state, 3), NULL, 10);
  const char *type = state_string(state, 4);
  double length = Rf_asReal(VECTOR_ELT(state, 5));
  SEXP rt = rfm_runtime_find(path);
  if (rt == R_NilValue) {
    /* Never create a file here: check that it exists first (the open
       below also lacks FMR_OPEN_CREATE) and say what the reference
       needs.  */
    FILE *f = fopen(path, "rb");
    if (f == NULL)
      Rf_error("cannot restore an Rfmalloc reference: the heap file '%s' "
               "does not exist (or cannot be read). The object (record %s) "
               "lives in that file: put the file back at that path, or "
               "save objects by value with "
               "options(Rfmalloc.serialize = \"value\").",
               path, state_string(state, 2));
    fclose(f);
    rt = rfm_runtime_open(path, FMR_MODE_PERSISTENT, 0, 0);
  }
  PROTECT(rt);
  rfm_runtime *r = rfm_runtime_get(rt, 0);
  SEXP have = PROTECT(rfm_uuid_string(r->heap));
  if (strcmp(CHAR(STRING_ELT(have, 0)), uuid) != 0)
    Rf_error("cannot restore an Rfmalloc reference: '%s' is not the heap "
             "file the object was saved from (uuid %s, expected %s); the "
             "file was replaced",
             path, CHAR(STRING_ELT(have, 0)), uuid);
  fmr_record rec;
  int rc = fmr_record_get(r->heap, id, &rec);
  if (rc == FMR_ENOTFOUND || (rc == FMR_OK
                              && rec.state != FMR_RECORD_COMMITTED))
    Rf_error("cannot restore an Rfmalloc reference: record %s no longer "
             "exists in '%s' (it was destroyed)",
             state_string(state, 2), path);
  if (rc != FMR_OK)
    rfm_fail(rc, "cannot read the record of an Rfmalloc reference");
  /* Ids are never reused, so (uuid, id) names the record; its later
     versions (renamed, re-saved, a grown character block) are what the
     reference reads.  An older version means the file itself is older
     than the reference: a restored copy, whose data may not match. */
  if (rec.generation < gen)
    Rf_error("cannot restore an Rfmalloc reference: record %s in '%s' is "
             "older than the reference (generation %llu, expected at least "
             "%s); the heap file was replaced by an older copy",
             state_string(state, 2), path,
             (unsigned long long)rec.generation, state_string(state, 3));
  if (!RFM_TAG_IS_OURS(rec.type)
      || strcmp(Rf_type2char(RFM_TAG_TYPE(rec.type)), type) != 0
      || (double)rec.length != length)
    Rf_error("cannot restore an Rfmalloc reference: record %s in '%s' does "
             "not hold a %s vector of length %.0f",
             state_string(state, 2), path, type, length);
  SEXP ans = rfm_wrap_record(rt, &rec);
  UNPROTECT(2);
  return ans;
}

/* --- atomic element methods ------------------------------------------ */

#define PAYLOAD(x, ctype) ((ctype *)rfm_payload(rfm_vec(x)))

static int int_Elt(SEXP x, R_xlen_t i) { return PAYLOAD(x, int)[i]; }
static double real_Elt(SEXP x, R_xlen_t i) { return PAYLOAD(x, double)[i]; }
static Rcomplex cplx_Elt(SEXP x, R_xlen_t i)
{
  return PAYLOAD(x, Rcomplex)[i];
}
static Rbyte raw_Elt(SEXP x, R_xlen_t i) { return PAYLOAD(x, Rbyte)[i]; }

#define GET_REGION(fname, ctype)                                              \
  static R_xlen_t fname(SEXP x, R_xlen_t i, R_xlen_t n, ctype *buf)           \
  {                                                                           \
    rfm_vector *v = rfm_vec(x);                                               \
    R_xlen_t len = v->length;                                                 \
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

static SEXP str_cache(SEXP x, R_xlen_t n)
{
  SEXP cache = R_altrep_data2(x);
  if (cache == R_NilValue) {
    cache = Rf_allocVector(VECSXP, n);
    R_set_altrep_data2(x, cache);
  }
  return cache;
}

static SEXP str_make_char(void *p, R_xlen_t i)
{
  uint8_t f = str_flags(p)[i];
  if (f & RFM_STR_NA)
    return NA_STRING;
  static const cetype_t enc[] = {CE_NATIVE, CE_UTF8, CE_LATIN1, CE_BYTES};
  return Rf_mkCharLenCE(str_bytes(p) + str_start(p)[i], str_len(p)[i],
                        enc[f & RFM_STR_ENC_MASK]);
}

static SEXP str_Elt(SEXP x, R_xlen_t i)
{
  rfm_vector *v = rfm_vec(x);
  SEXP cache = str_cache(x, v->length);
  SEXP c = VECTOR_ELT(cache, i);
  if (c == R_NilValue) {
    c = str_make_char(rfm_payload(v), i);
    SET_VECTOR_ELT(cache, i, c);
  }
  return c;
}

static void *str_Dataptr(SEXP x, Rboolean writeable)
{
  rfm_vector *v = rfm_vec(x);
  SEXP cache = str_cache(x, v->length);
  void *p = rfm_payload(v);
  for (R_xlen_t i = 0; i < v->length; i++)
    if (VECTOR_ELT(cache, i) == R_NilValue)
      SET_VECTOR_ELT(cache, i, str_make_char(p, i));
  /* DATAPTR is not API in R >= 4.5.  R changes strings through
     SET_STRING_ELT (str_Set_elt), not through this pointer.  */
  return (void *)DATAPTR_RO(cache);
}

static const void *str_Dataptr_or_null(SEXP x) { return NULL; }

static uint8_t char_flags(SEXP c)
{
  if (c == NA_STRING)
    return RFM_STR_NA;
  switch (Rf_getCharCE(c)) {
  case CE_UTF8: return 1;
  case CE_LATIN1: return 2;
  case CE_BYTES: return 3;
  default: return 0;
  }
}

/* Give the character vector V room for EXTRA more bytes: a new block
   with the live strings compacted, swapped in for the old one.  */
static void str_grow(rfm_vector *v, size_t extra)
{
  void *old = v->payload;
  rfm_str_header *h = old;
  R_xlen_t n = (R_xlen_t)h->n;
  size_t live = 0;
  for (R_xlen_t i = 0; i < n; i++)
    live += (size_t)str_len(old)[i];
  size_t cap = 2 * (live + extra);
  if (cap < 64)
    cap = 64;
  size_t bytes = payload_size(STRSXP, n, cap);
  void *p = NULL;
  int rc = fmr_malloc(v->rt->heap, bytes, &p);
  if (rc != FMR_OK)
    rfm_fail(rc, "cannot grow a character vector in the fmalloc heap");
  memcpy(p, old, str_table_bytes((uint64_t)n));
  str_hdr(p)->cap = cap;
  char *dst = str_bytes(p), *src = str_bytes(old);
  uint64_t used = 0;
  for (R_xlen_t i = 0; i < n; i++) {
    int32_t len = str_len(old)[i];
    memcpy(dst + used, src + str_start(old)[i], (size_t)len);
    str_start(p)[i] = (int64_t)used;
    used += (uint64_t)len;
  }
  str_hdr(p)->used = used;
  if (v->committed) {
    rc = fmr_record_set_payload(v->rt->heap, v->record_id, p,
                                (uint64_t)n);
    if (rc != FMR_OK) {
      fmr_free(v->rt->heap, p);
      rfm_fail(rc, "cannot swap in the grown character vector");
    }
    fmr_record rec;
    if (fmr_record_get(v->rt->heap, v->record_id, &rec) == FMR_OK)
      v->generation = rec.generation;
  } else {
    fmr_free(v->rt->heap, old);
  }
  v->payload = p;
  v->bytes = bytes;
}

static void str_store(rfm_vector *v, R_xlen_t i, SEXP c)
{
  uint8_t f = char_flags(c);
  size_t len = c == NA_STRING ? 0 : (size_t)LENGTH(c);
  void *p = v->payload;
  if (len > (size_t)str_len(p)[i]) {
    if (str_hdr(p)->used + len > str_hdr(p)->cap) {
      if (v->rt->close_requested || v->rt->readonly)
        Rf_error("cannot modify a character vector of a closed or "
                 "read-only fmalloc runtime");
      str_grow(v, len);
      p = v->payload;
    }
    str_start(p)[i] = (int64_t)str_hdr(p)->used;
    str_hdr(p)->used += len;
  }
  if (len > 0)
    memcpy(str_bytes(p) + str_start(p)[i], CHAR(c), len);
  str_len(p)[i] = (int32_t)len;
  str_flags(p)[i] = f;
}

static void str_Set_elt(SEXP x, R_xlen_t i, SEXP c)
{
  rfm_vector *v = rfm_vec(x);
  if (v->rt->readonly)
    Rf_error("cannot modify a vector of a read-only fmalloc runtime");
  str_store(data_owner(v), i, c);
  SEXP cache = R_altrep_data2(x);
  if (cache != R_NilValue)
    SET_VECTOR_ELT(cache, i, c);
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

/* x[indx] as a new vector of the same runtime, computed here; NULL (R
   does it in ordinary memory) below the threshold.  */
static SEXP vec_Extract_subset(SEXP x, SEXP indx, SEXP call)
{
  if (TYPEOF(indx) != INTSXP && TYPEOF(indx) != REALSXP)
    return NULL;
  rfm_vector *v = rfm_vec(x);
  R_xlen_t n = XLENGTH(indx), len = v->length;
  if ((double)n < rfm_threshold() || v->rt->close_requested || v->rt->readonly)
    return NULL;
  SEXP rt_ext = rfm_runtime_ext_of(x);
  void *src = rfm_payload(v);
  if (v->type == STRSXP) {
    size_t total = 0;
    for (R_xlen_t k = 0; k < n; k++) {
      R_xlen_t j = subset_pos(indx, k, len);
      if (j >= 0)
        total += (size_t)str_len(src)[j];
    }
    SEXP ans = PROTECT(new_vector(rt_ext, STRSXP, n, 0, total ? total : 64));
    /* The CHARSXPs already made for X serve the subset too.  */
    SEXP from = R_altrep_data2(x), to = R_NilValue;
    if (from != R_NilValue)
      to = str_cache(ans, n);
    src = rfm_payload(v); /* reread: allocating ANS ran R code (GC) */
    void *dst = vec_raw(ans)->payload;
    uint64_t used = 0;
    for (R_xlen_t k = 0; k < n; k++) {
      R_xlen_t j = subset_pos(indx, k, len);
      if (j < 0) {
        str_flags(dst)[k] = RFM_STR_NA;
        continue;
      }
      if (from != R_NilValue)
        SET_VECTOR_ELT(to, k, VECTOR_ELT(from, j));
      int32_t l = str_len(src)[j];
      memcpy(str_bytes(dst) + used, str_bytes(src) + str_start(src)[j],
             (size_t)l);
      str_start(dst)[k] = (int64_t)used;
      str_len(dst)[k] = l;
      str_flags(dst)[k] = str_flags(src)[j];
      used += (uint64_t)l;
    }
    str_hdr(dst)->used = used;
    UNPROTECT(1);
    return ans;
  }
  SEXP ans = PROTECT(new_vector(rt_ext, v->type, n, 0, 0));
  void *dst = vec_raw(ans)->payload;
  switch (v->type) {
  case LGLSXP:
  case INTSXP:
    for (R_xlen_t k = 0; k < n; k++) {
      R_xlen_t j = subset_pos(indx, k, len);
      ((int *)dst)[k] = j < 0 ? NA_INTEGER : ((int *)src)[j];
    }
    break;
  case REALSXP:
    for (R_xlen_t k = 0; k < n; k++) {
      R_xlen_t j = subset_pos(indx, k, len);
      ((double *)dst)[k] = j < 0 ? NA_REAL : ((double *)src)[j];
    }
    break;
  case CPLXSXP:
    for (R_xlen_t k = 0; k < n; k++) {
      R_xlen_t j = subset_pos(indx, k, len);
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
      R_xlen_t j = subset_pos(indx, k, len);
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
  int from = v->type;
  int numeric_from = from == LGLSXP || from == INTSXP || from == REALSXP;
  int numeric_to = type == LGLSXP || type == INTSXP || type == REALSXP;
  if (!numeric_from || !numeric_to || from == type
      || (double)v->length < rfm_threshold() || v->rt->close_requested
      || v->rt->readonly)
    return NULL;
  SEXP ans = PROTECT(new_vector(rfm_runtime_ext_of(x), type, v->length, 0,
                                0));
  const void *src = rfm_payload(v);
  void *dst = vec_raw(ans)->payload;
  R_xlen_t n = v->length;
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
  R_set_altrep_Serialized_state_method(cls, vec_Serialized_state);            \
  R_set_altrep_Unserialize_method(cls, vec_Unserialize);                      \
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

/* --- commit, save, load, destroy ------------------------------------- */

/* Commit V (or update its record): NAME (NULL keeps the name), META
   (R_NilValue keeps the metadata), ROLE (RFM_ROLE_*: the role flags of
   the type tag).  */
void rfm_commit(rfm_vector *v, const char *name, SEXP meta, int role)
{
  rfm_runtime *rt = v->rt;
  if (rt->mode != FMR_MODE_PERSISTENT)
    Rf_error("only vectors of a persistent runtime can be saved");
  if (rt->readonly)
    Rf_error("the fmalloc runtime for '%s' is read-only", rt->path);
  const void *mp = meta == R_NilValue ? NULL : RAW(meta);
  size_t ml = meta == R_NilValue ? 0 : (size_t)XLENGTH(meta);
  uint32_t tag = RFM_TAG(v->type);
  if (role == RFM_ROLE_ELEMENT || role == RFM_ROLE_MARK_ELEMENT)
    tag |= RFM_TAG_ELEMENT;
  else if (role == RFM_ROLE_CONTAINER)
    tag |= RFM_TAG_CONTAINER;
  fmr_record rec;
  int rc;
  if (!v->committed) {
    uint64_t id = 0;
    rc = fmr_commit(rt->heap, v->payload, tag, (uint64_t)v->length, name,
                    mp, ml, 0, &id);
    if (rc != FMR_OK)
      rfm_fail(rc, "cannot commit the vector to the catalog");
    v->committed = 1;
    v->record_id = id;
  } else {
    rc = fmr_record_get(rt->heap, v->record_id, &rec);
    if (rc != FMR_OK)
      rfm_fail(rc, "cannot read the record");
    if (role == RFM_ROLE_ELEMENT || role == RFM_ROLE_KEEP)
      tag = RFM_TAG(v->type) | RFM_TAG_ROLE(rec.type);
    else if (role == RFM_ROLE_MARK_ELEMENT)
      tag = RFM_TAG(v->type) | RFM_TAG_ROLE(rec.type) | RFM_TAG_ELEMENT;
    if (name != NULL) {
      rc = fmr_record_rename(rt->heap, v->record_id, name);
      if (rc != FMR_OK)
        rfm_fail(rc, "cannot name the record");
    }
    if (meta != R_NilValue || tag != rec.type) {
      if (meta == R_NilValue) {
        /* keep the metadata: copy it out of the mapping first, as the
           update replaces the block it lives in */
        ml = rec.meta_len;
        void *copy = ml ? R_alloc(ml, 1) : NULL;
        if (ml)
          memcpy(copy, rec.meta, ml);
        mp = copy;
      }
      rc = fmr_record_update(rt->heap, v->record_id, tag,
                             (uint64_t)v->length, mp, ml);
      if (rc != FMR_OK)
        rfm_fail(rc, "cannot update the record");
    }
  }
  rc = fmr_record_get(rt->heap, v->record_id, &rec);
  if (rc != FMR_OK)
    rfm_fail(rc, "cannot read back the record");
  v->generation = rec.generation;
}

static rfm_vector *arg_vec(SEXP x)
{
  x = rfm_unwrap(x);
  if (!rfm_is_fmalloc(x))
    Rf_error("'x' is not an fmalloc vector");
  return rfm_vec(x);
}

/* Commit X with NAME (NULL: none, or keep) and META (NULL: keep) in
   the ROLE given (RFM_ROLE_*); the record id.  */
SEXP C_rfm_save(SEXP x, SEXP name, SEXP meta, SEXP role)
{
  rfm_vector *v = data_owner(arg_vec(x));
  const char *nm = NULL;
  if (name != R_NilValue)
    nm = Rf_translateCharUTF8(STRING_ELT(name, 0));
  int r = Rf_asInteger(role);
  if (r < RFM_ROLE_PLAIN || r > RFM_ROLE_KEEP)
    Rf_error("invalid record role");
  rfm_commit(v, nm, meta, r);
  return Rf_ScalarReal((double)v->record_id);
}

/* Before a list is destroyed: flag its committed element X as an
   element, so that if the process dies after the list's own record is
   gone, the next open frees X instead of leaking it.  */
SEXP C_rfm_mark_element(SEXP x)
{
  rfm_vector *v = data_owner(arg_vec(x));
  rfm_runtime *rt = v->rt;
  if (!v->committed || rt->readonly)
    return R_NilValue;
  fmr_record rec;
  int rc = fmr_record_get(rt->heap, v->record_id, &rec);
  if (rc != FMR_OK)
    rfm_fail(rc, "cannot read the record");
  if (rec.name[0] != '\0')
    return R_NilValue; /* named on its own: the sweep leaves it alone */
  rfm_commit(v, NULL, R_NilValue, RFM_ROLE_MARK_ELEMENT);
  return R_NilValue;
}

/* The record named NAME in runtime RT, or an R error. */
static rfm_runtime *find_named(SEXP rt, SEXP name, fmr_record *rec)
{
  rfm_runtime *r = rfm_runtime_get(rt, 0);
  if (r->mode != FMR_MODE_PERSISTENT)
    Rf_error("a scratch runtime has no named objects");
  const char *nm = Rf_translateCharUTF8(STRING_ELT(name, 0));
  int rc = fmr_record_find(r->heap, nm, rec);
  if (rc == FMR_ENOTFOUND)
    Rf_error("no object named '%s' in '%s'", nm, r->path);
  if (rc != FMR_OK)
    rfm_fail(rc, "cannot look up the name");
  return r;
}

SEXP C_rfm_find(SEXP rt, SEXP name)
{
  fmr_record rec;
  find_named(rt, name, &rec);
  SEXP ans = PROTECT(Rf_allocVector(VECSXP, 2));
  SET_VECTOR_ELT(ans, 0, rfm_wrap_record(rt, &rec));
  SEXP meta = Rf_allocVector(RAWSXP, (R_xlen_t)rec.meta_len);
  SET_VECTOR_ELT(ans, 1, meta);
  if (rec.meta_len > 0)
    memcpy(RAW(meta), rec.meta, rec.meta_len);
  UNPROTECT(1);
  return ans;
}

SEXP C_rfm_destroy(SEXP x)
{
  rfm_vector *v = data_owner(arg_vec(x));
  rfm_runtime *rt = v->rt;
  if (rt->readonly)
    Rf_error("the fmalloc runtime for '%s' is read-only", rt->path);
  int rc = v->committed ? fmr_record_free(rt->heap, v->record_id)
                        : fmr_free(rt->heap, v->payload);
  if (rc != FMR_OK)
    rfm_fail(rc, "cannot free the vector");
  rfm_mark_dead(rt, v->payload);
  return R_NilValue;
}

/* Destroy every vector of the list ELS, once each: a list may hold the
   same vector (or aliases of it) in several slots.  */
SEXP C_rfm_destroy_each(SEXP els)
{
  if (TYPEOF(els) != VECSXP)
    Rf_error("'els' must be a list");
  for (R_xlen_t i = 0; i < XLENGTH(els); i++) {
    SEXP x = rfm_unwrap(VECTOR_ELT(els, i));
    rfm_vector *v = rfm_is_fmalloc(x) ? vec_raw(x) : NULL;
    if (v != NULL && !data_owner(v)->dead)
      C_rfm_destroy(x);
  }
  return R_NilValue;
}

SEXP C_rfm_destroy_name(SEXP rt, SEXP name)
{
  fmr_record rec;
  rfm_runtime *r = find_named(rt, name, &rec);
  int rc = fmr_record_free(r->heap, rec.id);
  if (rc != FMR_OK)
    rfm_fail(rc, "cannot free the record");
  rfm_mark_dead(r, rec.payload);
  return R_NilValue;
}

/* --- R entry points --------------------------------------------------- */

SEXP C_rfm_create(SEXP rt, SEXP type, SEXP length, SEXP zero)
{
  double n = Rf_asReal(length);
  if (ISNAN(n) || n < 0 || n > (double)R_XLEN_T_MAX)
    Rf_error("invalid length");
  return rfm_new_vector(rt, Rf_asInteger(type), (R_xlen_t)n,
                        Rf_asLogical(zero) == TRUE);
}

/* Copy the ordinary (or any) atomic or character vector X into RT;
   attributes are copied too.  */
SEXP C_rfm_copy_in(SEXP rt, SEXP x)
{
  int type = TYPEOF(x);
  R_xlen_t n = XLENGTH(x);
  SEXP ans;
  if (type == STRSXP) {
    size_t total = 0;
    for (R_xlen_t i = 0; i < n; i++) {
      SEXP c = STRING_ELT(x, i);
      if (c != NA_STRING)
        total += (size_t)LENGTH(c);
    }
    ans = PROTECT(new_vector(rt, STRSXP, n, 0, total ? total : 64));
    rfm_vector *v = vec_raw(ans);
    /* The CHARSXPs of X are the ones Elt would make: keep them as the
       cache, so that reading the copy in this session costs no
       mkCharLenCE per element (as a full read would fill it anyway).  */
    SEXP cache = str_cache(ans, n);
    for (R_xlen_t i = 0; i < n; i++) {
      SEXP c = STRING_ELT(x, i);
      str_store(v, i, c);
      SET_VECTOR_ELT(cache, i, c);
    }
  } else if (rfm_elt_size(type) > 0) {
    ans = PROTECT(new_vector(rt, type, n, 0, 0));
    rfm_vector *v = vec_raw(ans);
    size_t es = rfm_elt_size(type);
    const char *src = DATAPTR_OR_NULL(x);
    if (src != NULL) {
      memcpy(v->payload, src, (size_t)n * es);
    } else {
      /* an ALTREP without a pointer (e.g. a compact sequence) */
      R_xlen_t chunk = 4096;
      for (R_xlen_t i = 0; i < n; i += chunk) {
        R_xlen_t k = n - i < chunk ? n - i : chunk;
        char *dst = (char *)v->payload + (size_t)i * es;
        switch (type) {
        case LGLSXP: LOGICAL_GET_REGION(x, i, k, (int *)dst); break;
        case INTSXP: INTEGER_GET_REGION(x, i, k, (int *)dst); break;
        case REALSXP: REAL_GET_REGION(x, i, k, (double *)dst); break;
        case CPLXSXP: COMPLEX_GET_REGION(x, i, k, (Rcomplex *)dst); break;
        case RAWSXP: RAW_GET_REGION(x, i, k, (Rbyte *)dst); break;
        }
      }
    }
  } else {
    Rf_error("cannot copy an object of type %s into an fmalloc runtime",
             Rf_type2char(type));
  }
  SHALLOW_DUPLICATE_ATTRIB(ans, x);
  UNPROTECT(1);
  return ans;
}

SEXP C_rfm_alias(SEXP x)
{
  x = rfm_unwrap(x);
  if (!rfm_is_fmalloc(x) || TYPEOF(x) == STRSXP)
    return R_NilValue; /* the caller copies instead */
  return new_alias(x);
}

/* Set the attributes of X (a vector made here, referenced nowhere else)
   from the named list ATTRS, in place; dim before dimnames.  */
SEXP C_rfm_set_attributes(SEXP x, SEXP attrs)
{
  SEXP names = Rf_getAttrib(attrs, R_NamesSymbol);
  R_xlen_t n = XLENGTH(attrs);
  for (int pass = 0; pass < 2; pass++)
    for (R_xlen_t i = 0; i < n; i++) {
      const char *nm = CHAR(STRING_ELT(names, i));
      int is_dim = strcmp(nm, "dim") == 0;
      if ((pass == 0) != is_dim)
        continue;
      Rf_setAttrib(x, Rf_install(nm), VECTOR_ELT(attrs, i));
    }
  return x;
}

SEXP C_rfm_is_fmalloc(SEXP x)
{
  return Rf_ScalarLogical(rfm_is_fmalloc(rfm_unwrap(x)));
}

SEXP C_rfm_runtime_of(SEXP x)
{
  x = rfm_unwrap(x);
  if (!rfm_is_fmalloc(x))
    return R_NilValue;
  return rfm_runtime_ext_of(x);
}

/* list(committed, record id, generation, alias) of an fmalloc vector */
SEXP C_rfm_vector_info(SEXP x)
{
  rfm_vector *v = arg_vec(x);
  rfm_vector *o = data_owner(v);
  const char *names[] = {"committed", "id", "generation", "alias", ""};
  SEXP ans = PROTECT(Rf_mkNamed(VECSXP, names));
  SET_VECTOR_ELT(ans, 0, Rf_ScalarLogical(o->committed));
  SET_VECTOR_ELT(ans, 1, Rf_ScalarReal((double)o->record_id));
  SET_VECTOR_ELT(ans, 2, Rf_ScalarReal((double)o->generation));
  SET_VECTOR_ELT(ans, 3, Rf_ScalarLogical(v->owner != NULL));
  UNPROTECT(1);
  return ans;
}

/* list(vector, metadata) of the record ID of RT */
SEXP C_rfm_get_id(SEXP rt, SEXP id)
{
  rfm_runtime *r = rfm_runtime_get(rt, 0);
  if (r->mode != FMR_MODE_PERSISTENT)
    Rf_error("a scratch runtime has no records");
  fmr_record rec;
  double d = Rf_asReal(id);
  int rc = fmr_record_get(r->heap, (uint64_t)d, &rec);
  if (rc == FMR_ENOTFOUND || (rc == FMR_OK
                              && rec.state != FMR_RECORD_COMMITTED))
    Rf_error("record %.0f no longer exists in '%s'", d, r->path);
  if (rc != FMR_OK)
    rfm_fail(rc, "cannot read the record");
  SEXP ans = PROTECT(Rf_allocVector(VECSXP, 2));
  SET_VECTOR_ELT(ans, 0, rfm_wrap_record(rt, &rec));
  SEXP meta = Rf_allocVector(RAWSXP, (R_xlen_t)rec.meta_len);
  SET_VECTOR_ELT(ans, 1, meta);
  if (rec.meta_len > 0)
    memcpy(RAW(meta), rec.meta, rec.meta_len);
  UNPROTECT(1);
  return ans;
}

/* X[I] <- VALUE for the fmalloc double vector X, in place (1-based I). */
SEXP C_rfm_poke_real(SEXP x, SEXP i, SEXP value)
{
  rfm_vector *v = arg_vec(x);
  double k = Rf_asReal(i);
  if (v->type != REALSXP || ISNAN(k) || k < 1 || k > (double)v->length)
    Rf_error("internal error: bad poke");
  ((double *)rfm_payload(v))[(R_xlen_t)k - 1] = Rf_asReal(value);
  return R_NilValue;
}
