/* fuzz-open.c: fuzz target for the file-open path of libfmalloc-r.

   Copyright (C) 2026 The libfmalloc-r authors.
   This file is part of libfmalloc-r, free software under the GNU Lesser
   General Public License, version 2.1 or (at your option) any later version.

   The input is a whole heap file.  It is opened read-only (validate, walk
   every record, touch every payload, check), then read-write (which may
   recover it), and a writer allocates, commits, frees and checks.  Any
   crash, sanitizer report or hang is a bug: a bad file must give an error
   code, never a fault.  Built as a libFuzzer target with clang
   (make -C fuzz fuzz) and, for make check, linked with replay.c, which
   runs the same function on every file of the corpus.  */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fmalloc-r.h>

#include "fuzz-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile unsigned sink;

static int touch(const fmr_record *r, void *arg)
{
  (void)arg;
  if (r->payload != NULL && r->payload_bytes > 0) {
    const unsigned char *p = r->payload;
    sink += p[0] + p[r->payload_bytes - 1];
  }
  const unsigned char *m = r->meta;
  for (size_t i = 0; i < r->meta_len; i++)
    sink += m[i];
  sink += (unsigned)strlen(r->name);
  return 0;
}

static void exercise(fmr_heap *heap, int writer)
{
  fmr_stats st;
  fmr_stats_init(&st);
  fmr_record rec;
  fmr_record_init(&rec);
  fmr_stat(heap, &st);
  fmr_record_foreach(heap, touch, NULL);
  fmr_record_get(heap, 1, &rec);
  fmr_record_find(heap, "a", &rec);
  fmr_check(heap, NULL, NULL);
  if (!writer)
    return;
  void *p;
  uint64_t id;
  if (fmr_malloc(heap, 100, &p) == FMR_OK) {
    memset(p, 7, 100);
    if (fmr_commit(heap, p, 1, 100, "fuzz", "m", 1, 0, &id) == FMR_OK) {
      fmr_record_rename(heap, id, "fuzz2");
      fmr_record_free(heap, id);
    } else {
      fmr_free(heap, p);
    }
  }
  fmr_reclaim(heap, NULL);
  if (fmr_check(heap, NULL, NULL) != FMR_OK) {
    /* Whatever the file held, once opened for writing the heap must stay
       consistent under the library's own operations. */
    fprintf(stderr, "fmr_check failed after writing: %s\n", fmr_errmsg());
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  fmr_options o;
  fmr_heap *heap;
  const char *path = fuzz_write_input(data, size);

  fmr_options_init(&o);
  o.flags = FMR_OPEN_READONLY;
  o.max_size = UINT64_C(16) << 20; /* small: ASan clears the shadow of
                                      every unmapped range */
  if (fmr_open(path, &o, &heap) == FMR_OK) {
    exercise(heap, 0);
    fmr_close(heap);
  }

  o.flags = FMR_OPEN_RECOVER;
  if (fmr_open(path, &o, &heap) == FMR_OK) {
    exercise(heap, 1);
    fmr_close(heap);
    /* What a writer closed must open cleanly again. */
    o.flags = 0;
    if (fmr_open(path, &o, &heap) != FMR_OK) {
      fprintf(stderr, "reopen after a clean close failed: %s\n",
              fmr_errmsg());
      abort();
    }
    fmr_close(heap);
  }
  unlink(path);
  return 0;
}
