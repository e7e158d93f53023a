test_that("subsets above the threshold are file-backed and correct", {
  rt <- open_fmalloc(heap_dir(), mode = "scratch")
  old <- options(Rfmalloc.threshold = 5)
  on.exit(options(old))
  vals <- list(
    lgl = c(TRUE, NA, FALSE, TRUE, FALSE, TRUE, NA, FALSE),
    int = c(1:7, NA),
    dbl = c(1.5, NA, 3, 4, 5, 6, 7, 8),
    cpl = complex(real = 1:8, imaginary = 8:1),
    raw = as.raw(1:8),
    chr = c("a", NA, "caf\u00e9", "d", "e", "f", "g", "h")
  )
  idx <- list(c(8, 1, 2, 2, 3, 4), c(8L, NA, 1L, 9L, 3L, 2L),
              c(-1, -2), c(TRUE, FALSE), 8:1)
  for (nm in names(vals)) {
    x <- as_fmalloc(vals[[nm]], runtime = rt)
    for (i in idx) {
      got <- x[i]
      expect_same(got, vals[[nm]][i], info = nm)
      if (length(got) >= 5) expect_true(is_fmalloc(got), info = nm)
    }
    expect_false(is_fmalloc(x[1:2]))
  }
  named <- as_fmalloc(c(a = 1, b = 2, c = 3, d = 4, e = 5, f = 6),
                      runtime = rt)
  expect_same(named[6:1], c(f = 6, e = 5, d = 4, c = 3, b = 2, a = 1))
})

test_that("coercion above the threshold is file-backed", {
  rt <- open_fmalloc(heap_dir(), mode = "scratch")
  old <- options(Rfmalloc.threshold = 5)
  on.exit(options(old))
  x <- as_fmalloc(c(1:9, NA), runtime = rt)
  d <- as.double(x)
  expect_same(d, as.double(c(1:9, NA)))
  expect_true(is_fmalloc(d))
  l <- as_fmalloc(c(TRUE, FALSE, NA, TRUE, TRUE, FALSE), runtime = rt)
  expect_same(as.integer(l), c(1L, 0L, NA, 1L, 1L, 0L))
  expect_same(as.character(x), as.character(c(1:9, NA)))
  # every coercion between logical, integer and double, against base R
  vals <- list(
    lgl = c(TRUE, FALSE, NA, TRUE, TRUE, FALSE),
    int = c(0L, -3L, NA, 7L, .Machine$integer.max, -.Machine$integer.max),
    dbl = c(1.9, -2.7, NA, NaN, 0, -0, 3e9, -3e9, 2147483647.5,
            -2147483648, Inf, -Inf, 1e-300))
  to <- list(logical = as.logical, integer = as.integer, double = as.double)
  for (a in names(vals)) for (b in names(to)) {
    f <- as_fmalloc(vals[[a]], runtime = rt)
    w1 <- w2 <- character()
    got <- withCallingHandlers(to[[b]](f), warning = function(w) {
      w1 <<- c(w1, conditionMessage(w))
      invokeRestart("muffleWarning")
    })
    want <- withCallingHandlers(to[[b]](vals[[a]]), warning = function(w) {
      w2 <<- c(w2, conditionMessage(w))
      invokeRestart("muffleWarning")
    })
    info <- paste(a, "to", b)
    expect_same(got, want, info = info)
    expect_same(w1, w2, info = info)
    if (typeof(vals[[a]]) != b) {
      expect_true(is_fmalloc(got), info = info)
    }
  }
  # storage.mode<- keeps names and dim
  m <- as_fmalloc(matrix(c(1:5, NA), 2, dimnames = list(c("a", "b"), NULL)),
                  runtime = rt)
  storage.mode(m) <- "double"
  expect_same(m, matrix(as.double(c(1:5, NA)), 2,
                             dimnames = list(c("a", "b"), NULL)))
})

test_that("a second process reads a locked heap read-only", {
  path <- heap_file()
  rds <- tempfile(fileext = ".rds")
  rt <- open_fmalloc(path)
  x <- as_fmalloc(as.double(1:10), runtime = rt)
  saveRDS(x, rds)
  got <- in_fresh_r(function(rds) {
    v <- readRDS(rds)
    rt <- Rfmalloc::fmalloc_runtime_of(v)
    v2 <- v
    v2[1] <- 100
    list(v = v[], sum = sum(v), ro = Rfmalloc::diagnose_fmalloc_runtime(rt)$summary$readonly,
         v2 = v2[1], v1 = v[1])
  }, list(rds = rds))
  expect_same(got$v, as.double(1:10))
  expect_equal(got$sum, 55)
  expect_true(got$ro)
  expect_same(got$v2, 100)
  expect_same(got$v1, 1)
  cleanup_fmalloc(rt)
})

test_that("the C API works from a package with LinkingTo: Rfmalloc", {
  skip_on_cran() # compiles C code
  skip_if(Sys.which("gcc") == "" && Sys.which("cc") == "", "no C compiler")
  d <- tempfile("tinyfm-")
  dir.create(file.path(d, "tinyfm", "src"), recursive = TRUE)
  dir.create(file.path(d, "tinyfm", "R"))
  dir.create(file.path(d, "lib"))
  writeLines(c("Package: tinyfm", "Version: 0.0.1", "Title: Test",
               "Description: Uses the C API of Rfmalloc.",
               "Author: test", "Maintainer: test <test@example.org>",
               "License: LGPL (>= 2.1)", "Imports: Rfmalloc",
               "LinkingTo: Rfmalloc"),
             file.path(d, "tinyfm", "DESCRIPTION"))
  writeLines(c("useDynLib(tinyfm)", "importFrom(Rfmalloc, is_fmalloc)"),
             file.path(d, "tinyfm", "NAMESPACE"))
  writeLines("tiny <- function(...) .Call(...)",
             file.path(d, "tinyfm", "R", "tiny.R"))
  writeLines(c(
    "#include <Rfmalloc.h>",
    "SEXP tiny_open(SEXP path) {",
    "  return Rfmalloc_open(CHAR(STRING_ELT(path, 0)), 1, 0);",
    "}",
    "SEXP tiny_make(SEXP rt, SEXP n) {",
    "  SEXP x = PROTECT(Rfmalloc_create(rt, REALSXP, (R_xlen_t) asReal(n)));",
    "  R_xlen_t len = 0;",
    "  double *p = Rfmalloc_payload(x, &len);",
    "  for (R_xlen_t i = 0; i < len; i++) p[i] = (double) i + 1;",
    "  UNPROTECT(1);",
    "  return x;",
    "}",
    "SEXP tiny_is(SEXP x) { return ScalarLogical(Rfmalloc_is_fmalloc(x)); }",
    "SEXP tiny_rt(SEXP x) { return Rfmalloc_runtime_of(x); }"
  ), file.path(d, "tinyfm", "src", "tiny.c"))
  lib <- file.path(d, "lib")
  out <- system2(file.path(R.home("bin"), "R"),
                 c("CMD", "INSTALL", "--no-test-load", "-l", shQuote(lib),
                   shQuote(file.path(d, "tinyfm"))),
                 stdout = TRUE, stderr = TRUE,
                 env = paste0("R_LIBS=", paste(.libPaths(), collapse = ":")))
  expect_true(file.exists(file.path(lib, "tinyfm")), info = paste(out, collapse = "\n"))
  library(tinyfm, lib.loc = lib)
  on.exit(detach("package:tinyfm", unload = TRUE), add = TRUE)
  rt <- .Call("tiny_open", heap_dir(), PACKAGE = "tinyfm")
  expect_s3_class(rt, "fmalloc_runtime")
  x <- .Call("tiny_make", rt, 10, PACKAGE = "tinyfm")
  expect_same(x[], as.double(1:10))
  expect_true(is_fmalloc(x))
  expect_true(.Call("tiny_is", x, PACKAGE = "tinyfm"))
  expect_false(.Call("tiny_is", 1:3, PACKAGE = "tinyfm"))
  expect_same(.Call("tiny_rt", x, PACKAGE = "tinyfm"), rt)
  expect_null(.Call("tiny_rt", 1, PACKAGE = "tinyfm"))
  cleanup_fmalloc(rt)
})

test_that("file-backed subsets read every kind of index as base R does", {
  old <- options(Rfmalloc.threshold = 10)
  on.exit(options(old), add = TRUE)
  rt <- open_fmalloc(heap_file(), mode = "scratch")
  on.exit(cleanup_fmalloc(rt), add = TRUE)
  n <- 50L
  bases <- list(as.numeric(1:n) / 3, 1:n, rep(c(TRUE, FALSE, NA), length.out = n),
                complex(real = 1:n, imaginary = -(1:n)), as.raw(1:n))
  idxs <- list(
    c(5L, NA, 1L, 60L, n, 2L, 2L, 3L, 4L, 7L, 9L, 11L), # int: NA, past the end
    c(5.9, NA, 1, 60, n, 2.2, 2, 3, 4, 7, 9, 11, NaN, Inf), # double
    3:40, # a compact sequence (ALTREP)
    seq(2, 40, by = 2) # double, not compact
  )
  for (b in bases) {
    x <- as_fmalloc(b, runtime = rt)
    for (i in idxs) {
      y <- x[i]
      expect_true(is_fmalloc(y))
      expect_same(y, b[i])
    }
  }
})
