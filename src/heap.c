/* heap.c: heaps as files: create, open and validate, map, grow, sync,
   close; the process-wide registry that makes a second open of the same
   file share one heap; statistics.

   The heap reserves its maximum size of address space once (PROT_NONE,
   MAP_NORESERVE: costs no memory) and maps the file over the start of it,
   extending the mapping in place as the file grows, so the heap never
   moves while it is open and any number of heaps coexist at any address.

   Copyright (C) 2026 The libfmalloc-r authors.
   This file is part of libfmalloc-r, free software under the GNU Lesser
   General Public License, version 2.1 or (at your option) any later version.
 */

#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#ifdef __linux__
#include <linux/fiemap.h>
#include <linux/fs.h>
#endif

#include "fmr-internal.h"

#define DEFAULT_INITIAL_SIZE (UINT64_C(1) << 20)
#define MIN_INITIAL_SIZE     (UINT64_C(64) << 10)
#define DEFAULT_MAX_SIZE     (UINT64_C(1) << 38)
#define GROWTH_UNIT          (UINT64_C(1) << 20)
#define GROWTH_MIN           (UINT64_C(4) << 20)
#define GROWTH_SMALL         (UINT64_C(64) << 10) /* growth unit near a limit */
#define GROWTH_CAP           (UINT64_C(1) << 30)

/* Every open heap of the process, persistent or scratch, and every heap
   being opened (heap->opening).  registry_lock guards the list and the
   heaps' opening, closing and compacting flags and is held only to look
   at or change them, never while a file is read, formatted or synced:
   an open of a big heap must not hold up the opens and closes of other
   files.  Lock order: registry_lock before any heap's lock. */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
/* Signalled when a heap is no longer opening or closing. */
static pthread_cond_t registry_cond = PTHREAD_COND_INITIALIZER;
static struct fmr_heap *registry;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* fork(): no heap may be in the middle of a change while the child's copy
   is taken, so every lock is held across the fork.  The child's heaps
   share the parent's file, mapping and writer lock, so they must never
   change it: they are marked forked and leave the registry (a new open in
   the child opens the file anew), and their mapping is replaced by a
   private copy-on-write mapping of the same file range, so that stores
   the child makes through pointers (an R child changing a vector it
   inherited) stay in the child, as they would in ordinary memory.  Pages
   the child never writes keep showing the file as it is now (Linux).
   A heap still being opened (heap->opening) is skipped: its opener works
   on it without any lock and nothing else can reach it; in the child,
   where the opener does not exist, it is simply forgotten.  The flag
   cannot change during the fork, since it changes under registry_lock. */
static void atfork_prepare(void)
{
  pthread_mutex_lock(&registry_lock);
  for (struct fmr_heap *h = registry; h != NULL; h = h->registry_next)
    if (!h->opening)
      fmr_lock(h);
}

static void atfork_parent(void)
{
  for (struct fmr_heap *h = registry; h != NULL; h = h->registry_next)
    if (!h->opening)
      fmr_unlock(h);
  pthread_mutex_unlock(&registry_lock);
}

/* The protection and flags of the file mapping of HEAP: a fork() child
   whose mapping was made private (atfork_child) maps the rest of the file
   the same way, read-write even if the file is open read-only;
   everything else maps it shared, read-only for a reader. */
static int map_prot(const struct fmr_heap *heap)
{
  if (heap->private_map)
    return PROT_READ | PROT_WRITE;
  return PROT_READ | (heap->readonly ? 0 : PROT_WRITE);
}

static int map_flags(const struct fmr_heap *heap)
{
  /* MAP_NORESERVE: the private copy costs memory only for the pages the
     child writes, as fork() charges none for its copy of the heap; without
     it a heap larger than RAM and swap could not be mapped privately. */
  if (heap->private_map)
    return MAP_PRIVATE | MAP_NORESERVE | MAP_FIXED;
  return MAP_SHARED | MAP_FIXED;
}

static void atfork_child(void)
{
  struct fmr_heap *h = registry, *next;
  for (; h != NULL; h = next) {
    next = h->registry_next;
    if (h->opening)
      continue;
    h->forked = true;
    h->registry_next = NULL;
    uint64_t mapped = atomic_load_explicit(&h->mapped, memory_order_relaxed);
    /* A closing heap may already be unmapped, its address range reused:
       nothing of it may be mapped again.  mmap is a plain system call,
       safe here even when the parent had other threads. */
    if (!h->closing && h->base != NULL && mapped > 0) {
      h->private_map = true;
      if (mmap(h->base, (size_t)mapped, map_prot(h), map_flags(h), h->fd, 0) ==
          MAP_FAILED) {
        /* The shared mapping stays (the handler cannot report an error).
           A MAP_FIXED mmap that fails may already have removed the old
           mapping (older Linux kernels do), so map the file shared
           again. */
        h->private_map = false;
        (void)mmap(h->base, (size_t)mapped, map_prot(h), map_flags(h), h->fd,
                   0);
      }
    }
    fmr_unlock(h);
  }
  registry = NULL;
  pthread_mutex_unlock(&registry_lock);
}

static void install_atfork(void)
{
  pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

int fmr_heap_not_writable(struct fmr_heap *heap)
{
  if (heap->readonly)
    return fmr_fail(FMR_EREADONLY, "heap %s is open read-only", heap->path);
  if (heap->forked)
    return fmr_fail(FMR_EFORKED,
                    "heap %s was opened by the parent of this process; "
                    "open the file again here",
                    heap->path);
  return FMR_OK;
}

/* Where the file of the persistent HEAP is now (enum fmr_file_state, with
   the message set unless it is current), or FMR_EIO.  LINKS is the file's
   link count, from an fstat the caller made.  The path is compared by
   device and inode: the registry's key. */
static int file_state_of(struct fmr_heap *heap, nlink_t links)
{
  struct stat st;
  bool at_path = false, other = false;
  if (stat(heap->path, &st) == 0) {
    at_path = st.st_dev == heap->dev && st.st_ino == heap->ino;
    other = !at_path;
  } else if (errno != ENOENT && errno != ENOTDIR) {
    return fmr_fail_errno(FMR_EIO, errno, "cannot stat %s", heap->path);
  }
  if (links == 0 && other)
    return fmr_fail(FMR_FILE_REPLACED,
                    "%s was replaced by another file after this heap "
                    "opened it; this heap's file has no name left",
                    heap->path);
  if (links == 0)
    return fmr_fail(FMR_FILE_DELETED,
                    "%s was deleted after this heap opened it", heap->path);
  if (!at_path)
    return fmr_fail(FMR_FILE_MOVED,
                    other ? "%s names another file now; this heap's file "
                            "was moved or linked elsewhere"
                          : "%s no longer exists; this heap's file was "
                            "moved or linked elsewhere",
                    heap->path);
  return FMR_FILE_CURRENT;
}

int fmr_heap_linked(struct fmr_heap *heap)
{
  struct stat st;
  if (heap->mode != FMR_MODE_PERSISTENT)
    return FMR_OK;
  if (fstat(heap->fd, &st) != 0)
    return fmr_fail_errno(FMR_EIO, errno, "cannot stat %s", heap->path);
  if (__builtin_expect(st.st_nlink > 0, 1))
    return FMR_OK;
  int state = file_state_of(heap, 0);
  if (state < 0)
    return state;
  return fmr_fail(FMR_EGONE,
                  state == FMR_FILE_REPLACED
                      ? "%s was replaced by another file after it was "
                        "opened: changes to this heap would be lost when it "
                        "closes"
                      : "%s was deleted after it was opened: changes to "
                        "this heap would be lost when it closes",
                  heap->path);
}

FMR_EXPORT int fmr_file_state(fmr_heap *heap)
{
  struct stat st;
  if (heap == NULL)
    return fmr_fail(FMR_EINVAL, "fmr_file_state: heap is required");
  if (heap->mode != FMR_MODE_PERSISTENT)
    return fmr_fail(FMR_ESCRATCH, "a scratch heap's file has no name");
  if (fstat(heap->fd, &st) != 0)
    return fmr_fail_errno(FMR_EIO, errno, "cannot stat %s", heap->path);
  return file_state_of(heap, st.st_nlink);
}

static uint64_t page_size(void)
{
  long p = sysconf(_SC_PAGESIZE);
  return p > 0 ? (uint64_t)p : 4096;
}

static uint64_t round_up(uint64_t n, uint64_t unit)
{
  return (n + unit - 1) / unit * unit;
}

static int errno_code(int err)
{
  switch (err) {
  case ENOSPC:
  case EFBIG:
  case EDQUOT:
    return FMR_ENOSPC;
  case ENOMEM:
    return FMR_ENOMEM;
  case EACCES:
  case EPERM:
  case EROFS:
    return FMR_EACCES;
  case ENOENT:
    return FMR_ENOENT;
  default:
    return FMR_EIO;
  }
}

/* The defaults, written only as far as the caller's STRUCT_SIZE (its
   sizeof (fmr_options), through the fmr_options_init macro) reaches: a
   caller built against an older, shorter fmr_options is never written
   past its end. */
FMR_EXPORT void fmr_options_init_size(fmr_options *options, size_t struct_size)
{
  if (options == NULL || struct_size < sizeof options->struct_size)
    return;
  fmr_options d;
  memset(&d, 0, sizeof d);
  d.mode = FMR_MODE_PERSISTENT;
  d.file_mode = 0666;
  memset(options, 0, struct_size);
  memcpy(options, &d, struct_size < sizeof d ? struct_size : sizeof d);
  options->struct_size = struct_size;
}

FMR_EXPORT void fmr_stats_init_size(fmr_stats *stats, size_t struct_size)
{
  if (stats == NULL || struct_size < sizeof stats->struct_size)
    return;
  memset(stats, 0, struct_size);
  stats->struct_size = struct_size;
}

/* ------------------------------------------------------------------ */
/* Meta pages                                                           */

static uint32_t meta_checksum(const struct fmr_disk_meta *meta)
{
  return fmr_crc32c(0, meta, offsetof(struct fmr_disk_meta, meta_checksum));
}

static struct fmr_disk_meta *meta_page(struct fmr_heap *heap, uint64_t txn)
{
  return (struct fmr_disk_meta *)fmr_at(heap, (txn % FMR_META_PAGES) *
                                                  FMR_META_PAGE_SIZE);
}

int fmr_heap_msync(struct fmr_heap *heap, uint64_t offset, uint64_t len)
{
  uint64_t ps = page_size();
  uint64_t start = offset / ps * ps;
  uint64_t end = round_up(offset + len, ps);
  if (end > heap->mapped)
    end = heap->mapped;
  if (heap->mode == FMR_MODE_SCRATCH || end <= start)
    return FMR_OK;
  if (msync(heap->base + start, end - start, MS_SYNC) != 0)
    return fmr_fail_errno(FMR_EIO, errno, "msync of %s failed", heap->path);
  return FMR_OK;
}

/* Write the next meta page: update number meta_txn + 1 goes to page
   (meta_txn + 1) % 2, leaving the current page intact until the new one is
   complete.  With DURABLE the page is flushed to disk before returning. */
static int write_meta(struct fmr_heap *heap, bool clean, bool durable)
{
  struct fmr_disk_meta meta = heap->meta;
  meta.meta_txn++;
  meta.meta_file_size = heap->file_size;
  /* A writer's meta page records the bound of the ids it may issue
     (fmr_heap_reserve_ids); a clean close records the exact next id. */
  meta.meta_next_id =
      clean || heap->id_limit < heap->next_id ? heap->next_id : heap->id_limit;
  meta.meta_flags = clean ? (meta.meta_flags | FMR_META_CLEAN)
                          : (meta.meta_flags & ~(uint64_t)FMR_META_CLEAN);
  /* This library counts catalog changes (see fmr-internal.h). */
  meta.meta_features_compat |= FMR_FEATURE_COMPAT_CHANGE_COUNT;
  meta.meta_change_txn = meta.meta_txn;
  meta.meta_size = sizeof meta;
  meta.meta_checksum = meta_checksum(&meta);
  memcpy(meta_page(heap, meta.meta_txn), &meta, sizeof meta);
  heap->meta = meta;
  if (durable)
    return fmr_heap_msync(
        heap, (meta.meta_txn % FMR_META_PAGES) * FMR_META_PAGE_SIZE,
        FMR_META_PAGE_SIZE);
  return FMR_OK;
}

int fmr_heap_write_meta(struct fmr_heap *heap, bool clean)
{
  return write_meta(heap, clean, true);
}

/* Ids must never be reused, across any crash: a reference to (id,
   generation) kept outside the file would otherwise name another record.
   The highest id in the catalog is not enough (the slot that held it may
   be emptied and reused, and after a power loss the slot may be lost),
   so before next_id reaches the bound recorded in the meta page, a
   durable meta page raises the bound.  One meta write per FMR_ID_RESERVE
   ids; after a crash the ids continue above the bound, leaving a gap. */
int fmr_heap_reserve_ids(struct fmr_heap *heap)
{
  if (heap->next_id < heap->id_limit)
    return FMR_OK;
  uint64_t old = heap->id_limit;
  heap->id_limit = heap->next_id + FMR_ID_RESERVE;
  int rc = write_meta(heap, false, true);
  if (rc != FMR_OK)
    heap->id_limit = old;
  return rc;
}

/* Validate the two meta pages read from a file of FILE_SIZE bytes and copy
   the current one to *OUT.  See the manual's "Opening a file" for the
   order of the checks, which decides the error a damaged file gives. */
static int choose_meta(const char *path, const unsigned char *pages,
                       uint64_t file_size, struct fmr_disk_meta *out)
{
  struct fmr_disk_meta m[FMR_META_PAGES];
  int best = -1, first_magic = -1;

  for (int i = 0; i < FMR_META_PAGES; i++) {
    memcpy(&m[i], pages + i * FMR_META_PAGE_SIZE, sizeof m[i]);
    if (memcmp(m[i].meta_magic, FMR_MAGIC, FMR_MAGIC_SIZE) != 0)
      continue;
    if (first_magic < 0)
      first_magic = i;
    if (m[i].meta_byte_order == FMR_BYTE_ORDER_MARK &&
        m[i].meta_version == FMR_FORMAT_VERSION &&
        m[i].meta_size == sizeof m[i] &&
        m[i].meta_checksum == meta_checksum(&m[i]) &&
        (best < 0 || m[i].meta_txn > m[best].meta_txn))
      best = i;
  }
  if (first_magic < 0)
    return fmr_fail(FMR_ENOTHEAP,
                    "%s is not a libfmalloc-r heap file (no magic); it was "
                    "left untouched",
                    path);
  if (file_size < FMR_HEAP_START)
    return fmr_fail(FMR_ETRUNCATED,
                    "%s is %llu bytes, shorter than the two meta pages of a "
                    "heap file: it was truncated",
                    path, (unsigned long long)file_size);
  if (best < 0) {
    const struct fmr_disk_meta *f = &m[first_magic];
    if (f->meta_byte_order == __builtin_bswap32(FMR_BYTE_ORDER_MARK))
      return fmr_fail(FMR_EBYTEORDER,
                      "%s was written on a machine of the other byte order",
                      path);
    if (f->meta_version != FMR_FORMAT_VERSION)
      return fmr_fail(FMR_EVERSION,
                      "%s has format version %u; this library reads "
                      "version %u",
                      path, f->meta_version, FMR_FORMAT_VERSION);
    return fmr_fail(FMR_ECHECKSUM,
                    "both meta pages of %s fail their checksum: the file is "
                    "damaged",
                    path);
  }
  *out = m[best];
  if (out->meta_page_size != FMR_META_PAGE_SIZE ||
      out->meta_granule != FMR_GRANULE)
    return fmr_fail(FMR_EPAGESIZE,
                    "%s records page size %u and granule %u; this library "
                    "supports %u and %u",
                    path, out->meta_page_size, out->meta_granule,
                    FMR_META_PAGE_SIZE, FMR_GRANULE);
  return FMR_OK;
}

static int check_features(const char *path, const struct fmr_disk_meta *meta,
                          bool writer)
{
  uint64_t incompat =
      meta->meta_features_incompat & ~(uint64_t)FMR_FEATURES_INCOMPAT_KNOWN;
  uint64_t ro =
      meta->meta_features_ro_compat & ~(uint64_t)FMR_FEATURES_RO_COMPAT_KNOWN;
  if (incompat != 0)
    return fmr_fail(FMR_EFEATURE,
                    "%s uses unknown incompatible features 0x%llx", path,
                    (unsigned long long)incompat);
  if (writer && ro != 0)
    return fmr_fail(FMR_EFEATURE,
                    "%s uses unknown features 0x%llx that this library can "
                    "read but not write; open it read-only",
                    path, (unsigned long long)ro);
  return FMR_OK;
}

/* ------------------------------------------------------------------ */
/* Mapping and growth                                                   */

static int reserve_and_map(struct fmr_heap *heap, uint64_t reserve,
                           uint64_t size)
{
  int prot = PROT_READ | (heap->readonly ? 0 : PROT_WRITE);
  if (reserve > SIZE_MAX)
    return fmr_fail(FMR_ETOOBIG, "cannot reserve %llu bytes of address space",
                    (unsigned long long)reserve);
  void *base = mmap(NULL, (size_t)reserve, PROT_NONE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  /* The default maximum is only a wish: where the address space is
     limited (ulimit -v: ENOMEM; valgrind refuses large reservations
     with EINVAL) settle for less, down to 64 MiB or the file's size. */
  uint64_t floor = round_up(
      size > (UINT64_C(64) << 20) ? size : (UINT64_C(64) << 20), GROWTH_UNIT);
  while (base == MAP_FAILED && (errno == ENOMEM || errno == EINVAL) &&
         heap->default_max &&
         reserve / 2 >= floor) {
    reserve = round_up(reserve / 2, GROWTH_UNIT);
    base = mmap(NULL, (size_t)reserve, PROT_NONE,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  }
  if (base == MAP_FAILED)
    return fmr_fail_errno(FMR_ENOMEM, errno,
                          "cannot reserve %llu bytes of address space for "
                          "%s; open with a smaller max_size",
                          (unsigned long long)reserve, heap->path);
  heap->base = base;
  heap->reserved = reserve;
  if (mmap(base, (size_t)size, prot, MAP_SHARED | MAP_FIXED, heap->fd, 0) ==
      MAP_FAILED)
    return fmr_fail_errno(errno_code(errno), errno, "cannot map %s",
                          heap->path);
  atomic_store_explicit(&heap->mapped, size, memory_order_release);
  return FMR_OK;
}

/* Map the file from heap->mapped up to NEW_SIZE.  Reached by growth (a
   writer, never a forked heap: changes fail first with FMR_EFORKED) and
   by a reader's refresh, which a fork() child of a reader may do: its
   new part is then private and writable like the rest (map_flags). */
static int map_more(struct fmr_heap *heap, uint64_t new_size)
{
  uint64_t mapped = atomic_load_explicit(&heap->mapped, memory_order_relaxed);
  if (new_size <= mapped)
    return FMR_OK;
  if (mmap(heap->base + mapped, (size_t)(new_size - mapped), map_prot(heap),
           map_flags(heap), heap->fd, (off_t)mapped) == MAP_FAILED)
    return fmr_fail_errno(errno_code(errno), errno, "cannot map more of %s",
                          heap->path);
  atomic_store_explicit(&heap->mapped, new_size, memory_order_release);
  return FMR_OK;
}

/* Reserve disk blocks for [FROM, TO) so that touching them later cannot
   fault.  Filesystems without fallocate fall back to glibc's emulation. */
static int reserve_disk(struct fmr_heap *heap, uint64_t from, uint64_t to)
{
  int err = posix_fallocate(heap->fd, (off_t)from, (off_t)(to - from));
  if (err == 0)
    return FMR_OK;
  return fmr_fail_errno(errno_code(err), err,
                        "cannot extend %s from %llu to %llu bytes", heap->path,
                        (unsigned long long)from, (unsigned long long)to);
}

/* Bytes the file system of the open file FD has free for an
   unprivileged writer: f_bavail * f_frsize.  Not f_bfree: blocks kept
   for root are the machine's reserve, which a heap should not eat even
   when its process is root.  UINT64_MAX when the file system does not
   say (fstatvfs fails, or it reports no blocks at all, as some virtual
   and network file systems do): the fallocate is then the only check. */
static uint64_t disk_free(int fd)
{
  struct statvfs v;
  if (fstatvfs(fd, &v) != 0 || v.f_blocks == 0 || v.f_frsize == 0)
    return UINT64_MAX;
  if ((uint64_t)v.f_bavail > UINT64_MAX / (uint64_t)v.f_frsize)
    return UINT64_MAX;
  return (uint64_t)v.f_bavail * (uint64_t)v.f_frsize;
}

static double gib(uint64_t bytes)
{
  return (double)bytes / (double)(UINT64_C(1) << 30);
}

/* Give back what a failed growth took: posix_fallocate can fail part of
   the way and keep what it got (ext4 keeps the blocks and the larger file
   size), which would leave the file longer and the file system full.
   Cut the file back to BEFORE, its size when the growth began, but never
   below what the meta page records or what is mapped: stores there must
   keep their blocks.  Best effort: the growth's own error is what the
   caller reports, so a failed ftruncate only leaves the tail, which the
   next writer open adopts. */
static void give_back(struct fmr_heap *heap, uint64_t before)
{
  struct stat st;
  uint64_t floor = heap->file_size;
  uint64_t mapped = atomic_load_explicit(&heap->mapped, memory_order_relaxed);
  if (floor < heap->meta.meta_file_size)
    floor = heap->meta.meta_file_size;
  if (floor < mapped)
    floor = mapped;
  if (before < floor)
    before = floor;
  if (fstat(heap->fd, &st) != 0 || (uint64_t)st.st_size <= before)
    return;
  if (ftruncate(heap->fd, (off_t)before) != 0)
    return; /* the tail stays; the growth's error is the one reported */
}

int fmr_heap_grow(struct fmr_heap *heap, uint64_t min_bytes)
{
  struct stat st;
  uint64_t old = heap->file_size;
  uint64_t unit = page_size() > GROWTH_SMALL ? page_size() : GROWTH_SMALL;
  uint64_t room = heap->reserved - old;
  uint64_t tail = 0, *v;
  int rc;

  /* Free space at the end of the heap counts toward the request. */
  v = fmr_map_get(&heap->extents.by_end, old >> FMR_GRANULE_SHIFT);
  if (v != NULL)
    tail = heap->extents.nodes[*v].len << FMR_GRANULE_SHIFT;
  uint64_t need = round_up(min_bytes > tail ? min_bytes - tail : 1, unit);
  if (need > room)
    return fmr_fail(FMR_EFULL,
                    "heap %s cannot grow by %llu bytes: it would pass its "
                    "maximum size of %llu bytes; reopen it with a larger "
                    "max_size",
                    heap->path, (unsigned long long)need,
                    (unsigned long long)heap->reserved);

  /* More than the file system has free is refused before anything is
     touched: posix_fallocate would first take every free block (ext4
     keeps what it got until the give-back below), so every other
     process on the machine would meet ENOSPC for a while, and the
     growth would fail anyway (issue 11). */
  uint64_t avail = disk_free(heap->fd);
  if (need > avail)
    return fmr_fail(FMR_ENOSPC,
                    "heap %s cannot grow by %llu bytes (%.2f GiB): its file "
                    "system has only %llu bytes (%.2f GiB) free; free some "
                    "disk space or move the heap to a larger file system",
                    heap->path, (unsigned long long)need, gib(need),
                    (unsigned long long)avail, gib(avail));

  /* Grow by the heap's growth_step if it has one, else by half the size,
     at least 4 MiB and at most 1 GiB; and at least what the request
     needs: few growths (each costs a disk flush), little overshoot.
     Near a size limit, just what is left.  A step past the request is
     taken only if it leaves at least half the free disk space: a step
     that would nearly fill the disk takes just what is needed, so the
     heap never holds much more disk than its data beside a full disk. */
  uint64_t step = heap->growth_step;
  if (step == 0) {
    step = old / 2;
    if (step > GROWTH_CAP)
      step = GROWTH_CAP;
    if (step < GROWTH_MIN)
      step = GROWTH_MIN;
  }
  if (step > room)
    step = room;
  if (step < need)
    step = need;
  step = round_up(step, unit);
  if (step > room)
    step = room;
  if (step > need && avail != UINT64_MAX && step > avail / 2)
    step = need;
  /* The file's real size now, which a failed growth gives back to (it can
     be longer than heap->file_size: a partial page past the heap). */
  if (fstat(heap->fd, &st) != 0)
    return fmr_fail_errno(FMR_EIO, errno, "cannot stat %s", heap->path);
  uint64_t before = (uint64_t)st.st_size;
  rc = reserve_disk(heap, old, old + step);
  if (rc == FMR_ENOSPC && step > need) {
    /* What the larger try got is given back first, so that the smaller
       one does not leave the rest of it allocated past the heap. */
    give_back(heap, before);
    step = need;
    rc = reserve_disk(heap, old, old + step);
  }
  if (rc != FMR_OK)
    goto fail;
  uint64_t new_size = old + step;

  /* Order matters for power loss: the blocks and the new file size are
     durable before a meta page records that size, so the file is never
     shorter than its meta page says. */
  if (heap->mode == FMR_MODE_PERSISTENT && fdatasync(heap->fd) != 0) {
    rc = fmr_fail_errno(FMR_EIO, errno, "fdatasync of %s failed", heap->path);
    goto fail;
  }
  rc = map_more(heap, new_size);
  if (rc != FMR_OK)
    goto fail;
  heap->file_size = new_size;
  rc = write_meta(heap, false, false);
  if (rc != FMR_OK)
    return rc;
  return fmr_extents_insert(&heap->extents, old >> FMR_GRANULE_SHIFT,
                            step >> FMR_GRANULE_SHIFT);

fail:
  /* Nothing records the new size yet (heap->file_size, the meta page and
     the mapping are as before): the file goes back to its old size. */
  give_back(heap, before);
  return rc;
}

/* ------------------------------------------------------------------ */
/* Creating, opening, closing                                           */

static struct fmr_heap *heap_new(const char *path, int mode, bool readonly,
                                 bool default_max)
{
  struct fmr_heap *heap = calloc(1, sizeof *heap);
  if (heap == NULL)
    return NULL;
  heap->path = strdup(path);
  if (heap->path == NULL) {
    free(heap);
    return NULL;
  }
  heap->fd = -1;
  heap->mode = mode;
  heap->readonly = readonly;
  heap->default_max = default_max;
  atomic_init(&heap->refcount, 1);
  heap->next_id = 1;
  fmr_lock_init(heap);
  fmr_extents_init(&heap->extents);
  fmr_map_init(&heap->blocks);
  fmr_map_init(&heap->by_id);
  heap->by_id.sequential = true;
  fmr_map_init(&heap->by_name);
  return heap;
}

/* Unmap HEAP and close its file, which releases its writer lock. */
static void release_file(struct fmr_heap *heap)
{
  if (heap->base != NULL)
    munmap(heap->base, (size_t)heap->reserved);
  heap->base = NULL;
  if (heap->fd >= 0)
    close(heap->fd);
  heap->fd = -1;
}

static void heap_destroy(struct fmr_heap *heap)
{
  if (heap->base != NULL)
    munmap(heap->base, (size_t)heap->reserved);
  if (heap->fd >= 0)
    close(heap->fd);
  fmr_extents_destroy(&heap->extents);
  fmr_map_destroy(&heap->blocks);
  for (size_t c = 0; c < FMR_SMALL_CLASSES; c++)
    fmr_vec_destroy(&heap->small_cache[c]);
  fmr_vec_destroy(&heap->pending);
  fmr_vec_destroy(&heap->sync_pending);
  fmr_catalog_reset(heap);
  fmr_lock_destroy(heap);
  free(heap->path);
  free(heap);
}

static void make_uuid(uint8_t uuid[FMR_UUID_SIZE])
{
  size_t got = 0;
  while (got < FMR_UUID_SIZE) {
    ssize_t n = getrandom(uuid + got, FMR_UUID_SIZE - got, 0);
    if (n > 0) {
      got += (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    /* No entropy source: fall back to time and address bits. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t a = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30);
    uint64_t b = (uint64_t)(uintptr_t)uuid ^ ((uint64_t)getpid() << 32);
    memcpy(uuid, &a, 8);
    memcpy(uuid + 8, &b, 8);
    break;
  }
  uuid[6] = (uint8_t)((uuid[6] & 0x0f) | 0x40); /* RFC 4122 version 4 */
  uuid[8] = (uint8_t)((uuid[8] & 0x3f) | 0x80);
}

/* Lay out a new heap in the empty file heap->fd: reserve INITIAL bytes,
   map, write both meta pages and (persistent) the first catalog segment. */
static int format_new(struct fmr_heap *heap, uint64_t initial, uint64_t max,
                      const uint8_t *uuid)
{
  int rc;
  /* A size the file system cannot hold is refused at once (see
     fmr_heap_grow): posix_fallocate would fill the disk first. */
  uint64_t avail = disk_free(heap->fd);
  if (initial > avail)
    return fmr_fail(FMR_ENOSPC,
                    "cannot make %s of %llu bytes (%.2f GiB): its file "
                    "system has only %llu bytes (%.2f GiB) free; ask for a "
                    "smaller initial size (the heap grows as needed) or "
                    "free some disk space",
                    heap->path, (unsigned long long)initial, gib(initial),
                    (unsigned long long)avail, gib(avail));
  heap->file_size = initial;
  rc = reserve_disk(heap, 0, initial);
  if (rc != FMR_OK)
    return rc;
  rc = reserve_and_map(heap, max, initial);
  if (rc != FMR_OK)
    return rc;
  rc = fmr_extents_insert(&heap->extents, FMR_HEAP_START >> FMR_GRANULE_SHIFT,
                          (initial - FMR_HEAP_START) >> FMR_GRANULE_SHIFT);
  if (rc != FMR_OK)
    return rc;

  struct fmr_disk_meta *meta = &heap->meta;
  memset(meta, 0, sizeof *meta);
  memcpy(meta->meta_magic, FMR_MAGIC, FMR_MAGIC_SIZE);
  meta->meta_version = FMR_FORMAT_VERSION;
  meta->meta_byte_order = FMR_BYTE_ORDER_MARK;
  meta->meta_page_size = FMR_META_PAGE_SIZE;
  meta->meta_granule = FMR_GRANULE;
  if (uuid != NULL)
    memcpy(meta->meta_uuid, uuid, FMR_UUID_SIZE);
  else
    make_uuid(meta->meta_uuid);
  meta->meta_create_time = (uint64_t)time(NULL);
  if (heap->mode == FMR_MODE_PERSISTENT) {
    rc = fmr_catalog_create(heap);
    if (rc != FMR_OK)
      return rc;
  }
  /* meta_txn starts at 0, so the two writes fill page 1 then page 0. */
  rc = write_meta(heap, false, false);
  if (rc == FMR_OK)
    rc = write_meta(heap, false, false);
  return rc;
}

/* Whether the first SIZE bytes of the file FD may lack disk blocks
   somewhere.  Fewer blocks than bytes (st_blocks) is sure; otherwise the
   block map (FIEMAP) is walked for a gap.  Unwritten extents, which
   posix_fallocate makes, count as blocks: SEEK_HOLE cannot be used, since
   ext4 reports them as holes (they read as zeros), which is every free
   range of a heap grown by posix_fallocate.  Where the map cannot be read
   (tmpfs, other systems), the answer is "may". */
static bool may_have_holes(int fd, uint64_t size)
{
  struct stat st;
  if (fstat(fd, &st) != 0 || (uint64_t)st.st_blocks * 512 < size)
    return true;
#ifdef FS_IOC_FIEMAP
  enum { BATCH = 64 };
  union {
    struct fiemap map;
    unsigned char
        bytes[sizeof(struct fiemap) + BATCH * sizeof(struct fiemap_extent)];
  } buf;
  uint64_t pos = 0;
  while (pos < size) {
    struct fiemap *m = &buf.map;
    memset(m, 0, sizeof *m);
    m->fm_start = pos;
    m->fm_length = size - pos;
    m->fm_extent_count = BATCH;
    if (ioctl(fd, FS_IOC_FIEMAP, m) != 0 || m->fm_mapped_extents == 0)
      return true;
    bool last = false;
    for (uint32_t k = 0; k < m->fm_mapped_extents; k++) {
      const struct fiemap_extent *e = &m->fm_extents[k];
      if (e->fe_logical > pos)
        return true; /* a gap before this extent */
      if (e->fe_logical + e->fe_length > pos)
        pos = e->fe_logical + e->fe_length;
      last = (e->fe_flags & FIEMAP_EXTENT_LAST) != 0;
    }
    if (last || m->fm_mapped_extents < BATCH)
      break;
  }
  return pos < size;
#else
  return true;
#endif
}

/* Reserve the disk blocks of the heap->file_size bytes of an existing
   file before a writer maps it.  A file made by growth has them all
   (posix_fallocate), but a sparse copy (cp --sparse=always, holes punched
   with fallocate) has none behind its zero pages, and the writer's first
   store into such a page on a full file system would be SIGBUS.  Only a
   file that may have a hole is touched (may_have_holes changes nothing):
   posix_fallocate of a file that has every block still changes its times
   (ext4), and an open refused later (a damaged catalog) must leave the
   file as it was.  The reservation cannot wait for the catalog to be
   validated: a writer's catalog load already writes.  The file's size and
   bytes never change here; a reader never comes here: it writes nothing,
   so it needs no blocks. */
static int reserve_existing(struct fmr_heap *heap)
{
  if (!may_have_holes(heap->fd, heap->file_size))
    return FMR_OK;
  /* Holes larger than the free space are refused before the fallocate,
     which would take every free block, fail, and keep them (ext4 keeps
     the blocks it got inside the file's size: nothing gives them back),
     leaving the disk full for every process.  st_blocks may count a
     partial page past the heap: the estimate of what is missing can
     only be low, so the fallocate stays the last word. */
  struct stat st;
  uint64_t avail = disk_free(heap->fd);
  if (avail != UINT64_MAX && fstat(heap->fd, &st) == 0) {
    uint64_t have = (uint64_t)st.st_blocks * 512;
    uint64_t missing = have < heap->file_size ? heap->file_size - have : 0;
    if (missing > avail)
      return fmr_fail(
          FMR_ENOSPC,
          "cannot open %s for writing: its %llu bytes are not all on disk "
          "(a sparse copy, or holes punched in it), %llu bytes are "
          "missing and its file system has only %llu free; free space "
          "there, or open it read-only",
          heap->path, (unsigned long long)heap->file_size,
          (unsigned long long)missing, (unsigned long long)avail);
  }
  int err = posix_fallocate(heap->fd, 0, (off_t)heap->file_size);
  if (err == 0)
    return FMR_OK;
  if (errno_code(err) == FMR_ENOSPC)
    return fmr_fail_errno(
        FMR_ENOSPC, err,
        "cannot open %s for writing: its %llu bytes are not all on disk "
        "(a sparse copy, or holes punched in it) and its file system has "
        "no room for the rest; free space there, or open it read-only",
        heap->path, (unsigned long long)heap->file_size);
  return fmr_fail_errno(errno_code(err), err,
                        "cannot reserve the disk blocks of %s (%llu bytes)",
                        heap->path, (unsigned long long)heap->file_size);
}

/* ------------------------------------------------------------------ */
/* Readers                                                              */

/* A reader shares the file with a writer that keeps changing it.  Every
   catalog load may race the writer, so a load that finds damage is
   repeated on the file's current meta page; damage is reported only when
   the meta page and the writer's change counter stayed the same across
   the failed load (the writer publishes nothing incomplete: a new
   segment is written before it is linked, and one past the reader's
   mapping means the file grew, which writes a meta page). */
#define READER_LOAD_ATTEMPTS 32

/* Read the current meta page of the reader's file into *META, and the
   file's size into *SIZE. */
static int reader_read_meta(struct fmr_heap *heap, struct fmr_disk_meta *meta,
                            struct stat *st)
{
  unsigned char pages[FMR_HEAP_START];
  /* The meta page first, then the size: the writer grows the file
     before a meta page records the new size. */
  if (pread(heap->fd, pages, sizeof pages, 0) != (ssize_t)sizeof pages ||
      fstat(heap->fd, st) != 0)
    return fmr_fail_errno(FMR_EIO, errno, "cannot read %s", heap->path);
  int rc = choose_meta(heap->path, pages, (uint64_t)st->st_size, meta);
  if (rc != FMR_OK)
    return rc;
  if (memcmp(meta->meta_uuid, heap->meta.meta_uuid, FMR_UUID_SIZE) != 0)
    return fmr_fail(FMR_ECORRUPT, "%s was replaced by another heap file",
                    heap->path);
  if (meta->meta_file_size > (uint64_t)st->st_size)
    return fmr_fail(FMR_ETRUNCATED, "%s is shorter than its meta page records",
                    heap->path);
  if (meta->meta_file_size > heap->reserved)
    return fmr_fail(FMR_EFULL,
                    "%s grew past the address space this reader "
                    "reserved; reopen it",
                    heap->path);
  return FMR_OK;
}

/* Map what META records and make it the reader's meta page. */
static int reader_adopt(struct fmr_heap *heap,
                        const struct fmr_disk_meta *meta)
{
  int rc = map_more(heap, meta->meta_file_size);
  if (rc != FMR_OK)
    return rc;
  heap->meta = *meta;
  heap->file_size = atomic_load_explicit(&heap->mapped, memory_order_relaxed);
  return FMR_OK;
}

/* Does the writer of the file count catalog changes, and how many so
   far? */
static bool reader_changes(const struct fmr_heap *heap, uint64_t *changes)
{
  const struct fmr_disk_meta *m = &heap->meta;
  *changes = 0;
  return (m->meta_features_compat & FMR_FEATURE_COMPAT_CHANGE_COUNT) &&
         m->meta_change_txn == m->meta_txn &&
         fmr_catalog_changes(heap, changes);
}

/* Load the catalog of heap->meta (mapped), again on the current meta page
   while a failure may come from the writer's changes meanwhile. */
static int reader_load(struct fmr_heap *heap)
{
  for (int attempt = 1;; attempt++) {
    uint64_t changes;
    /* The counter is read before the load: a change after this read
       makes fmr_heap_unchanged false. */
    heap->changes_trusted = reader_changes(heap, &changes);
    heap->changes_seen = changes;
    fmr_catalog_reset(heap);
    int rc = fmr_catalog_load(heap, FMR_OPEN_READONLY);
    if ((rc != FMR_ECORRUPT && rc != FMR_ECHECKSUM) ||
        attempt == READER_LOAD_ATTEMPTS)
      return rc;
    struct fmr_disk_meta meta;
    struct stat st;
    uint64_t txn = heap->meta.meta_txn;
    bool trusted = heap->changes_trusted;
    char why[512];
    snprintf(why, sizeof why, "%s", fmr_errmsg());
    int mrc = reader_read_meta(heap, &meta, &st);
    if (mrc != FMR_OK)
      return mrc;
    uint64_t after = 0;
    if (meta.meta_txn == txn &&
        (!trusted || (fmr_catalog_changes(heap, &after) && after == changes &&
                      changes % 2 == 0)))
      /* Nothing moved: the damage is in the file. */
      return fmr_fail(rc, "%s", why);
    mrc = reader_adopt(heap, &meta);
    if (mrc != FMR_OK)
      return mrc;
    sched_yield();
  }
}

bool fmr_heap_unchanged(const struct fmr_heap *heap)
{
  if (!heap->readonly || !heap->changes_trusted)
    return false;
  /* A new meta page (growth, a writer's open or close) may come from a
     writer that does not count changes: reload. */
  const struct fmr_disk_meta *m0 = fmr_at(heap, 0);
  const struct fmr_disk_meta *m1 = fmr_at(heap, FMR_META_PAGE_SIZE);
  uint64_t t0 = __atomic_load_n(&m0->meta_txn, __ATOMIC_ACQUIRE);
  uint64_t t1 = __atomic_load_n(&m1->meta_txn, __ATOMIC_ACQUIRE);
  if ((t0 > t1 ? t0 : t1) != heap->meta.meta_txn)
    return false;
  /* What was read before (the catalog) is read before the counter. */
  __atomic_thread_fence(__ATOMIC_ACQUIRE);
  uint64_t changes;
  /* Odd: a change was under way when the catalog was loaded. */
  return heap->changes_seen % 2 == 0 && fmr_catalog_changes(heap, &changes) &&
         changes == heap->changes_seen;
}

/* Open an existing heap file whose descriptor is heap->fd. */
static int open_existing(struct fmr_heap *heap, uint64_t file_size,
                         uint64_t max, unsigned flags)
{
  unsigned char pages[FMR_HEAP_START];
  ssize_t got;
  int rc;

  memset(pages, 0, sizeof pages);
  got = pread(heap->fd, pages, sizeof pages, 0);
  if (got < 0)
    return fmr_fail_errno(FMR_EIO, errno, "cannot read %s", heap->path);
  /* A writer may have grown the file since the caller's fstat, and
     grows it before a meta page records the new size: a reader takes
     the size after reading the meta page. */
  struct stat st;
  if (heap->readonly && fstat(heap->fd, &st) == 0)
    file_size = (uint64_t)st.st_size;
  rc = choose_meta(heap->path, pages, file_size, &heap->meta);
  if (rc != FMR_OK)
    return rc;
  rc = check_features(heap->path, &heap->meta, !heap->readonly);
  if (rc != FMR_OK)
    return rc;
  uint64_t recorded = heap->meta.meta_file_size;
  if (recorded < FMR_HEAP_START || recorded % FMR_GRANULE != 0)
    return fmr_fail(FMR_ECORRUPT,
                    "%s records an impossible size of %llu "
                    "bytes",
                    heap->path, (unsigned long long)recorded);
  if (file_size < recorded)
    return fmr_fail(FMR_ETRUNCATED,
                    "%s is %llu bytes but its meta page records %llu: it "
                    "was truncated or partly copied",
                    heap->path, (unsigned long long)file_size,
                    (unsigned long long)recorded);
  heap->recovered = !(heap->meta.meta_flags & FMR_META_CLEAN);
  /* A writer adopts space that a crash left between growing the file and
     recording its size. */
  heap->file_size = recorded;
  if (!heap->readonly && file_size > recorded)
    heap->file_size = file_size / page_size() * page_size();
  if (heap->file_size < recorded)
    heap->file_size = recorded;
  if (max < heap->file_size)
    max = round_up(heap->file_size, GROWTH_UNIT);
  if (!heap->readonly) {
    rc = reserve_existing(heap);
    if (rc != FMR_OK)
      return rc;
  }
  rc = reserve_and_map(heap, max, heap->file_size);
  if (rc != FMR_OK)
    return rc;
  heap->next_id = heap->meta.meta_next_id ? heap->meta.meta_next_id : 1;
  rc = heap->readonly ? reader_load(heap) : fmr_catalog_load(heap, flags);
  if (rc != FMR_OK)
    return rc;
  if (!heap->readonly) {
    /* Mark the file in use before changing anything else: a crash from
       now on must be seen as one at the next open.  The same page
       reserves the first ids this writer may issue. */
    heap->id_limit = heap->next_id + FMR_ID_RESERVE;
    rc = write_meta(heap, false, true);
  }
  return rc;
}

/* Create PATH atomically: format a new file under a temporary name in the
   same directory, then link it into place, so that no other process ever
   sees a half-made heap.  Returns FMR_EEXIST if PATH appeared meanwhile.
   Called without registry_lock, returns with it held: the file is
   formatted without it, and linked into place under it, so that another
   open of PATH in this process finds the new heap in the registry as
   soon as it can find the file. */
static int create_file(struct fmr_heap *heap, const fmr_options *o,
                       uint64_t initial, uint64_t max)
{
  size_t len = strlen(heap->path);
  char *tmp = malloc(len + 32);
  int rc;

  if (tmp == NULL) {
    pthread_mutex_lock(&registry_lock);
    return fmr_fail(FMR_ENOMEM, "out of memory");
  }
  for (int attempt = 0;; attempt++) {
    uint64_t r;
    if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
      r = (uint64_t)time(NULL) * 2654435761u + (uint64_t)attempt;
    snprintf(tmp, len + 32, "%s.tmp-%016llx", heap->path,
             (unsigned long long)r);
    heap->fd =
        open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, (mode_t)o->file_mode);
    if (heap->fd >= 0)
      break;
    if (errno != EEXIST || attempt > 16) {
      rc = fmr_fail_errno(errno_code(errno), errno, "cannot create %s",
                          heap->path);
      free(tmp);
      pthread_mutex_lock(&registry_lock);
      return rc;
    }
  }
  if (flock(heap->fd, LOCK_EX | LOCK_NB) != 0) {
    rc = fmr_fail_errno(FMR_EIO, errno, "cannot lock %s", tmp);
    goto fail;
  }
  rc = format_new(heap, initial, max, NULL);
  if (rc != FMR_OK)
    goto fail;
  if (msync(heap->base, (size_t)heap->file_size, MS_SYNC) != 0 ||
      fsync(heap->fd) != 0) {
    rc = fmr_fail_errno(FMR_EIO, errno, "cannot write %s", tmp);
    goto fail;
  }
  pthread_mutex_lock(&registry_lock);
  /* link() never replaces an existing file; where hard links are not
     supported, rename without replacing does the same. */
  int linked = link(tmp, heap->path);
  if (linked != 0 &&
      (errno == EPERM || errno == EOPNOTSUPP || errno == EMLINK))
    linked = renameat2(AT_FDCWD, tmp, AT_FDCWD, heap->path, RENAME_NOREPLACE);
  if (linked != 0) {
    int err = errno;
    rc = err == EEXIST ? FMR_EEXIST
                       : fmr_fail_errno(errno_code(err), err,
                                        "cannot create %s", heap->path);
    goto fail_locked;
  }
  unlink(tmp);
  free(tmp);
  return FMR_OK;

fail:
  pthread_mutex_lock(&registry_lock);
fail_locked:
  unlink(tmp);
  free(tmp);
  return rc;
}

static int open_scratch(const char *path, const fmr_options *o,
                        uint64_t initial, uint64_t max, fmr_heap **out)
{
  struct stat st;
  char *dir;
  int rc;

  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
    dir = strdup(path);
  } else {
    const char *slash = strrchr(path, '/');
    dir = slash == NULL
              ? strdup(".")
              : strndup(path, slash == path ? 1 : (size_t)(slash - path));
  }
  if (dir == NULL)
    return fmr_fail(FMR_ENOMEM, "out of memory");
  struct fmr_heap *heap =
      heap_new(path, FMR_MODE_SCRATCH, false, o->max_size == 0);
  if (heap == NULL) {
    free(dir);
    return fmr_fail(FMR_ENOMEM, "out of memory");
  }
  heap->growth_step = o->growth_step;
  /* A file with no name: nothing is left behind, even after kill -9. */
  heap->fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (heap->fd < 0 && errno != ENOENT && errno != EACCES && errno != ENOTDIR) {
    /* No O_TMPFILE on this filesystem: make a file and unlink it at once. */
    size_t n = strlen(dir) + 32;
    char *tmp = malloc(n);
    if (tmp != NULL) {
      snprintf(tmp, n, "%s/.fmr-scratch-XXXXXX", dir);
      heap->fd = mkostemp(tmp, O_CLOEXEC);
      if (heap->fd >= 0)
        unlink(tmp);
      free(tmp);
    }
  }
  if (heap->fd < 0) {
    rc = fmr_fail_errno(errno_code(errno), errno,
                        "cannot create a scratch heap file in %s", dir);
    free(dir);
    heap_destroy(heap);
    return rc;
  }
  free(dir);
  rc = format_new(heap, initial, max, NULL);
  if (rc != FMR_OK) {
    heap_destroy(heap);
    return rc;
  }
  *out = heap;
  (void)o;
  return FMR_OK;
}

/* The open heap of the file with device DEV and inode INO, which the
   caller found at a path.  A heap whose file was deleted or replaced is
   never found for a new file at the path: on a local file system the
   inode of an open file cannot be reused.  Its link count is not looked
   at: a rename over the path drops it to zero a moment before the path
   names the new file, and an open in that moment must find the heap
   (and wait, or be refused as busy), not open the old file beside it
   and meet its writer lock. */
/* The heap of this process open on the file (DEV, INO) for the access an
   open asks (READONLY: a reader; else the writer), or else the other one,
   or NULL.  A file may have both here: a reader beside the writer. */
static struct fmr_heap *registry_find(dev_t dev, ino_t ino, bool readonly)
{
  struct fmr_heap *other = NULL;
  for (struct fmr_heap *h = registry; h != NULL; h = h->registry_next)
    if (h->mode == FMR_MODE_PERSISTENT && h->dev == dev && h->ino == ino) {
      if (h->readonly == readonly)
        return h;
      other = h;
    }
  return other;
}

/* If PATH, which stat() did not find, is a symbolic link to nothing, fail
   with FMR_EDANGLING when the open would create a file (CREATE) and with
   FMR_ENOENT otherwise, saying where the link points; FMR_OK when the file
   is simply missing.  No heap is ever made through such a link: link()
   of the new file at PATH would meet the link (EEXIST), and following the
   link ourselves would put a file wherever it points, which someone else
   may have chosen (a link left in /tmp). */
static int dangling_link(const char *path, bool create)
{
  struct stat st;
  char target[PATH_MAX];
  if (lstat(path, &st) != 0 || !S_ISLNK(st.st_mode))
    return FMR_OK;
  ssize_t n = readlink(path, target, sizeof target - 1);
  if (n < 0)
    n = 0;
  target[n] = '\0';
  if (create)
    return fmr_fail(FMR_EDANGLING,
                    "%s is a symbolic link to %s, which does not exist; a "
                    "heap is never created through a link: create the "
                    "target first, or remove the link",
                    path, target);
  return fmr_fail(FMR_ENOENT,
                  "%s is a symbolic link to %s, which does not exist", path,
                  target);
}

/* Remove HEAP from the registry and wake the opens waiting for it.
   Caller holds registry_lock. */
static void registry_remove(struct fmr_heap *heap)
{
  for (struct fmr_heap **p = &registry; *p != NULL; p = &(*p)->registry_next) {
    if (*p == heap) {
      *p = heap->registry_next;
      break;
    }
  }
  heap->registry_next = NULL;
  pthread_cond_broadcast(&registry_cond);
}

/* Open the file at PATH for HEAP, which is in the registry, marked
   opening, under the device and inode that a stat of PATH gave.  Runs
   without registry_lock.  OPEN_AGAIN: the path no longer names that file
   (removed or replaced since the stat); start again. */
#define OPEN_AGAIN 1
static int open_file(struct fmr_heap *heap, const char *path, bool readonly,
                     const fmr_options *o, uint64_t initial, uint64_t max)
{
  struct stat st;
  int rc;

  /* O_NONBLOCK: a FIFO put at the path since the stat must not block the
     open either (the fstat below refuses it); it changes nothing for a
     regular file. */
  heap->fd =
      open(path, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NONBLOCK);
  if (heap->fd < 0) {
    if (errno == ENOENT)
      return OPEN_AGAIN;
    return fmr_fail_errno(errno_code(errno), errno, "cannot open %s", path);
  }
  if (fstat(heap->fd, &st) != 0)
    return fmr_fail_errno(FMR_EIO, errno, "cannot stat %s", path);
  if (st.st_dev != heap->dev || st.st_ino != heap->ino)
    return OPEN_AGAIN;
  if (!S_ISREG(st.st_mode))
    return fmr_fail(FMR_EINVAL, "%s is not a regular file", path);
  if (!readonly && flock(heap->fd, LOCK_EX | LOCK_NB) != 0)
    return errno == EWOULDBLOCK
               ? fmr_fail(FMR_ELOCKED,
                          "%s is open for writing in another process; close "
                          "it there or open it read-only",
                          path)
               : fmr_fail_errno(FMR_EIO, errno, "cannot lock %s", path);
  if (st.st_size == 0) {
    if (!(o->flags & FMR_OPEN_CREATE) || readonly)
      return fmr_fail(FMR_EEMPTY,
                      "%s is empty, not a heap file; open it "
                      "with FMR_OPEN_CREATE to make a heap in it",
                      path);
    /* An empty file holds nothing to lose: make a heap in it. */
    return format_new(heap, initial, max, NULL);
  }
  rc = open_existing(heap, (uint64_t)st.st_size, max, o->flags);
  return rc;
}

FMR_EXPORT int fmr_open(const char *path, const fmr_options *options,
                        fmr_heap **heap_out)
{
  fmr_options o;
  struct stat st;
  struct fmr_heap *heap = NULL;
  int rc;

  fmr_clear_error();
  if (heap_out != NULL)
    *heap_out = NULL;
  if (path == NULL || *path == '\0' || heap_out == NULL)
    return fmr_fail(FMR_EINVAL, "fmr_open: a path and heap_out are required");
  fmr_options_init(&o);
  if (options != NULL) {
    if (options->struct_size > sizeof o &&
        options->struct_size <= (size_t)4096)
      /* An fmr_options larger than ours: the caller was compiled against
         a newer <fmalloc-r.h> than the library it runs with. */
      return fmr_fail(FMR_EINVAL,
                      "fmr_open: the options structure (%zu bytes) is "
                      "larger than this libfmalloc-r %s knows (%zu): the "
                      "program was compiled against a newer fmalloc-r.h "
                      "than the library it loaded; rebuild it, or make "
                      "it load the library it was built with",
                      options->struct_size, FMR_VERSION_STRING, sizeof o);
    if (options->struct_size <
            offsetof(fmr_options, file_mode) + sizeof options->file_mode ||
        options->struct_size > sizeof o)
      return fmr_fail(FMR_EINVAL, "fmr_open: options were not initialized "
                                  "with fmr_options_init()");
    memcpy(&o, options, options->struct_size);
  }
  if (o.mode != FMR_MODE_PERSISTENT && o.mode != FMR_MODE_SCRATCH)
    return fmr_fail(FMR_EINVAL, "fmr_open: unknown mode %d", o.mode);
  if (o.flags &
      ~(unsigned)(FMR_OPEN_CREATE | FMR_OPEN_READONLY | FMR_OPEN_RECOVER))
    return fmr_fail(FMR_EINVAL, "fmr_open: unknown flags 0x%x", o.flags);
  bool readonly = (o.flags & FMR_OPEN_READONLY) != 0;
  if (o.mode == FMR_MODE_SCRATCH && readonly)
    return fmr_fail(FMR_EINVAL, "fmr_open: a scratch heap cannot be "
                                "read-only");

  uint64_t initial = o.initial_size ? o.initial_size : DEFAULT_INITIAL_SIZE;
  if (initial < MIN_INITIAL_SIZE)
    initial = MIN_INITIAL_SIZE;
  uint64_t max = o.max_size ? o.max_size : DEFAULT_MAX_SIZE;
  if (initial > UINT64_MAX / 2 || max > UINT64_MAX / 2 ||
      o.growth_step > UINT64_MAX / 2)
    return fmr_fail(FMR_ETOOBIG, "fmr_open: sizes are too large");
  initial = round_up(initial, page_size());
  max = round_up(max, GROWTH_UNIT);
  if (max < initial)
    max = round_up(initial, GROWTH_UNIT);

  pthread_once(&atfork_once, install_atfork);
  if (o.mode == FMR_MODE_SCRATCH) {
    rc = open_scratch(path, &o, initial, max, heap_out);
    if (rc == FMR_OK) {
      pthread_mutex_lock(&registry_lock);
      (*heap_out)->registry_next = registry;
      registry = *heap_out;
      pthread_mutex_unlock(&registry_lock);
    }
    return rc;
  }

  pthread_mutex_lock(&registry_lock);
  for (int attempt = 0; attempt < 8; attempt++) {
    if (stat(path, &st) == 0) {
      struct fmr_heap *h = registry_find(st.st_dev, st.st_ino, readonly);
      if (h != NULL && (h->closing || h->opening)) {
        /* Its last close is under way and still holds the writer lock:
           wait until it is gone, then open the file anew (without this,
           the open would fail with FMR_ELOCKED for a moment).  Or another
           thread is opening it: wait for it, then share its heap (or, if
           its open failed, try again). */
        pthread_cond_wait(&registry_cond, &registry_lock);
        attempt--;
        continue;
      }
      if (h != NULL) {
        if (h->compacting) {
          rc = fmr_fail(FMR_EBUSY,
                        "%s is being compacted by another thread of this "
                        "process; open it again when fmr_compact returns",
                        path);
          goto out;
        }
        if (h->readonly && !readonly) {
          rc = fmr_fail(FMR_EBUSY,
                        "%s is already open read-only in this process; "
                        "close it before opening it for writing",
                        path);
          goto out;
        }
        if (h->readonly == readonly) {
          h->refcount++;
          *heap_out = h;
          rc = FMR_OK;
          goto out;
        }
        /* A read-only open of the file this process writes gets a reader
           of its own (its own read-only mapping, max_size and catalog
           view), as it would in another process: handing out the writer
           heap would let "read-only" code change the file. */
      }
      if (S_ISDIR(st.st_mode)) {
        rc = fmr_fail(FMR_EINVAL, "%s is a directory, not a heap file", path);
        goto out;
      }
      /* A FIFO (or a device) is refused before open(), which would
         block on a FIFO until a writer came. */
      if (!S_ISREG(st.st_mode)) {
        rc = fmr_fail(FMR_EINVAL, "%s is not a regular file", path);
        goto out;
      }
    } else if (errno != ENOENT) {
      rc = fmr_fail_errno(errno_code(errno), errno, "cannot open %s", path);
      goto out;
    } else if ((rc = dangling_link(path, (o.flags & FMR_OPEN_CREATE) &&
                                             !readonly)) != FMR_OK) {
      goto out;
    } else if (!(o.flags & FMR_OPEN_CREATE) || readonly) {
      rc = fmr_fail(FMR_ENOENT,
                    "%s does not exist; pass FMR_OPEN_CREATE to "
                    "create it",
                    path);
      goto out;
    } else {
      pthread_mutex_unlock(&registry_lock);
      heap = heap_new(path, FMR_MODE_PERSISTENT, false, o.max_size == 0);
      if (heap == NULL) {
        pthread_mutex_lock(&registry_lock);
        rc = fmr_fail(FMR_ENOMEM, "out of memory");
        goto out;
      }
      heap->growth_step = o.growth_step;
      /* Returns with registry_lock held again. */
      rc = create_file(heap, &o, initial, max);
      if (rc == FMR_EEXIST) {
        /* Another process created it first: open theirs. */
        heap_destroy(heap);
        heap = NULL;
        continue;
      }
      if (rc != FMR_OK)
        goto out;
      if (fstat(heap->fd, &st) != 0) {
        rc = fmr_fail_errno(FMR_EIO, errno, "cannot stat %s", path);
        goto out;
      }
      goto opened;
    }

    heap = heap_new(path, FMR_MODE_PERSISTENT, readonly, o.max_size == 0);
    if (heap == NULL) {
      rc = fmr_fail(FMR_ENOMEM, "out of memory");
      goto out;
    }
    heap->growth_step = o.growth_step;
    /* Enter the heap in the registry, marked opening, and open the file
       without registry_lock: opens of other files go on meanwhile, and
       opens of this one wait for the outcome (and then share the heap),
       since two opens of it would mean two writer locks. */
    heap->dev = st.st_dev;
    heap->ino = st.st_ino;
    heap->opening = true;
    heap->registry_next = registry;
    registry = heap;
    pthread_mutex_unlock(&registry_lock);
    rc = open_file(heap, path, readonly, &o, initial, max);
    if (rc != FMR_OK) /* the opens waiting for it must not meet its lock */
      release_file(heap);
    pthread_mutex_lock(&registry_lock);
    heap->opening = false;
    pthread_cond_broadcast(&registry_cond);
    if (rc == FMR_OK) {
      *heap_out = heap;
      heap = NULL;
      goto out;
    }
    registry_remove(heap);
    if (rc == OPEN_AGAIN) { /* removed or replaced meanwhile */
      pthread_mutex_unlock(&registry_lock);
      heap_destroy(heap);
      heap = NULL;
      pthread_mutex_lock(&registry_lock);
      continue;
    }
    goto out;
  }
  rc = fmr_fail(FMR_EIO, "%s keeps appearing and disappearing", path);
  goto out;

opened:
  heap->dev = st.st_dev;
  heap->ino = st.st_ino;
  heap->registry_next = registry;
  registry = heap;
  *heap_out = heap;
  heap = NULL;
  rc = FMR_OK;
out:
  pthread_mutex_unlock(&registry_lock);
  if (heap != NULL) /* not in the registry: unmap it without the lock */
    heap_destroy(heap);
  return rc;
}

/* Flush everything to disk; then freed record space is safe to reuse. */
static int sync_locked(struct fmr_heap *heap)
{
  if (heap->readonly || heap->mode == FMR_MODE_SCRATCH)
    return FMR_OK;
  if (heap->forked)
    return fmr_heap_writable(heap);
  int rc = fmr_heap_msync(heap, 0, heap->file_size);
  if (rc != FMR_OK)
    return rc;
  if (fdatasync(heap->fd) != 0)
    return fmr_fail_errno(FMR_EIO, errno, "fdatasync of %s failed",
                          heap->path);
  return fmr_heap_synced(heap);
}

int fmr_heap_create_private(const char *path, unsigned file_mode,
                            uint64_t initial, const uint8_t *uuid,
                            struct fmr_heap **heap_out)
{
  struct fmr_heap *heap = heap_new(path, FMR_MODE_PERSISTENT, false, false);
  int rc;
  if (heap == NULL)
    return fmr_fail(FMR_ENOMEM, "out of memory");
  heap->fd =
      open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, (mode_t)file_mode);
  if (heap->fd < 0) {
    rc = fmr_fail_errno(errno_code(errno), errno, "cannot create %s", path);
    heap_destroy(heap);
    return rc;
  }
  if (flock(heap->fd, LOCK_EX | LOCK_NB) != 0) {
    rc = fmr_fail_errno(FMR_EIO, errno, "cannot lock %s", path);
    goto fail;
  }
  initial = round_up(initial < MIN_INITIAL_SIZE ? MIN_INITIAL_SIZE : initial,
                     page_size());
  rc = format_new(heap, initial, round_up(initial, GROWTH_UNIT) + GROWTH_CAP,
                  uuid);
  if (rc != FMR_OK)
    goto fail;
  *heap_out = heap;
  return FMR_OK;
fail:
  unlink(path);
  heap_destroy(heap);
  return rc;
}

int fmr_heap_finish_private(struct fmr_heap *heap)
{
  int rc = sync_locked(heap);
  if (rc == FMR_OK)
    rc = write_meta(heap, true, true);
  if (rc == FMR_OK && fsync(heap->fd) != 0)
    rc = fmr_fail_errno(FMR_EIO, errno, "fsync of %s failed", heap->path);
  return rc;
}

void fmr_heap_discard_private(struct fmr_heap *heap)
{
  heap_destroy(heap);
}

static void swap_vec(struct fmr_vec *a, struct fmr_vec *b)
{
  struct fmr_vec t = *a;
  *a = *b;
  *b = t;
}

/* Put back what an fmr_sync that failed took over: it waits for the next
   one.  The superseded slots were not emptied, or were emptied and are
   free slots now (their pages get flushed by any later sync). */
static void sync_give_back(struct fmr_heap *heap, bool emptied)
{
  struct fmr_vec *p = &heap->sync_pending;
  for (size_t i = 0; i < p->count; i++)
    if (fmr_vec_push(&heap->pending, p->items[i]) != FMR_OK) {
      /* No memory to keep it pending: the space leaks until the next
         open, which rebuilds free space from the catalog. */
      heap->pending_bytes -= i % 2 ? p->items[i] : 0;
    }
  p->count = 0;
  struct fmr_vec *s = &heap->sync_superseded;
  /* Without memory to keep waiting, an old slot stays as it is: never
     emptied before its successor is durable, it is resolved by the next
     open (the higher generation wins). */
  if (!emptied)
    for (size_t i = 0; i < s->count; i++)
      (void)fmr_vec_push(&heap->superseded, s->items[i]);
  s->count = 0;
}

/* fmr_sync flushes without the heap lock, so that other threads allocate,
   commit and read while megabytes are written back.  What waits for the
   flush (space freed before it, old slots of updated records) is taken
   over at the start and released at the end; what other threads free or
   supersede meanwhile waits for the next sync.  A second fmr_sync while
   one is under way flushes with the lock held (sync_locked). */
FMR_EXPORT int fmr_sync(fmr_heap *heap)
{
  if (heap == NULL)
    return fmr_fail(FMR_EINVAL, "fmr_sync: heap is required");
  fmr_lock(heap);
  int rc = heap->readonly || heap->forked ? FMR_OK : fmr_heap_linked(heap);
  if (rc != FMR_OK || heap->readonly || heap->forked ||
      heap->mode == FMR_MODE_SCRATCH || heap->syncing) {
    if (rc == FMR_OK)
      rc = sync_locked(heap);
    fmr_unlock(heap);
    return rc;
  }
  heap->syncing = true;
  swap_vec(&heap->pending, &heap->sync_pending);
  swap_vec(&heap->superseded, &heap->sync_superseded);
  uint64_t size = heap->file_size;
  fmr_unlock(heap);

  /* The mapping below SIZE stays in place while the heap is open. */
  rc = fmr_heap_msync(heap, 0, size);
  if (rc == FMR_OK && fdatasync(heap->fd) != 0)
    rc = fmr_fail_errno(FMR_EIO, errno, "fdatasync of %s failed", heap->path);

  fmr_lock(heap);
  bool emptied = false;
  if (rc == FMR_OK) {
    /* The successors of the superseded slots are durable: empty them, and
       flush that before their old space is reused (fmr_heap_synced). */
    fmr_catalog_empty_slots(heap, heap->sync_superseded.items,
                            heap->sync_superseded.count);
    emptied = true;
    size_t n = heap->sync_superseded.count;
    uint64_t *slots = NULL;
    if (n > 0 && (slots = malloc(n * sizeof *slots)) == NULL) {
      rc = fmr_catalog_flush_slots(heap, heap->sync_superseded.items, n);
    } else if (n > 0) {
      memcpy(slots, heap->sync_superseded.items, n * sizeof *slots);
      heap->sync_superseded.count = 0;
      fmr_unlock(heap);
      rc = fmr_catalog_flush_slots(heap, slots, n);
      fmr_lock(heap);
      free(slots);
    }
    heap->sync_superseded.count = 0;
  }
  if (rc == FMR_OK) {
    fmr_heap_release_pending(heap, heap->sync_pending.items,
                             heap->sync_pending.count);
    heap->sync_pending.count = 0;
  } else {
    sync_give_back(heap, emptied);
  }
  heap->syncing = false;
  fmr_unlock(heap);
  return rc;
}

int fmr_heap_claim_for_compaction(struct fmr_heap *heap, const char *path)
{
  int rc = FMR_OK;
  pthread_mutex_lock(&registry_lock);
  if (atomic_load_explicit(&heap->refcount, memory_order_relaxed) > 1)
    rc = fmr_fail(FMR_EBUSY,
                  "%s is open in this process; close it before compacting it",
                  path);
  else
    heap->compacting = true;
  pthread_mutex_unlock(&registry_lock);
  return rc;
}

FMR_EXPORT int fmr_close(fmr_heap *heap)
{
  int rc = FMR_OK;
  if (heap == NULL)
    return fmr_fail(FMR_EINVAL, "fmr_close: heap is required");
  pthread_mutex_lock(&registry_lock);
  if (--heap->refcount > 0) {
    pthread_mutex_unlock(&registry_lock);
    return FMR_OK;
  }
  /* The heap stays in the registry, marked closing, until its file is
     closed: an open of the same file in this process meanwhile waits
     instead of finding the writer lock still held. */
  heap->closing = true;
  pthread_mutex_unlock(&registry_lock);

  fmr_lock(heap);
  if (!heap->readonly && !heap->forked && heap->mode == FMR_MODE_PERSISTENT) {
    /* Everything is on disk before the file is marked clean. */
    rc = sync_locked(heap);
    if (rc == FMR_OK)
      rc = write_meta(heap, true, true);
  }
  fmr_unlock(heap);
  /* Release the mapping and the file (and its writer lock) first... */
  release_file(heap);
  /* ...then leave the registry and wake the opens waiting for it. */
  pthread_mutex_lock(&registry_lock);
  if (!heap->forked)
    registry_remove(heap);
  else
    pthread_cond_broadcast(&registry_cond);
  pthread_mutex_unlock(&registry_lock);
  heap_destroy(heap);
  return rc;
}

int fmr_heap_refresh_locked(struct fmr_heap *heap)
{
  struct stat st;
  struct fmr_disk_meta meta;
  int rc;

  if (!heap->readonly)
    return FMR_OK;
  if (fstat(heap->fd, &st) != 0)
    return fmr_fail_errno(FMR_EIO, errno, "cannot stat %s", heap->path);
  /* A file replaced at its path (fmr_compact renames the new file over
     it) sees no more changes: the reader must open the path again. */
  rc = file_state_of(heap, st.st_nlink);
  if (rc == FMR_FILE_REPLACED)
    return fmr_fail(FMR_EREPLACED,
                    "%s was replaced by another file (compacted?) after "
                    "this reader opened it; close the heap and open the "
                    "path again to see what was written since",
                    heap->path);
  /* Anything else (deleted, moved, the path unreadable) leaves the
     reader's file as it was: go on reading it. */
  if (fmr_heap_unchanged(heap))
    return FMR_OK;
  rc = reader_read_meta(heap, &meta, &st);
  if (rc == FMR_OK)
    rc = reader_adopt(heap, &meta);
  if (rc == FMR_OK)
    rc = reader_load(heap);
  return rc;
}

FMR_EXPORT int fmr_refresh(fmr_heap *heap)
{
  if (heap == NULL)
    return fmr_fail(FMR_EINVAL, "fmr_refresh: heap is required");
  fmr_lock(heap);
  int rc = fmr_heap_refresh_locked(heap);
  fmr_unlock(heap);
  return rc;
}

FMR_EXPORT int fmr_stat(fmr_heap *heap, fmr_stats *out)
{
  if (heap == NULL || out == NULL)
    return fmr_fail(FMR_EINVAL, "fmr_stat: heap and stats are required");
  size_t size = out->struct_size;
  if (size < sizeof out->struct_size || size > sizeof *out)
    return fmr_fail(FMR_EINVAL,
                    "fmr_stat: the stats were not set up with "
                    "fmr_stats_init() (struct_size %zu; this library "
                    "knows %zu bytes)",
                    size, sizeof *out);
  /* Filled in full here, then copied as far as the caller's struct_size
     reaches: a caller built against an older, shorter fmr_stats gets no
     byte written past it. */
  fmr_stats full, *s = &full;
  memset(s, 0, sizeof *s);
  fmr_lock(heap);
  s->format_version = heap->meta.meta_version;
  s->mode = heap->mode;
  s->readonly = heap->readonly;
  s->recovered = heap->recovered;
  memcpy(s->uuid, heap->meta.meta_uuid, FMR_UUID_SIZE);
  s->file_size = heap->file_size;
  s->max_size = heap->reserved;
  s->heap_bytes = heap->file_size - FMR_HEAP_START;
  if (!heap->readonly) {
    s->used_bytes = heap->used_bytes;
    s->free_bytes = (heap->extents.free_granules << FMR_GRANULE_SHIFT) +
                    heap->cached_bytes + heap->pending_bytes;
    s->largest_free = fmr_extents_largest(&heap->extents) << FMR_GRANULE_SHIFT;
    s->free_extents = heap->extents.count;
    uint64_t cached = 0;
    for (size_t c = 0; c < FMR_SMALL_CLASSES; c++)
      cached += heap->small_cache[c].count;
    s->blocks = heap->blocks.count - cached;
  } else {
    /* A reader has no allocator: everything not in the catalog counts as
       free. */
    s->used_bytes = heap->catalog_bytes + heap->record_bytes +
                    heap->tombstone_bytes + heap->aux_bytes;
    s->free_bytes = s->heap_bytes - s->used_bytes;
  }
  s->records_committed = heap->records_committed;
  s->records_tombstone = heap->records_tombstone;
  s->records_damaged = heap->records_damaged;
  s->record_bytes = heap->record_bytes;
  s->tombstone_bytes = heap->tombstone_bytes;
  s->catalog_bytes = heap->catalog_bytes;
  s->catalog_slots = heap->catalog_slots;
  s->pending_free_bytes = heap->pending_bytes;
  s->refcount = atomic_load_explicit(&heap->refcount, memory_order_relaxed);
  fmr_unlock(heap);
  memcpy((char *)out + sizeof out->struct_size,
         (const char *)s + sizeof s->struct_size,
         size - sizeof out->struct_size);
  return FMR_OK;
}

FMR_EXPORT const char *fmr_path(const fmr_heap *heap)
{
  return heap != NULL ? heap->path : NULL;
}

FMR_EXPORT int fmr_mode_of(const fmr_heap *heap)
{
  return heap != NULL ? heap->mode : FMR_EINVAL;
}

FMR_EXPORT int fmr_is_readonly(const fmr_heap *heap)
{
  return heap != NULL ? heap->readonly : FMR_EINVAL;
}

FMR_EXPORT int fmr_uuid(const fmr_heap *heap, uint8_t uuid_out[FMR_UUID_SIZE])
{
  if (heap == NULL || uuid_out == NULL)
    return fmr_fail(FMR_EINVAL, "fmr_uuid: heap and uuid_out are required");
  /* heap->meta is rewritten whole (write_meta, refresh) under the lock;
     the heap itself is never a const object, only this view of it. */
  struct fmr_heap *h = (struct fmr_heap *)heap;
  fmr_lock(h);
  memcpy(uuid_out, h->meta.meta_uuid, FMR_UUID_SIZE);
  fmr_unlock(h);
  return FMR_OK;
}
