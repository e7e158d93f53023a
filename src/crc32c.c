/* crc32c.c: CRC-32C (Castagnoli polynomial, reflected 0x82F63B78), the
   checksum of meta pages, segment headers and record slots.  Table-driven,
   eight bytes per step; the tables are computed once at first use.

   Copyright (C) 2026 The libfmalloc-r authors.
   This file is part of libfmalloc-r, free software under the GNU Lesser
   General Public License, version 2.1 or (at your option) any later version.
 */

#include <config.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "fmr-internal.h"

#define CRC32C_POLY 0x82F63B78u

static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void make_tables(void)
{
  for (uint32_t n = 0; n < 256; n++) {
    uint32_t c = n;
    for (int k = 0; k < 8; k++)
      c = (c & 1) ? (c >> 1) ^ CRC32C_POLY : c >> 1;
    table[0][n] = c;
  }
  for (uint32_t n = 0; n < 256; n++)
    for (int t = 1; t < 8; t++)
      table[t][n] = (table[t - 1][n] >> 8) ^ table[0][table[t - 1][n] & 0xff];
}

#if defined(__x86_64__) && defined(__GNUC__)
#define HAVE_SSE42_CRC 1
/* The SSE 4.2 crc32 instruction computes exactly CRC-32C, eight bytes a
   cycle or so; used when the processor has it. */
__attribute__((target("sse4.2"))) static uint32_t
crc32c_sse42(uint32_t crc, const unsigned char *p, size_t len)
{
  uint64_t c = ~crc & 0xffffffffu;
  while (len >= 8) {
    uint64_t v;
    memcpy(&v, p, 8);
    c = __builtin_ia32_crc32di(c, v);
    p += 8;
    len -= 8;
  }
  uint32_t c32 = (uint32_t)c;
  while (len--)
    c32 = __builtin_ia32_crc32qi(c32, *p++);
  return ~c32;
}

static bool use_sse42;
#endif

/* Called once: pick the implementation, build the tables if needed. */
static void crc32c_init(void)
{
#ifdef HAVE_SSE42_CRC
  __builtin_cpu_init();
  use_sse42 = __builtin_cpu_supports("sse4.2");
  if (use_sse42)
    return;
#endif
  make_tables();
}

static uint32_t crc32c_table(uint32_t crc, const unsigned char *p, size_t len)
{
  crc = ~crc;
  while (len >= 8) {
    uint32_t lo, hi;
    memcpy(&lo, p, 4);
    memcpy(&hi, p + 4, 4);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    lo = __builtin_bswap32(lo);
    hi = __builtin_bswap32(hi);
#endif
    lo ^= crc;
    crc = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^
          table[5][(lo >> 16) & 0xff] ^ table[4][lo >> 24] ^
          table[3][hi & 0xff] ^ table[2][(hi >> 8) & 0xff] ^
          table[1][(hi >> 16) & 0xff] ^ table[0][hi >> 24];
    p += 8;
    len -= 8;
  }
  while (len--)
    crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
  return ~crc;
}

uint32_t fmr_crc32c(uint32_t crc, const void *data, size_t len)
{
  static _Atomic bool ready;
  if (!atomic_load_explicit(&ready, memory_order_acquire)) {
    pthread_once(&table_once, crc32c_init);
    atomic_store_explicit(&ready, true, memory_order_release);
  }
#ifdef HAVE_SSE42_CRC
  if (use_sse42)
    return crc32c_sse42(crc, data, len);
#endif
  return crc32c_table(crc, data, len);
}
