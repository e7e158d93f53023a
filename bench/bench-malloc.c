/* bench-malloc.c: small-block malloc/free speed, fmr versus glibc.

   Copyright (C) 2026 The libfmalloc-r authors.
   This file is part of libfmalloc-r, free software under the GNU Lesser
   General Public License, version 2.1 or (at your option) any later version.

   Usage: bench-malloc [OPERATIONS [ROUNDS]]

   Generates one random sequence of OPERATIONS (default 20,000,000) steps
   over 4096 slots.  A step picks a slot: if it holds a block, the block is
   freed; otherwise a block of 16..271 bytes is allocated there and its
   first byte written.  Each malloc and each free counts as one operation.
   The same sequence runs with malloc/free and with fmr_malloc/fmr_free in a
   scratch heap, ROUNDS times each (default 3), alternating; the best round
   of each is reported in ns/op, with the ratio fmr / glibc (target: at
   most 1.5).  */

#include <config.h>

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench-common.h"

#define PROGRAM  "bench-malloc"
#define SLOTS    4096u
#define MIN_SIZE 16u

/* One step: slot index in the high bits, size - MIN_SIZE (0..255) in the
   low 8 bits.  */
static uint32_t *steps;
static size_t n_steps;
static void *slots[SLOTS];

/* xorshift64*: a fixed seed gives the same sequence on every run.  */
static uint64_t next_random(uint64_t *state)
{
  uint64_t x = *state;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *state = x;
  return x * UINT64_C(0x2545F4914F6CDD1D);
}

static double run_glibc(void)
{
  double t0, t1;
  size_t i;

  t0 = bench_now_ns();
  for (i = 0; i < n_steps; i++) {
    uint32_t step = steps[i];
    uint32_t slot = step >> 8;
    if (slots[slot] != NULL) {
      free(slots[slot]);
      slots[slot] = NULL;
    } else {
      char *p = malloc(MIN_SIZE + (step & 0xff));
      if (p == NULL) {
        fprintf(stderr, PROGRAM ": malloc failed\n");
        exit(1);
      }
      p[0] = (char)slot;
      slots[slot] = p;
    }
  }
  t1 = bench_now_ns();
  for (i = 0; i < SLOTS; i++) {
    free(slots[i]);
    slots[i] = NULL;
  }
  return t1 - t0;
}

static double run_fmr(const char *dir)
{
  fmr_options options;
  fmr_heap *heap;
  double t0, t1;
  size_t i;
  int rc;

  fmr_options_init(&options);
  options.mode = FMR_MODE_SCRATCH;
  rc = fmr_open(dir, &options, &heap);
  if (rc != FMR_OK)
    bench_fail(PROGRAM, "fmr_open (scratch)", rc);

  t0 = bench_now_ns();
  for (i = 0; i < n_steps; i++) {
    uint32_t step = steps[i];
    uint32_t slot = step >> 8;
    if (slots[slot] != NULL) {
      rc = fmr_free(heap, slots[slot]);
      if (rc != FMR_OK)
        bench_fail(PROGRAM, "fmr_free", rc);
      slots[slot] = NULL;
    } else {
      char *p;
      rc = fmr_malloc(heap, MIN_SIZE + (step & 0xff), (void **)&p);
      if (rc != FMR_OK)
        bench_fail(PROGRAM, "fmr_malloc", rc);
      p[0] = (char)slot;
      slots[slot] = p;
    }
  }
  t1 = bench_now_ns();
  for (i = 0; i < SLOTS; i++) {
    fmr_free(heap, slots[i]);
    slots[i] = NULL;
  }
  rc = fmr_close(heap);
  if (rc != FMR_OK)
    bench_fail(PROGRAM, "fmr_close", rc);
  return t1 - t0;
}

int main(int argc, char **argv)
{
  unsigned long long operations = 20000000ull;
  unsigned long long rounds = 3;
  double best_glibc = 0, best_fmr = 0, ratio;
  uint64_t state = UINT64_C(0x9E3779B97F4A7C15);
  char dir[4096];
  size_t ops;
  unsigned long long r;

  if (argc > 3) {
    fprintf(stderr, "Usage: " PROGRAM " [OPERATIONS [ROUNDS]]\n");
    return 2;
  }
  if (argc > 1)
    operations = bench_parse_count(PROGRAM, argv[1]);
  if (argc > 2)
    rounds = bench_parse_count(PROGRAM, argv[2]);

  /* Pre-generate the steps so both allocators see the same sequence and
     neither pays for the random numbers.  Every step is one operation.  */
  n_steps = (size_t)operations;
  steps = malloc(n_steps * sizeof *steps);
  if (steps == NULL) {
    fprintf(stderr, PROGRAM ": cannot allocate %zu steps\n", n_steps);
    return 1;
  }
  ops = 0;
  for (size_t i = 0; i < n_steps; i++) {
    uint64_t x = next_random(&state);
    uint32_t slot = (uint32_t)(x >> 52); /* 12 bits: 0..4095 */
    uint32_t size = (uint32_t)(x & 0xff);
    steps[i] = (slot << 8) | size;
    ops++;
  }

  bench_make_tmpdir(PROGRAM, dir, sizeof dir);
  for (r = 0; r < rounds; r++) {
    double g = run_glibc();
    double f = run_fmr(dir);
    if (r == 0 || g < best_glibc)
      best_glibc = g;
    if (r == 0 || f < best_fmr)
      best_fmr = f;
  }
  bench_remove(dir, NULL);
  free(steps);

  ratio = best_fmr / best_glibc;
  printf(PROGRAM ": %zu operations (malloc or free of 16..271 bytes, "
                 "%u slots), best of %llu rounds\n",
         ops, SLOTS, rounds);
  printf("glibc malloc/free:    %8.2f ns/op\n", best_glibc / (double)ops);
  printf("fmr_malloc/fmr_free:  %8.2f ns/op\n", best_fmr / (double)ops);
  printf("ratio fmr/glibc:      %8.2f (target <= 1.5: %s)\n", ratio,
         ratio <= 1.5 ? "met" : "NOT met");
  return 0;
}
