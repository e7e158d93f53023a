type_codes <- c(logical = 10L, integer = 13L, numeric = 14L, double = 14L,
                complex = 15L, character = 16L, list = 19L, raw = 24L)

type_code <- function(type) {
  if (!is.character(type) || length(type) != 1L || is.na(type) ||
      !type %in% names(type_codes)) {
    stop("'type' must be one of ",
         paste0('"', names(type_codes), '"', collapse = ", "),
         call. = FALSE)
  }
  type_codes[[type]]
}

check_count <- function(x, what) {
  if (!is.numeric(x) || length(x) != 1L || is.na(x) || !is.finite(x) ||
      x < 0 || x != floor(x)) {
    stop(sprintf("'%s' must be a single non-negative whole number", what),
         call. = FALSE)
  }
  as.double(x)
}

check_dim <- function(dim) {
  if (!is.numeric(dim) || length(dim) < 1L || anyNA(dim) ||
      any(!is.finite(dim)) || any(dim < 0) || any(dim != floor(dim)) ||
      any(dim > .Machine$integer.max)) {
    stop("'dim' must be a vector of non-negative whole numbers",
         call. = FALSE)
  }
  as.integer(dim)
}

set_attributes <- function(x, attrs) {
  attrs <- attrs[!vapply(attrs, is.null, logical(1))]
  if (length(attrs)) {
    .Call(C_rfm_set_attributes, x, attrs)
  }
  x
}

#' Create an fmalloc vector
#'
#' Makes a new vector whose data live in the heap file of a runtime.
#'
#' @param type One of `"logical"`, `"integer"`, `"numeric"` (or
#'   `"double"`), `"raw"`, `"complex"`, `"character"` or `"list"`.
#' @param length Number of elements (may exceed `2^31 - 1`).
#' @param runtime A runtime, or `NULL` for the default runtime.
#' @param zero_initialize If `TRUE` the elements are zero (`FALSE`, `0`,
#'   `00`, `0+0i`); if `FALSE` their values are unspecified.  Character
#'   vectors always start as `""` and lists as `NULL` elements.
#' @return An ALTREP vector of the requested type, of class
#'   `c("fmalloc_vector", "fmalloc")` (see [Rfmalloc-package] for what the
#'   class does and `options(Rfmalloc.class = FALSE)`); a list is an
#'   `"fmalloc_list"` (see [create_fmalloc_list()]).
#' @examples
#' rt <- open_fmalloc(tempdir(), mode = "scratch")
#' x <- create_fmalloc_vector("integer", 5, runtime = rt)
#' x[2] <- 7L
#' x
#' s <- create_fmalloc_vector("character", 3, runtime = rt)
#' s[1] <- "caf\u00e9"
#' s
#' @export
create_fmalloc_vector <- function(type = "integer", length, runtime = NULL,
                                  zero_initialize = TRUE) {
  code <- type_code(type)
  n <- check_count(length, "length")
  runtime <- resolve_runtime(runtime)
  if (code == 19L) {
    return(create_fmalloc_list(n, runtime = runtime))
  }
  finish_new(.Call(C_rfm_create, runtime, code, n, isTRUE(zero_initialize)))
}

#' Create an fmalloc matrix or array
#'
#' A new fmalloc vector with a `dim` attribute (and `dimnames`).
#'
#' @inheritParams create_fmalloc_vector
#' @param nrow,ncol Numbers of rows and columns.
#' @param dim Integer vector of dimensions.
#' @param dimnames `NULL` or a list of dimension names.
#' @return A matrix or array whose data live in the heap file.
#' @examples
#' rt <- open_fmalloc(tempdir(), mode = "scratch")
#' m <- create_fmalloc_matrix("double", 2, 3, runtime = rt)
#' m[] <- 1:6
#' m %*% t(m)
#' a <- create_fmalloc_array("integer", c(2, 2, 2), runtime = rt)
#' dim(a)
#' @export
create_fmalloc_matrix <- function(type = "integer", nrow, ncol,
                                  dimnames = NULL, runtime = NULL,
                                  zero_initialize = TRUE) {
  nrow <- check_count(nrow, "nrow")
  ncol <- check_count(ncol, "ncol")
  create_fmalloc_array(type, c(nrow, ncol), dimnames = dimnames,
                       runtime = runtime, zero_initialize = zero_initialize)
}

#' @rdname create_fmalloc_matrix
#' @export
create_fmalloc_array <- function(type = "integer", dim, dimnames = NULL,
                                 runtime = NULL, zero_initialize = TRUE) {
  dim <- check_dim(dim)
  if (type_code(type) == 19L) {
    stop("fmalloc lists cannot have dimensions", call. = FALSE)
  }
  x <- create_fmalloc_vector(type, prod(as.double(dim)), runtime = runtime,
                             zero_initialize = zero_initialize)
  finish_new(set_attributes(x, list(dim = dim, dimnames = dimnames)))
}

#' Test for an fmalloc vector and find its runtime
#'
#' @param x Any R object.
#' @return `is_fmalloc()`: `TRUE` if `x` is a vector whose data live in an
#'   fmalloc heap (or an `"fmalloc_list"`).  `fmalloc_runtime_of()`: the
#'   runtime of `x`, or `NULL`.
#' @examples
#' rt <- open_fmalloc(tempdir(), mode = "scratch")
#' x <- create_fmalloc_vector("double", 3, runtime = rt)
#' is_fmalloc(x)
#' is_fmalloc(1:3)
#' identical(fmalloc_runtime_of(x), rt)
#' @export
is_fmalloc <- function(x) {
  inherits(x, "fmalloc_list") || is_altlist(x) || .Call(C_rfm_is_fmalloc, x)
}

#' @rdname is_fmalloc
#' @export
fmalloc_runtime_of <- function(x) {
  if (inherits(x, "fmalloc_list") || is_altlist(x)) {
    return(fmalloc_runtime_of(list_ids(x)))
  }
  .Call(C_rfm_runtime_of, x)
}

#' Copy an R object into an fmalloc runtime
#'
#' Copies a logical, integer, double, complex, raw or character vector
#' (including matrices, arrays and factors) into the heap of a runtime,
#' keeping its attributes.  A data frame or list is copied element by
#' element into an ordinary list of fmalloc vectors.
#'
#' @param x The object to copy.
#' @param runtime A runtime, or `NULL`: the runtime of `x` if it is an
#'   fmalloc object, else the default runtime.
#' @param name If not `NULL`, the copy is saved under this name (see
#'   [fmalloc_save()]).
#' @return The copy.  An fmalloc vector of the same runtime is returned as
#'   it is.
#' @examples
#' rt <- open_fmalloc(tempdir(), mode = "scratch")
#' f <- as_fmalloc(factor(c("a", "b", "a")), runtime = rt)
#' f
#' is_fmalloc(f)
#' @export
as_fmalloc <- function(x, runtime = NULL, name = NULL) {
  if (is.null(runtime)) {
    runtime <- fmalloc_runtime_of(x)
  }
  runtime <- resolve_runtime(runtime)
  y <- copy_in(x, runtime)
  if (!is.null(name)) {
    save_object(y, name, NULL, parent.frame())
  }
  y
}

same_runtime <- function(x, runtime) {
  rt <- fmalloc_runtime_of(x)
  !is.null(rt) && identical(rt, runtime)
}

copy_in <- function(x, runtime) {
  if (is.null(x)) {
    return(NULL)
  }
  if (same_runtime(x, runtime)) {
    return(x)
  }
  if (is.list(x)) {
    if (is.data.frame(x) || !inherits(x, "fmalloc_list") &&
        !is.null(attr(x, "class", exact = TRUE))) {
      y <- lapply(x, copy_in, runtime = runtime)
      attributes(y) <- attributes(x)
      return(y)
    }
    return(as_fmalloc_list(x, runtime = runtime))
  }
  if (!is.atomic(x)) {
    stop("cannot copy an object of type '", typeof(x),
         "' into an fmalloc runtime", call. = FALSE)
  }
  finish_new(.Call(C_rfm_copy_in, runtime, x))
}
