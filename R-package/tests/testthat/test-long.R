# Long vectors (length > 2^31 - 1) in a persistent heap (issue 3).
#
# Needs a heap file of 3 GiB: runs only when RFMALLOC_TEST_LONG is "true"
# (tools/ci-test.sh sets it) and tempdir() has room for it.

long_free_bytes <- function(dir) {
  out <- tryCatch(system2("df", c("-Pk", shQuote(dir)), stdout = TRUE,
                          stderr = FALSE),
                  error = function(e) character(), warning = function(w) {
                    character()
                  })
  if (length(out) < 2L) return(NA_real_)
  f <- strsplit(trimws(out[length(out)]), "[[:space:]]+")[[1L]]
  avail <- suppressWarnings(as.numeric(f[4L]))
  avail * 1024
}

skip_unless_long <- function(need = 4 * 2^30) {
  if (!identical(Sys.getenv("RFMALLOC_TEST_LONG"), "true")) {
    skip(paste("long vectors need a 3 GiB heap file:",
               "set RFMALLOC_TEST_LONG=true to run"))
  }
  free <- long_free_bytes(tempdir())
  if (is.na(free) || free < need) {
    skip(sprintf("long vectors need %.1f GiB free in %s (df says %s)",
                 need / 2^30, tempdir(),
                 if (is.na(free)) "nothing" else
                   sprintf("%.1f GiB", free / 2^30)))
  }
}

test_that("a raw vector longer than 2^31 - 1 works and persists", {
  skip_unless_long()
  t0 <- Sys.time()
  d <- heap_dir()
  on.exit(unlink(d, recursive = TRUE), add = TRUE)
  path <- file.path(d, "long.fmr")
  big <- 2^31 # first index beyond the 32-bit range
  n <- big + 10
  rt <- open_fmalloc(path)
  x <- create_fmalloc_vector("raw", n, runtime = rt)
  expect_true(is_fmalloc(x))
  expect_same(length(x), n)
  expect_true(length(x) > .Machine$integer.max)

  # elements beyond 2^31, single and in a range across the boundary
  x[big + 5] <- as.raw(7)
  x[n] <- as.raw(9)
  x[1] <- as.raw(1)
  x[(big - 2):(big + 2)] <- as.raw(11:15)
  expect_true(is_fmalloc(x)) # written in place, not copied
  expect_same(x[big + 5], as.raw(7))
  expect_same(x[[big + 5]], as.raw(7))
  expect_same(x[length(x)], as.raw(9))
  expect_same(x[big + 4], as.raw(0))
  expect_same(x[(big - 3):(big + 3)], as.raw(c(0, 11:15, 0)))
  expect_same(x[c(1, big + 5)], as.raw(c(1, 7)))
  expect_same(head(x, 3), as.raw(c(1, 0, 0)))
  expect_same(tail(x, 6), as.raw(c(7, 0, 0, 0, 0, 9)))
  expect_same(x[n + 1], as.raw(0)) # out of range: 00, as for raw

  fmalloc_save(x, "long", runtime = rt)
  rds <- file.path(d, "long.rds")
  saveRDS(x, rds) # a reference, not 2 GiB of data
  expect_lt(file.size(rds), 10000)
  d1 <- diagnose_fmalloc_runtime(rt)$summary
  expect_gte(d1$used_bytes, n)
  size1 <- d1$file_size
  cleanup_fmalloc(rt)
  rm(x, rt)
  invisible(gc())

  # a fresh R process finds it by name and through the reference
  got <- in_fresh_r(function(path, rds, big) {
    rt <- Rfmalloc::open_fmalloc(path)
    y <- Rfmalloc::fmalloc_load("long", runtime = rt)
    z <- readRDS(rds)
    list(len = length(y), fm = Rfmalloc::is_fmalloc(y),
         v = y[c(1, big - 2, big + 2, big + 5, big + 10)],
         tail = tail(y, 2), z_len = length(z), z = z[big + 5])
  }, list(path = path, rds = rds, big = big))
  expect_same(got$len, n)
  expect_true(got$fm)
  expect_same(got$v, as.raw(c(1, 11, 15, 7, 9)))
  expect_same(got$tail, as.raw(c(0, 9)))
  expect_same(got$z_len, n)
  expect_same(got$z, as.raw(7))

  # destroy it: the space is free again, and a new vector as long reuses
  # it without growing the file
  rt <- open_fmalloc(path)
  fmalloc_destroy("long", runtime = rt)
  expect_error(fmalloc_load("long", runtime = rt), "no object named")
  d2 <- diagnose_fmalloc_runtime(rt)$summary
  expect_lt(d2$used_bytes, 1e6)
  expect_equal(unname(d2$records["committed"]), 0)
  cleanup_fmalloc(rt)
  rm(rt)
  invisible(gc())
  rt <- open_fmalloc(path)
  d3 <- diagnose_fmalloc_runtime(rt)$summary
  expect_lt(d3$used_bytes, 1e6)
  expect_gt(d3$largest_free, n)
  y <- create_fmalloc_vector("raw", n, runtime = rt, zero_initialize = FALSE)
  y[n] <- as.raw(3)
  expect_same(y[n], as.raw(3))
  expect_equal(diagnose_fmalloc_runtime(rt)$summary$file_size, size1)
  rm(y)
  invisible(gc())
  cleanup_fmalloc(rt)
  message(sprintf("long vector test: %.1f s",
                  as.numeric(difftime(Sys.time(), t0, units = "secs"))))
})
