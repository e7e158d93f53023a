# dispatch.R: R's operators and functions on the default fmalloc objects
# (with their S3 class) against the same on ordinary R vectors, in the
# same run (issue 8).
#
# Usage: Rscript bench-scripts/dispatch.R [n] [rounds]
#   n       doubles (default 1e7); the string part uses n / 10 strings
#   rounds  timing rounds per operation (default 5), base and fmalloc
#           interleaved so that load on a shared machine hits both
# Prints one line per operation: the median seconds of base R and of the
# fmalloc object, their ratio, and the spread of the per-round ratios
# (min..max).  Results are checked: each fmalloc answer, unclassed, must
# be identical to base R's.
suppressPackageStartupMessages(library(Rfmalloc))

args <- commandArgs(trailingOnly = TRUE)
n <- if (length(args) >= 1) as.numeric(args[1]) else 1e7
rounds <- if (length(args) >= 2) as.integer(args[2]) else 5L
set.seed(8)
dir <- tempfile("rfm-dispatch-")
dir.create(dir)
rt <- open_fmalloc(file.path(dir, "bench.fmr"), size_gb = 1)

tm <- function(expr, env) {
  gc(FALSE)
  unname(system.time(eval(expr, env))[["elapsed"]])
}
out <- data.frame(op = character(), base = numeric(), fmalloc = numeric(),
                  ratio = numeric(), spread = character())
bench <- function(op, base_expr, fm_expr, check = TRUE) {
  base_expr <- substitute(base_expr)
  fm_expr <- substitute(fm_expr)
  env <- parent.frame()
  tb <- tf <- numeric(rounds)
  # one untimed run each first: byte compiling, first-touch page faults
  # and caches would otherwise land in the first round of one side
  eval(base_expr, env)
  eval(fm_expr, env)
  for (r in seq_len(rounds)) {
    tb[r] <- tm(base_expr, env)
    tf[r] <- tm(fm_expr, env)
  }
  if (check) {
    a <- eval(base_expr, env)
    b <- eval(fm_expr, env)
    if (!identical(a, as.vector_keep(b))) {
      stop("fmalloc answer differs from base R for ", op)
    }
  }
  rr <- tf / pmax(tb, 1e-9)
  out[nrow(out) + 1L, ] <<- list(op, median(tb), median(tf),
                                 median(tf) / max(median(tb), 1e-9),
                                 sprintf("%.2f..%.2f", min(rr), max(rr)))
  cat(sprintf("%-34s %8.4f %8.4f %6.2f  (%s)\n", op, median(tb), median(tf),
              out$ratio[nrow(out)], out$spread[nrow(out)]))
}
# the answer without the fmalloc class (other attributes kept)
as.vector_keep <- function(x) {
  cls <- setdiff(oldClass(x), c("fmalloc_vector", "fmalloc_matrix",
                                "fmalloc_array", "fmalloc"))
  oldClass(x) <- if (length(cls)) cls else NULL
  x
}

cat(sprintf("n = %g doubles, %g strings, %d rounds, R %s\n", n, n / 10,
            rounds, getRversion()))
cat(sprintf("%-34s %8s %8s %6s  %s\n", "operation", "base", "fmalloc",
            "ratio", "spread"))
xb <- runif(n)
yb <- runif(n)
xb[sample.int(n, n / 100)] <- NA
x <- as_fmalloc(xb, runtime = rt)
y <- as_fmalloc(yb, runtime = rt)
stopifnot(inherits(x, "fmalloc"))

bench("x + y", xb + yb, x + y)
bench("x * 2", xb * 2, x * 2)
bench("x > 0.5", xb > 0.5, x > 0.5)
bench("sqrt(x)", sqrt(xb), sqrt(x))
bench("exp(x)", exp(xb), exp(x))
bench("cumsum(x)", cumsum(yb), cumsum(y))
bench("round(x, 2)", round(xb, 2), round(x, 2))
bench("sum(x, na.rm = TRUE)", sum(xb, na.rm = TRUE), sum(x, na.rm = TRUE))
bench("mean(y)", mean(yb), mean(y))
bench("range(x, na.rm = TRUE)", range(xb, na.rm = TRUE),
      range(x, na.rm = TRUE))
bench("is.na(x)", is.na(xb), is.na(x))
bench("which(x > 0.9)", which(xb > 0.9), which(x > 0.9))
bench("sort(x)", sort(xb), sort(x))
bench("order(x)", order(xb), order(x))
bench("rev(x)", rev(xb), rev(x))
idx <- sample.int(n, 1e6)
bench("x[1e6 random idx]", xb[idx], x[idx])

# scalar loops: what R's dispatch costs per element
ri <- sample.int(n, 1e5)
loop_read <- function(v, ri) {
  s <- 0
  for (i in ri) s <- s + v[i]
  s
}
loop_read <- compiler::cmpfun(loop_read)
bench("1e5 scalar reads, class on", loop_read(yb, ri), loop_read(y, ri))
yu <- unclass(y)
bench("1e5 scalar reads, unclass once", loop_read(yb, ri),
      loop_read(yu, ri))
old <- options(Rfmalloc.class = FALSE)
yp <- as_fmalloc(yb, runtime = rt)
options(old)
bench("1e5 scalar reads, Rfmalloc.class=FALSE", loop_read(yb, ri),
      loop_read(yp, ri))
loop_write <- compiler::cmpfun(function(v, ri) {
  for (i in ri) v[i] <- 1
  v[ri[1]]
})
bench("1e5 scalar writes, class on", loop_write(yb, ri),
      loop_write(y, ri))
bench("1e5 scalar writes, Rfmalloc.class=FALSE", loop_write(yb, ri),
      loop_write(yp, ri))
fmalloc_save(as_fmalloc(yb[1:1e6], runtime = rt), "saved")
edit_saved <- compiler::cmpfun(function(rt, ri) {
  z <- fmalloc_load("saved", runtime = rt)
  for (i in ri) z[i] <- 1
  z[ri[1]]
})
edit_base <- compiler::cmpfun(function(v, ri) {
  for (i in ri) v[i] <- 1
  v[ri[1]]
})
ri6 <- sample.int(1e6, 1e5)
yb6 <- yb[1:1e6]
bench("1e5 scalar writes into a saved vector", edit_base(yb6, ri6),
      edit_saved(rt, ri6))
# 50 rounds each: one round of base R takes less than the timer's 1 ms
bench("50 x fmalloc_set of 1e5 positions", {
  for (k in 1:50) yb6[ri6] <- k
  yb6[ri6[1]]
}, {
  z <- fmalloc_load("saved", runtime = rt)
  for (k in 1:50) fmalloc_set(z, ri6, k)
  z[ri6[1]]
})

# strings
m <- n / 10
sb <- sprintf("id%07d", sample.int(m, m, replace = TRUE))
s <- as_fmalloc(sb, runtime = rt)
tb <- sb[sample.int(m, 1000)]
bench("strings ==", sb == sb[7], s == sb[7])
bench("strings paste0", paste0(sb, "_x"), paste0(s, "_x"))
bench("strings nchar", nchar(sb), nchar(s))
bench("strings unique", unique(sb), unique(s))
bench("strings match", match(sb, tb), match(s, tb))

cat(sprintf("\nmedian of the ratios: %.2f (worst %.2f: %s)\n",
            median(out$ratio), max(out$ratio), out$op[which.max(out$ratio)]))
cleanup_fmalloc(rt)
unlink(dir, recursive = TRUE)
