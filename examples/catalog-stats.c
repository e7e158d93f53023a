/* catalog-stats.c: print the statistics and catalog of a heap file.

   Copyright (C) 2026 The libfmalloc-r authors.
   This file is part of libfmalloc-r, free software under the GNU Lesser
   General Public License, version 2.1 or (at your option) any later version.

   Usage: catalog-stats FILE

   Opens FILE read-only (it never waits for, or disturbs, a writer), prints
   what fmr_stat reports and then one line per catalog record as listed by
   fmr_record_foreach.  Exit status 0 on success, 1 on failure, 2 on a
   usage error.  */


#include <inttypes.h>
#include <stdio.h>

#include <fmalloc-r.h>

static int fail(const char *what, int code)
{
  fprintf(stderr, "catalog-stats: %s: %s", what, fmr_strerror(code));
  if (fmr_errmsg()[0] != '\0')
    fprintf(stderr, " (%s)", fmr_errmsg());
  fputc('\n', stderr);
  return 1;
}

static int print_record(const fmr_record *record, void *arg)
{
  uint64_t *count = arg;

  printf("  %6" PRIu64 "  gen %-3" PRIu64 " %-9s type 0x%08" PRIx32
         " length %-10" PRIu64 " %10" PRIu64 " bytes  %s\n",
         record->id, record->generation,
         record->state == FMR_RECORD_COMMITTED ? "committed" : "tombstone",
         record->type, record->length, record->payload_bytes,
         record->name[0] != '\0' ? record->name : "(unnamed)");
  (*count)++;
  return 0;
}

int main(int argc, char **argv)
{
  fmr_options options;
  fmr_stats st;
  fmr_stats_init(&st);
  fmr_heap *heap;
  uint64_t count = 0;
  int rc, status = 0;

  if (argc != 2) {
    fprintf(stderr, "Usage: catalog-stats FILE\n");
    return 2;
  }

  fmr_options_init(&options);
  options.flags = FMR_OPEN_READONLY;
  rc = fmr_open(argv[1], &options, &heap);
  if (rc != FMR_OK)
    return fail(argv[1], rc);

  rc = fmr_stat(heap, &st);
  if (rc != FMR_OK) {
    fmr_close(heap);
    return fail("fmr_stat", rc);
  }
  printf("heap %s (format %" PRIu32 ", last close %s)\n", argv[1],
         st.format_version, st.recovered ? "unclean" : "clean");
  printf("  file %" PRIu64 " bytes, heap %" PRIu64 ", used %" PRIu64
         ", free %" PRIu64 " in %" PRIu64 " extents (largest %" PRIu64 ")\n",
         st.file_size, st.heap_bytes, st.used_bytes, st.free_bytes,
         st.free_extents, st.largest_free);
  printf("  records: %" PRIu64 " committed (%" PRIu64 " bytes), %" PRIu64
         " tombstone (%" PRIu64 " bytes), %" PRIu64 " damaged\n",
         st.records_committed, st.record_bytes, st.records_tombstone,
         st.tombstone_bytes, st.records_damaged);
  printf("  catalog: %" PRIu64 " bytes, %" PRIu64 " slots\n", st.catalog_bytes,
         st.catalog_slots);

  printf("catalog:\n");
  rc = fmr_record_foreach(heap, print_record, &count);
  if (rc < 0)
    status = fail("fmr_record_foreach", rc);
  else
    printf("%" PRIu64 " record(s)\n", count);

  rc = fmr_close(heap);
  if (rc != FMR_OK)
    status = fail("fmr_close", rc);
  return status;
}
