/* Rfmalloc.h: C API of the R package Rfmalloc for other packages.

   Use: add "LinkingTo: Rfmalloc" and "Imports: Rfmalloc" to DESCRIPTION,
   import something from Rfmalloc in NAMESPACE (so that it is loaded), and
   include this header.  Each function looks up its entry point with
   R_GetCCallable on first use.  These functions may raise R errors
   (longjmp), like any R API function.  */

#ifndef RFMALLOC_API_H
#define RFMALLOC_API_H

#include <R.h>
#include <Rinternals.h>
#include <R_ext/Rdynload.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Open (or create) a heap file and return its runtime handle (an R
   external pointer of class "fmalloc_runtime").  SCRATCH non-zero opens
   an anonymous scratch heap in the directory PATH.  INITIAL_BYTES is the
   size of a new file (0: library default).  Opening a path already open
   in this process returns the same runtime.  */
static inline SEXP Rfmalloc_open(const char *path, int scratch,
                                 double initial_bytes)
{
  static SEXP (*fn)(const char *, int, double) = NULL;
  if (fn == NULL)
    fn = (SEXP(*)(const char *, int, double))R_GetCCallable(
        "Rfmalloc", "Rfmalloc_open");
  return fn(path, scratch, initial_bytes);
}

/* A new zero-filled vector of TYPE (LGLSXP, INTSXP, REALSXP, CPLXSXP,
   RAWSXP or STRSXP) and LENGTH in RUNTIME.  The result is unprotected. */
static inline SEXP Rfmalloc_create(SEXP runtime, int type, R_xlen_t length)
{
  static SEXP (*fn)(SEXP, int, R_xlen_t) = NULL;
  if (fn == NULL)
    fn = (SEXP(*)(SEXP, int, R_xlen_t))R_GetCCallable("Rfmalloc",
                                                       "Rfmalloc_create");
  return fn(runtime, type, length);
}

/* Non-zero if X is an Rfmalloc vector (looking through R's wrappers). */
static inline int Rfmalloc_is_fmalloc(SEXP x)
{
  static int (*fn)(SEXP) = NULL;
  if (fn == NULL)
    fn = (int (*)(SEXP))R_GetCCallable("Rfmalloc", "Rfmalloc_is_fmalloc");
  return fn(x);
}

/* The runtime handle of the Rfmalloc vector X, or R_NilValue. */
static inline SEXP Rfmalloc_runtime_of(SEXP x)
{
  static SEXP (*fn)(SEXP) = NULL;
  if (fn == NULL)
    fn = (SEXP(*)(SEXP))R_GetCCallable("Rfmalloc", "Rfmalloc_runtime_of");
  return fn(x);
}

/* The payload of the Rfmalloc vector X in the mapping, and its length
   in elements in *LENGTH_OUT (may be NULL).  For an atomic vector this
   is its data (int, double, Rcomplex or Rbyte array); for a character
   vector it is the package's internal string table (not a SEXP array).
   Valid while X is reachable.  Errors if X is not an Rfmalloc vector. */
static inline void *Rfmalloc_payload(SEXP x, R_xlen_t *length_out)
{
  static void *(*fn)(SEXP, R_xlen_t *) = NULL;
  if (fn == NULL)
    fn = (void *(*)(SEXP, R_xlen_t *))R_GetCCallable("Rfmalloc",
                                                      "Rfmalloc_payload");
  return fn(x, length_out);
}

#ifdef __cplusplus
}
#endif

#endif
