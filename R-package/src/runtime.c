/* runtime.c: runtimes (one fmr_heap each), their lifetime, statistics
   and catalog listing.

   Every runtime and every vector handle is registered in a list of weak
   references, so that R_unload_Rfmalloc can run all finalizers (free
   uncommitted blocks, close heaps) before the shared library goes away.
   A runtime's heap is closed when close was requested (cleanup_fmalloc or
   the runtime handle being collected) and no vector handle is left.  */

#include "rfmalloc.h"

#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

SEXP rfm_runtime_tag, rfm_vector_tag;
unsigned rfm_forkgen;

/* The scratch runtime of this process in tempdir(), for results of
   vectors whose own runtime cannot take them (read-only, closing,
   inherited across fork): opened on first use, kept until unload.  */
static SEXP scratch_cell; /* preserved: CAR is the runtime, or NULL */
static unsigned scratch_forkgen;
static char *scratch_dir; /* tempdir(), set by .onLoad */

static void atfork_child(void)
{
  rfm_forkgen++;
}

/* Heads of two pairlists of weak references; preserved. */
static SEXP runtime_list, vector_list;
static R_xlen_t vector_list_len, vector_list_prune_at = 1024;

void rfm_fail(int code, const char *what)
{
  const char *detail = fmr_errmsg();
  if (code == FMR_EGONE)
    Rf_error("%s: %s. Open the path again with open_fmalloc() or "
             "init_fmalloc(), which opens (or creates) the file there now, "
             "and work in that runtime",
             what, detail && *detail ? detail : fmr_strerror(code));
  if (detail && *detail)
    Rf_error("%s: %s (%s)", what, fmr_strerror(code), detail);
  Rf_error("%s: %s", what, fmr_strerror(code));
}

rfm_runtime *rfm_runtime_get(SEXP rt, int need_writable)
{
  if (TYPEOF(rt) != EXTPTRSXP || R_ExternalPtrTag(rt) != rfm_runtime_tag)
    Rf_error("not an fmalloc runtime");
  rfm_runtime *r = R_ExternalPtrAddr(rt);
  if (r == NULL || r->heap == NULL)
    Rf_error("the fmalloc runtime is closed");
  if (need_writable) {
    if (r->close_requested)
      Rf_error("the fmalloc runtime for '%s' is closed (cleanup_fmalloc "
               "was called); open it again with open_fmalloc()",
               r->path);
    if (r->readonly)
      Rf_error("the fmalloc runtime for '%s' is read-only (another process "
               "holds the writer lock)",
               r->path);
  }
  return r;
}

int rfm_forked(const rfm_runtime *rt)
{
  return rt->forkgen != rfm_forkgen;
}

int rfm_can_allocate(const rfm_runtime *rt)
{
  return rt->heap != NULL && !rt->readonly && !rt->close_requested &&
         !rfm_forked(rt);
}

static void runtime_close_heap(rfm_runtime *r)
{
  if (r->heap != NULL) {
    fmr_close(r->heap);
    r->heap = NULL;
  }
}

/* The anonymous stand-in mapping of a runtime closed with force (see
   runtime_force_close) goes with its last vector.  */
static void runtime_drop_standin(rfm_runtime *r)
{
  if (r->standin != NULL) {
    munmap(r->standin, r->standin_len);
    r->standin = NULL;
    r->standin_len = 0;
  }
}

static void runtime_free(rfm_runtime *r)
{
  rfm_table_free(r->records);
  free(r->path);
  free(r);
}

/* Finalizer of a runtime handle.  Vectors keep the handle reachable, so
   normally none is left; but a vector collected in the same GC may not
   have been finalized yet, so the close waits for the last one.  */
static void runtime_finalize(SEXP ext)
{
  rfm_runtime *r = R_ExternalPtrAddr(ext);
  if (r == NULL)
    return;
  R_ClearExternalPtr(ext);
  r->handle_dead = 1;
  r->close_requested = 1;
  if (r->nvec == 0) {
    runtime_close_heap(r);
    runtime_drop_standin(r);
    runtime_free(r);
  }
}

/* Finalizer of a vector handle: frees an uncommitted block, and closes
   the heap when it was the last vector of a runtime asked to close.
   Calls no R code.  */
static void vector_finalize(SEXP ext)
{
  rfm_vector *v = R_ExternalPtrAddr(ext);
  if (v == NULL)
    return;
  R_ClearExternalPtr(ext);
  rfm_runtime *r = v->rt;
  rfm_handle_drop(v); /* frees a private block with its last handle */
  free(v);
  r->nvec--;
  if (r->nvec == 0 && r->close_requested) {
    runtime_close_heap(r);
    runtime_drop_standin(r);
    if (r->handle_dead)
      runtime_free(r);
  }
}

static void prune_vector_list(void)
{
  SEXP prev = vector_list;
  R_xlen_t n = 0;
  for (SEXP p = CDR(vector_list); p != R_NilValue; p = CDR(p)) {
    if (R_WeakRefKey(CAR(p)) == R_NilValue ||
        R_ExternalPtrAddr(R_WeakRefKey(CAR(p))) == NULL)
      SETCDR(prev, CDR(p));
    else {
      prev = p;
      n++;
    }
  }
  vector_list_len = n;
  vector_list_prune_at = 2 * n + 1024;
}

void rfm_register_vector(SEXP ext)
{
  rfm_vector *v = R_ExternalPtrAddr(ext);
  SEXP w = PROTECT(R_MakeWeakRefC(ext, R_NilValue, vector_finalize, TRUE));
  v->rt->nvec++;
  SETCDR(vector_list, Rf_cons(w, CDR(vector_list)));
  UNPROTECT(1);
  if (++vector_list_len > vector_list_prune_at)
    prune_vector_list();
}

int rfm_runtime_file_state(const rfm_runtime *r)
{
  if (r->heap == NULL || r->mode != FMR_MODE_PERSISTENT)
    return -1;
  int st = fmr_file_state(r->heap);
  return st >= 0 ? st : -1;
}

/* The open runtime for PATH.  A persistent runtime whose file is no
   longer the file at PATH (deleted, replaced, moved) is not it: the
   caller then opens the file there now.  */
SEXP rfm_runtime_find(const char *path)
{
  for (SEXP p = CDR(runtime_list); p != R_NilValue; p = CDR(p)) {
    SEXP key = R_WeakRefKey(CAR(p));
    if (key == R_NilValue)
      continue;
    rfm_runtime *r = R_ExternalPtrAddr(key);
    if (r != NULL && r->heap != NULL && !r->close_requested &&
        !rfm_forked(r) && r->mode == FMR_MODE_PERSISTENT &&
        strcmp(r->path, path) == 0 &&
        rfm_runtime_file_state(r) == FMR_FILE_CURRENT)
      return key;
  }
  return R_NilValue;
}

/* Does this process hold a runtime for PATH that its parent opened? */
static int inherited_runtime(const char *path)
{
  for (SEXP p = CDR(runtime_list); p != R_NilValue; p = CDR(p)) {
    SEXP key = R_WeakRefKey(CAR(p));
    rfm_runtime *r = key == R_NilValue ? NULL : R_ExternalPtrAddr(key);
    if (r != NULL && r->heap != NULL && rfm_forked(r) &&
        strcmp(r->path, path) == 0)
      return 1;
  }
  return 0;
}

void rfm_runtime_check_file(const rfm_runtime *rt, const char *what)
{
  int st = rfm_runtime_file_state(rt);
  if (st == FMR_FILE_DELETED)
    Rf_error("cannot %s '%s': the heap file '%s' was deleted after this "
             "runtime opened it, and what is saved there would be lost "
             "when R ends. Open the path again with open_fmalloc() or "
             "init_fmalloc() (that makes a new heap file there) and save "
             "into that runtime; copy a vector x of this runtime there "
             "first with as_fmalloc(x[], runtime = <new runtime>)",
             what, rt->path, rt->path);
  if (st == FMR_FILE_REPLACED)
    Rf_error("cannot %s '%s': the heap file '%s' was replaced by another "
             "file after this runtime opened it, and what is saved into "
             "the old file would be lost when R ends. Open the path again "
             "with open_fmalloc() or init_fmalloc() for the file that is "
             "there now, and save into that runtime",
             what, rt->path, rt->path);
}

/* --- orphaned list elements ------------------------------------------ */

/* The reachability graph of the catalog: every committed record of
   ours in id order (fmr_record_foreach gives that order), with the ids
   a container lists.  Roots are the named records and the records not
   flagged as list elements; a record is kept when a root reaches it
   through containers (nested lists at any depth, cycles harmless).  */
typedef struct reach_graph {
  rfm_idlist ids;   /* record ids, ascending */
  rfm_idlist flags; /* per record: bit 0 root, bit 1 reached, bit 2 named */
  rfm_idlist first; /* per record: index of its first child in kids */
  rfm_idlist nkids; /* per record: how many */
  rfm_idlist kids;  /* listed ids, container by container */
  int oom;
} reach_graph;

enum { REACH_ROOT = 1, REACH_SEEN = 2, REACH_NAMED = 4 };

static int reach_collect(const fmr_record *rec, void *arg)
{
  reach_graph *g = arg;
  if (rec->state != FMR_RECORD_COMMITTED || !RFM_TAG_IS_OURS(rec->type))
    return 0;
  uint64_t f = 0;
  if (rec->name[0] != '\0')
    f |= REACH_NAMED | REACH_ROOT;
  if (!(rec->type & RFM_TAG_ELEMENT))
    f |= REACH_ROOT;
  size_t first = g->kids.n, n = 0;
  if ((rec->type & RFM_TAG_CONTAINER) && rec->payload != NULL &&
      RFM_TAG_TYPE(rec->type) == REALSXP &&
      rec->length <= rec->payload_bytes / sizeof(double)) {
    const double *d = rec->payload;
    for (uint64_t k = 0; k < rec->length; k++) {
      if (!(d[k] >= 1 && d[k] < 18446744073709551615.0))
        continue;
      if (rfm_idlist_add(&g->kids, (uint64_t)d[k]))
        goto oom;
      n++;
    }
  }
  if (rfm_idlist_add(&g->ids, rec->id) || rfm_idlist_add(&g->flags, f) ||
      rfm_idlist_add(&g->first, first) || rfm_idlist_add(&g->nkids, n))
    goto oom;
  return 0;
oom:
  g->oom = 1;
  return 1;
}

static void reach_free(reach_graph *g)
{
  free(g->ids.ids);
  free(g->flags.ids);
  free(g->first.ids);
  free(g->nkids.ids);
  free(g->kids.ids);
}

/* Index of record ID in G, or -1. */
static ptrdiff_t reach_index(const reach_graph *g, uint64_t id)
{
  size_t lo = 0, hi = g->ids.n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (g->ids.ids[mid] < id)
      lo = mid + 1;
    else if (g->ids.ids[mid] > id)
      hi = mid;
    else
      return (ptrdiff_t)mid;
  }
  return -1;
}

/* Mark what the records flagged START reach (START included).  */
static int reach_mark(reach_graph *g, uint64_t start)
{
  rfm_idlist stack = {NULL, 0, 0, 0};
  for (size_t i = 0; i < g->ids.n; i++) {
    if ((g->flags.ids[i] & start) && !(g->flags.ids[i] & REACH_SEEN)) {
      g->flags.ids[i] |= REACH_SEEN;
      if (rfm_idlist_add(&stack, i))
        goto oom;
    }
  }
  while (stack.n > 0) {
    size_t i = (size_t)stack.ids[--stack.n];
    for (uint64_t k = 0; k < g->nkids.ids[i]; k++) {
      ptrdiff_t j = reach_index(g, g->kids.ids[g->first.ids[i] + k]);
      if (j >= 0 && !(g->flags.ids[j] & REACH_SEEN)) {
        g->flags.ids[j] |= REACH_SEEN;
        if (rfm_idlist_add(&stack, (uint64_t)j))
          goto oom;
      }
    }
  }
  free(stack.ids);
  return 0;
oom:
  free(stack.ids);
  return 1;
}

/* Build G for R's heap; raises an R error on failure.  */
static void reach_build(rfm_runtime *r, reach_graph *g)
{
  memset(g, 0, sizeof *g);
  int rc = fmr_record_foreach(r->heap, reach_collect, g);
  if (g->oom) {
    reach_free(g);
    Rf_error("out of memory walking the catalog");
  }
  if (rc != FMR_OK) {
    reach_free(g);
    rfm_fail(rc, "cannot walk the catalog");
  }
}

/* Free the unnamed list elements that no root reaches: what a process
   killed while saving or destroying a list left behind, and elements
   that a list saved again no longer holds.  Run by the writer when it
   is the first in this process to open the heap, so no R object of
   this process can hold such a record.  */
static void sweep_orphans(rfm_runtime *r)
{
  reach_graph g;
  memset(&g, 0, sizeof g);
  int rc = fmr_record_foreach(r->heap, reach_collect, &g);
  int failed = rc != FMR_OK || g.oom;
  if (!failed)
    failed = reach_mark(&g, REACH_ROOT);
  for (size_t i = 0; !failed && i < g.ids.n; i++) {
    if (g.flags.ids[i] & (REACH_SEEN | REACH_ROOT))
      continue;
    fmr_record rec;
    fmr_record_init(&rec);
    if (fmr_record_get(r->heap, g.ids.ids[i], &rec) != FMR_OK)
      continue;
    if (fmr_record_free(r->heap, g.ids.ids[i]) != FMR_OK) {
      failed = 1;
      break;
    }
    r->swept_records += 1;
    r->swept_bytes += (double)rec.payload_bytes;
  }
  reach_free(&g);
  if (failed)
    Rf_warning("could not free the orphaned list elements of '%s': %s",
               r->path, fmr_errmsg());
}

/* Which of the record ids QUERY a root reaches, when the records EXCLUDE
   do not count as roots (a logical vector).  */
SEXP C_rfm_reachable(SEXP rt, SEXP query, SEXP exclude)
{
  rfm_runtime *r = rfm_runtime_get(rt, 0);
  if (r->mode != FMR_MODE_PERSISTENT)
    Rf_error("a scratch runtime has no records");
  query = PROTECT(Rf_coerceVector(query, REALSXP));
  exclude = PROTECT(Rf_coerceVector(exclude, REALSXP));
  reach_graph g;
  reach_build(r, &g);
  for (R_xlen_t k = 0; k < XLENGTH(exclude); k++) {
    double d = REAL(exclude)[k];
    ptrdiff_t i = d >= 1 ? reach_index(&g, (uint64_t)d) : -1;
    if (i >= 0)
      g.flags.ids[i] &= ~(uint64_t)REACH_ROOT;
  }
  if (reach_mark(&g, REACH_ROOT)) {
    reach_free(&g);
    Rf_error("out of memory walking the catalog");
  }
  SEXP ans = PROTECT(Rf_allocVector(LGLSXP, XLENGTH(query)));
  for (R_xlen_t k = 0; k < XLENGTH(query); k++) {
    double d = REAL(query)[k];
    ptrdiff_t i = d >= 1 ? reach_index(&g, (uint64_t)d) : -1;
    LOGICAL(ans)[k] = i >= 0 && (g.flags.ids[i] & REACH_SEEN) != 0;
  }
  reach_free(&g);
  UNPROTECT(3);
  return ans;
}

/* The records the record ID reaches through containers (ID included
   when it exists), as doubles in id order.  */
SEXP C_rfm_subtree(SEXP rt, SEXP id)
{
  rfm_runtime *r = rfm_runtime_get(rt, 0);
  if (r->mode != FMR_MODE_PERSISTENT)
    Rf_error("a scratch runtime has no records");
  double d = Rf_asReal(id);
  reach_graph g;
  reach_build(r, &g);
  ptrdiff_t i = d >= 1 ? reach_index(&g, (uint64_t)d) : -1;
  R_xlen_t n = 0;
  if (i >= 0) {
    g.flags.ids[i] |= 8; /* start mark */
    if (reach_mark(&g, 8)) {
      reach_free(&g);
      Rf_error("out of memory walking the catalog");
    }
    for (size_t k = 0; k < g.ids.n; k++)
      n += (g.flags.ids[k] & REACH_SEEN) != 0;
  }
  SEXP ans = PROTECT(Rf_allocVector(REALSXP, n));
  n = 0;
  for (size_t k = 0; i >= 0 && k < g.ids.n; k++)
    if (g.flags.ids[k] & REACH_SEEN)
      REAL(ans)[n++] = (double)g.ids.ids[k];
  reach_free(&g);
  UNPROTECT(1);
  return ans;
}

static const char *mode_name(int mode)
{
  return mode == FMR_MODE_SCRATCH ? "scratch" : "persistent";
}

/* The runtime external pointer for HEAP opened at PATH in MODE,
   registered for unload; R_NilValue (HEAP closed) when out of memory.
   Raises no R error of its own: the scratch runtime is opened inside
   ALTREP methods.  */
static SEXP runtime_wrap(fmr_heap *heap, const char *path, int mode)
{
  rfm_runtime *r = calloc(1, sizeof *r);
  char *copy = strdup(path);
  if (r == NULL || copy == NULL) {
    free(r);
    free(copy);
    fmr_close(heap);
    return R_NilValue;
  }
  r->heap = heap;
  r->path = copy;
  r->mode = mode;
  r->readonly = fmr_is_readonly(heap);
  r->forkgen = rfm_forkgen;
  SEXP ext = PROTECT(R_MakeExternalPtr(r, rfm_runtime_tag, R_NilValue));
  SEXP w = PROTECT(R_MakeWeakRefC(ext, R_NilValue, runtime_finalize, TRUE));
  SETCDR(runtime_list, Rf_cons(w, CDR(runtime_list)));
  Rf_setAttrib(ext, R_ClassSymbol, Rf_mkString("fmalloc_runtime"));
  UNPROTECT(2);
  return ext;
}

SEXP rfm_runtime_open(const char *path, int mode, double initial_size,
                      unsigned flags)
{
  return rfm_runtime_open_ex(path, mode, initial_size, 0, flags);
}

/* How a size hint (open_fmalloc's size_gb, in bytes) becomes the
   library's options (issue 11): the whole initial size is reserved on
   disk at once, so a new file starts at no more than RFM_FIRST_SIZE and
   grows in steps of an eighth of the hint, between RFM_STEP_MIN and
   RFM_STEP_MAX (the library cuts a step to what the allocation needs
   when it would leave less than half the free disk). */
#define RFM_FIRST_SIZE (64.0 * 1048576.0)
#define RFM_STEP_MIN   (4.0 * 1048576.0)
#define RFM_STEP_MAX   (1024.0 * 1048576.0)
#define RFM_DEFAULT_MAX (256.0 * 1073741824.0) /* the library's default */

/* Bytes free for unprivileged users on the file system where the heap
   of PATH is made (its directory; a scratch PATH may be the directory
   itself), or -1 when statvfs cannot tell. */
static double dir_free(const char *path, int mode)
{
  struct statvfs v;
  struct stat sb;
  const char *dir = path;
  char *copy = NULL;
  if (!(mode == FMR_MODE_SCRATCH && stat(path, &sb) == 0 &&
        S_ISDIR(sb.st_mode))) {
    const char *slash = strrchr(path, '/');
    if (slash == NULL) {
      dir = ".";
    } else if (slash == path) {
      dir = "/";
    } else {
      copy = malloc((size_t)(slash - path) + 1);
      if (copy == NULL)
        return -1;
      memcpy(copy, path, (size_t)(slash - path));
      copy[slash - path] = '\0';
      dir = copy;
    }
  }
  int rc = statvfs(dir, &v);
  free(copy);
  if (rc != 0 || v.f_blocks == 0)
    return -1;
  return (double)v.f_bavail * (double)v.f_frsize;
}

/* Each open of a scratch heap is a runtime of its own (an anonymous file
   in the directory PATH); a persistent PATH open in this process gives
   its runtime, which must then be open for the access FLAGS ask for
   (FMR_OPEN_READONLY or not; without FMR_OPEN_CREATE, a file locked by
   another writer is opened read-only).  SIZE_HINT: bytes the caller
   expects the heap to need, 0 for none; a new file larger than the free
   disk is an R error that creates nothing.  MAX_SIZE: bytes of address
   space to reserve, 0 for the library's default.  */
SEXP rfm_runtime_open_ex(const char *path, int mode, double size_hint,
                         double max_size, unsigned flags)
{
  SEXP found =
      mode == FMR_MODE_PERSISTENT ? rfm_runtime_find(path) : R_NilValue;
  if (found != R_NilValue) {
    rfm_runtime *r = R_ExternalPtrAddr(found);
    if ((flags & FMR_OPEN_READONLY) && !r->readonly)
      Rf_error("'%s' is already open for writing in this R session: use "
               "that runtime, or close it with cleanup_fmalloc() first",
               path);
    if ((flags & FMR_OPEN_CREATE) && r->readonly)
      Rf_error("'%s' is already open read-only in this R session: close "
               "that runtime with cleanup_fmalloc() first",
               path);
    return found;
  }
  fmr_options options;
  fmr_options_init(&options);
  options.mode = mode;
  options.flags = flags;
  if (size_hint > 0 && !(flags & FMR_OPEN_READONLY)) {
    struct stat sb;
    int creating = mode == FMR_MODE_SCRATCH ||
                   (stat(path, &sb) != 0 && errno == ENOENT);
    double avail = creating ? dir_free(path, mode) : -1;
    if (avail >= 0 && size_hint > avail)
      Rf_error("cannot create fmalloc heap '%s': size_gb asks for %.2f GiB, "
               "but its file system has only %.2f GiB free.  size_gb is a "
               "hint (the file starts small and grows as its data needs): "
               "pass a smaller one, or free some disk space",
               path, size_hint / 1073741824.0, avail / 1073741824.0);
    double first = size_hint < RFM_FIRST_SIZE ? size_hint : RFM_FIRST_SIZE;
    double step = size_hint / 8;
    if (step < RFM_STEP_MIN)
      step = RFM_STEP_MIN;
    if (step > RFM_STEP_MAX)
      step = RFM_STEP_MAX;
    options.initial_size = (uint64_t)first;
    options.growth_step = (uint64_t)step;
    /* A new heap may still grow to the hint if it is past the default
       reservation (and fits the disk, checked above). */
    if (max_size <= 0 && avail >= 0 && size_hint > RFM_DEFAULT_MAX &&
        size_hint < 0x1p62)
      max_size = size_hint;
  }
  options.max_size = max_size > 0 ? (uint64_t)max_size : 0;
  fmr_heap *heap = NULL;
  int rc = fmr_open(path, &options, &heap);
  /* A forked child opening the file its parent holds gets a reader: the
     parent's writer lock is the one in the way.  */
  if (rc == FMR_ELOCKED && !(flags & FMR_OPEN_READONLY) &&
      (!(flags & FMR_OPEN_CREATE) || inherited_runtime(path))) {
    options.flags = flags | FMR_OPEN_READONLY;
    rc = fmr_open(path, &options, &heap);
  }
  if (rc != FMR_OK) {
    char what[64 + 4096];
    snprintf(what, sizeof what, "cannot open fmalloc heap '%s'", path);
    rfm_fail(rc, what);
  }
  SEXP ext = runtime_wrap(heap, path, mode);
  if (ext == R_NilValue)
    Rf_error("out of memory");
  PROTECT(ext);
  rfm_runtime *r = R_ExternalPtrAddr(ext);
  fmr_stats st;
  fmr_stats_init(&st);
  if (mode == FMR_MODE_PERSISTENT && !r->readonly &&
      fmr_stat(heap, &st) == FMR_OK && st.refcount == 1)
    sweep_orphans(r);
  UNPROTECT(1);
  return ext;
}

SEXP C_rfm_open(SEXP path, SEXP mode, SEXP initial_size, SEXP max_size,
                SEXP readonly)
{
  if (!Rf_isString(path) || XLENGTH(path) != 1 ||
      STRING_ELT(path, 0) == NA_STRING)
    Rf_error("'filepath' must be a single string");
  int m = Rf_asInteger(mode);
  unsigned flags =
      Rf_asLogical(readonly) == TRUE ? FMR_OPEN_READONLY : FMR_OPEN_CREATE;
  return rfm_runtime_open_ex(Rf_translateChar(STRING_ELT(path, 0)), m,
                             Rf_asReal(initial_size), Rf_asReal(max_size),
                             flags);
}

/* cleanup_fmalloc(force = TRUE): close the heap now, with vectors of R
   left over it.  Each of them then fails its rfm_vec() check (closed
   runtime) with an R error; their finalizers free nothing (the library
   reclaims uncommitted blocks at close).  C code may still hold a data
   pointer into the mapping (a .Call that called back into R, a payload
   pointer from fmalloc_payload_pointer()): so that such a pointer meets
   memory rather than a fault, and no other mapping is placed where it
   points, the address range is covered at once by anonymous private
   memory (reads give zeros, writes go nowhere, pages cost memory only
   when touched) until the last vector is collected.  Not when the heap
   is still open through another runtime of this process (the library's
   refcount): its mapping then stays.  */
static void runtime_force_close(rfm_runtime *r)
{
  if (r->heap == NULL)
    return;
  char *base = NULL;
  size_t len = 0;
  fmr_stats st;
  fmr_stats_init(&st);
  if (r->nvec > 0 && fmr_stat(r->heap, &st) == FMR_OK && st.refcount == 1 &&
      st.file_size <= SIZE_MAX / 2) {
    for (rfm_store *s = r->stores; s != NULL; s = s->rt_next) {
      uint64_t off;
      if (s->malloced || s->payload == NULL ||
          (off = fmr_ptr_to_offset(r->heap, s->payload)) == 0)
        continue;
      /* the file's mapping starts at offset 0; data pointers are in it */
      base = (char *)s->payload - off;
      long page = sysconf(_SC_PAGESIZE);
      size_t pg = page > 0 ? (size_t)page : 4096;
      len = ((size_t)st.file_size + pg - 1) / pg * pg;
      break;
    }
  }
  runtime_close_heap(r);
  if (base == NULL)
    return;
  int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
#ifdef MAP_FIXED_NOREPLACE
  flags |= MAP_FIXED_NOREPLACE; /* never over a mapping made meanwhile */
#endif
  void *p = mmap(base, len, PROT_READ | PROT_WRITE, flags, -1, 0);
  if (p == MAP_FAILED)
    return;
  if (p != (void *)base) { /* a kernel without MAP_FIXED_NOREPLACE */
    munmap(p, len);
    return;
  }
  r->standin = p;
  r->standin_len = len;
}

SEXP C_rfm_close(SEXP rt, SEXP force)
{
  if (TYPEOF(rt) != EXTPTRSXP || R_ExternalPtrTag(rt) != rfm_runtime_tag)
    Rf_error("not an fmalloc runtime");
  rfm_runtime *r = R_ExternalPtrAddr(rt);
  if (r == NULL)
    return Rf_ScalarLogical(FALSE);
  r->close_requested = 1;
  if (r->nvec == 0)
    runtime_close_heap(r);
  else if (Rf_asLogical(force) == TRUE)
    runtime_force_close(r);
  return Rf_ScalarLogical(r->heap == NULL);
}

/* The R objects that keep RT's heap open: one row per store of the
   runtime (a block or record that R objects of this session map).  */
SEXP C_rfm_holders(SEXP rt)
{
  if (TYPEOF(rt) != EXTPTRSXP || R_ExternalPtrTag(rt) != rfm_runtime_tag)
    Rf_error("not an fmalloc runtime");
  rfm_runtime *r = R_ExternalPtrAddr(rt);
  R_xlen_t n = 0;
  if (r != NULL)
    for (rfm_store *s = r->stores; s != NULL; s = s->rt_next)
      if (s->handles != NULL)
        n++;
  const char *names[] = {"type", "length", "record", "name", "state",
                         "objects", "bytes", ""};
  SEXP ans = PROTECT(Rf_mkNamed(VECSXP, names));
  SEXP type = Rf_allocVector(STRSXP, n);
  SET_VECTOR_ELT(ans, 0, type);
  SEXP len = Rf_allocVector(REALSXP, n);
  SET_VECTOR_ELT(ans, 1, len);
  SEXP rec = Rf_allocVector(REALSXP, n);
  SET_VECTOR_ELT(ans, 2, rec);
  SEXP name = Rf_allocVector(STRSXP, n);
  SET_VECTOR_ELT(ans, 3, name);
  SEXP state = Rf_allocVector(STRSXP, n);
  SET_VECTOR_ELT(ans, 4, state);
  SEXP objs = Rf_allocVector(INTSXP, n);
  SET_VECTOR_ELT(ans, 5, objs);
  SEXP bytes = Rf_allocVector(REALSXP, n);
  SET_VECTOR_ELT(ans, 6, bytes);
  R_xlen_t i = 0;
  for (rfm_store *s = r != NULL ? r->stores : NULL; s != NULL && i < n;
       s = s->rt_next) {
    if (s->handles == NULL)
      continue;
    int k = 0;
    for (rfm_vector *v = s->handles; v != NULL; v = v->next)
      k++;
    SET_STRING_ELT(type, i, Rf_mkChar(Rf_type2char((SEXPTYPE)s->type)));
    REAL(len)[i] = (double)s->length;
    REAL(rec)[i] = s->committed ? (double)s->record_id : NA_REAL;
    fmr_record x;
    fmr_record_init(&x);
    SET_STRING_ELT(name, i,
                   s->committed && !s->dead && r->heap != NULL &&
                           fmr_record_get(r->heap, s->record_id, &x) ==
                               FMR_OK &&
                           x.name[0]
                       ? Rf_mkCharCE(x.name, CE_UTF8)
                       : NA_STRING);
    SET_STRING_ELT(state, i,
                   Rf_mkChar(s->dead       ? "destroyed"
                             : s->malloced ? "memory"
                             : r->heap == NULL ? "closed"
                             : s->committed    ? "record"
                                               : "live"));
    INTEGER(objs)[i] = k;
    REAL(bytes)[i] = (double)s->bytes;
    i++;
  }
  UNPROTECT(1);
  return ans;
}

static void uuid_hex(const uint8_t *uuid, char *out)
{
  static const char hex[] = "0123456789abcdef";
  for (int i = 0; i < FMR_UUID_SIZE; i++) {
    out[2 * i] = hex[uuid[i] >> 4];
    out[2 * i + 1] = hex[uuid[i] & 15];
  }
  out[2 * FMR_UUID_SIZE] = '\0';
}

SEXP rfm_uuid_string(fmr_heap *heap)
{
  uint8_t uuid[FMR_UUID_SIZE];
  char hex[2 * FMR_UUID_SIZE + 1];
  int rc = fmr_uuid(heap, uuid);
  if (rc != FMR_OK)
    rfm_fail(rc, "cannot read the heap uuid");
  uuid_hex(uuid, hex);
  return Rf_mkString(hex);
}

/* list of runtime facts for print() and diagnose_fmalloc_runtime() */
SEXP C_rfm_info(SEXP rt)
{
  if (TYPEOF(rt) != EXTPTRSXP || R_ExternalPtrTag(rt) != rfm_runtime_tag)
    Rf_error("not an fmalloc runtime");
  rfm_runtime *r = R_ExternalPtrAddr(rt);
  const char *names[] = {"path",
                         "mode",
                         "open",
                         "close_requested",
                         "readonly",
                         "live_vectors",
                         "uuid",
                         "recovered",
                         "file_size",
                         "max_size",
                         "heap_bytes",
                         "used_bytes",
                         "free_bytes",
                         "largest_free",
                         "free_extents",
                         "blocks",
                         "records_committed",
                         "records_tombstone",
                         "records_damaged",
                         "record_bytes",
                         "tombstone_bytes",
                         "catalog_bytes",
                         "pending_free_bytes",
                         "refcount",
                         "swept_records",
                         "swept_bytes",
                         "live_stores",
                         "live_bytes",
                         "file_state",
                         ""};
  SEXP ans = PROTECT(Rf_mkNamed(VECSXP, names));
  if (r == NULL) {
    SET_VECTOR_ELT(ans, 2, Rf_ScalarLogical(FALSE));
    UNPROTECT(1);
    return ans;
  }
  SET_VECTOR_ELT(ans, 0, Rf_mkString(r->path));
  SET_VECTOR_ELT(ans, 1, Rf_mkString(mode_name(r->mode)));
  SET_VECTOR_ELT(ans, 2, Rf_ScalarLogical(r->heap != NULL));
  SET_VECTOR_ELT(ans, 3, Rf_ScalarLogical(r->close_requested));
  SET_VECTOR_ELT(ans, 4, Rf_ScalarLogical(r->readonly));
  SET_VECTOR_ELT(ans, 5, Rf_ScalarReal((double)r->nvec));
  if (r->heap == NULL) {
    UNPROTECT(1);
    return ans;
  }
  fmr_stats st;
  fmr_stats_init(&st);
  int rc = fmr_stat(r->heap, &st);
  if (rc != FMR_OK)
    rfm_fail(rc, "cannot read heap statistics");
  SET_VECTOR_ELT(ans, 6, rfm_uuid_string(r->heap));
  SET_VECTOR_ELT(ans, 7, Rf_ScalarLogical(st.recovered));
  double vals[] = {(double)st.file_size,          (double)st.max_size,
                   (double)st.heap_bytes,         (double)st.used_bytes,
                   (double)st.free_bytes,         (double)st.largest_free,
                   (double)st.free_extents,       (double)st.blocks,
                   (double)st.records_committed,  (double)st.records_tombstone,
                   (double)st.records_damaged,    (double)st.record_bytes,
                   (double)st.tombstone_bytes,    (double)st.catalog_bytes,
                   (double)st.pending_free_bytes, (double)st.refcount};
  for (int i = 0; i < (int)(sizeof vals / sizeof vals[0]); i++)
    SET_VECTOR_ELT(ans, 8 + i, Rf_ScalarReal(vals[i]));
  SET_VECTOR_ELT(ans, 24, Rf_ScalarReal(r->swept_records));
  SET_VECTOR_ELT(ans, 25, Rf_ScalarReal(r->swept_bytes));
  double nlive = 0, live_bytes = 0;
  for (rfm_store *s = r->stores; s != NULL; s = s->rt_next)
    if (!s->committed && !s->dead) {
      nlive++;
      live_bytes += (double)s->bytes;
    }
  SET_VECTOR_ELT(ans, 26, Rf_ScalarReal(nlive));
  SET_VECTOR_ELT(ans, 27, Rf_ScalarReal(live_bytes));
  static const char *const states[] = {"current", "deleted", "replaced",
                                       "moved"};
  int fs = rfm_runtime_file_state(r);
  SEXP state = PROTECT(Rf_allocVector(STRSXP, 1));
  SET_STRING_ELT(state, 0,
                 fs >= 0 && fs < 4 ? Rf_mkChar(states[fs]) : NA_STRING);
  SET_VECTOR_ELT(ans, 28, state);
  UNPROTECT(2);
  return ans;
}

/* --- catalog listing ------------------------------------------------ */

typedef struct catalog_rows {
  size_t n, cap;
  fmr_record *rows; /* meta pointers are not kept */
  int oom;
} catalog_rows;

static int collect_record(const fmr_record *rec, void *arg)
{
  catalog_rows *c = arg;
  if (c->n == c->cap) {
    size_t cap = c->cap ? 2 * c->cap : 64;
    fmr_record *rows = realloc(c->rows, cap * sizeof *rows);
    if (rows == NULL) {
      c->oom = 1;
      return 1;
    }
    c->rows = rows;
    c->cap = cap;
  }
  c->rows[c->n] = *rec;
  c->rows[c->n].meta = NULL;
  c->rows[c->n].payload = NULL;
  c->n++;
  return 0;
}

static SEXP type_name_of_tag(uint32_t tag)
{
  if (!RFM_TAG_IS_OURS(tag)) {
    char buf[32];
    snprintf(buf, sizeof buf, "foreign:0x%08x", (unsigned)tag);
    return Rf_mkChar(buf);
  }
  int type = RFM_TAG_TYPE(tag);
  switch (type) {
  case LGLSXP:
  case INTSXP:
  case REALSXP:
  case CPLXSXP:
  case RAWSXP:
  case STRSXP:
  case VECSXP:
    return Rf_mkChar(Rf_type2char((SEXPTYPE)type)); /* typeof()'s name */
  default:
    return Rf_mkChar("unknown");
  }
}

/* One row per catalog record (persistent runtimes; state "committed",
   "serialized" for a serialized temporary, or "tombstone"), then one per
   live vector of this process that no record holds (state "live", or
   "memory" for a private copy in process memory).  */
SEXP C_rfm_catalog(SEXP rt)
{
  rfm_runtime *r = rfm_runtime_get(rt, 0);
  catalog_rows c = {0, 0, NULL, 0};
  if (r->mode == FMR_MODE_PERSISTENT) {
    int rc = fmr_record_foreach(r->heap, collect_record, &c);
    if (c.oom) {
      free(c.rows);
      Rf_error("out of memory listing the catalog");
    }
    if (rc < 0) {
      free(c.rows);
      rfm_fail(rc, "cannot list the catalog");
    }
  }
  rfm_idlist listed = {NULL, 0, 0, 0};
  if (r->mode == FMR_MODE_PERSISTENT && c.n > 0) {
    int rc = rfm_listed_ids(r->heap, &listed);
    if (rc != FMR_OK) {
      free(c.rows);
      free(listed.ids);
      rfm_fail(rc, "cannot list the catalog");
    }
  }
  R_xlen_t nlive = 0;
  for (rfm_store *s = r->stores; s != NULL; s = s->rt_next)
    if (!s->committed && !s->dead)
      nlive++;
  const char *names[] = {
      "id",     "name",           "generation",    "state",      "type",
      "length", "payload_offset", "payload_bytes", "meta_bytes", "recoverable",
      ""};
  R_xlen_t nrec = (R_xlen_t)c.n, n = nrec + nlive;
  SEXP ans = PROTECT(Rf_mkNamed(VECSXP, names));
  SEXP id = Rf_allocVector(REALSXP, n);
  SET_VECTOR_ELT(ans, 0, id);
  SEXP name = Rf_allocVector(STRSXP, n);
  SET_VECTOR_ELT(ans, 1, name);
  SEXP gen = Rf_allocVector(REALSXP, n);
  SET_VECTOR_ELT(ans, 2, gen);
  SEXP state = Rf_allocVector(STRSXP, n);
  SET_VECTOR_ELT(ans, 3, state);
  SEXP type = Rf_allocVector(STRSXP, n);
  SET_VECTOR_ELT(ans, 4, type);
  SEXP len = Rf_allocVector(REALSXP, n);
  SET_VECTOR_ELT(ans, 5, len);
  SEXP off = Rf_allocVector(REALSXP, n);
  SET_VECTOR_ELT(ans, 6, off);
  SEXP bytes = Rf_allocVector(REALSXP, n);
  SET_VECTOR_ELT(ans, 7, bytes);
  SEXP meta = Rf_allocVector(REALSXP, n);
  SET_VECTOR_ELT(ans, 8, meta);
  SEXP rec = Rf_allocVector(LGLSXP, n);
  SET_VECTOR_ELT(ans, 9, rec);
  for (R_xlen_t i = 0; i < nrec; i++) {
    const fmr_record *x = &c.rows[i];
    REAL(id)[i] = (double)x->id;
    SET_STRING_ELT(name, i,
                   x->name[0] ? Rf_mkCharCE(x->name, CE_UTF8) : NA_STRING);
    REAL(gen)[i] = (double)x->generation;
    SET_STRING_ELT(state, i,
                   Rf_mkChar(x->state != FMR_RECORD_COMMITTED ? "tombstone"
                             : rfm_is_serialized_temporary(x, &listed)
                                 ? "serialized"
                                 : "committed"));
    SET_STRING_ELT(type, i, type_name_of_tag(x->type));
    REAL(len)[i] = (double)x->length;
    REAL(off)[i] = (double)x->payload_offset;
    REAL(bytes)[i] = (double)x->payload_bytes;
    REAL(meta)[i] = (double)x->meta_len;
    LOGICAL(rec)
    [i] = x->state == FMR_RECORD_COMMITTED && RFM_TAG_IS_OURS(x->type);
  }
  free(c.rows);
  free(listed.ids);
  R_xlen_t i = nrec;
  for (rfm_store *s = r->stores; s != NULL && i < n; s = s->rt_next) {
    if (s->committed || s->dead)
      continue;
    REAL(id)[i] = NA_REAL;
    SET_STRING_ELT(name, i, NA_STRING);
    REAL(gen)[i] = NA_REAL;
    SET_STRING_ELT(state, i, Rf_mkChar(s->malloced ? "memory" : "live"));
    SET_STRING_ELT(type, i, type_name_of_tag(RFM_TAG(s->type)));
    REAL(len)[i] = (double)s->length;
    REAL(off)
    [i] = !s->malloced && r->heap != NULL
              ? (double)fmr_ptr_to_offset(r->heap, s->payload)
              : NA_REAL;
    REAL(bytes)[i] = (double)s->bytes;
    REAL(meta)[i] = 0;
    LOGICAL(rec)[i] = FALSE;
    i++;
  }
  UNPROTECT(1);
  return ans;
}

SEXP C_rfm_runtime_count(void)
{
  int n = 0;
  for (SEXP p = CDR(runtime_list); p != R_NilValue; p = CDR(p)) {
    SEXP key = R_WeakRefKey(CAR(p));
    if (key != R_NilValue) {
      rfm_runtime *r = R_ExternalPtrAddr(key);
      if (r != NULL && r->heap != NULL)
        n++;
    }
  }
  return Rf_ScalarInteger(n);
}

/* Run every finalizer: vectors first (free their blocks), then
   runtimes (close the heaps).  Called from .onUnload (R does not look
   up R_unload_Rfmalloc when dynamic symbols are off) and from
   R_unload_Rfmalloc; safe to call twice.  */
void rfm_unload_all(void)
{
  if (runtime_list == NULL)
    return;
  for (SEXP p = CDR(vector_list); p != R_NilValue; p = CDR(p))
    R_RunWeakRefFinalizer(CAR(p));
  for (SEXP p = CDR(runtime_list); p != R_NilValue; p = CDR(p)) {
    SEXP key = R_WeakRefKey(CAR(p));
    if (key != R_NilValue) {
      rfm_runtime *r = R_ExternalPtrAddr(key);
      if (r != NULL)
        runtime_close_heap(r);
    }
    R_RunWeakRefFinalizer(CAR(p));
  }
  SETCDR(vector_list, R_NilValue);
  SETCDR(runtime_list, R_NilValue);
  R_ReleaseObject(vector_list);
  R_ReleaseObject(runtime_list);
  vector_list = runtime_list = NULL;
  SETCAR(scratch_cell, R_NilValue);
  R_ReleaseObject(scratch_cell);
  scratch_cell = NULL;
}

SEXP C_rfm_unload(void)
{
  rfm_unload_all();
  return R_NilValue;
}

SEXP rfm_result_runtime(SEXP rt_ext)
{
  if (rt_ext != R_NilValue) {
    rfm_runtime *r = R_ExternalPtrAddr(rt_ext);
    if (r != NULL && rfm_can_allocate(r))
      return rt_ext;
  }
  SEXP rt = scratch_cell != NULL ? CAR(scratch_cell) : R_NilValue;
  if (rt != R_NilValue && scratch_forkgen == rfm_forkgen) {
    rfm_runtime *r = R_ExternalPtrAddr(rt);
    if (r != NULL && rfm_can_allocate(r))
      return rt;
  }
  if (scratch_dir == NULL || scratch_cell == NULL)
    return R_NilValue;
  /* Open it without R errors: this can run inside ALTREP methods.  */
  fmr_options options;
  fmr_options_init(&options);
  options.mode = FMR_MODE_SCRATCH;
  options.flags = FMR_OPEN_CREATE;
  fmr_heap *heap = NULL;
  if (fmr_open(scratch_dir, &options, &heap) != FMR_OK)
    return R_NilValue;
  SEXP ext = runtime_wrap(heap, scratch_dir, FMR_MODE_SCRATCH);
  if (ext != R_NilValue) {
    SETCAR(scratch_cell, ext);
    scratch_forkgen = rfm_forkgen;
  }
  return ext;
}

/* .onLoad: where the scratch runtime goes (tempdir()). */
SEXP C_rfm_set_tempdir(SEXP dir)
{
  if (!Rf_isString(dir) || XLENGTH(dir) != 1 ||
      STRING_ELT(dir, 0) == NA_STRING)
    Rf_error("'dir' must be a single string");
  char *copy = strdup(Rf_translateChar(STRING_ELT(dir, 0)));
  if (copy == NULL)
    Rf_error("out of memory");
  free(scratch_dir);
  scratch_dir = copy;
  return R_NilValue;
}

static SEXP reader_frame_fun; /* R/Rfmalloc-package.R reader_frame() */

SEXP C_rfm_set_reader_frame(SEXP fun)
{
  if (reader_frame_fun != NULL)
    R_ReleaseObject(reader_frame_fun);
  R_PreserveObject(fun);
  reader_frame_fun = fun;
  return R_NilValue;
}

/* The frame that is reading a reference back (readRDS(), unserialize(),
   load()), or R_NilValue.  */
SEXP rfm_reader_frame(void)
{
  if (reader_frame_fun == NULL)
    return R_NilValue;
  SEXP call = PROTECT(Rf_lang1(reader_frame_fun));
  SEXP env = Rf_eval(call, R_GlobalEnv);
  UNPROTECT(1);
  return env;
}

/* The scratch runtime, or NULL if none was opened in this process. */
SEXP C_rfm_scratch_runtime(SEXP open)
{
  if (Rf_asLogical(open) == TRUE)
    return rfm_result_runtime(R_NilValue);
  SEXP rt = scratch_cell != NULL ? CAR(scratch_cell) : R_NilValue;
  return scratch_forkgen == rfm_forkgen ? rt : R_NilValue;
}

void rfm_init_runtime(void)
{
  static int atfork_done = 0;
  if (!atfork_done) {
    pthread_atfork(NULL, NULL, atfork_child);
    atfork_done = 1;
  }
  scratch_cell = Rf_cons(R_NilValue, R_NilValue);
  R_PreserveObject(scratch_cell);
  rfm_runtime_tag = Rf_install("fmalloc_runtime");
  rfm_vector_tag = Rf_install("fmalloc_vector");
  runtime_list = Rf_cons(R_NilValue, R_NilValue);
  R_PreserveObject(runtime_list);
  vector_list = Rf_cons(R_NilValue, R_NilValue);
  R_PreserveObject(vector_list);
}

/* compact_fmalloc(): fmr_compact on a file this R session has not open
   (the library refuses a file open in this process). */
SEXP C_rfm_compact(SEXP path)
{
  if (!Rf_isString(path) || XLENGTH(path) != 1 ||
      STRING_ELT(path, 0) == NA_STRING)
    Rf_error("'filepath' must be a single file path");
  const char *p = Rf_translateChar(STRING_ELT(path, 0));
  uint64_t before = 0, after = 0;
  int rc = fmr_compact(p, &before, &after);
  if (rc == FMR_EBUSY)
    Rf_error("cannot compact '%s': it is open in this R session; call "
             "cleanup_fmalloc() on its runtime and drop its vectors "
             "(rm() them, then gc()) first",
             p);
  if (rc != FMR_OK)
    rfm_fail(rc, "cannot compact the heap file");
  SEXP ans = PROTECT(Rf_allocVector(REALSXP, 2));
  REAL(ans)[0] = (double)before;
  REAL(ans)[1] = (double)after;
  SEXP names = PROTECT(Rf_allocVector(STRSXP, 2));
  SET_STRING_ELT(names, 0, Rf_mkChar("before"));
  SET_STRING_ELT(names, 1, Rf_mkChar("after"));
  Rf_setAttrib(ans, R_NamesSymbol, names);
  UNPROTECT(2);
  return ans;
}
