/* assign.c: assignments into fmalloc vectors in place: the `[<-` and
   `[[<-` methods of the default objects (x[i] <- v, x[] <- v,
   m[i, j] <- v, x[[i]] <- v), fmalloc_set() and fmalloc_fill().

   The methods handle what changes no type and no length: positive
   in-range numeric indices, logical indices no longer than the vector,
   missing indices, and a value of the vector's type or one R would
   convert to it (an integer into a double vector, ...).  Anything else
   (negative, character or NA indices, growing, a value of a higher
   type) returns NULL and the method calls NextMethod(): R's own code,
   on a copy (store.c: R never writes into a pinned vector).

   Where the write goes (R's semantics first, see store.c): the method
   runs on the object R has already made unshared.  A clone of a saved
   vector is promoted (the assignment changes the record) when nothing
   else holds the original, else it gets its own copy; a private vector
   is changed in place.  */

#include "rfmalloc.h"

#include <string.h>

/* --- indices ---------------------------------------------------------- */

enum { IX_ALL, IX_POS, IX_LGL, IX_NEG };

typedef struct index_spec {
  int kind;
  SEXP idx;            /* the index vector (IX_POS: INTSXP or REALSXP) */
  R_xlen_t len;        /* extent of the dimension */
  R_xlen_t n;          /* positions selected */
  R_xlen_t ni;         /* length of the index vector */
  unsigned char *excl; /* IX_NEG: the positions left out */
  int has_na;          /* NA entries (skipped for a value of length 1) */
} index_spec;

/* An index entry as a position: >= 0, or -1 for "skip" (zero), -2 for
   NA, -3 - k for "leave out position k" (a negative index).  */
static R_INLINE R_xlen_t entry_int(int v)
{
  if (v == NA_INTEGER)
    return -2;
  if (v == 0)
    return -1;
  return v > 0 ? (R_xlen_t)v - 1 : -3 - ((R_xlen_t)(-(double)v) - 1);
}

static R_INLINE R_xlen_t entry_real(double d)
{
  if (ISNAN(d))
    return -2;
  if (d > -1 && d < 1)
    return -1;
  return d >= 1 ? (R_xlen_t)d - 1 : -3 - ((R_xlen_t)(-d) - 1);
}

static R_INLINE R_xlen_t index_entry(const index_spec *ix, R_xlen_t k)
{
  return TYPEOF(ix->idx) == INTSXP ? entry_int(INTEGER_RO(ix->idx)[k])
                                   : entry_real(REAL_RO(ix->idx)[k]);
}

/* Check IDX as an index into a dimension of extent LEN whose names are
   NAMES (or R_NilValue); 0 if the fast path cannot take it (R does it:
   a subscript that grows the vector, mixes signs, names a missing
   element, is a factor, ...).  The caller protects ix->idx.  */
static int index_prepare(index_spec *ix, SEXP idx, R_xlen_t len, SEXP names)
{
  memset(ix, 0, sizeof *ix);
  ix->idx = idx;
  ix->len = len;
  if (idx == R_MissingArg) {
    ix->kind = IX_ALL;
    ix->n = len;
    return 1;
  }
  if (Rf_isObject(idx))
    return 0;
  R_xlen_t ni = XLENGTH(idx);
  ix->ni = ni;
  if (TYPEOF(idx) == STRSXP) {
    if (names == R_NilValue || TYPEOF(names) != STRSXP)
      return 0;
    for (R_xlen_t k = 0; k < ni; k++)
      if (STRING_ELT(idx, k) == NA_STRING || CHAR(STRING_ELT(idx, k))[0] == 0)
        return 0;
    SEXP m = Rf_match(names, idx, 0);
    for (R_xlen_t k = 0; k < ni; k++)
      if (INTEGER(m)[k] == 0)
        return 0; /* a new name: the vector grows */
    ix->idx = idx = m;
  }
  if (TYPEOF(idx) == INTSXP || TYPEOF(idx) == REALSXP) {
    R_xlen_t pos = 0, neg = 0, na = 0;
    for (R_xlen_t k = 0; k < ni; k++) {
      R_xlen_t e = index_entry(ix, k);
      if (e >= 0) {
        if (e >= len)
          return 0; /* grows */
        pos++;
      } else if (e == -2) {
        na++;
      } else if (e <= -3) {
        neg++;
      }
    }
    if (neg > 0) {
      if (pos > 0 || na > 0)
        return 0; /* R's error */
      ix->excl = (unsigned char *)R_alloc((size_t)(len > 0 ? len : 1), 1);
      memset(ix->excl, 0, (size_t)len);
      R_xlen_t out = 0;
      for (R_xlen_t k = 0; k < ni; k++) {
        R_xlen_t e = -3 - index_entry(ix, k);
        if (e >= 0 && e < len && !ix->excl[e]) {
          ix->excl[e] = 1;
          out++;
        }
      }
      ix->kind = IX_NEG;
      ix->n = len - out;
      return 1;
    }
    ix->kind = IX_POS;
    ix->n = pos;
    ix->has_na = na > 0;
    return 1;
  }
  if (TYPEOF(idx) == LGLSXP) {
    if (ni > len || (ni == 0 && len > 0))
      return 0;
    const int *p = LOGICAL_RO(idx);
    R_xlen_t cnt = 0, extra = 0;
    for (R_xlen_t k = 0; k < ni; k++) {
      if (p[k] == NA_LOGICAL)
        ix->has_na = 1;
      else
        cnt += p[k] != 0;
    }
    if (ni == 0) {
      ix->kind = IX_LGL;
      return 1;
    }
    /* recycled over LEN */
    R_xlen_t full = len / ni, rest = len % ni;
    for (R_xlen_t k = 0; k < rest; k++)
      extra += p[k] != 0 && p[k] != NA_LOGICAL;
    ix->kind = IX_LGL;
    ix->n = cnt * full + extra;
    return 1;
  }
  return 0;
}

/* A cursor over the positions of an index_spec, in order. */
typedef struct index_cursor {
  const index_spec *ix;
  R_xlen_t k; /* next entry of the index (IX_POS), or next position to
                 test (IX_ALL, IX_LGL, IX_NEG) */
} index_cursor;

static R_INLINE R_xlen_t cursor_next(index_cursor *c)
{
  const index_spec *ix = c->ix;
  switch (ix->kind) {
  case IX_ALL:
    return c->k++;
  case IX_POS: {
    R_xlen_t e;
    while ((e = index_entry(ix, c->k++)) < 0)
      ;
    return e;
  }
  case IX_NEG:
    while (ix->excl[c->k])
      c->k++;
    return c->k++;
  default: {
    const int *p = LOGICAL_RO(ix->idx);
    for (;;) {
      int b = p[c->k % ix->ni];
      if (b != 0 && b != NA_LOGICAL)
        break;
      c->k++;
    }
    return c->k++;
  }
  }
}

/* The positions of X[IX[0], ..., IX[ND - 1]] in order (the first index
   varies fastest), one at a time.  One index streams; more are made
   into arrays of offsets first (each as long as its dimension at
   most).  */
typedef struct position_walk {
  int nd;
  index_cursor one; /* nd == 1 */
  R_xlen_t **offs;  /* nd > 1: offsets of each dimension's positions */
  R_xlen_t *count;  /* nd > 1: positions of each dimension */
  R_xlen_t *at;     /* nd > 1: the odometer */
  int started;
} position_walk;

static void walk_init(position_walk *w, index_spec *ix, int nd,
                      const int *dims)
{
  memset(w, 0, sizeof *w);
  w->nd = nd;
  if (nd == 1) {
    w->one.ix = &ix[0];
    return;
  }
  w->offs = (R_xlen_t **)R_alloc((size_t)nd, sizeof(R_xlen_t *));
  w->count = (R_xlen_t *)R_alloc((size_t)nd, sizeof(R_xlen_t));
  w->at = (R_xlen_t *)R_alloc((size_t)nd, sizeof(R_xlen_t));
  R_xlen_t stride = 1;
  for (int d = 0; d < nd; d++) {
    R_xlen_t n = ix[d].n;
    w->offs[d] =
        (R_xlen_t *)R_alloc((size_t)(n > 0 ? n : 1), sizeof(R_xlen_t));
    index_cursor c = {&ix[d], 0};
    for (R_xlen_t k = 0; k < n; k++)
      w->offs[d][k] = cursor_next(&c) * stride;
    w->count[d] = n;
    w->at[d] = 0;
    stride *= dims[d];
  }
}

static R_INLINE R_xlen_t walk_next(position_walk *w)
{
  if (w->nd == 1)
    return cursor_next(&w->one);
  if (w->started) {
    for (int d = 0; d < w->nd; d++) {
      if (++w->at[d] < w->count[d])
        break;
      w->at[d] = 0;
    }
  }
  w->started = 1;
  R_xlen_t pos = 0;
  for (int d = 0; d < w->nd; d++)
    pos += w->offs[d][w->at[d]];
  return pos;
}

/* --- values ----------------------------------------------------------- */

/* May a value of type VT be stored into a vector of type XT without
   changing the vector's type?  */
static int value_fits(int xt, int vt)
{
  switch (xt) {
  case LGLSXP:
    return vt == LGLSXP;
  case INTSXP:
    return vt == LGLSXP || vt == INTSXP;
  case REALSXP:
    return vt == LGLSXP || vt == INTSXP || vt == REALSXP;
  case CPLXSXP:
    return vt == CPLXSXP; /* NA to complex differs by R version */
  case RAWSXP:
    return vt == RAWSXP;
  case STRSXP:
    return vt == STRSXP;
  default:
    return 0;
  }
}

static R_INLINE double value_real(SEXP value, int vt, R_xlen_t k)
{
  if (vt == REALSXP)
    return REAL_RO(value)[k];
  int i = vt == INTSXP ? INTEGER_RO(value)[k] : LOGICAL_RO(value)[k];
  return i == NA_INTEGER ? NA_REAL : (double)i;
}

/* --- the write ------------------------------------------------------- */

enum { FOR_METHOD, FOR_SET };

/* The environment the `[<-` method ENV was called from: where the
   assignment runs.  */
SEXP rfm_caller_env(SEXP env)
{
  static SEXP call = NULL;
  if (call == NULL) {
    call = Rf_lang1(Rf_install("parent.frame"));
    R_PreserveObject(call);
  }
  return Rf_eval(call, env);
}

/* Make the handle of X ready to take a write (see the top), for an
   assignment method (FOR_METHOD, in the method frame ENV) or an
   explicit write (FOR_SET).  */
static rfm_store *writable_store(SEXP x, int why, SEXP env)
{
  rfm_vector *v = rfm_vec(x);
  if (why == FOR_SET) {
    rfm_store *s = v->store;
    if (!rfm_store_writable(s))
      Rf_error("cannot change this fmalloc vector: its runtime is closed, "
               "read-only or inherited from a parent process");
    if (v->clone)
      rfm_promote(x, R_NilValue);
  } else if (v->clone) {
    SEXP caller = PROTECT(rfm_caller_env(env));
    if (rfm_promotable(x, caller))
      rfm_promote(x, caller);
    else
      rfm_detach(x);
    UNPROTECT(1);
  } else {
    rfm_store *s = v->store;
    if (!rfm_store_writable(s) || (s->committed && !s->editable))
      rfm_detach(x);
  }
  rfm_detach_clones(v->store, v);
  return v->store;
}

/* Write VALUE (recycled) into the store S of X at the N positions W
   gives.  */
static void write_positions(SEXP x, rfm_store *s, position_walk *w, R_xlen_t n,
                            SEXP value)
{
  int xt = s->type, vt = TYPEOF(value);
  R_xlen_t nv = XLENGTH(value);
  rfm_vector *h = rfm_handle(x);
  SEXP cache = R_NilValue;
  if (xt == STRSXP) {
    cache = rfm_slot(x, RFM_SLOT_CACHE);
    if (h->cache_version != s->str_version)
      cache = R_NilValue;
    PROTECT(cache);
  }
  for (R_xlen_t k = 0, j = 0; k < n; k++, j = j + 1 == nv ? 0 : j + 1) {
    R_xlen_t pos = walk_next(w);
    switch (xt) {
    case LGLSXP:
      ((int *)s->payload)[pos] = LOGICAL_RO(value)[j];
      break;
    case INTSXP:
      ((int *)s->payload)[pos] =
          vt == INTSXP ? INTEGER_RO(value)[j] : LOGICAL_RO(value)[j];
      break;
    case REALSXP:
      ((double *)s->payload)[pos] = value_real(value, vt, j);
      break;
    case CPLXSXP:
      ((Rcomplex *)s->payload)[pos] = COMPLEX_RO(value)[j];
      break;
    case RAWSXP:
      ((Rbyte *)s->payload)[pos] = RAW_RO(value)[j];
      break;
    case STRSXP: {
      SEXP c = STRING_ELT(value, j);
      rfm_str_store(s, pos, c);
      if (cache != R_NilValue) {
        SET_VECTOR_ELT(cache, pos, c);
        h->cache_version = s->str_version;
      }
      break;
    }
    }
  }
  if (xt == STRSXP)
    UNPROTECT(1);
}

/* The element count of a value R would assign, with R's errors. */
static void check_value_length(R_xlen_t n, R_xlen_t nv, int array,
                               int double_bracket, int has_na)
{
  if (n == 0)
    return;
  if (nv == 0)
    Rf_error("replacement has length zero");
  if (double_bracket && nv > 1)
    Rf_error("more elements supplied than there are to replace");
  if (has_na && nv > 1)
    Rf_error("NAs are not allowed in subscripted assignments");
  if (n % nv != 0) {
    if (array)
      Rf_error("number of items to replace is not a multiple of "
               "replacement length");
    Rf_warning("number of items to replace is not a multiple of "
               "replacement length");
  }
}

/* An assignment into R's wrapper X around the fmalloc vector Y (made
   when R unshares a long vector in an interpreted assignment, see
   EnsureLocal in R's eval.c), in the method frame ENV: the object to
   write through and return in place of X (X itself for a private Y
   nothing else holds; a new handle on Y's record where the assignment
   may change it, store.c), or NULL: R's own code copies.  */
static SEXP wrapped_target(SEXP x, SEXP y, SEXP env)
{
  rfm_vector *v = rfm_vec(y);
  rfm_store *s = v->store;
  if (v->clone || !rfm_store_writable(s))
    return NULL;
  if (!v->pinned)
    return rfm_holders(y) <= 1 ? x : NULL;
  SEXP caller = PROTECT(rfm_caller_env(env));
  SEXP ans = R_NilValue;
  if (rfm_promotable_wrapped(y, caller))
    ans = rfm_promote_wrapped(x, y);
  UNPROTECT(1);
  return ans == R_NilValue ? NULL : ans;
}

#define MAX_DIMS 16

/* The shared work: X[IDX[0], ..., IDX[NIDX - 1]] <- VALUE (or [[<-),
   or NULL when R must do it.  */
static SEXP assign(SEXP x, SEXP *idx, int nidx, SEXP value, int why,
                   int double_bracket, SEXP env)
{
  SEXP y = rfm_unwrap(x);
  if (!rfm_is_fmalloc(y) || nidx < 1 || nidx > MAX_DIMS)
    return NULL;
  rfm_vector *v = rfm_vec(y);
  rfm_store *s = v->store;
  if (value == R_NilValue || !Rf_isVectorAtomic(value) ||
      (Rf_isObject(value) && !Rf_inherits(value, "fmalloc")) ||
      !value_fits(s->type, TYPEOF(value)))
    return NULL;
  index_spec ix[MAX_DIMS];
  int dims[MAX_DIMS];
  int nprot = 0, has_na = 0;
  R_xlen_t n = 1;
  if (nidx == 1) {
    dims[0] = 0;
    SEXP names = PROTECT(Rf_getAttrib(x, R_NamesSymbol));
    nprot++;
    if (!index_prepare(&ix[0], idx[0], s->length, names)) {
      UNPROTECT(nprot);
      return NULL;
    }
    PROTECT(ix[0].idx);
    nprot++;
    n = ix[0].n;
    has_na = ix[0].has_na;
  } else {
    SEXP dim = Rf_getAttrib(x, R_DimSymbol);
    if (XLENGTH(dim) != nidx)
      return NULL;
    SEXP dn = PROTECT(Rf_getAttrib(x, R_DimNamesSymbol));
    nprot++;
    for (int d = 0; d < nidx; d++) {
      dims[d] = INTEGER(dim)[d];
      SEXP names = dn == R_NilValue ? R_NilValue : VECTOR_ELT(dn, d);
      if (!index_prepare(&ix[d], idx[d], dims[d], names)) {
        UNPROTECT(nprot);
        return NULL;
      }
      PROTECT(ix[d].idx);
      nprot++;
      n *= ix[d].n;
      has_na |= ix[d].has_na;
    }
  }
  if (double_bracket) {
    /* one element, named by positive indices */
    for (int d = 0; d < nidx; d++)
      if (ix[d].kind != IX_POS || ix[d].n != 1 || ix[d].ni != 1) {
        UNPROTECT(nprot);
        return NULL;
      }
  }
  check_value_length(n, XLENGTH(value), nidx > 1, double_bracket, has_na);
  SEXP ans = x;
  if (n > 0) {
    SEXP target = y;
    if (y != x) {
      if (why == FOR_SET) {
        s = writable_store(y, why, env);
      } else {
        ans = wrapped_target(x, y, env);
        if (ans == NULL) {
          UNPROTECT(nprot);
          return NULL;
        }
        PROTECT(ans);
        nprot++;
        target = rfm_unwrap(ans);
        s = rfm_vec(target)->store;
        rfm_detach_clones(s, rfm_handle(target));
      }
    } else {
      s = writable_store(y, why, env);
    }
    position_walk w;
    walk_init(&w, ix, nidx, dims);
    write_positions(target, s, &w, n, value);
  }
  UNPROTECT(nprot);
  return ans;
}

static SEXP sym_tmp, sym_i, sym_j, sym_x, sym_value;

/* The `[<-` and `[[<-` methods: ENV is the method's frame (x, i, j,
   ... and value), WHAT the expression R gave for x (substitute(x)),
   NARGS the method's nargs(); DOUBLE is TRUE for `[[<-`.  NULL: use
   NextMethod().  */
static void init_symbols(void)
{
  if (sym_value == NULL) {
    sym_tmp = Rf_install("*tmp*");
    sym_i = Rf_install("i");
    sym_j = Rf_install("j");
    sym_x = Rf_install("x");
    sym_value = Rf_install("value");
  }
}

SEXP C_rfm_assign(SEXP env, SEXP what, SEXP nargs, SEXP dbl)
{
  init_symbols();
  /* Only an assignment: R calls `[<-`(*tmp*, ..., value = v).  Called as
     a function, `[<-` must return a modified copy: R's own code does. */
  if (what != sym_tmp)
    return R_NilValue;
  int nidx = Rf_asInteger(nargs) - 2; /* x and value */
  if (nidx < 1 || nidx > MAX_DIMS)
    return R_NilValue;
  SEXP idx[MAX_DIMS];
  SEXP dots = Rf_findVarInFrame(env, R_DotsSymbol);
  int ndots = TYPEOF(dots) == DOTSXP ? Rf_length(dots) : 0;
  int nfixed = nidx - ndots; /* i, j */
  if (nfixed < 1 || nfixed > 2 || (ndots > 0 && nfixed != 2))
    return R_NilValue;
  SEXP syms[2] = {sym_i, sym_j};
  int nprot = 0;
  for (int k = 0; k < nidx; k++) {
    SEXP p;
    if (k < nfixed) {
      p = Rf_findVarInFrame(env, syms[k]);
    } else {
      if (TAG(dots) != R_NilValue)
        break; /* a named argument: not an index */
      p = CAR(dots);
      dots = CDR(dots);
    }
    if (p == R_UnboundValue)
      break;
    idx[k] = p == R_MissingArg ? R_MissingArg : Rf_eval(p, env);
    PROTECT(idx[k]);
    nprot++;
  }
  if (nprot != nidx) {
    UNPROTECT(nprot);
    return R_NilValue;
  }
  SEXP x = PROTECT(Rf_eval(Rf_findVarInFrame(env, sym_x), env));
  SEXP value = PROTECT(Rf_eval(Rf_findVarInFrame(env, sym_value), env));
  SEXP ans = assign(x, idx, nidx, value, FOR_METHOD, Rf_asLogical(dbl), env);
  UNPROTECT(nprot + 2);
  return ans == NULL ? R_NilValue : ans;
}

/* The `[<-` method's quick path, x[i] <- value on a private vector (no
   clone, no record, no R wrapper: nothing needs the method's frame):
   WHAT is substitute(x).  NULL: the general path (C_rfm_assign).  */
SEXP C_rfm_assign1(SEXP x, SEXP i, SEXP value, SEXP what)
{
  init_symbols();
  if (what != sym_tmp || !rfm_is_fmalloc(x))
    return R_NilValue;
  rfm_vector *v = rfm_handle(x);
  if (v == NULL || v->store == NULL || v->clone || v->pinned ||
      v->store->committed)
    return R_NilValue;
  SEXP ans = assign(x, &i, 1, value, FOR_METHOD, 0, R_NilValue);
  return ans == NULL ? R_NilValue : ans;
}

/* fmalloc_set(x, idx, value) and fmalloc_fill(x, value) (IDX missing):
   write into X's data, whoever else sees them.  */
SEXP C_rfm_set(SEXP x, SEXP idx, SEXP value)
{
  SEXP y = rfm_unwrap(x);
  if (!rfm_is_fmalloc(y))
    Rf_error("'x' must be an fmalloc vector");
  if (idx == R_NilValue)
    idx = R_MissingArg;
  SEXP ans = assign(y, &idx, 1, value, FOR_SET, 0, R_NilValue);
  if (ans == NULL)
    Rf_error("fmalloc_set() takes positive indices within the vector (or "
             "a logical index no longer than it) and a value of the "
             "vector's type or one converted to it without changing the "
             "type (%s into %s is not)",
             Rf_type2char(TYPEOF(value)), Rf_type2char(TYPEOF(y)));
  return x;
}
