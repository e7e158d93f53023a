/* api.c: the earlier package's low-level calls: payload pointers,
   madvise, sync, and the facts of a vector or runtime in one list.  */

#include "rfmalloc.h"

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static rfm_vector *api_vec(SEXP x)
{
  x = rfm_unwrap(x);
  if (!rfm_is_fmalloc(x))
    Rf_error("'x' must be an fmalloc vector");
  return rfm_vec(x);
}

/* An external pointer to the data of X (tag fmalloc_payload), keeping
   X's data alive; NULL for an empty vector.  */
SEXP C_rfm_payload_ptr(SEXP x)
{
  rfm_vector *v = api_vec(x);
  if (v->store->bytes == 0)
    return R_NilValue;
  SEXP y = rfm_unwrap(x);
  return R_MakeExternalPtr(v->store->payload, Rf_install("fmalloc_payload"),
                           R_altrep_data1(y));
}

/* madvise() on BYTES bytes of X's data from OFFSET (BYTES < 0: to the
   end).  ADVICE: 0 normal, 1 sequential, 2 random, 3 willneed,
   4 dontneed.  "dontneed" on a private copy (process memory, or a
   forked child's private mapping) would throw data away: there it does
   nothing.  Returns TRUE if the kernel took the advice.  */
SEXP C_rfm_advise(SEXP x, SEXP advice, SEXP offset, SEXP nbytes)
{
  rfm_vector *v = api_vec(x);
  rfm_store *s = v->store;
  int a = Rf_asInteger(advice);
  double off = Rf_asReal(offset), len = Rf_asReal(nbytes);
  if (ISNAN(off) || off < 0 || off > (double)s->bytes)
    Rf_error("'offset' must be between 0 and the payload size (%.0f bytes)",
             (double)s->bytes);
  if (ISNAN(len) || len < 0 || off + len > (double)s->bytes)
    len = (double)s->bytes - off;
  if (len == 0)
    return Rf_ScalarLogical(FALSE);
  static const int flags[] = {MADV_NORMAL, MADV_SEQUENTIAL, MADV_RANDOM,
                              MADV_WILLNEED, MADV_DONTNEED};
  if (a < 0 || a > 4)
    Rf_error("invalid advice");
  if (a == 4 && (s->malloced || rfm_forked(s->rt)))
    return Rf_ScalarLogical(FALSE);
  long page = sysconf(_SC_PAGESIZE);
  if (page <= 0)
    page = 4096;
  uintptr_t start = (uintptr_t)s->payload + (uintptr_t)off;
  uintptr_t end = start + (uintptr_t)len;
  uintptr_t pstart = start & ~(uintptr_t)(page - 1);
  if (a == 4) {
    /* only whole pages of this vector: never a neighbour's */
    pstart = (start + (uintptr_t)page - 1) & ~(uintptr_t)(page - 1);
    end &= ~(uintptr_t)(page - 1);
    if (end <= pstart)
      return Rf_ScalarLogical(FALSE);
  }
  int rc = madvise((void *)pstart, (size_t)(end - pstart), flags[a]);
  return Rf_ScalarLogical(rc == 0);
}

/* fmr_sync() on the heap of RT; the file size made durable. */
SEXP C_rfm_sync(SEXP rt)
{
  rfm_runtime *r = rfm_runtime_get(rt, 0);
  if (r->mode != FMR_MODE_PERSISTENT || r->readonly || rfm_forked(r))
    return Rf_ScalarReal(0);
  int rc = fmr_sync(r->heap);
  if (rc != FMR_OK)
    rfm_fail(rc, "cannot sync the heap file");
  fmr_stats st;
  fmr_stats_init(&st);
  rc = fmr_stat(r->heap, &st);
  return Rf_ScalarReal(rc == FMR_OK ? (double)st.file_size : 0);
}
