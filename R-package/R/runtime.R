mode_code <- function(mode) if (identical(mode, "scratch")) 1L else 0L

check_string <- function(x, what) {
  if (!is.character(x) || length(x) != 1L || is.na(x) || !nzchar(x)) {
    stop(sprintf("'%s' must be a single non-empty string", what),
         call. = FALSE)
  }
  x
}

heap_path <- function(filepath, mode) {
  check_string(filepath, "filepath")
  p <- path.expand(filepath)
  if (identical(mode, "scratch") && dir.exists(p)) {
    return(normalizePath(p, mustWork = TRUE))
  }
  d <- dirname(p)
  if (!dir.exists(d)) {
    stop(sprintf("directory '%s' does not exist", d), call. = FALSE)
  }
  file.path(normalizePath(d, mustWork = TRUE), basename(p))
}

size_bytes <- function(size_gb) {
  if (is.null(size_gb)) {
    return(0)
  }
  if (!is.numeric(size_gb) || length(size_gb) != 1L || is.na(size_gb) ||
      !is.finite(size_gb) || size_gb <= 0) {
    stop("'size_gb' must be NULL or a single positive number", call. = FALSE)
  }
  size_gb * 2^30
}

max_size_bytes <- function(max_size_gb) {
  if (is.null(max_size_gb)) {
    return(0)
  }
  if (!is.numeric(max_size_gb) || length(max_size_gb) != 1L ||
      is.na(max_size_gb) || !is.finite(max_size_gb) || max_size_gb <= 0) {
    stop("'max_size_gb' must be NULL or a single positive number",
         call. = FALSE)
  }
  bytes <- max_size_gb * 2^30
  if (bytes > 2^62) {
    stop("'max_size_gb' is too large (at most 2^32 GiB)", call. = FALSE)
  }
  bytes
}

check_flag <- function(x, what) {
  if (!is.logical(x) || length(x) != 1L || is.na(x)) {
    stop(sprintf("'%s' must be TRUE or FALSE", what), call. = FALSE)
  }
  x
}

#' Open an fmalloc runtime
#'
#' Opens (creating it if needed) a heap file and returns a runtime handle
#' for it.  Opening a persistent path that is already open in this R
#' process returns the same runtime (which must then be open for the access
#' asked for: a path open for writing cannot also be opened read-only in
#' the same session, nor the reverse).  Every scratch open makes a runtime
#' of its own, with its own anonymous heap file, even in the same
#' directory.
#'
#' A runtime keeps its heap file open.  If the file is deleted, or another
#' file is put at its path (renamed over it, or a copy moved there), while
#' the runtime is open, the runtime still reads its vectors, but saving
#' into it ([fmalloc_save()]) is an error that says so, since nothing
#' written to a file without a name outlives the session; its vectors
#' (and those of a renamed file) serialize by value, as a reference to
#' the path would not find them.  `open_fmalloc()` and [init_fmalloc()] of the path then open the
#' file that is there now (creating one if there is none), and a reference
#' read with `readRDS()` resolves to that file too (its identity check
#' then decides whether the reference is valid).  A renamed file keeps
#' taking saves.  [fmalloc_runtime_info()] reports the state as
#' `file_state`.
#'
#' @param filepath Path of the heap file.  In `"scratch"` mode, a
#'   directory (or a file whose directory is used) where an anonymous heap
#'   file is made; nothing is left there afterwards.
#' @param size_gb A hint: about how large, in GiB, the heap is expected
#'   to get (`NULL`: no hint).  The file takes the disk its data needs,
#'   not `size_gb`: a new file starts at `size_gb` or 64 MiB, whichever is
#'   smaller (1 MiB without a hint), and grows on demand in steps of
#'   `size_gb / 8`, at least 4 MiB and at most 1 GiB (without a hint:
#'   half the file, 4 MiB to 1 GiB).  Each step's disk blocks are
#'   reserved as it is taken, so a full disk is an R error, never a
#'   crash; a step that would leave less than half the free disk space
#'   takes only what the allocation needs.  A `size_gb` larger than the
#'   free space of the file system (for users other than root) is an
#'   error at once, and nothing is created.  For an existing file only
#'   the growth step is used.  The heap can grow past `size_gb`, up to
#'   `max_size_gb`.
#' @param mode `"persistent"` (objects can be named and outlive the
#'   session) or `"scratch"` (nothing survives).
#' @param readonly If `TRUE`, open an existing persistent heap file for
#'   reading only, whether or not another process holds its writer lock: no
#'   vector of it can be changed, saved or destroyed, new results go to a
#'   scratch runtime, and the file is never created.  The default opens it
#'   for writing (one writer per file: a file another process writes is an
#'   error).  Not for scratch runtimes.
#' @param max_size_gb The largest size the heap may grow to, in GiB: this
#'   much address space (not memory, not disk) is reserved at open.  `NULL`
#'   gives the library's default, 256 GiB, or less where the address space
#'   is limited (`ulimit -v`, valgrind): the reservation is halved until it
#'   succeeds.  An explicit size is reserved as given (rounded up to 1 MiB,
#'   and never less than the file's size) or the open fails; growth beyond
#'   it is an error that says so.  It is ignored when the file is already
#'   open in this session (the runtime returned keeps its reservation).
#' @return A runtime handle of class `"fmalloc_runtime"`.
#' @seealso [init_fmalloc()], [cleanup_fmalloc()],
#'   [diagnose_fmalloc_runtime()]
#' @examples
#' path <- file.path(tempdir(), "open-example.fmr")
#' rt <- open_fmalloc(path)
#' rt
#' x <- create_fmalloc_vector("double", 10, runtime = rt)
#' x[] <- seq_len(10) / 2
#' sum(x)
#' cleanup_fmalloc(rt)
#' @export
open_fmalloc <- function(filepath, size_gb = NULL,
                         mode = c("persistent", "scratch"),
                         readonly = FALSE, max_size_gb = NULL) {
  mode <- match.arg(mode)
  check_flag(readonly, "readonly")
  if (readonly && mode == "scratch") {
    stop("a scratch runtime cannot be read-only", call. = FALSE)
  }
  path <- heap_path(filepath, mode)
  if (readonly && !file.exists(path)) {
    stop(sprintf("cannot open '%s' read-only: the file does not exist",
                 path), call. = FALSE)
  }
  .Call(C_rfm_open, path, mode_code(mode), size_bytes(size_gb),
        max_size_bytes(max_size_gb), readonly)
}

#' Open an fmalloc runtime and make it the default
#'
#' Like [open_fmalloc()], and installs the runtime as the default used by
#' every function whose `runtime` argument is `NULL`.
#'
#' @inheritParams open_fmalloc
#' @return Invisibly, `TRUE` if a new heap file was made (always for a
#'   scratch runtime), `FALSE` if an existing one was opened (always with
#'   `readonly = TRUE`).
#'   [fmalloc_default_runtime()] gives the runtime.
#' @examples
#' init_fmalloc(tempdir(), mode = "scratch")
#' x <- create_fmalloc_vector("integer", 5)
#' identical(fmalloc_runtime_of(x), fmalloc_default_runtime())
#' cleanup_fmalloc()
#' @export
init_fmalloc <- function(filepath, size_gb = NULL,
                         mode = c("persistent", "scratch"),
                         readonly = FALSE, max_size_gb = NULL) {
  mode <- match.arg(mode)
  path <- heap_path(filepath, mode)
  created <- mode == "scratch" || !file.exists(path)
  rt <- open_fmalloc(filepath, size_gb = size_gb, mode = mode,
                     readonly = readonly, max_size_gb = max_size_gb)
  assign("default", rt, envir = .rfm)
  invisible(created)
}

# where the runtime's heap file is now (see fmalloc_runtime_info())
file_state <- function(info) {
  if (is.null(info$file_state)) NA_character_ else info$file_state
}

default_runtime <- function() {
  get0("default", envir = .rfm, inherits = FALSE)
}

resolve_runtime <- function(runtime) {
  if (is.null(runtime)) {
    runtime <- default_runtime()
    if (is.null(runtime)) {
      stop("no default fmalloc runtime: call init_fmalloc() first or ",
           "pass 'runtime'", call. = FALSE)
    }
  }
  if (!inherits(runtime, "fmalloc_runtime")) {
    stop("'runtime' must be an fmalloc runtime (from open_fmalloc())",
         call. = FALSE)
  }
  runtime
}

#' Close an fmalloc runtime
#'
#' Asks the runtime to close: no new vector can be made in it.  The heap
#' file stays mapped (and a writer keeps the file's writer lock) while any
#' vector from it is reachable, and is closed (synced, marked clean and
#' unmapped) when the last one is collected.
#' [diagnose_fmalloc_runtime()]`$holders` lists the vectors that keep it
#' open.  If the runtime was the default one, there is no default
#' afterwards.
#'
#' With `force = TRUE` the heap file is closed at once (synced, marked
#' clean, unmapped, its lock released, so that another process can open it
#' for writing), and every vector of it still reachable in this session is
#' invalidated: its length is still known, but any other use (printing,
#' `[`, arithmetic, [sum()], serialization, C code asking for its data) is
#' an R error saying that its runtime is closed.  Saved data is not lost:
#' what was saved is in the file and can be loaded again from a new
#' runtime; unsaved vectors are gone.  A list's elements are invalidated
#' alike.  Vectors that were private copies in process memory stay valid.
#' C code that obtained a data pointer before the close (a running `.Call`
#' that calls back into R, or a pointer from
#' [fmalloc_vector_payload_ptr()]) must not use it afterwards: so that
#' such a pointer reads zeros instead of crashing R, the address range
#' stays covered by anonymous memory until the last of those vectors is
#' collected, but nothing written there reaches the file.  If another
#' runtime of this session still has the same file open, the file stays
#' open for it.  `force = TRUE` after a plain call (a runtime waiting for
#' its vectors) closes it too.
#'
#' @param runtime A runtime, or `NULL` for the default runtime.
#' @param force If `TRUE`, close the heap now and invalidate the vectors
#'   that still refer to it (see Details).
#' @return `TRUE` invisibly if the heap was closed at once, `FALSE` if it
#'   waits for its vectors to be collected; `NULL` invisibly if there is
#'   nothing to close (no default runtime, or called again), so that
#'   `on.exit(cleanup_fmalloc())` is always safe.
#' @examples
#' rt <- open_fmalloc(tempdir(), mode = "scratch")
#' x <- create_fmalloc_vector("raw", 4, runtime = rt)
#' cleanup_fmalloc(rt)   # waits for x
#' x[1]                  # still valid
#' rm(x)
#' invisible(gc())
#' @export
cleanup_fmalloc <- function(runtime = NULL, force = FALSE) {
  check_flag(force, "force")
  if (is.null(runtime)) {
    runtime <- default_runtime()
    if (is.null(runtime)) {
      return(invisible(NULL))
    }
  }
  runtime <- resolve_runtime(runtime)
  if (identical(default_runtime(), runtime)) {
    rm("default", envir = .rfm)
  }
  info <- .Call(C_rfm_info, runtime)
  if (!isTRUE(info$open) || (isTRUE(info$close_requested) && !force)) {
    return(invisible(NULL))
  }
  invisible(.Call(C_rfm_close, runtime, force))
}

format_bytes <- function(x) {
  if (is.null(x) || is.na(x)) {
    return("NA")
  }
  units <- c("B", "KiB", "MiB", "GiB", "TiB")
  i <- 1L
  while (x >= 1024 && i < length(units)) {
    x <- x / 1024
    i <- i + 1L
  }
  if (i == 1L) sprintf("%.0f %s", x, units[i]) else sprintf("%.1f %s", x, units[i])
}

#' Describing a runtime: format, summary, str
#'
#' `format()` of a runtime is one line: its mode, state and heap file.
#' `summary()` returns the runtime's figures (those of
#' [fmalloc_runtime_info()]: the file, its size and use, the records)
#' as an object that prints as a short table; `str()` is one line, as
#' for any other object in a list.
#'
#' @param x,object A runtime ([open_fmalloc()], [init_fmalloc()]).
#' @param ... Ignored.
#' @return `format()`: a character string.  `summary()`: a list of class
#'   `"summary_fmalloc_runtime"` with `path`, `mode`, `state`,
#'   `file_state`, `readonly`, `file_size`, `used_bytes`, `free_bytes`,
#'   `records`, `live_vectors` (`NA` where a closed runtime cannot tell).
#'   `str()`: `object`, invisibly.
#' @name fmalloc-runtime-summary
#' @examples
#' rt <- open_fmalloc(tempdir(), mode = "scratch")
#' format(rt)
#' summary(rt)
#' str(list(runtime = rt))
#' cleanup_fmalloc(rt)
NULL

# The state of a runtime from its info list.
runtime_state <- function(info) {
  if (isTRUE(info$open) && !isTRUE(info$close_requested)) {
    "open"
  } else if (isTRUE(info$open)) {
    "closing (waiting for its vectors)"
  } else {
    "closed"
  }
}

#' @rdname fmalloc-runtime-summary
#' @export
format.fmalloc_runtime <- function(x, ...) {
  info <- .Call(C_rfm_info, x)
  sprintf("<fmalloc_runtime %s%s, %s: %s>",
          if (is.null(info$mode)) "?" else info$mode,
          if (isTRUE(info$readonly)) " read-only" else "",
          runtime_state(info),
          if (is.null(info$path)) "?" else info$path)
}

#' @rdname fmalloc-runtime-summary
#' @export
summary.fmalloc_runtime <- function(object, ...) {
  info <- .Call(C_rfm_info, object)
  num <- function(v) if (is.null(v)) NA_real_ else as.numeric(v)
  open <- isTRUE(info$open)
  out <- list(
    path = if (is.null(info$path)) NA_character_ else info$path,
    mode = if (is.null(info$mode)) NA_character_ else info$mode,
    state = runtime_state(info),
    file_state = file_state(info),
    readonly = isTRUE(info$readonly),
    file_size = if (open) num(info$file_size) else NA_real_,
    used_bytes = if (open) num(info$used_bytes) else NA_real_,
    free_bytes = if (open) num(info$free_bytes) else NA_real_,
    records = if (open) num(info$records_committed) else NA_real_,
    live_vectors = if (open) num(info$live_vectors) else NA_real_
  )
  class(out) <- "summary_fmalloc_runtime"
  out
}

#' @export
print.summary_fmalloc_runtime <- function(x, ...) {
  bytes <- function(v) if (is.na(v)) "?" else format_bytes(v)
  cat("fmalloc runtime summary\n")
  cat("  file:     ", x$path,
      if (!is.na(x$file_state) && x$file_state != "current")
        paste0(" (", x$file_state, ")"), "\n", sep = "")
  cat("  mode:     ", x$mode, if (x$readonly) " (read-only)", ", ", x$state,
      "\n", sep = "")
  cat("  size:     ", bytes(x$file_size), " (", bytes(x$used_bytes),
      " used, ", bytes(x$free_bytes), " free)\n", sep = "")
  cat("  records:  ", if (is.na(x$records)) "?" else format(x$records),
      " saved; ", if (is.na(x$live_vectors)) "?" else format(x$live_vectors),
      " live vectors\n", sep = "")
  invisible(x)
}

#' @rdname fmalloc-runtime-summary
#' @importFrom utils str
#' @export
str.fmalloc_runtime <- function(object, ...) {
  cat(" ", format(object), "\n", sep = "")
  invisible(object)
}

#' @export
print.fmalloc_runtime <- function(x, ...) {
  info <- .Call(C_rfm_info, x)
  state <- runtime_state(info)
  cat("<fmalloc_runtime>\n")
  cat("  path:    ", if (is.null(info$path)) "?" else info$path, "\n", sep = "")
  cat("  mode:    ", if (is.null(info$mode)) "?" else info$mode,
      if (isTRUE(info$readonly)) " (read-only)" else "", "\n", sep = "")
  cat("  state:   ", state, "\n", sep = "")
  fs <- file_state(info)
  if (!is.na(fs) && fs != "current") {
    cat("  file:    ", fs, switch(fs,
      deleted = " (saves are refused; open the path again)",
      replaced = " by another file (saves are refused; open the path again)",
      moved = " (the path no longer names it)"
    ), "\n", sep = "")
  }
  if (isTRUE(info$open)) {
    cat("  size:    ", format_bytes(info$file_size), "\n", sep = "")
    cat("  used:    ", format_bytes(info$used_bytes), "\n", sep = "")
    cat("  records: ", format(info$records_committed), "\n", sep = "")
    cat("  vectors: ", format(info$live_vectors), " live\n", sep = "")
  }
  invisible(x)
}

#' List the catalog records of a runtime
#'
#' One row per record of the heap's catalog (persistent runtimes; a
#' scratch runtime has none), then one per live vector of this R session
#' that no record holds (state `"live"`, or `"memory"` for a private copy
#' in process memory): a vector made and not yet saved or serialized,
#' which is freed when R collects it.
#'
#' A record in state `"serialized"` is a serialized temporary: an unnamed
#' vector that was serialized by reference (`saveRDS()`, `serialize()`,
#' `save()`) and that no saved list holds.  Nothing frees it but
#' `fmalloc_destroy(id = )` or `compact_fmalloc(drop_unnamed = TRUE)`
#' (see [fmalloc_save()], section "Serialized temporaries").
#'
#' @param runtime A runtime, or `NULL` for the default runtime.
#' @return A data frame with columns `id` (`NA` for a live vector),
#'   `name` (`NA` if unnamed), `generation`, `state` (`"committed"`,
#'   `"serialized"`, `"tombstone"`, `"live"` or `"memory"`), `type` (the R
#'   type, or `"foreign:..."` for records not written by Rfmalloc),
#'   `length`, `payload_offset`, `payload_bytes`, `meta_bytes` and
#'   `recoverable` (a committed Rfmalloc record that [fmalloc_load()] or a
#'   reference can restore).
#' @examples
#' rt <- open_fmalloc(file.path(tempdir(), "list-example.fmr"))
#' x <- as_fmalloc(c(a = 1, b = 2), runtime = rt)
#' fmalloc_save(x, "ab")
#' list_fmalloc_allocations(rt)
#' fmalloc_destroy(x)
#' @export
list_fmalloc_allocations <- function(runtime = NULL) {
  runtime <- resolve_runtime(runtime)
  cols <- .Call(C_rfm_catalog, runtime)
  as.data.frame(cols, stringsAsFactors = FALSE)
}

#' Diagnose an fmalloc runtime
#'
#' Collects what is known about a runtime: the heap file's sizes, space in
#' use and free, live vectors, catalog records by state, space that can be
#' reclaimed, and whether the file was recovered after an unclean close.
#'
#' @param runtime A runtime, or `NULL` for the default runtime.
#' @return A list with elements `runtime` (raw statistics from the
#'   library), `catalog` (as [list_fmalloc_allocations()]), `holders` (a
#'   data frame with one row per block or record of the heap that R objects
#'   of this session refer to, which keep the heap file open after
#'   [cleanup_fmalloc()]: `type`, `length`, `record` (the record id, `NA`
#'   for an unsaved vector), `name` (the record's name, or `NA`), `state`
#'   (`"record"`, `"live"` (unsaved), `"memory"` (a private copy in process
#'   memory) or `"destroyed"`), `objects` (how many R vector objects share
#'   it) and `bytes`) and `summary`
#'   (a named list: `path`, `mode`, `open`, `readonly`, `recovered`,
#'   `file_size`, `mapped_size` (bytes managed by the allocator),
#'   `reserved_size`, `used_bytes`, `free_bytes`, `largest_free`,
#'   `live_vectors`, `open_runtimes` (runtimes open in this process),
#'   `heap_opens`, `uncommitted_blocks`, `records` (counts by state:
#'   `committed`, `tombstone`, `damaged`, `recoverable`), `record_bytes`,
#'   `reclaimable_bytes` (tombstones plus space freed but not yet
#'   reusable), `orphans_freed` and `orphan_bytes_freed` (list elements
#'   that no saved list held, freed when this runtime opened the file: what
#'   a crash while saving or destroying a list leaves, see
#'   [create_fmalloc_list()]), `live_unsaved` and `live_unsaved_bytes`
#'   (vectors of this R session in the heap that no record holds: they go
#'   when R collects them), `file_state` (whether the path still names the
#'   heap file, as in [fmalloc_runtime_info()])).
#' @examples
#' rt <- open_fmalloc(tempdir(), mode = "scratch")
#' x <- create_fmalloc_vector("double", 1000, runtime = rt)
#' str(diagnose_fmalloc_runtime(rt)$summary)
#' @export
diagnose_fmalloc_runtime <- function(runtime = NULL) {
  runtime <- resolve_runtime(runtime)
  info <- .Call(C_rfm_info, runtime)
  if (!isTRUE(info$open)) {
    stop("the fmalloc runtime is closed", call. = FALSE)
  }
  catalog <- list_fmalloc_allocations(runtime)
  summary <- list(
    path = info$path,
    mode = info$mode,
    open = !isTRUE(info$close_requested),
    readonly = info$readonly,
    recovered = info$recovered,
    file_size = info$file_size,
    mapped_size = info$heap_bytes,
    reserved_size = info$max_size,
    used_bytes = info$used_bytes,
    free_bytes = info$free_bytes,
    largest_free = info$largest_free,
    live_vectors = info$live_vectors,
    open_runtimes = .Call(C_rfm_runtime_count),
    heap_opens = info$refcount,
    uncommitted_blocks = info$blocks,
    records = c(committed = info$records_committed,
                tombstone = info$records_tombstone,
                damaged = info$records_damaged,
                recoverable = sum(catalog$recoverable)),
    record_bytes = info$record_bytes,
    reclaimable_bytes = info$tombstone_bytes + info$pending_free_bytes,
    orphans_freed = info$swept_records,
    orphan_bytes_freed = info$swept_bytes,
    live_unsaved = info$live_stores,
    live_unsaved_bytes = info$live_bytes,
    file_state = file_state(info)
  )
  holders <- as.data.frame(.Call(C_rfm_holders, runtime),
                           stringsAsFactors = FALSE)
  list(runtime = info, catalog = catalog, holders = holders,
       summary = summary)
}

#' Compact a heap file
#'
#' Rewrites a persistent heap file without its free space and its
#' tombstones, so that it shrinks.  Every committed record (every vector
#' saved with [fmalloc_save()] or serialized by reference) keeps its id,
#' generation, name and data, and the file keeps its identity, so saved
#' references stay valid.  The new file is written beside the old one and
#' renamed over it: a crash leaves the old file or the new one, whole.
#'
#' With `drop_unnamed = TRUE`, every unnamed record that no saved list
#' holds is freed first: the serialized temporaries (state `"serialized"`
#' in [list_fmalloc_allocations()], see [fmalloc_save()]) and list
#' elements a crash left behind.  References to them (in `.rds` and
#' `.RData` files, or held by other processes) then read back as
#' placeholders ([fmalloc_unresolved]).  Named records and saved lists
#' with their elements are kept.
#'
#' The file must not be open in this R session: call [cleanup_fmalloc()]
#' on its runtime and drop its vectors first (`rm()` them, then `gc()`).
#' Another process with the file open for writing makes it fail too.
#'
#' @param filepath Path of the heap file.
#' @param drop_unnamed `TRUE` to free the unnamed records (serialized
#'   temporaries) before compacting; default `FALSE`.
#' @return Invisibly, a named numeric vector: the file size in bytes
#'   `before` and `after`, and with `drop_unnamed = TRUE` the number of
#'   records `dropped`.
#' @examples
#' path <- file.path(tempdir(), "compact-example.fmr")
#' rt <- open_fmalloc(path)
#' keep <- as_fmalloc(1:10, runtime = rt)
#' fmalloc_save(keep, "keep", runtime = rt)
#' junk <- as_fmalloc(as.double(1:1e6), runtime = rt)
#' fmalloc_save(junk, "junk", runtime = rt)
#' fmalloc_destroy("junk", runtime = rt)
#' cleanup_fmalloc(rt)
#' rm(rt, keep, junk)
#' invisible(gc())
#' sizes <- compact_fmalloc(path)
#' sizes
#' rt <- open_fmalloc(path)
#' fmalloc_load("keep", runtime = rt)
#' cleanup_fmalloc(rt)
#' @export
compact_fmalloc <- function(filepath, drop_unnamed = FALSE) {
  if (!is.character(filepath) || length(filepath) != 1L ||
      is.na(filepath)) {
    stop("'filepath' must be a single file path", call. = FALSE)
  }
  if (!is.logical(drop_unnamed) || length(drop_unnamed) != 1L ||
      is.na(drop_unnamed)) {
    stop("'drop_unnamed' must be TRUE or FALSE", call. = FALSE)
  }
  path <- normalizePath(filepath, mustWork = FALSE)
  if (!drop_unnamed) {
    return(invisible(.Call(C_rfm_compact, path)))
  }
  if (!file.exists(path)) {
    stop(sprintf("cannot compact '%s': the file does not exist", path),
         call. = FALSE)
  }
  dropped <- .Call(C_rfm_drop_unnamed, path)
  sizes <- .Call(C_rfm_compact, path)
  invisible(c(sizes, dropped = dropped[[1]]))
}
