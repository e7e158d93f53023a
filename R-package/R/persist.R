#' Name, load and destroy persistent objects
#'
#' `fmalloc_save()` gives a vector of a persistent runtime a name and
#' commits it to the catalog with its attributes, so that
#' `fmalloc_load()` finds it again, in this or a later R session.  An
#' object that is not an fmalloc vector of the runtime is first copied
#' into it.  Saving under a name that is already used is an error;
#' saving a vector again updates its stored attributes and may rename it.
#'
#' `fmalloc_destroy()` frees the space of a vector (given as the vector or
#' by name).  Every R object using that space becomes invalid: using it is
#' an error.  For a list, it frees the list and the elements that nothing
#' else saved holds (see [create_fmalloc_list()]); a vector or list that a
#' saved list still holds loses only its name, and keeps its data as that
#' list's element (one without a name is an error).
#'
#' A committed vector is not freed when R collects it: only
#' `fmalloc_destroy()` frees it.  Vectors that were never saved or
#' serialized are freed when R collects them.
#'
#' @param x An R object (for `fmalloc_destroy()`: an fmalloc vector, or a
#'   name).
#' @param name A single string, at most 255 bytes in UTF-8.
#' @param runtime A runtime, or `NULL` for the runtime of `x` or the
#'   default runtime.
#' @return `fmalloc_save()`: the saved fmalloc object, invisibly.
#'   `fmalloc_load()`: the object, with its attributes (names, dim,
#'   dimnames, class, levels, ...).  `fmalloc_destroy()`: `NULL`,
#'   invisibly.
#' @examples
#' path <- file.path(tempdir(), "save-example.fmr")
#' rt <- open_fmalloc(path)
#' fmalloc_save(matrix(1:6, 2, dimnames = list(c("a", "b"), NULL)),
#'              "m", runtime = rt)
#' fmalloc_load("m", runtime = rt)
#' fmalloc_destroy("m", runtime = rt)
#' @export
fmalloc_save <- function(x, name, runtime = NULL) {
  save_object(x, name, runtime, parent.frame())
}

# fmalloc_save() for the caller in the environment OWNER (where
# assignments into the saved vector change its record).
save_object <- function(x, name, runtime, owner) {
  check_string(name, "name")
  if (is.null(runtime)) {
    runtime <- fmalloc_runtime_of(x)
  }
  runtime <- resolve_runtime(runtime)
  if (.Call(C_rfm_runtime_inherited, runtime)) {
    stop("cannot save into '", fmalloc_runtime_info(runtime)$path,
         "': its runtime was opened by the parent of this process, and a ",
         "forked child cannot save into it (return the value to the ",
         "parent instead)", call. = FALSE)
  }
  if (!same_runtime(x, runtime)) {
    x <- copy_in(x, runtime)
  }
  if (inherits(x, "fmalloc_list") || is.list(x)) {
    save_list(x, name, runtime, owner)
    return(invisible(x))
  }
  meta <- serialize(stored_attributes(x), NULL, version = 3L)
  .Call(C_rfm_save, x, enc2utf8(name), meta, 0L)
  .Call(C_rfm_set_owner, x, owner)
  invisible(x)
}

#' @rdname fmalloc_save
#' @export
fmalloc_load <- function(name, runtime = NULL) {
  check_string(name, "name")
  runtime <- resolve_runtime(runtime)
  x <- .Call(C_rfm_find, runtime, enc2utf8(name))
  restore(x, .Call(C_rfm_meta, x), runtime, parent.frame())
}

# The loaded record X with the attributes META, belonging to the
# environment OWNER (assignments there change the record).
restore <- function(x, meta, runtime, owner) {
  attrs <- if (length(meta)) unserialize(meta) else NULL
  if (is.list(attrs) && isTRUE(attr(attrs, "fmalloc_container"))) {
    return(load_list(x, attrs, runtime, owner))
  }
  .Call(C_rfm_set_owner, x, owner)
  finish_new(set_attributes(x, as.list(attrs)))
}

#' @rdname fmalloc_save
#' @export
fmalloc_destroy <- function(x, runtime = NULL) {
  if (is.character(x) && length(x) == 1L && !is_fmalloc(x)) {
    runtime <- resolve_runtime(runtime)
    found <- .Call(C_rfm_find, runtime, enc2utf8(x))
    destroy_object(found, runtime)
    return(invisible(NULL))
  }
  if (!is.list(x) && !is_fmalloc(x)) {
    stop("'x' must be an fmalloc vector or the name of one", call. = FALSE)
  }
  rt <- fmalloc_runtime_of(x)
  destroy_object(x, if (is.null(rt)) resolve_runtime(runtime) else rt)
  invisible(NULL)
}
