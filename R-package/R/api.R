# api.R: the earlier package's core calls, with its names and argument
# names: writes, facts of runtimes and vectors, sync, storage advice,
# row and column variances.

#' Write into an fmalloc vector in place
#'
#' `fmalloc_set(x, idx, value)` stores `value` (recycled) at the
#' positions `idx` of `x`, and `fmalloc_fill(x, value)` at every
#' position, in the vector's data: no copy is made, and every R object
#' that shares those data (other handles on the same saved record, an
#' alias made with `copy = FALSE`) sees the change, as do later loads of
#' a saved vector.  Copies R made of `x` before (`y <- x; y[1] <- 0`
#' gave `y` its own) keep their values.  This is the explicit form of
#' `x[idx] <- value` on the variable that holds a saved vector.
#'
#' @param x An fmalloc vector.
#' @param idx Positive indices (numbers within the vector, or a logical
#'   vector no longer than it).
#' @param value A value of the vector's type, or one R converts to it
#'   without changing the vector's type (integers into a double vector).
#' @return `x`, invisibly.
#' @examples
#' path <- file.path(tempdir(), "set-example.fmr")
#' rt <- open_fmalloc(path)
#' x <- as_fmalloc(c(1, 2, 3), runtime = rt)
#' fmalloc_save(x, "x")
#' fmalloc_set(x, 2, 20)
#' fmalloc_load("x", runtime = rt)
#' fmalloc_fill(x, 0)
#' fmalloc_load("x", runtime = rt)
#' fmalloc_destroy("x", runtime = rt)
#' @export
fmalloc_set <- function(x, idx, value) {
  .Call(C_rfm_set, x, idx, value)
  invisible(x)
}

#' @rdname fmalloc_set
#' @export
fmalloc_fill <- function(x, value) {
  if (length(value) != 1L) {
    stop("'value' must be a single value", call. = FALSE)
  }
  .Call(C_rfm_set, x, NULL, value)
  invisible(x)
}

#' Facts about fmalloc runtimes and vectors
#'
#' `fmalloc_default_runtime()` is the runtime [init_fmalloc()] installed
#' (or `NULL`); `is_fmalloc_runtime()` and `is_fmalloc_vector()` test
#' objects; `fmalloc_runtime(x)` is the runtime of the vector `x` (an
#' error if `x` is not one: [fmalloc_runtime_of()] gives `NULL`
#' instead).  `fmalloc_runtime_info()` and `fmalloc_vector_info()` list
#' what is known of a runtime and a vector; `fmalloc_vector_type()` and
#' `fmalloc_vector_length()` give a vector's type and length;
#' `fmalloc_vector_payload_ptr()` an external pointer to its data (for C
#' code; it keeps the data mapped while it is reachable).
#'
#' @param x An object (an fmalloc vector for the vector functions).
#' @param runtime A runtime, or `NULL` for the default runtime.
#' @param label If `TRUE`, the type as a name (`"logical"`, `"integer"`,
#'   `"numeric"`, `"complex"`, `"character"`, `"raw"`, `"list"`); if
#'   `FALSE`, R's SEXPTYPE code.
#' @return See the description.  `fmalloc_vector_info()` gives a list of
#'   class `"fmalloc_vector_info"` with `type`, `sexptype`, `length`,
#'   `payload_nbytes`, `payload_offset`, `record_id`, `name`, `generation`,
#'   `state` (`"saved"`, `"serialized"` (an unnamed record written by
#'   serialization), `"live"` (not committed), `"memory"` (a private copy
#'   in process memory), `"destroyed"`, `"closed"` (its heap was closed
#'   by [cleanup_fmalloc()] with `force = TRUE`)), `clone` (an R copy
#'   sharing the data until written), `pinned`, `maybe_dirty`, `recoverable` and the
#'   runtime's `runtime_filepath`, `runtime_uuid`, `runtime_mode`,
#'   `runtime_open`.  `fmalloc_runtime_info()` gives `filepath`, `uuid`,
#'   `mode`, `readonly`, `file_size`, `mapped_bytes`, `used_bytes`,
#'   `close_requested`, `runtime_open`, `live_vectors`, `catalog_count` and
#'   `file_state`: `"current"` (the path names the runtime's heap file),
#'   `"deleted"` (the file was deleted: saves into the runtime are
#'   refused), `"replaced"` (another file was put at the path: saves are
#'   refused), `"moved"` (the file was renamed: saves still reach it), or
#'   `NA` (a scratch runtime, or a closed one).  See [open_fmalloc()].
#' @examples
#' init_fmalloc(tempdir(), mode = "scratch")
#' rt <- fmalloc_default_runtime()
#' is_fmalloc_runtime(rt)
#' x <- create_fmalloc_vector("double", 4)
#' is_fmalloc_vector(x)
#' fmalloc_vector_type(x)
#' fmalloc_vector_length(x)
#' str(fmalloc_vector_info(x)[c("type", "length", "state")])
#' fmalloc_runtime_info()$mode
#' cleanup_fmalloc()
#' @name fmalloc_api
NULL

#' @rdname fmalloc_api
#' @export
fmalloc_default_runtime <- function() default_runtime()

#' @rdname fmalloc_api
#' @export
is_fmalloc_runtime <- function(x) {
  inherits(x, "fmalloc_runtime") && typeof(x) == "externalptr"
}

#' @rdname fmalloc_api
#' @export
is_fmalloc_vector <- function(x) is_fmalloc(x)

#' @rdname fmalloc_api
#' @export
fmalloc_runtime <- function(x) {
  rt <- fmalloc_runtime_of(x)
  if (is.null(rt)) {
    stop("'x' is not an fmalloc vector", call. = FALSE)
  }
  rt
}

#' @rdname fmalloc_api
#' @export
fmalloc_runtime_info <- function(runtime = NULL) {
  runtime <- resolve_runtime(runtime)
  info <- .Call(C_rfm_info, runtime)
  list(filepath = info$path, uuid = info$uuid, mode = info$mode,
       readonly = info$readonly, file_size = info$file_size,
       mapped_bytes = info$heap_bytes, used_bytes = info$used_bytes,
       close_requested = info$close_requested,
       runtime_open = isTRUE(info$open) && !isTRUE(info$close_requested),
       live_vectors = info$live_vectors,
       catalog_count = info$records_committed,
       file_state = file_state(info))
}

vector_handle <- function(x) {
  if (inherits(x, "fmalloc_list") || is_altlist(x)) {
    x <- list_ids(x)
  }
  if (!.Call(C_rfm_is_fmalloc, x)) {
    stop("'x' must be an fmalloc vector", call. = FALSE)
  }
  x
}

#' @rdname fmalloc_api
#' @export
fmalloc_vector_info <- function(x) {
  is_list <- inherits(x, "fmalloc_list") || is_altlist(x)
  h <- vector_handle(x)
  vi <- .Call(C_rfm_vector_info, h)
  rt <- fmalloc_runtime_of(h)
  ri <- .Call(C_rfm_info, rt)
  name <- NA_character_
  if (vi$committed && isTRUE(ri$open)) {
    cat <- .Call(C_rfm_catalog, rt)
    k <- match(vi$id, cat$id)
    if (!is.na(k)) name <- cat$name[k]
  }
  structure(list(
    type = if (is_list) "list" else fmalloc_vector_type(h),
    sexptype = if (is_list) 19L else typeof_code(h),
    length = as.double(length(x)),
    payload_nbytes = vi$bytes,
    payload_offset = vi$offset,
    record_id = if (vi$committed) vi$id else NA_real_,
    name = name,
    generation = if (vi$committed) vi$generation else NA_real_,
    state = vi$state,
    clone = vi$clone,
    pinned = vi$pinned,
    maybe_dirty = vi$dirty,
    recoverable = vi$committed && vi$state != "destroyed",
    runtime_filepath = ri$path,
    runtime_uuid = ri$uuid,
    runtime_mode = ri$mode,
    runtime_open = isTRUE(ri$open) && !isTRUE(ri$close_requested)
  ), class = c("fmalloc_vector_info", "list"))
}

#' @export
print.fmalloc_vector_info <- function(x, ...) {
  str(unclass(x), give.attr = FALSE, ...)
  invisible(x)
}

typeof_code <- function(x) {
  unname(c(logical = 10L, integer = 13L, double = 14L, complex = 15L,
           character = 16L, list = 19L, raw = 24L)[typeof(x)])
}

#' @rdname fmalloc_api
#' @export
fmalloc_vector_type <- function(x, label = TRUE) {
  is_list <- inherits(x, "fmalloc_list") || is_altlist(x)
  h <- vector_handle(x)
  if (!isTRUE(label)) {
    return(if (is_list) 19L else typeof_code(h))
  }
  if (is_list) {
    return("list")
  }
  switch(typeof(h), double = "numeric", typeof(h))
}

#' @rdname fmalloc_api
#' @export
fmalloc_vector_length <- function(x) {
  vector_handle(x)
  as.double(length(x))
}

#' @rdname fmalloc_api
#' @export
fmalloc_vector_payload_ptr <- function(x) {
  .Call(C_rfm_payload_ptr, vector_handle(x))
}

#' Destroy an fmalloc vector
#'
#' The earlier package's name for [fmalloc_destroy()] on a vector: frees
#' its data (a saved record is removed from the catalog); every R object
#' using them becomes invalid.
#'
#' @param x An fmalloc vector or list.
#' @param unsafe Ignored (kept for compatibility): destroying is always
#'   checked.
#' @return `TRUE` if a live vector was destroyed, `FALSE` if it was
#'   destroyed already.
#' @examples
#' rt <- open_fmalloc(tempdir(), mode = "scratch")
#' x <- create_fmalloc_vector("double", 10, runtime = rt)
#' destroy_fmalloc_vector(x)
#' destroy_fmalloc_vector(x)
#' @export
destroy_fmalloc_vector <- function(x, unsafe = FALSE) {
  h <- vector_handle(x)
  if (identical(.Call(C_rfm_vector_info, h)$state, "destroyed")) {
    return(FALSE)
  }
  fmalloc_destroy(x)
  TRUE
}

#' Sync a heap file to disk
#'
#' Makes every committed record of a persistent runtime durable against
#' power loss (`fsync` of the file in the right order, see the
#' libfmalloc-r manual).  Committed records survive a crash of the
#' process (kill -9) without it.
#'
#' @param runtime A runtime, or `NULL` for the default runtime.
#' @param wait Kept for compatibility: the sync always completes before
#'   the function returns.
#' @return Invisibly, the size in bytes of the heap file made durable (0
#'   for a scratch or read-only runtime, which have nothing to sync).
#' @examples
#' rt <- open_fmalloc(file.path(tempdir(), "sync-example.fmr"))
#' fmalloc_save(as_fmalloc(1:10, runtime = rt), "ten")
#' fmalloc_sync(rt)
#' fmalloc_destroy("ten", runtime = rt)
#' @export
fmalloc_sync <- function(runtime = NULL, wait = TRUE) {
  runtime <- resolve_runtime(runtime)
  invisible(.Call(C_rfm_sync, runtime))
}

#' Advise the kernel how a vector's data will be used
#'
#' `madvise()` on the pages of a vector's data: `"sequential"` (read
#' ahead more, drop behind sooner), `"random"` (read ahead less),
#' `"willneed"` (start reading now), `"dontneed"` (the pages can go from
#' this process's memory; the data stay in the file, and the next access
#' reads them back), `"normal"` (the default behaviour).  Useful for
#' vectors larger than memory.  `"dontneed"` is ignored for a private
#' copy in process memory, whose data it would throw away.
#'
#' @param x An fmalloc vector.
#' @param advice One of `"sequential"`, `"willneed"`, `"dontneed"`,
#'   `"normal"`, `"random"`.
#' @param offset Byte offset into the data.
#' @param nbytes Number of bytes (`NULL`: to the end).
#' @return `x`, invisibly.
#' @examples
#' rt <- open_fmalloc(tempdir(), mode = "scratch")
#' x <- create_fmalloc_vector("double", 1e5, runtime = rt)
#' fmalloc_storage_advise(x, "sequential")
#' invisible(sum(x))
#' fmalloc_storage_advise(x, "dontneed")
#' @export
fmalloc_storage_advise <- function(x, advice = c("sequential", "willneed",
                                                 "dontneed", "normal",
                                                 "random"),
                                   offset = 0, nbytes = NULL) {
  advice <- match.arg(advice)
  code <- match(advice, c("normal", "sequential", "random", "willneed",
                          "dontneed")) - 1L
  .Call(C_rfm_advise, vector_handle(x), code, as.double(offset),
        if (is.null(nbytes)) -1 else as.double(nbytes))
  invisible(x)
}

#' Row and column variances of fmalloc matrices
#'
#' Sample variances (denominator `n - 1`) of each column or row of a
#' numeric or logical matrix, computed in C in two passes over the data
#' (means, then squared deviations, accumulated in long double): the
#' same as `apply(X, 2, var)` and `apply(X, 1, var)` up to rounding.  A
#' column or row with fewer than two values (after removing `NA`s with
#' `na.rm = TRUE`) gives `NA`.  The result is named by the matching
#' dimnames and is file-backed from `getOption("Rfmalloc.threshold")`
#' elements on.
#'
#' @param X A numeric or logical matrix (fmalloc or not).
#' @param na.rm If `TRUE`, missing values are left out.
#' @return A double vector of length `ncol(X)` or `nrow(X)`.
#' @examples
#' rt <- open_fmalloc(tempdir(), mode = "scratch")
#' m <- as_fmalloc(matrix(c(1, 2, 4, 8, 16, 32), 3), runtime = rt)
#' fmalloc_colVars(m)
#' apply(m[, ], 2, var)
#' fmalloc_rowVars(m)
#' @export
fmalloc_colVars <- function(X, na.rm = FALSE) vars(X, FALSE, na.rm)

#' @rdname fmalloc_colVars
#' @export
fmalloc_rowVars <- function(X, na.rm = FALSE) vars(X, TRUE, na.rm)

vars <- function(X, rows, na.rm) {
  d <- dim(X)
  if (length(d) != 2L || !plain_numeric(X)) {
    stop("'X' must be a numeric or logical matrix", call. = FALSE)
  }
  z <- .Call(C_rfm_vars, X, rows, isTRUE(na.rm), d[1L], d[2L],
             result_runtime(NULL, X))
  dn <- dimnames(X)[[if (rows) 1L else 2L]]
  if (!is.null(dn)) {
    names(z) <- dn
  }
  finish(z)
}
