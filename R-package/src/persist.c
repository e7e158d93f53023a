/* persist.c: committing vectors to the catalog (save), finding them again
   (load, by name or id), destroying them, and serialization by
   reference (the ALTREP Serialized_state and Unserialize methods).

   A reference names a record (heap uuid, record id, generation): ids are
   never reused, so the record is found again in any process that can
   open the file; the generation only guards against an older copy of
   the file.  Serializing a vector that was never committed commits it
   as an unnamed record (a "serialized temporary"): its handles become
   pinned views of a record that assignments never change in place (it
   is not editable), so the serialized value stays what it was.  */

#include "rfmalloc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

SEXP rfm_uuid_string(fmr_heap *heap);

/* Commit the store S (or update its record): NAME (NULL keeps the name),
   META (R_NilValue keeps the metadata), ROLE (RFM_ROLE_*: the role flags
   of the type tag).  */
void rfm_commit(rfm_store *s, const char *name, SEXP meta, int role)
{
  rfm_runtime *rt = s->rt;
  if (s->malloced)
    Rf_error("cannot save this vector: its data are in process memory "
             "(its runtime could not hold a copy); copy it into a runtime "
             "with as_fmalloc() first");
  if (rt->mode != FMR_MODE_PERSISTENT)
    Rf_error("only vectors of a persistent runtime can be saved");
  if (rt->heap == NULL)
    Rf_error("the fmalloc runtime for '%s' is closed", rt->path);
  if (rt->readonly)
    Rf_error("the fmalloc runtime for '%s' is read-only (another process "
             "holds the writer lock)",
             rt->path);
  if (rfm_forked(rt))
    Rf_error("the fmalloc runtime for '%s' was opened by the parent of "
             "this process: a forked child cannot save into it",
             rt->path);
  rfm_runtime_check_file(rt, "save into");
  const void *mp = meta == R_NilValue ? NULL : RAW(meta);
  size_t ml = meta == R_NilValue ? 0 : (size_t)XLENGTH(meta);
  uint32_t tag = RFM_TAG(s->type);
  if (role == RFM_ROLE_ELEMENT || role == RFM_ROLE_MARK_ELEMENT)
    tag |= RFM_TAG_ELEMENT;
  else if (role == RFM_ROLE_CONTAINER)
    tag |= RFM_TAG_CONTAINER;
  else if (role == RFM_ROLE_NESTED)
    tag |= RFM_TAG_CONTAINER | RFM_TAG_ELEMENT;
  fmr_record rec;
  fmr_record_init(&rec);
  int rc;
  if (!s->committed) {
    uint64_t id = 0;
    rc = fmr_commit(rt->heap, s->payload, tag, (uint64_t)s->length, name, mp,
                    ml, 0, &id);
    if (rc != FMR_OK)
      rfm_fail(rc, "cannot commit the vector to the catalog");
    s->committed = 1;
    s->record_id = id;
    rfm_store_committed(s);
    rfm_gc_account(rt, -(double)s->bytes); /* saved: no longer garbage */
  } else {
    rc = fmr_record_get(rt->heap, s->record_id, &rec);
    if (rc != FMR_OK)
      rfm_fail(rc, "cannot read the record");
    if (role == RFM_ROLE_ELEMENT || role == RFM_ROLE_KEEP)
      tag = RFM_TAG(s->type) | RFM_TAG_ROLE(rec.type);
    else if (role == RFM_ROLE_MARK_ELEMENT)
      tag = RFM_TAG(s->type) | RFM_TAG_ROLE(rec.type) | RFM_TAG_ELEMENT;
    else if (role == RFM_ROLE_NESTED)
      tag = RFM_TAG(s->type) | RFM_TAG_ROLE(rec.type) | RFM_TAG_CONTAINER;
    if (name != NULL) {
      rc = fmr_record_rename(rt->heap, s->record_id, name);
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
      rc = fmr_record_update(rt->heap, s->record_id, tag, (uint64_t)s->length,
                             mp, ml);
      if (rc != FMR_OK)
        rfm_fail(rc, "cannot update the record");
    }
  }
  rc = fmr_record_get(rt->heap, s->record_id, &rec);
  if (rc != FMR_OK)
    rfm_fail(rc, "cannot read back the record");
  s->generation = rec.generation;
  s->editable = rec.name[0] != '\0' || (rec.type & RFM_TAG_ELEMENT) != 0;
}

static SEXP arg_vector(SEXP x)
{
  x = rfm_unwrap(x);
  if (!rfm_is_fmalloc(x))
    Rf_error("'x' is not an fmalloc vector");
  rfm_vec(x);
  return x;
}

/* Commit X with NAME (NULL: none, or keep) and META (NULL: keep) in
   the ROLE given (RFM_ROLE_*); the record id.  A clone (R's copy of a
   saved vector, made by an attribute change for example) saves its
   record again (the vector it was copied from keeps its value, see
   rfm_promote); a clone of an unnamed record is saved as a new one.  */
SEXP C_rfm_save(SEXP x, SEXP name, SEXP meta, SEXP role)
{
  x = arg_vector(x);
  rfm_vector *v = rfm_vec(x);
  if (v->clone) {
    if (rfm_store_writable(v->store) && v->store->editable)
      rfm_promote(x, R_NilValue);
    else
      rfm_detach(x);
  }
  const char *nm = NULL;
  if (name != R_NilValue)
    nm = Rf_translateCharUTF8(STRING_ELT(name, 0));
  int r = Rf_asInteger(role);
  if (r < RFM_ROLE_PLAIN || (r > RFM_ROLE_KEEP && r != RFM_ROLE_NESTED))
    Rf_error("invalid record role");
  if (v->store->type == STRSXP)
    rfm_str_flush(x);
  rfm_commit(v->store, nm, meta, r);
  rfm_pin(x);
  return Rf_ScalarReal((double)v->store->record_id);
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

/* The vector named NAME in RT.  (Its metadata: C_rfm_meta.  The two
   are not returned in one list: a list that held the vector after the
   caller is done with it would count as a reference for ever, and make
   R copy the vector before every assignment.)  */
SEXP C_rfm_find(SEXP rt, SEXP name)
{
  fmr_record rec;
  fmr_record_init(&rec);
  find_named(rt, name, &rec);
  return rfm_wrap_record(rt, &rec);
}

/* The vector of record ID of RT. */
SEXP C_rfm_get_id(SEXP rt, SEXP id)
{
  rfm_runtime *r = rfm_runtime_get(rt, 0);
  if (r->mode != FMR_MODE_PERSISTENT)
    Rf_error("a scratch runtime has no records");
  fmr_record rec;
  fmr_record_init(&rec);
  double d = Rf_asReal(id);
  if (ISNAN(d) || d < 1)
    Rf_error("invalid record id");
  int rc = fmr_record_get(r->heap, (uint64_t)d, &rec);
  if (rc == FMR_ENOTFOUND ||
      (rc == FMR_OK && rec.state != FMR_RECORD_COMMITTED))
    Rf_error("record %.0f no longer exists in '%s'", d, r->path);
  if (rc != FMR_OK)
    rfm_fail(rc, "cannot read the record");
  return rfm_wrap_record(rt, &rec);
}

/* TRUE while the record X reads is in the file as X found it: the same
   id, generation and payload, not tombstoned.  A reader (a parallel
   worker) refreshes its view of the catalog first, so this tells it
   whether the writer destroyed, replaced or moved the record since;
   checked after reading, it says whether what was read can be trusted
   (?Rfmalloc, "Parallel workers").  A vector never committed is its
   process's own and current while its runtime is open.  */
SEXP C_rfm_is_current(SEXP x)
{
  x = arg_vector(x);
  rfm_store *s = rfm_vec(x)->store;
  rfm_runtime *rt = s->rt;
  if (s->dead || rt->heap == NULL)
    return Rf_ScalarLogical(FALSE);
  if (!s->committed || s->malloced)
    return Rf_ScalarLogical(TRUE);
  if (rt->readonly) {
    int rc = fmr_refresh(rt->heap);
    if (rc == FMR_EREPLACED)
      return Rf_ScalarLogical(FALSE); /* compacted or replaced: X reads
                                         the old file */
    if (rc != FMR_OK)
      rfm_fail(rc, "cannot refresh the heap's catalog");
  }
  fmr_record rec;
  fmr_record_init(&rec);
  int rc = fmr_record_get(rt->heap, s->record_id, &rec);
  if (rc == FMR_ENOTFOUND)
    return Rf_ScalarLogical(FALSE);
  if (rc != FMR_OK)
    rfm_fail(rc, "cannot read the record");
  return Rf_ScalarLogical(rec.state == FMR_RECORD_COMMITTED &&
                          rec.generation == s->generation &&
                          rec.payload == s->payload);
}

/* The metadata (serialized attributes) of the record of X, raw(0) for
   a vector that is not committed.  */
SEXP C_rfm_meta(SEXP x)
{
  x = arg_vector(x);
  rfm_store *s = rfm_vec(x)->store;
  if (!s->committed || s->malloced)
    return Rf_allocVector(RAWSXP, 0);
  fmr_record rec;
  fmr_record_init(&rec);
  int rc = fmr_record_get(s->rt->heap, s->record_id, &rec);
  if (rc != FMR_OK)
    rfm_fail(rc, "cannot read the record");
  SEXP meta = Rf_allocVector(RAWSXP, (R_xlen_t)rec.meta_len);
  if (rec.meta_len > 0)
    memcpy(RAW(meta), rec.meta, rec.meta_len);
  return meta;
}

static void check_can_destroy(rfm_runtime *rt)
{
  if (rt->heap == NULL)
    Rf_error("the fmalloc runtime for '%s' is closed", rt->path);
  if (rt->readonly)
    Rf_error("the fmalloc runtime for '%s' is read-only", rt->path);
  if (rfm_forked(rt))
    Rf_error("the fmalloc runtime for '%s' was opened by the parent of "
             "this process: a forked child cannot destroy its vectors",
             rt->path);
}

/* Free the data of the store S: every handle on it becomes invalid. */
static void destroy_store(rfm_store *s)
{
  if (s->malloced) {
    free(s->payload);
  } else {
    check_can_destroy(s->rt);
    int rc = s->committed ? fmr_record_free(s->rt->heap, s->record_id)
                          : fmr_free(s->rt->heap, s->payload);
    if (rc != FMR_OK)
      rfm_fail(rc, "cannot free the vector");
    if (!s->committed)
      rfm_gc_account(s->rt, -(double)s->bytes);
  }
  rfm_store_forget(s);
}

SEXP C_rfm_destroy(SEXP x)
{
  x = arg_vector(x);
  destroy_store(rfm_vec(x)->store);
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
    rfm_vector *v = rfm_is_fmalloc(x) ? rfm_handle(x) : NULL;
    if (v != NULL && v->store != NULL && !v->store->dead)
      destroy_store(v->store);
  }
  return R_NilValue;
}

/* The checks of every write into a stored record, before anything is
   written: an R error for a runtime that is closed, read-only, inherited
   from the parent of a forked child, or not persistent.  */
static void check_can_save(const rfm_runtime *rt)
{
  if (rt->heap == NULL)
    Rf_error("the fmalloc runtime for '%s' is closed", rt->path);
  if (rt->mode != FMR_MODE_PERSISTENT)
    Rf_error("only vectors of a persistent runtime can be saved");
  if (rt->readonly)
    Rf_error("the fmalloc runtime for '%s' is read-only (another process "
             "holds the writer lock)",
             rt->path);
  if (rfm_forked(rt))
    Rf_error("the fmalloc runtime for '%s' was opened by the parent of "
             "this process: a forked child cannot save into it",
             rt->path);
}

/* Can the fmalloc vector X be saved (committed or its record changed)?
   An R error if not; NULL.  Called before a list saves anything.  */
SEXP C_rfm_check_save(SEXP x)
{
  x = arg_vector(x);
  rfm_store *s = rfm_vec(x)->store;
  if (s->malloced)
    Rf_error("cannot save this vector: its data are in process memory "
             "(its runtime could not hold a copy); copy it into a runtime "
             "with as_fmalloc() first");
  check_can_save(s->rt);
  return R_NilValue;
}

/* A list's ids vector is [ids: n doubles | trailer]: the trailer, a
   magic number, a byte count and the list's attributes serialized (what
   the record's metadata also holds), so that the element ids and the
   attributes (names) of a saved list change together, in the one atomic
   step of fmr_record_set_payload.  Lists saved before the trailer have
   only the ids; their attributes are the record's metadata.  */
#define RFM_LIST_MAGIC 0x31305453494c4652ull /* "RFLIST01" */

typedef struct rfm_list_trailer {
  uint64_t magic;
  uint64_t attr_bytes;
} rfm_list_trailer;

/* The ids vector IDS of an fmalloc list becomes VALUES (record ids, 0
   for NULL), with their length, and ATTRS (raw: the serialized
   attributes) its trailer.  Always a new block: for a committed ids
   vector (a saved list) it replaces the record's payload atomically
   (fmr_record_set_payload), so a crash leaves the old list or the new
   one, elements and names together.  */
SEXP C_rfm_list_fill(SEXP ids, SEXP values, SEXP attrs)
{
  ids = arg_vector(ids);
  rfm_vector *v = rfm_vec(ids);
  rfm_store *s = v->store;
  if (s->type != REALSXP || TYPEOF(values) != REALSXP ||
      TYPEOF(attrs) != RAWSXP)
    Rf_error("internal error: bad ids vector");
  if (s->malloced)
    Rf_error("cannot save this list: its data are in process memory");
  check_can_save(s->rt);
  R_xlen_t n = XLENGTH(values);
  size_t al = (size_t)XLENGTH(attrs);
  size_t bytes = (size_t)n * sizeof(double) + sizeof(rfm_list_trailer) + al;
  rfm_detach_clones(s, v);
  void *p = NULL;
  int rc = fmr_malloc(s->rt->heap, bytes, &p);
  if (rc != FMR_OK)
    rfm_fail(rc, "cannot store the ids of the list");
  if (n > 0)
    memcpy(p, REAL(values), (size_t)n * sizeof(double));
  rfm_list_trailer t = {RFM_LIST_MAGIC, (uint64_t)al};
  memcpy((char *)p + (size_t)n * sizeof(double), &t, sizeof t);
  if (al > 0)
    memcpy((char *)p + (size_t)n * sizeof(double) + sizeof t, RAW(attrs), al);
  if (s->committed) {
    rc = fmr_record_set_payload(s->rt->heap, s->record_id, p, (uint64_t)n);
    if (rc != FMR_OK) {
      fmr_free(s->rt->heap, p);
      rfm_fail(rc, "cannot store the ids of the list");
    }
    fmr_record rec;
    fmr_record_init(&rec);
    if (fmr_record_get(s->rt->heap, s->record_id, &rec) == FMR_OK)
      s->generation = rec.generation;
  } else {
    fmr_free(s->rt->heap, s->payload);
  }
  s->payload = p;
  s->bytes = bytes;
  s->length = n;
  return R_NilValue;
}

/* The serialized attributes in the trailer of the ids vector IDS of a
   saved list (raw), or NULL when it has none (a list saved before the
   trailer, or one never saved).  Checked against the record's block.  */
SEXP C_rfm_list_attrs(SEXP ids)
{
  ids = arg_vector(ids);
  rfm_store *s = rfm_vec(ids)->store;
  if (s->type != REALSXP || !s->committed || s->malloced)
    return R_NilValue;
  fmr_record rec;
  fmr_record_init(&rec);
  int rc = fmr_record_get(s->rt->heap, s->record_id, &rec);
  if (rc != FMR_OK)
    rfm_fail(rc, "cannot read the record");
  if (rec.payload == NULL || rec.length > rec.payload_bytes / sizeof(double))
    return R_NilValue;
  uint64_t off = rec.length * sizeof(double);
  rfm_list_trailer t;
  if (rec.payload_bytes - off < sizeof t)
    return R_NilValue;
  memcpy(&t, (const char *)rec.payload + off, sizeof t);
  if (t.magic != RFM_LIST_MAGIC ||
      t.attr_bytes > rec.payload_bytes - off - sizeof t ||
      t.attr_bytes > (uint64_t)R_XLEN_T_MAX)
    return R_NilValue;
  SEXP ans = PROTECT(Rf_allocVector(RAWSXP, (R_xlen_t)t.attr_bytes));
  if (t.attr_bytes > 0)
    memcpy(RAW(ans), (const char *)rec.payload + off + sizeof t,
           (size_t)t.attr_bytes);
  UNPROTECT(1);
  return ans;
}

/* fmalloc_destroy() of the named record of X that a saved list still
   holds: its name goes, its data stay as the list's element.  First
   the element flag (while the name still makes it a root), then the
   name: a crash between leaves it named.  */
SEXP C_rfm_unname(SEXP x)
{
  x = arg_vector(x);
  rfm_store *s = rfm_vec(x)->store;
  if (!s->committed || s->malloced)
    return R_NilValue;
  check_can_destroy(s->rt);
  rfm_commit(s, NULL, R_NilValue, RFM_ROLE_MARK_ELEMENT);
  int rc = fmr_record_rename(s->rt->heap, s->record_id, NULL);
  if (rc != FMR_OK)
    rfm_fail(rc, "cannot remove the name of the record");
  fmr_record rec;
  fmr_record_init(&rec);
  if (fmr_record_get(s->rt->heap, s->record_id, &rec) == FMR_OK)
    s->generation = rec.generation;
  return R_NilValue;
}

/* Call FN on each committed record of the ids IDS of RT (ids that are
   not positive, or name no committed record, are skipped), with the
   live store of this process on it or NULL.  */
static void each_record(SEXP rt, SEXP ids,
                        void (*fn)(rfm_runtime *, const fmr_record *,
                                   rfm_store *))
{
  rfm_runtime *r = rfm_runtime_get(rt, 0);
  check_can_destroy(r);
  ids = PROTECT(Rf_coerceVector(ids, REALSXP));
  for (R_xlen_t k = 0; k < XLENGTH(ids); k++) {
    double d = REAL(ids)[k];
    if (ISNAN(d) || d < 1)
      continue;
    fmr_record rec;
    fmr_record_init(&rec);
    if (fmr_record_get(r->heap, (uint64_t)d, &rec) != FMR_OK ||
        rec.state != FMR_RECORD_COMMITTED)
      continue;
    rfm_store *s = rfm_store_find_record(r, rec.id);
    fn(r, &rec, s != NULL && !s->dead ? s : NULL);
  }
  UNPROTECT(1);
}

static void mark_record(rfm_runtime *r, const fmr_record *rec, rfm_store *s)
{
  if (!RFM_TAG_IS_OURS(rec->type) || rec->name[0] != '\0' ||
      (rec->type & RFM_TAG_ELEMENT))
    return;
  if (s != NULL) {
    rfm_commit(s, NULL, R_NilValue, RFM_ROLE_MARK_ELEMENT);
    return;
  }
  size_t ml = rec->meta_len;
  void *copy = ml ? R_alloc(ml, 1) : NULL;
  if (ml)
    memcpy(copy, rec->meta, ml);
  int rc = fmr_record_update(r->heap, rec->id, rec->type | RFM_TAG_ELEMENT,
                             rec->length, copy, ml);
  if (rc != FMR_OK)
    rfm_fail(rc, "cannot update the record");
}

static void free_record(rfm_runtime *r, const fmr_record *rec, rfm_store *s)
{
  if (s != NULL) {
    destroy_store(s);
    return;
  }
  int rc = fmr_record_free(r->heap, rec->id);
  if (rc != FMR_OK)
    rfm_fail(rc, "cannot free the record");
}

/* Before a list is destroyed: flag the unnamed records IDS of RT (its
   elements, at any depth) as list elements, so that once the list's own
   record is gone the sweep frees those that nothing else holds.  */
SEXP C_rfm_mark_records(SEXP rt, SEXP ids)
{
  each_record(rt, ids, mark_record);
  return R_NilValue;
}

/* Free the records IDS of RT (those that still exist); every handle on
   them becomes invalid.  */
SEXP C_rfm_free_records(SEXP rt, SEXP ids)
{
  each_record(rt, ids, free_record);
  return R_NilValue;
}

/* list(id, named, element) for the fmalloc vector X: its record id (0
   when it is not committed, -1 when X was destroyed), whether the record
   has a name, whether it is flagged as a list element.  */
SEXP C_rfm_record_role(SEXP x)
{
  x = rfm_unwrap(x);
  if (!rfm_is_fmalloc(x))
    Rf_error("'x' is not an fmalloc vector");
  rfm_vector *v = rfm_handle(x);
  rfm_store *s = v != NULL ? v->store : NULL;
  double id = s == NULL || s->dead ? -1 : 0;
  int named = 0, element = 0;
  if (s != NULL && !s->dead && s->committed && !s->malloced) {
    fmr_record rec;
    fmr_record_init(&rec);
    int rc = fmr_record_get(s->rt->heap, s->record_id, &rec);
    if (rc != FMR_OK)
      rfm_fail(rc, "cannot read the record");
    id = (double)rec.id;
    named = rec.name[0] != '\0';
    element = (rec.type & RFM_TAG_ELEMENT) != 0;
  }
  const char *names[] = {"id", "named", "element", ""};
  SEXP ans = PROTECT(Rf_mkNamed(VECSXP, names));
  SET_VECTOR_ELT(ans, 0, Rf_ScalarReal(id));
  SET_VECTOR_ELT(ans, 1, Rf_ScalarLogical(named));
  SET_VECTOR_ELT(ans, 2, Rf_ScalarLogical(element));
  UNPROTECT(1);
  return ans;
}

/* --- unnamed records ------------------------------------------------- */

int rfm_idlist_add(rfm_idlist *l, uint64_t id)
{
  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 64;
    uint64_t *ids = realloc(l->ids, cap * sizeof *ids);
    if (ids == NULL) {
      l->oom = 1;
      return 1;
    }
    l->ids = ids;
    l->cap = cap;
  }
  l->ids[l->n++] = id;
  return 0;
}

static int listed_collect(const fmr_record *rec, void *arg)
{
  rfm_idlist *l = arg;
  if (rec->state != FMR_RECORD_COMMITTED || !RFM_TAG_IS_OURS(rec->type) ||
      !(rec->type & RFM_TAG_CONTAINER) || rec->payload == NULL ||
      RFM_TAG_TYPE(rec->type) != REALSXP ||
      rec->length > rec->payload_bytes / sizeof(double))
    return 0;
  const double *d = rec->payload;
  for (uint64_t k = 0; k < rec->length; k++)
    if (d[k] >= 1 && rfm_idlist_add(l, (uint64_t)d[k]))
      return 1; /* out of memory: l->oom says so */
  return 0;
}

static int cmp_u64(const void *a, const void *b)
{
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

int rfm_listed_ids(fmr_heap *heap, rfm_idlist *out)
{
  memset(out, 0, sizeof *out);
  int rc = fmr_record_foreach(heap, listed_collect, out);
  if (out->oom)
    return FMR_ENOMEM;
  if (rc < 0)
    return rc;
  if (out->n > 1)
    qsort(out->ids, out->n, sizeof(uint64_t), cmp_u64);
  return FMR_OK;
}

int rfm_listed_has(const rfm_idlist *l, uint64_t id)
{
  return l->n > 0 &&
         bsearch(&id, l->ids, l->n, sizeof(uint64_t), cmp_u64) != NULL;
}

int rfm_is_serialized_temporary(const fmr_record *rec, const rfm_idlist *l)
{
  return rec->state == FMR_RECORD_COMMITTED && RFM_TAG_IS_OURS(rec->type) &&
         rec->name[0] == '\0' && RFM_TAG_ROLE(rec->type) == 0 &&
         !rfm_listed_has(l, rec->id);
}

typedef struct holder_search {
  uint64_t id;
  uint64_t holder; /* first container listing ID, 0 if none */
  char name[FMR_NAME_MAX + 1];
} holder_search;

static int holder_collect(const fmr_record *rec, void *arg)
{
  holder_search *h = arg;
  if (rec->state != FMR_RECORD_COMMITTED || !RFM_TAG_IS_OURS(rec->type) ||
      !(rec->type & RFM_TAG_CONTAINER) || rec->payload == NULL ||
      RFM_TAG_TYPE(rec->type) != REALSXP ||
      rec->length > rec->payload_bytes / sizeof(double))
    return 0;
  const double *d = rec->payload;
  for (uint64_t k = 0; k < rec->length; k++)
    if (d[k] >= 1 && (uint64_t)d[k] == h->id) {
      h->holder = rec->id;
      snprintf(h->name, sizeof h->name, "%s", rec->name);
      return 1;
    }
  return 0;
}

/* What fmalloc_destroy(id = ID) needs to know of record ID of RT: a list
   (state: "committed", "tombstone" or "missing"; name; container: a
   saved list's own record; holder, holder_name: the id and name of a
   saved list that holds it, NA if none).  */
SEXP C_rfm_record_info(SEXP rt, SEXP id)
{
  rfm_runtime *r = rfm_runtime_get(rt, 0);
  if (r->mode != FMR_MODE_PERSISTENT)
    Rf_error("a scratch runtime has no records");
  double d = Rf_asReal(id);
  if (ISNAN(d) || d < 1 || d != floor(d) || d > 9007199254740992.0)
    Rf_error("'id' must be a record id (a positive whole number)");
  fmr_record rec;
  fmr_record_init(&rec);
  int rc = fmr_record_get(r->heap, (uint64_t)d, &rec);
  if (rc != FMR_OK && rc != FMR_ENOTFOUND)
    rfm_fail(rc, "cannot read the record");
  const char *names[] = {"state",  "name",        "container", "ours",
                         "holder", "holder_name", ""};
  SEXP ans = PROTECT(Rf_mkNamed(VECSXP, names));
  const char *state = rc == FMR_ENOTFOUND                 ? "missing"
                      : rec.state == FMR_RECORD_COMMITTED ? "committed"
                                                          : "tombstone";
  SET_VECTOR_ELT(ans, 0, Rf_mkString(state));
  int found = rc == FMR_OK;
  SET_VECTOR_ELT(ans, 1,
                 Rf_ScalarString(found && rec.name[0]
                                     ? Rf_mkCharCE(rec.name, CE_UTF8)
                                     : NA_STRING));
  SET_VECTOR_ELT(ans, 2,
                 Rf_ScalarLogical(found && RFM_TAG_IS_OURS(rec.type) &&
                                  (rec.type & RFM_TAG_CONTAINER) != 0));
  SET_VECTOR_ELT(ans, 3, Rf_ScalarLogical(found && RFM_TAG_IS_OURS(rec.type)));
  holder_search h;
  memset(&h, 0, sizeof h);
  h.id = (uint64_t)d;
  if (found) {
    rc = fmr_record_foreach(r->heap, holder_collect, &h);
    if (rc < 0)
      rfm_fail(rc, "cannot list the catalog");
  }
  SET_VECTOR_ELT(ans, 4, Rf_ScalarReal(h.holder ? (double)h.holder : NA_REAL));
  SET_VECTOR_ELT(ans, 5,
                 Rf_ScalarString(h.holder && h.name[0]
                                     ? Rf_mkCharCE(h.name, CE_UTF8)
                                     : NA_STRING));
  UNPROTECT(1);
  return ans;
}

/* Are the fmalloc vectors X and Y views of one store (one list's ids)? */
SEXP C_rfm_same_store(SEXP x, SEXP y)
{
  x = rfm_unwrap(x);
  y = rfm_unwrap(y);
  rfm_vector *a = rfm_is_fmalloc(x) ? rfm_handle(x) : NULL;
  rfm_vector *b = rfm_is_fmalloc(y) ? rfm_handle(y) : NULL;
  return Rf_ScalarLogical(a != NULL && b != NULL && a->store != NULL &&
                          a->store == b->store);
}

typedef struct drop_state {
  const rfm_idlist *listed;
  rfm_idlist *drop;
  double bytes;
} drop_state;

static int drop_collect(const fmr_record *rec, void *arg)
{
  drop_state *d = arg;
  if (rec->state != FMR_RECORD_COMMITTED || !RFM_TAG_IS_OURS(rec->type) ||
      rec->name[0] != '\0' || (rec->type & RFM_TAG_CONTAINER) ||
      rfm_listed_has(d->listed, rec->id))
    return 0;
  if (rfm_idlist_add(d->drop, rec->id))
    return 1;
  d->bytes += (double)rec->payload_bytes;
  return 0;
}

/* compact_fmalloc(drop_unnamed = TRUE), before the compaction: free
   every unnamed record of the heap file PATH that no saved list holds
   (serialized temporaries, and list elements a crash left behind).  The
   file must not be open in this R session.  The count and bytes.  */
SEXP C_rfm_drop_unnamed(SEXP path)
{
  if (!Rf_isString(path) || XLENGTH(path) != 1 ||
      STRING_ELT(path, 0) == NA_STRING)
    Rf_error("'filepath' must be a single file path");
  const char *p = Rf_translateChar(STRING_ELT(path, 0));
  fmr_options options;
  fmr_options_init(&options);
  options.mode = FMR_MODE_PERSISTENT;
  fmr_heap *heap = NULL;
  int rc = fmr_open(p, &options, &heap);
  if (rc != FMR_OK) {
    char what[64 + 4096];
    snprintf(what, sizeof what, "cannot open fmalloc heap '%s'", p);
    rfm_fail(rc, what);
  }
  fmr_stats st;
  fmr_stats_init(&st);
  rc = fmr_stat(heap, &st);
  if (rc != FMR_OK || st.refcount != 1) {
    fmr_close(heap);
    if (rc != FMR_OK)
      rfm_fail(rc, "cannot read the heap's statistics");
    Rf_error("cannot compact '%s': it is open in this R session; call "
             "cleanup_fmalloc() on its runtime and drop its vectors "
             "(rm() them, then gc()) first",
             p);
  }
  rfm_idlist listed;
  rc = rfm_listed_ids(heap, &listed);
  rfm_idlist drop = {NULL, 0, 0, 0};
  double bytes = 0;
  if (rc == FMR_OK) {
    /* collect first: the catalog does not change while it is walked */
    drop_state arg = {&listed, &drop, 0};
    rc = fmr_record_foreach(heap, drop_collect, &arg);
    if (drop.oom)
      rc = FMR_ENOMEM;
    bytes = arg.bytes;
  }
  size_t freed = 0;
  for (size_t i = 0; rc >= 0 && i < drop.n; i++) {
    rc = fmr_record_free(heap, drop.ids[i]);
    if (rc == FMR_OK)
      freed++;
  }
  free(listed.ids);
  free(drop.ids);
  int rc_close = fmr_close(heap);
  if (rc < 0)
    rfm_fail(rc, "cannot free the unnamed records");
  if (rc_close != FMR_OK)
    rfm_fail(rc_close, "cannot close the heap file");
  SEXP ans = PROTECT(Rf_allocVector(REALSXP, 2));
  REAL(ans)[0] = (double)freed;
  REAL(ans)[1] = bytes;
  UNPROTECT(1);
  return ans;
}

/* --- serialization by reference ------------------------------------- */

/* The option NAME, one of two strings: 0 for FIRST (the default, also
   when the option is unset), 1 for SECOND; anything else is an error.  */
static int option_choice(const char *name, const char *first,
                         const char *second)
{
  SEXP opt = Rf_GetOption1(Rf_install(name));
  if (opt == R_NilValue)
    return 0;
  if (Rf_isString(opt) && XLENGTH(opt) == 1 &&
      STRING_ELT(opt, 0) != NA_STRING) {
    const char *o = CHAR(STRING_ELT(opt, 0));
    if (strcmp(o, first) == 0)
      return 0;
    if (strcmp(o, second) == 0)
      return 1;
  }
  Rf_error("option '%s' must be \"%s\" or \"%s\"", name, first, second);
}

/* getOption("Rfmalloc.serialize_temporaries"): "reference" (the
   default: an unsaved vector is committed as an unnamed record, a
   "serialized temporary", and written as a reference) or "value" (it is
   written as data, nothing is committed).  */
static int serialize_temporaries_by_value(void)
{
  return option_choice("Rfmalloc.serialize_temporaries", "reference",
                       "value");
}

SEXP rfm_serialized_state(SEXP x)
{
  rfm_vector *v = rfm_vec(x);
  rfm_store *s = v->store;
  if (s->malloced || s->rt->mode != FMR_MODE_PERSISTENT)
    return NULL;
  /* A reference into a file that its path no longer names (deleted,
     replaced, moved) could never be resolved: by value.  */
  if (rfm_runtime_file_state(s->rt) != FMR_FILE_CURRENT)
    return NULL;
  SEXP opt = Rf_GetOption1(Rf_install("Rfmalloc.serialize"));
  if (Rf_isString(opt) && XLENGTH(opt) >= 1 &&
      strcmp(CHAR(STRING_ELT(opt, 0)), "value") == 0)
    return NULL;
  if (!s->committed) {
    /* a forked child or a read-only reader cannot commit: by value */
    if (s->rt->readonly || rfm_forked(s->rt) || s->rt->heap == NULL)
      return NULL;
    if (serialize_temporaries_by_value())
      return NULL;
    if (s->type == STRSXP)
      rfm_str_flush(x);
    rfm_commit(s, NULL, R_NilValue, RFM_ROLE_KEEP);
    rfm_pin(x);
  }
  const char *names[] = {"path", "uuid",   "id", "generation",
                         "type", "length", ""};
  SEXP state = PROTECT(Rf_mkNamed(VECSXP, names));
  char buf[32];
  SET_VECTOR_ELT(state, 0, Rf_mkString(s->rt->path));
  SET_VECTOR_ELT(state, 1, rfm_uuid_string(s->rt->heap));
  snprintf(buf, sizeof buf, "%llu", (unsigned long long)s->record_id);
  SET_VECTOR_ELT(state, 2, Rf_mkString(buf));
  snprintf(buf, sizeof buf, "%llu", (unsigned long long)s->generation);
  SET_VECTOR_ELT(state, 3, Rf_mkString(buf));
  SET_VECTOR_ELT(state, 4, Rf_mkString(Rf_type2char(s->type)));
  SET_VECTOR_ELT(state, 5, Rf_ScalarReal((double)s->length));
  UNPROTECT(1);
  return state;
}

static const char *state_string(SEXP state, int i)
{
  SEXP s = VECTOR_ELT(state, i);
  if (!Rf_isString(s) || XLENGTH(s) != 1 || STRING_ELT(s, 0) == NA_STRING)
    Rf_error("malformed Rfmalloc reference");
  return CHAR(STRING_ELT(s, 0));
}

/* --- references that cannot be resolved ------------------------------

   A reference that cannot be resolved (the file is missing, replaced,
   older than the reference or not a heap; the record was destroyed or
   does not hold the vector) does not stop the unserialization it is part
   of: by default it becomes an "fmalloc_unresolved" object (a condition
   object: a list with the problem) with one warning, so load() restores
   the other objects of an .RData file.  Using the placeholder is an
   error that names the problem (R/persist.R).  With
   options(Rfmalloc.unresolved = "error") the reference is an error, as
   fmalloc_load() by name always is.  */

enum {
  UNRES_NONE = 0,
  UNRES_MISSING_FILE,
  UNRES_NOT_A_HEAP,
  UNRES_REPLACED_FILE,
  UNRES_DESTROYED,
  UNRES_OLDER_FILE,
  UNRES_MISMATCH
};

static const char *unres_reason[] = {
    "",          "missing_file", "not_a_heap", "replaced_file",
    "destroyed", "older_file",   "mismatch"};

typedef struct resolve_ctx {
  const char *path, *uuid, *id, *gen, *type;
  double length;
  int reason; /* UNRES_* */
  char problem[4096 + 512];
  const char *remedy;
} resolve_ctx;

static SEXP unresolved(resolve_ctx *c, int reason, const char *remedy)
{
  c->reason = reason;
  c->remedy = remedy;
  return R_NilValue;
}

#define REMEDY_FILE                                                           \
  "put the heap file the object was saved from back at that path, then "      \
  "load it again"

/* Resolve the reference of C: the vector, or R_NilValue with c->reason
   and c->problem set.  R errors of the open (a file that is not a heap,
   a damaged one) reach the caller.  */
static SEXP resolve_body(void *data)
{
  resolve_ctx *c = data;
  SEXP rt = rfm_runtime_find(c->path);
  if (rt == R_NilValue) {
    /* Never create a file here: check that it exists first (the open
       below also lacks FMR_OPEN_CREATE).  */
    FILE *f = fopen(c->path, "rb");
    if (f == NULL) {
      snprintf(c->problem, sizeof c->problem,
               "the heap file '%s' does not exist (or cannot be read)",
               c->path);
      return unresolved(c, UNRES_MISSING_FILE, REMEDY_FILE);
    }
    fclose(f);
    rt = rfm_runtime_open(c->path, FMR_MODE_PERSISTENT, 0, 0);
  }
  PROTECT(rt);
  rfm_runtime *r = rfm_runtime_get(rt, 0);
  SEXP have = PROTECT(rfm_uuid_string(r->heap));
  if (strcmp(CHAR(STRING_ELT(have, 0)), c->uuid) != 0) {
    snprintf(c->problem, sizeof c->problem,
             "'%s' is not the heap file the object was saved from (uuid %s, "
             "expected %s); the file was replaced",
             c->path, CHAR(STRING_ELT(have, 0)), c->uuid);
    UNPROTECT(2);
    return unresolved(c, UNRES_REPLACED_FILE, REMEDY_FILE);
  }
  uint64_t id = strtoull(c->id, NULL, 10);
  uint64_t gen = strtoull(c->gen, NULL, 10);
  fmr_record rec;
  fmr_record_init(&rec);
  int rc = fmr_record_get(r->heap, id, &rec);
  if (rc == FMR_ENOTFOUND ||
      (rc == FMR_OK && rec.state != FMR_RECORD_COMMITTED)) {
    snprintf(c->problem, sizeof c->problem,
             "record %s no longer exists in '%s' (it was destroyed)", c->id,
             c->path);
    UNPROTECT(2);
    return unresolved(c, UNRES_DESTROYED,
                      "its data are gone: make the object again (to write "
                      "data instead of references, set "
                      "options(Rfmalloc.serialize = \"value\") before "
                      "saving)");
  }
  if (rc != FMR_OK)
    rfm_fail(rc, "cannot read the record of an Rfmalloc reference");
  /* Ids are never reused, so (uuid, id) names the record; its later
     versions (renamed, re-saved, a grown character block) are what the
     reference reads.  An older version means the file itself is older
     than the reference: a restored copy, whose data may not match. */
  if (rec.generation < gen) {
    snprintf(c->problem, sizeof c->problem,
             "record %s in '%s' is older than the reference (generation "
             "%llu, expected at least %s); the heap file was replaced by an "
             "older copy",
             c->id, c->path, (unsigned long long)rec.generation, c->gen);
    UNPROTECT(2);
    return unresolved(c, UNRES_OLDER_FILE,
                      "put the newer heap file back at that path, then load "
                      "it again");
  }
  if (!RFM_TAG_IS_OURS(rec.type) ||
      strcmp(Rf_type2char(RFM_TAG_TYPE(rec.type)), c->type) != 0 ||
      (double)rec.length != c->length) {
    snprintf(c->problem, sizeof c->problem,
             "record %s in '%s' does not hold a %s vector of length %.0f",
             c->id, c->path, c->type, c->length);
    UNPROTECT(2);
    return unresolved(c, UNRES_MISMATCH, REMEDY_FILE);
  }
  SEXP ans = PROTECT(rfm_wrap_record(rt, &rec));
  rfm_set_owner(ans, rfm_reader_frame());
  UNPROTECT(3);
  return ans;
}

/* An R error while resolving (the file cannot be opened as a heap, or
   holds a damaged record): C->problem gets its message.  */
static SEXP resolve_handler(SEXP cond, void *data)
{
  resolve_ctx *c = data;
  SEXP call = PROTECT(Rf_lang2(Rf_install("conditionMessage"), cond));
  SEXP msg = PROTECT(Rf_eval(call, R_BaseEnv));
  const char *m = Rf_isString(msg) && XLENGTH(msg) >= 1
                      ? Rf_translateChar(STRING_ELT(msg, 0))
                      : "unknown error";
  snprintf(c->problem, sizeof c->problem,
           "the heap file '%s' cannot be used: %s", c->path, m);
  UNPROTECT(2);
  return unresolved(c, UNRES_NOT_A_HEAP, REMEDY_FILE);
}

/* getOption("Rfmalloc.unresolved"): 1 for "error", 0 for "placeholder"
   (the default).  */
static int unresolved_is_error(void)
{
  return option_choice("Rfmalloc.unresolved", "placeholder", "error");
}

/* The placeholder for the reference of C: a list of class
   c("fmalloc_unresolved", "error", "condition").  */
static SEXP placeholder(resolve_ctx *c, const char *message,
                        const char *problem)
{
  const char *names[] = {"message", "call", "problem", "reason", "path",
                         "uuid",    "id",   "type",    "length", ""};
  SEXP ans = PROTECT(Rf_mkNamed(VECSXP, names));
  SET_VECTOR_ELT(ans, 0, Rf_mkString(message));
  SET_VECTOR_ELT(ans, 2, Rf_mkString(problem));
  SET_VECTOR_ELT(ans, 3, Rf_mkString(unres_reason[c->reason]));
  SET_VECTOR_ELT(ans, 4, Rf_mkString(c->path));
  SET_VECTOR_ELT(ans, 5, Rf_mkString(c->uuid));
  SET_VECTOR_ELT(ans, 6, Rf_ScalarReal(strtod(c->id, NULL)));
  SET_VECTOR_ELT(ans, 7, Rf_mkString(c->type));
  SET_VECTOR_ELT(ans, 8, Rf_ScalarReal(c->length));
  SEXP cls = PROTECT(Rf_allocVector(STRSXP, 3));
  SET_STRING_ELT(cls, 0, Rf_mkChar("fmalloc_unresolved"));
  SET_STRING_ELT(cls, 1, Rf_mkChar("error"));
  SET_STRING_ELT(cls, 2, Rf_mkChar("condition"));
  Rf_setAttrib(ans, R_ClassSymbol, cls);
  UNPROTECT(2);
  return ans;
}

/* The UnserializeEX method of the vector classes: the vector of the
   reference STATE with the attributes ATTR, or a placeholder (above).  */
SEXP rfm_unserialize_ex(SEXP cls, SEXP state, SEXP attr, int objf, int levs)
{
  (void)cls;
  (void)objf;
  if (TYPEOF(state) != VECSXP || XLENGTH(state) != 6)
    Rf_error("malformed Rfmalloc reference");
  resolve_ctx c;
  memset(&c, 0, sizeof c);
  c.path = state_string(state, 0);
  c.uuid = state_string(state, 1);
  c.id = state_string(state, 2);
  c.gen = state_string(state, 3);
  c.type = state_string(state, 4);
  c.length = Rf_asReal(VECTOR_ELT(state, 5));
  int strict = unresolved_is_error();
  SEXP ans = strict ? resolve_body(&c)
                    : R_tryCatchError(resolve_body, &c, resolve_handler, &c);
  PROTECT(ans);
  if (c.reason != UNRES_NONE) {
    if (strict)
      Rf_error("cannot restore an Rfmalloc reference: %s; %s", c.problem,
               c.remedy);
    char problem[sizeof c.problem + 512];
    snprintf(problem, sizeof problem, "%s; %s", c.problem, c.remedy);
    char msg[sizeof problem + 1024];
    snprintf(msg, sizeof msg,
             "cannot restore an Rfmalloc reference to record %s of '%s' "
             "(%s vector of length %.0f): %s. It reads back as an "
             "\"fmalloc_unresolved\" object, which gives this error when "
             "used",
             c.id, c.path, c.type, c.length, problem);
    SEXP p = PROTECT(placeholder(&c, msg, problem));
    Rf_warning("%s", msg);
    UNPROTECT(2);
    return p;
  }
  /* the attributes, as R's default method sets them (dim first: setting
     dim drops dimnames) */
  for (SEXP a = attr; a != R_NilValue; a = CDR(a))
    if (TAG(a) == R_DimSymbol)
      Rf_setAttrib(ans, TAG(a), CAR(a));
  for (SEXP a = attr; a != R_NilValue; a = CDR(a))
    if (TAG(a) != R_DimSymbol)
      Rf_setAttrib(ans, TAG(a), CAR(a));
  if (levs & (1 << 4)) /* S4_OBJECT_MASK */
    ans = Rf_asS4(ans, TRUE, 0);
  UNPROTECT(1);
  return ans;
}
