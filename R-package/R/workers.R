# workers.R: vectors shared with parallel workers on one host: the
# check a reader makes after reading a record that another process writes.

#' Parallel workers and a heap that another process writes
#'
#' A persistent fmalloc vector reaches a parallel worker on the same host
#' (a PSOCK cluster of the parallel package, the future package's
#' multisession plan, a callr process, or any `serialize()`/`readRDS()`)
#' as a reference of a few hundred bytes: the
#' worker opens the heap file read-only and maps the record's data, with
#' no copy, while the process that holds the file for writing goes on
#' writing.  A worker cannot write into the file (`fmalloc_set()`,
#' `fmalloc_save()` and `fmalloc_destroy()` are errors there); what it
#' computes is ordinary R memory, or its own scratch heap.  Forked
#' children (`parallel::mclapply()`, fork clusters, future's multicore
#' plan) inherit the parent's mapping instead and follow the same rules
#' (see "Forked children" in [Rfmalloc-package]).
#'
#' What a worker sees while the writer works (DESIGN property 5):
#' * The writer's assignments into a saved vector (`x[i] <- v`,
#'   `fmalloc_set()`, `fmalloc_fill()`) change the data in place, so a
#'   worker sees them as soon as they are made, also in the middle of its
#'   own computation: a `sum(x)` that runs while the writer assigns may
#'   add some old and some new values.
#' * A record the writer saves after the worker opened the file is found
#'   by `fmalloc_load()` in the worker (the reader refreshes its catalog
#'   when the writer published something).
#' * When the writer destroys a record a worker is reading, or replaces
#'   its data (a saved vector whose length or type changed), the worker
#'   keeps its mapping and never faults, but once the writer reuses the
#'   space the worker reads whatever is written there, with no sign of
#'   it.  Avoid this by protocol: destroy or replace what workers read
#'   only after they are done (after `parallel::stopCluster()`, or after
#'   collecting the futures), or check afterwards.
#' * After [compact_fmalloc()] replaces the file, a worker keeps reading the
#'   old file's data (still as they were); `fmalloc_is_current()` says
#'   `FALSE` and a new reference (or a new worker) reads the new file.
#'
#' `fmalloc_is_current(x)` is that check: it is `TRUE` while the record
#' `x` reads is in the file as `x` found it (the same record id,
#' generation and data, not destroyed), and `FALSE` once the writer
#' destroyed, replaced or moved it or the file was replaced.  In a worker
#' it first refreshes its view of the catalog (two `stat()` calls when
#' nothing changed).  Called after reading, `TRUE` means the values read
#' were the record's (except for in-place assignments made meanwhile,
#' which it does not detect); it cannot stop a change that comes later.
#' A vector that was never saved belongs to its own process and is
#' current while its runtime is open.
#' In the writer itself, a vector it destroyed is an error to use, this
#' function included.
#'
#' @param x An fmalloc vector.
#' @return `fmalloc_is_current()`: `TRUE` or `FALSE`.
#' @seealso [fmalloc_save()] (serialization by reference),
#'   [open_fmalloc()] (`readonly`), `bench-scripts/workers.R` in the
#'   package sources (2 workers receiving and summing a vector, by
#'   reference against base R's serialization).
#' @examples
#' path <- file.path(tempdir(), "workers-example.fmr")
#' rt <- open_fmalloc(path)
#' x <- as_fmalloc(as.numeric(1:10), runtime = rt)
#' fmalloc_save(x, "x")
#' fmalloc_is_current(x)
#' \donttest{
#' cl <- parallel::makePSOCKcluster(1)
#' parallel::clusterCall(cl, function(lib) {
#'   .libPaths(lib)
#'   library(Rfmalloc)
#' }, .libPaths())
#' parallel::clusterExport(cl, "x", envir = environment())
#' parallel::clusterEvalQ(cl, {
#'   s <- sum(x)
#'   if (fmalloc_is_current(x)) s else NA
#' })
#' parallel::stopCluster(cl)
#' }
#' fmalloc_destroy(x)
#' cleanup_fmalloc(rt)
#' unlink(path)
#' @name fmalloc_workers
NULL

#' @rdname fmalloc_workers
#' @export
fmalloc_is_current <- function(x) {
  .Call(C_rfm_is_current, vector_handle(x))
}
