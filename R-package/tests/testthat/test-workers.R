# Parallel workers on one host: callr processes and future's multisession
# workers receive saved vectors by reference, map the file read-only while
# the parent keeps writing, never fault, and can tell (fmalloc_is_current)
# when the parent destroyed, replaced or compacted what they read.
# (PSOCK clusters and forks: test-fork.R.)

# A callr session with Rfmalloc loaded and X (read from the reference in
# RDS) as the global x.
worker_with <- function(rds) {
  r <- callr::r_session$new(
    options = callr::r_session_options(
      libpath = .libPaths(),
      env = c(callr::rcmd_safe_env(), R_TESTS = "")
    )
  )
  r$run(function(rds) {
    suppressPackageStartupMessages(library(Rfmalloc))
    x <<- readRDS(rds)
    NULL
  }, list(rds))
  r
}

test_that("fmalloc_is_current follows the writer's own saves and destroys", {
  rt <- open_fmalloc(heap_file())
  on.exit(cleanup_fmalloc(rt, force = TRUE))
  u <- as_fmalloc(as.numeric(1:10), runtime = rt)
  expect_true(fmalloc_is_current(u)) # never saved: its own
  fmalloc_save(u, "u")
  expect_true(fmalloc_is_current(u))
  u[3] <- 30 # in place: the same record
  expect_true(fmalloc_is_current(u))
  s <- as_fmalloc(c("a", "b"), runtime = rt)
  fmalloc_save(s, "s")
  s[2] <- paste(rep("long", 100), collapse = "") # the byte area regrows
  expect_true(fmalloc_is_current(s))
  expect_identical(fmalloc_load("s", runtime = rt)[2], s[2])
  fmalloc_destroy(u)
  expect_error(fmalloc_is_current(u), "destroyed") # in its own process
  expect_error(fmalloc_is_current(1:3), "fmalloc vector")
})

test_that("a callr worker reads by reference and sees the parent's writes", {
  skip_on_cran()
  path <- heap_file()
  rt <- open_fmalloc(path)
  on.exit(cleanup_fmalloc(rt, force = TRUE))
  x <- as_fmalloc(as.numeric(1:1e6), runtime = rt)
  fmalloc_save(x, "x")
  rds <- tempfile(fileext = ".rds")
  saveRDS(x, rds)
  expect_lt(file.size(rds), 2000) # a reference, not the data
  w <- worker_with(rds)
  on.exit(w$close(), add = TRUE)
  got <- w$run(function() {
    list(sum = sum(x), fm = is_fmalloc(x),
         ro = fmalloc_runtime_info(fmalloc_runtime_of(x))$readonly,
         current = fmalloc_is_current(x),
         set = tryCatch(fmalloc_set(x, 1, 0), error = function(e) "refused"))
  })
  expect_identical(got$sum, sum(as.numeric(1:1e6)))
  expect_true(got$fm)
  expect_true(got$ro)
  expect_true(got$current)
  expect_identical(got$set, "refused")

  # the parent writes in place and saves a new vector: the worker sees both
  x[1] <- 42
  y <- as_fmalloc(c(7, 8, 9), runtime = rt)
  fmalloc_save(y, "y")
  got <- w$run(function() {
    list(first = x[1], current = fmalloc_is_current(x),
         y = as.vector(fmalloc_load("y", runtime = fmalloc_runtime_of(x))))
  })
  expect_identical(got$first, 42)
  expect_true(got$current)
  expect_identical(got$y, c(7, 8, 9))

  # destroyed in the parent: the worker's check says so
  fmalloc_destroy(x)
  expect_false(w$run(function() fmalloc_is_current(x)))
})

test_that("a worker never faults while the writer destroys, reuses and grows", {
  skip_on_cran()
  path <- heap_file()
  rt <- open_fmalloc(path)
  on.exit(cleanup_fmalloc(rt, force = TRUE))
  x <- as_fmalloc(as.numeric(1:1e6), runtime = rt)
  fmalloc_save(x, "x")
  rds <- tempfile(fileext = ".rds")
  saveRDS(x, rds)
  go <- tempfile()
  # The worker reads x in a loop and records, for each round, the sum
  # and whether x was still current after the sum.
  bg <- callr::r_bg(function(rds, go) {
    suppressPackageStartupMessages(library(Rfmalloc))
    x <- readRDS(rds)
    file.create(go)
    n <- 300L
    sums <- numeric(n)
    current <- logical(n)
    for (i in seq_len(n)) {
      sums[i] <- sum(x)
      current[i] <- fmalloc_is_current(x)
      Sys.sleep(0.002)
    }
    list(sums = sums, current = current)
  }, args = list(rds, go), libpath = .libPaths(),
  env = c(callr::rcmd_safe_env(), R_TESTS = ""))
  on.exit(bg$kill(), add = TRUE)
  deadline <- Sys.time() + 60
  while (!file.exists(go) && bg$is_alive() && Sys.time() < deadline) {
    Sys.sleep(0.02)
  }
  expect_true(file.exists(go))
  fmalloc_set(x, 1, 2) # in place: sum goes up by 1
  fmalloc_destroy(x)
  rm(x)
  gc()
  for (i in 1:10) { # reuse the freed space
    y <- as_fmalloc(rnorm(2e5), runtime = rt)
    fmalloc_save(y, paste0("y", i))
  }
  fmalloc_sync(rt)
  for (i in 11:20) { # and again after a sync, when it is reusable
    y <- as_fmalloc(rnorm(2e5), runtime = rt)
    fmalloc_save(y, paste0("y", i))
  }
  big <- create_fmalloc_vector("double", 3e7, runtime = rt) # the file grows
  big[] <- 1
  fmalloc_save(big, "big")
  bg$wait(120000)
  expect_identical(bg$get_exit_status(), 0L)
  r <- bg$get_result()
  expect_length(r$sums, 300L)
  expect_true(all(is.finite(r$sums)))
  ok <- sum(as.numeric(1:1e6))
  # every round that was current read one of the record's two values
  expect_true(all(r$sums[r$current] %in% c(ok, ok + 1)))
  # once not current, it stays so: the record does not come back
  k <- match(FALSE, r$current)
  expect_false(is.na(k))
  expect_false(any(r$current[k:300]))
})

test_that("after compaction a worker reads the old file, and knows it", {
  skip_on_cran()
  path <- heap_file()
  rt <- open_fmalloc(path)
  x <- as_fmalloc(as.numeric(1:1e5), runtime = rt)
  fmalloc_save(x, "x")
  junk <- as_fmalloc(numeric(1e5), runtime = rt)
  fmalloc_save(junk, "junk")
  fmalloc_destroy(junk)
  rds <- tempfile(fileext = ".rds")
  saveRDS(x, rds)
  w <- worker_with(rds)
  on.exit(w$close())
  expect_true(w$run(function() fmalloc_is_current(x)))
  rm(x, junk)
  gc()
  cleanup_fmalloc(rt)
  gc()
  compact_fmalloc(path)
  got <- w$run(function() list(current = fmalloc_is_current(x), sum = sum(x)))
  expect_false(got$current)
  expect_identical(got$sum, sum(as.numeric(1:1e5)))
  # a new reference reads the new file
  expect_identical(in_fresh_r(function(path) {
    rt <- Rfmalloc::open_fmalloc(path, readonly = TRUE)
    x <- Rfmalloc::fmalloc_load("x", runtime = rt)
    c(sum(x), Rfmalloc::fmalloc_is_current(x))
  }, list(path)), c(sum(as.numeric(1:1e5)), 1))
})

test_that("future's multisession workers receive saved vectors by reference", {
  skip_on_cran()
  skip_if_not_installed("future")
  rt <- open_fmalloc(heap_file())
  on.exit(cleanup_fmalloc(rt, force = TRUE))
  x <- as_fmalloc(as.numeric(1:1e6), runtime = rt)
  fmalloc_save(x, "x")
  old <- future::plan(future::multisession, workers = 2)
  on.exit(future::plan(old), add = TRUE)
  fs <- lapply(1:2, function(i) {
    future::future({
      suppressPackageStartupMessages(library(Rfmalloc))
      list(sum = sum(x) + i, fm = is_fmalloc(x),
           ro = fmalloc_runtime_info(fmalloc_runtime_of(x))$readonly,
           current = fmalloc_is_current(x), pid = Sys.getpid())
    }, globals = list(x = x, i = i), packages = "Rfmalloc", seed = NULL)
  })
  r <- future::value(fs)
  for (i in 1:2) {
    expect_identical(r[[i]]$sum, sum(as.numeric(1:1e6)) + i)
    expect_true(r[[i]]$fm)
    expect_true(r[[i]]$ro)
    expect_true(r[[i]]$current)
    expect_false(r[[i]]$pid == Sys.getpid())
  }
  # the globals went by reference: the future's payload stays small
  expect_lt(length(serialize(x, NULL)), 2000)
})
