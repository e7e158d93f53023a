# classes.R: the S3 classes of the default objects and the methods that
# keep R's value semantics and file-backed results: `[`, `[<-`, `[[<-`,
# names<-, dim<-, dimnames<-, and how they print.
#
# A file-backed vector carries c("fmalloc_vector", "fmalloc") (or
# "fmalloc_matrix" / "fmalloc_array" by its dim) unless
# options(Rfmalloc.class = FALSE); ordinary R vectors never do (see
# C_rfm_finish in src/vectors.c).

fm_classes <- c("fmalloc_vector", "fmalloc_matrix", "fmalloc_array",
                "fmalloc")

# X with the class it should have (see C_rfm_finish): finish() for
# results of computations, finish_new() for objects the package just
# made or loaded, which nothing else holds yet (changed in place).
finish <- function(x) .Call(C_rfm_finish, x, FALSE)
finish_new <- function(x) .Call(C_rfm_finish, x, TRUE)

# The attributes of X without our classes (what a record's metadata
# keeps: the class follows the session's option, not the file).
stored_attributes <- function(x) {
  a <- attributes(x)
  if (!is.null(a$class)) {
    cls <- setdiff(a$class, fm_classes)
    a$class <- if (length(cls)) cls else NULL
  }
  a
}

# R's own subsetting (.subset: the default method, file-backed results
# from the Extract_subset method) rather than NextMethod(), which leaves
# R counting a reference to x for ever (R would then copy x before the
# next assignment).
#' @export
`[.fmalloc` <- function(x, i, j, ..., drop = TRUE) {
  if (nargs() == 2L) {
    if (missing(i)) {
      return(x)
    }
    # the scalar x[i] in C, as cheap as R's dispatch allows (no closure
    # call such as environment() on the way)
    ans <- .Call(C_rfm_subset1, x, i)
    if (!is.null(ans)) {
      return(ans)
    }
    n <- 2L
  } else {
    n <- nargs() - !missing(drop)
  }
  if (n == 2L) {
    ans <- .subset(x, i)
  } else if (n == 3L && length(d <- dim(x)) == 2L) {
    # .subset() takes no empty arguments: all rows (columns) by index
    if (missing(i)) i <- seq_len(d[1L])
    if (missing(j)) j <- seq_len(d[2L])
    ans <- .subset(x, i, j, drop = drop)
  } else {
    ans <- NextMethod()
  }
  .Call(C_rfm_finish, ans, FALSE)
}

# R looks for a method of each class in turn: one found at the first
# class saves a failed lookup (as costly as the method) on every x[i].
#' @export
`[.fmalloc_vector` <- `[.fmalloc`
#' @export
`[.fmalloc_matrix` <- `[.fmalloc`
#' @export
`[.fmalloc_array` <- `[.fmalloc`

#' @export
`[<-.fmalloc` <- function(x, i, j, ..., value) {
  if (nargs() == 3L && !missing(i)) {
    # x[i] <- v on a private vector, without environment() (a closure)
    ans <- .Call(C_rfm_assign1, x, i, value, substitute(x))
    if (!is.null(ans)) {
      return(ans)
    }
  }
  ans <- .Call(C_rfm_assign, environment(), substitute(x), nargs(), FALSE)
  if (is.null(ans)) {
    ans <- .Call(C_rfm_finish, NextMethod(), FALSE)
  }
  ans
}

#' @export
`[<-.fmalloc_vector` <- `[<-.fmalloc`
#' @export
`[<-.fmalloc_matrix` <- `[<-.fmalloc`
#' @export
`[<-.fmalloc_array` <- `[<-.fmalloc`

#' @export
`[[<-.fmalloc` <- function(x, i, j, ..., value) {
  ans <- .Call(C_rfm_assign, environment(), substitute(x), nargs(), TRUE)
  if (is.null(ans)) {
    ans <- .Call(C_rfm_finish, NextMethod(), FALSE)
  }
  ans
}

# names<-, dim<- and dimnames<- on the variable holding a saved vector
# change the object in place and the record's stored attributes
# (C_rfm_assign_attr; NULL when R must do it).
attr_assigned <- function(x) {
  x <- finish_new(x)
  if (.Call(C_rfm_is_saved_view, x)) {
    .Call(C_rfm_save, x, NULL,
          serialize(stored_attributes(x), NULL, version = 3L), 3L)
  }
  x
}

#' @export
`names<-.fmalloc` <- function(x, value) {
  ans <- .Call(C_rfm_assign_attr, x, "names", value, sys.call(),
               environment())
  if (is.null(ans)) finish(NextMethod()) else attr_assigned(ans)
}

#' @export
`dim<-.fmalloc` <- function(x, value) {
  ans <- .Call(C_rfm_assign_attr, x, "dim", value, sys.call(),
               environment())
  if (is.null(ans)) finish(NextMethod()) else attr_assigned(ans)
}

#' @export
`dimnames<-.fmalloc` <- function(x, value) {
  ans <- .Call(C_rfm_assign_attr, x, "dimnames", value, sys.call(),
               environment())
  if (is.null(ans)) finish(NextMethod()) else attr_assigned(ans)
}

# --- printing ----------------------------------------------------------

# One line: what X is and where its data live.
fm_header <- function(x) {
  info <- .Call(C_rfm_vector_info, x)
  rt <- fmalloc_runtime_of(x)
  path <- if (is.null(rt)) "?" else .Call(C_rfm_info, rt)$path
  d <- dim(x)
  shape <- if (length(d) == 2L) {
    sprintf("%s x %s matrix", format(d[1L]), format(d[2L]))
  } else if (length(d)) {
    paste0(paste(format(d), collapse = " x "), " array")
  } else {
    sprintf("vector of length %s", format(length(x)))
  }
  where <- switch(info$state,
                  saved = "saved",
                  serialized = "serialized (unnamed record)",
                  live = "not saved",
                  memory = "private copy in memory",
                  info$state)
  sprintf("<fmalloc %s %s, %s, in %s>", typeof(x), shape, where, path)
}

# X as a plain vector with the same attributes (not the fmalloc class),
# for base R's printing, formatting and matching: a new handle on the
# same data (C_rfm_view): no copy, and nothing left counting a
# reference to X itself (R would copy X before the next assignment).
# A character vector up to 2^27 long is an ordinary vector of its
# CHARSXPs instead (pointers copied, not strings): R reads those
# without a method call per element.
plain <- function(x) {
  v <- .Call(C_rfm_view, x)
  if (is.null(v)) unclass(x) else v
}

#' Printing and summarizing fmalloc vectors
#'
#' `print()` shows a one-line header saying what the vector is and
#' where its data live (the heap file, and whether the vector is saved),
#' then the values as base R prints a plain vector.  `str()` begins with
#' "fmalloc" and, at the top level, where the data live in brackets (the
#' record id of a saved vector, the heap file); inside a list or a data
#' frame it stays one short line.  `format()` and `summary()` give
#' exactly what base R gives for the plain vector, because code compares
#' and combines their values (a data frame's `summary()` formats every
#' column's): the location is for `print()` and `str()`.  Runtimes have
#' `format()`, `summary()` and `str()` methods of their own
#' ([fmalloc-runtime-summary]).
#'
#' @param x,object An fmalloc vector.
#' @param ... Passed on to the base methods.
#' @return `print()` and `str()`: `x`, invisibly.  `format()` and
#'   `summary()`: as base R.
#' @name fmalloc-print
#' @examples
#' rt <- open_fmalloc(tempdir(), mode = "scratch")
#' x <- as_fmalloc(c(a = 1.5, b = 2, c = NA), runtime = rt)
#' x
#' format(x)
#' summary(x)
#' str(x)
NULL

#' @rdname fmalloc-print
#' @export
print.fmalloc <- function(x, ...) {
  if (!is_fm(x)) { # an ordinary vector that kept the class by accident
    print(finish(x), ...)
    return(invisible(x))
  }
  cat(fm_header(x), "\n", sep = "")
  print(plain(x), ...)
  invisible(x)
}

#' @export
as.data.frame.fmalloc <- function(x, ...) {
  if (is.matrix(x)) {
    as.data.frame.matrix(x, ...)
  } else {
    as.data.frame.vector(x, ...)
  }
}

# match(), %in%, table() and friends see a classed vector through
# mtfrm() (R >= 4.1), whose default compares as.character() strings:
# give them the plain values.
#' @export
mtfrm.fmalloc <- function(x) plain(x)

#' @export
all.equal.fmalloc <- function(target, current, ...) {
  all.equal(plain(target), if (inherits(current, "fmalloc")) {
    plain(current)
  } else {
    current
  }, ...)
}

#' @rdname fmalloc-print
#' @export
format.fmalloc <- function(x, ...) format(plain(x), ...)

#' @rdname fmalloc-print
#' @export
summary.fmalloc <- function(object, ...) summary(plain(object), ...)

#' @rdname fmalloc-print
#' @importFrom utils str
#' @export
str.fmalloc <- function(object, ...) {
  nested <- !is.null(list(...)$nest.lev) && list(...)$nest.lev > 0
  if (!is_fm(object) || nested) {
    cat(" fmalloc")
  } else {
    cat(" fmalloc [", fm_where(object), "]", sep = "")
  }
  str(plain(object), ...)
  invisible(object)
}

# Where the data of X live, in a few words: "saved record 3, /path",
# "not saved, /path", "private copy in memory".
fm_where <- function(x) {
  info <- .Call(C_rfm_vector_info, x)
  if (identical(info$state, "memory")) {
    return("private copy in memory")
  }
  rt <- fmalloc_runtime_of(x)
  path <- if (is.null(rt)) "?" else .Call(C_rfm_info, rt)$path
  what <- switch(info$state,
                 saved = sprintf("saved record %s", format(info$id)),
                 serialized = sprintf("serialized record %s", format(info$id)),
                 live = "not saved",
                 info$state)
  paste0(what, ", ", path)
}
