/* summary.c: the Sum, Min, Max, Is_sorted and No_NA methods of the
   integer and double ALTREP classes.

   R 4.2's do_summary() calls Sum/Min/Max when sum(x), min(x) or max(x)
   has a single ALTREP argument (optionally with na.rm).  These loops
   read the mapped payload directly and reproduce R's own loops
   (src/main/summary.c: isum, rsum, imin, rmin, ...) so the answers are
   identical: the double sum accumulates in a long double in the same
   order, so NA/NaN propagation and rounding match.  Every case whose
   answer R decorates with a warning (an integer sum that does not fit an
   int, min/max of nothing) returns NULL, and R then computes it itself,
   warning exactly as it does for an ordinary vector.  */

#include "ops.h"

#include <float.h>
#include <limits.h>

#define R_INT_MIN (1 + INT_MIN)

static const void *payload_of(SEXP x, R_xlen_t *n)
{
  rfm_vector *v = rfm_vec(x);
  *n = v->store->length;
  return rfm_payload(v);
}

SEXP rfm_int_Sum(SEXP x, Rboolean narm)
{
  R_xlen_t n;
  const int *p = payload_of(x, &n);
  if ((double)n >= 4294967296.0)
    return NULL; /* an int64 sum could overflow: leave it to R */
  int64_t s = 0; /* |s| < 2^31 * 2^32: cannot overflow */
  for (R_xlen_t i = 0; i < n; i++) {
    if (p[i] == NA_INTEGER) {
      if (!narm)
        return Rf_ScalarInteger(NA_INTEGER);
    } else {
      s += p[i];
    }
  }
  if (s > INT_MAX || s < R_INT_MIN)
    return NULL; /* R decides (a double in R 4.2, NA with a warning in
                    older versions) */
  return Rf_ScalarInteger((int)s);
}

SEXP rfm_real_Sum(SEXP x, Rboolean narm)
{
  R_xlen_t n;
  const double *p = payload_of(x, &n);
  long double s = 0.0;
  /* R's loop, in R's form: the test makes the compiler load each value
     into a register before the x87 add, as R's rsum does.  An add
     straight from memory would treat NA (a signalling NaN pattern)
     differently and sum(c(NaN, NA)) would give NaN where R gives NA. */
  for (R_xlen_t i = 0; i < n; i++)
    if (!narm || !ISNAN(p[i]))
      s += p[i];
  double d;
  if (s > DBL_MAX)
    d = R_PosInf;
  else if (s < -DBL_MAX)
    d = R_NegInf;
  else
    d = (double)s;
  return Rf_ScalarReal(0.0 + d); /* do_summary adds to 0.0 too */
}

static SEXP int_minmax(SEXP x, Rboolean narm, int max)
{
  R_xlen_t n;
  const int *p = payload_of(x, &n);
  int s = 0, updated = 0;
  for (R_xlen_t i = 0; i < n; i++) {
    int v = p[i];
    if (v == NA_INTEGER) {
      if (!narm)
        return Rf_ScalarInteger(NA_INTEGER);
    } else if (!updated || (max ? v > s : v < s)) {
      s = v;
      updated = 1;
    }
  }
  if (!updated)
    return NULL; /* R warns and gives -Inf / Inf */
  return Rf_ScalarInteger(s);
}

static SEXP real_minmax(SEXP x, Rboolean narm, int max)
{
  R_xlen_t n;
  const double *p = payload_of(x, &n);
  double s = 0.0;
  int updated = 0;
  for (R_xlen_t i = 0; i < n; i++) {
    double v = p[i];
    if (ISNAN(v)) {
      if (!narm) {
        if (!R_IsNA(s))
          s = v; /* an NA wins over every NaN */
        updated = 1;
      }
    } else if (!updated || (max ? v > s : v < s)) {
      /* never true once s is NA or NaN */
      s = v;
      updated = 1;
    }
  }
  if (!updated)
    return NULL;
  return Rf_ScalarReal(s);
}

SEXP rfm_int_Min(SEXP x, Rboolean narm)
{
  return int_minmax(x, narm, 0);
}
SEXP rfm_int_Max(SEXP x, Rboolean narm)
{
  return int_minmax(x, narm, 1);
}
SEXP rfm_real_Min(SEXP x, Rboolean narm)
{
  return real_minmax(x, narm, 0);
}
SEXP rfm_real_Max(SEXP x, Rboolean narm)
{
  return real_minmax(x, narm, 1);
}

/* Is_sorted and No_NA: always "unknown".
   R asks these from sort(), order(), is.unsorted(), unique(), match()
   and anyNA() fast paths, often once per call on the same vector.  A
   certain answer needs either a full scan (as expensive as what the
   caller would do anyway) or a cached flag.  A cached flag cannot be
   kept right: any code holding the writable pointer from Dataptr (R's
   subassignment, other packages' C code, another process writing the
   same persistent heap) changes the data without telling us, and a
   stale "sorted" or "no NA" would make R return wrong answers.  So we
   answer UNKNOWN_SORTEDNESS and 0 (the defaults), and R takes its
   ordinary, correct path.  */
int rfm_Is_sorted(SEXP x)
{
  (void)x;
  return UNKNOWN_SORTEDNESS;
}

int rfm_No_NA(SEXP x)
{
  (void)x;
  return 0;
}
