# R's value semantics on file-backed vectors (issue 8): nothing that
# makes a new value writes into stored data or into another object;
# an assignment into the variable that holds a saved vector changes the
# record in place; what R writes through the data pointer is stored.

# one value of each type, long enough (200) that R wraps it rather than
# copying it when it unshares it at the top level, and short (5)
sem_values <- function(n) {
  list(
    double = seq_len(n) / 4,
    integer = seq_len(n),
    logical = rep_len(c(TRUE, FALSE, NA), n),
    complex = complex(real = seq_len(n), imaginary = -seq_len(n)),
    raw = as.raw(seq_len(n) %% 256),
    character = sprintf("s%03d", seq_len(n))
  )
}

# a value of the type of V to store at position 1
sem_new <- function(v) {
  switch(typeof(v), double = 1000, integer = 1000L, logical = NA,
         complex = 1000+1i, raw = as.raw(255), character = "new")
}

test_that("operations on a read-back reference never change the record", {
  path <- heap_file()
  rt <- open_fmalloc(path)
  rds <- tempfile(fileext = ".rds")
  for (cls in c(TRUE, FALSE)) {
    old <- options(Rfmalloc.class = cls)
    x <- as_fmalloc(c(1, 4, 9), runtime = rt)
    saveRDS(x, rds)
    r <- -readRDS(rds)
    expect_same(x[], c(1, 4, 9), info = cls)
    expect_same(r[], c(-1, -4, -9), info = cls)
    s <- sqrt(readRDS(rds))
    expect_same(s[], c(1, 2, 3), info = cls)
    e <- exp(readRDS(rds)) + readRDS(rds)
    l <- log1p(readRDS(rds))
    u <- -unclass(readRDS(rds))
    expect_same(unclass(x), c(1, 4, 9), info = cls)
    expect_same(readRDS(rds)[], c(1, 4, 9), info = cls)
    # integer and logical too
    i <- as_fmalloc(c(2L, 5L, NA), runtime = rt)
    saveRDS(i, rds)
    ni <- -readRDS(rds)
    ai <- abs(-readRDS(rds))
    li <- !readRDS(rds)
    expect_same(i[], c(2L, 5L, NA), info = cls)
    expect_same(readRDS(rds)[], c(2L, 5L, NA), info = cls)
    options(old)
  }
  cleanup_fmalloc(rt)
})

test_that("an unserialized copy is a copy: changing it leaves the original", {
  for (n in c(5, 200)) {
    rt <- open_fmalloc(heap_file())
    for (v in sem_values(n)) {
      x <- as_fmalloc(v, runtime = rt)
      y <- unserialize(serialize(x, NULL))
      y[1] <- sem_new(v)
      info <- paste(typeof(v), n)
      expect_same(x[], v, info = info)
      expect_same(y[1], sem_new(v), info = info)
      expect_same(unserialize(serialize(x, NULL))[], v, info = info)
      # and the other way round: the original changes, the copy does not
      z <- unserialize(serialize(x, NULL))
      x[2] <- sem_new(v)
      expect_same(z[], v, info = info)
    }
    cleanup_fmalloc(rt)
  }
})

test_that("operations on fmalloc_load() results never change the record", {
  rt <- open_fmalloc(heap_file())
  fmalloc_save(as_fmalloc(c(1, 4, 9), runtime = rt), "a")
  r <- -fmalloc_load("a", runtime = rt)
  s <- sqrt(fmalloc_load("a", runtime = rt))
  u <- -unclass(fmalloc_load("a", runtime = rt))
  k <- cumsum(fmalloc_load("a", runtime = rt))
  m <- rev(fmalloc_load("a", runtime = rt))
  o <- sort(fmalloc_load("a", runtime = rt), decreasing = TRUE)
  q <- fmalloc_load("a", runtime = rt)[3:1]
  w <- as.integer(fmalloc_load("a", runtime = rt))
  expect_same(fmalloc_load("a", runtime = rt)[], c(1, 4, 9))
  expect_same(o[], c(9, 4, 1))
  f <- function(v) {
    v[1] <- -1
    v
  }
  g <- compiler::cmpfun(f)
  expect_same(f(fmalloc_load("a", runtime = rt))[], c(-1, 4, 9))
  expect_same(g(fmalloc_load("a", runtime = rt))[], c(-1, 4, 9))
  expect_same(`[<-`(fmalloc_load("a", runtime = rt), 2, value = 0)[],
              c(1, 0, 9))
  expect_same(fmalloc_load("a", runtime = rt)[], c(1, 4, 9))
  cleanup_fmalloc(rt)
})

test_that("y <- x; y[i] <- v never changes x, for every type and mode", {
  for (mode in c("persistent", "scratch")) for (n in c(5, 200)) {
    rt <- open_fmalloc(if (mode == "scratch") heap_dir() else heap_file(),
                       mode = mode)
    for (v in sem_values(n)) {
      info <- paste(mode, typeof(v), n)
      x <- as_fmalloc(v, runtime = rt)
      y <- x
      y[1] <- sem_new(v)
      expect_same(x[], v, info = info)
      y <- x
      y[[2]] <- sem_new(v)
      expect_same(x[], v, info = info)
      y <- x
      y[] <- sem_new(v)
      expect_same(x[], v, info = info)
      y <- x
      names(y) <- paste0("n", seq_len(n))
      expect_null(names(x))
      if (mode == "persistent") {
        fmalloc_save(x, paste0("x", typeof(v), n))
        y <- x
        y[1] <- sem_new(v)
        expect_same(x[], v, info = info)
        expect_same(fmalloc_load(paste0("x", typeof(v), n),
                                 runtime = rt)[], v, info = info)
      }
    }
    cleanup_fmalloc(rt)
  }
})

test_that("assignments into a loaded vector change the record in place", {
  for (n in c(5, 200)) {
    path <- heap_file()
    rt <- open_fmalloc(path)
    vals <- sem_values(n)
    for (nm in names(vals)) fmalloc_save(vals[[nm]], nm, runtime = rt)
    for (nm in names(vals)) {
      v <- vals[[nm]]
      info <- paste(nm, n)
      z <- fmalloc_load(nm, runtime = rt)
      id <- vec_info(z)$id
      z[2] <- sem_new(v)
      z[[3]] <- sem_new(v)
      want <- v
      want[2:3] <- sem_new(v)
      expect_same(fmalloc_load(nm, runtime = rt)[], want, info = info)
      expect_true(vec_info(z)$committed, info = info)
      expect_same(vec_info(z)$id, id, info = info)
      # a second handle on the record sees the change at once
      h <- fmalloc_load(nm, runtime = rt)
      z[1] <- sem_new(v)
      want[1] <- sem_new(v)
      expect_same(h[], want, info = info)
      # names(x) <- ... is stored too
      names(z) <- paste0("e", seq_len(n))
      expect_same(names(fmalloc_load(nm, runtime = rt)),
                  paste0("e", seq_len(n)), info = info)
      z[] <- vals[[nm]][1]
      expect_same(unname(fmalloc_load(nm, runtime = rt)[]),
                  rep(vals[[nm]][1], n), info = info)
    }
    cleanup_fmalloc(rt)
    rm(rt, z, h)
    invisible(gc())
    # and another R process reads what was assigned
    got <- in_fresh_r(function(path) {
      rt <- Rfmalloc::open_fmalloc(path)
      lapply(c(double = "double", character = "character"), function(nm)
        unclass(Rfmalloc::fmalloc_load(nm, runtime = rt)))
    }, list(path = path))
    expect_same(unname(got$double), rep(vals$double[1], n))
    expect_same(names(got$character), paste0("e", seq_len(n)))
  }
})

test_that("assignments in compiled functions and loops change the record", {
  rt <- open_fmalloc(heap_file())
  fmalloc_save(as.double(1:300), "v", runtime = rt)
  f <- compiler::cmpfun(function(rt) {
    z <- fmalloc_load("v", runtime = rt)
    for (k in 1:10) z[k] <- -k
    z[[11]] <- 0
    z
  })
  z <- f(rt)
  expect_same(fmalloc_load("v", runtime = rt)[1:11], c(-(1:10), 0))
  expect_true(vec_info(z)$committed)
  # m[i, j] <- v and a 3-d array, by position, name and logical index
  m <- matrix(0, 4, 3, dimnames = list(letters[1:4], c("x", "y", "z")))
  fmalloc_save(m, "m", runtime = rt)
  mm <- fmalloc_load("m", runtime = rt)
  mm[2, 3] <- 5
  mm["c", "x"] <- 7
  mm[c(TRUE, FALSE), "y"] <- 1
  mm[-1, 1] <- mm[-1, 1] + 0.5
  m[2, 3] <- 5
  m["c", "x"] <- 7
  m[c(TRUE, FALSE), "y"] <- 1
  m[-1, 1] <- m[-1, 1] + 0.5
  expect_same(fmalloc_load("m", runtime = rt)[, ], m)
  a <- array(0L, c(2, 3, 4))
  fmalloc_save(a, "a", runtime = rt)
  aa <- fmalloc_load("a", runtime = rt)
  aa[2, 3, 4] <- 9L
  aa[1, , 2] <- 1:3
  a[2, 3, 4] <- 9L
  a[1, , 2] <- 1:3
  expect_same(fmalloc_load("a", runtime = rt)[, , ], a)
  expect_true(is_fmalloc(aa))
  cleanup_fmalloc(rt)
})

test_that("deciding whether an assignment may edit runs no active binding", {
  rt <- open_fmalloc(heap_file())
  fmalloc_save(as.double(1:20), "v", runtime = rt)
  ran <- FALSE
  f <- function(rt) {
    z <- fmalloc_load("v", runtime = rt)
    makeActiveBinding("ab", function() {
      ran <<- TRUE
      z
    }, environment())
    # list() leaves z's reference count raised: the variables are looked at
    l <- list(z)
    rm(l)
    z[1] <- -1
    z
  }
  z <- f(rt)
  expect_false(ran)
  expect_same(fmalloc_load("v", runtime = rt)[1:2], c(-1, 2))
  cleanup_fmalloc(rt)
})

test_that("readRDS of a reference gives a handle that edits the record", {
  path <- heap_file()
  rds <- tempfile(fileext = ".rds")
  rt <- open_fmalloc(path)
  x <- as_fmalloc(as.double(1:100), runtime = rt)
  fmalloc_save(x, "x")
  saveRDS(x, rds)
  y <- readRDS(rds)
  y[5] <- -5
  expect_same(fmalloc_load("x", runtime = rt)[5], -5)
  expect_same(x[5], -5) # x views the same record
  fmalloc_set(x, 6, -6)
  expect_same(y[6], -6)
  fmalloc_fill(y, 0)
  expect_same(sum(fmalloc_load("x", runtime = rt)), 0)
  expect_error(fmalloc_set(x, 0.5 + 1:2, "a"), "type")
  expect_error(fmalloc_fill(x, 1:2), "single")
  cleanup_fmalloc(rt)
})

test_that("what R writes through STRING_PTR is what gets stored", {
  path <- heap_file()
  rds <- tempfile(fileext = ".rds")
  rt <- open_fmalloc(path)
  set.seed(8)
  s <- sample(sprintf("s%06d", 1:2e5))
  y <- sort(as_fmalloc(s, runtime = rt))
  expect_same(y[], sort(s))
  fmalloc_save(y, "sorted")
  saveRDS(y, rds)
  expect_same(fmalloc_load("sorted", runtime = rt)[], sort(s))
  o <- as_fmalloc(s[1:1000], runtime = rt)[order(s[1:1000])]
  fmalloc_save(o, "ordered", runtime = rt)
  d <- sort(as_fmalloc(s[1:50], runtime = rt), decreasing = TRUE)
  fmalloc_save(d, "desc", runtime = rt)
  cleanup_fmalloc(rt)
  rm(rt, y, o, d)
  invisible(gc())
  got <- in_fresh_r(function(path, rds) {
    rt <- Rfmalloc::open_fmalloc(path)
    list(sorted = unclass(Rfmalloc::fmalloc_load("sorted", runtime = rt)),
         rds = unclass(readRDS(rds)),
         ordered = unclass(Rfmalloc::fmalloc_load("ordered", runtime = rt)),
         desc = unclass(Rfmalloc::fmalloc_load("desc", runtime = rt)))
  }, list(path = path, rds = rds))
  expect_same(got$sorted, sort(s))
  expect_same(got$rds, sort(s))
  expect_same(got$ordered, sort(s[1:1000]))
  expect_same(got$desc, sort(s[1:50], decreasing = TRUE))
})

test_that("a forked child never changes the parent's vectors", {
  skip_on_os("windows")
  rt <- open_fmalloc(heap_file())
  x <- as_fmalloc(as.double(1:1000), runtime = rt)
  fmalloc_save(x, "x")
  p <- as_fmalloc(as.double(1:1000), runtime = rt) # not saved
  res <- parallel::mclapply(1:2, function(k) {
    # a saved record cannot be written from a child
    refused <- inherits(try(fmalloc_set(x, 3, -3), silent = TRUE),
                        "try-error")
    fmalloc_set(p, 2, -2) # the parent's vector: the child's own pages
    x[1] <- -1            # a local copy
    p[1] <- -1
    y <- -x
    z <- sqrt(fmalloc_load("x", runtime = rt))
    c(x[1], p[1], p[2], sum(y), z[4], refused)
  }, mc.cores = 2)
  expect_same(res[[1]], c(-1, -1, -2, -500498, 2, 1))
  # a child evaluating at its top level, where x is the global variable
  job <- parallel::mcparallel({
    x[2] <- -2
    p[2] <- -2
    sum(x) + sum(p)
  })
  out <- parallel::mccollect(job)[[1]]
  expect_same(out, 2 * 500500 - 2 * 4)
  expect_same(x[1:3], c(1, 2, 3))
  expect_same(p[1:3], c(1, 2, 3))
  expect_same(fmalloc_load("x", runtime = rt)[1:3], c(1, 2, 3))
  cleanup_fmalloc(rt)
})

test_that("a clone made by R reads its original's value until written", {
  rt <- open_fmalloc(heap_file())
  x <- as_fmalloc(as.double(1:200), runtime = rt)
  fmalloc_save(x, "x")
  y <- as.vector(x) # R duplicates the saved vector: a clone, no copy
  expect_true(vec_info(y)$clone)
  x[1] <- 0 # the record changes; the clone keeps its value
  expect_same(y[1], 1)
  expect_same(fmalloc_load("x", runtime = rt)[1], 0)
  cleanup_fmalloc(rt)
})

test_that("results of vectors whose runtime cannot take them go to scratch", {
  old <- options(Rfmalloc.threshold = 5)
  on.exit(options(old))
  path <- heap_file()
  rt <- open_fmalloc(path)
  x <- as_fmalloc(as.double(1:10), runtime = rt)
  cleanup_fmalloc(rt) # closing: waits for x, takes no new vectors
  y <- x * 2
  expect_true(is_fmalloc(y))
  expect_same(y[], as.double(1:10) * 2)
  srt <- fmalloc_runtime_of(y)
  expect_false(identical(srt, rt))
  expect_identical(fmalloc_runtime_info(srt)$mode, "scratch")
  expect_true(is_fmalloc(x[10:1]))
  expect_true(is_fmalloc(sqrt(x)))
  # a forked child: its results go to a scratch runtime of its own
  rt2 <- open_fmalloc(heap_file())
  z <- as_fmalloc(as.double(1:10), runtime = rt2)
  got <- parallel::mclapply(1:2, function(k) {
    w <- z + k
    list(fm = is_fmalloc(w), sum = sum(w),
         mode = fmalloc_runtime_info(fmalloc_runtime_of(w))$mode)
  }, mc.cores = 2)
  expect_identical(got[[2]], list(fm = TRUE, sum = 75, mode = "scratch"))
  # a reader of a heap another process writes
  rds <- tempfile(fileext = ".rds")
  fmalloc_save(z, "z")
  saveRDS(z, rds)
  got <- in_fresh_r(function(rds) {
    options(Rfmalloc.threshold = 5)
    v <- readRDS(rds)
    w <- v * 3
    list(ro = Rfmalloc::fmalloc_runtime_info(
           Rfmalloc::fmalloc_runtime_of(v))$readonly,
         fm = Rfmalloc::is_fmalloc(w), w = unclass(w),
         mode = Rfmalloc::fmalloc_runtime_info(
           Rfmalloc::fmalloc_runtime_of(w))$mode)
  }, list(rds = rds))
  expect_true(got$ro)
  expect_true(got$fm)
  expect_same(got$w, as.double(1:10) * 3)
  expect_identical(got$mode, "scratch")
  cleanup_fmalloc(rt2)
})

test_that("assignments R must do itself leave the record as it was", {
  rt <- open_fmalloc(heap_file())
  fmalloc_save(as.double(1:5), "v", runtime = rt)
  z <- fmalloc_load("v", runtime = rt)
  z[7] <- 7 # grows: a new, ordinary vector
  expect_same(z, c(1:5, NA, 7))
  z <- fmalloc_load("v", runtime = rt)
  z[2] <- "b" # changes the type
  expect_same(z, c("1", "b", "3", "4", "5"))
  z <- fmalloc_load("v", runtime = rt)
  z[["a"]] <- 0 # a new name
  expect_same(unname(z[6]), 0)
  z <- fmalloc_load("v", runtime = rt)
  expect_error(z[c(NA, 2)] <- c(1, 2), "NAs are not allowed")
  z[c(NA, 2)] <- 20 # one value: NA positions are skipped
  z[-(1:4)] <- 50
  z[c(TRUE, FALSE)] <- 0
  expect_same(fmalloc_load("v", runtime = rt)[], c(0, 20, 0, 4, 0))
  expect_warning(z[1:3] <- c(1, 2), "not a multiple")
  expect_error(z[[1:2]] <- 1, "")
  expect_error(z[] <- numeric(0), "replacement has length zero")
  cleanup_fmalloc(rt)
})
