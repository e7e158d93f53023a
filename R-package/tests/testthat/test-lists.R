test_that("fmalloc lists hold fmalloc vectors of one runtime", {
  rt <- open_fmalloc(heap_file())
  other <- open_fmalloc(heap_dir(), mode = "scratch")
  l <- create_fmalloc_vector("list", 3, runtime = rt)
  expect_s3_class(l, "fmalloc_list")
  expect_true(is_fmalloc(l))
  l[[1]] <- as_fmalloc(1:3, runtime = rt)
  l[2] <- list(NULL)
  expect_length(l, 3)
  expect_error(l[[3]] <- 1:3, "same runtime")
  expect_error(l[[3]] <- as_fmalloc(1:3, runtime = other), "same runtime")
  expect_error(l[[5]] <- 1:3, "same runtime")
  expect_length(l, 3)
  l2 <- as_fmalloc_list(list(a = c(x = 1.5), b = "s", c = NULL),
                        runtime = rt)
  expect_same(names(l2), c("a", "b", "c"))
  expect_true(is_fmalloc(l2$a))
  fmalloc_save(l2, "l2")
  back <- fmalloc_load("l2", runtime = rt)
  expect_s3_class(back, "fmalloc_list")
  expect_same(back$a[], c(x = 1.5))
  expect_same(back$b[], "s")
  expect_null(back$c)
  fmalloc_destroy("l2", runtime = rt)
  expect_equal(sum(list_fmalloc_allocations(rt)$state == "committed"), 0)
  cleanup_fmalloc(rt)
  cleanup_fmalloc(other)
})

list_ids <- function(x) .Call(Rfmalloc:::C_rfm_list_ids, x)

test_that("lists are ALTLIST exactly where R has ALTLIST (R >= 4.3)", {
  rt <- open_fmalloc(heap_dir(), mode = "scratch")
  l <- create_fmalloc_list(2, runtime = rt)
  has <- getRversion() >= "4.3.0"
  expect_same(Rfmalloc:::use_altlist(), has)
  expect_same(.Call(Rfmalloc:::C_rfm_has_altlist), has)
  expect_same(!is.null(list_ids(l)), has)
  expect_same(is.null(attr(l, "fmalloc_ids", exact = TRUE)), has)
  expect_same(typeof(l), "list")
  expect_same(fmalloc_runtime_of(l), rt)
  cleanup_fmalloc(rt)
})

test_that("R 4.2 fallback: an ordinary list with the ids in an attribute", {
  if (getRversion() >= "4.3.0") {
    skip("R >= 4.3 uses the ALTLIST class instead")
  }
  rt <- open_fmalloc(heap_dir(), mode = "scratch")
  l <- create_fmalloc_list(2, runtime = rt)
  ids <- attr(l, "fmalloc_ids", exact = TRUE)
  expect_true(is_fmalloc(ids))
  expect_same(typeof(ids), "double")
  expect_length(ids, 2)
  expect_null(list_ids(l))
  expect_error(.Call(Rfmalloc:::C_rfm_list_new, ids, NULL, FALSE), "R >= 4.3")
  l[[1]] <- as_fmalloc(1:2, runtime = rt)
  expect_same(attr(l, "fmalloc_ids", exact = TRUE), ids)
  expect_same(l[[1]][], 1:2)
  cleanup_fmalloc(rt)
})

test_that("ALTLIST: Elt and Set_elt accept only fmalloc vectors of the runtime", {
  if (getRversion() < "4.3.0") {
    skip("R < 4.3 has no ALTLIST (the fallback is tested above)")
  }
  rt <- open_fmalloc(heap_dir(), mode = "scratch")
  other <- open_fmalloc(heap_dir(), mode = "scratch")
  l <- create_fmalloc_list(3, runtime = rt)
  ids <- list_ids(l)
  expect_true(is_fmalloc(ids))
  expect_length(ids, 3)
  expect_null(l[[1]])
  v <- as_fmalloc(c(2.5, 3.5), runtime = rt)
  l[[1]] <- v
  names(l) <- c("a", "b", "c")
  l["b"] <- list(NULL)
  l$c <- as_fmalloc("s", runtime = rt)
  expect_same(list_ids(l), ids)
  expect_same(l$a[], c(2.5, 3.5))
  expect_same(l[["c"]][], "s")
  expect_same(vapply(l, is.null, logical(1)),
                   c(a = FALSE, b = TRUE, c = FALSE))
  expect_same(lengths(l), c(a = 2L, b = 0L, c = 1L))
  # [<- with several indices, NULL keeps the length
  l[c("a", "c")] <- list(NULL, v)
  expect_null(l$a)
  expect_same(l$c[], c(2.5, 3.5))
  l[2] <- list(NULL)
  expect_length(l, 3)
  # errors from the S3 methods and from Set_elt itself
  expect_error(l[[1]] <- 1:3, "same runtime")
  expect_error(l[[1]] <- as_fmalloc(1:3, runtime = other), "same runtime")
  expect_error(l[[1]] <- list(v), "same runtime")
  expect_error(l[1:2] <- list(v, 2), "same runtime")
  u <- unclass(l)
  expect_false(is.null(list_ids(u)))
  expect_error(u[[1]] <- 1:3, "same runtime")
  expect_error(u[[2]] <- as_fmalloc(1, runtime = other), "another runtime")
  expect_error(.Call(Rfmalloc:::C_rfm_list_set, u, 1, "x"), "same runtime")
  u[[1]] <- v
  expect_same(u[[1]][], c(2.5, 3.5))
  expect_false(is.null(list_ids(u)))
  expect_true(is_fmalloc(u))
  # value semantics: a changed copy leaves the original alone and shares
  # the ids vector (the record)
  l2 <- l
  l2$a <- v
  expect_null(l$a)
  expect_same(l2$a[], c(2.5, 3.5))
  expect_same(list_ids(l2), ids)
  expect_s3_class(l2, "fmalloc_list")
  # subsetting gives an ordinary list of the elements
  s <- l[2:3]
  expect_null(list_ids(s))
  expect_same(s$c[], c(2.5, 3.5))
  expect_output(print(l), "fmalloc_list of 3")
  expect_output(.Internal(inspect(l)), "fmalloc list of 3")
  cleanup_fmalloc(rt)
  cleanup_fmalloc(other)
})

test_that("ALTLIST: saved lists load as ALTLIST, in this and a fresh R", {
  if (getRversion() < "4.3.0") {
    skip("R < 4.3 has no ALTLIST (the fallback is tested above)")
  }
  path <- heap_file()
  rt <- open_fmalloc(path)
  l <- as_fmalloc_list(list(x = 1:3, y = NULL, z = c("p", NA)),
                       runtime = rt)
  expect_false(is.null(list_ids(l)))
  fmalloc_save(l, "l")
  ids <- list_ids(l)
  expect_true(all(ids[c(1, 3)] > 0))
  expect_same(ids[[2]], 0)
  back <- fmalloc_load("l", runtime = rt)
  expect_false(is.null(list_ids(back)))
  expect_s3_class(back, "fmalloc_list")
  expect_same(names(back), c("x", "y", "z"))
  expect_same(back$x[], 1:3)
  expect_same(back$z[], c("p", NA))
  # a changed element is stored when the list is saved again
  back$y <- as_fmalloc(7, runtime = rt)
  fmalloc_save(back, "l")
  # serialized by reference: the same list again
  r <- unserialize(serialize(back, NULL))
  expect_false(is.null(list_ids(r)))
  expect_same(r$y[], 7)
  cleanup_fmalloc(rt)
  rm(rt, l, back, r, ids)
  invisible(gc())
  got <- in_fresh_r(function(path) {
    rt <- Rfmalloc::open_fmalloc(path)
    x <- Rfmalloc::fmalloc_load("l", runtime = rt)
    list(alt = !is.null(.Call(Rfmalloc:::C_rfm_list_ids, x)),
         cls = class(x), vals = lapply(unclass(x), function(e) e[]))
  }, list(path = path))
  expect_true(got$alt)
  expect_same(got$cls, "fmalloc_list")
  expect_same(got$vals, list(x = 1:3, y = 7, z = c("p", NA)))
})

test_that("ALTLIST: serialized by value it reads back as a plain list", {
  if (getRversion() < "4.3.0") {
    skip("R < 4.3 has no ALTLIST (the fallback is tested above)")
  }
  rt <- open_fmalloc(heap_dir(), mode = "scratch")
  l <- as_fmalloc_list(list(a = 1:2, b = NULL), runtime = rt)
  r <- unserialize(serialize(l, NULL))
  expect_null(list_ids(r))
  expect_null(oldClass(r))
  expect_same(r, list(a = 1:2, b = NULL))
  cleanup_fmalloc(rt)
})

test_that("data frames of fmalloc columns save and load", {
  path <- heap_file()
  init_fmalloc(path)
  rt <- fmalloc_default_runtime()
  df <- create_fmalloc_data_frame(id = 1:3, `a b` = c("x", "y", NA),
                                  f = factor(c("u", "v", "u")))
  expect_s3_class(df, "data.frame")
  expect_same(names(df), c("id", "a.b", "f"))
  expect_true(all(vapply(df, is_fmalloc, logical(1))))
  expect_same(levels(df$f), c("u", "v"))
  df2 <- as_fmalloc_data_frame(data.frame(a = 1:2, row.names = c("r", "s")),
                               stringsAsFactors = TRUE)
  expect_same(rownames(df2), c("r", "s"))
  df3 <- create_fmalloc_data_frame(s = c("p", "q"), stringsAsFactors = TRUE)
  expect_s3_class(df3$s, "factor")
  fmalloc_save(df, "df")
  cleanup_fmalloc(rt)
  rm(rt, df, df2, df3)
  invisible(gc())
  got <- in_fresh_r(function(path) {
    rt <- Rfmalloc::open_fmalloc(path)
    x <- Rfmalloc::fmalloc_load("df", runtime = rt)
    list(df = as.data.frame(lapply(x, `[`)), cls = class(x),
         names = names(x))
  }, list(path = path))
  expect_same(got$cls, "data.frame")
  expect_same(got$df$id, 1:3)
  expect_same(got$df$a.b, c("x", "y", NA))
  expect_same(as.character(got$df$f), c("u", "v", "u"))
})

test_that("as_fmalloc_matrix and as_fmalloc_array shape vectors", {
  init_fmalloc(heap_dir(), mode = "scratch")
  rt <- fmalloc_default_runtime()
  x <- as_fmalloc(as.double(1:6))
  m <- as_fmalloc_matrix(x, nrow = 2)
  expect_same(dim(m), c(2L, 3L))
  expect_true(is_fmalloc(m))
  m2 <- as_fmalloc_matrix(x, ncol = 2, copy = FALSE)
  m2[1, 1] <- 100
  expect_same(x[1], 100)
  expect_true(vec_info(m2)$alias)
  a <- as_fmalloc_array(matrix(1:4, 2, dimnames = list(c("a", "b"), NULL)))
  expect_same(dim(a), c(2L, 2L))
  expect_same(rownames(a), c("a", "b"))
  expect_true(is_fmalloc(a))
  expect_error(as_fmalloc_matrix(x, nrow = 4), "do not match")
  a3 <- as_fmalloc_array(1:24, dim = c(2, 3, 4))
  expect_same(a3[2, 3, 4], 24L)
  cleanup_fmalloc()
})

test_that("nested changes of short elements copy them back into the runtime", {
  rt <- open_fmalloc(heap_file())
  other <- open_fmalloc(heap_dir(), mode = "scratch")
  l <- as_fmalloc_list(list(a = c(1, 2, 3), b = c("x", "y"), c = NULL),
                       runtime = rt)
  before <- l$a
  l[[1]][2] <- 5
  l$b[1] <- "z"
  expect_true(is_fmalloc(l$a))
  expect_same(fmalloc_runtime_of(l$a), rt)
  expect_same(l$a[], c(1, 5, 3))
  expect_same(l$b[], c("z", "y"))
  # the old element is a value of its own, unchanged
  expect_same(before[], c(1, 2, 3))
  # still refused: a new type, a NULL slot, a vector of another runtime
  expect_error(l$a[2] <- "q", "same runtime")
  expect_error(l$c <- 1:2, "same runtime")
  expect_error(l$a <- as_fmalloc(c(1, 2), runtime = other), "same runtime")
  expect_same(l$a[], c(1, 5, 3))
  # and the change persists like any element
  fmalloc_save(l, "nested", runtime = rt)
  back <- fmalloc_load("nested", runtime = rt)
  expect_same(back$a[], c(1, 5, 3))
  expect_same(back$b[], c("z", "y"))
})

test_that("a list holding one vector in two slots is destroyed once", {
  rt <- open_fmalloc(heap_file())
  v <- as_fmalloc(1:3, runtime = rt)
  l <- create_fmalloc_list(3, runtime = rt)
  l[[1]] <- v
  l[[2]] <- v
  fmalloc_save(l, "L", runtime = rt)
  expect_equal(nrow(list_fmalloc_allocations(rt)), 2)
  fmalloc_destroy("L", runtime = rt)
  expect_equal(nrow(list_fmalloc_allocations(rt)), 0)
  expect_error(v[1], "destroyed")
  # the same through the list object, saved or not
  w <- as_fmalloc(c(1.5, 2.5), runtime = rt)
  m <- create_fmalloc_list(2, runtime = rt)
  m[[1]] <- w
  m[[2]] <- w
  fmalloc_destroy(m)
  expect_error(w[1], "destroyed")
  expect_equal(nrow(list_fmalloc_allocations(rt)), 0)
})

# Run the R code CODE (lines) in a new R process with this session's
# libraries; the value it leaves in `result` (NULL if it died first).
run_child_r <- function(code) {
  f <- tempfile(fileext = ".R")
  out <- tempfile(fileext = ".rds")
  writeLines(c("suppressPackageStartupMessages(library(Rfmalloc))", code,
               "options(Rfmalloc.serialize = 'value')",
               sprintf("saveRDS(result, %s)", deparse(out))), f)
  log <- suppressWarnings(system2(
    file.path(R.home("bin"), "Rscript"), c("--vanilla", shQuote(f)),
    stdout = TRUE, stderr = TRUE,
    env = paste0("R_LIBS=", paste(.libPaths(), collapse = ":"))))
  got <- if (file.exists(out)) tryCatch(readRDS(out), error = function(e) NULL)
  if (is.null(got)) {
    return(structure(list(), log = log))
  }
  got
}

# Close RT and collect what this process holds of its heap, so that a
# new process opens it as the first writer (and runs the orphan sweep).
release_heap <- function(rt) {
  cleanup_fmalloc(rt)
  invisible(gc())
}

test_that("destroying a list keeps elements saved by name or held by another saved list", {
  path <- heap_file()
  rt <- open_fmalloc(path)
  e <- as_fmalloc(1:5, runtime = rt)
  fmalloc_save(e, "e")
  u <- as_fmalloc(c(0.5, 1.5), runtime = rt)
  L <- create_fmalloc_vector("list", 2, runtime = rt)
  L[[1]] <- e
  L[[2]] <- u
  fmalloc_save(L, "L")
  L2 <- create_fmalloc_vector("list", 1, runtime = rt)
  L2[[1]] <- e
  fmalloc_save(L2, "L2")
  L3 <- create_fmalloc_vector("list", 1, runtime = rt)
  L3[[1]] <- u
  fmalloc_save(L3, "L3")
  fmalloc_destroy("L", runtime = rt)
  expect_error(fmalloc_load("L", runtime = rt), "no object named")
  expect_same(fmalloc_load("e", runtime = rt)[], 1:5)
  expect_same(fmalloc_load("L2", runtime = rt)[[1]][], 1:5)
  expect_same(fmalloc_load("L3", runtime = rt)[[1]][], c(0.5, 1.5))
  expect_same(e[], 1:5)
  expect_same(u[], c(0.5, 1.5))
  # the same by object
  L <- create_fmalloc_vector("list", 2, runtime = rt)
  L[[1]] <- e
  L[[2]] <- u
  fmalloc_save(L, "L")
  fmalloc_destroy(L)
  expect_error(fmalloc_load("L", runtime = rt), "no object named")
  expect_same(fmalloc_load("L2", runtime = rt)[[1]][], 1:5)
  expect_same(fmalloc_load("L3", runtime = rt)[[1]][], c(0.5, 1.5))
  rm(e, u, L, L2, L3)
  release_heap(rt)
  # and the sweep of the next writer frees none of it
  got <- run_child_r(c(
    sprintf("rt <- open_fmalloc(%s)", deparse(path)),
    "d <- diagnose_fmalloc_runtime(rt)$summary",
    "result <- list(swept = d$orphans_freed,",
    "  e = fmalloc_load('e', runtime = rt)[],",
    "  l2 = fmalloc_load('L2', runtime = rt)[[1]][],",
    "  l3 = fmalloc_load('L3', runtime = rt)[[1]][])"))
  expect_equal(got$swept, 0, info = attr(got, "log"))
  expect_same(got$e, 1:5)
  expect_same(got$l2, 1:5)
  expect_same(got$l3, c(0.5, 1.5))
})

test_that("fmalloc_destroy of a vector a saved list holds takes only its name", {
  rt <- open_fmalloc(heap_file())
  e <- as_fmalloc(c(2.5, 3.5), runtime = rt)
  fmalloc_save(e, "e")
  L <- as_fmalloc_list(list(a = e), runtime = rt)
  fmalloc_save(L, "L")
  fmalloc_destroy("e", runtime = rt)
  expect_error(fmalloc_load("e", runtime = rt), "no object named")
  expect_same(e[], c(2.5, 3.5))
  expect_same(fmalloc_load("L", runtime = rt)$a[], c(2.5, 3.5))
  # the name is free again
  fmalloc_save(as_fmalloc(1L, runtime = rt), "e")
  # an unnamed element cannot be destroyed on its own: its list needs it
  expect_error(fmalloc_destroy(fmalloc_load("L", runtime = rt)$a),
               "element of a saved fmalloc list")
  expect_same(fmalloc_load("L", runtime = rt)$a[], c(2.5, 3.5))
  # destroying the last list that holds it frees it
  fmalloc_destroy("L", runtime = rt)
  expect_error(e[1], "destroyed")
  cat <- list_fmalloc_allocations(rt)
  expect_same(cat$name[cat$state == "committed"], "e")
  # the same for a list saved on its own and held by another
  b <- as_fmalloc_list(list(x = c(1.5, 2.5)), runtime = rt)
  fmalloc_save(b, "b")
  a <- as_fmalloc_list(list(b = b), runtime = rt)
  fmalloc_save(a, "a")
  fmalloc_destroy("b", runtime = rt)
  expect_error(fmalloc_load("b", runtime = rt), "no object named")
  expect_same(fmalloc_load("a", runtime = rt)$b$x[], c(1.5, 2.5))
  fmalloc_destroy("a", runtime = rt)
  cat <- list_fmalloc_allocations(rt)
  expect_same(cat$name[cat$state == "committed"], "e")
  cleanup_fmalloc(rt)
})

# A heap with: "e" (named, also in L), L = list(e, u, inner = list(v, w)),
# L2 = list(v): u and w are only in L.
crash_heap <- function(path) {
  rt <- open_fmalloc(path)
  e <- as_fmalloc(1:3, runtime = rt)
  fmalloc_save(e, "e")
  v <- as_fmalloc(c(7.5, 8.5), runtime = rt)
  L <- as_fmalloc_list(list(e = e, u = "only-in-L",
                            inner = list(v = v, w = as.double(1:1000))),
                       runtime = rt)
  L$inner$v <- v
  fmalloc_save(L, "L")
  L2 <- create_fmalloc_list(1, runtime = rt)
  L2[[1]] <- v
  fmalloc_save(L2, "L2")
  rm(e, v, L, L2)
  release_heap(rt)
}

crash_check <- function(path) {
  run_child_r(c(
    sprintf("rt <- open_fmalloc(%s)", deparse(path)),
    "d <- diagnose_fmalloc_runtime(rt)$summary",
    "l <- tryCatch(fmalloc_load('L', runtime = rt), error = function(e) NULL)",
    "cat <- list_fmalloc_allocations(rt)",
    "result <- list(swept = d$orphans_freed,",
    "  committed = sum(cat$state == 'committed'),",
    "  names = cat$name[cat$state == 'committed' & !is.na(cat$name)],",
    "  L = if (!is.null(l)) list(l$e[], l$u[], l$inner$v[], l$inner$w[]),",
    "  Lnames = names(l), more = if (!is.null(l$more)) l$more$z[],",
    "  e = fmalloc_load('e', runtime = rt)[],",
    "  l2 = fmalloc_load('L2', runtime = rt)[[1]][])"))
}

test_that("kill -9 between the steps of a list destroy: all or nothing, over nested lists", {
  n_steps <- length(body(Rfmalloc:::destroy_list)) - 1L
  expect_gte(n_steps, 4)
  for (step in seq_len(n_steps + 1L)) {
    path <- heap_file()
    crash_heap(path)
    marker <- tempfile()
    run_child_r(c(
      sprintf("rt <- open_fmalloc(%s)", deparse(path)),
      if (step <= n_steps) {
        c(sprintf("trace(Rfmalloc:::destroy_list, at = %d, print = FALSE,",
                  step + 1L),
          sprintf("  tracer = quote({file.create(%s);", deparse(marker)),
          "    tools::pskill(Sys.getpid(), tools::SIGKILL)}))")
      },
      "fmalloc_destroy('L', runtime = rt)",
      if (step > n_steps) {
        c(sprintf("file.create(%s)", deparse(marker)),
          "tools::pskill(Sys.getpid(), tools::SIGKILL)")
      },
      "result <- NULL"))
    expect_true(file.exists(marker), info = step)
    got <- crash_check(path)
    expect_same(got$e, 1:3, info = step)
    expect_same(got$l2, c(7.5, 8.5), info = step)
    if ("L" %in% got$names) {
      expect_same(got$L, list(1:3, "only-in-L", c(7.5, 8.5),
                              as.double(1:1000)), info = step)
      expect_equal(got$committed, 7, info = step)
    } else {
      # gone: u, w and the inner list's record with it, nothing else
      expect_same(sort(got$names), sort(c("e", "L2")), info = step)
      expect_equal(got$committed, 3, info = step)
    }
  }
})

test_that("kill -9 inside the save of a nested list: each list old or new", {
  # re-save L with a new shape, a new element in its inner list and a
  # new nested list, dying before the commit of the inner list (hit 1),
  # of the new list (2) or of L itself (3).  Each list's record changes
  # in one step (the ids and the names together), inner lists first.
  swept <- c(1, 2, 2)
  for (hit in 1:3) {
    path <- heap_file()
    crash_heap(path)
    marker <- tempfile()
    run_child_r(c(
      sprintf("rt <- open_fmalloc(%s)", deparse(path)),
      "L <- fmalloc_load('L', runtime = rt)",
      "L$u <- NULL",
      "L$inner$w <- as_fmalloc(c(-1, -2), runtime = rt)",
      "L$more <- as_fmalloc_list(list(z = 'new'), runtime = rt)",
      "b <- as.list(body(Rfmalloc:::save_list))",
      "at <- which(vapply(b, function(e) any(grepl('C_rfm_save, ids',",
      "  deparse(e), fixed = TRUE)), NA))",
      ".hits <- 0",
      "trace(Rfmalloc:::save_list, at = at, print = FALSE,",
      "  tracer = quote({.hits <<- .hits + 1",
      sprintf("    if (.hits == %d) {file.create(%s);", hit, deparse(marker)),
      "      tools::pskill(Sys.getpid(), tools::SIGKILL)}}))",
      "fmalloc_save(L, 'L', runtime = rt)",
      "result <- NULL"))
    expect_true(file.exists(marker), info = hit)
    got <- crash_check(path)
    expect_same(got$e, 1:3, info = hit)
    expect_same(got$l2, c(7.5, 8.5), info = hit)
    expect_same(sort(got$names), sort(c("e", "L", "L2")), info = hit)
    expect_equal(got$swept, swept[[hit]], info = hit)
    if (hit < 3) {
      expect_same(got$Lnames, c("e", "u", "inner"), info = hit)
      expect_same(got$L, list(1:3, "only-in-L", c(7.5, 8.5), c(-1, -2)),
                  info = hit)
      expect_null(got$more)
    } else {
      expect_same(got$Lnames, c("e", "inner", "more"), info = hit)
      expect_same(got$L, list(1:3, NULL, c(7.5, 8.5), c(-1, -2)),
                  info = hit)
      expect_same(got$more, "new")
    }
  }
  # a first save killed before its commit leaves nothing
  path <- heap_file()
  crash_heap(path)
  marker <- tempfile()
  run_child_r(c(
    sprintf("rt <- open_fmalloc(%s)", deparse(path)),
    "N <- as_fmalloc_list(list(a = 1:10, b = list(c = 'x', d = list(2.5))),",
    "  runtime = rt)",
    "b <- as.list(body(Rfmalloc:::save_list))",
    "at <- which(vapply(b, function(e) any(grepl('C_rfm_save, ids',",
    "  deparse(e), fixed = TRUE)), NA))",
    "trace(Rfmalloc:::save_list, at = at, print = FALSE,",
    "  tracer = quote(if (!is.null(name)) {",
    sprintf("    file.create(%s)", deparse(marker)),
    "    tools::pskill(Sys.getpid(), tools::SIGKILL)}))",
    "fmalloc_save(N, 'N', runtime = rt)",
    "result <- NULL"))
  expect_true(file.exists(marker))
  got <- crash_check(path)
  expect_equal(got$swept, 5)
  expect_same(sort(got$names), sort(c("e", "L", "L2")))
  expect_equal(got$committed, 7)
})

test_that("fmalloc lists hold fmalloc lists at any depth", {
  path <- heap_file()
  rt <- open_fmalloc(path)
  a <- create_fmalloc_vector("list", 1, runtime = rt)
  b <- create_fmalloc_vector("list", 2, runtime = rt)
  b[[1]] <- as_fmalloc(c(1.5, 2.5), runtime = rt)
  a[[1]] <- b
  expect_s3_class(a[[1]], "fmalloc_list")
  expect_same(a[[1]][[1]][], c(1.5, 2.5))
  # as_fmalloc_list converts a nested plain list
  n <- as_fmalloc_list(list(x = 1:2, y = list(z = "q", w = list(v = TRUE))),
                       runtime = rt)
  expect_s3_class(n$y, "fmalloc_list")
  expect_s3_class(n$y$w, "fmalloc_list")
  expect_true(is_fmalloc(n$y$w$v))
  expect_same(fmalloc_runtime_of(n$y$w), rt)
  n$y$w$v[1] <- FALSE
  expect_same(n$y$w$v[], FALSE)
  # another runtime's list is refused
  other <- open_fmalloc(heap_dir(), mode = "scratch")
  expect_error(a[[1]] <- create_fmalloc_list(1, runtime = other),
               "same runtime")
  # a list that would hold itself, directly or deeper, is refused
  expect_error(a[[1]] <- a, "hold itself")
  bb <- a[[1]]
  expect_error(bb[[2]] <- a, "hold itself")
  expect_error(n$y$w$self <- n, "hold itself")
  expect_error(a[1] <- list(a), "hold itself")
  fmalloc_save(n, "n")
  fmalloc_save(a, "a")
  back <- fmalloc_load("n", runtime = rt)
  expect_s3_class(back$y$w, "fmalloc_list")
  # ALTLIST objects at every depth where R has ALTLIST
  has <- getRversion() >= "4.3.0"
  expect_same(!is.null(list_ids(back$y)), has)
  expect_same(!is.null(list_ids(back$y$w)), has)
  expect_same(back$y$z[], "q")
  expect_same(back$y$w$v[], FALSE)
  expect_same(names(back$y), c("z", "w"))
  f <- tempfile(fileext = ".rds")
  saveRDS(back, f)
  rm(a, b, bb, n, back)
  release_heap(rt)
  cleanup_fmalloc(other)
  got <- run_child_r(c(
    sprintf("rt <- open_fmalloc(%s)", deparse(path)),
    "n <- fmalloc_load('n', runtime = rt)",
    "a <- fmalloc_load('a', runtime = rt)",
    sprintf("r <- readRDS(%s)", deparse(f)),
    "val <- function(x) {v <- vector(typeof(x), length(x)); v[] <- x[]; v}",
    "result <- list(n = list(val(n$x), val(n$y$z), val(n$y$w$v)),",
    "  cls = class(n$y$w), a = val(a[[1]][[1]]), a2 = is.null(a[[1]][[2]]),",
    "  r = list(val(r$x), val(r$y$z), val(r$y$w$v)), rcls = class(r$y$w),",
    "  rfm = is_fmalloc(r$y$w$v))",
    "fmalloc_destroy('n', runtime = rt)",
    "fmalloc_destroy(a)",
    "cat <- list_fmalloc_allocations(rt)",
    "result$left <- sum(cat$state == 'committed')"))
  expect_same(got$n, list(1:2, "q", FALSE), info = attr(got, "log"))
  expect_same(got$cls, "fmalloc_list")
  expect_same(got$a, c(1.5, 2.5))
  expect_true(got$a2)
  expect_same(got$r, list(1:2, "q", FALSE))
  expect_same(got$rcls, "fmalloc_list")
  expect_true(got$rfm)
  # destroying the trees freed every record of them
  expect_equal(got$left, 0)
})

test_that("NULL drops an element of an fmalloc list, as in base R; new ones add", {
  path <- heap_file()
  rt <- open_fmalloc(path)
  v <- as_fmalloc(1:3, runtime = rt)
  base <- list(a = 1:3, b = NULL, c = 1:3, d = 1:3)
  l <- create_fmalloc_list(4, runtime = rt)
  names(l) <- names(base)
  l$a <- v
  l$c <- v
  l$d <- v
  plain <- function(x) lapply(unclass(x), function(e) if (!is.null(e)) e[])
  strip <- function(x) {
    x <- plain(x)
    attr(x, "fmalloc_ids") <- NULL
    x
  }
  l[["a"]] <- NULL
  base[["a"]] <- NULL
  expect_s3_class(l, "fmalloc_list")
  expect_same(strip(l), base)
  l$c <- NULL
  base$c <- NULL
  expect_same(strip(l), base)
  l[["zz"]] <- NULL # not there: nothing happens
  expect_same(strip(l), base)
  # [<- NULL drops, [<- list(NULL) keeps the slot
  l2 <- l
  l2[1] <- NULL
  expect_same(names(l2), "d")
  l2 <- l
  l2[1] <- list(NULL)
  expect_same(names(l2), c("b", "d"))
  # positions: x[[i]] <- NULL
  l[[1]] <- NULL
  expect_same(names(l), "d")
  # growing: x[[length(x) + 1]] <- v and x$new <- v
  l[[2]] <- v
  expect_same(names(l), c("d", ""))
  l$new <- as_fmalloc("s", runtime = rt)
  expect_same(names(l), c("d", "", "new"))
  expect_same(l$new[], "s")
  expect_error(l$bad <- 1:2, "same runtime")
  expect_length(l, 3)
  # a saved list edited by its owner and saved again
  fmalloc_save(l, "L")
  back <- fmalloc_load("L", runtime = rt)
  expect_same(names(back), c("d", "", "new"))
  back$d <- NULL
  back$more <- create_fmalloc_list(1, runtime = rt)
  fmalloc_save(back, "L")
  expect_same(names(fmalloc_load("L", runtime = rt)), c("", "new", "more"))
  rm(back, l, l2, v)
  release_heap(rt)
  got <- run_child_r(c(
    sprintf("rt <- open_fmalloc(%s)", deparse(path)),
    "l <- fmalloc_load('L', runtime = rt)",
    "result <- list(names = names(l), n = length(l), a = l[[1]][],",
    "  new = l$new[], more = class(l$more))"))
  expect_same(got$names, c("", "new", "more"), info = attr(got, "log"))
  expect_same(got$a, 1:3)
  expect_same(got$new, "s")
  expect_same(got$more, "fmalloc_list")
})

test_that("nested changes of list elements of every type, short and long", {
  old <- options(Rfmalloc.threshold = 50)
  on.exit(options(old))
  rt <- open_fmalloc(heap_file())
  vals <- list(int = 1:3, dbl = c(1.5, 2.5, 3.5), chr = c("p", "q", "r"),
               lgl = c(TRUE, FALSE, NA))
  news <- list(int = 5L, dbl = 5.5, chr = "new", lgl = FALSE)
  for (long in c(FALSE, TRUE)) {
    src <- if (long) lapply(vals, rep_len, 100) else vals
    l <- as_fmalloc_list(src, runtime = rt)
    l$int[2] <- 5L
    l$dbl[2] <- 5.5
    l$chr[2] <- "new"
    l$lgl[2] <- FALSE
    for (nm in names(vals)) {
      want <- src[[nm]]
      want[2] <- news[[nm]]
      expect_true(is_fmalloc(l[[nm]]), info = nm)
      expect_same(fmalloc_runtime_of(l[[nm]]), rt)
      expect_same(l[[nm]][], want, info = paste(nm, long))
    }
    fmalloc_save(l, "l")
    back <- fmalloc_load("l", runtime = rt)
    expect_same(back$chr[2], "new")
    back$int[3] <- 9L
    fmalloc_save(back, "l")
    expect_same(fmalloc_load("l", runtime = rt)$int[3], 9L)
    fmalloc_destroy("l", runtime = rt)
  }
  cleanup_fmalloc(rt)
})

test_that("a list read back by a reader process cannot be saved or destroyed there", {
  path <- heap_file()
  rt <- open_fmalloc(path)
  l <- as_fmalloc_list(list(a = 1:3, b = NULL, c = list(d = "x")),
                       runtime = rt)
  fmalloc_save(l, "L")
  f <- tempfile(fileext = ".rds")
  saveRDS(l, f)
  # this process keeps the writer lock: the child's runtime is read-only
  got <- run_child_r(c(
    sprintf("x <- readRDS(%s)", deparse(f)),
    "err <- function(expr) tryCatch({expr; 'no error'},",
    "  error = function(e) conditionMessage(e))",
    "result <- list(",
    "  ro = diagnose_fmalloc_runtime(fmalloc_runtime_of(x))$runtime$readonly,",
    "  a = x$a[], d = x$c$d[],",
    "  save = err(fmalloc_save(x, 'L2')),",
    "  resave = err(fmalloc_save(x, 'L')),",
    "  inner = err(fmalloc_save(x$c, 'C')),",
    "  destroy = err(fmalloc_destroy(x)),",
    "  drop = err({y <- x; y$a <- NULL; fmalloc_save(y, 'L')}))"))
  expect_true(isTRUE(got$ro), info = paste(attr(got, "log"), collapse = "\n"))
  expect_same(got$a, 1:3)
  expect_same(got$d, "x")
  for (what in c("save", "resave", "inner", "drop")) {
    expect_match(got[[what]], "read-only", info = what)
  }
  expect_match(got$destroy, "read-only")
  # nothing changed
  back <- fmalloc_load("L", runtime = rt)
  expect_same(names(back), c("a", "b", "c"))
  expect_same(back$a[], 1:3)
  expect_same(back$c$d[], "x")
  cat <- list_fmalloc_allocations(rt)
  expect_same(sort(cat$name[!is.na(cat$name)]), "L")
  cleanup_fmalloc(rt)
})

test_that("create_fmalloc_data_frame recycles columns as data.frame() does", {
  rt <- open_fmalloc(heap_dir(), mode = "scratch")
  init_fmalloc(heap_dir(), mode = "scratch")
  on.exit(cleanup_fmalloc(), add = TRUE)
  df <- create_fmalloc_data_frame(a = 1:4, b = 1)
  expect_same(as.data.frame(lapply(df, `[`)), data.frame(a = 1:4, b = 1))
  expect_true(all(vapply(df, is_fmalloc, logical(1))))
  df <- create_fmalloc_data_frame(a = as_fmalloc(1:6, runtime = rt),
                                  b = c("x", "y"),
                                  f = factor("u", levels = c("u", "v")))
  want <- data.frame(a = 1:6, b = c("x", "y"),
                     f = factor("u", levels = c("u", "v")))
  expect_same(as.data.frame(lapply(df, `[`)), want)
  expect_same(levels(df$f), c("u", "v"))
  expect_same(fmalloc_runtime_of(df$b), rt)
  df <- create_fmalloc_data_frame(s = "p", n = 1:3, stringsAsFactors = TRUE)
  expect_same(as.character(df$s[]), rep("p", 3))
  expect_s3_class(df$s, "factor")
  df <- as_fmalloc_data_frame(a = 1:2, b = 0, row.names = c("r", "s"))
  expect_same(rownames(df), c("r", "s"))
  expect_same(df$b[], c(0, 0))
  # what data.frame() refuses
  msg <- tryCatch(data.frame(a = 1:4, b = 1:3), error = conditionMessage)
  expect_error(create_fmalloc_data_frame(a = 1:4, b = 1:3), msg, fixed = TRUE)
  msg <- tryCatch(data.frame(a = 1:3, b = integer()), error = conditionMessage)
  expect_error(create_fmalloc_data_frame(a = 1:3, b = integer()), msg,
               fixed = TRUE)
  msg <- tryCatch(data.frame(a = integer(), b = ""), error = conditionMessage)
  expect_error(create_fmalloc_data_frame(a = integer(), b = ""), msg,
               fixed = TRUE)
  cleanup_fmalloc(rt)
})

test_that("fmalloc_destroy of a loaded data frame says to destroy it by name", {
  rt <- open_fmalloc(heap_file())
  on.exit(cleanup_fmalloc(rt))
  df <- create_fmalloc_data_frame(a = as_fmalloc(1:3, runtime = rt),
                                  b = as_fmalloc(c(0.5, 1, 2), runtime = rt))
  fmalloc_save(df, "df", runtime = rt)
  back <- fmalloc_load("df", runtime = rt)
  # before: nothing was freed and no error was given
  expect_error(fmalloc_destroy(back), "destroy it by name")
  expect_same(fmalloc_load("df", runtime = rt)$a[], 1:3)
  # a plain list of saved vectors: the same
  x <- as_fmalloc(4:6, runtime = rt)
  fmalloc_save(x, "x", runtime = rt)
  expect_error(fmalloc_destroy(list(x)), "destroy it by name")
  expect_same(fmalloc_load("x", runtime = rt)[], 4:6)
  # by name it goes, with its columns
  fmalloc_destroy("df", runtime = rt)
  expect_error(fmalloc_load("df", runtime = rt), "no object named")
  cat <- list_fmalloc_allocations(rt)
  expect_same(cat$name[cat$state == "committed"], "x")
  # a plain list of unsaved vectors is destroyed as before
  u <- as_fmalloc(1:2, runtime = rt)
  fmalloc_destroy(list(u))
  expect_error(u[1], "destroyed")
})
