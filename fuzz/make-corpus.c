/* make-corpus.c: write the seed files of the fuzz corpora.  For
   fuzz-open: heap files in the states the library produces (empty, with
   records, names, metadata, tombstones, updated records awaiting a sync,
   not closed cleanly).  For fuzz-ops: those files, or none (a new heap),
   each followed by an operation script (see fuzz-ops.c for the layout).

   Copyright (C) 2026 The libfmalloc-r authors.
   This file is part of libfmalloc-r, free software under the GNU Lesser
   General Public License, version 2.1 or (at your option) any later version.

   Usage: make-corpus DIRECTORY         (writes seed-*.fmr there)
          make-corpus --ops DIRECTORY   (writes ops-*.bin there)  */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmalloc-r.h>

#define CHECK(call)                                                         \
  do {                                                                      \
    int rc_ = (call);                                                       \
    if (rc_ != FMR_OK) {                                                    \
      fprintf(stderr, "%s: %s (%s)\n", #call, fmr_strerror(rc_),            \
              fmr_errmsg());                                                \
      exit(1);                                                              \
    }                                                                       \
  } while (0)

static fmr_heap *create(const char *dir, const char *name)
{
  char path[4096];
  fmr_options o;
  fmr_heap *heap;
  snprintf(path, sizeof path, "%s/%s", dir, name);
  unlink(path);
  fmr_options_init(&o);
  o.flags = FMR_OPEN_CREATE;
  o.initial_size = 64 * 1024;
  CHECK(fmr_open(path, &o, &heap));
  return heap;
}

static uint64_t put(fmr_heap *heap, size_t size, const char *name,
                    const char *meta)
{
  void *p;
  uint64_t id;
  CHECK(fmr_malloc(heap, size, &p));
  memset(p, (int)size, size);
  CHECK(fmr_commit(heap, p, 14, size / 8, name, meta,
                   meta ? strlen(meta) : 0, 0, &id));
  return id;
}

static int write_heap_seeds(const char *dir)
{
  fmr_heap *h;

  h = create(dir, "seed-empty.fmr");
  CHECK(fmr_close(h));

  h = create(dir, "seed-records.fmr");
  put(h, 100, "a", "attributes");
  put(h, 3000, "b", NULL);
  put(h, 64, NULL, NULL);
  CHECK(fmr_commit(h, NULL, 0, 0, "nothing", NULL, 0, 0, NULL));
  CHECK(fmr_close(h));

  h = create(dir, "seed-tombstones.fmr");
  for (int i = 0; i < 70; i++) { /* a second catalog segment */
    char name[16];
    snprintf(name, sizeof name, "r%d", i);
    uint64_t id = put(h, 64 + (size_t)i * 8, name, i % 3 ? "m" : NULL);
    if (i % 4 == 0)
      CHECK(fmr_record_tombstone(h, id));
    if (i % 7 == 0)
      CHECK(fmr_record_free(h, id));
  }
  CHECK(fmr_close(h));

  /* Updated records whose old slots wait for a sync, left unclean. */
  pid_t pid = fork();
  if (pid == 0) {
    h = create(dir, "seed-unclean.fmr");
    uint64_t id = put(h, 200, "a", "v1");
    CHECK(fmr_sync(h));
    CHECK(fmr_record_update(h, id, 15, 9, "v2", 2));
    CHECK(fmr_record_rename(h, id, "renamed"));
    void *p;
    CHECK(fmr_malloc(h, 500, &p));
    CHECK(fmr_record_set_payload(h, id, p, 62));
    _exit(0); /* no close: the file stays marked in use */
  }
  int status;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

/* ------------------------------------------------------------------ */
/* fuzz-ops seeds                                                       */

#define OP_BYTES 16 /* as in fuzz-ops.c */
#define OP_COUNT 20

static unsigned char *read_whole(const char *path, size_t *len)
{
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    perror(path);
    exit(1);
  }
  size_t cap = 1 << 17;
  unsigned char *buf = malloc(cap);
  if (buf == NULL)
    exit(1);
  *len = fread(buf, 1, cap, f);
  fclose(f);
  return buf;
}

static uint64_t rng_state = 12345;

static unsigned next_byte(void)
{
  uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));
  z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
  return (unsigned)((z ^ (z >> 31)) & 0xff);
}

/* A script of N steps: opcodes from OPS (cycled), or random where OPS is
   NULL; argument bytes random. */
static void make_script(unsigned char *script, size_t n, const char *ops)
{
  size_t nops = ops != NULL ? strlen(ops) : 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char *step = script + i * OP_BYTES;
    for (int k = 0; k < OP_BYTES; k++)
      step[k] = (unsigned char)next_byte();
    /* Opcodes are letters: 'a' is 0 (malloc), 'b' 1 (calloc), ... */
    step[0] = nops ? (unsigned char)(ops[i % nops] - 'a')
                   : (unsigned char)(next_byte() % OP_COUNT);
  }
}

static void write_ops_seed(const char *dir, const char *name,
                           const unsigned char *file, size_t file_len,
                           size_t steps, const char *ops)
{
  size_t script_len = steps * OP_BYTES;
  size_t len = 2 + file_len + script_len;
  unsigned char *buf = malloc(len);
  char path[4096];
  if (buf == NULL)
    exit(1);
  buf[0] = (unsigned char)(script_len & 0xff);
  buf[1] = (unsigned char)(script_len >> 8);
  if (file_len > 0)
    memcpy(buf + 2, file, file_len);
  make_script(buf + 2 + file_len, steps, ops);
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  if (f == NULL || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
    perror(path);
    exit(1);
  }
  free(buf);
}

/* A new heap and a script of the opcodes OPS with some argument bytes
   forced: in FORCED, the character at a step's index says what its
   choice byte (fuzz-ops.c) asks for, '.' leaving all random:
     S  reopen: open a scratch heap instead
     M  reopen: the close, sync: the sync, commit: its FMR_COMMIT_SYNC
        flush; the Nth msync fails (N = 1, 2, 3 on the 1st, 2nd, 3rd M)
     F  reopen or sync: the first fsync fails
   compaction (s): M and F choose its failed flush the same way;
     G, g  malloc: a block of 64 KiB, which grows a new heap, with the
        first fsync (G) or the Nth msync (g, counted with M) failing */
static void write_forced_seed(const char *dir, const char *name,
                              const char *ops, const char *forced)
{
  size_t steps = strlen(ops);
  size_t script_len = steps * OP_BYTES;
  size_t len = 2 + script_len;
  unsigned char *buf = malloc(len);
  char path[4096];
  unsigned nth = 0;
  if (buf == NULL)
    exit(1);
  buf[0] = (unsigned char)(script_len & 0xff);
  buf[1] = (unsigned char)(script_len >> 8);
  make_script(buf + 2, steps, ops);
  for (size_t i = 0; i < steps; i++) {
    unsigned char *step = buf + 2 + i * OP_BYTES;
    char f = forced[i];
    unsigned arm = f == 'F' || f == 'G' ? 3 : 2 + 4 * (nth % 3);
    if (f == '.')
      continue;
    if (f == 'M' || f == 'g')
      nth++;
    switch (ops[i]) {
    case 'q': /* byte 1: scratch one time in eight; byte 2: the fault */
      step[1] = f == 'S' ? 7 : 0;
      step[2] = (unsigned char)arm;
      break;
    case 'n':
      step[1] = (unsigned char)arm;
      break;
    case 'a': /* 64 KiB (pick_size case 6); the last byte: 7 + fault << 3 */
      if (f != 'G' && f != 'g')
        break;
      step[1] = 6;
      step[2] = 0x00;
      step[3] = 0x40;
      step[OP_BYTES - 1] = (unsigned char)(7 | arm << 3);
      break;
    case 's': /* the last byte: 3 + fault << 2 */
      step[OP_BYTES - 1] = (unsigned char)(3 | arm << 2);
      break;
    case 'e': /* name n<i>, FMR_COMMIT_SYNC, the fault in the last byte */
      step[2] = (unsigned char)(i % 12);
      step[8] = 0;
      step[OP_BYTES - 1] = (unsigned char)arm;
      break;
    default:
      break;
    }
  }
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  if (f == NULL || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
    perror(path);
    exit(1);
  }
  free(buf);
}

/* Opcodes of fuzz-ops.c as letters:
   a malloc  b calloc  c realloc  d free  e commit  f find  g get
   h update  i rename  j set_payload  k tombstone  l record_free
   m reclaim  n sync  o refresh  p foreach  q reopen  r reopen read-only
   s compact  t bad arguments */
static int write_ops_seeds(const char *dir)
{
  char tmp[3000];
  const char *t = getenv("TMPDIR");
  snprintf(tmp, sizeof tmp, "%s/make-corpus.XXXXXX", t ? t : "/tmp");
  if (mkdtemp(tmp) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  if (write_heap_seeds(tmp) != 0)
    return 1;
  static const char *files[] = {"seed-records.fmr", "seed-tombstones.fmr",
                                "seed-unclean.fmr"};
  unsigned char *heap[3];
  size_t heap_len[3];
  for (int i = 0; i < 3; i++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", tmp, files[i]);
    heap[i] = read_whole(path, &heap_len[i]);
    unlink(path);
  }
  char path[4096];
  snprintf(path, sizeof path, "%s/seed-empty.fmr", tmp);
  unlink(path);
  rmdir(tmp);

  /* A new heap: every operation, then the life of records. */
  write_ops_seed(dir, "ops-new-every-op.bin", NULL, 0, 40,
                 "abcdefghijklmnopqrst");
  write_ops_seed(dir, "ops-new-records.bin", NULL, 0, 48,
                 "aaeaeaefgghijakfilmaeqaernaesagjph");
  write_ops_seed(dir, "ops-new-blocks.bin", NULL, 0, 48, "aabacadbcdaacd");
  write_ops_seed(dir, "ops-new-reopen.bin", NULL, 0, 32,
                 "aeaeakqaeraesgfq");
  for (int i = 0; i < 4; i++) {
    char name[32];
    snprintf(name, sizeof name, "ops-new-random-%d.bin", i);
    write_ops_seed(dir, name, NULL, 0, 64, NULL);
  }
  /* The heap files of the fuzz-open corpus with scripts. */
  write_ops_seed(dir, "ops-records.bin", heap[0], heap_len[0], 32,
                 "gfhijklpaeqrs");
  write_ops_seed(dir, "ops-tombstones.bin", heap[1], heap_len[1], 32,
                 "pgmkslaeqrt");
  write_ops_seed(dir, "ops-unclean.bin", heap[2], heap_len[2], 32,
                 "gfijhaejnqrs");
  for (int i = 0; i < 3; i++)
    free(heap[i]);
  /* Scratch heaps and failed flushes (forced choices). */
  write_forced_seed(dir, "ops-scratch.bin", "aeaqabcdeafgmnpqae",
                    "...S.......MF..S..");
  write_forced_seed(dir, "ops-sync-fails.bin", "aeaeldnaenaeknaenle",
                    "......M...M.....F..");
  write_forced_seed(dir, "ops-commit-sync-fails.bin", "aeaeaealdaeqae",
                    ".M.M.M.....F..");
  write_forced_seed(dir, "ops-close-fails.bin", "aeaelqaeaqae",
                    ".....M...F..");
  write_forced_seed(dir, "ops-grow-fails.bin", "aeaeaaaeqae",
                    "....G.g....");
  write_forced_seed(dir, "ops-compact-fails.bin", "aeaekaesaesq",
                    ".......F..M.");
  return 0;
}

int main(int argc, char **argv)
{
  if (argc == 3 && strcmp(argv[1], "--ops") == 0)
    return write_ops_seeds(argv[2]);
  if (argc != 2) {
    fprintf(stderr, "usage: make-corpus [--ops] DIRECTORY\n");
    return 2;
  }
  return write_heap_seeds(argv[1]);
}
