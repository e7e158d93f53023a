# Dispatch by default (issue 8): the default objects carry the fmalloc
# classes, base R's generics and the masked base functions give base
# R's answers (identical once the class is dropped), file-backed from
# the threshold on; the earlier package's calls work.

test_that("default objects carry the earlier package's class names", {
  rt <- open_fmalloc(heap_file())
  x <- create_fmalloc_vector("double", 3, runtime = rt)
  expect_identical(class(x), c("fmalloc_vector", "fmalloc"))
  m <- create_fmalloc_matrix("integer", 2, 3, runtime = rt)
  expect_identical(class(m), c("fmalloc_matrix", "fmalloc"))
  a <- create_fmalloc_array("double", c(2, 2, 2), runtime = rt)
  expect_identical(class(a), c("fmalloc_array", "fmalloc"))
  expect_true(inherits(as_fmalloc(1:3, runtime = rt), "fmalloc_vector"))
  expect_true(inherits(as_fmalloc(matrix(1:4, 2), runtime = rt),
                       "fmalloc_matrix"))
  f <- as_fmalloc(factor(c("a", "b")), runtime = rt)
  expect_identical(class(f), "factor")
  fmalloc_save(x, "x")
  expect_identical(class(fmalloc_load("x", runtime = rt)),
                   c("fmalloc_vector", "fmalloc"))
  rds <- tempfile(fileext = ".rds")
  saveRDS(x, rds)
  expect_identical(class(readRDS(rds)), c("fmalloc_vector", "fmalloc"))
  # the stored attributes have no fmalloc class: the option decides
  old <- options(Rfmalloc.class = FALSE)
  expect_null(oldClass(fmalloc_load("x", runtime = rt)))
  y <- create_fmalloc_vector("double", 3, runtime = rt)
  expect_null(oldClass(y))
  expect_true(is_fmalloc(y))
  options(old)
  expect_identical(class(fmalloc_class(y)), c("fmalloc_vector", "fmalloc"))
  # ordinary results never carry the class
  small <- x + 1
  expect_false(is_fmalloc(small))
  expect_null(oldClass(small))
  expect_identical(dim(m + 1L), c(2L, 3L))
  dim(x) <- c(3L, 1L)
  expect_identical(class(x), c("fmalloc_matrix", "fmalloc"))
  cleanup_fmalloc(rt)
})

# FUN on the fmalloc form and the plain form of each value: the same
# answer once the class is dropped, the same warnings, and file-backed
# when it is long enough.
check_like_base <- function(fun, vals, rt, info = "") {
  for (nm in names(vals)) {
    v <- vals[[nm]]
    f <- as_fmalloc(v, runtime = rt)
    w1 <- w2 <- character()
    want <- withCallingHandlers(fun(v), warning = function(w) {
      w2 <<- c(w2, conditionMessage(w))
      invokeRestart("muffleWarning")
    })
    got <- withCallingHandlers(fun(f), warning = function(w) {
      w1 <<- c(w1, conditionMessage(w))
      invokeRestart("muffleWarning")
    })
    expect_same(got, want, info = paste(info, nm))
    expect_identical(w1, w2, info = paste(info, nm))
    if (is.atomic(want) && length(want) >= getOption("Rfmalloc.threshold")) {
      expect_true(is_fmalloc(got), info = paste(info, nm))
      expect_true(inherits(got, "fmalloc"), info = paste(info, nm))
    } else if (!is.list(want)) {
      expect_false(inherits(got, "fmalloc"), info = paste(info, nm))
    }
  }
}

test_that("generics and masked functions match base R", {
  rt <- open_fmalloc(heap_dir(), mode = "scratch")
  old <- options(Rfmalloc.threshold = 5)
  on.exit(options(old))
  num <- list(
    dbl = c(a = 3, b = NA, c = 1, d = 2, e = 3, f = 7, g = NaN, h = -0),
    int = c(4L, NA, 1L, 1L, 9L, -3L, 0L, 2L),
    lgl = c(TRUE, NA, FALSE, TRUE, TRUE, FALSE, NA, TRUE)
  )
  chr <- list(chr = c("b", "a", NA, "caf\u00e9", "b", "Dd", "", "a"))
  all <- c(num, chr, list(cpl = complex(real = c(1, NA, 3, 1, 5, 6),
                                        imaginary = 1:6)))
  check_like_base(is.na, all, rt, "is.na")
  check_like_base(anyNA, all, rt, "anyNA")
  check_like_base(function(x) which(is.na(x)), all, rt, "which(is.na)")
  check_like_base(function(x) which(x > 1), num, rt, "which")
  check_like_base(sort, c(num, chr), rt, "sort")
  check_like_base(function(x) sort(x, decreasing = TRUE, na.last = TRUE),
                  c(num, chr), rt, "sort decreasing")
  check_like_base(order, c(num, chr), rt, "order")
  check_like_base(function(x) order(x, decreasing = TRUE), c(num, chr), rt,
                  "order decreasing")
  check_like_base(rev, all, rt, "rev")
  check_like_base(unique, all, rt, "unique")
  check_like_base(duplicated, all, rt, "duplicated")
  check_like_base(function(x) range(x, na.rm = TRUE), c(num, chr), rt,
                  "range")
  check_like_base(function(x) range(x, finite = TRUE), num, rt,
                  "range finite")
  check_like_base(range, num, rt, "range with NA")
  check_like_base(diff, num[1:2], rt, "diff")
  check_like_base(function(x) diff(x, lag = 2), num[1:2], rt, "diff lag")
  check_like_base(function(x) match(x, c(1, 3, NA)), c(num, chr), rt,
                  "match")
  check_like_base(function(x) x %in% c(1, 3), c(num, chr), rt, "%in%")
  check_like_base(function(x) ifelse(is.na(x), -1, x), num, rt, "ifelse")
  check_like_base(function(x) pmin(x, 2), num, rt, "pmin")
  check_like_base(function(x) pmax(x, 2, na.rm = TRUE), num, rt, "pmax")
  check_like_base(function(x) tabulate(x), num["int"], rt, "tabulate")
  check_like_base(nchar, chr, rt, "nchar")
  check_like_base(function(x) nchar(x, "bytes"), chr, rt, "nchar bytes")
  check_like_base(toupper, chr, rt, "toupper")
  check_like_base(tolower, chr, rt, "tolower")
  check_like_base(function(x) substr(x, 1, 2), chr, rt, "substr")
  check_like_base(function(x) grepl("a", x), chr, rt, "grepl")
  check_like_base(function(x) grepl("^.$", x, perl = TRUE), chr, rt,
                  "grepl perl")
  check_like_base(function(x) paste0(x, "!"), chr, rt, "paste0")
  check_like_base(function(x) paste0("<", x, ">"), chr, rt, "paste0 3")
  check_like_base(function(x) x == "b", chr, rt, "==")
  check_like_base(function(x) x != "a", chr, rt, "!=")
  check_like_base(function(x) "b" == x, chr, rt, "== reversed")
  mats <- list(m = matrix(c(1, 5, NA, 2, 8, 3, 4, 4, 9, 1, 0, 6), 4,
                          dimnames = list(letters[1:4], NULL)))
  check_like_base(scale, mats, rt, "scale")
  check_like_base(function(x) scale(x, center = FALSE), mats, rt,
                  "scale no center")
  check_like_base(rowSums, mats, rt, "rowSums")
  check_like_base(function(x) colMeans(x, na.rm = TRUE), mats, rt,
                  "colMeans")
  # masked functions are base R's for anything else
  expect_identical(which(c(FALSE, TRUE, NA)), 2L)
  expect_identical(order(c(3, 1, 2)), c(2L, 3L, 1L))
  expect_identical(paste0("a", 1:2, collapse = "+"), "a1+a2")
  expect_identical(match("b", letters), 2L)
  expect_identical(nchar(c("ab", NA)), base::nchar(c("ab", NA)))
})

test_that("== and != on character vectors follow R's encoding rules", {
  rt <- open_fmalloc(heap_dir(), mode = "scratch")
  old <- options(Rfmalloc.threshold = 2)
  on.exit(options(old))
  utf8 <- "caf\u00e9"
  latin1 <- iconv(utf8, "UTF-8", "latin1")
  bytes <- "caf\xc3\xa9"
  Encoding(bytes) <- "bytes"
  native <- enc2native(utf8)
  vals <- c(utf8, latin1, bytes, native, "cafe", NA, "", "caf")
  x <- as_fmalloc(vals, runtime = rt)
  expect_true(is_fmalloc(x))
  for (v in as.list(vals)) {
    expect_same(x == v, vals == v)
    expect_same(v != x, v != vals)
  }
  # UTF-8 and latin1 spellings of one string are equal, bytes never are
  expect_same(x == latin1, c(TRUE, TRUE, FALSE, TRUE, FALSE, NA, FALSE,
                             FALSE))
  y <- as_fmalloc(rev(vals), runtime = rt)
  expect_same(x == y, vals == rev(vals))
  expect_same(x != y, vals != rev(vals))
  expect_same(x == y[1:2], vals == rev(vals)[1:2])
  expect_warning(r <- x == y[1:3], "longer object length")
  expect_same(r, suppressWarnings(vals == rev(vals)[1:3]))
  expect_same(x == character(), logical())
})

test_that("base functions see a character vector's current strings", {
  rt <- open_fmalloc(heap_dir(), mode = "scratch")
  x <- as_fmalloc(c("b", "a", "b", NA), runtime = rt)
  expect_same(unique(x), c("b", "a", NA))
  x[2] <- "c"
  expect_same(unique(x), c("b", "c", NA))
  expect_same(match("c", x), 2L)
  expect_same(x == "c", c(FALSE, TRUE, FALSE, NA))
  # written through R's STRING_PTR (sort in place on a private copy)
  z <- x
  z[4] <- "a"
  expect_same(sort(z), c("a", "b", "b", "c"))
  expect_same(x[], c("b", "c", "b", NA))
})

test_that("results of operators and Math on default objects stay classed", {
  rt <- open_fmalloc(heap_dir(), mode = "scratch")
  old <- options(Rfmalloc.threshold = 5)
  on.exit(options(old))
  v <- c(1.5, 4, 9, 16, NA, 25)
  x <- as_fmalloc(v, runtime = rt)
  for (r in list(x + 1, x * 2, x > 3, -x, !is.na(x), sqrt(x), exp(x),
                 round(x, 1), signif(x, 2), cumsum(x), x %/% 2, abs(-x))) {
    expect_true(is_fmalloc(r))
    expect_true(inherits(r, "fmalloc"))
  }
  expect_same(unclass(x > 3), v > 3)
  expect_same(as.vector(round(x / 7, 2)), round(v / 7, 2))
  h <- x[1:5]
  expect_true(inherits(h, "fmalloc"))
  expect_true(is_fmalloc(h + 1))
  expect_same(head(x, 5), head(v, 5))
  expect_same(tail(x, 5), tail(v, 5))
  expect_true(is_fmalloc(tail(x, 5)))
  expect_identical(as.vector(x), v)
  expect_true(isTRUE(all.equal(x, v)))
  expect_identical(sum(x, na.rm = TRUE), sum(v, na.rm = TRUE))
  expect_identical(mean(x), mean(v))
  out <- capture.output(print(x))
  expect_match(out[1], "^<fmalloc double vector of length 6, not saved, in")
  expect_identical(out[-1], capture.output(print(v)))
  expect_identical(format(x), format(v))
  expect_identical(summary(x), summary(v))
  # str() says where the data live at the top level, and stays one short
  # line inside a list or a data frame; the values are base R's.
  rt_path <- .Call(Rfmalloc:::C_rfm_info, rt)$path
  s <- capture.output(str(x))
  expect_length(s, 1L)
  expect_true(startsWith(s, paste0(" fmalloc [not saved, ", rt_path, "] num [1:6]")))
  expect_identical(sub("^ fmalloc \\[[^]]*\\]", "", s), capture.output(str(v)))
  expect_identical(capture.output(str(list(a = x))),
                   sub("\\$ a:", "$ a: fmalloc", capture.output(str(list(a = v)))))
  capture.output(res <- withVisible(str(x)))
  expect_false(res$visible)
  expect_identical(res$value, x)
  m <- as_fmalloc(matrix(1:12, 3), runtime = rt)
  expect_same(m[2, ], matrix(1:12, 3)[2, ])
  expect_same(m[, 2:3], matrix(1:12, 3)[, 2:3])
  df <- data.frame(a = x, b = seq_along(v))
  expect_identical(nrow(df), 6L)
  expect_identical(df$a[5], NA_real_)
  expect_output(print(df), "16.0")
})

test_that("the earlier package's calls work", {
  path <- heap_file()
  expect_true(init_fmalloc(path))
  cleanup_fmalloc()
  expect_null(cleanup_fmalloc())      # nothing to close: NULL, no error
  expect_false(init_fmalloc(path))    # an existing file
  rt <- fmalloc_default_runtime()
  expect_true(is_fmalloc_runtime(rt))
  expect_false(is_fmalloc_runtime(1))
  x <- create_fmalloc_vector("double", 10)
  expect_true(is_fmalloc_vector(x))
  expect_false(is_fmalloc_vector(1:3))
  expect_identical(fmalloc_runtime(x), rt)
  expect_error(fmalloc_runtime(1:3), "not an fmalloc vector")
  expect_identical(fmalloc_vector_type(x), "numeric")
  expect_identical(fmalloc_vector_type(x, label = FALSE), 14L)
  expect_identical(fmalloc_vector_length(x), 10)
  fmalloc_fill(x, 2)
  expect_identical(sum(x), 20)
  fmalloc_set(x, c(1, 3), c(5, 6))
  expect_identical(x[1:3], c(5, 2, 6))
  info <- fmalloc_vector_info(x)
  expect_s3_class(info, "fmalloc_vector_info")
  expect_identical(info$state, "live")
  expect_identical(info$payload_nbytes, 80)
  fmalloc_save(x, "x")
  info <- fmalloc_vector_info(x)
  expect_identical(info$state, "saved")
  expect_identical(info$name, "x")
  expect_true(info$recoverable)
  ri <- fmalloc_runtime_info()
  expect_identical(ri$mode, "persistent")
  expect_identical(ri$catalog_count, 1)
  expect_true(ri$runtime_open)
  expect_gt(fmalloc_sync(rt), 0)
  p <- fmalloc_vector_payload_ptr(x)
  expect_identical(typeof(p), "externalptr")
  for (a in c("sequential", "willneed", "dontneed", "normal", "random")) {
    expect_identical(fmalloc_storage_advise(x, a), x)
  }
  expect_identical(x[1:3], c(5, 2, 6)) # dontneed keeps the data
  expect_error(fmalloc_storage_advise(x, "bogus"), "should be one of")
  m <- as_fmalloc(matrix(c(1, 2, 4, 8, 16, 32, NA, 1, 2), 3,
                         dimnames = list(letters[1:3], LETTERS[1:3])))
  mm <- matrix(c(1, 2, 4, 8, 16, 32, NA, 1, 2), 3,
               dimnames = list(letters[1:3], LETTERS[1:3]))
  expect_equal(fmalloc_colVars(m), apply(mm, 2, var))
  expect_equal(fmalloc_rowVars(m), apply(mm, 1, var))
  expect_equal(fmalloc_colVars(m, na.rm = TRUE),
               apply(mm, 2, var, na.rm = TRUE))
  expect_error(fmalloc_colVars(1:3), "matrix")
  y <- create_fmalloc_vector("integer", 3)
  expect_true(destroy_fmalloc_vector(y))
  expect_false(destroy_fmalloc_vector(y))
  expect_error(y[1], "destroyed")
  cleanup_fmalloc()
  expect_null(cleanup_fmalloc())
})

test_that("the listing shows live vectors and the diagnosis counts them", {
  rt <- open_fmalloc(heap_file())
  x <- create_fmalloc_vector("double", 1000, runtime = rt)
  s <- as_fmalloc(c("a", "b"), runtime = rt)
  fmalloc_save(as_fmalloc(1:3, runtime = rt), "saved")
  l <- list_fmalloc_allocations(rt)
  expect_setequal(l$state, c("committed", "live"))
  expect_identical(sum(l$state == "live"), 2L)
  live <- l[l$state == "live", ]
  expect_setequal(live$type, c("double", "character"))
  expect_true(all(is.na(live$id)))
  expect_identical(live$length[live$type == "double"], 1000)
  d <- diagnose_fmalloc_runtime(rt)$summary
  expect_identical(d$live_unsaved, 2)
  expect_gte(d$live_unsaved_bytes, 8000)
  rm(x, s)
  invisible(gc())
  expect_identical(sum(list_fmalloc_allocations(rt)$state == "live"), 0L)
  cleanup_fmalloc(rt)
})

test_that("str() of a saved vector names its record", {
  rt <- open_fmalloc(heap_file())
  on.exit(cleanup_fmalloc(rt, force = TRUE), add = TRUE)
  x <- as_fmalloc(c(2L, 3L), runtime = rt)
  fmalloc_save(x, "two", runtime = rt)
  id <- vec_info(x)$id
  expect_match(capture.output(str(x)),
               sprintf("^ fmalloc \\[saved record %s, .*heap\\.fmr\\] int \\[1:2\\] 2 3$",
                       format(id)))
  y <- x
  y[1] <- 9L # a private copy: not the saved record
  expect_match(capture.output(str(y)), "^ fmalloc \\[not saved, ")
})

test_that("format(), summary() and str() of a runtime say where it is", {
  path <- heap_file()
  rt <- open_fmalloc(path)
  x <- as_fmalloc(1:1000, runtime = rt)
  fmalloc_save(x, "k", runtime = rt)
  f <- format(rt)
  expect_type(f, "character")
  expect_length(f, 1L)
  expect_identical(f, sprintf("<fmalloc_runtime persistent, open: %s>",
                              normalizePath(path)))
  s <- summary(rt)
  expect_s3_class(s, "summary_fmalloc_runtime")
  expect_identical(s$path, normalizePath(path))
  expect_identical(s$mode, "persistent")
  expect_identical(s$state, "open")
  expect_false(s$readonly)
  expect_identical(s$records, 1)
  expect_identical(s$file_size, file.size(path))
  expect_true(s$used_bytes >= 4000 && s$used_bytes + s$free_bytes <= s$file_size)
  out <- capture.output(print(s))
  expect_match(out[2], paste0("file: +", normalizePath(path), "$"))
  expect_match(out[3], "mode: +persistent, open$")
  expect_match(out[5], "records: +1 saved")
  expect_identical(capture.output(str(rt)), paste0(" ", f))
  expect_identical(capture.output(str(list(r = rt)))[2], paste0(" $ r: ", f))
  rm(x)
  cleanup_fmalloc(rt, force = TRUE)
  # A closed runtime still says where it was, and what it cannot tell.
  expect_match(format(rt), "^<fmalloc_runtime persistent, closed: ")
  s <- summary(rt)
  expect_identical(s$state, "closed")
  expect_true(is.na(s$records) && is.na(s$file_size))
  expect_match(capture.output(print(s))[4], "size: +\\? \\(\\? used")
  # A scratch runtime in a directory.
  sc <- open_fmalloc(heap_dir(), mode = "scratch")
  on.exit(cleanup_fmalloc(sc, force = TRUE), add = TRUE)
  expect_match(format(sc), "^<fmalloc_runtime scratch, open: ")
  expect_identical(summary(sc)$records, 0)
})
