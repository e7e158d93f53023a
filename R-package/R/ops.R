# ops.R: arithmetic, comparison, Math functions and matrix reducers
# computed in C (src/ops.c), with file-backed results above the size
# threshold.

ops_codes <- c("+", "-", "*", "/", "^", "%%", "%/%",
               "==", "!=", "<", "<=", ">", ">=", "&", "|", "!")

math_codes <- c("sqrt", "exp", "log", "abs", "floor", "ceiling", "round",
                "signif", "sin", "cos", "tan", "trunc", "log2", "log10",
                "log1p", "expm1", "sign")
cum_codes <- c("cumsum", "cumprod", "cummax", "cummin")

# TRUE if this R's cumulative functions make everything from an NA on
# NA even after a NaN (R 4.5 does; R 4.2 keeps whichever came first).
# Asked of base R itself, once.
cum_na_wins <- local({
  ans <- NULL
  function() {
    if (is.null(ans)) {
      v <- cumsum(c(NaN, NA))[2L]
      ans <<- is.na(v) && !is.nan(v)
    }
    ans
  }
})

# The runtime results go to: RUNTIME if given, else that of the first
# fmalloc operand; NULL (ordinary memory) if there is none.
result_runtime <- function(runtime, e1, e2 = NULL) {
  if (!is.null(runtime)) {
    return(resolve_runtime(runtime))
  }
  rt <- .Call(C_rfm_runtime_of, e1)
  if (is.null(rt)) .Call(C_rfm_runtime_of, e2) else rt
}

# TRUE if X is something the C code may handle: a plain numeric or
# logical vector, matrix or array, or one whose only classes are ours.
plain_numeric <- function(x) {
  (is.numeric(x) || is.logical(x)) && !isS4(x) &&
    (is.null(cl <- oldClass(x)) || all(cl %in% fm_classes))
}

#' Arithmetic and comparison with file-backed results
#'
#' `fmalloc_ops(e1, op, e2)` computes `e1 op e2` (or the unary `op e1`)
#' in C, by R's rules: recycling (with R's warning when the longer
#' length is not a multiple of the shorter), `NA` and `NaN`
#' propagation, integer overflow giving `NA` with a warning, integer
#' `%/%` and `%%` by zero giving `NA`, `&` and `|` with R's
#' three-valued logic (`FALSE & NA` is `FALSE`, `TRUE | NA` is `TRUE`;
#' numbers count as `TRUE` when not zero), and R's attribute rules (`dim`
#' and `dimnames`, or `names`, from the operands; for arithmetic also the
#' other attributes of each operand as long as the answer; `!` of a
#' logical vector keeps all its attributes).  An answer
#' with at least `getOption("Rfmalloc.threshold", 1e5)` elements is an
#' uncommitted fmalloc vector, reclaimed when it is no longer reachable;
#' a shorter one is an ordinary R vector.
#'
#' Numeric and logical operands are computed here.  Anything else
#' (character, complex or raw vectors, objects with a class, time series,
#' S4 objects, a length-one array with a longer vector) is passed to
#' base R and gives an ordinary R result.
#'
#' @param e1,e2 Operands: vectors, matrices or arrays, fmalloc or not.
#'   Leave `e2` out for unary `-`, `+` and `!`.
#' @param op One of `"+"`, `"-"`, `"*"`, `"/"`, `"^"`, `"%%"`, `"%/%"`,
#'   `"=="`, `"!="`, `"<"`, `"<="`, `">"`, `">="`, `"&"`, `"|"`, `"!"`.
#' @param runtime The runtime for file-backed results; `NULL` means the
#'   runtime of the first fmalloc operand (if neither operand is an
#'   fmalloc vector, the result is an ordinary R vector).
#' @return The result, as base R would compute it: double, integer or
#'   logical.
#' @seealso [fmalloc_math()], [fmalloc_colSums()], [fmalloc_class()] for
#'   the same through R's operators.
#' @examples
#' rt <- open_fmalloc(tempdir(), mode = "scratch")
#' old <- options(Rfmalloc.threshold = 4)
#' x <- as_fmalloc(c(a = 1, b = 4, c = 9, d = NA), runtime = rt)
#' y <- fmalloc_ops(x, "+", 1)
#' y
#' is_fmalloc(y)
#' fmalloc_ops(x, ">", 3)
#' fmalloc_ops(fmalloc_ops(x, ">", 3), "&", c(TRUE, FALSE, TRUE, TRUE))
#' fmalloc_ops(fmalloc_ops(x, ">", 3), "!")
#' fmalloc_ops(as_fmalloc(1:6, runtime = rt), "%/%", 4L)
#' fmalloc_ops(x, "-")
#' options(old)
#' @export
fmalloc_ops <- function(e1, op, e2, runtime = NULL) {
  unary <- missing(e2)
  ans <- if (unary) ops_try(e1, op, NULL, TRUE, runtime)
         else ops_try(e1, op, e2, FALSE, runtime)
  if (!is.null(ans)) {
    return(ans)
  }
  f <- get(op, envir = baseenv(), mode = "function")
  if (unary) f(e1) else f(e1, e2)
}

# e1 op e2 computed in C, or NULL if base R must do it.
ops_try <- function(e1, op, e2, unary, runtime) {
  code <- match(op, ops_codes)
  if (!is.character(op) || length(op) != 1L || is.na(code)) {
    stop("'op' must be one of ",
         paste0('"', ops_codes, '"', collapse = ", "), call. = FALSE)
  }
  if (unary && !op %in% c("+", "-", "!")) {
    stop(sprintf("'%s' needs two operands", op), call. = FALSE)
  }
  if (!unary && op == "!") {
    stop("'!' takes one operand", call. = FALSE)
  }
  if (!plain_numeric(e1) || (!unary && !plain_numeric(e2))) {
    return(NULL)
  }
  if (unary) {
    finish(.Call(C_rfm_arith, code, e1, NULL, result_runtime(runtime, e1)))
  } else {
    finish(.Call(C_rfm_arith, code, e1, e2, result_runtime(runtime, e1, e2)))
  }
}

#' Math functions with file-backed results
#'
#' `fmalloc_math(x, fun)` applies one of R's Math functions to a numeric
#' or logical vector, matrix or array, in C, keeping all attributes of
#' `x`.  It gives what base R gives (including the "NaNs produced"
#' warning): a double result, except `abs()` of an integer or logical
#' vector, which is integer.  The cumulative functions `cumsum()`,
#' `cummax()` and `cummin()` of integer or logical vectors are integer
#' (`cumsum()` warns and gives `NA` from an integer overflow on, as base
#' R does), `cumprod()` is always double, and like base R they keep only
#' the names of `x`.  An answer with at least
#' `getOption("Rfmalloc.threshold", 1e5)` elements is an uncommitted
#' fmalloc vector in the runtime of `x`; a shorter one is an ordinary R
#' vector.  Other input (a classed object other than `"fmalloc"`,
#' complex numbers, `round()` or `signif()` of integers) is handed to
#' base R.
#'
#' @param x A numeric or logical vector, matrix or array.
#' @param fun One of `"sqrt"`, `"exp"`, `"log"`, `"abs"`, `"floor"`,
#'   `"ceiling"`, `"round"`, `"signif"`, `"sin"`, `"cos"`, `"tan"`,
#'   `"trunc"`, `"log2"`, `"log10"`, `"log1p"`, `"expm1"`, `"sign"`,
#'   `"cumsum"`, `"cumprod"`, `"cummax"`, `"cummin"`.
#' @param digits For `"round"` (default 0) and `"signif"` (default 6).
#' @param base For `"log"`: the base of the logarithm.
#' @inheritParams fmalloc_ops
#' @return The result, with the attributes of `x`.
#' @seealso [fmalloc_ops()].
#' @examples
#' rt <- open_fmalloc(tempdir(), mode = "scratch")
#' old <- options(Rfmalloc.threshold = 4)
#' x <- as_fmalloc(c(1, 4, 9, 16.5), runtime = rt)
#' s <- fmalloc_math(x, "sqrt")
#' s
#' is_fmalloc(s)
#' fmalloc_math(x, "round", digits = 1)
#' fmalloc_math(x, "log", base = 2)
#' fmalloc_math(x, "cumsum")
#' options(old)
#' @export
fmalloc_math <- function(x, fun, digits = NULL, base = exp(1),
                         runtime = NULL) {
  ans <- math_try(x, fun, digits, base, runtime)
  if (!is.null(ans)) {
    return(ans)
  }
  switch(fun,
         log = log(x, base),
         round = round(x, if (is.null(digits)) 0 else digits),
         signif = signif(x, if (is.null(digits)) 6 else digits),
         get(fun, envir = baseenv(), mode = "function")(x))
}

# fun(x) computed in C, or NULL if base R must do it.
math_try <- function(x, fun, digits, base, runtime) {
  code <- match(fun, math_codes)
  if (!is.character(fun) || length(fun) != 1L ||
      is.na(code) && !fun %in% cum_codes) {
    stop("'fun' must be one of ",
         paste0('"', c(math_codes, cum_codes), '"', collapse = ", "),
         call. = FALSE)
  }
  if (is.na(code)) {
    if (!plain_numeric(x)) {
      return(NULL)
    }
    return(finish(.Call(C_rfm_cum, match(fun, cum_codes), x, cum_na_wins(),
                        result_runtime(runtime, x))))
  }
  if (is.null(digits)) {
    digits <- if (fun == "signif") 6 else 0
  }
  arg <- switch(fun, log = base, round = digits, signif = digits, NULL)
  if (!plain_numeric(x) || length(arg) > 1L ||
      !(is.null(arg) || is.numeric(arg) || is.logical(arg))) {
    return(NULL)
  }
  finish(.Call(C_rfm_math, code, x, arg, result_runtime(runtime, x)))
}

#' S3 classes of fmalloc vectors: operators and Math functions
#'
#' The fmalloc vectors users get (from [create_fmalloc_vector()],
#' [as_fmalloc()], [fmalloc_load()], `readRDS()` of a reference, and the
#' results of the methods here) have the class
#' `c("fmalloc_vector", "fmalloc")`, `c("fmalloc_matrix", "fmalloc")` or
#' `c("fmalloc_array", "fmalloc")`, so that R's operators (`+`, `-`,
#' `*`, `/`, `^`, `%%`, `%/%`, `==`, `!=`, `<`, `<=`, `>`, `>=`, `&`,
#' `|`, `!`), the Math functions listed in [fmalloc_math()] (including
#' `round(x, digits)`, `signif(x, digits)`, `log(x, base)` and the
#' cumulative functions) are computed in C by [fmalloc_ops()] and
#' [fmalloc_math()]: an answer at least
#' `getOption("Rfmalloc.threshold", 1e5)` long is an fmalloc vector with
#' the class, in the runtime of the operand (or the scratch runtime when
#' that one cannot take new vectors), a shorter one an ordinary R vector
#' without it.  Everything else (character and complex operands, ...)
#' goes to base R's methods and gives ordinary R results.  `unclass()`
#' or `as.vector()` give the plain values, identical to what base R
#' computes.
#'
#' `fmalloc_class(x)` gives a numeric or logical vector the class: an
#' fmalloc vector made with `options(Rfmalloc.class = FALSE)` its default
#' class, an ordinary R vector the class `"fmalloc"` (its operators then
#' run in C too, with ordinary results).
#'
#' @param x A numeric or logical vector, matrix or array.
#' @return `x` with the class.
#' @examples
#' rt <- open_fmalloc(tempdir(), mode = "scratch")
#' old <- options(Rfmalloc.threshold = 4)
#' x <- as_fmalloc(c(1, 4, 9, 16), runtime = rt)
#' class(x)
#' y <- sqrt(x) + 1
#' is_fmalloc(y)
#' unclass(y)
#' unclass(round(x / 3, 2))
#' x > 5
#' options(old)
#' @export
fmalloc_class <- function(x) {
  if (!(is.numeric(x) || is.logical(x)) ||
      is.object(x) && !all(oldClass(x) %in% fm_classes)) {
    stop("'x' must be a numeric or logical vector without a class",
         call. = FALSE)
  }
  if (is_fmalloc(x)) {
    old <- options(Rfmalloc.class = TRUE)
    on.exit(options(old))
    return(finish(x))
  }
  if (!inherits(x, "fmalloc")) {
    class(x) <- "fmalloc"
  }
  x
}

#' @rdname fmalloc_class
#' @param e1,e2 Operands.
#' @export
Ops.fmalloc <- function(e1, e2) {
  # straight to C: an R helper holding the operands would leave R
  # counting references to them (and copying before assignments)
  ans <- if (nargs() == 1L) .Call(C_rfm_ops_method, .Generic, e1, NULL, TRUE)
         else .Call(C_rfm_ops_method, .Generic, e1, e2, FALSE)
  if (is.null(ans)) {
    ans <- .Call(C_rfm_finish, NextMethod(), FALSE)
  }
  ans
}

#' @rdname fmalloc_class
#' @param ... For `round()` and `signif()`, the digits; for `log()`, the
#'   base.
#' @export
Math.fmalloc <- function(x, ...) {
  ans <- if (...length() == 0L) .Call(C_rfm_math_method, .Generic, x, NULL)
         else if (...length() == 1L) .Call(C_rfm_math_method, .Generic, x, ..1)
  if (is.null(ans)) {
    ans <- .Call(C_rfm_finish, NextMethod(), FALSE)
  }
  ans
}

`%||%` <- function(a, b) if (is.null(a)) b else a

# colSums (WHAT 0), colMeans (1), rowSums (2) or rowMeans (3) of the
# array X over its first DIMS dimensions, computed in C and named and
# shaped as base R does; NULL when base R must do it.
colsums <- function(x, what, na.rm, dims, runtime) {
  if (!plain_numeric(x) || !is.array(x) || length(dim(x)) < 2L) {
    return(NULL)
  }
  d <- dim(x)
  if (!is.numeric(dims) || length(dims) != 1L || is.na(dims) ||
      dims < 1 || dims > length(d) - 1L) {
    stop("invalid 'dims'", call. = FALSE)
  }
  id <- seq_len(dims)
  nr <- prod(d[id])
  nc <- prod(d[-id])
  z <- .Call(C_rfm_colsums, x, what, isTRUE(na.rm), nr, nc,
             result_runtime(runtime, x))
  if (is.null(z)) {
    return(NULL)
  }
  keep <- if (what < 2L) -id else id
  dn <- dimnames(x)
  if (length(d[keep]) > 1L) {
    dim(z) <- d[keep]
    if (!is.null(dn)) {
      dimnames(z) <- dn[keep]
    }
  } else if (!is.null(dn)) {
    names(z) <- dn[[if (what < 2L) dims + 1L else 1L]]
  }
  finish(z)
}

#' Row and column sums and means of fmalloc matrices
#'
#' Like [colSums()], [colMeans()], [rowSums()] and [rowMeans()], computed
#' in C over the mapped memory of a numeric or logical matrix or array.
#' The result is a double vector named by the matching `dimnames` (for
#' an array whose kept dimensions are more than one, an array with those
#' dimensions and dimnames, as base R gives); it is an fmalloc vector of
#' the runtime of `x` when it has at least
#' `getOption("Rfmalloc.threshold", 1e5)` elements.  Anything else (a
#' data frame, a complex matrix) is passed to the base function.
#'
#' @param x A numeric or logical matrix or array (fmalloc or not).
#' @param na.rm If `TRUE`, missing values are left out.
#' @param dims Which dimensions are the "rows": the sums or means are
#'   over dimensions `dims + 1, ...` for `rowSums` and `rowMeans`, over
#'   dimensions `1:dims` for `colSums` and `colMeans`.
#' @inheritParams fmalloc_ops
#' @return A double vector.
#' @examples
#' rt <- open_fmalloc(tempdir(), mode = "scratch")
#' m <- create_fmalloc_matrix("double", 3, 2, runtime = rt,
#'                            dimnames = list(c("a", "b", "c"), NULL))
#' m[] <- c(1, NA, 3, 4, 5, 6)
#' fmalloc_colSums(m)
#' fmalloc_rowMeans(m, na.rm = TRUE)
#' a <- as_fmalloc(array(1:24, dim = c(2, 3, 4)), runtime = rt)
#' fmalloc_colSums(a)            # a 3 x 4 matrix
#' fmalloc_rowSums(a, dims = 2)  # a 2 x 3 matrix
#' @export
fmalloc_colSums <- function(x, na.rm = FALSE, dims = 1L, runtime = NULL) {
  colsums(x, 0L, na.rm, dims, runtime) %||%
    colSums(x, na.rm = na.rm, dims = dims)
}

#' @rdname fmalloc_colSums
#' @export
fmalloc_colMeans <- function(x, na.rm = FALSE, dims = 1L,
                             runtime = NULL) {
  colsums(x, 1L, na.rm, dims, runtime) %||%
    colMeans(x, na.rm = na.rm, dims = dims)
}

#' @rdname fmalloc_colSums
#' @export
fmalloc_rowSums <- function(x, na.rm = FALSE, dims = 1L, runtime = NULL) {
  colsums(x, 2L, na.rm, dims, runtime) %||%
    rowSums(x, na.rm = na.rm, dims = dims)
}

#' @rdname fmalloc_colSums
#' @export
fmalloc_rowMeans <- function(x, na.rm = FALSE, dims = 1L,
                             runtime = NULL) {
  colsums(x, 3L, na.rm, dims, runtime) %||%
    rowMeans(x, na.rm = na.rm, dims = dims)
}
