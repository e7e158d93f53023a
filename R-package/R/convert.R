#' fmalloc data frames
#'
#' `create_fmalloc_data_frame()` builds a data frame from columns given as
#' in [data.frame()]: fmalloc columns are used as they are, other columns
#' are copied into the runtime of the first fmalloc column (or the
#' default runtime).  `as_fmalloc_data_frame()` does the same but copies
#' every column that is not already in that runtime, and accepts a data
#' frame as its single argument.  The data frame itself is an ordinary R
#' list; its columns live in the heap.
#'
#' Columns shorter than the longest are recycled as [data.frame()] does
#' when the longest length is a multiple of theirs (`b = 1` beside
#' `a = 1:4` gives four rows); otherwise, or when a column is empty and
#' others are not, it is an error, with data.frame()'s message.
#'
#' @param ... Columns, as named arguments (or a data frame for
#'   `as_fmalloc_data_frame()`).
#' @param row.names `NULL` (automatic row names) or a character vector.
#' @param check.names If `TRUE`, column names are made syntactically valid
#'   and unique.
#' @param stringsAsFactors If `TRUE`, character columns become factors
#'   (whose codes are stored in the heap).
#' @return A data frame.
#' @examples
#' init_fmalloc(tempdir(), mode = "scratch")
#' df <- create_fmalloc_data_frame(id = 1:3, value = c(0.5, 1, 1.5))
#' df
#' is_fmalloc(df$value)
#' df2 <- as_fmalloc_data_frame(data.frame(a = letters[1:3]))
#' is_fmalloc(df2$a)
#' cleanup_fmalloc()
#' @export
create_fmalloc_data_frame <- function(..., row.names = NULL,
                                      check.names = TRUE,
                                      stringsAsFactors = FALSE) {
  build_data_frame(list(...), row.names, check.names, stringsAsFactors)
}

#' @rdname create_fmalloc_data_frame
#' @export
as_fmalloc_data_frame <- function(..., row.names = NULL, check.names = TRUE,
                                  stringsAsFactors = FALSE) {
  cols <- list(...)
  if (length(cols) == 1L && is.data.frame(cols[[1L]])) {
    df <- cols[[1L]]
    if (is.null(row.names) && is.character(attr(df, "row.names"))) {
      row.names <- attr(df, "row.names")
    }
    cols <- as.list(df)
  }
  build_data_frame(cols, row.names, check.names, stringsAsFactors)
}

build_data_frame <- function(cols, row.names, check.names,
                             stringsAsFactors) {
  if (length(cols) == 0L) {
    stop("no columns given", call. = FALSE)
  }
  nms <- names(cols)
  if (is.null(nms)) {
    nms <- rep("", length(cols))
  }
  nms[!nzchar(nms)] <- paste0("V", seq_along(cols))[!nzchar(nms)]
  if (isTRUE(check.names)) {
    nms <- make.names(nms, unique = TRUE)
  }
  runtime <- NULL
  for (col in cols) {
    runtime <- fmalloc_runtime_of(col)
    if (!is.null(runtime)) break
  }
  runtime <- resolve_runtime(runtime)
  for (col in cols) {
    if (is.list(col) || !is.atomic(col)) {
      stop("data frame columns must be atomic vectors", call. = FALSE)
    }
  }
  lens <- vapply(cols, length, numeric(1))
  n <- max(lens)
  short <- lens < n
  if (any(short & (lens == 0 | n %% lens != 0))) {
    stop(sprintf("arguments imply differing number of rows: %s",
                 paste(format(unique(lens), scientific = FALSE),
                       collapse = ", ")),
         call. = FALSE)
  }
  for (i in seq_along(cols)) {
    col <- cols[[i]]
    if (short[i]) {
      # as data.frame(): rep() keeps a factor's levels
      col <- rep(col, length.out = n)
    }
    if (isTRUE(stringsAsFactors) && is.character(col)) {
      col <- factor(col)
    }
    cols[[i]] <- copy_in(col, runtime)
  }
  names(cols) <- nms
  if (is.null(row.names)) {
    row.names <- .set_row_names(as.integer(n))
  } else if (length(row.names) != n) {
    stop("'row.names' has the wrong length", call. = FALSE)
  } else {
    row.names <- as.character(row.names)
  }
  attr(cols, "row.names") <- row.names
  class(cols) <- "data.frame"
  cols
}

target_runtime <- function(x) {
  rt <- fmalloc_runtime_of(x)
  resolve_runtime(rt)
}

as_fmalloc_shaped <- function(x, dim, dimnames, copy) {
  if (is.list(x) || !is.atomic(x)) {
    stop("'x' must be an atomic vector", call. = FALSE)
  }
  if (prod(as.double(dim)) != length(x)) {
    stop(sprintf("dims [product %.0f] do not match the length of 'x' (%.0f)",
                 prod(as.double(dim)), as.double(length(x))), call. = FALSE)
  }
  y <- NULL
  if (!isTRUE(copy) && is_fmalloc(x)) {
    y <- .Call(C_rfm_alias, x)
  }
  if (is.null(y)) {
    plain <- x
    attributes(plain) <- NULL
    y <- .Call(C_rfm_copy_in, target_runtime(x), plain)
  }
  finish_new(set_attributes(y, list(dim = dim, dimnames = dimnames)))
}

#' Convert vectors to fmalloc matrices and arrays
#'
#' Gives a vector's data the shape of a matrix or array, in an fmalloc
#' runtime (the runtime of `x` if it is an fmalloc vector, else the
#' default runtime).
#'
#' @param x An atomic vector, matrix or array.
#' @param nrow,ncol Dimensions of the matrix; if both are `NULL`, the
#'   dimensions of a matrix `x` or one column; if one is `NULL` it is
#'   computed from the length.
#' @param dim Dimensions of the array (default: `dim(x)`, or `length(x)`).
#' @param dimnames `NULL` (keep those of `x` when the dimensions are the
#'   same) or a list of dimension names.
#' @param copy If `FALSE` and `x` is an fmalloc vector (not character),
#'   the result shares `x`'s storage: writing into one changes the other.
#'   Otherwise the data are copied.
#' @return A matrix or array whose data live in the heap.
#' @examples
#' init_fmalloc(tempdir(), mode = "scratch")
#' x <- as_fmalloc(as.double(1:6))
#' m <- as_fmalloc_matrix(x, nrow = 2)
#' m
#' a <- as_fmalloc_array(x, dim = c(1, 2, 3), copy = FALSE)
#' dim(a)
#' cleanup_fmalloc()
#' @export
as_fmalloc_matrix <- function(x, nrow = NULL, ncol = NULL, dimnames = NULL,
                              copy = TRUE) {
  n <- length(x)
  if (is.null(nrow) && is.null(ncol)) {
    d <- dim(x)
    if (length(d) == 2L) {
      nrow <- d[1L]
      ncol <- d[2L]
    } else {
      nrow <- n
      ncol <- 1
    }
  } else if (is.null(ncol)) {
    nrow <- check_count(nrow, "nrow")
    ncol <- if (nrow == 0) 0 else n / nrow
  } else if (is.null(nrow)) {
    ncol <- check_count(ncol, "ncol")
    nrow <- if (ncol == 0) 0 else n / ncol
  }
  if (nrow * ncol != n || nrow != floor(nrow) || ncol != floor(ncol)) {
    stop(sprintf("dims [%s x %s] do not match the length of 'x' (%.0f)",
                 format(nrow), format(ncol), as.double(n)), call. = FALSE)
  }
  dim <- check_dim(c(nrow, ncol))
  if (is.null(dimnames) && identical(dim(x), dim)) {
    dimnames <- dimnames(x)
  }
  as_fmalloc_shaped(x, dim, dimnames, copy)
}

#' @rdname as_fmalloc_matrix
#' @export
as_fmalloc_array <- function(x, dim = NULL, dimnames = NULL, copy = TRUE) {
  if (is.null(dim)) {
    dim <- if (is.null(dim(x))) length(x) else dim(x)
  }
  dim <- check_dim(dim)
  if (is.null(dimnames) && identical(dim(x), dim)) {
    dimnames <- dimnames(x)
  }
  as_fmalloc_shaped(x, dim, dimnames, copy)
}
