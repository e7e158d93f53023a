/* fuzz-util.h: helpers shared by the fuzz targets.

   Copyright (C) 2026 The libfmalloc-r authors.
   This file is part of libfmalloc-r, free software under the GNU Lesser
   General Public License, version 2.1 or (at your option) any later version.  */

#ifndef FMR_FUZZ_UTIL_H
#define FMR_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Write SIZE bytes of DATA to the target's scratch file, made on first use
   in a private directory under $TMPDIR (or /tmp) and removed at exit, and
   return its path.  Aborts if the file cannot be written. */
const char *fuzz_write_input(const uint8_t *data, size_t size);

#endif /* FMR_FUZZ_UTIL_H */
