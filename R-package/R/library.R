#' Which libfmalloc-r the package uses
#'
#' Rfmalloc is built against the C library libfmalloc-r.  Its configure
#' script takes, in this order: a directory named with
#' `--with-fmalloc-r=DIR`, `FMR_PREFIX=DIR` or `INCLUDE_DIR` and `LIB_DIR`;
#' the bundled copy when `FMR_BUNDLED=yes` is set; an installed library
#' that `pkg-config` finds (at least the version the package needs); and
#' otherwise the copy of the library's sources bundled in the package's
#' source tarball, compiled into the package itself.  This function says
#' which one was taken.
#'
#' @return A list with
#' \describe{
#'   \item{`version`}{the version of the library the package runs with
#'     (`fmr_version()`);}
#'   \item{`header_version`}{the version of the header it was compiled
#'     against (they differ when an installed library was upgraded after
#'     the package was built);}
#'   \item{`bundled`}{`TRUE` for the bundled copy, `FALSE` for an
#'     installed library;}
#'   \item{`file`}{the shared object that holds the library's code: the
#'     installed `libfmalloc-r.so.N`, or the package's own shared object
#'     for the bundled copy (`NA` if the system cannot tell).}
#' }
#' @examples
#' lib <- fmalloc_library()
#' lib$version
#' if (lib$bundled) "bundled copy" else lib$file
#' @export
fmalloc_library <- function() {
  .Call(C_rfm_library)
}
