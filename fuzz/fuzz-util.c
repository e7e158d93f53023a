/* fuzz-util.c: helpers shared by the fuzz targets (the scratch file that
   holds the input's heap file).

   Copyright (C) 2026 The libfmalloc-r authors.
   This file is part of libfmalloc-r, free software under the GNU Lesser
   General Public License, version 2.1 or (at your option) any later version.  */

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fuzz-util.h"

static char dir[4000], path[4096];

static void remove_dir(void)
{
  unlink(path);
  rmdir(dir);
}

static void make_path(void)
{
  if (path[0] != '\0')
    return;
  const char *tmp = getenv("TMPDIR");
  snprintf(dir, sizeof dir, "%s/fmr-fuzz.XXXXXX", tmp ? tmp : "/tmp");
  if (mkdtemp(dir) == NULL) {
    perror("mkdtemp");
    abort();
  }
  snprintf(path, sizeof path, "%s/input.fmr", dir);
  atexit(remove_dir);
}

const char *fuzz_write_input(const uint8_t *data, size_t size)
{
  make_path();
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) {
    perror("open");
    abort();
  }
  while (size > 0) {
    ssize_t n = write(fd, data, size);
    if (n <= 0) {
      perror("write");
      abort();
    }
    data += n;
    size -= (size_t)n;
  }
  close(fd);
  return path;
}
