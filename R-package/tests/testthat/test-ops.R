# Summary methods, fmalloc_ops(), fmalloc_math(), the reducers and the
# "fmalloc" S3 class, each compared with base R.

# base R's result and warning messages of calling F
with_warnings <- function(f) {
  msgs <- character()
  val <- tryCatch(withCallingHandlers(f(), warning = function(w) {
    msgs <<- c(msgs, conditionMessage(w))
    invokeRestart("muffleWarning")
  }), error = function(e) structure(conditionMessage(e), class = "err"))
  list(val = val, warnings = msgs)
}

expect_same_as_base <- function(got, want, info) {
  expect_same(got$warnings, want$warnings, info = info)
  if (inherits(want$val, "err")) {
    expect_s3_class(got$val, "err")
  } else {
    expect_same(got$val[], want$val, info = info)
    expect_same(attributes(drop_fm_class(got$val)), attributes(want$val),
                info = info)
  }
}

test_that("sum, min and max of fmalloc vectors match base R", {
  rt <- open_fmalloc(heap_dir(), mode = "scratch")
  imax <- .Machine$integer.max
  cases <- list(
    c(1.5, NA, NaN, Inf, -Inf, 0, -0, -2.5, 7, 1e308, 1e308, -3),
    c(1.5, NaN, 3), c(NaN, NA), c(NA, NaN), c(Inf, -Inf), c(-0, -0),
    c(1e308, 1e308, -1e308), numeric(0), c(NA_real_, NA_real_),
    c(1L, NA, 5L, -7L, 0L, imax, -imax, 3L), 1:100, integer(0),
    c(NA_integer_, NA_integer_), c(imax, 1L), c(-imax, -1L), c(imax, imax)
  )
  for (v in cases) {
    f <- as_fmalloc(v, runtime = rt)
    for (fn in c("sum", "min", "max")) {
      fun <- get(fn, baseenv())
      for (narm in c(FALSE, TRUE)) {
        info <- paste(fn, deparse(v), narm)
        expect_same_as_base(with_warnings(function() fun(f, na.rm = narm)),
                            with_warnings(function() fun(v, na.rm = narm)),
                            info)
      }
    }
    expect_same(mean(f), mean(v))
  }
})

test_that("the Sum method is used (no copy out of the heap)", {
  rt <- open_fmalloc(heap_dir(), mode = "scratch")
  f <- create_fmalloc_vector("double", 1e6, runtime = rt)
  f[] <- 0.25
  expect_same(sum(f), 250000)
  expect_same(max(f), 0.25)
  i <- as_fmalloc(rep(2L, 1e6), runtime = rt)
  expect_same(sum(i), 2000000L)
  expect_same(min(i), 2L)
  f[7] <- NA
  expect_same(sum(f), NA_real_)
  expect_same(sum(f, na.rm = TRUE), 249999.75)
})

ops <- c("+", "-", "*", "/", "^", "%%", "%/%",
         "==", "!=", "<", "<=", ">", ">=", "&", "|")

operands <- function() {
  imax <- .Machine$integer.max
  list(
    dbl = c(a = 1.5, b = NA, c = NaN, d = Inf, e = -Inf, f = 0, g = -0,
            h = -2.5, i = 7, j = 1e300, k = 5, l = -3),
    int = c(1L, NA, 5L, -7L, 0L, imax, -imax, 3L, 2L, -1L, 4L, 6L),
    lgl = c(TRUE, NA, FALSE, TRUE, TRUE, FALSE, NA, TRUE, FALSE, TRUE,
            TRUE, FALSE),
    s = 2, s0 = 0L, sna = NA_real_, snai = NA_integer_,
    mat = matrix(c(1:11, NA), 3, 4, dimnames = list(letters[1:3], NULL)),
    short = c(2.5, -1, 0, NA, 3),
    empty = numeric(0),
    attrs = structure(c(1, 2, 3), foo = "bar", names = c("x", "y", "z")),
    neg = c(-5L, 5L, -3L, 7L, 0L, -1L)
  )
}

test_that("fmalloc_ops() matches base R on values, attributes, warnings", {
  rt <- open_fmalloc(heap_dir(), mode = "scratch")
  old <- options(Rfmalloc.threshold = 3)
  on.exit(options(old))
  vals <- operands()
  fm <- lapply(vals, as_fmalloc, runtime = rt)
  for (op in ops) {
    f <- get(op, baseenv())
    for (a in names(vals)) for (b in names(vals)) {
      info <- paste(a, op, b)
      want <- with_warnings(function() f(vals[[a]], vals[[b]]))
      expect_same_as_base(
        with_warnings(function() fmalloc_ops(fm[[a]], op, vals[[b]])),
        want, info)
      expect_same_as_base(
        with_warnings(function() fmalloc_ops(vals[[a]], op, fm[[b]])),
        want, paste(info, "(e2 fmalloc)"))
    }
  }
  for (a in names(vals)) {
    expect_same(fmalloc_ops(fm[[a]], "-")[], -vals[[a]], info = a)
    expect_same(fmalloc_ops(fm[[a]], "+")[], +vals[[a]], info = a)
    got <- fmalloc_ops(fm[[a]], "!")
    expect_same(got[], !vals[[a]], info = a)
    expect_same(attributes(drop_fm_class(got)), attributes(!vals[[a]]), info = a)
  }
  # logical operands keep all their attributes under !
  l <- structure(c(TRUE, NA, FALSE), foo = "bar", names = c("u", "v", "w"))
  expect_same(fmalloc_ops(as_fmalloc(l, runtime = rt), "!"), !l)
})

test_that("results are file-backed above the threshold only", {
  rt <- open_fmalloc(heap_dir(), mode = "scratch")
  old <- options(Rfmalloc.threshold = 10)
  on.exit(options(old))
  x <- as_fmalloc(as.double(1:20), runtime = rt)
  y <- fmalloc_ops(x, "*", 2)
  expect_true(is_fmalloc(y))
  expect_same(fmalloc_runtime_of(y), rt)
  expect_false(vec_info(y)$committed)
  expect_false(is_fmalloc(fmalloc_ops(x[1:5], "*", 2)))
  expect_true(is_fmalloc(fmalloc_ops(x, ">", 3)))
  expect_false(is_fmalloc(fmalloc_ops(1:20, "+", 1L)))
  expect_true(is_fmalloc(fmalloc_ops(1:20, "+", 1L, runtime = rt)))
  expect_same(fmalloc_ops(x, "+", 1)[], as.double(2:21))
  # the operand is not modified in place
  expect_same(x[], as.double(1:20))
})

test_that("fmalloc_ops() errors and falls back as base R does", {
  rt <- open_fmalloc(heap_dir(), mode = "scratch")
  old <- options(Rfmalloc.threshold = 3)
  on.exit(options(old))
  m <- as_fmalloc(matrix(1:6, 2), runtime = rt)
  expect_error(fmalloc_ops(m, "+", matrix(1:6, 3)), "non-conformable")
  expect_error(fmalloc_ops(m, "+", 1:7), "dims")
  expect_error(fmalloc_ops(m, "%in%"), "'op' must be one of")
  expect_error(fmalloc_ops(m, "!", 1), "takes one operand")
  expect_error(fmalloc_ops(m, "&"), "needs two operands")
  r <- as_fmalloc(as.raw(c(1, 6)), runtime = rt)
  expect_same(fmalloc_ops(r, "&", as.raw(3)), as.raw(c(1, 6)) & as.raw(3))
  expect_error(fmalloc_ops(m, "*"), "needs two operands")
  s <- as_fmalloc(c("b", "a", "c"), runtime = rt)
  expect_same(fmalloc_ops(s, "<", "b"), c("b", "a", "c") < "b")
  z <- as_fmalloc(complex(real = 1:3, imaginary = 1), runtime = rt)
  expect_same(fmalloc_ops(z, "*", 2i), complex(real = 1:3, imaginary = 1) * 2i)
  fc <- factor(c("a", "b"))
  expect_warning(r <- fmalloc_ops(fc, "+", 1), "not meaningful")
  expect_same(r, rep(NA, 2))
})

test_that("fmalloc_math() matches base R", {
  rt <- open_fmalloc(heap_dir(), mode = "scratch")
  old <- options(Rfmalloc.threshold = 3)
  on.exit(options(old))
  vals <- operands()
  imax <- .Machine$integer.max
  vals <- c(vals, list(
    lead_na = c(NA, 1L, 5L, 2L), lead_nan = c(NaN, NA, 1), na_nan = c(NA, NaN, 2),
    nan_na = c(3, NaN, NA, 1), ovf = c(a = imax, b = 1L, c = 2L),
    under = c(-imax, -1L), lgl_na = c(TRUE, TRUE, NA, TRUE),
    desc = c(5, 3, 4, 1, 2), big = c(1e308, 1e308, -1e308)))
  funs <- c("sqrt", "exp", "log", "abs", "floor", "ceiling", "round",
            "signif", "sin", "cos", "tan", "trunc", "log2", "log10",
            "log1p", "expm1", "sign", "cumsum", "cumprod", "cummax", "cummin")
  for (fn in funs) {
    f <- get(fn, baseenv())
    for (a in names(vals)) {
      fm <- as_fmalloc(vals[[a]], runtime = rt)
      expect_same_as_base(with_warnings(function() fmalloc_math(fm, fn)),
                          with_warnings(function() f(vals[[a]])),
                          paste(fn, a))
    }
  }
  d <- vals$dbl * 1.23456
  fd <- as_fmalloc(d, runtime = rt)
  expect_same(fmalloc_math(fd, "round", digits = 2)[], round(d, 2))
  expect_same(fmalloc_math(fd, "round", digits = -1)[], round(d, -1))
  expect_same(fmalloc_math(fd, "signif", digits = 3)[], signif(d, 3))
  expect_same(suppressWarnings(fmalloc_math(fd, "log", base = 3)[]),
                   suppressWarnings(log(d, 3)))
  expect_same(suppressWarnings(fmalloc_math(fd, "log", base = 10)[]),
                   suppressWarnings(log(d, 10)))
  expect_same(fmalloc_math(as_fmalloc(1:5, runtime = rt), "round", 1),
                   round(1:5, 1))
  expect_true(is_fmalloc(fmalloc_math(abs(fd[c(1, 4:12)]), "sqrt")))
  expect_error(fmalloc_math(fd, "cumall"), "'fun' must be one of")
  expect_true(is_fmalloc(fmalloc_math(fd, "cumsum")))
  expect_false(vec_info(fmalloc_math(fd, "cummax"))$committed)
})

test_that("row and column sums and means match base R", {
  rt <- open_fmalloc(heap_dir(), mode = "scratch")
  old <- options(Rfmalloc.threshold = 3)
  on.exit(options(old))
  mats <- list(
    matrix(c(1.5, NA, NaN, 4, 5, 6, Inf, 8, 9, 10, 11, 12), 4, 3,
           dimnames = list(letters[1:4], LETTERS[1:3])),
    matrix(c(1:5, NA, 7:12), 4, 3),
    matrix(c(TRUE, NA, FALSE, TRUE, TRUE, FALSE), 2, 3),
    matrix(numeric(0), 0, 3), matrix(numeric(0), 3, 0)
  )
  for (m in mats) for (narm in c(FALSE, TRUE)) {
    f <- as_fmalloc(m, runtime = rt)
    expect_same(fmalloc_colSums(f, na.rm = narm)[],
                     colSums(m, na.rm = narm))
    expect_same(fmalloc_colMeans(f, na.rm = narm)[],
                     colMeans(m, na.rm = narm))
    expect_same(fmalloc_rowSums(f, na.rm = narm)[],
                     rowSums(m, na.rm = narm))
    expect_same(fmalloc_rowMeans(f, na.rm = narm)[],
                     rowMeans(m, na.rm = narm))
  }
  big <- as_fmalloc(matrix(as.double(1:20), 5), runtime = rt)
  expect_true(is_fmalloc(fmalloc_rowSums(big)))
  expect_false(is_fmalloc(fmalloc_colSums(big[1:5, 1:2])))
  expect_error(fmalloc_colSums(1:3), "at least two dimensions")
  a <- array(1:24, 2:4)
  expect_same(fmalloc_colSums(a), colSums(a))
  arrays <- list(
    array(c(1.5, NA, 3:24), 2:4,
          dimnames = list(c("a", "b"), c("x", "y", "z"), NULL)),
    array(c(1:23, NA), c(2, 3, 2, 2),
          dimnames = list(NULL, letters[1:3], LETTERS[1:2], c("p", "q"))),
    array(c(TRUE, FALSE, NA), c(3, 1, 2)))
  for (x in arrays) for (d in seq_len(length(dim(x)) - 1L))
    for (narm in c(FALSE, TRUE)) {
      f <- as_fmalloc(x, runtime = rt)
      info <- paste(deparse(dim(x)), d, narm)
      expect_same(fmalloc_colSums(f, narm, dims = d)[] |> c(),
                       c(colSums(x, narm, dims = d)), info = info)
      expect_same(attributes(drop_fm_class(fmalloc_colSums(f, narm, dims = d))),
                       attributes(colSums(x, narm, dims = d)), info = info)
      expect_same(fmalloc_colMeans(f, narm, dims = d),
                       colMeans(x, narm, dims = d), info = info)
      expect_same(fmalloc_rowSums(f, narm, dims = d),
                       rowSums(x, narm, dims = d), info = info)
      expect_same(fmalloc_rowMeans(f, narm, dims = d),
                       rowMeans(x, narm, dims = d), info = info)
    }
  expect_error(fmalloc_colSums(as_fmalloc(a, runtime = rt), dims = 3),
               "invalid 'dims'")
  expect_error(fmalloc_rowSums(as_fmalloc(a, runtime = rt), dims = 0),
               "invalid 'dims'")
  # large enough: the answer is an fmalloc array of the runtime
  g <- as_fmalloc(array(as.double(1:40), c(2, 5, 4)), runtime = rt)
  s <- fmalloc_colSums(g)
  expect_true(is_fmalloc(s))
  expect_same(dim(s), c(5L, 4L))
  expect_same(s[], colSums(array(as.double(1:40), c(2, 5, 4))))
})

test_that("the fmalloc class routes Ops and Math to C", {
  rt <- open_fmalloc(heap_dir(), mode = "scratch")
  old <- options(Rfmalloc.threshold = 3)
  on.exit(options(old))
  v <- c(a = 1, b = 4, c = NA, d = 16)
  x <- fmalloc_class(as_fmalloc(v, runtime = rt))
  expect_s3_class(x, "fmalloc")
  y <- x + 1
  expect_s3_class(y, "fmalloc")
  expect_true(is_fmalloc(y))
  expect_same(unclass(y), v + 1)
  expect_same(unclass(-x), -v)
  expect_same(unclass(sqrt(x)), sqrt(v))
  expect_same(unclass(round(x / 3, 2)), round(v / 3, 2))
  expect_same(unclass(log(x, 2)), log(v, 2))
  expect_same(x > 2, v > 2)
  expect_same(unclass(2 ^ x), 2 ^ v)
  expect_same(unclass(cumsum(x[c(1, 2, 4)])), cumsum(v[c(1, 2, 4)]))
  expect_same(!fmalloc_class(c(TRUE, FALSE)),
                   structure(c(FALSE, TRUE), class = "fmalloc"))
  expect_output(print(x), "16")
  expect_error(fmalloc_class("a"), "numeric or logical")
})

test_that("the Summary group and summaries give base R's answers", {
  rt <- open_fmalloc(heap_dir(), mode = "scratch")
  vals <- list(c(1.5, 5, NA, 3, -2), c(4L, NA, -7L, 2L), c(TRUE, NA, FALSE),
               c(2, NaN, 1), numeric(0))
  for (v in vals) {
    f <- as_fmalloc(v, runtime = rt)
    for (x in list(f, if (is.numeric(v) || is.logical(v)) fmalloc_class(f)))
      for (narm in c(FALSE, TRUE)) {
        info <- paste(deparse(v), narm, class(x))
        for (fn in c("sum", "prod", "min", "max", "range", "any", "all")) {
          if (fn %in% c("any", "all") && !is.logical(v)) next
          g <- get(fn, baseenv())
          want <- suppressWarnings(g(v, na.rm = narm))
          got <- suppressWarnings(g(x, na.rm = narm))
          expect_same(unclass(got), want, info = paste(fn, info))
        }
      }
    if (length(v) && is.numeric(v)) {
      expect_same(median(f, na.rm = TRUE), median(v, na.rm = TRUE))
      expect_same(quantile(f, na.rm = TRUE), quantile(v, na.rm = TRUE))
      expect_same(summary(f), summary(v))
    }
  }
})
