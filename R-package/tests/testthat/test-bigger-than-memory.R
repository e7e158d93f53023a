# A vector twice as large as the memory the R process may use (issue 8):
# an R process in a cgroup v1 memory cgroup limited to RFMALLOC_BIG_LIMIT
# MiB (default 256) fills a 2 x limit double vector in chunks and
# computes x * 2, sqrt(x), sum, range, x[x > k] and colMeans of a
# matrix view of it, each checked against its known answer.  Needs
# root and /sys/fs/cgroup/memory (Linux, cgroup v1), and disk space in
# tempdir(); skipped with the reason otherwise, and on CRAN.

big_skip_reason <- function(limit_mib) {
  cg <- "/sys/fs/cgroup/memory"
  if (Sys.info()[["sysname"]] != "Linux") return("not Linux")
  if (identical(Sys.getenv("RFMALLOC_TEST_BIG"), "false")) {
    return("RFMALLOC_TEST_BIG=false")
  }
  if (Sys.info()[["effective_user"]] != "root") {
    return("making a memory cgroup needs root")
  }
  if (!dir.exists(cg) || file.access(cg, 2) != 0) {
    return("no writable cgroup v1 memory controller at /sys/fs/cgroup/memory")
  }
  free <- tryCatch({
    out <- system2("df", c("-Pk", shQuote(tempdir())), stdout = TRUE)
    as.numeric(strsplit(out[length(out)], "[[:space:]]+")[[1]][4]) * 1024
  }, error = function(e) NA)
  need <- limit_mib * 2^20 * 2 * 4.5
  if (is.na(free) || free < need) {
    return(sprintf("needs %.1f GB free in tempdir()", need / 1e9))
  }
  NULL
}

test_that("a vector twice the memory limit streams through", {
  skip_on_cran()
  limit <- as.numeric(Sys.getenv("RFMALLOC_BIG_LIMIT", "256"))
  why <- big_skip_reason(limit)
  if (!is.null(why)) skip(why)
  cg <- file.path("/sys/fs/cgroup/memory",
                  sprintf("rfmalloc-test-%d", Sys.getpid()))
  dir.create(cg)
  on.exit({
    # move any process left back to the root group, then remove it
    procs <- tryCatch(readLines(file.path(cg, "cgroup.procs")),
                      error = function(e) character())
    for (p in procs) {
      try(cat(p, file = "/sys/fs/cgroup/memory/cgroup.procs"), silent = TRUE)
    }
    unlink(cg, recursive = FALSE, force = TRUE)
    system2("rmdir", shQuote(cg), stdout = FALSE, stderr = FALSE)
  }, add = TRUE)
  cat(sprintf("%.0f", limit * 2^20),
      file = file.path(cg, "memory.limit_in_bytes"))
  dir <- heap_dir()
  on.exit(unlink(dir, recursive = TRUE), add = TRUE)
  got <- in_fresh_r(function(cg, dir, limit) {
    # from here on this process's memory counts against the limit
    cat(Sys.getpid(), file = file.path(cg, "cgroup.procs"))
    library(Rfmalloc)
    n <- limit * 2^20 * 2 / 8 # doubles: twice the limit
    ncol <- 64
    t0 <- Sys.time()
    rt <- open_fmalloc(file.path(dir, "big.fmr"))
    x <- create_fmalloc_vector("double", n, runtime = rt,
                               zero_initialize = FALSE)
    chunk <- 2^20
    for (s in seq(1, n, by = chunk)) {
      e <- min(s + chunk - 1, n)
      fmalloc_set(x, s:e, ((s:e) %% 1000) / 4)
    }
    t_fill <- Sys.time()
    y <- x * 2
    ok_y <- y[n] == (n %% 1000) / 2 && y[999] == 999 / 2
    rm(y)
    r <- sqrt(x)
    ok_r <- r[16] == 2
    rm(r)
    s <- sum(x)
    rg <- range(x)
    big <- x[x > 249.5] # 999 / 4 = 249.75: one element in 1000
    m <- as_fmalloc_matrix(x, ncol = ncol, copy = FALSE)
    cm <- colMeans(m)
    t_end <- Sys.time()
    mem <- as.numeric(readLines(file.path(cg, "memory.max_usage_in_bytes")))
    # the answers, from the pattern (i %% 1000) / 4
    per <- sum((0:999) / 4)
    full <- n %/% 1000
    want_s <- full * per + sum(((full * 1000 + 1):n %% 1000) / 4)
    list(n = n, ok_y = ok_y, ok_r = ok_r, sum = s, want_sum = want_s,
         range = rg, nbig = length(big),
         want_nbig = as.integer(full + (n %% 1000 >= 999)),
         cm_len = length(cm), cm1 = cm[[1]],
         want_cm1 = mean(((1:(n / ncol)) %% 1000) / 4),
         fill_s = as.numeric(difftime(t_fill, t0, units = "secs")),
         ops_s = as.numeric(difftime(t_end, t_fill, units = "secs")),
         max_usage = mem)
  }, list(cg = cg, dir = dir, limit = limit))
  expect_true(got$ok_y)
  expect_true(got$ok_r)
  expect_equal(got$sum, got$want_sum)
  expect_identical(got$range, c(0, 999 / 4))
  expect_identical(got$nbig, got$want_nbig)
  expect_identical(got$cm_len, 64L)
  expect_equal(got$cm1, got$want_cm1)
  # the process stayed within its limit while the vector is twice it
  expect_lte(got$max_usage, limit * 2^20)
  expect_gte(got$n * 8, 2 * limit * 2^20)
  message(sprintf(paste("larger-than-memory test: %.0f MiB vector in a %.0f",
                        "MiB cgroup, fill %.1f s (%.0f MB/s), x * 2, sqrt,",
                        "sum, range, x[x > k], colMeans %.1f s, peak %.0f",
                        "MiB"),
                  got$n * 8 / 2^20, limit, got$fill_s,
                  got$n * 8 / 1e6 / got$fill_s, got$ops_s,
                  got$max_usage / 2^20))
})
