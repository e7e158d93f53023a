# methods.R: base R's generics and common functions on the default
# objects, with results file-backed from the threshold on.  Kernels in
# C where they stream over the mapped data (is.na, anyNA, which, range,
# the reducers); elsewhere base R computes on a view of the data (no
# copy, see plain() in classes.R) and the result is copied into the heap
# (C_rfm_to_file), so that results are identical() to base R's once the
# class is dropped.
#
# Functions that are not generic in base R (which, order, match, %in%,
# ifelse, pmin, pmax, tabulate, rowSums, colSums, rowMeans, colMeans,
# paste0, nchar, toupper, tolower, substr, grepl) are masked by this
# package's versions when it is attached: they call base R's function,
# unchanged, for anything that is not an fmalloc vector.

is_fm <- function(x) .Call(C_rfm_is_fmalloc, x)

# X for base R: a view of an fmalloc vector, anything else as it is.
pl <- function(x) if (is_fm(x)) plain(x) else x

# ANS, computed by base R for the fmalloc vector LIKE, in LIKE's heap
# when it is long enough.
to_file <- function(ans, like) .Call(C_rfm_to_file, ans, like)

#' Base R functions on fmalloc vectors
#'
#' The default fmalloc objects (see [fmalloc_class()]) have methods for
#' `range()`, `is.na()`, `anyNA()`, `sort()`, `unique()`,
#' `duplicated()`, `diff()` and `scale()`, and, when the package is
#' attached, its versions of `which()`, `order()`, `match()`, `%in%`,
#' `ifelse()`, `pmin()`, `pmax()`, `tabulate()`, `rowSums()`,
#' `colSums()`, `rowMeans()`, `colMeans()`, `paste0()`, `nchar()`,
#' `toupper()`, `tolower()`, `substr()` and `grepl()` mask base R's.  For
#' fmalloc vectors they give base R's answers (identical once the class
#' is dropped, with the same warnings), as fmalloc vectors in the
#' runtime of the (first) fmalloc argument when they are at least
#' `getOption("Rfmalloc.threshold", 1e5)` long, and as ordinary R
#' vectors otherwise; for anything else they are base R's functions.
#'
#' `is.na()`, `anyNA()`, `which()` of a logical vector, `range()` and the
#' row and column reducers run in C over the heap's data, so they work
#' on vectors larger than memory.  The others let base R compute on the
#' data in place (no copy of the input) and copy the answer into the
#' heap; base R's working memory is what it would use for an ordinary
#' vector.
#'
#' @param x,table,arr.ind,useNames,test,yes,no,bin,nbins,pattern,start,stop,type,allowNA,keepNA,collapse,recycle0,nomatch,incomparables,na.last,decreasing,method,ignore.case,perl,fixed,useBytes,na.rm,dims,finite,center,scale,recursive,... As for the base R functions.
#' @return As the base R functions.
#' @examples
#' rt <- open_fmalloc(tempdir(), mode = "scratch")
#' old <- options(Rfmalloc.threshold = 4)
#' x <- as_fmalloc(c(3, NA, 1, 2, 3), runtime = rt)
#' is.na(x)
#' which(x > 1)
#' sort(x)
#' unique(x)
#' range(x, na.rm = TRUE)
#' s <- as_fmalloc(c("a", "bb", NA, "ccc"), runtime = rt)
#' nchar(s)
#' toupper(s)
#' options(old)
#' @name fmalloc-base
NULL

#' @rdname fmalloc-base
#' @export
range.fmalloc <- function(..., na.rm = FALSE, finite = FALSE) {
  if (...length() != 1L) {
    return(range(unlist(lapply(list(...), pl)), na.rm = na.rm,
                 finite = finite))
  }
  x <- ..1
  if (isTRUE(finite)) {
    if (is.numeric(x)) x <- x[is.finite(x)] else na.rm <- TRUE
  }
  c(min(x, na.rm = na.rm), max(x, na.rm = na.rm))
}

#' @rdname fmalloc-base
#' @export
is.na.fmalloc <- function(x) {
  ans <- .Call(C_rfm_isna, x)
  if (is.null(ans)) is.na(pl(x)) else ans
}

#' @rdname fmalloc-base
#' @export
anyNA.fmalloc <- function(x, recursive = FALSE) {
  ans <- .Call(C_rfm_anyna, x)
  if (is.null(ans)) anyNA(pl(x), recursive) else ans
}

#' @rdname fmalloc-base
#' @export
sort.fmalloc <- function(x, decreasing = FALSE, na.last = NA, ...) {
  to_file(sort(pl(x), decreasing = decreasing, na.last = na.last, ...), x)
}

#' @rdname fmalloc-base
#' @export
unique.fmalloc <- function(x, incomparables = FALSE, ...) {
  to_file(unique(pl(x), incomparables = incomparables, ...), x)
}

#' @rdname fmalloc-base
#' @export
duplicated.fmalloc <- function(x, incomparables = FALSE, ...) {
  to_file(duplicated(pl(x), incomparables = incomparables, ...), x)
}

#' @rdname fmalloc-base
#' @export
diff.fmalloc <- function(x, ...) to_file(diff(pl(x), ...), x)

#' @rdname fmalloc-base
#' @export
scale.fmalloc <- function(x, center = TRUE, scale = TRUE) {
  to_file(scale(pl(x), center = center, scale = scale), x)
}

#' @rdname fmalloc-base
#' @export
which <- function(x, arr.ind = FALSE, useNames = TRUE) {
  if (!is_fm(x)) {
    return(base::which(x, arr.ind = arr.ind, useNames = useNames))
  }
  if (!isTRUE(arr.ind)) {
    ans <- .Call(C_rfm_which, x)
    if (!is.null(ans)) {
      return(ans)
    }
  }
  to_file(base::which(pl(x), arr.ind = arr.ind, useNames = useNames), x)
}

#' @rdname fmalloc-base
#' @export
order <- function(..., na.last = TRUE, decreasing = FALSE,
                  method = c("auto", "shell", "radix")) {
  if (...length() == 1L && is_fm(..1)) {
    return(to_file(base::order(plain(..1), na.last = na.last,
                               decreasing = decreasing, method = method),
                   ..1))
  }
  base::order(..., na.last = na.last, decreasing = decreasing,
              method = method)
}

#' @rdname fmalloc-base
#' @export
match <- function(x, table, nomatch = NA_integer_, incomparables = NULL) {
  if (!is_fm(x) && !is_fm(table)) {
    return(base::match(x, table, nomatch, incomparables))
  }
  to_file(base::match(pl(x), pl(table), nomatch, incomparables),
          if (is_fm(x)) x else table)
}

#' @rdname fmalloc-base
#' @export
`%in%` <- function(x, table) {
  if (!is_fm(x) && !is_fm(table)) {
    return(base::`%in%`(x, table))
  }
  to_file(base::match(pl(x), pl(table), nomatch = 0L) > 0L,
          if (is_fm(x)) x else table)
}

#' @rdname fmalloc-base
#' @export
ifelse <- function(test, yes, no) {
  if (!is_fm(test) && !is_fm(yes) && !is_fm(no)) {
    return(base::ifelse(test, yes, no))
  }
  like <- if (is_fm(test)) test else if (is_fm(yes)) yes else no
  to_file(base::ifelse(pl(test), pl(yes), pl(no)), like)
}

minmax2 <- function(f, na.rm, ...) {
  n <- ...length()
  fm <- n >= 1L && is_fm(..1) || n >= 2L && is_fm(..2)
  if (!fm || n > 2L) {
    return(f(..., na.rm = na.rm))
  }
  like <- if (is_fm(..1)) ..1 else ..2
  ans <- if (n == 1L) f(pl(..1), na.rm = na.rm)
         else f(pl(..1), pl(..2), na.rm = na.rm)
  to_file(ans, like)
}

#' @rdname fmalloc-base
#' @export
pmin <- function(..., na.rm = FALSE) minmax2(base::pmin, na.rm, ...)

#' @rdname fmalloc-base
#' @export
pmax <- function(..., na.rm = FALSE) minmax2(base::pmax, na.rm, ...)

#' @rdname fmalloc-base
#' @export
tabulate <- function(bin, nbins = max(1L, bin, na.rm = TRUE)) {
  if (!is_fm(bin)) {
    return(base::tabulate(bin, nbins))
  }
  to_file(base::tabulate(plain(bin), nbins), bin)
}

#' @rdname fmalloc-base
#' @export
rowSums <- function(x, na.rm = FALSE, dims = 1L) {
  if (is_fm(x)) fmalloc_rowSums(x, na.rm = na.rm, dims = dims)
  else base::rowSums(x, na.rm = na.rm, dims = dims)
}

#' @rdname fmalloc-base
#' @export
colSums <- function(x, na.rm = FALSE, dims = 1L) {
  if (is_fm(x)) fmalloc_colSums(x, na.rm = na.rm, dims = dims)
  else base::colSums(x, na.rm = na.rm, dims = dims)
}

#' @rdname fmalloc-base
#' @export
rowMeans <- function(x, na.rm = FALSE, dims = 1L) {
  if (is_fm(x)) fmalloc_rowMeans(x, na.rm = na.rm, dims = dims)
  else base::rowMeans(x, na.rm = na.rm, dims = dims)
}

#' @rdname fmalloc-base
#' @export
colMeans <- function(x, na.rm = FALSE, dims = 1L) {
  if (is_fm(x)) fmalloc_colMeans(x, na.rm = na.rm, dims = dims)
  else base::colMeans(x, na.rm = na.rm, dims = dims)
}

#' @rdname fmalloc-base
#' @export
paste0 <- function(..., collapse = NULL, recycle0 = FALSE) {
  n <- ...length()
  if (n < 1L || n > 3L || !is.null(collapse)) {
    return(base::paste0(..., collapse = collapse, recycle0 = recycle0))
  }
  fm <- vapply(seq_len(n), function(k) is_fm(...elt(k)), NA)
  if (!any(fm)) {
    return(base::paste0(..., collapse = collapse, recycle0 = recycle0))
  }
  like <- ...elt(which.max(fm))
  ans <- switch(n,
    base::paste0(pl(..1), recycle0 = recycle0),
    base::paste0(pl(..1), pl(..2), recycle0 = recycle0),
    base::paste0(pl(..1), pl(..2), pl(..3), recycle0 = recycle0))
  to_file(ans, like)
}

#' @rdname fmalloc-base
#' @export
nchar <- function(x, type = "chars", allowNA = FALSE, keepNA = NA) {
  if (!is_fm(x)) {
    return(base::nchar(x, type, allowNA, keepNA))
  }
  to_file(base::nchar(plain(x), type, allowNA, keepNA), x)
}

#' @rdname fmalloc-base
#' @export
toupper <- function(x) {
  if (!is_fm(x)) base::toupper(x) else to_file(base::toupper(plain(x)), x)
}

#' @rdname fmalloc-base
#' @export
tolower <- function(x) {
  if (!is_fm(x)) base::tolower(x) else to_file(base::tolower(plain(x)), x)
}

#' @rdname fmalloc-base
#' @export
substr <- function(x, start, stop) {
  if (!is_fm(x)) {
    return(base::substr(x, start, stop))
  }
  to_file(base::substr(plain(x), start, stop), x)
}

#' @rdname fmalloc-base
#' @export
grepl <- function(pattern, x, ignore.case = FALSE, perl = FALSE,
                  fixed = FALSE, useBytes = FALSE) {
  if (!is_fm(x)) {
    return(base::grepl(pattern, x, ignore.case = ignore.case, perl = perl,
                       fixed = fixed, useBytes = useBytes))
  }
  to_file(base::grepl(pattern, plain(x), ignore.case = ignore.case,
                      perl = perl, fixed = fixed, useBytes = useBytes), x)
}
