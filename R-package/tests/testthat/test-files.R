# A heap file deleted, replaced or moved while a runtime has it open.

# names saved in the heap file PATH, read by a fresh R process
names_in_file <- function(path) {
  script <- tempfile(fileext = ".R")
  on.exit(unlink(script))
  writeLines(c(
    "suppressMessages(library(Rfmalloc))",
    sprintf("rt <- open_fmalloc(%s)", deparse(path)),
    "cat(sort(list_fmalloc_allocations(rt)$name), sep = '\\n')"
  ), script)
  out <- system2(file.path(R.home("bin"), "Rscript"), shQuote(script),
                 stdout = TRUE, stderr = TRUE,
                 env = paste0("R_LIBS=", paste(.libPaths(), collapse = ":")))
  expect_null(attr(out, "status"), info = paste(out, collapse = "\n"))
  out
}

# a closed heap file at PATH holding the integer vector VALUE as NAME
make_heap_file <- function(path, name, value) {
  rt <- open_fmalloc(path)
  local(fmalloc_save(as_fmalloc(value, runtime = rt), name, runtime = rt))
  invisible(gc())
  expect_true(cleanup_fmalloc(rt))
}

test_that("a save into a deleted heap file is an error; the path opens anew", {
  p <- heap_file()
  on.exit(cleanup_fmalloc())
  init_fmalloc(p)
  old <- fmalloc_default_runtime()
  x <- as_fmalloc(1:10)
  fmalloc_save(x, "x")
  s <- as_fmalloc(c("a", "b"))
  fmalloc_save(s, "s")
  expect_identical(fmalloc_runtime_info()$file_state, "current")
  unlink(p)
  expect_error(fmalloc_save(as_fmalloc(1:3), "y"),
               "the heap file '.*heap.fmr' was deleted after")
  expect_error(fmalloc_save(as_fmalloc(1:3), "y"), "open_fmalloc")
  expect_error(fmalloc_sync(), "was deleted after .*open_fmalloc")
  # a character vector that must grow its block in the record: refused,
  # and the vector keeps its value
  expect_error(s[1] <- strrep("x", 5000), "was deleted after")
  expect_same(s[], c("a", "b"))
  expect_error(fmalloc_destroy(s), "was deleted after")
  expect_identical(fmalloc_runtime_info()$file_state, "deleted")
  expect_identical(diagnose_fmalloc_runtime()$summary$file_state, "deleted")
  expect_output(print(old), "deleted")
  # the old runtime's vectors stay readable
  expect_same(x[], 1:10)
  expect_identical(sum(x), 55L)
  # they serialize by value: a reference to the path could not find them
  expect_same(unserialize(serialize(x, NULL))[], 1:10)
  z <- as_fmalloc(c(2.5, NA))
  rds <- tempfile(fileext = ".rds")
  saveRDS(z, rds)
  expect_same(readRDS(rds), c(2.5, NA))

  rt <- open_fmalloc(p)
  expect_true(file.exists(p))
  expect_false(identical(rt, old))
  expect_identical(fmalloc_runtime_info(rt)$file_state, "current")
  expect_identical(fmalloc_runtime_info(rt)$catalog_count, 0)
  expect_error(fmalloc_load("x", runtime = rt), "no object named 'x'")
  local(fmalloc_save(as_fmalloc(x[], runtime = rt), "y", runtime = rt))
  # init_fmalloc() installs the new runtime as the default
  expect_false(init_fmalloc(p))
  expect_identical(fmalloc_default_runtime(), rt)
  local(fmalloc_save(as_fmalloc(2:3), "z"))
  cleanup_fmalloc()
  invisible(gc())
  expect_identical(names_in_file(p), c("y", "z"))
})

test_that("a reference resolves to the file at its path now", {
  d <- heap_dir()
  p <- file.path(d, "h.fmr")
  q <- file.path(d, "other.fmr")
  rds <- file.path(d, "x.rds")
  rt <- open_fmalloc(p)
  x <- as_fmalloc(as.double(1:5), runtime = rt)
  fmalloc_save(x, "x", runtime = rt)
  saveRDS(x, rds)
  expect_same(readRDS(rds)[], as.double(1:5))

  # replaced by another heap: its uuid check refuses the reference
  make_heap_file(q, "o", 7:9)
  expect_true(file.rename(q, p))
  expect_identical(fmalloc_runtime_info(rt)$file_state, "replaced")
  expect_warning(z <- readRDS(rds),
                 "not the heap file the object was saved from")
  expect_true(is_fmalloc_unresolved(z))
  expect_error(z[1], "not the heap file the object was saved from")
  expect_error(fmalloc_save(as_fmalloc(1:2, runtime = rt), "n", runtime = rt),
               "was replaced")
  now <- open_fmalloc(p)
  expect_false(identical(now, rt))
  expect_same(fmalloc_load("o", runtime = now)[], 7:9)
  expect_same(x[], as.double(1:5))
})

test_that("a heap file replaced by a copy of itself: references follow it", {
  d <- heap_dir()
  p <- file.path(d, "h.fmr")
  q <- file.path(d, "copy.fmr")
  rds <- file.path(d, "x.rds")
  rt <- open_fmalloc(p)
  x <- as_fmalloc(c(a = 1.5, b = 2.5), runtime = rt)
  fmalloc_save(x, "x", runtime = rt)
  saveRDS(x, rds)
  expect_true(file.copy(p, q))
  expect_true(file.rename(q, p))
  # the save after the copy would vanish with the old file
  expect_error(fmalloc_save(as_fmalloc(1:2, runtime = rt), "late",
                            runtime = rt), "was replaced")
  y <- readRDS(rds)
  expect_same(y[], c(a = 1.5, b = 2.5))
  ry <- fmalloc_runtime(y)
  expect_false(identical(ry, rt))
  expect_identical(fmalloc_runtime_info(ry)$file_state, "current")
  expect_identical(fmalloc_runtime_info(ry)$uuid,
                   fmalloc_runtime_info(rt)$uuid)
  # the copy takes saves; the old runtime's vector is still readable
  fmalloc_save(as_fmalloc(3:4, runtime = ry), "w", runtime = ry)
  expect_same(x[], c(a = 1.5, b = 2.5))
  rm(y)
  cleanup_fmalloc(ry)
  invisible(gc())
  expect_identical(names_in_file(p), c("w", "x"))
})

test_that("a moved heap file keeps taking saves; its old path opens anew", {
  d <- heap_dir()
  p <- file.path(d, "h.fmr")
  q <- file.path(d, "moved.fmr")
  rt <- open_fmalloc(p)
  fmalloc_save(as_fmalloc(1:3, runtime = rt), "a", runtime = rt)
  expect_true(file.rename(p, q))
  expect_identical(fmalloc_runtime_info(rt)$file_state, "moved")
  fmalloc_save(as_fmalloc(4:6, runtime = rt), "b", runtime = rt)
  now <- open_fmalloc(p)
  expect_false(identical(now, rt))
  expect_identical(fmalloc_runtime_info(now)$catalog_count, 0)
  invisible(gc())
  cleanup_fmalloc(rt)
  rm(rt)
  invisible(gc())
  expect_identical(names_in_file(q), c("a", "b"))
})

test_that("a scratch runtime has no file state", {
  rt <- open_fmalloc(heap_dir(), mode = "scratch")
  expect_identical(fmalloc_runtime_info(rt)$file_state, NA_character_)
  cleanup_fmalloc(rt)
})
