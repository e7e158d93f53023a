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
