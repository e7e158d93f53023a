/* make-corpus.c: write the seed files of the fuzz corpus: heap files in
   the states the library produces (empty, with records, names, metadata,
   tombstones, updated records awaiting a sync, not closed cleanly).

   Copyright (C) 2026 The libfmalloc-r authors.
   This file is part of libfmalloc-r, free software under the GNU Lesser
   General Public License, version 2.1 or (at your option) any later version.

   Usage: make-corpus DIRECTORY (writes seed-*.fmr there).  */

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

int main(int argc, char **argv)
{
  if (argc != 2) {
    fprintf(stderr, "usage: make-corpus DIRECTORY\n");
    return 2;
  }
  const char *dir = argv[1];
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
