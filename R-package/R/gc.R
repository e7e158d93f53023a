#' Garbage collection and file-backed vectors
#'
#' R's garbage collector counts the memory of R objects; the data of a
#' file-backed vector live in the heap file, not in R's memory, so R does
#' not know how much an unreachable vector holds.  A loop that makes a new
#' file-backed result each time (`y <- x[idx]`) would leave the blocks of
#' the unreachable results in the heap file until R happened to collect,
#' and the file would grow with every iteration.  So the package counts,
#' for each runtime, the bytes of unsaved vectors made since it last asked
#' R to collect (less those freed since: collected, destroyed or saved),
#' and asks R to collect (a full collection, which also frees the blocks
#' of unreachable vectors into the heap's free space) before it makes a
#' new one when
#' * that count reaches the budget, option `Rfmalloc.gc_budget`, or
#' * it reaches half the budget and the new vector would not fit in the
#'   heap's free space (the file would grow).
#'
#' Freed space is reused before the file grows: the loop above keeps the
#' file within about the live data plus the budget, at the cost of at most
#' one full collection per half budget of allocation.
#'
#' `options(Rfmalloc.gc_budget = bytes)`: the budget in bytes.  `NULL`
#' (the default) means the larger of 256 MiB and a quarter of the heap
#' file's size; `0` collects before every new file-backed vector (slow: a
#' full collection each time); `Inf` never collects (the heap file grows
#' until R collects of its own accord).  Anything else (a negative number,
#' `NA`, a string, a vector of more than one number) is an error at the
#' next file-backed allocation.  Vectors made in a runtime that cannot
#' take new vectors (read-only, closed) are not counted.
#'
#' `fmalloc_gc_info()` reports where a runtime stands.
#'
#' @name fmalloc_gc
#' @aliases fmalloc_gc_info
#' @param runtime A runtime, or `NULL` for the default runtime.
#' @return A list: `unsaved_bytes` (bytes of unsaved vectors made in the
#'   runtime since the package last asked R to collect, less those freed
#'   since), `collections` (how many times the package asked R to collect
#'   before a vector of this runtime was made) and `budget` (the budget in
#'   bytes that applies now: the option, or the default for this heap).
#' @examples
#' rt <- open_fmalloc(tempdir(), mode = "scratch")
#' x <- create_fmalloc_vector("double", 1e6, runtime = rt)
#' old <- options(Rfmalloc.gc_budget = 16 * 2^20)
#' for (i in 1:10) y <- x[-1]
#' fmalloc_gc_info(rt)
#' options(old)
#' rm(x, y)
#' cleanup_fmalloc(rt)
#' @export
fmalloc_gc_info <- function(runtime = NULL) {
  runtime <- resolve_runtime(runtime)
  .Call(C_rfm_gc_info, runtime)
}

# collections asked for because of RUNTIME (bench-scripts/gc.R)
gc_collections <- function(runtime = NULL) {
  fmalloc_gc_info(runtime)$collections
}
