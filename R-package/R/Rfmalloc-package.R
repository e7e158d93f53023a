#' Rfmalloc: R vectors stored in memory-mapped heap files
#'
#' Rfmalloc stores the data of R vectors in a heap file managed by the C
#' library libfmalloc-r.  The vectors are ALTREP objects: R code uses them
#' like ordinary vectors, and their data live in the mapped file.
#'
#' @section Runtimes:
#' A runtime ([open_fmalloc()], [init_fmalloc()]) is one open heap file.
#' In `"persistent"` mode the file survives the R session: vectors given a
#' name with [fmalloc_save()] are found again with [fmalloc_load()] in a
#' later session, and `saveRDS()` writes a small reference to the file
#' instead of the data.  Vectors that are neither named nor serialized are
#' intermediates: their space is freed when R collects them, and the
#' library reclaims whatever is left at close or after a crash.  In
#' `"scratch"` mode the heap is an anonymous file in a directory; nothing
#' is left behind and vectors serialize by value.
#'
#' A runtime stays open while any of its vectors is reachable;
#' [cleanup_fmalloc()] asks to close it, which happens once the last of its
#' vectors is collected.
#'
#' @section Vectors:
#' [create_fmalloc_vector()], [create_fmalloc_matrix()] and
#' [create_fmalloc_array()] make new vectors of type logical, integer,
#' double, complex, raw or character; [as_fmalloc()] copies an ordinary R
#' object (with its attributes) into a runtime;
#' [create_fmalloc_data_frame()] builds data frames of file-backed
#' columns.  [list_fmalloc_allocations()] and [diagnose_fmalloc_runtime()]
#' show the catalog and the state of a heap.
#'
#' @section Options:
#' \describe{
#'   \item{`Rfmalloc.threshold`}{Vectors shorter than this (in elements,
#'     default 1e5) are copied into ordinary R memory when R duplicates
#'     them; longer ones are copied into the same heap.}
#'   \item{`Rfmalloc.serialize`}{Set to `"value"` to serialize persistent
#'     vectors by value (the data) instead of by reference.}
#' }
#'
#' @section Serialization by reference:
#' A persistent vector written with `saveRDS()` or `serialize()` is a
#' reference: the absolute path of the heap file, its uuid, the record id
#' and generation.  Reading it back opens the file (read-only if another
#' process holds the writer lock) and checks them; a missing or replaced
#' file, or a destroyed record, is an error.  R loads
#' Rfmalloc to read such a reference; if the package cannot be loaded, R
#' gives a length-zero vector with a warning.  The data never leave the
#' heap file: copy the file with the `.rds` file, or use
#' `options(Rfmalloc.serialize = "value")`.
#'
#' A reference names a record, not one version of it: renaming or
#' re-saving the vector with [fmalloc_save()], or a character vector
#' outgrowing its block, gives the record a new generation, and a reference
#' saved before reads the record as it is now.  A record older than the
#' reference (the heap file was replaced by an older copy) is an error.
#'
#' @section Read-only heaps:
#' A heap file whose writer lock is held by another process is opened
#' read-only when a reference is read.  Its vectors are marked not
#' mutable, so R copies them (into ordinary memory) before any change.
#'
#' @section Lists:
#' Lists of fmalloc vectors are `"fmalloc_list"` objects (see
#' [create_fmalloc_list()]): ALTLIST objects on R >= 4.3; on R 4.2, which
#' has no ALTLIST, ordinary R lists with their ids vector in an attribute.
#' Both store the same records, so a list saved by one R is loaded by the
#' other.
#'
#' @section Character vectors:
#' A character vector is one heap block: a header, a table of byte
#' offsets, lengths and encoding/NA flags, and a byte area.  Strings keep
#' their encoding (UTF-8, latin1, bytes or native) and `NA`.  The CHARSXPs
#' R sees are made on first access and cached with the vector (a vector
#' copied in with [as_fmalloc()] starts with the CHARSXPs of its source,
#' and subsets and copies share those already made), so each string
#' costs one `mkCharLenCE()` per session at most.  The cache keeps those
#' strings in R's memory while the vector is reachable.
#'
#' @section Computing on fmalloc vectors:
#' Base R's functions work on fmalloc vectors unchanged; `sum()`, `min()`
#' and `max()` use the vectors' own ALTREP methods, subsetting `x[i]`,
#' duplication and coercion between logical, integer and double give
#' file-backed results above `Rfmalloc.threshold`.  Arithmetic,
#' comparison, logic (`&`, `|`, `!`), the Math functions and the
#' cumulative functions are computed in C with file-backed results by
#' [fmalloc_ops()] and [fmalloc_math()], and through R's operators for
#' vectors given the class `"fmalloc"` ([fmalloc_class()]);
#' [fmalloc_colSums()] and friends reduce matrices and arrays.
#'
#' @section C API:
#' Other packages can create and inspect fmalloc vectors from C: add
#' `LinkingTo: Rfmalloc` and `Imports: Rfmalloc`, and include
#' `Rfmalloc.h` (installed in `system.file("include", package =
#' "Rfmalloc")`), which documents `Rfmalloc_open()`, `Rfmalloc_create()`,
#' `Rfmalloc_is_fmalloc()`, `Rfmalloc_runtime_of()` and
#' `Rfmalloc_payload()`.
#'
#' @keywords internal
#' @useDynLib Rfmalloc, .registration = TRUE
"_PACKAGE"

.rfm <- new.env(parent = emptyenv())

.onLoad <- function(libname, pkgname) {
  # where results of read-only or inherited vectors go (the scratch
  # runtime, opened on first use), and how a vector read back by
  # reference finds the frame it belongs to
  .Call(C_rfm_set_tempdir, tempdir())
  .Call(C_rfm_set_reader_frame, reader_frame)
  .Call(C_rfm_set_cum_na_wins, cum_na_wins())
}

# The frame that called readRDS(), unserialize() or load(), found on the
# call stack while a reference is read back: the owner of the vector
# (assignments there change its record); NULL when there is none.
reader_frame <- function() {
  readers <- list(readRDS, unserialize, load)
  parents <- sys.parents()
  for (k in rev(seq_along(parents))) {
    f <- sys.function(k)
    for (r in readers) {
      if (identical(f, r)) {
        p <- parents[[k]]
        return(if (p == 0L) globalenv() else sys.frame(p))
      }
    }
  }
  NULL
}

.onUnload <- function(libpath) {
  # free uncommitted blocks and close every heap while the code of the
  # finalizers is still loaded
  .Call(C_rfm_unload)
  library.dynam.unload("Rfmalloc", libpath)
}
