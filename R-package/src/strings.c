/* strings.c: the character payload (see rfm_str_header in rfmalloc.h),
   the CHARSXP cache of each handle, and what keeps the two the same.

   R reads a character vector element by element (Elt): each CHARSXP is
   made once from the stored bytes and kept in the handle's cache (data2
   RFM_SLOT_CACHE), so it stays reachable as long as the vector.  R's
   sort, order-based code and other C code write CHARSXP pointers
   through STRING_PTR, which for an ALTREP string is the Dataptr: the
   package hands out the cache, fully made, and marks the store dirty;
   rfm_str_flush() copies what R wrote there into the block before
   anything reads the block (a commit, a copy, a subset, a kernel).
   Only a private store with a single handle can be dirty: R never
   writes through a pinned handle, and a clone detaches first.

   Every change of an element bumps the store's str_version; a handle
   whose cache was made for another version drops it, so two handles on
   one record never show different strings.

   Everything read from the block is checked against the block's size
   before use: a damaged record, or one another process changed under a
   reader, gives an R error, never a read outside the block.  */

#include "rfmalloc.h"

#include <string.h>

size_t rfm_str_table_bytes(uint64_t n)
{
  size_t t = sizeof(rfm_str_header) + (size_t)n * (8 + 4 + 1);
  return (t + 7) & ~(size_t)7;
}

rfm_str_header *rfm_str_hdr(void *p)
{
  return p;
}

int64_t *rfm_str_start(void *p)
{
  return (int64_t *)((char *)p + sizeof(rfm_str_header));
}

int32_t *rfm_str_len(void *p)
{
  return (int32_t *)(rfm_str_start(p) + rfm_str_hdr(p)->n);
}

uint8_t *rfm_str_flags(void *p)
{
  return (uint8_t *)(rfm_str_len(p) + rfm_str_hdr(p)->n);
}

char *rfm_str_bytes(void *p)
{
  return (char *)p + rfm_str_table_bytes(rfm_str_hdr(p)->n);
}

void rfm_str_init(void *p, R_xlen_t n, size_t cap)
{
  rfm_str_header *h = p;
  h->magic = RFM_STR_MAGIC;
  h->n = (uint64_t)n;
  h->used = 0;
  h->cap = cap;
  memset(rfm_str_start(p), 0,
         rfm_str_table_bytes((uint64_t)n) - sizeof(rfm_str_header));
}

/* Is the block P of BYTES bytes a character payload of N elements? */
int rfm_str_valid(const void *p, size_t bytes, uint64_t n)
{
  if (p == NULL || bytes < sizeof(rfm_str_header))
    return 0;
  const rfm_str_header *h = p;
  if (h->magic != RFM_STR_MAGIC || h->n != n)
    return 0;
  if (n > (SIZE_MAX - sizeof(rfm_str_header)) / 13)
    return 0;
  size_t table = rfm_str_table_bytes(n);
  return table <= bytes && h->cap <= bytes - table && h->used <= h->cap;
}

/* Is the block P of BYTES bytes a character payload of N elements whose
   every element lies inside its byte area?  Run on a private copy of a
   block that another process could have changed (the copy a clone
   detaches to): after this, the writing code may trust the copy.  */
int rfm_str_check_all(const void *p, size_t bytes, uint64_t n)
{
  if (!rfm_str_valid(p, bytes, n))
    return 0;
  const rfm_str_header *h = p;
  const int64_t *start = (const int64_t *)((const char *)p + sizeof *h);
  const int32_t *len = (const int32_t *)(start + n);
  const uint8_t *flags = (const uint8_t *)(len + n);
  for (uint64_t i = 0; i < n; i++) {
    if (flags[i] & RFM_STR_NA)
      continue;
    if (start[i] < 0 || len[i] < 0 || (uint64_t)start[i] > h->used ||
        (uint64_t)len[i] > h->used - (uint64_t)start[i])
      return 0;
  }
  return 1;
}

/* The block's flags for the CHARSXP C: NA, or its encoding (as
   rfm_str_read).  */
uint8_t rfm_str_char_flags(SEXP c)
{
  if (c == NA_STRING)
    return RFM_STR_NA;
  switch (Rf_getCharCE(c)) {
  case CE_UTF8:
    return 1;
  case CE_LATIN1:
    return 2;
  case CE_BYTES:
    return 3;
  default:
    return 0;
  }
}

/* A reader of the character block of S: the table and byte area checked
   once against the block's size, their bounds kept here, so that what
   the block says later cannot move a read outside it.  */
void rfm_str_reader_init(rfm_str_reader *r, rfm_store *s)
{
  void *p = s->payload;
  if (!rfm_str_valid(p, s->bytes, (uint64_t)s->length))
    Rf_error("the character vector's block (record %llu) is damaged or "
             "was changed by another process: load it again",
             (unsigned long long)s->record_id);
  r->s = s;
  r->n = s->length;
  r->cap = rfm_str_hdr(p)->cap;
  r->start = rfm_str_start(p);
  r->len = rfm_str_len(p);
  r->flags = rfm_str_flags(p);
  r->bytes = rfm_str_bytes(p);
}

/* The bytes of element I (*LEN of them, in encoding *ENC: 0 native,
   1 UTF-8, 2 latin1, 3 bytes), or NULL for NA.  */
const char *rfm_str_read(const rfm_str_reader *r, R_xlen_t i, int32_t *len,
                         int *enc)
{
  uint8_t f = r->flags[i];
  if (f & RFM_STR_NA)
    return NULL;
  int64_t start = r->start[i];
  int32_t l = r->len[i];
  if (start < 0 || l < 0 || (uint64_t)start > r->cap ||
      (uint64_t)l > r->cap - (uint64_t)start)
    Rf_error("element %lld of a character vector is damaged or was "
             "changed by another process (record %llu): load it again",
             (long long)i + 1, (unsigned long long)r->s->record_id);
  *len = l;
  *enc = f & RFM_STR_ENC_MASK;
  return r->bytes + start;
}

static const cetype_t str_enc[] = {CE_NATIVE, CE_UTF8, CE_LATIN1, CE_BYTES};

/* The CHARSXP of element I of S, made from the block. */
SEXP rfm_str_make_char(rfm_store *s, R_xlen_t i)
{
  rfm_str_reader r;
  rfm_str_reader_init(&r, s);
  if (i < 0 || i >= r.n)
    Rf_error("the character vector's block is damaged (record %llu)",
             (unsigned long long)s->record_id);
  int32_t len;
  int enc;
  const char *b = rfm_str_read(&r, i, &len, &enc);
  return b == NULL ? NA_STRING : Rf_mkCharLenCE(b, len, str_enc[enc]);
}

/* The CHARSXP of LEN bytes at B in encoding ENC (as rfm_str_read). */
SEXP rfm_str_mkchar(const char *b, int32_t len, int enc)
{
  return Rf_mkCharLenCE(b, len, str_enc[enc & RFM_STR_ENC_MASK]);
}

/* The cache of X (handle V), made or refreshed for the store's current
   strings.  */
SEXP rfm_str_cache(SEXP x, rfm_vector *v)
{
  rfm_store *s = v->store;
  SEXP cache = rfm_slot(x, RFM_SLOT_CACHE);
  if (cache == R_NilValue || v->cache_version != s->str_version ||
      XLENGTH(cache) != s->length) {
    cache = Rf_allocVector(VECSXP, s->length);
    rfm_set_slot(x, RFM_SLOT_CACHE, cache);
    v->cache_version = s->str_version;
  }
  return cache;
}

/* Give TO, a new handle on the same strings as FROM, a copy of FROM's
   cache if it is current: the CHARSXPs already made serve TO too.  */
void rfm_str_share_cache(SEXP to, SEXP from)
{
  rfm_vector *v = rfm_handle(from);
  if (v->store->type != STRSXP)
    return;
  SEXP cache = rfm_slot(from, RFM_SLOT_CACHE);
  if (cache != R_NilValue && v->cache_version == v->store->str_version) {
    rfm_set_slot(to, RFM_SLOT_CACHE, Rf_shallow_duplicate(cache));
    rfm_vector *t = rfm_handle(to);
    t->cache_version = t->store->str_version;
  }
}

SEXP rfm_str_elt(SEXP x, R_xlen_t i)
{
  rfm_vector *v = rfm_vec(x);
  SEXP cache = rfm_slot(x, RFM_SLOT_CACHE);
  if (cache == R_NilValue || v->cache_version != v->store->str_version)
    cache = rfm_str_cache(x, v);
  SEXP c = VECTOR_ELT(cache, i);
  if (c == R_NilValue) {
    PROTECT(cache);
    c = rfm_str_make_char(v->store, i);
    SET_VECTOR_ELT(cache, i, c);
    UNPROTECT(1);
  }
  return c;
}

/* Give the character store S room for EXTRA more bytes: a new block
   with the live strings compacted, swapped in for the old one (for a
   record, with fmr_record_set_payload: every handle follows, as they
   share the store).  */
static void str_grow(rfm_store *s, size_t extra)
{
  void *old = s->payload;
  R_xlen_t n = s->length;
  size_t live = 0;
  for (R_xlen_t i = 0; i < n; i++)
    if (!(rfm_str_flags(old)[i] & RFM_STR_NA))
      live += (size_t)rfm_str_len(old)[i];
  size_t cap = 2 * (live + extra);
  if (cap < 64)
    cap = 64;
  size_t bytes = rfm_payload_size(STRSXP, n, cap);
  void *p = NULL;
  if (s->malloced) {
    p = malloc(bytes);
    if (p == NULL)
      Rf_error("out of memory growing a character vector");
  } else {
    if (!rfm_can_allocate(s->rt) &&
        !(s->committed && !s->rt->readonly && !rfm_forked(s->rt)))
      Rf_error("cannot grow a character vector of a closed, read-only or "
               "inherited fmalloc runtime");
    int rc = fmr_malloc(s->rt->heap, bytes, &p);
    if (rc != FMR_OK)
      rfm_fail(rc, "cannot grow a character vector in the fmalloc heap");
    if (!s->committed)
      rfm_gc_account(s->rt, (double)bytes);
  }
  memcpy(p, old, rfm_str_table_bytes((uint64_t)n));
  rfm_str_hdr(p)->cap = cap;
  char *dst = rfm_str_bytes(p), *src = rfm_str_bytes(old);
  uint64_t used = 0;
  for (R_xlen_t i = 0; i < n; i++) {
    int32_t len = rfm_str_len(old)[i];
    if (rfm_str_flags(old)[i] & RFM_STR_NA)
      len = 0;
    memcpy(dst + used, src + rfm_str_start(old)[i], (size_t)len);
    rfm_str_start(p)[i] = (int64_t)used;
    rfm_str_len(p)[i] = len;
    used += (uint64_t)len;
  }
  rfm_str_hdr(p)->used = used;
  if (s->malloced) {
    free(old);
  } else if (s->committed) {
    int rc = fmr_record_set_payload(s->rt->heap, s->record_id, p, (uint64_t)n);
    if (rc != FMR_OK) {
      fmr_free(s->rt->heap, p);
      rfm_fail(rc, "cannot swap in the grown character vector");
    }
    fmr_record rec;
    fmr_record_init(&rec);
    if (fmr_record_get(s->rt->heap, s->record_id, &rec) == FMR_OK)
      s->generation = rec.generation;
  } else {
    fmr_free(s->rt->heap, old);
    rfm_gc_account(s->rt, -(double)s->bytes);
  }
  s->payload = p;
  s->bytes = bytes;
}

/* Element I of the character store S becomes the CHARSXP C. */
void rfm_str_store(rfm_store *s, R_xlen_t i, SEXP c)
{
  uint8_t f = rfm_str_char_flags(c);
  size_t len = c == NA_STRING ? 0 : (size_t)LENGTH(c);
  void *p = s->payload;
  if (len > (size_t)rfm_str_len(p)[i] || (rfm_str_flags(p)[i] & RFM_STR_NA)) {
    if (rfm_str_hdr(p)->used + len > rfm_str_hdr(p)->cap) {
      str_grow(s, len);
      p = s->payload;
    }
    rfm_str_start(p)[i] = (int64_t)rfm_str_hdr(p)->used;
    rfm_str_hdr(p)->used += len;
  }
  if (len > 0)
    memcpy(rfm_str_bytes(p) + rfm_str_start(p)[i], CHAR(c), len);
  rfm_str_len(p)[i] = (int32_t)len;
  rfm_str_flags(p)[i] = f;
  s->str_version++;
}

/* Does element I of the block P hold the string C? */
static int str_same(void *p, R_xlen_t i, SEXP c)
{
  uint8_t f = rfm_str_flags(p)[i];
  if (c == NA_STRING)
    return (f & RFM_STR_NA) != 0;
  if ((f & RFM_STR_NA) || f != rfm_str_char_flags(c) || rfm_str_len(p)[i] != LENGTH(c))
    return 0;
  return memcmp(rfm_str_bytes(p) + rfm_str_start(p)[i], CHAR(c),
                (size_t)LENGTH(c)) == 0;
}

/* Copy what R wrote through STRING_PTR of X into its block. */
void rfm_str_flush(SEXP x)
{
  rfm_vector *v = rfm_vec(x);
  rfm_store *s = v->store;
  if (s->type != STRSXP || !s->str_dirty)
    return;
  SEXP cache = rfm_slot(x, RFM_SLOT_CACHE);
  if (cache != R_NilValue && v->cache_version == s->str_version) {
    PROTECT(cache);
    for (R_xlen_t i = 0; i < s->length; i++) {
      SEXP c = VECTOR_ELT(cache, i);
      if (c != R_NilValue && !str_same(s->payload, i, c))
        rfm_str_store(s, i, c);
    }
    v->cache_version = s->str_version;
    UNPROTECT(1);
  }
  s->str_dirty = 0;
}
