/* fmr.c: command-line tool for operators of libfmalloc-r heap files.

   Copyright (C) 2026 The libfmalloc-r authors.
   This file is part of libfmalloc-r, free software under the GNU Lesser
   General Public License, version 2.1 or (at your option) any later version.

   fmr creates, inspects, checks, recovers, dumps, loads and edits the
   catalog of a persistent heap file.  It uses only the public API in
   fmalloc-r.h.  Commands that write open the file read-write without
   FMR_OPEN_CREATE, so a mistyped path is an error and never a new file;
   only 'create' and 'load' make files.

   Errors are worded for a shell user, one line each: "fmr: FILE: no such
   file".  fmr_errmsg() is meant for programs and is not printed.

   Exit status: 0 success; 1 problems found or an operation failed; 2 usage
   error or the heap file could not be opened.  */

#include <config.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fmalloc-r.h"

#define EXIT_OK     0
#define EXIT_FAILED 1
#define EXIT_USAGE  2

static const char program_name[] = "fmr";

/* --- options ------------------------------------------------------- */

/* Command-line options a command may accept (struct command.options). */
#define OPT_LONG     0x01u /* ls: --long, -l */
#define OPT_NAME     0x02u /* drop, tombstone: --name, -n */
#define OPT_JSON     0x04u /* info, ls, check: --json */
#define OPT_NUMERIC  0x08u /* ls: --numeric-type, -n */
#define OPT_SIZE     0x10u /* create: --size, -s N */
#define OPT_MAX_SIZE 0x20u /* create, load: --max-size, -m N */

/* getopt_long values of the options without a short form. */
enum { VAL_JSON = 256 };

struct option_spec {
  unsigned bit;
  const char *name;
  int has_arg;
  int val;         /* short option character, or VAL_* */
  const char *arg; /* name of the argument in help, or NULL */
  const char *help;
};

/* Every option of every command.  -n means --name for drop and tombstone
   and --numeric-type for ls; no command takes both. */
static const struct option_spec option_specs[] = {
    {OPT_LONG, "long", no_argument, 'l', NULL,
     "also print the payload offset and the metadata length"},
    {OPT_NUMERIC, "numeric-type", no_argument, 'n', NULL,
     "print every type tag in hexadecimal, not as text"},
    {OPT_NAME, "name", no_argument, 'n', NULL,
     "treat every argument as a name, even if it is all digits"},
    {OPT_JSON, "json", no_argument, VAL_JSON, NULL,
     "print one JSON object instead of text"},
    {OPT_SIZE, "size", required_argument, 's', "N",
     "initial file size in bytes (suffix K, M, G or T for\n"
     "                       KiB...; default 1M)"},
    {OPT_MAX_SIZE, "max-size", required_argument, 'm', "N",
     "largest size the heap may grow to while fmr has it\n"
     "                       open (suffixes as for --size)"},
};

#define N_OPTION_SPECS (sizeof option_specs / sizeof option_specs[0])

struct command;

/* Parsed arguments of one command. */
struct args {
  const struct command *command;
  unsigned flags;    /* OPT_* given on the command line */
  uint64_t size;     /* --size, 0 if not given */
  uint64_t max_size; /* --max-size, 0 if not given */
  int count;         /* positional arguments */
  char **values;     /* positional arguments, in order */
};

struct command {
  const char *name;
  int (*run)(const struct args *args);
  unsigned options; /* OPT_* accepted */
  int min_args;     /* positional arguments, FILE included */
  int max_args;     /* -1: no limit */
  const char *synopsis;
  const char *summary;
  const char *help;
};

/* --- error messages ------------------------------------------------ */

/* A sentence for a shell user about CODE; no API names.  */
static const char *describe(int code)
{
  switch (code) {
  case FMR_EINVAL:
    return "invalid argument";
  case FMR_ENOMEM:
    return "out of memory";
  case FMR_EIO:
    return "input/output error";
  case FMR_ENOSPC:
    return "no space left on device";
  case FMR_EFULL:
    return "heap is at its maximum size";
  case FMR_ELOCKED:
    return "in use by another process that is writing to it";
  case FMR_EEMPTY:
    return "empty file, not a heap";
  case FMR_ENOTHEAP:
    return "not a heap file";
  case FMR_EVERSION:
    return "heap format version not supported by this fmr";
  case FMR_EFEATURE:
    return "heap uses features not supported by this fmr";
  case FMR_EBYTEORDER:
    return "heap was written on a machine of the other byte order";
  case FMR_EPAGESIZE:
    return "heap has a page size this machine does not support";
  case FMR_ETRUNCATED:
    return "heap file is truncated";
  case FMR_ECHECKSUM:
    return "heap is damaged (checksum mismatch)";
  case FMR_ECORRUPT:
    return "heap is damaged";
  case FMR_ENOTFOUND:
    return "no such record";
  case FMR_EEXIST:
    return "name already used by another record";
  case FMR_EREADONLY:
    return "heap is open read-only";
  case FMR_ESCRATCH:
    return "not a persistent heap";
  case FMR_EBUSY:
    return "busy: already open in this process";
  case FMR_ESTALE:
    return "record changed meanwhile";
  case FMR_ENAMETOOLONG:
    return "name too long";
  case FMR_ENOENT:
    return "no such file";
  case FMR_EACCES:
    return "permission denied";
  case FMR_ECOMMITTED:
    return "block belongs to a record";
  case FMR_ENOTOWNED:
    return "not a block of this heap";
  case FMR_ETOOBIG:
    return "size too large";
  case FMR_EFORKED:
    return "heap was opened before a fork";
  case FMR_EGONE:
    return "file was deleted or replaced while open";
  case FMR_EREPLACED:
    return "file was replaced while open";
  case FMR_EDANGLING:
    return "symbolic link to nothing";
  default:
    return "unknown error";
  }
}

/* Print "fmr: FILE: [WHAT: ]SENTENCE\n" for CODE on stderr.  */
static void report_error(const char *file, const char *what, int code)
{
  const char *sentence = describe(code);
  struct stat st;

  /* The library calls a directory an invalid argument.  */
  if (code == FMR_EINVAL && what == NULL && stat(file, &st) == 0 &&
      S_ISDIR(st.st_mode))
    sentence = "is a directory";
  if (what != NULL)
    fprintf(stderr, "%s: %s: %s: %s\n", program_name, file, what, sentence);
  else
    fprintf(stderr, "%s: %s: %s\n", program_name, file, sentence);
}

static void usage_error(const struct command *command, const char *format,
                        const char *value)
{
  fprintf(stderr, "%s: ", program_name);
  if (command != NULL)
    fprintf(stderr, "%s: ", command->name);
  fprintf(stderr, format, value);
  fputc('\n', stderr);
  if (command != NULL)
    fprintf(stderr, "Try '%s %s --help' for more information.\n", program_name,
            command->name);
  else
    fprintf(stderr, "Try '%s --help' for more information.\n", program_name);
}

/* --- output helpers ------------------------------------------------ */

/* Format BYTES as "N (X.Y UNIT)" into BUF, or just "N" below 1 KiB. */
static const char *format_bytes(uint64_t bytes, char *buf, size_t size)
{
  static const char *const units[] = {"KiB", "MiB", "GiB",
                                      "TiB", "PiB", "EiB"};
  double value = (double)bytes;
  int unit = -1;

  while (value >= 1024.0 && unit < 5) {
    value /= 1024.0;
    unit++;
  }
  if (unit < 0)
    snprintf(buf, size, "%" PRIu64, bytes);
  else
    snprintf(buf, size, "%" PRIu64 " (%.1f %s)", bytes, value, units[unit]);
  return buf;
}

/* Print NAME (LEN bytes) to OUT with bytes outside printable ASCII,
   backslash and space escaped as \xNN, so each record stays on one line
   and the name column can be split on white space.  */
static void print_escaped(FILE *out, const char *name, size_t len)
{
  const unsigned char *p = (const unsigned char *)name;
  size_t i;

  for (i = 0; i < len; i++) {
    if (p[i] > ' ' && p[i] < 0x7f && p[i] != '\\')
      putc(p[i], out);
    else
      fprintf(out, "\\x%02x", p[i]);
  }
}

/* As print_escaped on stdout; an empty name prints as "-".  */
static void print_name(const char *name)
{
  if (name[0] == '\0')
    fputs("-", stdout);
  else
    print_escaped(stdout, name, strlen(name));
}

/* Print NAME as a JSON string: UTF-8 sequences as they are, control
   characters, quote and backslash escaped, and every byte that is not
   part of a valid UTF-8 sequence as \u00NN (the code point of its
   value).  */
static void print_json_string(const char *name)
{
  const unsigned char *p = (const unsigned char *)name;

  putchar('"');
  while (*p != '\0') {
    unsigned char c = *p;
    size_t n = 0, k;

    if (c == '"' || c == '\\') {
      printf("\\%c", c);
      p++;
      continue;
    }
    if (c < 0x20 || c == 0x7f) {
      printf("\\u%04x", c);
      p++;
      continue;
    }
    if (c < 0x80) {
      putchar(c);
      p++;
      continue;
    }
    /* Length of a valid UTF-8 sequence starting at P, or 0.  */
    if (c >= 0xc2 && c <= 0xdf)
      n = 2;
    else if (c >= 0xe0 && c <= 0xef)
      n = 3;
    else if (c >= 0xf0 && c <= 0xf4)
      n = 4;
    for (k = 1; k < n; k++)
      if ((p[k] & 0xc0) != 0x80)
        n = 0;
    if (n == 3 && ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] >= 0xa0)))
      n = 0; /* overlong, or a surrogate */
    if (n == 4 && ((c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] >= 0x90)))
      n = 0; /* overlong, or above U+10FFFF */
    if (n == 0) {
      printf("\\u%04x", c);
      p++;
      continue;
    }
    fwrite(p, 1, n, stdout);
    p += n;
  }
  putchar('"');
}

/* The type tag TYPE as text into BUF (at least 11 bytes): its four bytes,
   most significant first, if each is a printable ASCII character other
   than space and backslash (0x62656e63 is "benc"), else "0x%08x".  With
   NUMERIC always the hexadecimal form.  */
static const char *format_type(uint32_t type, int numeric, char *buf)
{
  int i;

  if (!numeric) {
    for (i = 0; i < 4; i++) {
      unsigned char c = (unsigned char)(type >> (24 - 8 * i));
      if (c <= ' ' || c >= 0x7f || c == '\\')
        break;
      buf[i] = (char)c;
    }
    if (i == 4) {
      buf[4] = '\0';
      return buf;
    }
  }
  snprintf(buf, 11, "0x%08" PRIx32, type);
  return buf;
}

static const char *state_name(int state)
{
  switch (state) {
  case FMR_RECORD_COMMITTED:
    return "committed";
  case FMR_RECORD_TOMBSTONE:
    return "tombstone";
  default:
    return "unknown";
  }
}

static void format_uuid(const uint8_t *uuid, char *buf)
{
  int i;
  char *p = buf;

  for (i = 0; i < FMR_UUID_SIZE; i++) {
    p += sprintf(p, "%02x", uuid[i]);
    if (i == 3 || i == 5 || i == 7 || i == 9)
      *p++ = '-';
  }
  *p = '\0';
}

/* --- opening ------------------------------------------------------- */

/* Open FILE as a persistent heap with FLAGS and at most MAX_SIZE (0: the
   default).  On failure print the error and return NULL.  */
static fmr_heap *open_heap_max(const char *file, unsigned flags,
                               uint64_t max_size)
{
  fmr_options options;
  fmr_heap *heap = NULL;
  int rc;

  fmr_options_init(&options);
  options.mode = FMR_MODE_PERSISTENT;
  options.flags = flags;
  options.max_size = max_size;
  rc = fmr_open(file, &options, &heap);
  if (rc != FMR_OK) {
    report_error(file, NULL, rc);
    return NULL;
  }
  return heap;
}

/* Open FILE with FLAGS, never creating it.  */
static fmr_heap *open_heap(const char *file, unsigned flags)
{
  return open_heap_max(file, flags & ~FMR_OPEN_CREATE, 0);
}

/* Close HEAP; print an error and return EXIT_FAILED if that fails.  */
static int close_heap(const char *file, fmr_heap *heap)
{
  int rc = fmr_close(heap);
  if (rc != FMR_OK) {
    report_error(file, "cannot close", rc);
    return EXIT_FAILED;
  }
  return EXIT_OK;
}

/* --- fmr create ---------------------------------------------------- */

static int cmd_create(const struct args *args)
{
  const char *file = args->values[0];
  fmr_options options;
  fmr_heap *heap = NULL;
  int fd, rc;

  /* O_EXCL: never turn an existing file (heap or not) into a new heap. */
  fd = open(file, O_WRONLY | O_CREAT | O_EXCL, 0666);
  if (fd < 0) {
    int err = errno;
    fprintf(stderr, "%s: %s: %s\n", program_name, file,
            err == EEXIST ? "file exists" : strerror(err));
    return EXIT_FAILED;
  }
  close(fd);

  fmr_options_init(&options);
  options.mode = FMR_MODE_PERSISTENT;
  options.flags = FMR_OPEN_CREATE;
  options.initial_size = args->size;
  options.max_size = args->max_size;
  rc = fmr_open(file, &options, &heap);
  if (rc == FMR_OK)
    rc = fmr_close(heap);
  if (rc != FMR_OK) {
    report_error(file, "cannot create", rc);
    unlink(file);
    return EXIT_FAILED;
  }
  return EXIT_OK;
}

/* --- fmr info ------------------------------------------------------ */

#define NOT_COMPUTED "- (not computed by a read-only open)"

static void info_json(const char *file, const fmr_stats *st)
{
  char uuid[40];
  int partial_free =
      st->readonly && st->free_extents == 0 && st->free_bytes > 0;
  int partial_blocks = st->readonly && st->blocks == 0 && st->used_bytes > 0;

  format_uuid(st->uuid, uuid);
  printf("{\"file\": ");
  print_json_string(file);
  printf(", \"format_version\": %" PRIu32 ", \"uuid\": \"%s\"",
         st->format_version, uuid);
  printf(", \"file_size\": %" PRIu64 ", \"max_size\": %" PRIu64
         ", \"heap_bytes\": %" PRIu64 ", \"used_bytes\": %" PRIu64
         ", \"free_bytes\": %" PRIu64,
         st->file_size, st->max_size, st->heap_bytes, st->used_bytes,
         st->free_bytes);
  if (partial_free)
    printf(", \"largest_free\": null, \"free_extents\": null");
  else
    printf(", \"largest_free\": %" PRIu64 ", \"free_extents\": %" PRIu64,
           st->largest_free, st->free_extents);
  if (partial_blocks)
    printf(", \"blocks\": null");
  else
    printf(", \"blocks\": %" PRIu64, st->blocks);
  printf(", \"records_committed\": %" PRIu64
         ", \"records_tombstone\": %" PRIu64 ", \"records_damaged\": %" PRIu64
         ", \"record_bytes\": %" PRIu64 ", \"tombstone_bytes\": %" PRIu64
         ", \"catalog_bytes\": %" PRIu64 ", \"catalog_slots\": %" PRIu64
         ", \"clean\": %s}\n",
         st->records_committed, st->records_tombstone, st->records_damaged,
         st->record_bytes, st->tombstone_bytes, st->catalog_bytes,
         st->catalog_slots, st->recovered ? "false" : "true");
}

static int cmd_info(const struct args *args)
{
  const char *file = args->values[0];
  fmr_heap *heap;
  fmr_stats st;
  fmr_stats_init(&st);
  char buf[64];
  int rc;

  heap = open_heap(file, FMR_OPEN_READONLY);
  if (heap == NULL)
    return EXIT_USAGE;
  rc = fmr_stat(heap, &st);
  if (rc != FMR_OK) {
    report_error(file, "cannot read statistics", rc);
    fmr_close(heap);
    return EXIT_FAILED;
  }
  if (args->flags & OPT_JSON) {
    info_json(file, &st);
    return close_heap(file, heap);
  }

  printf("file:              %s\n", file);
  printf("format version:    %" PRIu32 "\n", st.format_version);
  format_uuid(st.uuid, buf);
  printf("uuid:              %s\n", buf);
  printf("file size:         %s\n",
         format_bytes(st.file_size, buf, sizeof buf));
  printf("max size:          %s\n",
         format_bytes(st.max_size, buf, sizeof buf));
  printf("heap bytes:        %s\n",
         format_bytes(st.heap_bytes, buf, sizeof buf));
  printf("used bytes:        %s\n",
         format_bytes(st.used_bytes, buf, sizeof buf));
  printf("free bytes:        %s\n",
         format_bytes(st.free_bytes, buf, sizeof buf));
  /* A read-only open does not rebuild the allocator's free extents and
     block table, so the library reports 0 for them; say so rather than
     print a misleading 0.  */
  if (st.readonly && st.free_extents == 0 && st.free_bytes > 0) {
    printf("largest free:      %s\n", NOT_COMPUTED);
    printf("free extents:      %s\n", NOT_COMPUTED);
  } else {
    printf("largest free:      %s\n",
           format_bytes(st.largest_free, buf, sizeof buf));
    printf("free extents:      %" PRIu64 "\n", st.free_extents);
  }
  if (st.readonly && st.blocks == 0 && st.used_bytes > 0)
    printf("blocks:            %s\n", NOT_COMPUTED);
  else
    printf("blocks:            %" PRIu64 "\n", st.blocks);
  printf("records committed: %" PRIu64 "\n", st.records_committed);
  printf("records tombstone: %" PRIu64 "\n", st.records_tombstone);
  printf("records damaged:   %" PRIu64 "\n", st.records_damaged);
  printf("record bytes:      %s\n",
         format_bytes(st.record_bytes, buf, sizeof buf));
  printf("tombstone bytes:   %s\n",
         format_bytes(st.tombstone_bytes, buf, sizeof buf));
  printf("catalog bytes:     %s\n",
         format_bytes(st.catalog_bytes, buf, sizeof buf));
  printf("catalog slots:     %" PRIu64 "\n", st.catalog_slots);
  printf("last close:        %s\n",
         st.recovered ? "not clean (a writer has it open, or did not close it)"
                      : "clean");
  return close_heap(file, heap);
}

/* --- fmr ls -------------------------------------------------------- */

struct ls_state {
  int long_format;
  int numeric;
  int json;
  uint64_t count;
};

static int ls_record(const fmr_record *record, void *arg)
{
  struct ls_state *ls = arg;
  char type[16];

  format_type(record->type, ls->numeric, type);
  if (ls->json) {
    printf("%s\n  {\"id\": %" PRIu64 ", \"generation\": %" PRIu64
           ", \"state\": \"%s\", \"type\": %" PRIu32 ", \"type_tag\": ",
           ls->count == 0 ? "" : ",", record->id, record->generation,
           state_name(record->state), record->type);
    print_json_string(type); /* a tag may hold a quote */
    printf(", \"length\": %" PRIu64 ", \"bytes\": %" PRIu64
           ", \"offset\": %" PRIu64 ", \"meta_bytes\": %zu, \"name\": ",
           record->length, record->payload_bytes, record->payload_offset,
           record->meta_len);
    if (record->name[0] == '\0')
      fputs("null", stdout);
    else
      print_json_string(record->name);
    putchar('}');
  } else {
    printf("%10" PRIu64 " %5" PRIu64 " %-9s %-10s %12" PRIu64 " %12" PRIu64
           " ",
           record->id, record->generation, state_name(record->state), type,
           record->length, record->payload_bytes);
    if (ls->long_format)
      printf("%14" PRIu64 " %8zu ", record->payload_offset, record->meta_len);
    print_name(record->name);
    putchar('\n');
  }
  ls->count++;
  /* Stop early if stdout is gone (e.g. a closed pipe).  */
  return ferror(stdout) ? 1 : 0;
}

static int cmd_ls(const struct args *args)
{
  const char *file = args->values[0];
  struct ls_state ls;
  fmr_heap *heap;
  int rc, status;

  ls.long_format = (args->flags & OPT_LONG) != 0;
  ls.numeric = (args->flags & OPT_NUMERIC) != 0;
  ls.json = (args->flags & OPT_JSON) != 0;
  ls.count = 0;
  heap = open_heap(file, FMR_OPEN_READONLY);
  if (heap == NULL)
    return EXIT_USAGE;

  if (ls.json) {
    printf("{\"file\": ");
    print_json_string(file);
    printf(", \"records\": [");
  } else {
    printf("%10s %5s %-9s %-10s %12s %12s ", "ID", "GEN", "STATE", "TYPE",
           "LENGTH", "BYTES");
    if (ls.long_format)
      printf("%14s %8s ", "OFFSET", "META");
    printf("NAME\n");
  }

  status = EXIT_OK;
  rc = fmr_record_foreach(heap, ls_record, &ls);
  if (rc < 0) {
    report_error(file, "cannot list records", rc);
    status = EXIT_FAILED;
  }
  if (ls.json)
    printf("%s]}\n", ls.count > 0 ? "\n" : "");
  if (close_heap(file, heap) != EXIT_OK)
    status = EXIT_FAILED;
  return status;
}

/* --- fmr check ----------------------------------------------------- */

struct check_state {
  const char *file;
  int json;
  uint64_t problems;
};

/* Print one problem, as a line or as an element of the JSON array.  */
static void check_problem(struct check_state *check, const char *problem)
{
  if (check->json) {
    printf("%s\n  ", check->problems == 0 ? "" : ",");
    print_json_string(problem);
  } else
    printf("%s: %s\n", check->file, problem);
  check->problems++;
}

static void check_report(const char *problem, void *arg)
{
  check_problem(arg, problem);
}

static int cmd_check(const struct args *args)
{
  struct check_state check;
  fmr_heap *heap;
  fmr_stats st;
  fmr_stats_init(&st);
  int rc, status, have_stats, failed = 0;
  char line[128];

  check.file = args->values[0];
  check.json = (args->flags & OPT_JSON) != 0;
  check.problems = 0;
  heap = open_heap(check.file, FMR_OPEN_READONLY);
  if (heap == NULL)
    return EXIT_USAGE;

  if (check.json) {
    printf("{\"file\": ");
    print_json_string(check.file);
    printf(", \"problems\": [");
  }
  status = EXIT_OK;
  rc = fmr_check(heap, check_report, &check);
  if (rc != FMR_OK && rc != FMR_ECORRUPT) {
    report_error(check.file, "cannot check", rc);
    status = EXIT_FAILED;
    failed = 1;
  } else if (rc == FMR_ECORRUPT && check.problems == 0) {
    /* The library found a problem but did not describe it.  */
    check_problem(&check, describe(rc));
  }

  have_stats = fmr_stat(heap, &st) == FMR_OK;
  if (have_stats && st.records_damaged > 0) {
    /* fmr_check normally reports each damaged slot itself; count them
       here only if it did not.  */
    snprintf(line, sizeof line,
             "%" PRIu64 " damaged record(s) skipped; 'fmr recover' drops "
             "them",
             st.records_damaged);
    if (check.problems == 0)
      check_problem(&check, line);
    else if (!check.json)
      printf("%s: %s\n", check.file, line);
  }
  if (!check.json && have_stats && st.recovered)
    printf("%s: note: not closed cleanly: a writer has it open, or did "
           "not close it (then the next read-write open recovers it)\n",
           check.file);

  if (status == EXIT_OK && check.problems > 0)
    status = EXIT_FAILED;
  if (check.json) {
    printf("%s], \"count\": %" PRIu64 ", \"ok\": %s, \"complete\": %s"
           ", \"clean\": %s}\n",
           check.problems > 0 ? "\n" : "", check.problems,
           status == EXIT_OK ? "true" : "false", failed ? "false" : "true",
           have_stats && st.recovered ? "false" : "true");
  } else if (!failed) {
    if (check.problems > 0)
      printf("%s: %" PRIu64 " problem(s) found\n", check.file, check.problems);
    else
      printf("%s: ok\n", check.file);
  }
  if (close_heap(check.file, heap) != EXIT_OK)
    status = EXIT_FAILED;
  return status;
}

/* --- fmr recover --------------------------------------------------- */

static int cmd_recover(const struct args *args)
{
  const char *file = args->values[0];
  fmr_heap *heap;
  fmr_stats st;
  fmr_stats_init(&st);
  int rc, status;

  heap = open_heap(file, FMR_OPEN_RECOVER);
  if (heap == NULL)
    return EXIT_USAGE;

  status = EXIT_OK;
  rc = fmr_stat(heap, &st);
  if (rc != FMR_OK) {
    report_error(file, "cannot read statistics", rc);
    status = EXIT_FAILED;
  } else {
    if (st.recovered)
      printf("%s: last close was unclean; recovered\n", file);
    else
      printf("%s: last close was clean\n", file);
    printf("%s: %" PRIu64 " damaged record(s) dropped\n", file,
           st.records_damaged);
    printf("%s: %" PRIu64 " committed, %" PRIu64 " tombstone "
           "record(s) kept\n",
           file, st.records_committed, st.records_tombstone);
  }
  if (close_heap(file, heap) != EXIT_OK)
    status = EXIT_FAILED;
  return status;
}

/* --- fmr drop, fmr tombstone --------------------------------------- */

/* Return 1 if S is a non-empty string of decimal digits.  */
static int all_digits(const char *s)
{
  if (*s == '\0')
    return 0;
  for (; *s != '\0'; s++)
    if (*s < '0' || *s > '9')
      return 0;
  return 1;
}

/* Resolve ARG to a record.  Return 0, or EXIT_FAILED after printing an
   error.  */
static int resolve_record(fmr_heap *heap, const char *file, const char *arg,
                          int force_name, fmr_record *record)
{
  char what[64];
  int rc;

  if (!force_name && all_digits(arg)) {
    uint64_t id;
    errno = 0;
    id = strtoull(arg, NULL, 10);
    if (errno == ERANGE) {
      fprintf(stderr, "%s: %s: record id %s out of range\n", program_name,
              file, arg);
      return EXIT_FAILED;
    }
    rc = fmr_record_get(heap, id, record);
    if (rc != FMR_OK) {
      snprintf(what, sizeof what, "record %" PRIu64, id);
      report_error(file, what, rc);
      return EXIT_FAILED;
    }
    return EXIT_OK;
  }

  rc = fmr_record_find(heap, arg, record);
  if (rc != FMR_OK) {
    fprintf(stderr, "%s: %s: record named '", program_name, file);
    print_escaped(stderr, arg, strlen(arg));
    fprintf(stderr, "': %s\n",
            rc == FMR_ENOTFOUND ? "no such record" : describe(rc));
    return EXIT_FAILED;
  }
  return EXIT_OK;
}

/* Apply OP (fmr_record_free or fmr_record_tombstone) to every record the
   arguments after FILE name.  VERB is past tense for the report.  */
static int edit_records(const struct args *args,
                        int (*op)(fmr_heap *, uint64_t), const char *verb)
{
  const char *file = args->values[0];
  int force_name = (args->flags & OPT_NAME) != 0;
  fmr_heap *heap;
  int status = EXIT_OK;
  int i, rc;

  heap = open_heap(file, 0);
  if (heap == NULL)
    return EXIT_USAGE;

  for (i = 1; i < args->count; i++) {
    fmr_record record;
    fmr_record_init(&record);
    char what[64];

    if (resolve_record(heap, file, args->values[i], force_name, &record) !=
        EXIT_OK) {
      status = EXIT_FAILED;
      continue;
    }
    rc = op(heap, record.id);
    if (rc != FMR_OK) {
      snprintf(what, sizeof what, "record %" PRIu64, record.id);
      report_error(file, what, rc);
      status = EXIT_FAILED;
      continue;
    }
    printf("%s record %" PRIu64, verb, record.id);
    if (record.name[0] != '\0') {
      fputs(" ", stdout);
      print_name(record.name);
    }
    putchar('\n');
  }

  if (close_heap(file, heap) != EXIT_OK)
    status = EXIT_FAILED;
  return status;
}

static int cmd_drop(const struct args *args)
{
  return edit_records(args, fmr_record_free, "dropped");
}

static int cmd_tombstone(const struct args *args)
{
  return edit_records(args, fmr_record_tombstone, "tombstoned");
}

/* --- fmr reclaim, fmr compact -------------------------------------- */

static int cmd_reclaim(const struct args *args)
{
  const char *file = args->values[0];
  fmr_heap *heap;
  uint64_t count = 0;
  int rc, status;

  heap = open_heap(file, 0);
  if (heap == NULL)
    return EXIT_USAGE;
  status = EXIT_OK;
  rc = fmr_reclaim(heap, &count);
  if (rc != FMR_OK) {
    report_error(file, "cannot reclaim", rc);
    status = EXIT_FAILED;
  }
  printf("reclaimed %" PRIu64 " tombstone(s)\n", count);
  if (close_heap(file, heap) != EXIT_OK)
    status = EXIT_FAILED;
  return status;
}

static int cmd_compact(const struct args *args)
{
  const char *file = args->values[0];
  uint64_t before = 0, after = 0;
  int rc = fmr_compact(file, &before, &after);
  if (rc != FMR_OK) {
    /* An open error leaves the file as it was: a usage-class failure. */
    int open_error = !(rc == FMR_ENOSPC || rc == FMR_EIO || rc == FMR_ENOMEM);
    report_error(file, open_error ? NULL : "cannot compact", rc);
    return open_error ? EXIT_USAGE : EXIT_FAILED;
  }
  printf("compacted %s: %" PRIu64 " -> %" PRIu64 " bytes\n", file, before,
         after);
  return EXIT_OK;
}

/* --- fmr dump, fmr load -------------------------------------------- */

/* The dump format, version 1 (see fmr(1)), all lines ending in \n:

     fmr-dump 1
     # comment lines (the source file, its uuid)
     record type=0x62656e63 length=N meta=M payload=P|- name=ESCAPED
     M bytes of metadata in hexadecimal, 64 bytes (128 digits) a line
     P bytes of payload in hexadecimal, 64 bytes a line
     ...
     end

   One record line per committed record, in id order; name= is absent
   for an unnamed record and escaped as in 'fmr ls' (\xNN).  payload=-
   is a record without a payload.  Tombstones, ids and generations are
   not dumped: a load gives new ids.  */

#define DUMP_MAGIC   "fmr-dump 1"
#define HEX_PER_LINE 64

static void dump_hex(const unsigned char *p, uint64_t n)
{
  static const char digits[] = "0123456789abcdef";
  char line[2 * HEX_PER_LINE + 1];
  uint64_t i = 0;

  while (i < n) {
    size_t k = 0;
    while (k < 2 * HEX_PER_LINE && i < n) {
      line[k++] = digits[p[i] >> 4];
      line[k++] = digits[p[i] & 15];
      i++;
    }
    line[k++] = '\n';
    fwrite(line, 1, k, stdout);
  }
}

struct dump_state {
  const char *file;
  int error;
};

static int dump_record(const fmr_record *record, void *arg)
{
  struct dump_state *dump = arg;

  if (record->state != FMR_RECORD_COMMITTED)
    return 0;
  if (record->payload_offset != 0 && record->payload == NULL) {
    fprintf(stderr, "%s: %s: record %" PRIu64 ": payload not readable\n",
            program_name, dump->file, record->id);
    dump->error = 1;
    return 1;
  }
  printf("record type=0x%08" PRIx32 " length=%" PRIu64 " meta=%zu",
         record->type, record->length, record->meta_len);
  if (record->payload_offset == 0)
    printf(" payload=-");
  else
    printf(" payload=%" PRIu64, record->payload_bytes);
  if (record->name[0] != '\0') {
    printf(" name=");
    print_escaped(stdout, record->name, strlen(record->name));
  }
  putchar('\n');
  dump_hex(record->meta, record->meta_len);
  if (record->payload_offset != 0)
    dump_hex(record->payload, record->payload_bytes);
  return ferror(stdout) ? 1 : 0;
}

static int cmd_dump(const struct args *args)
{
  const char *file = args->values[0];
  struct dump_state dump;
  fmr_heap *heap;
  fmr_stats st;
  fmr_stats_init(&st);
  char uuid[40];
  int rc, status = EXIT_OK;

  heap = open_heap(file, FMR_OPEN_READONLY);
  if (heap == NULL)
    return EXIT_USAGE;
  dump.file = file;
  dump.error = 0;
  printf("%s\n", DUMP_MAGIC);
  if (fmr_stat(heap, &st) == FMR_OK) {
    format_uuid(st.uuid, uuid);
    printf("# from ");
    print_escaped(stdout, file, strlen(file));
    printf(", uuid %s, %" PRIu64 " record(s)\n", uuid, st.records_committed);
  }
  rc = fmr_record_foreach(heap, dump_record, &dump);
  if (rc < 0) {
    report_error(file, "cannot list records", rc);
    status = EXIT_FAILED;
  } else if (dump.error)
    status = EXIT_FAILED;
  else
    printf("end\n");
  if (close_heap(file, heap) != EXIT_OK)
    status = EXIT_FAILED;
  return status;
}

/* Reader of a dump on stdin, with the line number for messages.  */
struct reader {
  const char *file;
  unsigned long line;
  char *buf;
  size_t size;
};

static void load_error(const struct reader *in, const char *message)
{
  fprintf(stderr, "%s: %s: input line %lu: %s\n", program_name, in->file,
          in->line, message);
}

/* Read the next line without its newline; return its length or -1 at
   the end of the input (or on a read error).  */
static long read_line(struct reader *in)
{
  ssize_t n = getline(&in->buf, &in->size, stdin);
  if (n < 0)
    return -1;
  in->line++;
  if (n > 0 && in->buf[n - 1] == '\n')
    in->buf[--n] = '\0';
  return (long)n;
}

static int hex_value(int c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Read N bytes in hexadecimal lines into P.  Return 0 or -1 after an
   error message.  */
static int read_hex(struct reader *in, unsigned char *p, uint64_t n)
{
  uint64_t i = 0;

  while (i < n) {
    long len = read_line(in), k;
    if (len < 0) {
      in->line++;
      load_error(in, "unexpected end of input in hexadecimal data");
      return -1;
    }
    if (len == 0 || len % 2 != 0 || (uint64_t)len / 2 > n - i) {
      load_error(in, "bad hexadecimal data line");
      return -1;
    }
    for (k = 0; k < len; k += 2) {
      int hi = hex_value((unsigned char)in->buf[k]);
      int lo = hex_value((unsigned char)in->buf[k + 1]);
      if (hi < 0 || lo < 0) {
        load_error(in, "bad hexadecimal digit");
        return -1;
      }
      p[i++] = (unsigned char)(hi << 4 | lo);
    }
  }
  return 0;
}

/* Undo print_escaped: \xNN is a byte, every other byte is itself.
   Return the length, or -1 if malformed or longer than FMR_NAME_MAX.  */
static long unescape_name(const char *s, char *out)
{
  long n = 0;

  while (*s != '\0') {
    int c = (unsigned char)*s;
    if (c == '\\') {
      int hi, lo;
      if (s[1] != 'x' || (hi = hex_value((unsigned char)s[2])) < 0 ||
          (lo = hex_value((unsigned char)s[3])) < 0)
        return -1;
      c = hi << 4 | lo;
      s += 4;
    } else
      s++;
    if (c == 0 || n >= FMR_NAME_MAX)
      return -1;
    out[n++] = (char)c;
  }
  out[n] = '\0';
  return n;
}

/* Parse an unsigned decimal (or 0x hexadecimal with HEX) field.  */
static int parse_u64(const char *s, int hex, uint64_t *out)
{
  char *end;

  if (hex) {
    if (strncmp(s, "0x", 2) != 0 || !isxdigit((unsigned char)s[2]))
      return -1;
  } else if (!isdigit((unsigned char)s[0]))
    return -1;
  errno = 0;
  *out = strtoull(s, &end, hex ? 16 : 10);
  if (errno != 0 || *end != '\0')
    return -1;
  return 0;
}

/* Parse a record line into its fields.  Return 0 or -1 after a message. */
static int parse_record_line(struct reader *in, uint32_t *type,
                             uint64_t *length, uint64_t *meta_len,
                             int *has_payload, uint64_t *payload_bytes,
                             char *name)
{
  char *p = in->buf + strlen("record ");
  int seen = 0;
  uint64_t v;

  *has_payload = 0;
  name[0] = '\0';
  while (*p != '\0') {
    char *field = p, *value, *space;
    space = strchr(p, ' ');
    if (space != NULL) {
      *space = '\0';
      p = space + 1;
    } else
      p += strlen(p);
    value = strchr(field, '=');
    if (value == NULL) {
      load_error(in, "bad record field");
      return -1;
    }
    *value++ = '\0';
    if (strcmp(field, "type") == 0 && parse_u64(value, 1, &v) == 0 &&
        v <= UINT32_MAX) {
      *type = (uint32_t)v;
      seen |= 1;
    } else if (strcmp(field, "length") == 0 &&
               parse_u64(value, 0, length) == 0)
      seen |= 2;
    else if (strcmp(field, "meta") == 0 &&
             parse_u64(value, 0, meta_len) == 0 && *meta_len <= FMR_META_MAX)
      seen |= 4;
    else if (strcmp(field, "payload") == 0 && strcmp(value, "-") == 0)
      seen |= 8;
    else if (strcmp(field, "payload") == 0 &&
             parse_u64(value, 0, payload_bytes) == 0 && *payload_bytes > 0 &&
             *payload_bytes <= SIZE_MAX) {
      *has_payload = 1;
      seen |= 8;
    } else if (strcmp(field, "name") == 0 && unescape_name(value, name) > 0)
      ;
    else {
      load_error(in, "bad record field");
      return -1;
    }
  }
  if (seen != 15) {
    load_error(in, "record line lacks type, length, meta or payload");
    return -1;
  }
  return 0;
}

static int load_records(fmr_heap *heap, struct reader *in)
{
  for (;;) {
    uint32_t type = 0;
    uint64_t length = 0, meta_len = 0, payload_bytes = 0, id;
    int has_payload, rc;
    unsigned long record_line;
    char name[FMR_NAME_MAX + 1];
    unsigned char *meta = NULL;
    void *payload = NULL;
    long len = read_line(in);

    if (len < 0) {
      in->line++;
      load_error(in, "unexpected end of input (no 'end' line)");
      return EXIT_FAILED;
    }
    if (in->buf[0] == '#')
      continue;
    if (strcmp(in->buf, "end") == 0)
      return EXIT_OK;
    if (strncmp(in->buf, "record ", 7) != 0) {
      load_error(in, "expected a record line");
      return EXIT_FAILED;
    }
    record_line = in->line;
    if (parse_record_line(in, &type, &length, &meta_len, &has_payload,
                          &payload_bytes, name) != 0)
      return EXIT_FAILED;
    if (meta_len > 0) {
      meta = malloc(meta_len);
      if (meta == NULL) {
        load_error(in, "out of memory");
        return EXIT_FAILED;
      }
      if (read_hex(in, meta, meta_len) != 0) {
        free(meta);
        return EXIT_FAILED;
      }
    }
    if (has_payload) {
      rc = fmr_malloc(heap, (size_t)payload_bytes, &payload);
      if (rc != FMR_OK) {
        report_error(in->file, "cannot allocate a payload", rc);
        free(meta);
        return EXIT_FAILED;
      }
      if (read_hex(in, payload, payload_bytes) != 0) {
        fmr_free(heap, payload);
        free(meta);
        return EXIT_FAILED;
      }
    }
    rc = fmr_commit(heap, payload, type, length, name, meta, (size_t)meta_len,
                    0, &id);
    free(meta);
    if (rc != FMR_OK) {
      char what[64];
      snprintf(what, sizeof what, "input line %lu", record_line);
      if (payload != NULL)
        fmr_free(heap, payload);
      report_error(in->file, what, rc);
      return EXIT_FAILED;
    }
  }
}

static int cmd_load(const struct args *args)
{
  const char *file = args->values[0];
  struct reader in;
  fmr_heap *heap;
  int status;

  in.file = file;
  in.line = 0;
  in.buf = NULL;
  in.size = 0;
  if (read_line(&in) < 0 || strcmp(in.buf, DUMP_MAGIC) != 0) {
    if (in.line == 0)
      in.line = 1;
    load_error(&in, "not an fmr dump (no '" DUMP_MAGIC "' line)");
    free(in.buf);
    return EXIT_FAILED;
  }
  /* A missing or empty FILE becomes a new heap; an existing heap gets
     the records added.  */
  heap = open_heap_max(file, FMR_OPEN_CREATE, args->max_size);
  if (heap == NULL) {
    free(in.buf);
    return EXIT_USAGE;
  }
  status = load_records(heap, &in);
  free(in.buf);
  if (close_heap(file, heap) != EXIT_OK)
    status = EXIT_FAILED;
  return status;
}

/* --- command table and help ---------------------------------------- */

static int cmd_help(const struct args *args);

static const struct command commands[] = {
    {"create", cmd_create, OPT_SIZE | OPT_MAX_SIZE, 1, 1,
     "[--size N] [--max-size N] FILE", "create a new, empty heap file",
     "Create FILE as an empty persistent heap.  FILE must not exist.\n"},
    {"info", cmd_info, OPT_JSON, 1, 1, "[--json] FILE",
     "print heap statistics",
     "Open FILE read-only and print its format version, uuid, sizes, free\n"
     "space, record counts, catalog size, and whether it was last closed\n"
     "cleanly.\n"},
    {"ls", cmd_ls, OPT_LONG | OPT_NUMERIC | OPT_JSON, 1, 1,
     "[-ln] [--json] FILE", "list the records of the catalog",
     "Open FILE read-only and print one line per record, in id order: id,\n"
     "generation, state, type tag, length, payload bytes and name (\"-\" if\n"
     "none; bytes outside printable ASCII are shown as \\xNN).  A type tag\n"
     "whose four bytes are printable shows as text (0x62656e63 as benc),\n"
     "any other in hexadecimal.\n"},
    {"check", cmd_check, OPT_JSON, 1, 1, "[--json] FILE",
     "check a heap file for consistency",
     "Open FILE read-only, run the library's full consistency check and\n"
     "print one line per problem.  Exit status 0 if FILE is consistent, 1 if\n"
     "problems were found, 2 if FILE could not be opened.\n"},
    {"recover", cmd_recover, 0, 1, 1, "FILE",
     "recover a heap file and drop damaged records",
     "Open FILE read-write with recovery enabled, so that records with a bad\n"
     "checksum are dropped instead of failing the open, then close it\n"
     "cleanly.  Print whether the last close was unclean (recovery ran) and\n"
     "how many records were dropped.\n"},
    {"drop", cmd_drop, OPT_NAME, 2, -1, "[--name] FILE ID|NAME...",
     "delete records and free their payloads",
     "Open FILE read-write and delete each record given, freeing its\n"
     "payload.  An argument made only of digits is a record id, any other is\n"
     "a record name.\n"},
    {"tombstone", cmd_tombstone, OPT_NAME, 2, -1, "[--name] FILE ID|NAME...",
     "mark records deleted, keep payloads",
     "Open FILE read-write and mark each record given as a tombstone: its\n"
     "name is released but its payload stays until 'fmr reclaim'.  An\n"
     "argument made only of digits is a record id, any other is a name.\n"},
    {"reclaim", cmd_reclaim, 0, 1, 1, "FILE", "free every tombstone",
     "Open FILE read-write, free every tombstone record and its payload, and\n"
     "print how many were freed.\n"},
    {"compact", cmd_compact, 0, 1, 1, "FILE",
     "rewrite a heap file without free space and tombstones",
     "Rewrite FILE without its free space and tombstones, so that it\n"
     "shrinks.  Every committed record keeps its id, generation, name and\n"
     "bytes, and the file keeps its uuid.  The new file is written beside\n"
     "FILE and renamed over it: a crash leaves the old file or the new one,\n"
     "whole.  FILE must not be open for writing elsewhere.\n"},
    {"dump", cmd_dump, 0, 1, 1, "FILE",
     "write the committed records as portable text",
     "Open FILE read-only and write its committed records (type, length,\n"
     "metadata, payload bytes and name) to standard output as text that\n"
     "'fmr load' reads back, on this machine or another.  Ids, generations\n"
     "and tombstones are not dumped.\n"},
    {"load", cmd_load, OPT_MAX_SIZE, 1, 1, "[--max-size N] FILE",
     "add the records of a dump to a heap file",
     "Read a dump written by 'fmr dump' from standard input and commit its\n"
     "records to FILE, which is created if it does not exist.  The records\n"
     "get new ids; a name already used in FILE is an error.  Records\n"
     "committed before an error stay.\n"},
    {"help", cmd_help, 0, 0, 1, "[COMMAND]", "show help for a command",
     "Print the list of commands, or the help of COMMAND.\n"},
};

#define N_COMMANDS (sizeof commands / sizeof commands[0])

static const struct command *find_command(const char *name)
{
  size_t i;
  for (i = 0; i < N_COMMANDS; i++)
    if (strcmp(commands[i].name, name) == 0)
      return &commands[i];
  return NULL;
}

static void print_usage(void)
{
  size_t i;

  printf("Usage: %s [OPTION]\n"
         "  or:  %s COMMAND [OPTION]... [ARGUMENT]...\n"
         "Create, inspect, check and repair libfmalloc-r heap files.\n"
         "\n"
         "Commands:\n",
         program_name, program_name);
  for (i = 0; i < N_COMMANDS; i++)
    printf("  %-10s %s\n", commands[i].name, commands[i].summary);
  printf("\n"
         "Options:\n"
         "  -h, --help     display this help and exit\n"
         "  -V, --version  output version information and exit\n"
         "\n"
         "Run '%s COMMAND --help' for the options of a command.\n"
         "Only create and load make new files.\n"
         "\n"
         "Exit status:\n"
         " 0  success\n"
         " 1  problems found, or an operation failed\n"
         " 2  usage error, or the heap file could not be opened\n",
         program_name);
#ifdef PACKAGE_BUGREPORT
  printf("\nReport bugs to <%s>.\n", PACKAGE_BUGREPORT);
#endif
}

static void print_command_help(const struct command *command)
{
  size_t i;

  printf("Usage: %s %s %s\n%s\n", program_name, command->name,
         command->synopsis, command->help);
  for (i = 0; i < N_OPTION_SPECS; i++) {
    const struct option_spec *o = &option_specs[i];
    char left[32];
    if ((o->bit & command->options) == 0)
      continue;
    if (o->val < 256)
      snprintf(left, sizeof left, "-%c, --%s%s%s", o->val, o->name,
               o->arg ? " " : "", o->arg ? o->arg : "");
    else
      snprintf(left, sizeof left, "    --%s%s%s", o->name, o->arg ? " " : "",
               o->arg ? o->arg : "");
    printf("  %-20s %s\n", left, o->help);
  }
  printf("  %-20s %s\n", "-h, --help", "display this help and exit");
}

static void print_version(void)
{
  printf("%s (libfmalloc-r) %s\n", program_name, FMR_VERSION_STRING);
  printf("Copyright (C) 2026 The libfmalloc-r authors.\n"
         "License LGPLv2.1+: GNU LGPL version 2.1 or later "
         "<https://gnu.org/licenses/lgpl-2.1.html>.\n"
         "This is free software: you are free to change and "
         "redistribute it.\n"
         "There is NO WARRANTY, to the extent permitted by law.\n");
  if (strcmp(fmr_version(), FMR_VERSION_STRING) != 0)
    printf("Library version at run time: %s\n", fmr_version());
}

static int cmd_help(const struct args *args)
{
  const struct command *command;

  if (args->count == 0) {
    print_usage();
    return EXIT_OK;
  }
  command = find_command(args->values[0]);
  if (command == NULL) {
    usage_error(NULL, "unknown command '%s'", args->values[0]);
    return EXIT_USAGE;
  }
  print_command_help(command);
  return EXIT_OK;
}

/* Parse a size: decimal digits with an optional K, M, G or T suffix
   (powers of 1024, also written KiB...).  Return 0, or -1 if malformed,
   zero or too large.  */
static int parse_size(const char *s, uint64_t *out)
{
  char *end;
  uint64_t v;
  int shift = 0;

  if (!isdigit((unsigned char)s[0]))
    return -1;
  errno = 0;
  v = strtoull(s, &end, 10);
  if (errno != 0)
    return -1;
  switch (*end) {
  case 'k':
  case 'K':
    shift = 10;
    end++;
    break;
  case 'm':
  case 'M':
    shift = 20;
    end++;
    break;
  case 'g':
  case 'G':
    shift = 30;
    end++;
    break;
  case 't':
  case 'T':
    shift = 40;
    end++;
    break;
  default:
    break;
  }
  if (shift != 0 && strcmp(end, "iB") == 0)
    end += 2;
  if (*end != '\0' || v == 0 || v > (UINT64_MAX >> shift))
    return -1;
  *out = v << shift;
  return 0;
}

/* Parse the options and arguments of COMMAND in ARGV[0..ARGC-1] (ARGV[0]
   is the command name) with getopt_long: options may come anywhere before
   "--", short ones combined (-ln).  Return -1 to continue, or an exit
   status.  */
static int parse_args(const struct command *command, int argc, char **argv,
                      struct args *args)
{
  struct option longopts[N_OPTION_SPECS + 2];
  char shortopts[2 * N_OPTION_SPECS + 4];
  size_t i, nlong = 0, nshort = 0;
  int c;

  args->command = command;
  args->flags = 0;
  args->size = 0;
  args->max_size = 0;
  args->count = 0;
  args->values = NULL;

  shortopts[nshort++] = ':'; /* ':' for a missing argument */
  shortopts[nshort++] = 'h';
  for (i = 0; i < N_OPTION_SPECS; i++) {
    const struct option_spec *o = &option_specs[i];
    if ((o->bit & command->options) == 0)
      continue;
    longopts[nlong].name = o->name;
    longopts[nlong].has_arg = o->has_arg;
    longopts[nlong].flag = NULL;
    longopts[nlong].val = o->val;
    nlong++;
    if (o->val < 256) {
      shortopts[nshort++] = (char)o->val;
      if (o->has_arg == required_argument)
        shortopts[nshort++] = ':';
    }
  }
  longopts[nlong].name = "help";
  longopts[nlong].has_arg = no_argument;
  longopts[nlong].flag = NULL;
  longopts[nlong].val = 'h';
  nlong++;
  memset(&longopts[nlong], 0, sizeof longopts[nlong]);
  shortopts[nshort] = '\0';

  opterr = 0;
  optind = 0; /* 0: GNU getopt starts afresh on a new argument vector */
  while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
    char opt[64];
    switch (c) {
    case 'h':
      print_command_help(command);
      return EXIT_OK;
    case ':':
      if (optopt >= 256 || argv[optind - 1][1] == '-')
        usage_error(command, "option '%s' requires an argument",
                    argv[optind - 1]);
      else {
        snprintf(opt, sizeof opt, "-%c", optopt);
        usage_error(command, "option '%s' requires an argument", opt);
      }
      return EXIT_USAGE;
    case '?':
      if (optopt == 0)
        usage_error(command, "unrecognized option '%s'", argv[optind - 1]);
      else if (optopt < 256 && strchr(shortopts + 1, optopt) == NULL) {
        snprintf(opt, sizeof opt, "-%c", optopt);
        usage_error(command, "unrecognized option '%s'", opt);
      } else
        usage_error(command, "option '%s' takes no argument",
                    argv[optind - 1]);
      return EXIT_USAGE;
    default:
      for (i = 0; i < N_OPTION_SPECS; i++) {
        const struct option_spec *o = &option_specs[i];
        if (o->val != c || (o->bit & command->options) == 0)
          continue;
        args->flags |= o->bit;
        if (o->bit == OPT_SIZE || o->bit == OPT_MAX_SIZE) {
          uint64_t *dest = o->bit == OPT_SIZE ? &args->size : &args->max_size;
          if (parse_size(optarg, dest) != 0) {
            snprintf(opt, sizeof opt, "invalid size for --%s: '%%s'", o->name);
            usage_error(command, opt, optarg);
            return EXIT_USAGE;
          }
        }
      }
      break;
    }
  }

  args->count = argc - optind;
  args->values = argv + optind;
  if (args->count < command->min_args) {
    usage_error(command, "%s",
                args->count == 0 && command->min_args > 0
                    ? "missing FILE operand"
                    : "missing ID or NAME operand");
    return EXIT_USAGE;
  }
  if (command->max_args >= 0 && args->count > command->max_args) {
    usage_error(command, "extra operand '%s'",
                args->values[command->max_args]);
    return EXIT_USAGE;
  }
  return -1;
}

/* Flush stdout and report a write error (e.g. a full disk) as failure. */
static int finish_output(int status)
{
  if (fflush(stdout) != 0 || ferror(stdout)) {
    fprintf(stderr, "%s: write error: %s\n", program_name, strerror(errno));
    if (status == EXIT_OK)
      status = EXIT_FAILED;
  }
  return status;
}

int main(int argc, char **argv)
{
  static const struct option top_options[] = {
      {"help", no_argument, NULL, 'h'},
      {"version", no_argument, NULL, 'V'},
      {NULL, 0, NULL, 0}};
  const struct command *command;
  struct args args;
  int c, status;

  /* '+': stop at the command name; its options are the command's.  */
  opterr = 0;
  while ((c = getopt_long(argc, argv, "+:hV", top_options, NULL)) != -1) {
    switch (c) {
    case 'h':
      print_usage();
      return finish_output(EXIT_OK);
    case 'V':
      print_version();
      return finish_output(EXIT_OK);
    default:
      if (optopt == 0 || optopt >= 256 || argv[optind - 1][1] == '-')
        usage_error(NULL, "unrecognized option '%s'", argv[optind - 1]);
      else {
        char opt[8];
        snprintf(opt, sizeof opt, "-%c", optopt);
        usage_error(NULL, "unrecognized option '%s'", opt);
      }
      return EXIT_USAGE;
    }
  }
  if (optind >= argc) {
    usage_error(NULL, "%s", "missing command");
    return EXIT_USAGE;
  }

  command = find_command(argv[optind]);
  if (command == NULL) {
    usage_error(NULL, "unknown command '%s'", argv[optind]);
    return EXIT_USAGE;
  }

  status = parse_args(command, argc - optind, argv + optind, &args);
  if (status < 0)
    status = command->run(&args);
  return finish_output(status);
}
