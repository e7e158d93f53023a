test_that("every atomic type round-trips values and NA", {
  rt <- open_fmalloc(heap_dir(), mode = "scratch")
  vals <- list(
    logical = c(TRUE, FALSE, NA),
    integer = c(1L, NA, -5L, .Machine$integer.max),
    double = c(1.5, NA, NaN, Inf, -Inf, 0),
    complex = c(1 + 2i, NA, 0i),
    raw = as.raw(c(0, 1, 255)),
    character = c("a", NA, "", "caf\u00e9")
  )
  for (t in names(vals)) {
    v <- create_fmalloc_vector(t, length(vals[[t]]), runtime = rt)
    expect_true(is_fmalloc(v))
    expect_same(typeof(v), typeof(vals[[t]]))
    for (i in seq_along(vals[[t]])) v[i] <- vals[[t]][i]
    expect_same(v[], vals[[t]])
    expect_same(as_fmalloc(vals[[t]], runtime = rt)[], vals[[t]])
  }
  expect_same(typeof(create_fmalloc_vector("numeric", 2, runtime = rt)),
                   "double")
  cleanup_fmalloc(rt)
})

test_that("zero_initialize gives zeros", {
  rt <- open_fmalloc(heap_dir(), mode = "scratch")
  expect_same(create_fmalloc_vector("integer", 3, runtime = rt)[],
                   integer(3))
  expect_same(create_fmalloc_vector("double", 3, runtime = rt)[],
                   double(3))
  expect_same(create_fmalloc_vector("character", 3, runtime = rt)[],
                   character(3))
  expect_length(create_fmalloc_vector("double", 3, runtime = rt,
                                      zero_initialize = FALSE), 3)
  expect_length(create_fmalloc_vector("double", 0, runtime = rt), 0)
  cleanup_fmalloc(rt)
})

test_that("encodings are kept", {
  rt <- open_fmalloc(heap_dir(), mode = "scratch")
  utf8 <- "caf\u00e9"
  latin1 <- iconv(utf8, "UTF-8", "latin1")
  bytes <- "\xff\xfe"
  Encoding(bytes) <- "bytes"
  x <- as_fmalloc(c(utf8, latin1, bytes, "ascii"), runtime = rt)
  expect_same(Encoding(x), c("UTF-8", "latin1", "bytes", "unknown"))
  expect_same(x[1], utf8)
  expect_same(x[2], latin1)
  expect_same(charToRaw(x[3]), as.raw(c(0xff, 0xfe)))
  cleanup_fmalloc(rt)
})

test_that("character vectors grow when written", {
  rt <- open_fmalloc(heap_dir(), mode = "scratch")
  x <- create_fmalloc_vector("character", 50, runtime = rt)
  long <- strrep("x", 1000)
  for (i in 1:50) x[i] <- paste0(long, i)
  expect_true(is_fmalloc(x))
  expect_same(x[], paste0(long, 1:50))
  x[3] <- NA
  expect_true(is.na(x[3]))
  x[3] <- "short"
  expect_same(x[3], "short")
  expect_same(sort(x)[2], paste0(long, 1))
  cleanup_fmalloc(rt)
})

test_that("matrices and arrays have dims and dimnames", {
  rt <- open_fmalloc(heap_dir(), mode = "scratch")
  m <- create_fmalloc_matrix("double", 2, 3,
                             dimnames = list(c("a", "b"), NULL),
                             runtime = rt)
  expect_true(is_fmalloc(m))
  expect_same(dim(m), c(2L, 3L))
  expect_same(rownames(m), c("a", "b"))
  m[] <- 1:6
  expect_equal(colSums(m), c(3, 7, 11))
  a <- create_fmalloc_array("integer", c(2, 3, 4), runtime = rt)
  expect_same(dim(a), c(2L, 3L, 4L))
  a[2, 3, 4] <- 9L
  expect_same(a[24], 9L)
  expect_true(is_fmalloc(a))
  cleanup_fmalloc(rt)
})

test_that("bad arguments give clear errors", {
  rt <- open_fmalloc(heap_dir(), mode = "scratch")
  expect_error(create_fmalloc_vector("float", 3, runtime = rt), "'type'")
  expect_error(create_fmalloc_vector(1, 3, runtime = rt), "'type'")
  expect_error(create_fmalloc_vector("integer", -1, runtime = rt),
               "'length'")
  expect_error(create_fmalloc_vector("integer", NA, runtime = rt),
               "'length'")
  expect_error(create_fmalloc_vector("integer", "3", runtime = rt),
               "'length'")
  expect_error(create_fmalloc_vector("integer", 1.5, runtime = rt),
               "'length'")
  expect_error(create_fmalloc_vector("integer", c(1, 2), runtime = rt),
               "'length'")
  expect_error(create_fmalloc_vector("integer", 3, runtime = "x"),
               "fmalloc runtime")
  expect_error(create_fmalloc_matrix("integer", -1, 2, runtime = rt),
               "'nrow'")
  expect_error(create_fmalloc_array("integer", c(2, NA), runtime = rt),
               "'dim'")
  cleanup_fmalloc(rt)
  expect_error(create_fmalloc_vector("integer", 3, runtime = rt), "closed")
})

test_that("writes after sum() do not copy the vector", {
  rt <- open_fmalloc(heap_file())
  x <- create_fmalloc_vector("double", 2e5, runtime = rt)
  fmalloc_save(x, "big")
  id <- vec_info(x)$id
  s <- sum(x)
  x[5] <- 1
  expect_true(vec_info(x)$committed)
  expect_same(vec_info(x)$id, id)
  expect_same(fmalloc_load("big", runtime = rt)[5], 1)
  fmalloc_destroy(x)
  cleanup_fmalloc(rt)
})

test_that("duplicates above the threshold stay file-backed", {
  rt <- open_fmalloc(heap_dir(), mode = "scratch")
  old <- options(Rfmalloc.threshold = 10)
  on.exit(options(old))
  x <- as_fmalloc(as.double(1:100), runtime = rt)
  y <- x
  y[1] <- 0
  expect_true(is_fmalloc(y))
  expect_same(x[1], 1)
  s <- as_fmalloc(as.character(1:100), runtime = rt)
  t <- s
  t[1] <- "zero"
  expect_true(is_fmalloc(t))
  expect_same(s[1], "1")
  expect_same(t[1:2], c("zero", "2"))
  small <- as_fmalloc(1:5, runtime = rt)
  z <- small
  z[1] <- 0L
  expect_false(is_fmalloc(z))
  cleanup_fmalloc(rt)
})
