#' Name, load and destroy persistent objects
#'
#' `fmalloc_save()` gives a vector of a persistent runtime a name and
#' commits it to the catalog with its attributes, so that
#' `fmalloc_load()` finds it again, in this or a later R session.  An
#' object that is not an fmalloc vector of the runtime is first copied
#' into it.  Saving under a name that is already used is an error;
#' saving a vector again updates its stored attributes and may rename it.
#'
#' `fmalloc_destroy()` frees the space of a vector (given as the vector,
#' by name, or by record id with `id =`).  Every R object using that space
#' becomes invalid: using it is an error, and references to it read back
#' later are placeholders (see [fmalloc_unresolved]).  For a list, it
#' frees the list and the elements that nothing else saved holds (see
#' [create_fmalloc_list()]); a vector or list that a saved list still
#' holds loses only its name, and keeps its data as that list's element
#' (one without a name is an error: destroy the list instead).  By id, any
#' record of [list_fmalloc_allocations()] can be destroyed, named or not
#' (a saved list's own record destroys the list as above), except an
#' element of a saved list.  A data frame (or a list that is not an
#' `"fmalloc_list"`) read back with `fmalloc_load()` is destroyed by its
#' name: given as the object, it is an error, since its own record is not
#' at hand.
#'
#' A committed vector is not freed when R collects it: only
#' `fmalloc_destroy()` frees it.  Vectors that were never saved or
#' serialized are freed when R collects them.
#'
#' @section Serialized temporaries:
#' Serializing an unsaved vector of a persistent runtime by reference
#' (`saveRDS()`, `save()`, `serialize()` of a vector that was never given
#' a name, such as `x[1:2e5]`, or `parallel::clusterExport()`) commits it
#' as an unnamed record, so that the reference can be read back in any
#' process, at any later time.  Such a record is a "serialized
#' temporary": [list_fmalloc_allocations()] shows it with state
#' `"serialized"` (and name `NA`).  R's garbage collector, closing the
#' runtime and the heap's sweep of orphaned list elements never free it
#' (nothing can tell when the last copy of the reference is gone).  It is
#' freed by `fmalloc_destroy(id = )` (the id from
#' [list_fmalloc_allocations()]), or by `compact_fmalloc(drop_unnamed =
#' TRUE)`, which frees every serialized temporary of the file; references
#' to a freed one read back as placeholders.  Giving it a name with
#' `fmalloc_save()` makes it an ordinary saved record.
#'
#' To commit nothing, set `options(Rfmalloc.serialize_temporaries =
#' "value")`: an unsaved vector is then serialized by value (its data are
#' written), while saved vectors are still written as references.
#' `options(Rfmalloc.serialize = "value")` writes every vector by value.
#'
#' @param x An R object (for `fmalloc_destroy()`: an fmalloc vector, or a
#'   name; leave it out when giving `id`).
#' @param name A single string, at most 255 bytes in UTF-8.
#' @param runtime A runtime, or `NULL` for the runtime of `x` or the
#'   default runtime.
#' @param id For `fmalloc_destroy()`: the id of a record (column `id` of
#'   [list_fmalloc_allocations()]) to destroy instead of `x`.
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
  if (is_fmalloc_unresolved(x)) {
    unresolved_stop(x)
  }
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
fmalloc_destroy <- function(x, runtime = NULL, id = NULL) {
  if (!is.null(id)) {
    if (!missing(x)) {
      stop("give 'x' or 'id', not both", call. = FALSE)
    }
    return(invisible(destroy_id(id, resolve_runtime(runtime))))
  }
  if (missing(x)) {
    stop("give 'x' (an fmalloc vector or a name) or 'id'", call. = FALSE)
  }
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
  if (is.null(rt) && is.list(x)) {
    # a data frame or plain list: the runtime of the vectors it holds
    vs <- list_vectors(x)
    if (length(vs)) rt <- fmalloc_runtime_of(vs[[1L]])
  }
  destroy_object(x, if (is.null(rt)) resolve_runtime(runtime) else rt)
  invisible(NULL)
}

# fmalloc_destroy(id = ID): the record ID of RUNTIME, named or not.
destroy_id <- function(id, runtime) {
  if (!is.numeric(id) || length(id) != 1L || is.na(id) || id < 1 ||
      id != round(id)) {
    stop("'id' must be a record id (a positive whole number)", call. = FALSE)
  }
  info <- .Call(C_rfm_record_info, runtime, id)
  if (info$state != "committed") {
    stop(sprintf("no record %.0f in this heap (%s)", id,
                 if (info$state == "missing") "no such id" else "destroyed"),
         call. = FALSE)
  }
  if (!info$ours) {
    stop(sprintf("record %.0f was not written by Rfmalloc", id), call. = FALSE)
  }
  if (!is.na(info$holder)) {
    list_name <- if (is.na(info$holder_name)) {
      sprintf("record %.0f", info$holder)
    } else {
      sprintf("'%s'", info$holder_name)
    }
    stop(sprintf(paste0("record %.0f is an element of the saved list %s: ",
                        "destroy the list (or save it without the element) ",
                        "instead"), id, list_name), call. = FALSE)
  }
  # a saved list's own record: the list goes with what nothing else holds
  destroy_object(.Call(C_rfm_get_id, runtime, id), runtime)
  NULL
}
