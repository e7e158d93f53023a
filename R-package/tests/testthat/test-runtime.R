test_that("open_fmalloc returns a runtime that prints", {
  path <- heap_file()
  rt <- open_fmalloc(path, size_gb = 0.01)
  expect_s3_class(rt, "fmalloc_runtime")
  expect_true(file.exists(path))
  out <- capture.output(print(rt))
  expect_true(any(grepl("persistent", out)))
  expect_true(any(grepl("open", out)))
  expect_true(any(grepl("records", out)))
  cleanup_fmalloc(rt)
  expect_true(any(grepl("closed", capture.output(print(rt)))))
})

test_that("opening an open path returns the same runtime", {
  path <- heap_file()
  rt1 <- open_fmalloc(path)
  rt2 <- open_fmalloc(path)
  expect_same(rt1, rt2)
  expect_error(open_fmalloc(path, mode = "scratch"), "already open")
  cleanup_fmalloc(rt1)
})

test_that("bad arguments are errors", {
  expect_error(open_fmalloc(NA_character_), "single non-empty string")
  expect_error(open_fmalloc(1), "single non-empty string")
  expect_error(open_fmalloc(file.path(tempdir(), "no", "such", "x.fmr")),
               "does not exist")
  expect_error(open_fmalloc(heap_file(), size_gb = -1), "size_gb")
  expect_error(open_fmalloc(heap_file(), mode = "other"))
  f <- tempfile()
  writeBin(as.raw(1:200), f)
  expect_error(open_fmalloc(f), "cannot open")
  expect_same(readBin(f, "raw", 300), as.raw(1:200))
})

test_that("init_fmalloc installs the default runtime", {
  init_fmalloc(heap_dir(), mode = "scratch")
  rt <- fmalloc_default_runtime()
  x <- create_fmalloc_vector("double", 4)
  expect_same(fmalloc_runtime_of(x), rt)
  cleanup_fmalloc()
  expect_error(create_fmalloc_vector("double", 4), "no default")
})

test_that("a closed runtime refuses new vectors but keeps old ones", {
  rt <- open_fmalloc(heap_dir(), mode = "scratch")
  x <- create_fmalloc_vector("integer", 10, runtime = rt)
  x[] <- 1:10
  expect_false(cleanup_fmalloc(rt))
  expect_error(create_fmalloc_vector("integer", 1, runtime = rt), "closed")
  expect_equal(sum(x), 55L)
  rm(x)
  invisible(gc())
  expect_true(any(grepl("closed", capture.output(print(rt)))))
})

test_that("scratch mode leaves nothing behind", {
  d <- heap_dir()
  rt <- open_fmalloc(d, mode = "scratch")
  x <- create_fmalloc_vector("double", 1000, runtime = rt)
  # no records: the listing shows the live vector only
  l <- list_fmalloc_allocations(rt)
  expect_equal(l$state, "live")
  expect_equal(l$length, 1000)
  expect_equal(l$payload_bytes, 8000)
  rm(x)
  cleanup_fmalloc(rt)
  invisible(gc())
  expect_length(list.files(d, all.files = TRUE, no.. = TRUE), 0)
})

test_that("several runtimes coexist", {
  a <- open_fmalloc(heap_file())
  b <- open_fmalloc(heap_file())
  x <- as_fmalloc(1:5, runtime = a)
  y <- as_fmalloc(6:10, runtime = b)
  expect_equal(x + y, c(7L, 9L, 11L, 13L, 15L))
  expect_false(identical(fmalloc_runtime_of(x), fmalloc_runtime_of(y)))
  cleanup_fmalloc(a)
  cleanup_fmalloc(b)
})

test_that("diagnose_fmalloc_runtime reports sizes and records", {
  rt <- open_fmalloc(heap_file())
  x <- as_fmalloc(as.double(1:100), runtime = rt)
  fmalloc_save(x, "x")
  d <- diagnose_fmalloc_runtime(rt)
  expect_named(d, c("runtime", "catalog", "summary"))
  expect_equal(d$summary$records[["committed"]], 1)
  expect_equal(d$summary$records[["recoverable"]], 1)
  expect_gte(d$summary$file_size, d$summary$used_bytes)
  expect_false(d$summary$recovered)
  expect_gte(d$summary$live_vectors, 1)
  cat <- list_fmalloc_allocations(rt)
  expect_true(all(c("id", "name", "generation", "state", "type", "length",
                    "payload_offset", "payload_bytes", "recoverable") %in%
                    names(cat)))
  expect_equal(cat$name, "x")
  expect_equal(cat$type, "double")
  expect_equal(cat$length, 100)
  cleanup_fmalloc(rt)
})

test_that("exit and unload close heaps cleanly with vectors alive", {
  path <- heap_file()
  in_fresh_r(function(path) {
    rt <- Rfmalloc::open_fmalloc(path)
    x <- Rfmalloc::as_fmalloc(1:10, runtime = rt, name = "x")
    y <- Rfmalloc::create_fmalloc_vector("double", 1e4, runtime = rt)
    invisible(NULL)
  }, list(path = path))
  got <- in_fresh_r(function(path) {
    rt <- Rfmalloc::open_fmalloc(path)
    rec <- Rfmalloc::diagnose_fmalloc_runtime(rt)$summary$recovered
    x <- Rfmalloc::fmalloc_load("x", runtime = rt)
    y <- Rfmalloc::create_fmalloc_vector("double", 1e4, runtime = rt)
    rm(rt)
    unloadNamespace("Rfmalloc")
    invisible(gc())
    rec
  }, list(path = path))
  expect_false(got)
  got <- in_fresh_r(function(path) {
    rt <- Rfmalloc::open_fmalloc(path)
    list(rec = Rfmalloc::diagnose_fmalloc_runtime(rt)$summary$recovered,
         x = Rfmalloc::fmalloc_load("x", runtime = rt)[])
  }, list(path = path))
  expect_false(got$rec)
  expect_same(got$x, 1:10)
})

test_that("compact_fmalloc shrinks a heap file and keeps its records", {
  path <- heap_file()
  rds <- tempfile(fileext = ".rds")
  rt <- open_fmalloc(path)
  keep <- as_fmalloc(c(a = 1.5, b = 2.5), runtime = rt)
  fmalloc_save(keep, "keep", runtime = rt)
  saveRDS(keep, rds)
  junk <- as_fmalloc(as.double(1:2e6), runtime = rt)
  fmalloc_save(junk, "junk", runtime = rt)
  fmalloc_destroy("junk", runtime = rt)
  expect_error(compact_fmalloc(path), "open in this R session")
  cleanup_fmalloc(rt)
  rm(rt, keep, junk)
  invisible(gc())
  sizes <- compact_fmalloc(path)
  expect_named(sizes, c("before", "after"))
  expect_lt(sizes[["after"]], sizes[["before"]] / 2)
  expect_equal(file.size(path), sizes[["after"]])
  rt <- open_fmalloc(path)
  expect_same(fmalloc_load("keep", runtime = rt)[], c(a = 1.5, b = 2.5))
  expect_same(readRDS(rds)[], c(a = 1.5, b = 2.5))
  expect_false("junk" %in% list_fmalloc_allocations(rt)$name)
  cleanup_fmalloc(rt)
  expect_error(compact_fmalloc(file.path(tempdir(), "no-such.fmr")),
               "does not exist")
  expect_error(compact_fmalloc(NA_character_), "single file path")
})
