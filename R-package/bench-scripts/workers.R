# workers.R: parallel workers on one host receive a vector and sum it,
# by reference (Rfmalloc: the worker maps the heap file read-only) against
# base R (the vector is serialized to each worker), in the same run.
# Usage: Rscript bench-scripts/workers.R [n] [rounds]
#   n       doubles in the vector (default 1e8: 800 MB)
#   rounds  repeats of each measurement (default 5)
# Prints, for a PSOCK cluster of 2 workers: the bytes sent per worker, the
# seconds to send the vector to both workers (clusterExport), to sum it
# in both (clusterEvalQ), and the two together, as medians with min..max;
# then the ratio base R / Rfmalloc of the medians.
suppressPackageStartupMessages(library(Rfmalloc))

args <- commandArgs(trailingOnly = TRUE)
n <- if (length(args) >= 1) as.numeric(args[1]) else 1e8
rounds <- if (length(args) >= 2) as.integer(args[2]) else 5L
dir <- tempfile("rfm-workers-")
dir.create(dir)
on.exit(unlink(dir, recursive = TRUE), add = TRUE)
path <- file.path(dir, "workers.fmr")

rt <- open_fmalloc(path, mode = "persistent")
x_fm <- create_fmalloc_vector("double", n, runtime = rt)
x_fm[] <- 0.5
fmalloc_save(x_fm, "x")
x_base <- numeric(n)
x_base[] <- 0.5
expected <- sum(x_base)

cl <- parallel::makePSOCKcluster(2)
invisible(parallel::clusterCall(cl, function(lib) {
  .libPaths(c(lib, .libPaths()))
  suppressPackageStartupMessages(library(Rfmalloc))
  NULL
}, .libPaths()))

elapsed <- function(expr) unname(system.time(expr)[["elapsed"]])

# One round: send X to both workers under the name x, then sum it there.
one_round <- function(x) {
  e <- new.env()
  e$x <- x
  t_send <- elapsed(parallel::clusterExport(cl, "x", envir = e))
  t_sum <- elapsed(s <- parallel::clusterEvalQ(cl, sum(x)))
  stopifnot(all(unlist(s) == expected))
  parallel::clusterEvalQ(cl, {
    rm(x)
    invisible(gc(FALSE))
  })
  c(send = t_send, sum = t_sum, total = t_send + t_sum)
}

# Interleave the two so that a burst of load on a shared machine does not
# land on one side only.
res <- list(base = NULL, fmalloc = NULL)
for (r in seq_len(rounds)) {
  res$base <- rbind(res$base, one_round(x_base))
  res$fmalloc <- rbind(res$fmalloc, one_round(x_fm))
}
parallel::stopCluster(cl)

bytes <- c(base = length(serialize(x_base, NULL)),
           fmalloc = length(serialize(x_fm, NULL)))
cat(sprintf("n = %g doubles (%.0f MB), 2 PSOCK workers, %d rounds\n",
            n, n * 8 / 1e6, rounds))
cat(sprintf("bytes sent per worker: base R %.0f, Rfmalloc %.0f\n",
            bytes[["base"]], bytes[["fmalloc"]]))
fmt <- function(v) sprintf("%8.3f s (%.3f .. %.3f)", median(v), min(v), max(v))
for (what in c("send", "sum", "total")) {
  b <- res$base[, what]
  f <- res$fmalloc[, what]
  cat(sprintf("%-6s base R %s  Rfmalloc %s  ratio %.1f\n", what, fmt(b),
              fmt(f), median(b) / median(f)))
}
invisible(cleanup_fmalloc(rt, force = TRUE))
