# Second handles on one record, and readers whose record the writer
# destroys and reuses: every handle sees the current payload or gets an
# R error, never freed memory (issue 9).

test_that("a second handle on a character record follows its growth", {
  rt <- open_fmalloc(heap_file())
  on.exit(cleanup_fmalloc(rt))
  x <- as_fmalloc(c("a", "b", "c"), runtime = rt)
  fmalloc_save(x, "s")
  y <- fmalloc_load("s", runtime = rt)
  x[1] <- strrep("z", 200) # the block grows and moves
  expect_identical(y[1], strrep("z", 200))
  expect_identical(fmalloc_load("s", runtime = rt)[1], strrep("z", 200))
  # reuse the old block many times over
  for (i in 1:3000) tmp <- as_fmalloc(c("q", "r", "s"), runtime = rt)
  rm(tmp)
  gc()
  expect_identical(as.character(y), c(strrep("z", 200), "b", "c"))
  y[2] <- strrep("w", 500) # and from the second handle
  expect_identical(x[2], strrep("w", 500))
  expect_output(print(y), "zzzz")
  fmalloc_destroy("s", runtime = rt)
  expect_error(y[1], "destroyed")
  expect_error(capture.output(print(x)), "destroyed")
  expect_error(sum(nchar(y)), "destroyed")
})

test_that("destroying a record by name kills every handle, of every type", {
  rt <- open_fmalloc(heap_file())
  on.exit(cleanup_fmalloc(rt))
  values <- list(c(TRUE, NA), 1:3, c(1.5, 2), as.raw(1:2), c(1i, 2),
                 c("a", NA))
  for (v in values) {
    x <- as_fmalloc(v, runtime = rt)
    fmalloc_save(x, "v")
    y <- fmalloc_load("v", runtime = rt)
    x[1] <- v[2]
    expect_identical(unclass(y[1]), v[2])
    fmalloc_destroy("v", runtime = rt)
    for (h in list(x, y)) {
      expect_error(h[1], "destroyed")
      expect_error(rev(h), "destroyed")
      expect_error(length(unclass(h)) + sum(is.na(h)), "destroyed")
    }
  }
})

# The bytes of a block that looks like a character block of N elements
# (right magic and sizes) whose offsets and lengths point far outside it.
forged_string_block <- function(bytes, n) {
  u64 <- function(v) as.raw(as.numeric(v) %/% 256^(0:7) %% 256)
  magic <- as.raw(c(0x31, 0x30, 0x30, 0x52, 0x54, 0x53, 0x46, 0x52))
  table <- 32 + n * 13
  table <- table + (8 - table %% 8) %% 8
  cap <- bytes - table
  header <- c(magic, u64(n), u64(cap), u64(cap)) # magic, n, used, cap
  starts <- rep(u64(2^40), n)
  lens <- rep(as.raw(c(0xff, 0xff, 0xff, 0x7f)), n) # 2^31 - 1
  flags <- rep(as.raw(1), n)
  blk <- c(header, starts, lens, flags)
  c(blk, as.raw(rep(0x41, bytes - length(blk))))
}

test_that("a reader never faults when the writer destroys and reuses its record", {
  skip_on_cran()
  path <- heap_file()
  rt <- open_fmalloc(path)
  on.exit(cleanup_fmalloc(rt))
  n <- 2000L
  s <- as_fmalloc(sprintf("element number %d", seq_len(n)), runtime = rt)
  fmalloc_save(s, "s")
  rds <- file.path(dirname(path), "s.rds")
  saveRDS(s, rds)
  ready <- file.path(dirname(path), "ready")
  go <- file.path(dirname(path), "go")
  reader <- callr::r_bg(function(rds, ready, go) {
    library(Rfmalloc)
    options(Rfmalloc.threshold = 10)
    z <- readRDS(rds)
    first <- z[1]
    file.create(ready)
    while (!file.exists(go)) Sys.sleep(0.05)
    try_it <- function(f) {
      tryCatch(list(ok = TRUE, value = f()),
               error = function(e) list(ok = FALSE, value = conditionMessage(e)))
    }
    list(
      first = first,
      head = try_it(function() unclass(head(z))),
      elt = try_it(function() z[[1500]]),
      range = try_it(function() unclass(z[100:1600])),
      isna = try_it(function() sum(is.na(z))),
      nchar = try_it(function() sum(nchar(z))),
      eq = try_it(function() sum(z == "element number 7")),
      paste = try_it(function() unclass(paste0(z, "!")[1:3])),
      copy = try_it(function() { y <- z; y[2] <- "new"; unclass(y[1:3]) }),
      sort = try_it(function() unclass(sort(z)[1:2])),
      chr = try_it(function() as.character(unclass(z))[1:2])
    )
  }, args = list(rds = rds, ready = ready, go = go), libpath = .libPaths(),
  env = c(callr::rcmd_safe_env(), R_TESTS = ""))
  on.exit(reader$kill(), add = TRUE)
  for (i in 1:600) {
    if (file.exists(ready) || !reader$is_alive()) break
    Sys.sleep(0.1)
  }
  expect_true(file.exists(ready))
  alloc <- list_fmalloc_allocations(rt)
  old <- alloc[which(alloc$name == "s"), ]
  rm(s)
  gc()
  fmalloc_destroy("s", runtime = rt)
  fmalloc_sync(rt) # the space is reusable after a sync
  forged <- forged_string_block(old$payload_bytes, n)
  reused <- FALSE
  for (i in 1:20) {
    b <- as_fmalloc(forged, runtime = rt)
    fmalloc_save(b, paste0("b", i))
    a <- list_fmalloc_allocations(rt)
    if (any(a$payload_offset[which(a$name == paste0("b", i))] ==
            old$payload_offset)) {
      reused <- TRUE
      break
    }
  }
  expect_true(reused) # the reader's block now holds the forged bytes
  file.create(go)
  reader$wait(60000)
  expect_false(reader$is_alive())
  res <- reader$get_result() # an error here would mean the reader died
  expect_identical(res$first, "element number 1")
  expected <- sprintf("element number %d", seq_len(n))
  old_answers <- list(
    head = head(expected), elt = expected[[1500]], range = expected[100:1600],
    isna = 0L, nchar = sum(base::nchar(expected)),
    eq = sum(expected == "element number 7"),
    paste = base::paste0(expected, "!")[1:3],
    copy = c(expected[1], "new", expected[3]), sort = sort(expected)[1:2],
    chr = expected[1:2]
  )
  # each answer is the old value or an R error that says what happened
  for (nm in names(old_answers)) {
    r <- res[[nm]]
    if (r$ok) {
      expect_identical(r$value, old_answers[[nm]], info = nm)
    } else {
      expect_match(r$value, "damaged|changed by another process", info = nm)
    }
  }
  # the forged offsets were met: at least the reads through them failed
  expect_false(res$range$ok)
})
