/* vectors.c: the .Call entry points that make fmalloc vectors (create,
   copy in, alias) and tell what they are.  */

#include "rfmalloc.h"

#include <string.h>

/* The runtime where a vector the user asks to make in RT goes: RT, or
   in a forked child (mclapply) whose RT the parent opened, the child's
   own scratch runtime: the child cannot write the parent's heap, and
   code that makes vectors in the default runtime should still run.  */
static SEXP target_runtime(SEXP rt)
{
  if (TYPEOF(rt) == EXTPTRSXP && R_ExternalPtrTag(rt) == rfm_runtime_tag) {
    rfm_runtime *r = R_ExternalPtrAddr(rt);
    if (r != NULL && r->heap != NULL && rfm_forked(r)) {
      SEXP t = rfm_result_runtime(rt);
      if (t != R_NilValue)
        return t;
    }
  }
  return rt;
}

/* Is RT a runtime this process inherited across fork() (opened by its
   parent)?  */
SEXP C_rfm_runtime_inherited(SEXP rt)
{
  if (TYPEOF(rt) != EXTPTRSXP || R_ExternalPtrTag(rt) != rfm_runtime_tag)
    Rf_error("not an fmalloc runtime");
  rfm_runtime *r = R_ExternalPtrAddr(rt);
  return Rf_ScalarLogical(r != NULL && r->heap != NULL && rfm_forked(r));
}

SEXP C_rfm_create(SEXP rt, SEXP type, SEXP length, SEXP zero)
{
  rt = target_runtime(rt);
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
  rt = target_runtime(rt);
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
    ans = PROTECT(rfm_new_vector_cap(rt, STRSXP, n, 0, total ? total : 64));
    rfm_vector *v = rfm_handle(ans);
    /* The CHARSXPs of X are the ones Elt would make: keep them as the
       cache, so that reading the copy in this session costs no
       mkCharLenCE per element (as a full read would fill it anyway).  */
    SEXP cache = rfm_str_cache(ans, v);
    for (R_xlen_t i = 0; i < n; i++) {
      SEXP c = STRING_ELT(x, i);
      rfm_str_store(v->store, i, c);
      SET_VECTOR_ELT(cache, i, c);
    }
    v->cache_version = v->store->str_version;
  } else if (rfm_elt_size(type) > 0) {
    ans = PROTECT(rfm_new_vector(rt, type, n, 0));
    void *dst0 = rfm_handle(ans)->store->payload;
    size_t es = rfm_elt_size(type);
    const char *src = DATAPTR_OR_NULL(x);
    if (src != NULL) {
      memcpy(dst0, src, (size_t)n * es);
    } else {
      /* an ALTREP without a pointer (e.g. a compact sequence) */
      R_xlen_t chunk = 4096;
      for (R_xlen_t i = 0; i < n; i += chunk) {
        R_xlen_t k = n - i < chunk ? n - i : chunk;
        char *dst = (char *)dst0 + (size_t)i * es;
        switch (type) {
        case LGLSXP:
          LOGICAL_GET_REGION(x, i, k, (int *)dst);
          break;
        case INTSXP:
          INTEGER_GET_REGION(x, i, k, (int *)dst);
          break;
        case REALSXP:
          REAL_GET_REGION(x, i, k, (double *)dst);
          break;
        case CPLXSXP:
          COMPLEX_GET_REGION(x, i, k, (Rcomplex *)dst);
          break;
        case RAWSXP:
          RAW_GET_REGION(x, i, k, (Rbyte *)dst);
          break;
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

/* A vector sharing the data of X (an alias): no copy.  Both are pinned:
   their store is shared outside R's view, so R copies before changing
   either, and the package's assignments write the shared data.  */
SEXP C_rfm_alias(SEXP x)
{
  x = rfm_unwrap(x);
  if (!rfm_is_fmalloc(x) || TYPEOF(x) == STRSXP)
    return R_NilValue; /* the caller copies instead */
  rfm_vector *v = rfm_vec(x);
  SEXP ans = PROTECT(rfm_make_vector(rfm_runtime_ext_of(x), v->store, 1));
  rfm_handle(ans)->alias = 1;
  rfm_set_slot(ans, RFM_SLOT_OWNER, rfm_slot(x, RFM_SLOT_OWNER));
  rfm_pin(x);
  UNPROTECT(1);
  return ans;
}

/* Set the attributes of X (a vector made here, or loaded: nothing else
   holds this R object yet) from the named list ATTRS, in place; dim
   before dimnames.  */
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

/* list(committed, id, generation, alias, clone, pinned, state, bytes,
   type, length) of an fmalloc vector */
SEXP C_rfm_vector_info(SEXP x)
{
  x = rfm_unwrap(x);
  if (!rfm_is_fmalloc(x))
    Rf_error("'x' is not an fmalloc vector");
  rfm_vector *v = rfm_handle(x);
  if (v == NULL || v->store == NULL)
    Rf_error("this fmalloc vector is no longer valid (package unloaded)");
  rfm_store *s = v->store;
  const char *names[] = {"committed", "id",    "generation", "alias", "clone",
                         "pinned",    "state", "bytes",      "type",  "length",
                         "editable",  "dirty", "offset",     ""};
  SEXP ans = PROTECT(Rf_mkNamed(VECSXP, names));
  SET_VECTOR_ELT(ans, 0, Rf_ScalarLogical(s->committed));
  SET_VECTOR_ELT(ans, 1, Rf_ScalarReal((double)s->record_id));
  SET_VECTOR_ELT(ans, 2, Rf_ScalarReal((double)s->generation));
  SET_VECTOR_ELT(ans, 3, Rf_ScalarLogical(v->alias));
  SET_VECTOR_ELT(ans, 4, Rf_ScalarLogical(v->clone));
  SET_VECTOR_ELT(ans, 5, Rf_ScalarLogical(v->pinned));
  const char *state = s->dead                       ? "destroyed"
                      : s->malloced                 ? "memory"
                      : s->rt->heap == NULL         ? "closed"
                      : s->committed && s->editable ? "saved"
                      : s->committed                ? "serialized"
                                                    : "live";
  SET_VECTOR_ELT(ans, 6, Rf_mkString(state));
  SET_VECTOR_ELT(ans, 7, Rf_ScalarReal((double)s->bytes));
  SET_VECTOR_ELT(ans, 8, Rf_mkString(Rf_type2char(s->type)));
  SET_VECTOR_ELT(ans, 9, Rf_ScalarReal((double)s->length));
  SET_VECTOR_ELT(ans, 10, Rf_ScalarLogical(s->editable));
  SET_VECTOR_ELT(ans, 11, Rf_ScalarLogical(s->str_dirty));
  SET_VECTOR_ELT(
      ans, 12,
      Rf_ScalarReal(!s->malloced && !s->dead && s->rt->heap != NULL
                        ? (double)fmr_ptr_to_offset(s->rt->heap, s->payload)
                        : NA_REAL));
  UNPROTECT(1);
  return ans;
}

/* --- the S3 classes of the default objects ----------------------------

   A file-backed vector users get carries the class
   c("fmalloc_vector", "fmalloc") (or fmalloc_matrix, fmalloc_array by
   its dim) unless option Rfmalloc.class is FALSE, so that R's
   operators, Math functions, subsetting and assignment reach the
   package's methods; an ordinary R vector never carries them.  */

static SEXP cls_vector, cls_matrix, cls_array, sym_class_opt;

static int fm_class_name(SEXP c)
{
  const char *s = CHAR(c);
  return strcmp(s, "fmalloc") == 0 || strcmp(s, "fmalloc_vector") == 0 ||
         strcmp(s, "fmalloc_matrix") == 0 || strcmp(s, "fmalloc_array") == 0;
}

static void init_classes(void)
{
  if (cls_vector != NULL)
    return;
  const char *v[] = {"fmalloc_vector", "fmalloc_matrix", "fmalloc_array"};
  SEXP *dst[] = {&cls_vector, &cls_matrix, &cls_array};
  for (int k = 0; k < 3; k++) {
    SEXP c = PROTECT(Rf_allocVector(STRSXP, 2));
    SET_STRING_ELT(c, 0, Rf_mkChar(v[k]));
    SET_STRING_ELT(c, 1, Rf_mkChar("fmalloc"));
    R_PreserveObject(c);
    MARK_NOT_MUTABLE(c);
    *dst[k] = c;
    UNPROTECT(1);
  }
  sym_class_opt = Rf_install("Rfmalloc.class");
}

static int class_wanted(void)
{
  SEXP opt = Rf_GetOption1(sym_class_opt);
  return opt == R_NilValue || Rf_asLogical(opt) != FALSE;
}

static int same_class(SEXP a, SEXP b)
{
  if (a == b)
    return 1;
  if (TYPEOF(a) != STRSXP || XLENGTH(a) != XLENGTH(b))
    return 0;
  for (R_xlen_t i = 0; i < XLENGTH(a); i++)
    if (strcmp(CHAR(STRING_ELT(a, i)), CHAR(STRING_ELT(b, i))) != 0)
      return 0;
  return 1;
}

/* The class X should have: one of ours, or R_NilValue for none.  */
static SEXP wanted_class(SEXP x)
{
  SEXP dim = Rf_getAttrib(x, R_DimSymbol);
  if (dim == R_NilValue)
    return cls_vector;
  return XLENGTH(dim) == 2 ? cls_matrix : cls_array;
}

/* How many of the class names CLS are the package's (the others: in
   *FOREIGN).  */
static int count_classes(SEXP cls, int *foreign)
{
  int ours = 0;
  for (R_xlen_t i = 0; i < Rf_xlength(cls); i++) {
    if (fm_class_name(STRING_ELT(cls, i)))
      ours++;
    else
      (*foreign)++;
  }
  return ours;
}

/* Give the result X the class it should have: ours if it is a
   file-backed vector without a class of its own, none of ours if it is
   an ordinary R object.  Changes X in place when FRESH (the package
   just made or loaded it) or nothing else holds it (a result bound to
   one local variable), else a shallow copy.  */
SEXP C_rfm_finish(SEXP x, SEXP fresh)
{
  init_classes();
  /* R's wrapper around an fmalloc vector (made when attributes change
     on a shared one) is file-backed too */
  SEXP y = rfm_unwrap(x);
  if (ATTRIB(x) == R_NilValue && !rfm_is_fmalloc(y))
    return x;
  SEXP cls = Rf_getAttrib(x, R_ClassSymbol);
  int foreign = 0, ours = count_classes(cls, &foreign);
  int file_backed = rfm_is_fmalloc(y) && TYPEOF(x) != VECSXP;
  if (foreign && ours == 0)
    return x;
  SEXP want = R_NilValue;
  if (!foreign && file_backed && class_wanted())
    want = wanted_class(x);
  if (!foreign && (want == R_NilValue ? ours == 0 : same_class(cls, want)))
    return x;
  if (Rf_asLogical(fresh) != TRUE && rfm_shared(x))
    x = Rf_shallow_duplicate(x);
  PROTECT(x);
  if (foreign) {
    /* keep the other classes, drop ours */
    SEXP keep = PROTECT(Rf_allocVector(STRSXP, foreign));
    for (R_xlen_t i = 0, k = 0; i < XLENGTH(cls); i++)
      if (!fm_class_name(STRING_ELT(cls, i)))
        SET_STRING_ELT(keep, k++, STRING_ELT(cls, i));
    Rf_setAttrib(x, R_ClassSymbol, keep);
    UNPROTECT(2);
    return x;
  }
  Rf_setAttrib(x, R_ClassSymbol, want);
  UNPROTECT(1);
  return x;
}

static SEXP subset1(SEXP x, SEXP i);

/* The `[` method's scalar path, x[i] for one positive in-range number
   I and X without names: the element, as base R gives it; NULL
   otherwise (the method goes on).  */
SEXP C_rfm_subset1(SEXP x, SEXP i)
{
  if (!rfm_is_fmalloc(x) || XLENGTH(i) != 1 || ATTRIB(i) != R_NilValue)
    return R_NilValue;
  return subset1(x, i);
}

static SEXP subset1(SEXP x, SEXP i)
{
  rfm_vector *v = rfm_handle(x);
  if (v == NULL || v->store == NULL)
    return R_NilValue;
  double d;
  if (TYPEOF(i) == INTSXP) {
    int k = INTEGER_ELT(i, 0);
    d = k == NA_INTEGER ? -1 : k;
  } else if (TYPEOF(i) == REALSXP) {
    d = REAL_ELT(i, 0);
  } else {
    return R_NilValue;
  }
  rfm_store *s = v->store;
  if (!(d >= 1 && d < (double)s->length + 1))
    return R_NilValue;
  if (Rf_getAttrib(x, R_NamesSymbol) != R_NilValue)
    return R_NilValue;
  R_xlen_t k = (R_xlen_t)d - 1;
  rfm_vec(x); /* destroyed or closed: an error */
  switch (s->type) {
  case LGLSXP:
    return Rf_ScalarLogical(((int *)s->payload)[k]);
  case INTSXP:
    return Rf_ScalarInteger(((int *)s->payload)[k]);
  case REALSXP:
    return Rf_ScalarReal(((double *)s->payload)[k]);
  case CPLXSXP:
    return Rf_ScalarComplex(((Rcomplex *)s->payload)[k]);
  case RAWSXP:
    return Rf_ScalarRaw(((Rbyte *)s->payload)[k]);
  case STRSXP:
    return Rf_ScalarString(rfm_str_elt(x, k));
  default:
    return R_NilValue;
  }
}

/* X belongs to the environment ENV: assignments there change its
   record (store.c).  */
SEXP C_rfm_set_owner(SEXP x, SEXP env)
{
  SEXP y = rfm_unwrap(x);
  if (rfm_is_fmalloc(y))
    rfm_set_owner(y, env);
  return x;
}

/* Is X a handle through which assignments change a saved record? */
SEXP C_rfm_is_saved_view(SEXP x)
{
  x = rfm_unwrap(x);
  if (!rfm_is_fmalloc(x))
    return Rf_ScalarLogical(FALSE);
  rfm_vector *v = rfm_handle(x);
  if (v == NULL || v->store == NULL)
    return Rf_ScalarLogical(FALSE);
  rfm_store *s = v->store;
  return Rf_ScalarLogical(!v->clone && s->committed && s->editable &&
                          !s->dead && rfm_store_writable(s));
}

/* names(x) <- value, dim(x) <- value, dimnames(x) <- value (WHICH) in
   an assignment on the fmalloc vector X (ENV: the method's frame): the
   clone R made of a saved vector is promoted first (as for
   x[i] <- v), then the attribute is set in place.  NULL: let R do it
   (NextMethod).  */
SEXP C_rfm_assign_attr(SEXP x, SEXP which, SEXP value, SEXP call, SEXP env)
{
  static SEXP sym_tmp = NULL;
  if (sym_tmp == NULL)
    sym_tmp = Rf_install("*tmp*");
  SEXP y = rfm_unwrap(x);
  if (!rfm_is_fmalloc(y) || TYPEOF(call) != LANGSXP ||
      CDR(call) == R_NilValue || CADR(call) != sym_tmp)
    return R_NilValue;
  rfm_vector *v = rfm_vec(y);
  if (y != x) {
    /* R's wrapper around Y, made for this assignment */
    if (v->clone)
      return R_NilValue;
    if (!v->pinned) {
      if (rfm_holders(y) > 1)
        return R_NilValue;
    } else {
      SEXP caller = PROTECT(rfm_caller_env(env));
      x = rfm_promotable_wrapped(y, caller) ? rfm_promote_wrapped(x, y)
                                            : R_NilValue;
      UNPROTECT(1);
      if (x == R_NilValue)
        return R_NilValue;
    }
  } else if (v->clone) {
    SEXP caller = PROTECT(rfm_caller_env(env));
    if (rfm_promotable(x, caller))
      rfm_promote(x, caller);
    UNPROTECT(1);
  }
  PROTECT(x);
  Rf_setAttrib(x, Rf_installTrChar(STRING_ELT(which, 0)), value);
  UNPROTECT(1);
  return x;
}

/* Give ANS the attributes of X without the fmalloc classes (a foreign
   class keeps them all).  */
static void plain_attributes(SEXP ans, SEXP x)
{
  SHALLOW_DUPLICATE_ATTRIB(ans, x);
  init_classes();
  int foreign = 0, ours = count_classes(Rf_getAttrib(ans, R_ClassSymbol),
                                        &foreign);
  if (ours && !foreign)
    Rf_setAttrib(ans, R_ClassSymbol, R_NilValue);
}

/* Character vectors up to this length are viewed as an ordinary R
   vector of their CHARSXPs (see C_rfm_view).  */
#define RFM_PLAIN_STRINGS_MAX ((R_xlen_t)1 << 27)

/* A view of the fmalloc vector X for reading: a new handle on X's data
   with X's attributes but not its fmalloc class (R_NilValue for
   anything else).  Printing and formatting go through a view: R's
   print.default keeps a reference to what it printed, which would make
   R count X as shared for ever (and copy it before the next
   assignment); the view takes that reference instead.  A view of a
   private vector is not pinned: it is for reading only.

   A character vector of up to 2^27 elements is viewed as an ordinary
   character vector of the CHARSXPs X's cache holds (all of them made):
   R reads an ALTREP string one method call per element, which made
   unique(), match() and the like 6 to 12 times slower than on a plain
   vector.  Only pointers are copied (8 bytes an element, beside the
   CHARSXPs the cache keeps anyway), for the length of one base R call;
   longer vectors get the handle, which costs no memory.  */
SEXP C_rfm_view(SEXP x)
{
  SEXP y = rfm_unwrap(x);
  if (!rfm_is_fmalloc(y))
    return R_NilValue;
  rfm_vector *v = rfm_vec(y);
  rfm_store *s = v->store;
  if (s->type == STRSXP && s->length <= RFM_PLAIN_STRINGS_MAX) {
    SEXP ans = PROTECT(Rf_allocVector(STRSXP, s->length));
    const SEXP *c = STRING_PTR_RO(y); /* the cache, every element made */
    for (R_xlen_t i = 0; i < s->length; i++)
      SET_STRING_ELT(ans, i, c[i]);
    plain_attributes(ans, x);
    UNPROTECT(1);
    return ans;
  }
  SEXP ans = PROTECT(rfm_make_vector(rfm_runtime_ext_of(y), s, v->pinned));
  rfm_vector *a = rfm_handle(ans);
  if (v->clone) {
    a->clone = 1;
    s->nclones++;
  }
  rfm_str_share_cache(ans, y);
  if (v->clone)
    rfm_set_slot(ans, RFM_SLOT_SOURCE, rfm_slot(y, RFM_SLOT_SOURCE));
  plain_attributes(ans, x);
  UNPROTECT(1);
  return ans;
}
