/* named-array.c: keep a named array of doubles in a persistent heap.

   Copyright (C) 2026 The libfmalloc-r authors.
   This file is part of libfmalloc-r, free software under the GNU Lesser
   General Public License, version 2.1 or (at your option) any later version.

   Usage: named-array FILE

   The first run creates FILE, allocates 1,000,000 doubles (element i holds
   i * 0.5), commits them as a record named "halves" and prints "created".
   A later run opens FILE, finds the record by name, checks every element
   and prints "found" with the first values and the sum.  Exit status 0 on
   success, 1 on failure, 2 on a usage error.  */


#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <fmalloc-r.h>

#define ARRAY_NAME  "halves"
#define ARRAY_COUNT 1000000u
/* Type tag chosen by this program for "array of double": "dbl1".  */
#define ARRAY_TYPE 0x64626c31u

static int fail(const char *what, int code)
{
  fprintf(stderr, "named-array: %s: %s", what, fmr_strerror(code));
  if (fmr_errmsg()[0] != '\0')
    fprintf(stderr, " (%s)", fmr_errmsg());
  fputc('\n', stderr);
  return 1;
}

/* First run: store the array under ARRAY_NAME.  */
static int create_array(fmr_heap *heap)
{
  double *values;
  uint64_t id;
  size_t i;
  int rc;

  rc = fmr_malloc(heap, ARRAY_COUNT * sizeof *values, (void **)&values);
  if (rc != FMR_OK)
    return fail("fmr_malloc", rc);
  for (i = 0; i < ARRAY_COUNT; i++)
    values[i] = (double)i * 0.5;

  /* Until this commit the block is not durable: a crash before it leaves
     no record and no leaked space.  FMR_COMMIT_SYNC makes the record
     survive power loss as soon as fmr_commit returns.  */
  rc = fmr_commit(heap, values, ARRAY_TYPE, ARRAY_COUNT, ARRAY_NAME, NULL, 0,
                  FMR_COMMIT_SYNC, &id);
  if (rc != FMR_OK) {
    fmr_free(heap, values);
    return fail("fmr_commit", rc);
  }
  printf("created: stored %u doubles as record %" PRIu64 " \"%s\"\n",
         ARRAY_COUNT, id, ARRAY_NAME);
  return 0;
}

/* Later run: verify the array found by name.  */
static int verify_array(const fmr_record *record)
{
  const double *values = record->payload;
  double sum = 0.0;
  size_t i;

  if (record->type != ARRAY_TYPE || record->length != ARRAY_COUNT ||
      record->payload_bytes < ARRAY_COUNT * sizeof *values || values == NULL) {
    fprintf(stderr,
            "named-array: record \"%s\" is not an array of %u doubles\n",
            ARRAY_NAME, ARRAY_COUNT);
    return 1;
  }
  for (i = 0; i < ARRAY_COUNT; i++) {
    if (values[i] != (double)i * 0.5) {
      fprintf(stderr, "named-array: element %zu is %g, expected %g\n", i,
              values[i], (double)i * 0.5);
      return 1;
    }
    sum += values[i];
  }
  /* Every partial sum is a multiple of 0.5 below 2^52, so it is exact.  */
  printf("found: record %" PRIu64 " \"%s\", %" PRIu64 " doubles\n", record->id,
         ARRAY_NAME, record->length);
  printf("first values: %g %g %g %g %g\n", values[0], values[1], values[2],
         values[3], values[4]);
  printf("sum: %.1f (expected %.1f)\n", sum,
         0.5 * ((double)ARRAY_COUNT * (ARRAY_COUNT - 1) / 2.0));
  return sum == 0.5 * ((double)ARRAY_COUNT * (ARRAY_COUNT - 1) / 2.0) ? 0 : 1;
}

int main(int argc, char **argv)
{
  fmr_options options;
  fmr_record record;
  fmr_record_init(&record);
  fmr_heap *heap;
  int rc, status;

  if (argc != 2 || argv[1][0] == '\0') {
    fprintf(stderr, "Usage: named-array FILE\n");
    return 2;
  }

  fmr_options_init(&options);
  options.flags = FMR_OPEN_CREATE;
  rc = fmr_open(argv[1], &options, &heap);
  if (rc != FMR_OK)
    return fail(argv[1], rc);

  rc = fmr_record_find(heap, ARRAY_NAME, &record);
  if (rc == FMR_OK)
    status = verify_array(&record);
  else if (rc == FMR_ENOTFOUND)
    status = create_array(heap);
  else
    status = fail("fmr_record_find", rc);

  rc = fmr_close(heap);
  if (rc != FMR_OK)
    status = fail("fmr_close", rc);
  return status;
}
