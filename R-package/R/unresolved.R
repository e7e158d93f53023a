#' References that cannot be restored
#'
#' A persistent fmalloc vector is serialized (by `save()`, `saveRDS()`,
#' `serialize()`, parallel workers) as a reference to its record in the
#' heap file.  When such a reference is read back and cannot be resolved,
#' the unserialization goes on: the reference becomes an
#' `"fmalloc_unresolved"` object, R warns once per such reference (saying
#' what is wrong and what to do), and the other objects are restored.  So
#' `load()` of an `.RData` file that holds one destroyed record restores
#' everything else, and so does `readRDS()` of a list.  A single
#' `readRDS()` follows the same rule: it warns and returns the placeholder.
#'
#' The reasons, in the placeholder's `reason` field: `"missing_file"` (the
#' heap file does not exist), `"not_a_heap"` (the file cannot be opened as
#' a heap: not a heap file, damaged, or unreadable), `"replaced_file"`
#' (another heap file, with another uuid, is at the path),
#' `"older_file"` (the record is older than the reference: the file was
#' replaced by an older copy), `"destroyed"` (the record was destroyed)
#' and `"mismatch"` (the record does not hold a vector of the type and
#' length the reference says).  Nothing is ever created or changed at the
#' path.  When the reason is the file, put the right file back at that
#' path and read the reference again; a destroyed record's data are gone.
#'
#' The placeholder is a condition object (a list of class
#' `c("fmalloc_unresolved", "error", "condition")` with fields `message`
#' (the warning's text), `call`, `problem`, `reason`, `path`, `uuid`, `id`
#' (the record id), `type` and `length` (of the vector)): printing
#' it says what could not be restored and why, `conditionMessage()` gives
#' the message, `stop()` signals it, and using it as data (arithmetic,
#' Math, Summary functions such as `sum()`, `mean()`, `[`, `[[`, `$`,
#' assignments into it, `as.numeric()` and the other coercions,
#' [fmalloc_save()]) is an error naming the problem.
#'
#' With `options(Rfmalloc.unresolved = "error")`, a reference that cannot
#' be resolved is an error instead (and `load()` restores nothing, as R
#' stops the whole unserialization).  [fmalloc_load()] by name always
#' gives an error.
#'
#' @param x An R object.
#' @return `is_fmalloc_unresolved()`: `TRUE` if `x` is such a placeholder.
#' @examples
#' path <- file.path(tempdir(), "unresolved-example.fmr")
#' rt <- open_fmalloc(path)
#' x <- as_fmalloc(1:10, runtime = rt)
#' rds <- tempfile(fileext = ".rds")
#' saveRDS(x, rds)
#' fmalloc_destroy(x)
#' y <- suppressWarnings(readRDS(rds))
#' is_fmalloc_unresolved(y)
#' y
#' try(sum(y))
#' cleanup_fmalloc(rt)
#' @name fmalloc_unresolved
#' @export
is_fmalloc_unresolved <- function(x) inherits(x, "fmalloc_unresolved")

unresolved_stop <- function(x) {
  stop(sprintf(paste("this %s vector of length %s (record %s of '%s')",
                     "could not be restored: %s"),
               .subset2(x, "type"), format(.subset2(x, "length")),
               format(.subset2(x, "id")), .subset2(x, "path"),
               .subset2(x, "problem")), call. = FALSE)
}

#' @export
print.fmalloc_unresolved <- function(x, ...) {
  cat(sprintf("<fmalloc_unresolved: %s vector of length %s, not restored>\n",
              .subset2(x, "type"), format(.subset2(x, "length"))))
  cat(strwrap(.subset2(x, "problem"), indent = 2, exdent = 2), sep = "\n")
  invisible(x)
}

#' @export
format.fmalloc_unresolved <- function(x, ...) {
  sprintf("<fmalloc_unresolved %s[%s]: %s>", .subset2(x, "type"),
          format(.subset2(x, "length")), .subset2(x, "reason"))
}

#' @export
str.fmalloc_unresolved <- function(object, ...) {
  cat(" ", format(object), "\n", sep = "")
  invisible()
}

#' @export
conditionMessage.fmalloc_unresolved <- function(c) .subset2(c, "message")

#' @export
conditionCall.fmalloc_unresolved <- function(c) NULL

#' @export
Ops.fmalloc_unresolved <- function(e1, e2) {
  unresolved_stop(if (is_fmalloc_unresolved(e1)) e1 else e2)
}

#' @export
Math.fmalloc_unresolved <- function(x, ...) unresolved_stop(x)

#' @export
Summary.fmalloc_unresolved <- function(..., na.rm = FALSE) {
  for (a in list(...)) {
    if (is_fmalloc_unresolved(a)) unresolved_stop(a)
  }
}

#' @export
`[.fmalloc_unresolved` <- function(x, ...) unresolved_stop(x)

#' @export
`[[.fmalloc_unresolved` <- function(x, ...) unresolved_stop(x)

#' @export
`$.fmalloc_unresolved` <- function(x, name) unresolved_stop(x)

#' @export
`[<-.fmalloc_unresolved` <- function(x, ..., value) unresolved_stop(x)

#' @export
`[[<-.fmalloc_unresolved` <- function(x, ..., value) unresolved_stop(x)

#' @export
`$<-.fmalloc_unresolved` <- function(x, name, value) unresolved_stop(x)

#' @export
mean.fmalloc_unresolved <- function(x, ...) unresolved_stop(x)

#' @export
as.double.fmalloc_unresolved <- function(x, ...) unresolved_stop(x)

#' @export
as.integer.fmalloc_unresolved <- function(x, ...) unresolved_stop(x)

#' @export
as.logical.fmalloc_unresolved <- function(x, ...) unresolved_stop(x)

#' @export
as.character.fmalloc_unresolved <- function(x, ...) unresolved_stop(x)

#' @export
as.complex.fmalloc_unresolved <- function(x, ...) unresolved_stop(x)

#' @export
is.na.fmalloc_unresolved <- function(x) unresolved_stop(x)
