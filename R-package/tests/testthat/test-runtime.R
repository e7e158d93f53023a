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
  # a scratch open beside it is a runtime of its own
  sc <- open_fmalloc(path, mode = "scratch")
  expect_false(identical(sc, rt1))
  expect_equal(diagnose_fmalloc_runtime(sc)$summary$mode, "scratch")
  cleanup_fmalloc(sc)
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
  expect_named(d, c("runtime", "catalog", "holders", "summary"))
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

# Run CODE (a character vector of R lines) in a new Rscript process with
# this session's library path; its output lines.
run_rscript <- function(code) {
  f <- tempfile(fileext = ".R")
  on.exit(unlink(f))
  writeLines(c("suppressMessages(library(Rfmalloc))", code), f)
  suppressWarnings(system2(
    file.path(R.home("bin"), "Rscript"), c("--vanilla", shQuote(f)),
    stdout = TRUE, stderr = TRUE,
    env = paste0("R_LIBS=", paste(.libPaths(), collapse = ":"))
  ))
}

test_that("each scratch open is a runtime of its own", {
  d <- heap_dir()
  a <- open_fmalloc(d, mode = "scratch")
  b <- open_fmalloc(d, mode = "scratch")
  expect_false(identical(a, b))
  x <- as_fmalloc(as.double(1:10), runtime = a)
  y <- as_fmalloc(1:5, runtime = b)
  expect_false(identical(fmalloc_runtime_of(x), fmalloc_runtime_of(y)))
  expect_false(cleanup_fmalloc(b))
  # closing b leaves a open
  z <- create_fmalloc_vector("integer", 3, runtime = a)
  expect_equal(length(z), 3L)
  expect_equal(sum(x), 55)
  expect_equal(sum(y), 15L)
  # init_fmalloc twice: the first default is not closed by the second
  init_fmalloc(d, mode = "scratch")
  first <- fmalloc_default_runtime()
  init_fmalloc(d, mode = "scratch")
  expect_false(identical(first, fmalloc_default_runtime()))
  cleanup_fmalloc()
  w <- create_fmalloc_vector("double", 2, runtime = first)
  expect_equal(length(w), 2L)
  cleanup_fmalloc(first)
  cleanup_fmalloc(a)
  rm(x, y, z, w)
  invisible(gc())
  expect_length(list.files(d, all.files = TRUE, no.. = TRUE), 0)
})

test_that("a reader opens beside a closed writer still held by its vectors", {
  # The library gives a read-only open of a file this process writes a
  # reader of its own (issue 10, item 16); before, it returned the
  # writer heap and open_fmalloc() refused it.
  path <- heap_file()
  rt <- open_fmalloc(path)
  x <- as_fmalloc(c(1.5, 2.5, 3.5), runtime = rt)
  fmalloc_save(x, "x", runtime = rt)
  cleanup_fmalloc(rt) # waits for x
  ro <- open_fmalloc(path, readonly = TRUE)
  expect_true(diagnose_fmalloc_runtime(ro)$summary$readonly)
  y <- fmalloc_load("x", runtime = ro)
  expect_equal(sum(y), 7.5)
  expect_error(fmalloc_save(y, "y", runtime = ro), "read-only")
  expect_equal(sum(x), 7.5)
  cleanup_fmalloc(ro)
  rm(x, y)
  invisible(gc())
})

test_that("open_fmalloc(readonly = TRUE) opens a reader of an unlocked file", {
  path <- heap_file()
  rt <- open_fmalloc(path)
  x <- as_fmalloc(c(1.5, 2.5, 3.5), runtime = rt)
  fmalloc_save(x, "x", runtime = rt)
  # the writer of this session cannot be had read-only as well
  expect_error(open_fmalloc(path, readonly = TRUE), "open for writing")
  cleanup_fmalloc(rt)
  rm(x)
  invisible(gc())
  ro <- open_fmalloc(path, readonly = TRUE)
  expect_true(diagnose_fmalloc_runtime(ro)$summary$readonly)
  expect_true(any(grepl("read-only", capture.output(print(ro)))))
  y <- fmalloc_load("x", runtime = ro)
  expect_equal(sum(y), 7.5)
  expect_error(create_fmalloc_vector("double", 2, runtime = ro), "read-only")
  expect_error(fmalloc_save(y, "y", runtime = ro), "read-only")
  expect_error(open_fmalloc(path), "read-only")
  # no writer holds the lock: another process can write meanwhile
  out <- run_rscript(c(
    sprintf("rt <- open_fmalloc('%s')", path),
    "z <- as_fmalloc(1:3, runtime = rt); fmalloc_save(z, 'z', runtime = rt)",
    "cat('WROTE\\n')"
  ))
  expect_true("WROTE" %in% out, info = paste(out, collapse = "\n"))
  cleanup_fmalloc(ro)
  rm(y)
  invisible(gc())
  missing <- file.path(heap_dir(), "none.fmr")
  expect_error(open_fmalloc(missing, readonly = TRUE), "does not exist")
  expect_false(file.exists(missing))
  expect_error(open_fmalloc(heap_dir(), mode = "scratch", readonly = TRUE),
               "cannot be read-only")
  expect_error(open_fmalloc(path, readonly = NA), "TRUE or FALSE")
  expect_error(init_fmalloc(missing, readonly = TRUE), "does not exist")
  expect_false(init_fmalloc(path, readonly = TRUE))
  expect_true(diagnose_fmalloc_runtime()$summary$readonly)
  cleanup_fmalloc()
})

test_that("max_size_gb sets the reservation and is checked", {
  rt <- open_fmalloc(heap_file(), max_size_gb = 0.25)
  expect_equal(diagnose_fmalloc_runtime(rt)$summary$reserved_size, 2^28)
  cleanup_fmalloc(rt)
  sc <- open_fmalloc(heap_dir(), mode = "scratch", max_size_gb = 0.5)
  expect_equal(diagnose_fmalloc_runtime(sc)$summary$reserved_size, 2^29)
  cleanup_fmalloc(sc)
  init_fmalloc(heap_dir(), mode = "scratch", max_size_gb = 0.25)
  expect_equal(diagnose_fmalloc_runtime()$summary$reserved_size, 2^28)
  cleanup_fmalloc()
  for (bad in list(-1, 0, NA, "1", c(1, 2), Inf)) {
    expect_error(open_fmalloc(heap_file(), max_size_gb = bad),
                 "'max_size_gb' must be NULL or a single positive number")
  }
  expect_error(open_fmalloc(heap_file(), max_size_gb = 2^40), "too large")
})

test_that("diagnose_fmalloc_runtime lists what holds a closing runtime", {
  rt <- open_fmalloc(heap_file())
  x <- as_fmalloc(as.double(1:10), runtime = rt)
  fmalloc_save(x, "x", runtime = rt)
  s <- as_fmalloc(c("a", "b"), runtime = rt)
  expect_false(cleanup_fmalloc(rt))
  h <- diagnose_fmalloc_runtime(rt)$holders
  expect_equal(nrow(h), 2L)
  expect_setequal(h$type, c("double", "character"))
  hx <- h[h$type == "double", ]
  expect_equal(hx$length, 10)
  expect_equal(hx$name, "x")
  expect_equal(hx$state, "record")
  expect_false(is.na(hx$record))
  hs <- h[h$type == "character", ]
  expect_equal(hs$state, "live")
  expect_true(is.na(hs$record))
  rm(x, s)
  invisible(gc())
})

test_that("cleanup_fmalloc(force = TRUE) invalidates vectors and frees the file", {
  path <- heap_file()
  rt <- open_fmalloc(path)
  x <- as_fmalloc(as.double(1:10), runtime = rt)
  fmalloc_save(x, "x", runtime = rt)
  s <- as_fmalloc(c("a", "bb", NA), runtime = rt)
  fmalloc_save(s, "s", runtime = rt)
  s1 <- s[1]
  u <- as_fmalloc(1:6, runtime = rt) # unsaved
  m <- as_fmalloc_matrix(as_fmalloc(as.double(1:6), runtime = rt), nrow = 2)
  l <- create_fmalloc_list(2, runtime = rt)
  l[[1]] <- as_fmalloc(c(TRUE, FALSE), runtime = rt)
  ptr <- fmalloc_vector_payload_ptr(x)
  expect_false(cleanup_fmalloc(rt))
  # the writer lock is still held: another process cannot write
  lock_probe <- c(
    sprintf("r <- tryCatch({open_fmalloc('%s'); 'OPENED'},", path),
    "  error = function(e) conditionMessage(e))",
    "cat(r, '\\n')"
  )
  out <- run_rscript(lock_probe)
  expect_false(any(grepl("OPENED", out)), info = paste(out, collapse = "\n"))
  expect_true(cleanup_fmalloc(rt, force = TRUE))
  expect_true(any(grepl("closed", capture.output(print(rt)))))
  closed <- "closed"
  for (v in list(x, s, u, m, l[[1]])) {
    expect_error(capture.output(print(v)), closed)
    expect_error(v[1], closed)
    expect_error(v[[1]], closed)
    expect_error(format(v), closed)
    expect_error(serialize(v, NULL), closed)
    expect_error(saveRDS(v, tempfile()), closed)
    expect_error(v[1] <- v[2], closed)
    expect_error(fmalloc_save(v, "again"), closed)
  }
  for (v in list(x, u, m)) {
    expect_error(sum(v), closed)
    expect_error(v + 1, closed)
    expect_error(-v, closed)
    expect_error(mean(v), closed)
    expect_error(sort(v), closed)
    expect_error(unclass(v) * 2, closed)
    expect_error(as.vector(v), closed)
  }
  expect_error(m[1, 2], closed)
  expect_error(m %*% t(m), closed)
  expect_error(paste(s), closed)
  expect_error(s == "a", closed)
  expect_error(nchar(s), closed)
  expect_error(unclass(s)[1], closed)
  expect_error(as.character(s), closed)
  expect_error(fmalloc_vector_payload_ptr(x), closed)
  # what does not need the data still answers
  expect_equal(fmalloc_vector_info(x)$state, "closed")
  expect_match(capture.output(try(print(x), silent = TRUE))[1], "closed")
  expect_equal(length(x), 10L)
  expect_equal(length(s), 3L)
  expect_equal(dim(m), c(2L, 3L))
  expect_equal(s1, "a") # a copy made before is ordinary data
  # the file is released: another process opens it for writing and
  # finds what was saved
  out <- run_rscript(c(
    sprintf("rt <- open_fmalloc('%s')", path),
    "cat('SUM', sum(fmalloc_load('x', runtime = rt)), '\\n')",
    "cat('STR', fmalloc_load('s', runtime = rt), '\\n')"
  ))
  expect_true("SUM 55 " %in% out, info = paste(out, collapse = "\n"))
  expect_true("STR a bb NA " %in% out, info = paste(out, collapse = "\n"))
  # and so does this session, in a new runtime
  rt2 <- open_fmalloc(path)
  expect_false(identical(rt2, rt))
  expect_equal(sum(fmalloc_load("x", runtime = rt2)), 55)
  expect_error(sum(x), closed)
  cleanup_fmalloc(rt2, force = TRUE)
  expect_null(cleanup_fmalloc(rt, force = TRUE))
  rm(x, s, u, m, l, v, ptr)
  invisible(gc())
})

test_that("a data pointer held across cleanup_fmalloc(force = TRUE) cannot fault", {
  skip_on_cran() # compiles C code
  skip_if(Sys.which("gcc") == "" && Sys.which("cc") == "", "no C compiler")
  d <- heap_dir()
  src <- file.path(d, "held.c")
  writeLines(c(
    "#include <R.h>",
    "#include <Rinternals.h>",
    "SEXP held_get(SEXP p, SEXP i) {",
    "  return ScalarReal(((double *) R_ExternalPtrAddr(p))[asInteger(i)]);",
    "}",
    "SEXP held_set(SEXP p, SEXP i, SEXP v) {",
    "  ((double *) R_ExternalPtrAddr(p))[asInteger(i)] = asReal(v);",
    "  return R_NilValue;",
    "}"
  ), src)
  out <- system2(file.path(R.home("bin"), "R"), c("CMD", "SHLIB", shQuote(src)),
                 stdout = TRUE, stderr = TRUE)
  so <- file.path(d, paste0("held", .Platform$dynlib.ext))
  skip_if_not(file.exists(so), paste(out, collapse = "\n"))
  dll <- dyn.load(so)
  on.exit(dyn.unload(so), add = TRUE)
  path <- heap_file()
  rt <- open_fmalloc(path)
  x <- as_fmalloc(as.double(1:1000), runtime = rt)
  fmalloc_save(x, "x", runtime = rt)
  p <- fmalloc_vector_payload_ptr(x)
  expect_equal(.Call(dll$held_get, p, 9L), 10)
  expect_true(cleanup_fmalloc(rt, force = TRUE))
  # stand-in memory, not the file and not a fault
  expect_equal(.Call(dll$held_get, p, 9L), 0)
  .Call(dll$held_set, p, 9L, -1)
  # a heap opened meanwhile is mapped elsewhere: the write reached nothing
  rt2 <- open_fmalloc(path)
  y <- fmalloc_load("x", runtime = rt2)
  expect_equal(y[10], 10)
  p2 <- fmalloc_vector_payload_ptr(y)
  expect_false(identical(capture.output(print(p)), capture.output(print(p2))))
  cleanup_fmalloc(rt2, force = TRUE)
  rm(x, y, p, p2)
  invisible(gc())
})

# bytes of disk the file at PATH takes (st_blocks), from du; NA without du
disk_bytes <- function(path) {
  if (!nzchar(Sys.which("du"))) {
    return(NA_real_)
  }
  out <- system2("du", c("-k", shQuote(path)), stdout = TRUE)
  as.numeric(strsplit(out[[1]], "\t", fixed = TRUE)[[1]][[1]]) * 1024
}

test_that("size_gb is a hint: the file takes the disk its data needs", {
  path <- heap_file()
  rt <- open_fmalloc(path, size_gb = 8)
  x <- create_fmalloc_vector("double", 2^20, runtime = rt) # 8 MiB
  x[] <- seq_len(2^20)
  fmalloc_save(x, "x", runtime = rt)
  expect_lt(file.size(path), 100 * 2^20)
  bytes <- disk_bytes(path)
  if (!is.na(bytes)) {
    expect_lt(bytes, 100 * 2^20)
    # the blocks of the file are reserved, not a sparse promise
    expect_gte(bytes, file.size(path) * 0.99)
  }
  # it grows on demand past its first size, in steps of size_gb / 8
  y <- create_fmalloc_vector("double", 2^24, runtime = rt) # 128 MiB
  y[] <- 1
  expect_gt(file.size(path), 128 * 2^20)
  expect_lt(file.size(path), 128 * 2^20 + 1.2 * 2^30)
  expect_equal(sum(x), sum(as.numeric(seq_len(2^20))))
  expect_equal(sum(y), 2^24)
  rm(x, y)
  gc()
  cleanup_fmalloc(rt)
  # a small hint gives a small file
  p2 <- heap_file()
  rt2 <- open_fmalloc(p2, size_gb = 0.01)
  expect_lte(file.size(p2), 0.01 * 2^30 + 2^16)
  cleanup_fmalloc(rt2)
})

test_that("size_gb larger than the free disk is an error that creates nothing", {
  d <- heap_dir()
  path <- file.path(d, "huge.fmr")
  expect_error(open_fmalloc(path, size_gb = 2^30),
               "size_gb asks for .* GiB, but its file system has only .* GiB free")
  expect_false(file.exists(path))
  expect_identical(list.files(d, all.files = TRUE, no.. = TRUE), character())
  expect_error(init_fmalloc(path, size_gb = 2^30), "GiB free")
  expect_false(file.exists(path))
  expect_error(open_fmalloc(d, size_gb = 2^30, mode = "scratch"), "GiB free")
  expect_identical(list.files(d, all.files = TRUE, no.. = TRUE), character())
  # an existing file opens whatever the hint: only its growth step is taken
  rt <- open_fmalloc(path)
  cleanup_fmalloc(rt)
  size <- file.size(path)
  rt <- open_fmalloc(path, size_gb = 2^30)
  expect_s3_class(rt, "fmalloc_runtime")
  expect_equal(file.size(path), size)
  cleanup_fmalloc(rt)
})
