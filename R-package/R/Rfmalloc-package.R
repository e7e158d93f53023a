#' Rfmalloc: R vectors stored in memory-mapped heap files
#'
#' Rfmalloc stores the data of R vectors in a heap file managed by the C
#' library libfmalloc-r.  The vectors are ALTREP objects: R code uses them
#' like ordinary vectors, and their data live in the mapped file.
#'
#' @section The C library:
#' The package needs libfmalloc-r.  Its `configure` uses an installed
#' copy when `pkg-config` finds one (or a directory given with
#' `--with-fmalloc-r=DIR`, `FMR_PREFIX`, or `INCLUDE_DIR` and `LIB_DIR`),
#' and otherwise builds the copy of the library's sources bundled in the
#' package's source tarball into the package; `FMR_BUNDLED=yes` asks for
#' the bundled copy.  [fmalloc_library()] says which one is in use.
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
#' @section Classes and dispatch:
#' The vectors users get ([create_fmalloc_vector()], [as_fmalloc()],
#' [fmalloc_load()], `readRDS()` of a reference, and the results of the
#' package's methods) carry the S3 class `c("fmalloc_vector",
#' "fmalloc")`, `c("fmalloc_matrix", "fmalloc")` or
#' `c("fmalloc_array", "fmalloc")`.  Through it R's operators, Math and
#' cumulative functions ([fmalloc_class()]), subsetting, `[<-`, `[[<-`,
#' `names<-`, `dim<-`, `dimnames<-`, `print()`, `format()`, `summary()`,
#' `str()` and the functions listed in [fmalloc-base] reach the
#' package's code: results at least `Rfmalloc.threshold` long are
#' fmalloc vectors with the class, in the runtime of the operand (or, when
#' that runtime is read-only, closing or inherited from a parent process,
#' in a scratch runtime in `tempdir()`), shorter ones ordinary R vectors
#' without it.  Once the class is dropped (`unclass()`, `as.vector()`)
#' the values are identical to base R's.  `identical()` sees the class;
#' `all.equal()` compares the values.  With
#' `options(Rfmalloc.class = FALSE)` vectors are made without the class:
#' base R's code then runs on them as on ordinary vectors and gives
#' ordinary results (see Value semantics for what changes).
#'
#' @section Value semantics:
#' An fmalloc vector behaves as an ordinary R vector: `y <- x; y[i] <- v`
#' never changes `x`; nothing that makes a new value (arithmetic, Math,
#' sorting, subsetting, coercion, `unserialize()`) writes into stored
#' data or into another object; R's copies of a saved vector share its
#' data until one of them is written (copy on write, no copy up front).
#'
#' An assignment into the variable that holds a saved vector
#' (`x[i] <- v`, `x[[i]] <- v`, `x[] <- v`, `m[i, j] <- v`,
#' `names(x) <- v`, `dim(x) <- v`, `dimnames(x) <- v`) changes the
#' stored record in place, without a copy, so that a later
#' [fmalloc_load()] (in this or another process) sees it, when it runs in
#' the function (or at the top level) where the vector was loaded with
#' [fmalloc_load()], saved with [fmalloc_save()] or read back with
#' `readRDS()`; for a vector whose function has returned, at the top
#' level.  Elsewhere (a function the vector was passed to, `local()`),
#' and when another variable there holds the same vector (`y <- x`), the
#' assignment changes a copy, as R's copy-on-modify says, and the record
#' stays as it was.  Other R objects that held the vector keep the values
#' they had.  [fmalloc_set()] and [fmalloc_fill()] write into a vector's
#' data from anywhere.
#'
#' Two handles on one record (the record loaded twice, or read back twice
#' with `readRDS()`) are two views of the same stored object: a change
#' through one is seen by the other at once.  `y <- x` makes no second
#' handle: it is R's sharing of one value, with copy-on-modify.
#'
#' A record written only by serialization (an unsaved vector passed to
#' `saveRDS()` or `serialize()`) is a snapshot: assignments never change
#' it in place, so what was serialized stays what it was.
#'
#' Objects made with `options(Rfmalloc.class = FALSE)` keep value
#' semantics (R copies a saved vector before changing it), but
#' assignments into them change a copy: use [fmalloc_set()] to change a
#' stored record.
#'
#' What R writes through a vector's data pointer (`sort()`, `order()`-based
#' code, `x[] <-`, C code of other packages) is what gets stored: for a
#' character vector, the strings are copied into its block before it is
#' saved, serialized, copied or read by the package's code.
#'
#' @section Loops:
#' A loop over elements pays R's dispatch of `[` and `[<-` on every
#' element, as for any object with a class.  Vectorize (`x[idx]`,
#' `x[idx] <- v`, [fmalloc_set()] with many positions), or take the class
#' off once before the loop: `u <- unclass(x)` reads at base R's speed;
#' assignments into `u` then change a copy.  An assignment into a saved
#' vector costs the making of a small R object each time (R's copy of a
#' vector it cannot see is unshared); [fmalloc_set()] with many positions
#' does not.
#'
#' @section Forked children:
#' A child made by `fork()` (`parallel::mclapply()`, `mcparallel()`) sees
#' the parent's vectors as they were; its changes stay in the child (the
#' library maps the heap privately there), it cannot save, destroy or
#' change a record, and new file-backed results go to a scratch runtime of
#' its own.
#'
#' @section Options:
#' \describe{
#'   \item{`Rfmalloc.threshold`}{Vectors shorter than this (in elements,
#'     default 1e5) are copied into ordinary R memory when R duplicates
#'     them, and results shorter than this are ordinary R vectors; longer
#'     ones are file-backed.}
#'   \item{`Rfmalloc.gc_budget`}{Bytes of unsaved file-backed vectors made
#'     in a runtime since the package last asked R to collect garbage after
#'     which it asks again before making the next one (R's collector does
#'     not see the heap file's blocks).  `NULL` (default): the larger of
#'     256 MiB and a quarter of the heap file; `0`: collect before every new
#'     file-backed vector; `Inf`: never.  At half the budget a collection
#'     is asked for when the new vector would grow the file.  Negative, `NA` or non-numeric values are an
#'     error.  See [fmalloc_gc].}
#'   \item{`Rfmalloc.class`}{`FALSE` makes new and loaded vectors without
#'     the S3 class (see Classes and dispatch); default `TRUE`.}
#'   \item{`Rfmalloc.serialize`}{Set to `"value"` to serialize persistent
#'     vectors by value (the data) instead of by reference.}
#'   \item{`Rfmalloc.serialize_temporaries`}{`"reference"` (default) or
#'     `"value"`: how an unsaved persistent vector is serialized.  By
#'     reference it is committed as an unnamed record (a serialized
#'     temporary, see [fmalloc_save()]); by value nothing is committed.}
#'   \item{`Rfmalloc.unresolved`}{`"placeholder"` (default) or `"error"`:
#'     what reading back a reference that cannot be resolved gives (see
#'     [fmalloc_unresolved]).}
#' }
#'
#' @section Serialization by reference:
#' A persistent vector written with `saveRDS()` or `serialize()` is a
#' reference: the absolute path of the heap file, its uuid, the record id
#' and generation.  Reading it back opens the file (read-only if another
#' process holds the writer lock) and checks them; a reference that cannot
#' be resolved (a missing, replaced or older file, a file that is not a
#' heap, a destroyed record) reads back, with a warning, as a placeholder
#' that reports the problem when used ([fmalloc_unresolved]), so that
#' `load()` restores the other objects.  Serializing an unsaved vector
#' commits it as an unnamed record, which stays until it is destroyed
#' (see [fmalloc_save()], section "Serialized temporaries").  R loads
#' Rfmalloc to read such a reference; if the package cannot be loaded, R
#' gives a length-zero vector with a warning.  The data never leave the
#' heap file: copy the file with the `.rds` file, or use
#' `options(Rfmalloc.serialize = "value")`.
#'
#' A reference names a record, not one version of it: renaming or
#' re-saving the vector with [fmalloc_save()], or a character vector
#' outgrowing its block, gives the record a new generation, and a reference
#' saved before reads the record as it is now.  A record older than the
#' reference (the heap file was replaced by an older copy) is not
#' restored.
#'
#' @section Read-only heaps:
#' A heap file whose writer lock is held by another process is opened
#' read-only when a reference is read.  R copies its vectors before any
#' change (into the scratch runtime from the threshold on).
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
#' strings in R's memory while the vector is reachable.  `==` and `!=`
#' compare the stored bytes without making CHARSXPs (with R's rules for
#' strings in different encodings).  Base R functions the package calls
#' for a character vector of up to 2^27 elements (`unique()`, `match()`,
#' `nchar()`, `sort()`, printing, ...) get an ordinary character vector
#' of the cached CHARSXPs, 8 bytes an element for the length of the
#' call, as R reads an ALTREP string one method call per element;
#' longer vectors are read through the ALTREP methods.
#'
#' @section Computing on fmalloc vectors:
#' `sum()`, `min()`, `max()` and `mean()` use the vectors' own ALTREP
#' methods or read the mapped data in place; subsetting, duplication and
#' coercion between logical, integer and double give file-backed results
#' above `Rfmalloc.threshold`.  Arithmetic, comparison, logic (`&`, `|`,
#' `!`), the Math functions and the cumulative functions are computed in
#' C with file-backed results, through R's operators (see Classes and
#' dispatch) or [fmalloc_ops()] and [fmalloc_math()]; [fmalloc_colSums()]
#' and friends reduce matrices and arrays; see [fmalloc-base] for the
#' rest.
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
