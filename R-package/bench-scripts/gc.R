# gc.R: GC pressure from file-backed vectors (issue 11, "GC").  A loop
# makes a new file-backed result each time (y <- x[idx], 4 MB) while
# little stays live; R's collector does not see the heap blocks, so
# without the package asking R to collect, the blocks of unreachable
# results pile up in the heap file.
# Usage: Rscript bench-scripts/gc.R [iterations] [rounds] [budget] [order]
#   iterations  of y <- x[idx] (default 300)
#   rounds      repeats of each measurement (default 3)
#   budget      options(Rfmalloc.gc_budget = budget) for the file-backed
#               loop; default NULL (the package's default); "default"
#               for NULL when giving ORDER
#   order       "random" (default: idx = sample(n, n / 2)) or "sorted"
#               (the same positions in increasing order: the gather
#               reads x in order, so the time is less the cost of random
#               reads in a file mapping and more that of the results)
# x is 1e6 doubles (8 MB) in a persistent heap, idx 5e5 random positions,
# so each result is 4 MB; about 14 MB are live (x, y, idx).  Prints for
# each round the seconds of the base R loop (x an ordinary vector) and of
# the file-backed loop, their ratio, the heap file's size at the end and
# the collections the package asked for; then medians with min..max.
suppressPackageStartupMessages(library(Rfmalloc))

args <- commandArgs(trailingOnly = TRUE)
iters <- if (length(args) >= 1) as.integer(args[1]) else 300L
rounds <- if (length(args) >= 2) as.integer(args[2]) else 3L
if (length(args) >= 3 && args[3] != "default") {
  options(Rfmalloc.gc_budget = as.numeric(args[3]))
}
order <- if (length(args) >= 4) args[4] else "random"
stopifnot(order %in% c("random", "sorted"))

elapsed <- function(expr) unname(system.time(expr)[["elapsed"]])
# seconds of CPU of this process (user + system): less hurt than elapsed
# time by other work on the machine, but blind to the kernel's writeback
cpu <- function(t) unname(t[["user.self"]] + t[["sys.self"]])
mb <- function(b) b / 2^20

set.seed(1)
n <- 1e6
idx <- sample.int(n, n / 2)
if (order == "sorted") idx <- sort(idx)
x_base <- runif(n)

base_loop <- function() {
  for (i in seq_len(iters)) y <- x_base[idx]
  invisible(y)
}

fm_round <- function() {
  dir <- tempfile("rfm-gc-")
  dir.create(dir)
  on.exit(unlink(dir, recursive = TRUE), add = TRUE)
  rt <- open_fmalloc(file.path(dir, "gc.fmr"), mode = "persistent")
  x <- as_fmalloc(x_base, runtime = rt)
  gc()
  before <- Rfmalloc:::gc_collections(rt)
  tt <- system.time(for (i in seq_len(iters)) y <- x[idx])
  t <- unname(tt[["elapsed"]])
  stopifnot(identical(unclass(y)[1:10], x_base[idx][1:10]))
  size <- fmalloc_runtime_info(rt)$file_size
  ngc <- Rfmalloc:::gc_collections(rt) - before
  rm(x, y)
  gc()
  cleanup_fmalloc(rt)
  c(time = t, cpu = cpu(tt), size = size, gcs = ngc)
}

cat(sprintf("%d iterations of y <- x[idx] (%s idx, %.0f MB results), budget %s\n",
            iters, order, mb(length(idx) * 8),
            format(getOption("Rfmalloc.gc_budget", "default"))))
res <- matrix(NA_real_, rounds, 5,
              dimnames = list(NULL, c("base_s", "fm_s", "ratio", "file_MB",
                                      "cpu_ratio")))
gcs <- numeric(rounds)
for (r in seq_len(rounds)) {
  gc()
  tbt <- system.time(base_loop())
  tb <- unname(tbt[["elapsed"]])
  f <- fm_round()
  res[r, ] <- c(tb, f[["time"]], f[["time"]] / tb, mb(f[["size"]]),
                f[["cpu"]] / cpu(tbt))
  gcs[r] <- f[["gcs"]]
  cat(sprintf("round %d: base R %.3f s, file-backed %.3f s, ratio %.2f (CPU %.2f), file %.0f MB, %d collections asked\n",
              r, tb, f[["time"]], f[["time"]] / tb, res[r, "cpu_ratio"],
              mb(f[["size"]]), gcs[r]))
}
med <- function(v, digits = 3) {
  sprintf(paste0("%.", digits, "f (%.", digits, "f..%.", digits, "f)"),
          median(v), min(v), max(v))
}
cat("median (min..max):\n")
cat("  base R s:      ", med(res[, "base_s"]), "\n")
cat("  file-backed s: ", med(res[, "fm_s"]), "\n")
cat("  ratio:         ", med(res[, "ratio"], 2), "\n")
cat("  CPU ratio:     ", med(res[, "cpu_ratio"], 2), "\n")
cat("  file MB:       ", med(res[, "file_MB"], 0), "\n")
