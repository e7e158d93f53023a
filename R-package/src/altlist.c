/* altlist.c: fmalloc lists as ALTLIST objects (R >= 4.3).

   An fmalloc list is tied to one runtime through its "ids" vector: an
   fmalloc double vector of that runtime with one slot per element.  When
   the list is saved (fmalloc_save, R/lists.R), each element is committed
   as a record of its own, its record id is written into the ids vector
   (0 for NULL), and the ids vector is committed as the list's own record
   with the list's attributes as metadata.  The storage and the file
   format are the same on every R version; only the R object differs:

   - R >= 4.3: an ALTLIST of class fmalloc_list whose data1 is the ids
     vector and whose data2 is an ordinary VECSXP holding the elements.
     Elt reads data2; Set_elt accepts only NULL, an fmalloc vector or
     an fmalloc list of the list's runtime (a list that does not hold
     this one, at any depth: compared by ids vector), anything else is
     an error.  The ids vector need not have the list's length (an
     element dropped or added since the list was saved): saving gives
     it the list's length.
   - R 4.2 (no ALTLIST): an ordinary VECSXP with the ids vector in the
     attribute "fmalloc_ids" (R/lists.R); nothing here is used.

   A duplicate (R copies a list before changing it when it is shared)
   shares the ids vector, as the R 4.2 attribute is shared by copies: the
   list's record is the ids vector, whichever copy saves it last.  */

#include "rfmalloc.h"

#include <string.h>

SEXP C_rfm_list_new(SEXP ids, SEXP elts, SEXP adopt);
SEXP C_rfm_list_ids(SEXP x);
SEXP C_rfm_list_set(SEXP x, SEXP i, SEXP value);
SEXP C_rfm_has_altlist(void);

#if R_VERSION >= R_Version(4, 3, 0)

static R_altrep_class_t cls_list;

int rfm_is_fmalloc_list(SEXP x)
{
  return ALTREP(x) && TYPEOF(x) == VECSXP && R_altrep_inherits(x, cls_list);
}

/* The address of the runtime of the fmalloc vector X (NULL if none). */
static void *runtime_addr(SEXP x)
{
  x = rfm_unwrap(x);
  if (!rfm_is_fmalloc(x))
    return NULL;
  SEXP rt = rfm_runtime_ext_of(x);
  return rt == R_NilValue ? NULL : R_ExternalPtrAddr(rt);
}

/* Are A and B fmalloc vectors on one store (one list's ids vector)? */
static int same_store(SEXP a, SEXP b)
{
  a = rfm_unwrap(a);
  b = rfm_unwrap(b);
  rfm_vector *x = rfm_is_fmalloc(a) ? rfm_handle(a) : NULL;
  rfm_vector *y = rfm_is_fmalloc(b) ? rfm_handle(b) : NULL;
  return x != NULL && y != NULL && x->store != NULL && x->store == y->store;
}

/* Does the fmalloc list V, or a list it holds at any depth, have the
   ids vector IDS (the storage of the list V would be put in)?  */
static int holds_ids(SEXP v, SEXP ids)
{
  if (!rfm_is_fmalloc_list(v))
    return 0;
  if (same_store(R_altrep_data1(v), ids))
    return 1;
  R_CheckStack();
  SEXP e = R_altrep_data2(v);
  for (R_xlen_t i = 0; i < XLENGTH(e); i++)
    if (holds_ids(VECTOR_ELT(e, i), ids))
      return 1;
  return 0;
}

/* Is V acceptable as an element of a list whose ids vector is IDS?
   NULL, an fmalloc vector of its runtime, or an fmalloc list of its
   runtime (not checked here: that it does not hold the list).  */
static int element_ok(SEXP ids, SEXP v)
{
  if (v == R_NilValue)
    return 1;
  if (rfm_is_fmalloc_list(v)) {
    void *rt = runtime_addr(R_altrep_data1(v));
    return rt != NULL && rt == runtime_addr(ids);
  }
  if (TYPEOF(v) == VECSXP)
    return 0;
  void *rt = runtime_addr(v);
  return rt != NULL && rt == runtime_addr(ids);
}

static void check_element(SEXP ids, SEXP v)
{
  if (!element_ok(ids, v))
    Rf_error("elements of an fmalloc list must be NULL, fmalloc vectors or "
             "fmalloc lists of the same runtime (use as_fmalloc(value, "
             "runtime = fmalloc_runtime_of(x))), not %s",
             v == R_NilValue ? "NULL"
             : rfm_is_fmalloc(rfm_unwrap(v)) || rfm_is_fmalloc_list(v)
                 ? "an fmalloc object of another runtime"
                 : Rf_type2char(TYPEOF(v)));
  if (holds_ids(v, ids))
    Rf_error("an fmalloc list cannot hold itself (the value holds the "
             "list, directly or deeper)");
}

/* A new list over IDS holding ELTS (a VECSXP, not copied: the caller
   passes a fresh one).  */
static SEXP make_list(SEXP ids, SEXP elts)
{
  return R_new_altrep(cls_list, ids, elts);
}

static R_xlen_t list_Length(SEXP x)
{
  return XLENGTH(R_altrep_data2(x));
}

static SEXP list_Elt(SEXP x, R_xlen_t i)
{
  return VECTOR_ELT(R_altrep_data2(x), i);
}

static void list_Set_elt(SEXP x, R_xlen_t i, SEXP v)
{
  check_element(R_altrep_data1(x), v);
  SET_VECTOR_ELT(R_altrep_data2(x), i, v);
}

/* R reads a list through VECTOR_ELT; a read-only pointer to the elements
   is given for code that asks for one.  Writing through a pointer would
   bypass Set_elt's check and the write barrier: refused.  */
static void *list_Dataptr(SEXP x, Rboolean writeable)
{
  if (writeable)
    Rf_error("the elements of an fmalloc list can only be set one by one "
             "(SET_VECTOR_ELT)");
  return (void *)DATAPTR_RO(R_altrep_data2(x));
}

static const void *list_Dataptr_or_null(SEXP x)
{
  (void)x;
  return NULL;
}

static Rboolean list_Inspect(SEXP x, int pre, int deep, int pvec,
                             void (*inspect_subtree)(SEXP, int, int, int))
{
  (void)pre;
  (void)pvec;
  SEXP ids = R_altrep_data1(x);
  Rprintf(" fmalloc list of %lld elements\n",
          (long long)XLENGTH(R_altrep_data2(x)));
  if (deep)
    inspect_subtree(ids, pre, deep, pvec);
  return TRUE;
}

/* Same ids vector (the list's record), a new vector of the same
   elements: R then copies the attributes.  */
static SEXP list_Duplicate(SEXP x, Rboolean deep)
{
  (void)deep; /* elements are file-backed: never copied into R memory */
  SEXP elts = PROTECT(Rf_shallow_duplicate(R_altrep_data2(x)));
  SEXP ans = make_list(R_altrep_data1(x), elts);
  UNPROTECT(1);
  return ans;
}

/* list(ids, elements): the ids vector and the elements serialize as
   themselves (by reference in a persistent runtime, by value otherwise
   or with options(Rfmalloc.serialize = "value")).  */
static SEXP list_Serialized_state(SEXP x)
{
  SEXP state = PROTECT(Rf_allocVector(VECSXP, 2));
  SET_VECTOR_ELT(state, 0, R_altrep_data1(x));
  SET_VECTOR_ELT(state, 1, R_altrep_data2(x));
  UNPROTECT(1);
  return state;
}

/* An fmalloc list again when the ids vector and every element came back
   as fmalloc vectors of one runtime; otherwise (serialized by value) an
   ordinary list of the values, without the class "fmalloc_list".  */
static SEXP list_UnserializeEX(SEXP cls, SEXP state, SEXP attr, int objf,
                               int levs)
{
  (void)cls;
  (void)objf;
  (void)levs;
  if (TYPEOF(state) != VECSXP || XLENGTH(state) != 2 ||
      TYPEOF(VECTOR_ELT(state, 1)) != VECSXP)
    Rf_error("malformed Rfmalloc list reference");
  SEXP ids = VECTOR_ELT(state, 0);
  SEXP elts = PROTECT(Rf_shallow_duplicate(VECTOR_ELT(state, 1)));
  R_xlen_t n = XLENGTH(elts);
  /* the ids vector may be shorter or longer than the list: it gets the
     list's length when the list is saved */
  int ok = runtime_addr(ids) != NULL && TYPEOF(ids) == REALSXP;
  for (R_xlen_t i = 0; ok && i < n; i++)
    ok = element_ok(ids, VECTOR_ELT(elts, i)) &&
         !holds_ids(VECTOR_ELT(elts, i), ids);
  SEXP ans = PROTECT(ok ? make_list(ids, elts) : elts);
  for (SEXP a = attr; a != R_NilValue; a = CDR(a)) {
    if (!ok && TAG(a) == R_ClassSymbol && Rf_isString(CAR(a)) &&
        XLENGTH(CAR(a)) == 1 &&
        strcmp(CHAR(STRING_ELT(CAR(a), 0)), "fmalloc_list") == 0)
      continue;
    Rf_setAttrib(ans, TAG(a), CAR(a));
  }
  UNPROTECT(2);
  return ans;
}

void rfm_init_list_class(DllInfo *dll)
{
  cls_list = R_make_altlist_class("fmalloc_list", "Rfmalloc", dll);
  R_set_altrep_Length_method(cls_list, list_Length);
  R_set_altrep_Inspect_method(cls_list, list_Inspect);
  R_set_altrep_Duplicate_method(cls_list, list_Duplicate);
  R_set_altrep_Serialized_state_method(cls_list, list_Serialized_state);
  R_set_altrep_UnserializeEX_method(cls_list, list_UnserializeEX);
  R_set_altvec_Dataptr_method(cls_list, list_Dataptr);
  R_set_altvec_Dataptr_or_null_method(cls_list, list_Dataptr_or_null);
  R_set_altlist_Elt_method(cls_list, list_Elt);
  R_set_altlist_Set_elt_method(cls_list, list_Set_elt);
}

/* A new fmalloc list over the ids vector IDS (an fmalloc double vector),
   with the elements of the list ELTS (of any length: the ids vector
   takes the list's length when the list is saved), or XLENGTH(IDS)
   NULLs when ELTS is NULL.
   ADOPT: ELTS is a list the caller made for this and drops, so it
   becomes the new list's storage (no copy: a copy would leave ELTS's
   references to the elements counted for ever, and R would copy an
   element before every change).  */
SEXP C_rfm_list_new(SEXP ids, SEXP elts, SEXP adopt)
{
  if (runtime_addr(ids) == NULL || TYPEOF(ids) != REALSXP)
    Rf_error("internal error: the ids of an fmalloc list must be an "
             "fmalloc double vector");
  R_xlen_t n = XLENGTH(ids);
  SEXP v;
  if (elts == R_NilValue) {
    v = PROTECT(Rf_allocVector(VECSXP, n));
  } else {
    if (TYPEOF(elts) != VECSXP)
      Rf_error("internal error: fmalloc list elements must be a list");
    n = XLENGTH(elts);
    for (R_xlen_t i = 0; i < n; i++)
      check_element(ids, VECTOR_ELT(elts, i));
    if (Rf_asLogical(adopt) == TRUE && ATTRIB(elts) == R_NilValue &&
        !ALTREP(elts)) {
      v = PROTECT(elts);
    } else {
      v = PROTECT(Rf_allocVector(VECSXP, n));
      for (R_xlen_t i = 0; i < n; i++)
        SET_VECTOR_ELT(v, i, VECTOR_ELT(elts, i));
    }
  }
  SEXP ans = make_list(ids, v);
  UNPROTECT(1);
  return ans;
}

/* The ids vector of an fmalloc ALTLIST, or NULL for anything else. */
SEXP C_rfm_list_ids(SEXP x)
{
  return rfm_is_fmalloc_list(x) ? R_altrep_data1(x) : R_NilValue;
}

/* x[[i]] <- value (1-based I) for the fmalloc list X: in place when X
   is not shared, else in a duplicate (same ids vector).  */
SEXP C_rfm_list_set(SEXP x, SEXP i, SEXP value)
{
  if (!rfm_is_fmalloc_list(x))
    Rf_error("internal error: not an fmalloc list");
  double k = Rf_asReal(i);
  if (ISNAN(k) || k < 1 || k > (double)XLENGTH(x))
    Rf_error("internal error: element %.0f of an fmalloc list of %lld", k,
             (long long)XLENGTH(x));
  check_element(R_altrep_data1(x), value);
  if (MAYBE_SHARED(x))
    x = Rf_shallow_duplicate(x);
  PROTECT(x);
  SET_VECTOR_ELT(x, (R_xlen_t)k - 1, value);
  UNPROTECT(1);
  return x;
}

SEXP C_rfm_has_altlist(void)
{
  return Rf_ScalarLogical(TRUE);
}

#else /* R < 4.3: no ALTLIST; lists are the R-level fallback */

int rfm_is_fmalloc_list(SEXP x)
{
  (void)x;
  return 0;
}

void rfm_init_list_class(DllInfo *dll)
{
  (void)dll;
}

SEXP C_rfm_list_new(SEXP ids, SEXP elts, SEXP adopt)
{
  (void)ids;
  (void)elts;
  (void)adopt;
  Rf_error("fmalloc ALTLIST lists need R >= 4.3 (this build of Rfmalloc "
           "was compiled for R %s.%s)",
           R_MAJOR, R_MINOR);
}

SEXP C_rfm_list_ids(SEXP x)
{
  (void)x;
  return R_NilValue;
}

SEXP C_rfm_list_set(SEXP x, SEXP i, SEXP value)
{
  (void)i;
  return C_rfm_list_new(x, value, R_NilValue);
}

SEXP C_rfm_has_altlist(void)
{
  return Rf_ScalarLogical(FALSE);
}

#endif
