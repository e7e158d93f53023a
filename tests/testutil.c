/* testutil.c: helpers shared by the libfmalloc-r test programs.

   Copyright (C) 2026 The libfmalloc-r authors.
   This file is part of libfmalloc-r, free software under the GNU Lesser
   General Public License, version 2.1 or (at your option) any later version.  */

#include <config.h>

#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

char *tu_base;

char *tu_path(const char *dir, const char *name)
{
  size_t len = strlen(dir) + strlen(name) + 2;
  char *path = malloc(len);
  if (path == NULL)
    abort(); /* no Check assertion: children use this too */
  snprintf(path, len, "%s/%s", dir, name);
  return path;
}

char *tu_tmpdir(void)
{
  ck_assert_msg(tu_base != NULL, "tu_main() did not create the base dir");
  char *dir = tu_path(tu_base, "t.XXXXXX");
  ck_assert_msg(mkdtemp(dir) != NULL, "mkdtemp(%s): %s", dir,
                strerror(errno));
  return dir;
}

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw)
{
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

int tu_rmtree(const char *path)
{
  return nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int tu_count_entries(const char *dir)
{
  DIR *d = opendir(dir);
  if (d == NULL)
    return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
      n++;
  closedir(d);
  return n;
}

int tu_read_file(const char *path, unsigned char **buf_out, size_t *len_out)
{
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    close(fd);
    return -1;
  }
  size_t len = (size_t)st.st_size;
  unsigned char *buf = malloc(len ? len : 1);
  if (buf == NULL) {
    close(fd);
    return -1;
  }
  size_t done = 0;
  while (done < len) {
    ssize_t n = read(fd, buf + done, len - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      free(buf);
      close(fd);
      return -1;
    }
    done += (size_t)n;
  }
  close(fd);
  *buf_out = buf;
  *len_out = len;
  return 0;
}

int tu_write_file(const char *path, const void *buf, size_t len)
{
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return -1;
  int rc = tu_write_all(fd, buf, len);
  if (close(fd) != 0)
    rc = -1;
  return rc;
}

int tu_copy_file(const char *src, const char *dst)
{
  int in = open(src, O_RDONLY | O_CLOEXEC);
  if (in < 0)
    return -1;
  int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) {
    close(in);
    return -1;
  }
  char buf[65536];
  int rc = 0;
  for (;;) {
    ssize_t n = read(in, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      rc = -1;
      break;
    }
    if (n == 0)
      break;
    if (tu_write_all(out, buf, (size_t)n) != 0) {
      rc = -1;
      break;
    }
  }
  close(in);
  if (close(out) != 0)
    rc = -1;
  return rc;
}

int tu_pwrite(const char *path, uint64_t offset, const void *buf, size_t len)
{
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  ssize_t n = pwrite(fd, buf, len, (off_t)offset);
  int rc = n == (ssize_t)len ? 0 : -1;
  if (close(fd) != 0)
    rc = -1;
  return rc;
}

int tu_pread(const char *path, uint64_t offset, void *buf, size_t len)
{
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  ssize_t n = pread(fd, buf, len, (off_t)offset);
  close(fd);
  return n == (ssize_t)len ? 0 : -1;
}

int tu_truncate(const char *path, uint64_t size)
{
  return truncate(path, (off_t)size);
}

int64_t tu_file_size(const char *path)
{
  struct stat st;
  if (stat(path, &st) != 0)
    return -1;
  return (int64_t)st.st_size;
}

uint64_t tu_rand(uint64_t *state)
{
  /* splitmix64 */
  uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
  z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
  return z ^ (z >> 31);
}

void tu_fill(void *p, size_t len, uint64_t seed)
{
  unsigned char *b = p;
  uint64_t state = seed * 31 + 7;
  size_t i = 0;
  while (i < len) {
    uint64_t v = tu_rand(&state);
    for (int k = 0; k < 8 && i < len; k++, i++)
      b[i] = (unsigned char)(v >> (8 * k));
  }
}

int tu_verify(const void *p, size_t len, uint64_t seed)
{
  const unsigned char *b = p;
  uint64_t state = seed * 31 + 7;
  size_t i = 0;
  while (i < len) {
    uint64_t v = tu_rand(&state);
    for (int k = 0; k < 8 && i < len; k++, i++)
      if (b[i] != (unsigned char)(v >> (8 * k)))
        return 0;
  }
  return 1;
}

size_t tu_first_nonzero(const void *p, size_t len)
{
  const unsigned char *b = p;
  size_t i = 0;
  while (i < len && b[i] == 0)
    i++;
  return i;
}

int tu_open_sized(const char *path, unsigned flags, uint64_t initial_size,
                  uint64_t max_size, fmr_heap **heap_out)
{
  fmr_options options;
  fmr_options_init(&options);
  options.flags = flags;
  options.initial_size = initial_size;
  options.max_size = max_size;
  return fmr_open(path, &options, heap_out);
}

int tu_open(const char *path, unsigned flags, fmr_heap **heap_out)
{
  return tu_open_sized(path, flags, 0, 0, heap_out);
}

fmr_stats tu_stat(fmr_heap *heap)
{
  fmr_stats stats;
  /* Every field is filled: garbage in all but struct_size shows it. */
  memset(&stats, 0xa5, sizeof stats);
  stats.struct_size = sizeof stats;
  ck_assert_fmr_ok(fmr_stat(heap, &stats));
  return stats;
}

pid_t tu_fork(int (*fn)(void *), void *arg)
{
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
  if (pid == 0) {
    int status = fn(arg);
    _exit(status);
  }
  return pid;
}

pid_t tu_spawn(const char *mode, const char *arg)
{
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
  if (pid == 0) {
    execl("/proc/self/exe", "fmr-test-child", "--child", mode, arg,
          (char *)NULL);
    fprintf(stderr, "exec /proc/self/exe: %s\n", strerror(errno));
    _exit(127);
  }
  return pid;
}

void tu_child_main(int argc, char **argv,
                   int (*fn)(const char *mode, const char *arg))
{
  if (argc == 4 && strcmp(argv[1], "--child") == 0)
    exit(fn(argv[2], argv[3]));
}

int tu_wait(pid_t pid)
{
  int status;
  pid_t r;
  do
    r = waitpid(pid, &status, 0);
  while (r < 0 && errno == EINTR);
  if (r != pid)
    return -1;
  if (WIFEXITED(status))
    return WEXITSTATUS(status);
  if (WIFSIGNALED(status))
    return 256 + WTERMSIG(status);
  return -1;
}

int tu_write_all(int fd, const void *buf, size_t len)
{
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

int tu_read_all(int fd, void *buf, size_t len)
{
  char *p = buf;
  size_t done = 0;
  while (done < len) {
    ssize_t n = read(fd, p + done, len - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return -1;
    if (n == 0)
      return done == 0 ? 1 : -1;
    done += (size_t)n;
  }
  return 0;
}

void tu_timeout(TCase *tc, double seconds)
{
  const char *env = getenv("CK_DEFAULT_TIMEOUT");
  if (env != NULL && *env != '\0') {
    double d = strtod(env, NULL);
    if (d > seconds)
      seconds = d;
  }
  tcase_set_timeout(tc, seconds);
}

int tu_main(Suite *suite)
{
  const char *tmp = getenv("TMPDIR");
  if (tmp == NULL || *tmp == '\0')
    tmp = "/tmp";
  size_t len = strlen(tmp) + sizeof "/fmr-test.XXXXXX";
  tu_base = malloc(len);
  if (tu_base == NULL)
    return EXIT_FAILURE;
  snprintf(tu_base, len, "%s/fmr-test.XXXXXX", tmp);
  if (mkdtemp(tu_base) == NULL) {
    fprintf(stderr, "mkdtemp(%s): %s\n", tu_base, strerror(errno));
    return EXIT_FAILURE;
  }
  /* World-searchable, so that a test running under another uid can reach
     the files that it must be refused. */
  chmod(tu_base, 0755);

  SRunner *runner = srunner_create(suite);
  srunner_run_all(runner, CK_ENV);
  int failed = srunner_ntests_failed(runner);
  int run = srunner_ntests_run(runner);
  srunner_free(runner);

  if (tu_rmtree(tu_base) != 0)
    fprintf(stderr, "warning: could not remove %s: %s\n", tu_base,
            strerror(errno));
  free(tu_base);
  if (run == 0) {
    fprintf(stderr, "no test ran\n");
    return EXIT_FAILURE;
  }
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

uint32_t tu_crc32c(const void *data, size_t len)
{
  const unsigned char *p = data;
  uint32_t crc = 0xffffffffu;
  while (len--) {
    crc ^= *p++;
    for (int k = 0; k < 8; k++)
      crc = (crc & 1) ? (crc >> 1) ^ 0x82f63b78u : crc >> 1;
  }
  return ~crc;
}
