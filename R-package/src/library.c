/* library.c: which libfmalloc-r the package runs with (fmalloc_library):
   an installed shared library found by configure, or the copy bundled in
   the package's source tarball and linked into Rfmalloc.so.  */

#define _GNU_SOURCE 1 /* dladdr */
#include <dlfcn.h>

#include "rfmalloc.h"

SEXP C_rfm_library(void)
{
  const char *names[] = {"version", "header_version", "bundled", "file", ""};
  SEXP out = PROTECT(Rf_mkNamed(VECSXP, names));
  SET_VECTOR_ELT(out, 0, Rf_mkString(fmr_version()));
  SET_VECTOR_ELT(out, 1, Rf_mkString(FMR_VERSION_STRING));
#ifdef RFM_BUNDLED_LIBRARY
  SET_VECTOR_ELT(out, 2, Rf_ScalarLogical(TRUE));
#else
  SET_VECTOR_ELT(out, 2, Rf_ScalarLogical(FALSE));
#endif
  /* The file that holds fmr_version as loaded: libfmalloc-r.so.N, or
     Rfmalloc.so itself for the bundled copy. */
  Dl_info info;
  /* dladdr takes an object pointer; C has no cast from a function
     pointer to one, so go through a union. */
  union {
    const char *(*fn)(void);
    void *p;
  } code = {.fn = fmr_version};
  if (dladdr(code.p, &info) != 0 && info.dli_fname != NULL)
    SET_VECTOR_ELT(out, 3, Rf_mkString(info.dli_fname));
  else
    SET_VECTOR_ELT(out, 3, Rf_ScalarString(NA_STRING));
  UNPROTECT(1);
  return out;
}
