heap_dir <- function() {
  d <- tempfile("rfm-test-")
  dir.create(d)
  d
}

heap_file <- function() file.path(heap_dir(), "heap.fmr")

vec_info <- function(x) .Call(Rfmalloc:::C_rfm_vector_info, x)

# run FUN(...) in a fresh R process that has Rfmalloc loaded
in_fresh_r <- function(fun, args = list()) {
  callr::r(fun, args = args, libpath = .libPaths(),
           env = c(callr::rcmd_safe_env(), R_TESTS = ""))
}

# X without the S3 classes of the default fmalloc objects (other
# classes, and the data, as they are): what base R's answer must be
# identical() to.
drop_fm_class <- function(x) {
  if (is.list(x) && !inherits(x, "fmalloc_list") && !is.data.frame(x)) {
    a <- attributes(x)
    x <- lapply(x, drop_fm_class)
    attributes(x) <- a
    return(x)
  }
  cls <- oldClass(x)
  if (is.null(cls) || !any(cls %in% Rfmalloc:::fm_classes)) {
    return(x)
  }
  cls <- setdiff(cls, Rfmalloc:::fm_classes)
  oldClass(x) <- if (length(cls)) cls else NULL
  x
}

# expect_identical() once the fmalloc classes are dropped from both.
expect_same <- function(object, expected, ...) {
  expect_identical(drop_fm_class(object), drop_fm_class(expected), ...)
}
