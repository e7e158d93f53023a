# GC pressure (issue 11, "GC"): R's collector does not see the heap
# blocks of file-backed vectors, so the package asks R to collect when
# unsaved blocks pile up (option Rfmalloc.gc_budget, ?fmalloc_gc).

mib <- 2^20

# N iterations of y <- x[idx] with 4 MiB results in a fresh persistent
# heap under the budget BUDGET (NULL: the default); the heap file's size
# at the end, and the collections the package asked for.
subset_loop <- function(n, budget, mode = "persistent") {
  old <- options(Rfmalloc.gc_budget = budget)
  on.exit(options(old), add = TRUE)
  rt <- open_fmalloc(heap_file(), mode = mode)
  on.exit(cleanup_fmalloc(rt), add = TRUE)
  x <- as_fmalloc(as.numeric(seq_len(1e6)), runtime = rt)
  idx <- seq.int(1L, 1e6L, by = 2L) # 5e5 positions: 4 MB results
  gc()
  before <- fmalloc_gc_info(rt)$collections
  for (i in seq_len(n)) y <- x[idx]
  expect_true(is_fmalloc(y))
  expect_identical(unclass(y)[c(1, 5e5)], c(1, 999999))
  list(size = fmalloc_runtime_info(rt)$file_size,
       collections = fmalloc_gc_info(rt)$collections - before)
}

test_that("a subset loop keeps the heap file small with the default budget", {
  # 100 results of 4 MiB: 400 MiB made, 14 MiB live at any time
  r <- subset_loop(100, NULL)
  expect_lt(r$size, 300 * mib)
  expect_gte(r$collections, 1)
  expect_lte(r$collections, 4) # at most one per half budget (128 MiB)
})

test_that("a smaller budget keeps the file smaller; Inf lets it grow", {
  small <- subset_loop(30, 16 * mib, "scratch")
  expect_lt(small$size, 64 * mib)
  expect_gte(small$collections, 4)
  # never collecting: the 120 MiB of results stay in the file
  never <- subset_loop(30, Inf, "scratch")
  expect_gt(never$size, 100 * mib)
  expect_equal(never$collections, 0)
})

test_that("fmalloc_gc_info counts unsaved bytes; saved and freed ones leave", {
  old <- options(Rfmalloc.gc_budget = Inf)
  on.exit(options(old), add = TRUE)
  rt <- open_fmalloc(heap_file())
  on.exit(cleanup_fmalloc(rt), add = TRUE)
  base <- fmalloc_gc_info(rt)$unsaved_bytes
  x <- create_fmalloc_vector("double", 1e6, runtime = rt)
  expect_equal(fmalloc_gc_info(rt)$unsaved_bytes - base, 8e6)
  y <- create_fmalloc_vector("integer", 1e6, runtime = rt)
  expect_equal(fmalloc_gc_info(rt)$unsaved_bytes - base, 12e6)
  # a saved vector is no longer garbage in waiting
  fmalloc_save(x, "x")
  expect_equal(fmalloc_gc_info(rt)$unsaved_bytes - base, 4e6)
  # a collected one gives its bytes back
  rm(y)
  gc()
  expect_equal(fmalloc_gc_info(rt)$unsaved_bytes, base)
  # so does a destroyed one
  z <- create_fmalloc_vector("raw", 2e6, runtime = rt)
  expect_equal(fmalloc_gc_info(rt)$unsaved_bytes - base, 2e6)
  destroy_fmalloc_vector(z)
  expect_equal(fmalloc_gc_info(rt)$unsaved_bytes, base)
  # the budget in force: the option, or the default for this heap
  expect_equal(fmalloc_gc_info(rt)$budget, Inf)
  options(Rfmalloc.gc_budget = 1e9)
  expect_equal(fmalloc_gc_info(rt)$budget, 1e9)
  options(Rfmalloc.gc_budget = NULL)
  expect_equal(fmalloc_gc_info(rt)$budget, 256 * mib)
})

test_that("the default budget is the larger of 256 MiB and a quarter of the file", {
  rt <- open_fmalloc(heap_file(), size_gb = 1.5)
  on.exit(cleanup_fmalloc(rt), add = TRUE)
  old <- options(Rfmalloc.gc_budget = NULL)
  on.exit(options(old), add = TRUE)
  # (with size_gb a hint the file may start smaller: then the floor)
  size <- fmalloc_runtime_info(rt)$file_size
  expect_equal(fmalloc_gc_info(rt)$budget, max(256 * mib, size / 4))
})

test_that("a budget of 0 collects before every new file-backed vector", {
  old <- options(Rfmalloc.gc_budget = 0)
  on.exit(options(old), add = TRUE)
  rt <- open_fmalloc(heap_file(), mode = "scratch")
  on.exit(cleanup_fmalloc(rt), add = TRUE)
  before <- fmalloc_gc_info(rt)$collections
  for (i in 1:5) x <- create_fmalloc_vector("double", 2e5, runtime = rt)
  expect_equal(fmalloc_gc_info(rt)$collections - before, 5)
  # results below the threshold are ordinary vectors: no collection
  y <- x[1:10]
  expect_false(is_fmalloc(y))
  expect_equal(fmalloc_gc_info(rt)$collections - before, 5)
})

test_that("collections inside operations free nothing still in use", {
  # budget 0: a full collection, with finalizers, inside every operation
  # that makes a file-backed result, while it holds its operands' data
  old <- options(Rfmalloc.gc_budget = 0, Rfmalloc.threshold = NULL)
  on.exit(options(old), add = TRUE)
  options(Rfmalloc.threshold = 1000)
  rt <- open_fmalloc(heap_file())
  on.exit(cleanup_fmalloc(rt), add = TRUE)
  n <- 2e4
  xb <- as.numeric(seq_len(n)) / 7
  sb <- sprintf("s%06d", seq_len(n))
  x <- as_fmalloc(xb, runtime = rt)
  s <- as_fmalloc(sb, runtime = rt)
  # garbage for each collection to free while the operations run
  junk <- lapply(1:2, function(i) as_fmalloc(xb + i, runtime = rt))
  rm(junk)
  expect_same(x + 1, xb + 1)
  expect_same(x[n:1], xb[n:1])
  expect_same(cumsum(x), cumsum(xb))
  expect_same(sqrt(x), sqrt(xb))
  expect_same(s[n:1], sb[n:1])
  expect_same(s[c(TRUE, FALSE)], sb[c(TRUE, FALSE)])
  expect_same(x > 1000, xb > 1000)
  expect_same(!(x > 1000), !(xb > 1000))
  expect_same(-x, -xb)
  expect_same(x * x, xb * xb)
  expect_same(as.integer(x), as.integer(xb))
  expect_same(is.na(x), is.na(xb))
  expect_same(which(x > 1000), which(xb > 1000))
  expect_same(rev(x), rev(xb))
  expect_same(s == s[n:1], sb == sb[n:1])
  y <- x
  y[1] <- -1
  expect_identical(unclass(x)[1], xb[1])
  expect_identical(unclass(y)[1], -1)
  expect_true(fmalloc_gc_info(rt)$collections >= 16)
})

test_that("a bad Rfmalloc.gc_budget is an error, not a crash", {
  rt <- open_fmalloc(heap_file())
  on.exit(cleanup_fmalloc(rt), add = TRUE)
  x <- as_fmalloc(as.numeric(seq_len(2e5)), runtime = rt)
  for (bad in list(-1, NA, NA_real_, "1e9", c(1, 2), TRUE, NaN, -Inf,
                   list(1))) {
    old <- options(Rfmalloc.gc_budget = bad)
    expect_error(x[2e5:1], "Rfmalloc.gc_budget")
    expect_error(create_fmalloc_vector("double", 10, runtime = rt),
                 "Rfmalloc.gc_budget")
    expect_error(fmalloc_gc_info(rt), "Rfmalloc.gc_budget")
    options(old)
  }
  # the heap took no harm: same data, new vectors work
  expect_identical(unclass(x)[c(1, 2e5)], c(1, 2e5))
  y <- x[2e5:1]
  expect_identical(unclass(y)[1], 2e5)
  # an integer budget is fine
  old <- options(Rfmalloc.gc_budget = 100000000L)
  on.exit(options(old), add = TRUE)
  expect_equal(fmalloc_gc_info(rt)$budget, 1e8)
})
