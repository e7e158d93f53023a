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

#' Open an fmalloc runtime
#'
#' Opens (creating it if needed) a heap file and returns a runtime handle
#' for it.  Opening a path that is already open in this R process returns
#' the same runtime.
#'
#' @param filepath Path of the heap file.  In `"scratch"` mode, a
#'   directory (or a file whose directory is used) where an anonymous heap
#'   file is made; nothing is left there afterwards.
#' @param size_gb Initial size of a new heap file in GiB (`NULL`: the
#'   library's default of 1 MiB).  The heap grows as needed.
#' @param mode `"persistent"` (objects can be named and outlive the
#'   session) or `"scratch"` (nothing survives).
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
                         mode = c("persistent", "scratch")) {
  mode <- match.arg(mode)
  .Call(C_rfm_open, heap_path(filepath, mode), mode_code(mode),
        size_bytes(size_gb))
}

#' Open an fmalloc runtime and make it the default
#'
#' Like [open_fmalloc()], and installs the runtime as the default used by
#' every function whose `runtime` argument is `NULL`.
#'
#' @inheritParams open_fmalloc
#' @return Invisibly, `TRUE` if a new heap file was made (always for a
#'   scratch runtime), `FALSE` if an existing one was opened.
#'   [fmalloc_default_runtime()] gives the runtime.
#' @examples
#' init_fmalloc(tempdir(), mode = "scratch")
#' x <- create_fmalloc_vector("integer", 5)
#' identical(fmalloc_runtime_of(x), fmalloc_default_runtime())
#' cleanup_fmalloc()
#' @export
init_fmalloc <- function(filepath, size_gb = NULL,
                         mode = c("persistent", "scratch")) {
  mode <- match.arg(mode)
  path <- heap_path(filepath, mode)
  created <- mode == "scratch" || !file.exists(path)
  rt <- open_fmalloc(filepath, size_gb = size_gb, mode = mode)
  assign("default", rt, envir = .rfm)
  invisible(created)
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
#' file stays mapped while any vector from it is reachable, and is closed
#' (synced, marked clean and unmapped) when the last one is collected.
#' If the runtime was the default one, there is no default afterwards.
#'
#' @param runtime A runtime, or `NULL` for the default runtime.
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
cleanup_fmalloc <- function(runtime = NULL) {
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
  if (!isTRUE(info$open) || isTRUE(info$close_requested)) {
    return(invisible(NULL))
  }
  invisible(.Call(C_rfm_close, runtime))
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

#' @export
print.fmalloc_runtime <- function(x, ...) {
  info <- .Call(C_rfm_info, x)
  state <- if (isTRUE(info$open) && !isTRUE(info$close_requested)) {
    "open"
  } else if (isTRUE(info$open)) {
    "closing (waiting for its vectors)"
  } else {
    "closed"
  }
  cat("<fmalloc_runtime>\n")
  cat("  path:    ", if (is.null(info$path)) "?" else info$path, "\n", sep = "")
  cat("  mode:    ", if (is.null(info$mode)) "?" else info$mode,
      if (isTRUE(info$readonly)) " (read-only)" else "", "\n", sep = "")
  cat("  state:   ", state, "\n", sep = "")
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
#'   library), `catalog` (as [list_fmalloc_allocations()]) and `summary`
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
#'   when R collects them)).
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
    live_unsaved_bytes = info$live_bytes
  )
  list(runtime = info, catalog = catalog, summary = summary)
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
