/* kernels.c: is.na(), anyNA() and which() over the mapped data of
   fmalloc vectors, and the copy of a result computed by base R into a
   heap (the methods in R/methods.R).  */

#include "ops.h"

#include <limits.h>
#include <string.h>

SEXP C_rfm_finish(SEXP x, SEXP fresh);
SEXP C_rfm_copy_in(SEXP rt, SEXP x);

static SEXP finished(SEXP ans)
{
  PROTECT(ans);
  SEXP f = PROTECT(Rf_ScalarLogical(FALSE));
  ans = C_rfm_finish(ans, f);
  UNPROTECT(2);
  return ans;
}

/* The fmalloc vector under X (through R's wrappers), or R_NilValue. */
static SEXP fm_vector(SEXP x)
{
  SEXP y = rfm_unwrap(x);
  return rfm_is_fmalloc(y) ? y : R_NilValue;
}

/* is.na(x) for an fmalloc vector X: R's answer (names, dim and
   dimnames kept), file-backed from the threshold on.  NULL: base R.  */
SEXP C_rfm_isna(SEXP x)
{
  SEXP y = fm_vector(x);
  if (y == R_NilValue)
    return R_NilValue;
  rfm_vector *v = rfm_vec(y);
  rfm_store *s = v->store;
  if (s->type == STRSXP)
    rfm_str_flush(y);
  R_xlen_t n = s->length;
  SEXP ans = PROTECT(rfm_alloc_result(rfm_runtime_ext_of(y), LGLSXP, n));
  int *r = LOGICAL(ans);
  const void *p = s->payload; /* reread: the allocation may run GC */
  switch (s->type) {
  case LGLSXP:
  case INTSXP:
    for (R_xlen_t i = 0; i < n; i++)
      r[i] = ((const int *)p)[i] == NA_INTEGER;
    break;
  case REALSXP:
    for (R_xlen_t i = 0; i < n; i++)
      r[i] = ISNAN(((const double *)p)[i]);
    break;
  case CPLXSXP:
    for (R_xlen_t i = 0; i < n; i++)
      r[i] = ISNAN(((const Rcomplex *)p)[i].r) ||
             ISNAN(((const Rcomplex *)p)[i].i);
    break;
  case RAWSXP:
    memset(r, 0, (size_t)n * sizeof(int));
    break;
  case STRSXP: {
    rfm_str_reader rd; /* the block checked before its flags are read */
    rfm_str_reader_init(&rd, s);
    const uint8_t *f = rd.flags;
    for (R_xlen_t i = 0; i < n; i++)
      r[i] = (f[i] & RFM_STR_NA) != 0;
    break;
  }
  }
  rfm_copy_shape(ans, x);
  UNPROTECT(1);
  return finished(ans);
}

/* anyNA(x) (not recursive) for an fmalloc vector: TRUE/FALSE, or NULL. */
SEXP C_rfm_anyna(SEXP x)
{
  SEXP y = fm_vector(x);
  if (y == R_NilValue)
    return R_NilValue;
  rfm_store *s = rfm_vec(y)->store;
  if (s->type == STRSXP)
    rfm_str_flush(y);
  R_xlen_t n = s->length;
  const void *p = s->payload;
  int any = 0;
  switch (s->type) {
  case LGLSXP:
  case INTSXP:
    for (R_xlen_t i = 0; i < n && !any; i++)
      any = ((const int *)p)[i] == NA_INTEGER;
    break;
  case REALSXP:
    for (R_xlen_t i = 0; i < n && !any; i++)
      any = ISNAN(((const double *)p)[i]);
    break;
  case CPLXSXP:
    for (R_xlen_t i = 0; i < n && !any; i++)
      any = ISNAN(((const Rcomplex *)p)[i].r) ||
            ISNAN(((const Rcomplex *)p)[i].i);
    break;
  case STRSXP: {
    rfm_str_reader rd; /* the block checked before its flags are read */
    rfm_str_reader_init(&rd, s);
    const uint8_t *f = rd.flags;
    for (R_xlen_t i = 0; i < n && !any; i++)
      any = (f[i] & RFM_STR_NA) != 0;
    break;
  }
  }
  return Rf_ScalarLogical(any);
}

/* which(x) for a logical fmalloc vector without names: the positions
   of TRUE (integer, or double past 2^31 - 1), file-backed from the
   threshold on.  NULL: base R.  */
SEXP C_rfm_which(SEXP x)
{
  SEXP y = fm_vector(x);
  if (y == R_NilValue || TYPEOF(y) != LGLSXP ||
      Rf_getAttrib(x, R_NamesSymbol) != R_NilValue)
    return R_NilValue;
  rfm_store *s = rfm_vec(y)->store;
  R_xlen_t n = s->length, cnt = 0;
  const int *p = s->payload;
  for (R_xlen_t i = 0; i < n; i++)
    cnt += p[i] == TRUE;
  int big = n > INT_MAX;
  SEXP ans = PROTECT(
      rfm_alloc_result(rfm_runtime_ext_of(y), big ? REALSXP : INTSXP, cnt));
  p = s->payload;
  R_xlen_t k = 0;
  if (big) {
    double *r = REAL(ans);
    for (R_xlen_t i = 0; i < n && k < cnt; i++)
      if (p[i] == TRUE)
        r[k++] = (double)i + 1;
  } else {
    int *r = INTEGER(ans);
    for (R_xlen_t i = 0; i < n && k < cnt; i++)
      if (p[i] == TRUE)
        r[k++] = (int)i + 1;
  }
  UNPROTECT(1);
  return finished(ans);
}

/* The result X of base R computed for the fmalloc vector LIKE: copied
   into LIKE's runtime (or the scratch runtime) when it is an atomic
   vector at least the threshold long, with its attributes; then given
   the class it should have.  */
SEXP C_rfm_to_file(SEXP x, SEXP like)
{
  SEXP y = fm_vector(like);
  int type = TYPEOF(x);
  if (y == R_NilValue || rfm_is_fmalloc(rfm_unwrap(x)) ||
      (double)XLENGTH(x) < rfm_threshold() ||
      (rfm_elt_size(type) == 0 && type != STRSXP) || Rf_isS4(x))
    return finished(x);
  SEXP rt = rfm_result_runtime(rfm_runtime_ext_of(y));
  if (rt == R_NilValue)
    return finished(x);
  return finished(C_rfm_copy_in(rt, x)); /* data and attributes */
}
