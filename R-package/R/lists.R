#' fmalloc lists
#'
#' An fmalloc list holds `NULL` elements and fmalloc vectors of one
#' runtime.  Its storage is the same on every R version: an fmalloc double
#' vector of that runtime (the list's "ids") with one slot per element.
#' When the list is saved with [fmalloc_save()], each element is committed
#' as a record of its own and its record id is written into the ids
#' vector, which is committed as the list's own record (with the list's
#' attributes); [fmalloc_load()] rebuilds the list from it, in either R.
#'
#' On R >= 4.3 an fmalloc list is an ALTLIST object of class
#' `"fmalloc_list"`: R reads its elements through the ALTLIST element
#' method, and setting an element (`l[[i]] <- v`, `l$a <- v`, `l[i] <- v`,
#' or `SET_VECTOR_ELT()` from C) checks the value.  The ids vector is held
#' by the object itself.
#'
#' On R 4.2 (which has no ALTLIST) an fmalloc list is an ordinary R list of
#' class `"fmalloc_list"`, with the ids vector in the attribute
#' `"fmalloc_ids"`; the `"fmalloc_list"` methods for `[[<-`, `$<-` and
#' `[<-` check the values.
#'
#' On both, assigning anything other than `NULL` or an fmalloc vector of
#' the same runtime to an element is an error (use [as_fmalloc()] to copy
#' a value in first), and so is changing the length of the list.  One
#' exception keeps nested changes such as `l[[1]][2] <- 5` or
#' `l$a[2] <- 5` working: R makes them by changing a copy of the element,
#' which is an ordinary vector when the element is shorter than
#' `getOption("Rfmalloc.threshold", 1e5)`; an ordinary atomic vector
#' that replaces an fmalloc element of the same type is copied into the
#' list's runtime.  Copies
#' that R makes of a list (when a shared list is changed) share its ids
#' vector, so they are the same record when saved.
#'
#' Saving and destroying a list is all or nothing across a crash: its
#' elements are committed as list elements before the list's own record,
#' and the first R process to open the heap for writing frees every
#' unnamed list element that no saved list holds (what a process killed
#' in between leaves behind, or an element that a list saved again no
#' longer holds); [diagnose_fmalloc_runtime()] reports how many.
#'
#' Serializing an fmalloc list of a persistent runtime (with `saveRDS()`
#' or `serialize()`) writes references to the ids vector and the
#' elements.  On R >= 4.3, a list serialized by value (a scratch runtime,
#' or `options(Rfmalloc.serialize = "value")`) reads back as an ordinary
#' list of the values, without the class `"fmalloc_list"`.
#'
#' @param length Number of elements.
#' @param x A list whose elements are `NULL` or atomic vectors.
#' @inheritParams create_fmalloc_vector
#' @return An `"fmalloc_list"`: an ALTLIST on R >= 4.3, an ordinary list
#'   with the attribute `"fmalloc_ids"` on R 4.2.
#' @examples
#' rt <- open_fmalloc(tempdir(), mode = "scratch")
#' l <- create_fmalloc_list(2, runtime = rt)
#' l[[1]] <- as_fmalloc(1:3, runtime = rt)
#' l
#' l2 <- as_fmalloc_list(list(a = "x", b = c(1.5, 2)), runtime = rt)
#' l2$b
#' @export
create_fmalloc_list <- function(length, runtime = NULL) {
  n <- check_count(length, "length")
  runtime <- resolve_runtime(runtime)
  ids <- .Call(C_rfm_create, runtime, 14L, n, TRUE)
  if (use_altlist()) {
    x <- .Call(C_rfm_list_new, ids, NULL, FALSE)
  } else {
    x <- vector("list", n)
    attr(x, "fmalloc_ids") <- ids
  }
  class(x) <- "fmalloc_list"
  x
}

# TRUE when fmalloc lists are ALTLIST objects: R >= 4.3 at run time and a
# build of the package compiled for it.
use_altlist <- function() {
  if (is.null(.rfm$altlist)) {
    .rfm$altlist <- getRversion() >= "4.3.0" &&
      isTRUE(.Call(C_rfm_has_altlist))
  }
  .rfm$altlist
}

# Is x an fmalloc list of the ALTLIST kind?
is_altlist <- function(x) {
  is.list(x) && !is.null(.Call(C_rfm_list_ids, x))
}

# The ids vector of an fmalloc list (either kind), or NULL.
list_ids <- function(x) {
  ids <- .Call(C_rfm_list_ids, x)
  if (is.null(ids)) attr(x, "fmalloc_ids", exact = TRUE) else ids
}

#' @rdname create_fmalloc_list
#' @export
as_fmalloc_list <- function(x, runtime = NULL) {
  if (!is.list(x)) {
    stop("'x' must be a list", call. = FALSE)
  }
  runtime <- resolve_runtime(runtime)
  if (use_altlist()) {
    elts <- vector("list", length(x))
    for (i in seq_along(x)) {
      el <- x[[i]]
      if (is.list(el)) {
        stop("fmalloc list elements must be NULL or atomic vectors",
             call. = FALSE)
      }
      if (!is.null(el)) elts[[i]] <- copy_in(el, runtime)
    }
    ids <- .Call(C_rfm_create, runtime, 14L, length(x), TRUE)
    y <- .Call(C_rfm_list_new, ids, elts, TRUE)
    class(y) <- "fmalloc_list"
    if (!is.null(names(x))) {
      attr(y, "names") <- names(x)
    }
    return(y)
  }
  y <- create_fmalloc_list(length(x), runtime = runtime)
  for (i in seq_along(x)) {
    el <- x[[i]]
    if (!is.null(el)) {
      if (is.list(el)) {
        stop("fmalloc list elements must be NULL or atomic vectors",
             call. = FALSE)
      }
      y[[i]] <- copy_in(el, runtime)
    }
  }
  if (!is.null(names(x))) {
    attr(y, "names") <- names(x)
  }
  y
}

check_element <- function(x, value) {
  if (is.null(value)) {
    return(invisible())
  }
  rt <- fmalloc_runtime_of(x)
  if (inherits(value, "fmalloc_list") || !is_fmalloc(value) ||
      !identical(fmalloc_runtime_of(value), rt)) {
    stop("elements of an fmalloc list must be NULL or fmalloc vectors of ",
         "the same runtime (use as_fmalloc(value, runtime = ",
         "fmalloc_runtime_of(x)))", call. = FALSE)
  }
}

# VALUE as element I of the fmalloc list X: an ordinary atomic vector
# replacing an fmalloc element of the same type (what a nested change
# such as x[[i]][j] <- v makes of a short element) is copied into the
# runtime; anything else must pass check_element().
element_value <- function(x, i, value) {
  if (is.atomic(value) && !is.null(value) && !is_fmalloc(value)) {
    old <- .subset2(x, i)
    rt <- fmalloc_runtime_of(x)
    if (is_fmalloc(old) && identical(typeof(old), typeof(value)) &&
        identical(fmalloc_runtime_of(old), rt)) {
      return(copy_in(value, rt))
    }
  }
  check_element(x, value)
  value
}

#' @export
`[[<-.fmalloc_list` <- function(x, i, value) {
  if (is.character(i)) {
    i <- match(i, names(x))
  }
  if (!is.numeric(i) || length(i) != 1L || is.na(i) || i < 1 ||
      i > length(x)) {
    check_element(x, value)
    stop("an fmalloc list cannot change its length", call. = FALSE)
  }
  value <- element_value(x, i, value)
  if (is_altlist(x)) {
    return(.Call(C_rfm_list_set, x, i, value))
  }
  cls <- oldClass(x)
  x <- unclass(x)
  x[i] <- list(value)
  class(x) <- cls
  x
}

#' @export
`$<-.fmalloc_list` <- function(x, name, value) {
  `[[<-.fmalloc_list`(x, name, value)
}

#' @export
`[<-.fmalloc_list` <- function(x, i, value) {
  value <- if (is.list(value)) value else list(value)
  for (v in value) check_element(x, v)
  if (is_altlist(x)) {
    pos <- seq_along(x)
    names(pos) <- names(x)
    pos <- if (missing(i)) pos else pos[i]
    if (anyNA(pos)) {
      stop("an fmalloc list cannot change its length", call. = FALSE)
    }
    if (length(pos) && !length(value)) {
      stop("replacement has length zero", call. = FALSE)
    }
    value <- rep_len(value, length(pos))
    for (k in seq_along(pos)) {
      x <- .Call(C_rfm_list_set, x, pos[[k]], value[[k]])
    }
    return(x)
  }
  cls <- oldClass(x)
  n <- length(x)
  x <- unclass(x)
  x[i] <- value
  if (length(x) != n) {
    stop("an fmalloc list cannot change its length", call. = FALSE)
  }
  class(x) <- cls
  x
}

#' @export
print.fmalloc_list <- function(x, ...) {
  cat("<fmalloc_list of ", length(x), ">\n", sep = "")
  y <- unclass(x)
  attr(y, "fmalloc_ids") <- NULL
  print(y, ...)
  invisible(x)
}

save_list <- function(x, name, runtime, owner = NULL) {
  ids <- list_ids(x)
  if (is.null(ids)) {
    ids <- .Call(C_rfm_create, runtime, 14L, length(x), TRUE)
  }
  for (i in seq_along(x)) {
    el <- .subset2(x, i)
    if (is.null(el)) {
      .Call(C_rfm_poke_real, ids, i, 0)
      next
    }
    meta <- serialize(stored_attributes(el), NULL, version = 3L)
    id <- .Call(C_rfm_save, el, NULL, meta, 1L) # role: element
    .Call(C_rfm_set_owner, el, owner)
    .Call(C_rfm_poke_real, ids, i, id)
  }
  attrs <- attributes(x)
  attrs$fmalloc_ids <- NULL
  attr(attrs, "fmalloc_container") <- TRUE
  # role: container.  Until this commits, the elements committed above
  # are orphans that the next open of the heap frees.
  .Call(C_rfm_save, ids, enc2utf8(name), serialize(attrs, NULL, version = 3L),
        2L)
  x
}

load_list <- function(ids, attrs, runtime, owner) {
  is_fl <- inherits(attrs, "fmalloc_list") ||
    identical(attrs$class, "fmalloc_list")
  y <- vector("list", length(ids))
  for (i in seq_along(y)) {
    id <- ids[[i]]
    if (id != 0) {
      el <- .Call(C_rfm_get_id, runtime, id)
      # [[<- sets the element itself: a temporary list(...) holding it
      # would count as a reference for ever (R copies before changes)
      y[[i]] <- restore(el, .Call(C_rfm_meta, el), runtime, owner)
    }
  }
  attr(attrs, "fmalloc_container") <- NULL
  if (is_fl && use_altlist()) {
    y <- .Call(C_rfm_list_new, ids, y, TRUE)
  } else if (is_fl) {
    attrs$fmalloc_ids <- ids
  }
  attributes(y) <- attrs
  y
}

# The element records of the saved list whose ids vector is IDS.
# (An element held in two slots is one record, destroyed once.)
list_element_records <- function(ids, runtime) {
  els <- list()
  for (id in unique(ids[ids != 0])) {
    els[[length(els) + 1L]] <- .Call(C_rfm_get_id, runtime, id)
  }
  els
}

# Destroy a list: its ids vector IDS (NULL if it has none) and the
# fmalloc vectors ELS.  All or nothing across a crash: the elements are
# flagged as such first, then the list's own record goes (so its name no
# longer finds anything), then the elements; elements left behind by a
# crash are freed by the next open of the heap.
destroy_list <- function(ids, els) {
  for (el in els) .Call(C_rfm_mark_element, el)
  if (!is.null(ids)) .Call(C_rfm_destroy, ids)
  .Call(C_rfm_destroy_each, els)
  invisible(NULL)
}
