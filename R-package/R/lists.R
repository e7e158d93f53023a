#' fmalloc lists
#'
#' An fmalloc list holds `NULL` elements, fmalloc vectors and fmalloc
#' lists of one runtime, nested to any depth.  Its storage is the same on
#' every R version: an fmalloc double vector of that runtime (the list's
#' "ids").  When the list is saved with [fmalloc_save()], each element is
#' committed as a record of its own (a list element the same way, at any
#' depth), their record ids go into the ids vector, which is committed as
#' the list's own record (with the list's attributes); [fmalloc_load()]
#' rebuilds the list from it, in either R.
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
#' On both, assigning anything other than `NULL`, an fmalloc vector or an
#' fmalloc list of the same runtime to an element is an error (use
#' [as_fmalloc()] to copy a value in first).  A list cannot hold itself:
#' assigning a list that holds the list, directly or deeper, is an error
#' (copies of a list share its storage, so this is checked by storage,
#' not by value).  As in base R, `l[["a"]] <- NULL`, `l$a <- NULL` and
#' `l[i] <- NULL` drop the elements (the names follow), `l[i] <-
#' list(NULL)` sets them to `NULL`, and `l[[length(l) + 1]] <- v` or
#' `l$new <- v` add one; the result is an fmalloc list on the same
#' storage, and a saved list takes its new shape when it is saved again.
#' One exception keeps nested changes such as `l[[1]][2] <- 5` or
#' `l$a[2] <- 5` working: R makes them by changing a copy of the element,
#' which is an ordinary vector when the element is shorter than
#' `getOption("Rfmalloc.threshold", 1e5)`; an ordinary atomic vector
#' that replaces an fmalloc element of the same type is copied into the
#' list's runtime.  Copies
#' that R makes of a list (when a shared list is changed) share its ids
#' vector, so they are the same record when saved.
#'
#' Elements are shared, not owned: one vector may be saved under its own
#' name and be an element of several saved lists.  [fmalloc_destroy()] of
#' a list frees its record and every element (at any depth) that nothing
#' else saved holds: an element that is saved under its own name, or that
#' another saved list holds, stays.  [fmalloc_destroy()] of a vector or
#' list that a saved list still holds takes away only its name (the data
#' stay as the list's element, and go when the last list holding them is
#' destroyed); one that has no name of its own cannot be destroyed while
#' a saved list holds it (an error).
#'
#' Saving and destroying are safe across a crash (kill -9): the elements
#' are committed before the list's record, the ids and the attributes of
#' a saved list change together in one step, and when a list is destroyed
#' its own record goes before any element.  The first R process to open
#' the heap for writing frees every unnamed list element that no root
#' reaches, a root being a named record or a vector saved on its own
#' (what a process killed in between leaves behind, or an element that a
#' list saved again no longer holds); nothing that a saved object still
#' holds is ever freed.  [diagnose_fmalloc_runtime()] reports how many
#' were freed.  A crash while saving a list for the first time leaves
#' nothing of it; while saving a saved list again, each list of the tree
#' is either its old or its new version (lists inside are saved before
#' the lists holding them).
#'
#' Serializing an fmalloc list of a persistent runtime (with `saveRDS()`
#' or `serialize()`) writes references to the ids vector and the
#' elements.  On R >= 4.3, a list serialized by value (a scratch runtime,
#' or `options(Rfmalloc.serialize = "value")`) reads back as an ordinary
#' list of the values, without the class `"fmalloc_list"`.
#'
#' @param length Number of elements.
#' @param x A list whose elements are `NULL`, atomic vectors or lists of
#'   them (converted to fmalloc lists, at any depth).
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
  elts <- vector("list", length(x))
  for (i in seq_along(x)) {
    el <- x[[i]]
    if (is.null(el)) {
      next
    }
    if (is.list(el) && !(is_fmalloc_list(el) && same_runtime(el, runtime))) {
      el <- as_fmalloc_list(el, runtime = runtime)
    } else if (!is.list(el)) {
      el <- copy_in(el, runtime)
    }
    # [[<- sets the element itself (see load_list)
    elts[[i]] <- el
  }
  ids <- .Call(C_rfm_create, runtime, 14L, length(x), TRUE)
  make_list(ids, elts, names(x), "fmalloc_list")
}

# A new fmalloc list over the ids vector IDS holding the plain list ELTS
# (which it may take over), with the names NMS and the S3 class CLS.
make_list <- function(ids, elts, nms = NULL, cls = "fmalloc_list",
                      attrs = NULL) {
  names(elts) <- NULL
  if (use_altlist()) {
    for (el in elts) check_element_ids(ids, el)
    y <- .Call(C_rfm_list_new, ids, elts, TRUE)
  } else {
    for (el in elts) check_element_ids(ids, el)
    y <- elts
    attr(y, "fmalloc_ids") <- ids
  }
  for (a in names(attrs)) {
    if (!a %in% c("names", "class", "fmalloc_ids")) {
      attr(y, a) <- attrs[[a]]
    }
  }
  if (!is.null(nms)) {
    attr(y, "names") <- nms
  }
  class(y) <- cls
  y
}

# Is X an fmalloc list (either kind)?
is_fmalloc_list <- function(x) {
  is.list(x) && !is.null(list_ids(x)) &&
    (inherits(x, "fmalloc_list") || is_altlist(x))
}

# Does the fmalloc list L, or a list it holds at any depth, have the ids
# vector IDS?  (Copies of a list share its ids vector: this is storage
# identity.)
holds_ids <- function(l, ids) {
  if (!is_fmalloc_list(l)) {
    return(FALSE)
  }
  if (isTRUE(.Call(C_rfm_same_store, list_ids(l), ids))) {
    return(TRUE)
  }
  for (i in seq_along(l)) {
    if (holds_ids(.subset2(l, i), ids)) {
      return(TRUE)
    }
  }
  FALSE
}

check_element <- function(x, value) {
  check_element_ids(list_ids(x), value)
}

# VALUE may be an element of the list whose ids vector is IDS: NULL, an
# fmalloc vector or an fmalloc list of its runtime, and not a list that
# holds this one.
check_element_ids <- function(ids, value) {
  if (is.null(value)) {
    return(invisible())
  }
  rt <- fmalloc_runtime_of(ids)
  ok <- if (is.list(value)) {
    is_fmalloc_list(value) && identical(fmalloc_runtime_of(value), rt)
  } else {
    is_fmalloc(value) && identical(fmalloc_runtime_of(value), rt)
  }
  if (!ok) {
    stop("elements of an fmalloc list must be NULL, fmalloc vectors or ",
         "fmalloc lists of the same runtime (use as_fmalloc(value, runtime = ",
         "fmalloc_runtime_of(x)))", call. = FALSE)
  }
  if (is.list(value) && holds_ids(value, ids)) {
    stop("an fmalloc list cannot hold itself (the value holds the list, ",
         "directly or deeper)", call. = FALSE)
  }
  invisible()
}

# VALUE as element I of the fmalloc list X: an ordinary atomic vector
# replacing an fmalloc element of the same type (what a nested change
# such as x[[i]][j] <- v makes of a short element) is copied into the
# runtime; anything else must pass check_element().
element_value <- function(x, i, value) {
  if (is.atomic(value) && !is.null(value) && !is_fmalloc(value) &&
      i <= length(x)) {
    old <- .subset2(x, i)
    rt <- fmalloc_runtime_of(x)
    if (!is.list(old) && is_fmalloc(old) &&
        identical(typeof(old), typeof(value)) &&
        identical(fmalloc_runtime_of(old), rt)) {
      return(copy_in(value, rt))
    }
  }
  check_element(x, value)
  value
}

# The elements of the fmalloc list X as a plain list (with its names),
# changed by FUN with base R's rules, made an fmalloc list again on the
# same ids vector: for changes of its length (x[[i]] <- NULL drops
# element i; x[[length(x) + 1]] <- v adds one).  The ids vector takes
# the new length when the list is saved.
reshape_list <- function(x, fun) {
  ids <- list_ids(x)
  attrs <- attributes(x)
  attrs$dim <- NULL
  attrs$dimnames <- NULL
  y <- fun(plain_elements(x))
  make_list(ids, y, names(y), oldClass(x), attrs)
}

#' @export
`[[<-.fmalloc_list` <- function(x, i, value) {
  if (length(i) > 1L) {
    # recursive indexing: x[[c(i, j)]] <- v is x[[i]][[j]] <- v
    el <- x[[i[[1L]]]]
    el[[i[-1L]]] <- value
    x[[i[[1L]]]] <- el
    return(x)
  }
  pos <- if (is.character(i)) match(i, names(x)) else i
  if (length(pos) != 1L || (!is.numeric(pos) && !is.na(pos)) ||
      (is.numeric(pos) && !is.na(pos) && pos < 1)) {
    stop("invalid subscript for an fmalloc list", call. = FALSE)
  }
  n <- length(x)
  if (is.na(pos) || pos > n || is.null(value)) {
    if (!is.character(i) && is.na(pos)) {
      stop("invalid subscript for an fmalloc list", call. = FALSE)
    }
    # a change of length, with base R's rules: NULL drops the element
    # (or does nothing for one that is not there), anything else adds it
    if (!is.null(value)) {
      check_element(x, value)
    }
    return(reshape_list(x, function(y) {
      y[[i]] <- value
      y
    }))
  }
  value <- element_value(x, pos, value)
  if (is_altlist(x)) {
    return(.Call(C_rfm_list_set, x, pos, value))
  }
  cls <- oldClass(x)
  x <- unclass(x)
  x[pos] <- list(value)
  class(x) <- cls
  x
}

#' @export
`$<-.fmalloc_list` <- function(x, name, value) {
  `[[<-.fmalloc_list`(x, name, value)
}

#' @export
`[<-.fmalloc_list` <- function(x, i, value) {
  if (is.list(value)) {
    value <- plain_elements(value)
  } else if (!is.null(value)) {
    value <- list(value)
  }
  for (v in value) check_element(x, v)
  whole <- missing(i)
  reshape_list(x, function(y) {
    if (whole) y[] <- value else y[i] <- value
    y
  })
}

# The elements of the list X as a plain list, with its names.
plain_elements <- function(x) {
  y <- vector("list", length(x))
  for (k in seq_along(x)) {
    el <- .subset2(x, k)
    if (!is.null(el)) y[[k]] <- el
  }
  names(y) <- names(x)
  y
}

#' @export
print.fmalloc_list <- function(x, ...) {
  cat("<fmalloc_list of ", length(x), ">\n", sep = "")
  y <- unclass(x)
  attr(y, "fmalloc_ids") <- NULL
  print(y, ...)
  invisible(x)
}

# Save the list X (an fmalloc list, or an ordinary list of fmalloc
# vectors such as a data frame) under NAME (NULL for a list held by a
# list), its elements first: each atomic one as an element record, each
# list the same way at any depth (ROLE 5: a container that is also an
# element).  The new record ids go into the list's ids vector in one
# step (a saved list's record changes atomically), then the ids vector
# is committed with the list's attributes.  Until the outermost list
# commits, the records committed before are orphans that the next open
# of the heap frees.  SEEN: the ids vectors of the lists being saved
# around this one (a list that holds itself is refused).  The record id
# of the list.
save_list <- function(x, name, runtime, owner = NULL, role = 2L,
                      seen = list()) {
  ids <- list_ids(x)
  if (is.null(ids)) {
    ids <- .Call(C_rfm_create, runtime, 14L, length(x), TRUE)
  }
  .Call(C_rfm_check_save, ids)
  for (s in seen) {
    if (isTRUE(.Call(C_rfm_same_store, s, ids))) {
      stop("an fmalloc list cannot hold itself (the value holds the list, ",
           "directly or deeper)", call. = FALSE)
    }
  }
  seen <- c(seen, list(ids))
  vals <- numeric(length(x))
  for (i in seq_along(x)) {
    el <- .subset2(x, i)
    if (is.null(el)) {
      next
    }
    if (is.list(el)) {
      vals[[i]] <- save_list(el, NULL, runtime, owner, 5L, seen)
      next
    }
    meta <- serialize(stored_attributes(el), NULL, version = 3L)
    vals[[i]] <- .Call(C_rfm_save, el, NULL, meta, 1L) # role: element
    .Call(C_rfm_set_owner, el, owner)
  }
  attrs <- attributes(x)
  attrs$fmalloc_ids <- NULL
  attr(attrs, "fmalloc_container") <- TRUE
  meta <- serialize(attrs, NULL, version = 3L)
  # the ids and the attributes in one block: for a saved list, the one
  # step that changes its record
  .Call(C_rfm_list_fill, ids, vals, meta)
  # role: container.  Until this commits, the elements committed above
  # are orphans that the next open of the heap frees.
  .Call(C_rfm_save, ids, if (!is.null(name)) enc2utf8(name), meta, role)
}

# The list saved as the record IDS (its ids vector) with the attributes
# ATTRS, its elements loaded at any depth.  SEEN: the record ids of the
# lists being loaded around this one.
load_list <- function(ids, attrs, runtime, owner, seen = numeric()) {
  me <- .Call(C_rfm_record_role, ids)$id
  if (me %in% seen) {
    stop("the saved fmalloc list (record ", format(me, scientific = FALSE),
         ") holds itself", call. = FALSE)
  }
  seen <- c(seen, me)
  # the attributes saved with the ids (the record's metadata may be a
  # step behind after a crash)
  trailer <- .Call(C_rfm_list_attrs, ids)
  if (!is.null(trailer)) {
    attrs <- unserialize(trailer)
  }
  is_fl <- inherits(attrs, "fmalloc_list") ||
    identical(attrs$class, "fmalloc_list")
  y <- vector("list", length(ids))
  for (i in seq_along(y)) {
    id <- ids[[i]]
    if (id != 0) {
      el <- .Call(C_rfm_get_id, runtime, id)
      meta <- .Call(C_rfm_meta, el)
      a <- if (length(meta)) unserialize(meta) else NULL
      # [[<- sets the element itself: a temporary list(...) holding it
      # would count as a reference for ever (R copies before changes)
      y[[i]] <- if (is.list(a) && isTRUE(attr(a, "fmalloc_container"))) {
        load_list(el, a, runtime, owner, seen)
      } else {
        restore(el, meta, runtime, owner)
      }
    }
  }
  attr(attrs, "fmalloc_container") <- NULL
  if (!is.null(attrs$names) && length(attrs$names) != length(y)) {
    # (not from this package's saves: a damaged record)
    warning("the names of the saved fmalloc list (record ",
            format(me, scientific = FALSE), ") do not match its elements: ",
            "they are dropped", call. = FALSE)
    attrs$names <- NULL
  }
  if (is_fl && use_altlist()) {
    y <- .Call(C_rfm_list_new, ids, y, TRUE)
  } else if (is_fl) {
    attrs$fmalloc_ids <- ids
  }
  attributes(y) <- attrs
  y
}

# The record id of the fmalloc vector X (0 if it is not committed).
record_id <- function(x) .Call(C_rfm_record_role, x)$id

# The fmalloc vectors of the list X at any depth: the atomic elements
# and the ids vectors of the lists it holds (not its own).
list_vectors <- function(x) {
  out <- list()
  for (k in seq_along(x)) {
    el <- .subset2(x, k)
    if (is.list(el)) {
      ids <- list_ids(el)
      if (!is.null(ids)) out[[length(out) + 1L]] <- ids
      out <- c(out, list_vectors(el))
    } else if (!is.null(el) && is_fmalloc(el)) {
      out[[length(out) + 1L]] <- el
    }
  }
  out
}

# fmalloc_destroy() of X: an fmalloc vector (a list's ids vector when
# found by name) or a list.  What the catalog still needs stays: a
# record that a saved list holds (other than through X) keeps its data;
# if it is named, fmalloc_destroy() takes only the name.  Everything
# else of X goes: its record, the records it holds at any depth that
# nothing else saved holds, and its vectors that were never saved.
destroy_object <- function(x, runtime) {
  if (is.list(x)) {
    top <- list_ids(x)
    objs <- list_vectors(x)
  } else {
    top <- x
    objs <- list()
  }
  if (!is.null(top)) objs <- c(list(top), objs)
  saved <- vapply(objs, record_id, 0)
  objs <- objs[saved >= 0] # (destroyed before)
  saved <- saved[saved >= 0]
  target <- if (is.null(top)) 0 else max(record_id(top), 0)
  if (target > 0 &&
      isTRUE(.Call(C_rfm_reachable, runtime, target, target))) {
    # still held by a saved list
    if (!isTRUE(.Call(C_rfm_record_role, top)$named)) {
      stop("this is an element of a saved fmalloc list: destroy the list, ",
           "or take it out of the list (set it to NULL) and save the list ",
           "again", call. = FALSE)
    }
    .Call(C_rfm_unname, top)
    return(invisible(NULL))
  }
  cand <- saved[saved > 0]
  if (target > 0) {
    cand <- c(cand, .Call(C_rfm_subtree, runtime, target))
  } else if (length(cand) &&
             any(.Call(C_rfm_reachable, runtime, cand, numeric()))) {
    # a data frame or plain list that fmalloc_load() gave (its own
    # record is not at hand), or one holding saved vectors: destroying
    # it would free nothing of those, silently
    stop("this list holds vectors that a name or a saved list keeps (a ",
         "data frame or list read with fmalloc_load(), or saved vectors): ",
         "destroy it by name with fmalloc_destroy(\"name\"), or destroy ",
         "the saved vectors themselves", call. = FALSE)
  }
  destroy_list(runtime, target, unique(cand), objs[saved == 0])
}

# Destroy the record TARGET (0: none) of RUNTIME, the records CAND that
# nothing saved holds once it is gone, and the unsaved vectors UNSAVED.
# All or nothing across a crash: the unnamed records of CAND are
# flagged as list elements first (TARGET still holds them), then TARGET
# goes (its name no longer finds anything; from here on the first open
# of the heap frees what no root reaches), then what nothing holds.
destroy_list <- function(runtime, target, cand, unsaved) {
  if (length(cand)) .Call(C_rfm_mark_records, runtime, setdiff(cand, target))
  if (target > 0) .Call(C_rfm_free_records, runtime, target)
  if (length(cand)) {
    .Call(C_rfm_free_records, runtime,
          cand[!.Call(C_rfm_reachable, runtime, cand, numeric())])
  }
  .Call(C_rfm_destroy_each, unsaved)
  invisible(NULL)
}
