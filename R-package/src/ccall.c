/* ccall.c: the C-callable API of Rfmalloc (see inst/include/Rfmalloc.h),
   registered with R_RegisterCCallable.  */

#include "rfmalloc.h"

static SEXP api_open(const char *path, int scratch, double initial_bytes)
{
  return rfm_runtime_open(path,
                          scratch ? FMR_MODE_SCRATCH : FMR_MODE_PERSISTENT,
                          initial_bytes, FMR_OPEN_CREATE);
}

static SEXP api_create(SEXP runtime, int type, R_xlen_t length)
{
  if (type != LGLSXP && type != INTSXP && type != REALSXP && type != CPLXSXP &&
      type != RAWSXP && type != STRSXP)
    Rf_error("Rfmalloc_create: unsupported type %s", Rf_type2char(type));
  if (length < 0)
    Rf_error("Rfmalloc_create: negative length");
  return rfm_new_vector(runtime, type, length, 1);
}

static int api_is_fmalloc(SEXP x)
{
  return rfm_is_fmalloc(rfm_unwrap(x));
}

static SEXP api_runtime_of(SEXP x)
{
  x = rfm_unwrap(x);
  return rfm_is_fmalloc(x) ? rfm_runtime_ext_of(x) : R_NilValue;
}

static void *api_payload(SEXP x, R_xlen_t *length_out)
{
  x = rfm_unwrap(x);
  if (!rfm_is_fmalloc(x))
    Rf_error("Rfmalloc_payload: not an fmalloc vector");
  rfm_vector *v = rfm_vec(x);
  if (length_out != NULL)
    *length_out = v->store->length;
  return rfm_payload(v);
}

void rfm_register_ccallables(void)
{
  R_RegisterCCallable("Rfmalloc", "Rfmalloc_open", (DL_FUNC)api_open);
  R_RegisterCCallable("Rfmalloc", "Rfmalloc_create", (DL_FUNC)api_create);
  R_RegisterCCallable("Rfmalloc", "Rfmalloc_is_fmalloc",
                      (DL_FUNC)api_is_fmalloc);
  R_RegisterCCallable("Rfmalloc", "Rfmalloc_runtime_of",
                      (DL_FUNC)api_runtime_of);
  R_RegisterCCallable("Rfmalloc", "Rfmalloc_payload", (DL_FUNC)api_payload);
}
