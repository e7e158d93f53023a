# Forked children (mclapply, fork clusters) and socket workers on a
# persistent heap: reads work, results come back by value, stored
# records never change (issue 9).

fork_ok <- function() {
  skip_on_os("windows")
  skip_if_not(parallel::detectCores() >= 1)
}

saved_pair <- function() {
  path <- heap_file()
  rt <- open_fmalloc(path)
  x <- as_fmalloc(as.numeric(1:1e6), runtime = rt)
  fmalloc_save(x, "x")
  s <- as_fmalloc(sprintf("s%d", 1:1e5), runtime = rt)
  fmalloc_save(s, "s")
  list(path = path, rt = rt, x = x, s = s)
}

test_that("mclapply children read, compute and return fmalloc results by value", {
  fork_ok()
  h <- saved_pair()
  on.exit(cleanup_fmalloc(h$rt))
  x <- h$x
  s <- h$s
  base_x <- as.numeric(1:1e6)
  rt <- h$rt
  r <- parallel::mclapply(1:2, function(i) sum(x[1:2e5]), mc.cores = 2)
  expect_identical(r, rep(list(sum(base_x[1:2e5])), 2))
  r <- parallel::mclapply(1:2, function(i) {
    y <- x
    y[1] <- -i
    c(y[1], x[1])
  }, mc.cores = 2)
  expect_identical(r, list(c(-1, 1), c(-2, 1)))
  r <- parallel::mclapply(1:2, function(i) order(-x)[1:3], mc.cores = 2)
  expect_identical(r[[2]], c(1000000L, 999999L, 999998L))
  # unsaved fmalloc vectors made in the child (its scratch heap) come
  # back as values
  r <- parallel::mclapply(1:2, function(i) x[1:2e5] * i, mc.cores = 2)
  expect_identical(drop_fm_class(r[[2]][]), base_x[1:2e5] * 2)
  r <- parallel::mclapply(1:2, function(i) s[c(1e5, 1:2e5 %% 1e5 + 1)],
                          mc.cores = 2)
  expect_identical(as.character(r[[1]])[1:3], c("s100000", "s2", "s3"))
  expect_length(r[[1]], 2e5 + 1)
  r <- parallel::mclapply(1:2, function(i) as_fmalloc(i:3, runtime = rt), mc.cores = 2)
  expect_identical(drop_fm_class(r[[1]][]), 1:3)
  expect_identical(x[1:3], c(1, 2, 3))
  expect_identical(fmalloc_load("x", runtime = h$rt)[1], 1)
})

test_that("a forked child cannot change a stored record, and says so", {
  fork_ok()
  h <- saved_pair()
  on.exit(cleanup_fmalloc(h$rt))
  x <- h$x
  path <- h$path
  rt <- h$rt
  r <- parallel::mclapply(1:2, function(i) {
    msg <- function(expr) {
      tryCatch({
        expr
        "no error"
      }, error = function(e) conditionMessage(e))
    }
    c(
      set = msg(fmalloc_set(x, 1, 99)),
      fill = msg(fmalloc_fill(x, 7)),
      save = msg(fmalloc_save(as_fmalloc(1:3, runtime = rt), "z", runtime = rt)),
      destroy = msg(fmalloc_destroy("x", runtime = rt)),
      destroy_obj = msg(fmalloc_destroy(x))
    )
  }, mc.cores = 2)
  for (res in r) {
    expect_match(res[["set"]], "inherited from a parent process")
    expect_match(res[["fill"]], "inherited|parent")
    expect_match(res[["save"]], "forked child cannot save into it")
    expect_match(res[["destroy"]], "forked child cannot destroy")
    expect_match(res[["destroy_obj"]], "forked child cannot destroy")
  }
  expect_identical(fmalloc_load("x", runtime = rt)[1:2], c(1, 2))
  expect_false("z" %in% list_fmalloc_allocations(rt)$name)
  # an assignment in the child changes the child's copy only
  job <- parallel::mcparallel({
    x[1] <- 5
    x[1]
  })
  expect_identical(unname(unlist(parallel::mccollect(job))), 5)
  expect_identical(x[1], 1)
  expect_identical(fmalloc_load("x", runtime = rt)[1], 1)
})

test_that("open_fmalloc in a forked child opens the file anew, as a reader", {
  fork_ok()
  h <- saved_pair()
  on.exit(cleanup_fmalloc(h$rt))
  x <- h$x
  path <- h$path
  r <- parallel::mclapply(1:2, function(i) {
    rt2 <- open_fmalloc(path)
    list(
      same = identical(rt2, fmalloc_runtime_of(x)),
      readonly = fmalloc_runtime_info(rt2)$readonly,
      sum = sum(fmalloc_load("x", runtime = rt2)[1:10])
    )
  }, mc.cores = 2)
  for (res in r) {
    expect_false(res$same)
    expect_true(res$readonly)
    expect_identical(res$sum, 55)
  }
})

test_that("a fork cluster reads a persistent heap", {
  fork_ok()
  h <- saved_pair()
  on.exit(cleanup_fmalloc(h$rt))
  x <- h$x
  cl <- parallel::makeForkCluster(2)
  on.exit(parallel::stopCluster(cl), add = TRUE)
  r <- parallel::parLapply(cl, 1:2, function(i) sum(x))
  expect_identical(r, rep(list(sum(as.numeric(1:1e6))), 2))
  r <- parallel::parLapply(cl, 1:2, function(i) {
    y <- x[1:2e5]
    y[1] <- -1
    sum(y)
  })
  expect_identical(r[[1]], sum(as.numeric(2:2e5)) - 1)
  r <- parallel::parLapply(cl, 1:2, function(i) {
    tryCatch(fmalloc_set(x, 1, 9), error = function(e) "refused")
  })
  expect_identical(r, list("refused", "refused"))
  expect_identical(x[1], 1)
})

test_that("socket workers receive saved vectors by reference and read them", {
  skip_on_cran()
  h <- saved_pair()
  on.exit(cleanup_fmalloc(h$rt))
  x <- h$x
  s <- h$s
  cl <- parallel::makePSOCKcluster(2)
  on.exit(parallel::stopCluster(cl), add = TRUE)
  parallel::clusterCall(cl, function(lib) {
    .libPaths(c(lib, .libPaths()))
    suppressPackageStartupMessages(library(Rfmalloc))
    NULL
  }, .libPaths())
  # a reference is a few hundred bytes, whatever the vector's size
  expect_lt(length(serialize(x, NULL)), 2000)
  parallel::clusterExport(cl, c("x", "s"), envir = environment())
  r <- parallel::parLapply(cl, 1:2, function(i) {
    list(sum = sum(x), n = length(s), last = s[length(s)],
         fmalloc = is_fmalloc(x),
         readonly = fmalloc_runtime_info(fmalloc_runtime_of(x))$readonly,
         set = tryCatch(fmalloc_set(x, 1, 9), error = function(e) "refused"),
         part = x[1:2e5] + i)
  })
  for (i in 1:2) {
    expect_identical(r[[i]]$sum, sum(as.numeric(1:1e6)))
    expect_identical(r[[i]]$n, 1e5L)
    expect_identical(unclass(r[[i]]$last), "s100000")
    expect_true(r[[i]]$fmalloc)
    expect_true(r[[i]]$readonly)
    expect_identical(r[[i]]$set, "refused")
    expect_identical(drop_fm_class(r[[i]]$part[]), as.numeric(1:2e5) + i)
  }
  # the parent keeps writing while the workers hold the record
  x[1] <- 42
  r <- parallel::parLapply(cl, 1:2, function(i) x[1])
  expect_identical(unlist(r), c(42, 42))
})
