/* fmr.c: command-line tool for operators of libfmalloc-r heap files.

   Copyright (C) 2026 The libfmalloc-r authors.
   This file is part of libfmalloc-r, free software under the GNU Lesser
   General Public License, version 2.1 or (at your option) any later version.

   fmr inspects, checks, recovers and edits the catalog of a persistent heap
   file.  It uses only the public API in fmalloc-r.h.  Commands that write
   open the file read-write without FMR_OPEN_CREATE, so a mistyped path is an
   error and never a new file.

   Exit status: 0 success; 1 problems found or an operation failed; 2 usage
   error or the heap file could not be opened.  */

#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmalloc-r.h"

#define EXIT_OK     0
#define EXIT_FAILED 1
#define EXIT_USAGE  2

static const char program_name[] = "fmr";

/* Command-line options a command may accept. */
#define OPT_LONG 0x1u /* --long, -l */
#define OPT_NAME 0x2u /* --name, -n */

struct command;

/* Parsed arguments of one command. */
struct args {
  const struct command *command;
  unsigned flags; /* OPT_* given on the command line */
  int count;      /* positional arguments */
  char **values;  /* positional arguments, in order */
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

/* --- output helpers ------------------------------------------------ */

/* Report the failure CODE of WHAT on stderr, with the library's details. */
static void report_error(const char *file, const char *what, int code)
{
  const char *details = fmr_errmsg();
  fprintf(stderr, "%s: %s: %s: %s", program_name, file, what,
          fmr_strerror(code));
  if (details != NULL && details[0] != '\0')
    fprintf(stderr, " (%s)", details);
  fputc('\n', stderr);
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

/* Print NAME with bytes outside printable ASCII, backslash and space
   escaped as \xNN, so each record stays on one line and the name column
   can be split on white space.  An empty name prints as "-".  */
static void print_name(const char *name)
{
  const unsigned char *p = (const unsigned char *)name;

  if (*p == '\0') {
    fputs("-", stdout);
    return;
  }
  for (; *p != '\0'; p++) {
    if (*p > ' ' && *p < 0x7f && *p != '\\')
      putchar(*p);
    else
      printf("\\x%02x", *p);
  }
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

/* --- opening ------------------------------------------------------- */

/* Open FILE as a persistent heap with FLAGS (never FMR_OPEN_CREATE).
   On failure print the error and return NULL.  */
static fmr_heap *open_heap(const char *file, unsigned flags)
{
  fmr_options options;
  fmr_heap *heap = NULL;
  int rc;

  fmr_options_init(&options);
  options.mode = FMR_MODE_PERSISTENT;
  options.flags = flags & ~FMR_OPEN_CREATE;
  rc = fmr_open(file, &options, &heap);
  if (rc != FMR_OK) {
    report_error(file, "cannot open", rc);
    return NULL;
  }
  return heap;
}

/* Close HEAP; print an error and return EXIT_FAILED if that fails.  */
static int close_heap(const char *file, fmr_heap *heap)
{
  int rc = fmr_close(heap);
  if (rc != FMR_OK) {
    report_error(file, "close failed", rc);
    return EXIT_FAILED;
  }
  return EXIT_OK;
}

/* --- fmr info ------------------------------------------------------ */

#define NOT_COMPUTED "- (not computed by a read-only open)"

static int cmd_info(const struct args *args)
{
  const char *file = args->values[0];
  fmr_heap *heap;
  fmr_stats st;
  fmr_stats_init(&st);
  char buf[64];
  int rc, i;

  heap = open_heap(file, FMR_OPEN_READONLY);
  if (heap == NULL)
    return EXIT_USAGE;
  rc = fmr_stat(heap, &st);
  if (rc != FMR_OK) {
    report_error(file, "cannot read statistics", rc);
    fmr_close(heap);
    return EXIT_FAILED;
  }

  printf("file:              %s\n", file);
  printf("format version:    %" PRIu32 "\n", st.format_version);
  printf("uuid:              ");
  for (i = 0; i < FMR_UUID_SIZE; i++) {
    printf("%02x", st.uuid[i]);
    if (i == 3 || i == 5 || i == 7 || i == 9)
      putchar('-');
  }
  putchar('\n');
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
};

static int ls_record(const fmr_record *record, void *arg)
{
  const struct ls_state *ls = arg;

  printf("%10" PRIu64 " %5" PRIu64 " %-9s 0x%08" PRIx32 " %12" PRIu64
         " %12" PRIu64 " ",
         record->id, record->generation, state_name(record->state),
         record->type, record->length, record->payload_bytes);
  if (ls->long_format)
    printf("%14" PRIu64 " %8zu ", record->payload_offset, record->meta_len);
  print_name(record->name);
  putchar('\n');
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
  heap = open_heap(file, FMR_OPEN_READONLY);
  if (heap == NULL)
    return EXIT_USAGE;

  printf("%10s %5s %-9s %-10s %12s %12s ", "ID", "GEN", "STATE", "TYPE",
         "LENGTH", "BYTES");
  if (ls.long_format)
    printf("%14s %8s ", "OFFSET", "META");
  printf("NAME\n");

  status = EXIT_OK;
  rc = fmr_record_foreach(heap, ls_record, &ls);
  if (rc < 0) {
    report_error(file, "cannot list records", rc);
    status = EXIT_FAILED;
  }
  if (close_heap(file, heap) != EXIT_OK)
    status = EXIT_FAILED;
  return status;
}

/* --- fmr check ----------------------------------------------------- */

struct check_state {
  const char *file;
  uint64_t problems;
};

static void check_report(const char *problem, void *arg)
{
  struct check_state *check = arg;
  check->problems++;
  printf("%s: %s\n", check->file, problem);
}

static int cmd_check(const struct args *args)
{
  struct check_state check;
  fmr_heap *heap;
  fmr_stats st;
  fmr_stats_init(&st);
  int rc, status;

  check.file = args->values[0];
  check.problems = 0;
  heap = open_heap(check.file, FMR_OPEN_READONLY);
  if (heap == NULL)
    return EXIT_USAGE;

  status = EXIT_OK;
  rc = fmr_check(heap, check_report, &check);
  if (rc != FMR_OK && rc != FMR_ECORRUPT) {
    report_error(check.file, "check failed", rc);
    status = EXIT_FAILED;
  } else if (rc == FMR_ECORRUPT && check.problems == 0) {
    /* The library found a problem but did not describe it.  */
    printf("%s: %s\n", check.file, fmr_strerror(rc));
    check.problems++;
  }

  if (fmr_stat(heap, &st) == FMR_OK) {
    if (st.records_damaged > 0) {
      /* fmr_check normally reports each damaged slot itself; count them
         here only if it did not.  */
      printf("%s: %" PRIu64 " damaged record(s) skipped; "
             "'fmr recover' drops them\n",
             check.file, st.records_damaged);
      if (check.problems == 0)
        check.problems = st.records_damaged;
    }
    if (st.recovered)
      printf("%s: note: not closed cleanly: a writer has it open, or did "
             "not close it (then the next read-write open recovers it)\n",
             check.file);
  }

  if (status == EXIT_OK) {
    if (check.problems > 0) {
      printf("%s: %" PRIu64 " problem(s) found\n", check.file, check.problems);
      status = EXIT_FAILED;
    } else
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
  char what[FMR_NAME_MAX + 64];
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
    snprintf(what, sizeof what, "record named '%s'", arg);
    report_error(file, what, rc);
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

/* --- fmr reclaim --------------------------------------------------- */

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
    report_error(file, "reclaim failed", rc);
    status = EXIT_FAILED;
  }
  printf("reclaimed %" PRIu64 " tombstone(s)\n", count);
  if (close_heap(file, heap) != EXIT_OK)
    status = EXIT_FAILED;
  return status;
}

/* --- command table and help ---------------------------------------- */

static int cmd_help(const struct args *args);

static int cmd_compact(const struct args *args)
{
  const char *file = args->values[0];
  uint64_t before = 0, after = 0;
  int rc = fmr_compact(file, &before, &after);
  if (rc != FMR_OK) {
    report_error(file, "compaction failed", rc);
    /* An open error leaves the file as it was: a usage-class failure. */
    return rc == FMR_ENOSPC || rc == FMR_EIO || rc == FMR_ENOMEM
               ? EXIT_FAILED
               : EXIT_USAGE;
  }
  printf("compacted %s: %" PRIu64 " -> %" PRIu64 " bytes\n", file, before,
         after);
  return EXIT_OK;
}

static const struct command commands[] = {
    {"info", cmd_info, 0, 1, 1, "FILE", "print heap statistics",
     "Open FILE read-only and print its format version, uuid, sizes, free\n"
     "space, record counts, catalog size, and whether it was last closed\n"
     "cleanly.\n"},
    {"ls", cmd_ls, OPT_LONG, 1, 1, "[--long] FILE",
     "list the records of the catalog",
     "Open FILE read-only and print one line per record, in id order: id,\n"
     "generation, state, type tag, length, payload bytes and name (\"-\" if\n"
     "none; bytes outside printable ASCII are shown as \\xNN).\n"
     "\n"
     "  -l, --long   also print the payload offset and the metadata length\n"},
    {"check", cmd_check, 0, 1, 1, "FILE", "check a heap file for consistency",
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
     "a record name.\n"
     "\n"
     "  -n, --name   treat every argument as a name, even if it is all "
     "digits\n"},
    {"tombstone", cmd_tombstone, OPT_NAME, 2, -1, "[--name] FILE ID|NAME...",
     "mark records deleted, keep payloads",
     "Open FILE read-write and mark each record given as a tombstone: its\n"
     "name is released but its payload stays until 'fmr reclaim'.  An\n"
     "argument made only of digits is a record id, any other is a name.\n"
     "\n"
     "  -n, --name   treat every argument as a name, even if it is all "
     "digits\n"},
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
         "  or:  %s COMMAND [ARGUMENT]...\n"
         "Inspect, check and repair libfmalloc-r heap files.\n"
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
         "Commands that modify a file never create it.\n"
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
  printf("Usage: %s %s %s\n%s\n", program_name, command->name,
         command->synopsis, command->help);
  printf("  -h, --help   display this help and exit\n");
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

/* Parse the options and arguments of COMMAND in ARGV[0..ARGC-1] (ARGV[0]
   is the command name).  Options may come anywhere before "--".  Return
   -1 to continue, or an exit status.  */
static int parse_args(const struct command *command, int argc, char **argv,
                      struct args *args)
{
  int i, only_args = 0;

  args->command = command;
  args->flags = 0;
  args->count = 0;
  args->values = calloc((size_t)argc + 1, sizeof *args->values);
  if (args->values == NULL) {
    fprintf(stderr, "%s: out of memory\n", program_name);
    return EXIT_FAILED;
  }

  for (i = 1; i < argc; i++) {
    const char *a = argv[i];
    unsigned flag = 0;

    if (only_args || a[0] != '-' || a[1] == '\0') {
      args->values[args->count++] = argv[i];
      continue;
    }
    if (strcmp(a, "--") == 0) {
      only_args = 1;
      continue;
    }
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      print_command_help(command);
      return EXIT_OK;
    }
    if (strcmp(a, "--long") == 0 || strcmp(a, "-l") == 0)
      flag = OPT_LONG;
    else if (strcmp(a, "--name") == 0 || strcmp(a, "-n") == 0)
      flag = OPT_NAME;
    if ((flag & command->options) == 0) {
      usage_error(command, "unrecognized option '%s'", a);
      return EXIT_USAGE;
    }
    args->flags |= flag;
  }

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
  const struct command *command;
  struct args args;
  int status;

  if (argc < 2) {
    usage_error(NULL, "%s", "missing command");
    return EXIT_USAGE;
  }
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    print_usage();
    return finish_output(EXIT_OK);
  }
  if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
    print_version();
    return finish_output(EXIT_OK);
  }
  if (argv[1][0] == '-') {
    usage_error(NULL, "unrecognized option '%s'", argv[1]);
    return EXIT_USAGE;
  }

  command = find_command(argv[1]);
  if (command == NULL) {
    usage_error(NULL, "unknown command '%s'", argv[1]);
    return EXIT_USAGE;
  }

  status = parse_args(command, argc - 1, argv + 1, &args);
  if (status < 0)
    status = command->run(&args);
  free(args.values);
  return finish_output(status);
}
