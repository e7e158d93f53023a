/* store.c: stores (the data of vectors) and the handles on them, and
   how R's copy-on-modify rules are kept for data R cannot see is shared.

   A store is one block: a committed record (shared with the file, with
   other handles, with other processes) or a private block.  Each runtime
   keeps its live stores in a list, and those of committed records in a
   table by record id, so that loading or unserializing a record that a
   live handle already has gives a second handle on the same store.

   Pins.  R reuses the memory of an object that nothing refers to
   (arithmetic results, math1, `[<-` called as a function) and writes
   into one that exactly one thing refers to (x[i] <- v), through the
   writable data pointer.  For a committed record that would change
   stored data behind everybody's back.  So every handle whose store is
   shared outside R's view (a committed record, an alias) refers to its
   own R object from data2 (RFM_SLOT_PIN): R counts one reference more,
   never reuses it and always duplicates it before a change.  The cycle
   through data2 costs the garbage collector nothing.

   Clones.  Duplicating a pinned vector (altrep.c) copies nothing: it
   makes a clone, an unpinned handle on the same store.  The first write
   through a clone (its writable data pointer, a character element set)
   detaches it: it gets a private copy.  Any explicit write into a store
   (an assignment through the package's methods, fmalloc_set()) first
   detaches the other clones of the store, so a clone always reads what
   it was duplicated from.

   Promotion.  x[i] <- v on a variable holding a saved vector: R
   duplicates x first (it is pinned), then calls the package's `[<-`
   method on the clone.  The assignment may change the record when it
   runs where the vector belongs (its owner: the frame that loaded or
   saved it, see RFM_SLOT_OWNER; the top level for one read back with
   readRDS() or whose frame is gone): the clone becomes a pinned handle
   on the store and is written in place.  Elsewhere (a function the
   vector was passed to, local()) the clone detaches: the assignment
   changes a copy, as R's copy-on-modify says.  The original R object
   keeps its value for whatever else holds it: if anything but its pin
   may (its reference count says so; R's counts can only be too high,
   so this errs towards a copy), it gets a private copy of the data
   first.  */

#include "rfmalloc.h"

#include <stdlib.h>
#include <string.h>

/* --- record table: record id -> store (open addressing) -------------- */

typedef struct rfm_table {
  size_t cap, count; /* cap: a power of two; count <= cap / 2 */
  uint64_t *keys;    /* 0: empty */
  rfm_store **vals;
} rfm_table;

static size_t table_home(const rfm_table *t, uint64_t key)
{
  return (size_t)((key * UINT64_C(0x9E3779B97F4A7C15)) >> 20) & (t->cap - 1);
}

static int table_grow(rfm_table *t)
{
  size_t cap = t->cap ? 2 * t->cap : 64;
  uint64_t *keys = calloc(cap, sizeof *keys);
  rfm_store **vals = calloc(cap, sizeof *vals);
  if (keys == NULL || vals == NULL) {
    free(keys);
    free(vals);
    return 1;
  }
  rfm_table n = {cap, 0, keys, vals};
  for (size_t i = 0; i < t->cap; i++)
    if (t->keys[i] != 0) {
      size_t j = table_home(&n, t->keys[i]);
      while (n.keys[j] != 0)
        j = (j + 1) & (cap - 1);
      n.keys[j] = t->keys[i];
      n.vals[j] = t->vals[i];
      n.count++;
    }
  free(t->keys);
  free(t->vals);
  *t = n;
  return 0;
}

static rfm_store *table_get(const rfm_table *t, uint64_t key)
{
  if (t == NULL || t->cap == 0)
    return NULL;
  for (size_t i = table_home(t, key);; i = (i + 1) & (t->cap - 1)) {
    if (t->keys[i] == key)
      return t->vals[i];
    if (t->keys[i] == 0)
      return NULL;
  }
}

static int table_put(rfm_table *t, uint64_t key, rfm_store *s)
{
  if ((t->count + 1) * 2 > t->cap && table_grow(t))
    return 1;
  size_t i = table_home(t, key);
  while (t->keys[i] != 0 && t->keys[i] != key)
    i = (i + 1) & (t->cap - 1);
  if (t->keys[i] == 0)
    t->count++;
  t->keys[i] = key;
  t->vals[i] = s;
  return 0;
}

static void table_remove(rfm_table *t, uint64_t key)
{
  if (t == NULL || t->cap == 0)
    return;
  size_t mask = t->cap - 1, i = table_home(t, key);
  while (t->keys[i] != key) {
    if (t->keys[i] == 0)
      return;
    i = (i + 1) & mask;
  }
  /* backward-shift deletion */
  size_t hole = i;
  for (size_t j = (i + 1) & mask; t->keys[j] != 0; j = (j + 1) & mask) {
    size_t h = table_home(t, t->keys[j]);
    int stays = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j);
    if (!stays) {
      t->keys[hole] = t->keys[j];
      t->vals[hole] = t->vals[j];
      hole = j;
    }
  }
  t->keys[hole] = 0;
  t->vals[hole] = NULL;
  t->count--;
}

void rfm_table_free(rfm_table *t)
{
  if (t == NULL)
    return;
  free(t->keys);
  free(t->vals);
  free(t);
}

static void table_insert(rfm_runtime *rt, rfm_store *s)
{
  if (rt->records == NULL) {
    rt->records = calloc(1, sizeof(rfm_table));
    if (rt->records == NULL)
      Rf_error("out of memory");
  }
  if (table_put(rt->records, s->record_id, s))
    Rf_error("out of memory");
}

/* --- GC pressure ---------------------------------------------------------

   R's collector counts the bytes of R objects; the block of a file-backed
   vector is not one, so a loop that makes a new 4 MB result each time
   (y <- x[idx]) leaves R thinking almost nothing was allocated, and the
   blocks of unreachable results pile up in the heap file until R happens
   to collect.  Each runtime therefore counts the bytes of private blocks
   (unsaved vectors) made since the package last asked R to collect, less
   those freed since (finalizers, destroy, save); before a new block it
   asks R to collect (R_gc(): a full collection that also runs the
   finalizers, which free the blocks of unreachable vectors into the
   heap's free lists) when that count reaches the budget, or half the
   budget when the new block would not fit in the free space (the file
   would grow).  So freed space is reused before the file grows, the file
   stays within about the live data plus the budget, and the cost is at
   most one full collection per half budget of allocation.  (Collecting
   at every growth once the block's own size was made since was tried:
   in y <- x[idx] the previous y is still bound when the next one is
   made, so each collection freed one block and the loop ran one
   collection per iteration, 300 of them, 8x base R's time.)

   A count belongs to the epoch it was made in: every collection asked
   here starts a new epoch, which zeroes the count of every runtime
   without visiting them.  */

#define RFM_GC_BUDGET_MIN (256.0 * 1024 * 1024) /* default: at least this */

static unsigned long gc_epoch = 1; /* calloc'ed runtimes start at 0 */
static int gc_running;             /* inside our R_gc(): no recursion */

static void gc_sync_epoch(rfm_runtime *rt)
{
  if (rt->gc_epoch != gc_epoch) {
    rt->gc_epoch = gc_epoch;
    rt->gc_unsaved = 0;
  }
}

void rfm_gc_account(rfm_runtime *rt, double delta)
{
  gc_sync_epoch(rt);
  rt->gc_unsaved += delta;
  if (rt->gc_unsaved < 0)
    rt->gc_unsaved = 0;
}

double rfm_gc_budget_option(void)
{
  static SEXP sym = NULL;
  if (sym == NULL)
    sym = Rf_install("Rfmalloc.gc_budget");
  SEXP opt = Rf_GetOption1(sym);
  if (opt == R_NilValue)
    return -1;
  double b = NA_REAL;
  if ((TYPEOF(opt) == REALSXP || TYPEOF(opt) == INTSXP) &&
      XLENGTH(opt) == 1)
    b = Rf_asReal(opt);
  if (ISNAN(b) || b < 0)
    Rf_error("option Rfmalloc.gc_budget must be a single non-negative "
             "number of bytes (0: collect before every new file-backed "
             "vector; Inf: never collect; NULL: the default, the larger of "
             "256 MiB and a quarter of the heap file)");
  return b;
}

void rfm_gc_before_alloc(SEXP rt_ext, size_t bytes)
{
  double budget = rfm_gc_budget_option(); /* checked even when unused */
  if (TYPEOF(rt_ext) != EXTPTRSXP || R_ExternalPtrTag(rt_ext) != rfm_runtime_tag)
    return; /* the caller's check reports it */
  rfm_runtime *rt = R_ExternalPtrAddr(rt_ext);
  if (rt == NULL || gc_running || budget == R_PosInf ||
      !rfm_can_allocate(rt))
    return;
  gc_sync_epoch(rt);
  double unsaved = rt->gc_unsaved;
  fmr_stats st;
  fmr_stats_init(&st);
  if (fmr_stat(rt->heap, &st) != FMR_OK)
    return; /* the allocation reports what is wrong */
  if (budget < 0) {
    budget = (double)st.file_size / 4;
    if (budget < RFM_GC_BUDGET_MIN)
      budget = RFM_GC_BUDGET_MIN;
  }
  int grows = (double)st.largest_free < (double)bytes &&
              (double)st.pending_free_bytes < (double)bytes;
  /* Half the budget when the file would grow: the growth (half the
     file's size) is what the collection may save.  */
  if (!(unsaved >= budget || (grows && unsaved >= budget / 2)))
    return;
  gc_running = 1;
  R_gc();
  gc_running = 0;
  gc_epoch++;
  rt->gc_collections++;
}

/* The GC pressure of the runtime RT_EXT: a list of unsaved_bytes (made
   less freed since the last collection the package asked for),
   collections (asked for because of this runtime) and budget (the
   budget now in bytes: the option, or the default for this heap).  */
SEXP C_rfm_gc_info(SEXP rt_ext)
{
  rfm_runtime *rt = rfm_runtime_get(rt_ext, 0);
  double budget = rfm_gc_budget_option();
  if (budget < 0) {
    fmr_stats st;
    fmr_stats_init(&st);
    budget = RFM_GC_BUDGET_MIN;
    if (rt->heap != NULL && fmr_stat(rt->heap, &st) == FMR_OK &&
        (double)st.file_size / 4 > budget)
      budget = (double)st.file_size / 4;
  }
  gc_sync_epoch(rt);
  const char *names[] = {"unsaved_bytes", "collections", "budget", ""};
  SEXP ans = PROTECT(Rf_mkNamed(VECSXP, names));
  SET_VECTOR_ELT(ans, 0, Rf_ScalarReal(rt->gc_unsaved));
  SET_VECTOR_ELT(ans, 1, Rf_ScalarReal(rt->gc_collections));
  SET_VECTOR_ELT(ans, 2, Rf_ScalarReal(budget));
  UNPROTECT(1);
  return ans;
}

/* --- stores ------------------------------------------------------------ */

static void store_link(rfm_runtime *rt, rfm_store *s)
{
  s->rt = rt;
  s->rt_prev = NULL;
  s->rt_next = rt->stores;
  if (rt->stores)
    rt->stores->rt_prev = s;
  rt->stores = s;
}

static void store_unlink(rfm_store *s)
{
  rfm_runtime *rt = s->rt;
  if (s->rt_prev)
    s->rt_prev->rt_next = s->rt_next;
  else if (rt->stores == s)
    rt->stores = s->rt_next;
  if (s->rt_next)
    s->rt_next->rt_prev = s->rt_prev;
  s->rt_next = s->rt_prev = NULL;
}

/* A new private store in RT's heap, or NULL (with the library's code in
 *RC) when the heap cannot give the block.  */
static rfm_store *store_try_new(rfm_runtime *rt, int type, R_xlen_t n,
                                size_t bytes, int zero, int *rc)
{
  rfm_store *s = calloc(1, sizeof *s);
  if (s == NULL) {
    *rc = FMR_ENOMEM;
    return NULL;
  }
  void *p = NULL;
  *rc = zero ? fmr_calloc(rt->heap, 1, bytes ? bytes : 1, &p)
             : fmr_malloc(rt->heap, bytes ? bytes : 1, &p);
  if (*rc != FMR_OK) {
    free(s);
    return NULL;
  }
  s->payload = p;
  s->bytes = bytes;
  s->length = n;
  s->type = type;
  store_link(rt, s);
  rfm_gc_account(rt, (double)bytes);
  return s;
}

rfm_store *rfm_store_new(rfm_runtime *rt, int type, R_xlen_t n, size_t bytes,
                         int zero)
{
  if (!rfm_can_allocate(rt))
    Rf_error("the fmalloc runtime for '%s' cannot take new vectors (it "
             "is closed, read-only or inherited from a parent process)",
             rt->path);
  int rc;
  rfm_store *s = store_try_new(rt, type, n, bytes, zero, &rc);
  if (s == NULL)
    rfm_fail(rc, "cannot allocate in the fmalloc heap");
  return s;
}

/* A private copy of the SRC store's data for a handle of RT: in RT's heap
   if it can take it, else in process memory.  NULL only when even
   malloc() fails.  */
static rfm_store *store_copy(rfm_runtime *rt, const rfm_store *src)
{
  rfm_store *s = NULL;
  int rc;
  if (rfm_can_allocate(rt))
    s = store_try_new(rt, src->type, src->length, src->bytes, 0, &rc);
  if (s == NULL) {
    s = calloc(1, sizeof *s);
    void *p = s ? malloc(src->bytes ? src->bytes : 1) : NULL;
    if (p == NULL) {
      free(s);
      return NULL;
    }
    s->payload = p;
    s->bytes = src->bytes;
    s->length = src->length;
    s->type = src->type;
    s->malloced = 1;
    store_link(rt, s);
  }
  if (src->bytes)
    memcpy(s->payload, src->payload, src->bytes);
  return s;
}

rfm_store *rfm_store_find_record(rfm_runtime *rt, uint64_t id)
{
  rfm_store *s = table_get(rt->records, id);
  return s != NULL && !s->dead ? s : NULL;
}

static int record_editable(const fmr_record *rec)
{
  return rec->name[0] != '\0' || (rec->type & RFM_TAG_ELEMENT) != 0;
}

/* The store of the committed record REC of RT: the live one if a handle
   of this process has it, else a new one.  */
rfm_store *rfm_store_of_record(rfm_runtime *rt, const fmr_record *rec)
{
  rfm_store *s = rfm_store_find_record(rt, rec->id);
  if (s != NULL) {
    s->editable = record_editable(rec);
    if (rec->generation > s->generation)
      s->generation = rec->generation;
    return s;
  }
  s = calloc(1, sizeof *s);
  if (s == NULL)
    Rf_error("out of memory");
  s->payload = rec->payload;
  s->bytes = (size_t)rec->payload_bytes;
  s->length = (R_xlen_t)rec->length;
  s->type = RFM_TAG_TYPE(rec->type);
  s->committed = 1;
  s->editable = record_editable(rec);
  s->record_id = rec->id;
  s->generation = rec->generation;
  store_link(rt, s);
  table_insert(rt, s);
  return s;
}

/* S was destroyed: no new handle may find it. */
void rfm_store_forget(rfm_store *s)
{
  s->dead = 1;
  if (s->committed && table_get(s->rt->records, s->record_id) == s)
    table_remove(s->rt->records, s->record_id);
}

/* S was just committed (rfm_commit): enter it in the record table. */
void rfm_store_committed(rfm_store *s)
{
  fmr_record rec;
  fmr_record_init(&rec);
  if (fmr_record_get(s->rt->heap, s->record_id, &rec) == FMR_OK)
    s->editable = record_editable(&rec);
  table_insert(s->rt, s);
}

/* S has no handle left: free a private block, forget the store.  Calls
   no R code (finalizers).  */
void rfm_store_release(rfm_store *s)
{
  rfm_runtime *rt = s->rt;
  if (!s->dead) {
    if (s->malloced)
      free(s->payload);
    else if (!s->committed && rt->heap != NULL && !rt->readonly &&
             !rfm_forked(rt)) {
      fmr_free(rt->heap, s->payload);
      rfm_gc_account(rt, -(double)s->bytes);
    }
  }
  if (s->committed && table_get(rt->records, s->record_id) == s)
    table_remove(rt->records, s->record_id);
  store_unlink(s);
  free(s);
}

int rfm_store_writable(const rfm_store *s)
{
  if (s->dead)
    return 0;
  if (s->malloced)
    return 1;
  const rfm_runtime *rt = s->rt;
  if (rt->heap == NULL)
    return 0;
  /* A forked child maps its parent's heaps privately (the library), so
     its changes to a private block stay in the child; a record, though,
     is never changed from there.  */
  if (s->committed)
    return !rt->readonly && !rfm_forked(rt);
  return 1;
}

/* --- handles ------------------------------------------------------------ */

static void handle_link(rfm_vector *v, rfm_store *s)
{
  v->store = s;
  if (v->clone)
    s->nclones++;
  v->prev = NULL;
  v->next = s->handles;
  if (s->handles)
    s->handles->prev = v;
  s->handles = v;
}

/* Take V off its store; release the store when it was the last. */
static void handle_unlink(rfm_vector *v)
{
  rfm_store *s = v->store;
  if (v->clone)
    s->nclones--;
  if (v->prev)
    v->prev->next = v->next;
  else if (s->handles == v)
    s->handles = v->next;
  if (v->next)
    v->next->prev = v->prev;
  v->next = v->prev = NULL;
  v->store = NULL;
  if (s->handles == NULL)
    rfm_store_release(s);
}

/* Called by the handle's finalizer (runtime.c). */
void rfm_handle_drop(rfm_vector *v)
{
  if (v->store != NULL)
    handle_unlink(v);
}

rfm_vector *rfm_handle(SEXP x)
{
  return R_ExternalPtrAddr(R_altrep_data1(x));
}

rfm_vector *rfm_vec(SEXP x)
{
  rfm_vector *v = rfm_handle(x);
  if (v == NULL || v->store == NULL)
    Rf_error("this fmalloc vector is no longer valid (package unloaded)");
  rfm_store *s = v->store;
  if (s->dead)
    Rf_error("this fmalloc vector was destroyed with fmalloc_destroy()");
  if (!s->malloced && s->rt->heap == NULL)
    Rf_error("the fmalloc runtime of this vector is closed");
  return v;
}

void *rfm_payload(rfm_vector *v)
{
  return v->store->payload;
}

SEXP rfm_slot(SEXP x, int slot)
{
  SEXP slots = R_altrep_data2(x);
  return TYPEOF(slots) == VECSXP ? VECTOR_ELT(slots, slot) : R_NilValue;
}

void rfm_set_slot(SEXP x, int slot, SEXP value)
{
  SEXP slots = R_altrep_data2(x);
  if (TYPEOF(slots) == VECSXP)
    SET_VECTOR_ELT(slots, slot, value);
}

void rfm_pin(SEXP x)
{
  rfm_vector *v = rfm_handle(x);
  if (v != NULL && !v->pinned) {
    rfm_set_slot(x, RFM_SLOT_PIN, x);
    v->pinned = 1;
  }
}

int rfm_shared(SEXP x)
{
  rfm_vector *v = rfm_is_fmalloc(x) ? rfm_handle(x) : NULL;
  return REFCNT(x) > (v != NULL && v->pinned ? 2 : 1);
}

void rfm_unpin(SEXP x)
{
  rfm_vector *v = rfm_handle(x);
  if (v != NULL && v->pinned) {
    rfm_set_slot(x, RFM_SLOT_PIN, R_NilValue);
    v->pinned = 0;
  }
}

/* REFCNT(X), not counting .Last.value: the top level keeps the value
   of the last expression there (x <- fmalloc_load("a") makes it x), so
   the first assignment after such a line would otherwise never see x
   as held by its variable alone.  */
int rfm_holders(SEXP x)
{
  static SEXP sym = NULL;
  if (sym == NULL)
    sym = Rf_install(".Last.value");
  int n = REFCNT(x);
  if (n > 0 && Rf_findVarInFrame(R_BaseEnv, sym) == x)
    n--;
  return n;
}

/* R's duplicate of the pinned vector X: a clone on the same store. */
SEXP rfm_clone(SEXP x)
{
  rfm_vector *v = rfm_vec(x);
  rfm_store *s = v->store;
  SEXP ans = PROTECT(rfm_make_vector(rfm_runtime_ext_of(x), s, 0));
  rfm_vector *c = rfm_handle(ans);
  c->clone = 1;
  s->nclones++;
  c->alias = v->alias;
  rfm_set_slot(ans, RFM_SLOT_SOURCE, x);
  rfm_set_slot(ans, RFM_SLOT_OWNER, rfm_slot(x, RFM_SLOT_OWNER));
  rfm_str_share_cache(ans, x);
  UNPROTECT(1);
  return ans;
}

/* Give the handle V (of the R object X, or R_NilValue when the object is
   not at hand) a private copy of its store's data.  */
static void detach_handle(rfm_vector *v, SEXP x)
{
  rfm_store *s = v->store;
  rfm_runtime *rt = v->rt;
  SEXP target_ext = R_NilValue;
  rfm_runtime *target = rt;
  if (x != R_NilValue && !rfm_can_allocate(rt)) {
    target_ext = rfm_result_runtime(rfm_runtime_ext_of(x));
    if (target_ext != R_NilValue)
      target = R_ExternalPtrAddr(target_ext);
  }
  rfm_store *n = store_copy(target, s);
  if (n == NULL)
    Rf_error("out of memory copying an fmalloc vector");
  if (n->type == STRSXP &&
      !rfm_str_check_all(n->payload, n->bytes, (uint64_t)n->length)) {
    /* the source changed under this reader (or is damaged): the copy
       would be written by code that trusts its offsets */
    uint64_t id = s->record_id;
    rfm_store_release(n);
    Rf_error("the character vector's block (record %llu) is damaged or "
             "was changed by another process: load it again",
             (unsigned long long)id);
  }
  int cache_ok = s->type == STRSXP && v->cache_version == s->str_version;
  handle_unlink(v); /* may release S */
  v->clone = 0;
  handle_link(v, n);
  if (target != rt) {
    rt->nvec--;
    target->nvec++;
    v->rt = target;
    R_SetExternalPtrProtected(R_altrep_data1(x), target_ext);
  }
  v->clone = 0;
  if (x != R_NilValue) {
    rfm_set_slot(x, RFM_SLOT_SOURCE, R_NilValue);
    rfm_unpin(x);
  }
  /* a cache that matched the old block matches the copy */
  v->cache_version = cache_ok ? n->str_version : n->str_version + 1;
}

void rfm_detach(SEXP x)
{
  detach_handle(rfm_vec(x), x);
}

/* Before a write into S through EXCEPT: every other clone of S gets its
   own copy, so that it keeps the value it was duplicated with.  */
void rfm_detach_clones(rfm_store *s, rfm_vector *except)
{
  if (s->nclones - (except != NULL && except->clone) <= 0)
    return;
  for (;;) {
    rfm_vector *g = s->handles;
    while (g != NULL && (g == except || !g->clone))
      g = g->next;
    if (g == NULL)
      return;
    detach_handle(g, R_NilValue);
  }
}

/* The owner of X: where assignments may change its record. */
void rfm_set_owner(SEXP x, SEXP env)
{
  if (TYPEOF(env) != ENVSXP)
    return;
  SEXP w = R_MakeWeakRef(env, R_NilValue, R_NilValue, FALSE);
  rfm_set_slot(x, RFM_SLOT_OWNER, w);
}

/* Is the assignment running in CALLER interpreted (R's applydefine
   keeps the value being changed in a variable *tmp* there, and has
   already bound the target variable to the copy it made) or compiled
   (R's byte code keeps the target variable bound to the original until
   the assignment ends)?  */
static int interpreted(SEXP caller)
{
  static SEXP sym_tmp = NULL;
  if (sym_tmp == NULL)
    sym_tmp = Rf_install("*tmp*");
  return TYPEOF(caller) != ENVSXP || R_existsVarInFrame(caller, sym_tmp);
}

/* How many variables of ENV (up to 2) hold X itself (not through a
   promise; active bindings are not run)?  */
static int bindings(SEXP env, SEXP x)
{
  if (TYPEOF(env) != ENVSXP)
    return 0;
  SEXP names = PROTECT(R_lsInternal3(env, TRUE, FALSE));
  int found = 0;
  for (R_xlen_t i = 0; i < XLENGTH(names) && found < 2; i++) {
    SEXP sym = Rf_installTrChar(STRING_ELT(names, i));
    if (!R_BindingIsActive(sym, env) && Rf_findVarInFrame(env, sym) == x)
      found++;
  }
  UNPROTECT(1);
  return found;
}

/* Is nothing but the assignment itself holding SRC, the pinned vector
   an assignment in CALLER copied (HELD: references the caller knows of
   besides SRC's pin: the clone's or wrapper's own)?  True when its
   reference count says so; R's counts can be too high (references from
   objects that are gone stay counted), so when it is higher, no other
   variable of CALLER may hold SRC.  */
static int source_free(SEXP src, SEXP caller, int held)
{
  int interp = interpreted(caller);
  int least = 1 + held + (interp ? 0 : 1);
  if (rfm_holders(src) <= least)
    return 1;
  return bindings(caller, src) <= (interp ? 0 : 1);
}

/* May an assignment made in the environment CALLER into the clone X
   (SRC: the vector it was made from, HELD: references to SRC the
   caller knows of) change its store?  In the vector's owner frame, and
   when no other variable there holds SRC.  */
static int may_change(SEXP x, SEXP src, int held, SEXP caller)
{
  rfm_vector *v = rfm_vec(x);
  rfm_store *s = v->store;
  if (!rfm_store_writable(s) || (s->committed && !s->editable))
    return 0;
  if (s->committed) {
    /* a record changes only where the vector belongs */
    SEXP w = rfm_slot(x, RFM_SLOT_OWNER);
    SEXP owner = w == R_NilValue ? R_NilValue : R_WeakRefKey(w);
    if (owner == R_NilValue) /* unknown (readRDS) or gone: top level */
      owner = R_GlobalEnv;
    if (caller != owner)
      return 0;
  }
  return src == R_NilValue || source_free(src, caller, held);
}

int rfm_promotable(SEXP x, SEXP caller)
{
  return may_change(x, rfm_slot(x, RFM_SLOT_SOURCE), 1, caller);
}

int rfm_promotable_wrapped(SEXP src, SEXP caller)
{
  return may_change(src, src, 1, caller);
}

/* SRC keeps its value for whatever else may hold it: a private copy of
   the data unless its reference count says nothing but its pin, the
   HELD references the caller knows of and (in a compiled assignment)
   the target variable does.  */
static void protect_source(SEXP src, int held, SEXP caller)
{
  int least = 1 + held + (caller != R_NilValue && !interpreted(caller));
  if (rfm_holders(src) > least)
    detach_handle(rfm_handle(src), src);
}

/* Make the clone X the handle through which its store changes (see the
   top); CALLER is the environment of the assignment, or R_NilValue for
   an explicit write.  */
void rfm_promote(SEXP x, SEXP caller)
{
  rfm_vector *v = rfm_vec(x);
  rfm_store *s = v->store;
  SEXP src = PROTECT(rfm_slot(x, RFM_SLOT_SOURCE));
  if (v->clone)
    s->nclones--;
  v->clone = 0;
  rfm_set_slot(x, RFM_SLOT_SOURCE, R_NilValue);
  if (src != R_NilValue && rfm_is_fmalloc(src)) {
    rfm_vector *sv = rfm_handle(src);
    if (sv != NULL && sv->store == s)
      protect_source(src, 0, caller);
  }
  UNPROTECT(1);
  rfm_detach_clones(s, v);
  /* shared outside R's view: a record, or aliases of the block */
  if (s->committed || s->handles != v || v->next != NULL)
    rfm_pin(x);
}

/* An assignment into R's wrapper W around the pinned vector SRC: a new
   pinned handle on SRC's store with W's attributes, through which the
   assignment writes; SRC keeps its value for whatever else holds it.  */
SEXP rfm_promote_wrapped(SEXP w, SEXP src)
{
  rfm_vector *v = rfm_vec(src);
  rfm_store *s = v->store;
  SEXP ans = PROTECT(rfm_make_vector(rfm_runtime_ext_of(src), s, 1));
  rfm_vector *a = rfm_handle(ans);
  a->alias = v->alias;
  rfm_set_slot(ans, RFM_SLOT_OWNER, rfm_slot(src, RFM_SLOT_OWNER));
  rfm_str_share_cache(ans, src);
  DUPLICATE_ATTRIB(ans, w);
  protect_source(src, 1, R_NilValue); /* held by W */
  rfm_detach_clones(s, a);
  UNPROTECT(1);
  return ans;
}
