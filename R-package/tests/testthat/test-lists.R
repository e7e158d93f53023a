test_that("fmalloc lists hold fmalloc vectors of one runtime", {
  rt <- open_fmalloc(heap_file())
  other <- open_fmalloc(heap_dir(), mode = "scratch")
  l <- create_fmalloc_vector("list", 3, runtime = rt)
  expect_s3_class(l, "fmalloc_list")
  expect_true(is_fmalloc(l))
  l[[1]] <- as_fmalloc(1:3, runtime = rt)
  l[[2]] <- NULL
  expect_length(l, 3)
  expect_error(l[[3]] <- 1:3, "same runtime")
  expect_error(l[[3]] <- as_fmalloc(1:3, runtime = other), "same runtime")
  expect_error(l[[4]] <- as_fmalloc(1:3, runtime = rt), "length")
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
  l$b <- NULL
  expect_error(l$zz <- v, "length")
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
  expect_error(l[[4]] <- v, "length")
  expect_error(l[4] <- list(v), "length")
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
