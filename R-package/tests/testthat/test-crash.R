# kill -9 of an R process that is writing fmalloc vectors (issue 4).
#
# A writer R process opens a persistent heap and loops: it makes vectors
# whose content is a function of a seed (crash_value()), saves them by
# name, destroys, overwrites (destroy, then save again under the same
# name) and renames older ones.  It appends to a plain-text log a line
# "B op name seed type newname" before each operation and the same line
# starting with "D" after the operation returned.  The test kills it with
# SIGKILL at a random moment, then a fresh R process opens the heap and
# checks every name against the log: a name whose last operation is done
# ("D") must be there with exactly that content and attributes, or be
# absent if it was destroyed; the one operation that was running (a "B"
# line with no "D") may have happened or not, but wholly.  The test then
# writes the outcome of that operation to the log ("D" if it happened,
# "A" if not) and starts the next writer on the same file, so recovery is
# exercised once per round.
#
# RFMALLOC_CRASH_ROUNDS sets the number of rounds (default 8);
# RFMALLOC_CRASH_SEED the seed of the kill times (default: random, and
# printed).

# Every test here kills R processes with SIGKILL: not on CRAN.
skip_on_cran()

crash_types <- c("double", "integer", "logical", "raw", "complex",
                 "character", "factor", "list")

# The content of a vector of a type and seed: the writer makes it, the
# checker compares with it.  Uses base R only (it runs in other processes).
crash_value <- function(type, seed) {
  seed <- as.integer(seed)
  n <- if (seed %% 11L == 0L) 200000L else 1L + (seed * 7919) %% 3000
  n <- as.integer(n)
  i <- seq_len(n)
  switch(type,
    double = {
      v <- (i + seed) / 7
      v[1L] <- NA
      if (n %% 2L == 0L) dim(v) <- c(2L, n %/% 2L)
      attr(v, "seed") <- seed
      v
    },
    integer = {
      v <- as.integer((i * as.double(seed)) %% 100003)
      v[n] <- NA
      if (n <= 500L) names(v) <- paste0("n", i)
      v
    },
    logical = {
      v <- (i + seed) %% 3L == 0L
      v[seed %% n + 1L] <- NA
      v
    },
    raw = as.raw((i + seed) %% 256L),
    complex = {
      v <- complex(real = i + seed, imaginary = -seed / 3)
      v[n] <- NA
      v
    },
    character = {
      m <- min(n, 2000L)
      v <- paste0("s", seed, "_", seq_len(m))
      v[1L] <- NA
      v[m] <- paste0("caf\u00e9", seed)
      v
    },
    factor = factor(letters[(i + seed) %% 26L + 1L], levels = letters),
    list = list(a = as.integer(i[seq_len(min(n, 50L))] + seed),
                b = paste0("e", seed, c("x", "y")),
                c = NULL,
                d = c(1.5, seed)),
    stop("unknown type ", type)
  )
}
environment(crash_value) <- globalenv()

# Complete lines of the log (a line cut by the kill is dropped).
crash_read_log <- function(log) {
  if (!file.exists(log) || file.size(log) == 0) return(character())
  txt <- rawToChar(readBin(log, "raw", file.size(log)))
  lines <- strsplit(txt, "\n", fixed = TRUE)[[1L]]
  if (!endsWith(txt, "\n")) lines <- lines[-length(lines)]
  lines
}
environment(crash_read_log) <- globalenv()

# Replays the log: the names and their (type, seed) after every done
# operation, the operation still running (fields of its "B" line) if the
# log ends with one, and the highest seed used.
crash_replay <- function(lines) {
  state <- list()
  inflight <- NULL
  max_seed <- 0
  for (ln in lines) {
    f <- strsplit(ln, " ", fixed = TRUE)[[1L]]
    if (f[1L] == "M") max_seed <- max(max_seed, as.numeric(f[2L]))
    if (!f[1L] %in% c("B", "D", "A")) next
    max_seed <- max(max_seed, as.numeric(f[4L]))
    # names made from the seed counter ("v123", "r123"; a rename logs the
    # value's old seed but names the new record after the counter): the
    # next writer must count on from beyond them, or it reuses a name
    for (nm in f[c(3L, 6L)]) {
      k <- suppressWarnings(as.numeric(sub("^[a-z]+", "", nm)))
      if (!is.na(k)) max_seed <- max(max_seed, k)
    }
    if (f[1L] == "B") {
      inflight <- f
      next
    }
    inflight <- NULL
    if (f[1L] == "A") next
    switch(f[2L],
      save = state[[f[3L]]] <- list(type = f[5L], seed = as.integer(f[4L])),
      destroy = state[[f[3L]]] <- NULL,
      rename = {
        state[[f[6L]]] <- state[[f[3L]]]
        state[[f[3L]]] <- NULL
      })
  }
  list(state = state, inflight = inflight, max_seed = max_seed)
}
environment(crash_replay) <- globalenv()

# The writer: runs in its own R process until it is killed (max_ops = 0)
# or for max_ops operations, after which it closes the heap.  With big =
# TRUE it fills one vector of 5e7 doubles and saves it as "big".
crash_writer <- function(path, log, value, read_log, replay, round,
                         max_ops = 0, big = FALSE) {
  library(Rfmalloc)
  say <- function(...) {
    cat(paste(...), "\n", file = log, append = TRUE, sep = "")
  }
  rt <- open_fmalloc(path)
  if (big) {
    n <- 5e7
    x <- create_fmalloc_vector("double", n, runtime = rt,
                               zero_initialize = FALSE)
    say("FILLING")
    chunk <- 1e6
    for (k in seq_len(n / chunk)) {
      idx <- ((k - 1) * chunk + 1):(k * chunk)
      x[idx] <- idx / 3
    }
    fmalloc_save(x, "big", runtime = rt)
    say("BIGSAVED")
    Sys.sleep(600)
  }
  types <- c("double", "integer", "logical", "raw", "complex",
             "character", "factor", "list")
  st <- replay(read_log(log))
  if (!is.null(st$inflight)) stop("the log ends with an unresolved operation")
  state <- st$state
  seed <- st$max_seed
  set.seed(round * 7919 + 17)
  save_one <- function(name, type, seed) {
    say("B save", name, seed, type, "-")
    v <- value(type, seed)
    if (type == "list") {
      fmalloc_save(v, name, runtime = rt)
    } else if (type == "factor" || seed %% 2 == 0) {
      x <- as_fmalloc(v, runtime = rt)
      fmalloc_save(x, name, runtime = rt)
    } else {
      x <- create_fmalloc_vector(type, length(v), runtime = rt,
                                 zero_initialize = FALSE)
      chunk <- 50000
      for (k in seq_len(ceiling(length(v) / chunk))) {
        idx <- ((k - 1) * chunk + 1):min(k * chunk, length(v))
        x[idx] <- v[idx]
      }
      # one by one: `attributes<-` would copy x out of the heap
      for (a in names(attributes(v))) attr(x, a) <- attr(v, a)
      if (!is_fmalloc(x)) {
        stop(sprintf("the %s vector of seed %d (length %d) was copied %s",
                     type, seed, length(v), "out of the heap"))
      }
      fmalloc_save(x, name, runtime = rt)
    }
    say("D save", name, seed, type, "-")
  }
  destroy_one <- function(name) {
    s <- state[[name]]
    say("B destroy", name, s$seed, s$type, "-")
    fmalloc_destroy(name, runtime = rt)
    say("D destroy", name, s$seed, s$type, "-")
  }
  ops <- 0
  repeat {
    if (max_ops > 0 && ops >= max_ops) break
    ops <- ops + 1
    seed <- seed + 1
    # every name, lists too, may be destroyed or overwritten
    atomic <- names(state)
    u <- runif(1)
    if (length(atomic) > 40) u <- 0.4 * u
    if (length(atomic) >= 3 && u < 0.15) {
      name <- sample(atomic, 1)
      destroy_one(name)
      state[[name]] <- NULL
    } else if (length(atomic) >= 3 && u < 0.3) {
      # overwrite: destroy, then save new content under the same name
      name <- sample(atomic, 1)
      type <- state[[name]]$type
      destroy_one(name)
      state[[name]] <- NULL
      save_one(name, type, seed)
      state[[name]] <- list(type = type, seed = seed)
    } else if (length(atomic) >= 3 && u < 0.4) {
      old <- sample(names(state), 1)
      new <- paste0("r", seed)
      s <- state[[old]]
      y <- fmalloc_load(old, runtime = rt)
      say("B rename", old, s$seed, s$type, new)
      fmalloc_save(y, new, runtime = rt)
      say("D rename", old, s$seed, s$type, new)
      rm(y)
      state[[new]] <- s
      state[[old]] <- NULL
    } else {
      name <- paste0("v", seed)
      type <- types[seed %% length(types) + 1]
      if (type == "list" && length(state) - length(atomic) >= 12) {
        type <- "double"
      }
      save_one(name, type, seed)
      state[[name]] <- list(type = type, seed = seed)
    }
  }
  cleanup_fmalloc(rt)
  rm(rt)
  invisible(gc())
  ops
}
environment(crash_writer) <- globalenv()

# The checker: opens the heap in a fresh R process and compares every
# name with its candidates (a list of list(type, seed) or NULL for
# "absent"; the index of the first one that matches, or why none did).
crash_check <- function(path, cands, value) {
  library(Rfmalloc)
  # compare the stored values themselves, as plain R vectors
  options(Rfmalloc.class = FALSE)
  same <- function(obj, v) {
    if (is.list(v)) {
      if (!is.list(obj) || length(obj) != length(v) ||
          !identical(names(obj), names(v))) return(FALSE)
      for (i in seq_along(v)) {
        if (!identical(obj[[i]], v[[i]])) return(FALSE)
      }
      return(TRUE)
    }
    identical(obj, v)
  }
  rt <- open_fmalloc(path)
  d <- diagnose_fmalloc_runtime(rt)
  cat <- d$catalog
  named <- cat$name[cat$state == "committed" & !is.na(cat$name)]
  match <- list()
  list_ids <- numeric()
  for (nm in union(names(cands), named)) {
    present <- nm %in% named
    obj <- NULL
    why <- "absent"
    if (present) {
      obj <- tryCatch(fmalloc_load(nm, runtime = rt),
                      error = function(e) e)
      why <- if (inherits(obj, "error")) {
        paste("cannot load:", conditionMessage(obj))
      } else {
        "content or attributes differ"
      }
      if (is.list(obj) && !inherits(obj, "error")) {
        list_ids <- c(list_ids, Rfmalloc:::list_ids(obj)[])
      }
    }
    if (!nm %in% names(cands)) why <- "not expected"
    m <- 0L
    for (k in seq_along(cands[[nm]])) {
      spec <- cands[[nm]][[k]]
      ok <- if (is.null(spec)) {
        !present
      } else {
        present && !inherits(obj, "error") &&
          same(obj, value(spec$type, spec$seed))
      }
      if (ok) {
        m <- k
        break
      }
    }
    match[[nm]] <- if (m > 0L) m else why
  }
  unnamed <- cat$id[cat$state == "committed" & is.na(cat$name)]
  s <- d$summary
  res <- list(match = match, summary = s, runtime = d$runtime,
              states = cat$state, recoverable = cat$recoverable,
              meta = sum(cat$meta_bytes),
              leaked = setdiff(unnamed, list_ids))
  cleanup_fmalloc(rt)
  res
}
environment(crash_check) <- globalenv()

crash_start_writer <- function(path, log, round, big = FALSE) {
  err <- tempfile("writer-", fileext = ".err")
  p <- callr::r_bg(crash_writer,
                   args = list(path = path, log = log, value = crash_value,
                               read_log = crash_read_log,
                               replay = crash_replay, round = round,
                               big = big),
                   libpath = .libPaths(), stdout = err, stderr = "2>&1",
                   env = c(callr::rcmd_safe_env(), R_TESTS = ""))
  list(p = p, err = err)
}

crash_run_writer <- function(path, log, round, max_ops) {
  in_fresh_r(crash_writer,
             list(path = path, log = log, value = crash_value,
                  read_log = crash_read_log, replay = crash_replay,
                  round = round, max_ops = max_ops))
}

# Waits until cond() is TRUE or the process died (or 60 s went by).
crash_wait <- function(w, cond) {
  t0 <- Sys.time()
  while (!cond() && w$p$is_alive() &&
         difftime(Sys.time(), t0, units = "secs") < 60) {
    Sys.sleep(0.02)
  }
  cond()
}

crash_kill <- function(w) {
  alive <- w$p$is_alive()
  out <- paste(readLines(w$err, warn = FALSE), collapse = "\n")
  expect_true(alive, info = paste("the writer died early:", out))
  tools::pskill(w$p$get_pid(), tools::SIGKILL)
  w$p$wait(10000)
  expect_false(w$p$is_alive())
  alive && identical(w$p$get_exit_status(), -9L)
}

# Candidates of every name for the log as it stands: the state after the
# done operations, and for the names of the running one its state before
# (first candidate) and after (second).
crash_candidates <- function(lines) {
  st <- crash_replay(lines)
  cands <- lapply(st$state, function(s) list(s))
  f <- st$inflight
  post <- NULL
  if (!is.null(f)) {
    spec <- list(type = f[5L], seed = as.integer(f[4L]))
    post <- switch(f[2L],
      save = {
        # an overwrite's save follows the destroy: the name is absent
        # before
        cands[[f[3L]]] <- list(NULL, spec)
        f[3L]
      },
      destroy = {
        cands[[f[3L]]] <- list(spec, NULL)
        f[3L]
      },
      rename = {
        cands[[f[3L]]] <- list(spec, NULL)
        cands[[f[6L]]] <- list(NULL, spec)
        c(f[3L], f[6L])
      })
  }
  list(cands = cands, inflight = f, touched = post)
}

# Checks the heap after a kill; returns the result of crash_check() and
# resolves the running operation in the log.
crash_verify <- function(path, log, killed = TRUE, allow_leak = numeric()) {
  lines <- crash_read_log(log)
  writeLines(lines, log) # drop a line cut by the kill
  cc <- crash_candidates(lines)
  res <- in_fresh_r(crash_check, list(path = path, cands = cc$cands,
                                       value = crash_value))
  m <- res$match
  bad <- vapply(names(m), function(nm) {
    if (is.character(m[[nm]])) paste0(nm, ": ", m[[nm]]) else NA_character_
  }, "")
  expect_same(unname(bad[!is.na(bad)]), character(),
                   info = paste("log ends:", tail(lines, 3), collapse = "\n"))
  settled <- setdiff(names(m), cc$touched)
  expect_true(all(vapply(m[settled], identical, NA, 1L)))
  if (!is.null(cc$inflight)) {
    got <- unique(unlist(m[cc$touched]))
    # the running operation happened wholly or not at all
    expect_length(got, 1L)
    if (length(got) == 1L && is.numeric(got)) {
      tag <- if (got == 2L) "D" else "A"
      cat(paste(c(tag, cc$inflight[-1L]), collapse = " "), "\n",
          file = log, append = TRUE, sep = "")
    }
  }
  # The log is replaced by a snapshot of the state ("M" keeps the highest
  # seed used), so that it does not grow round after round.
  st <- crash_replay(crash_read_log(log))
  snap <- c(paste("M", st$max_seed),
            vapply(names(st$state), function(nm) {
              paste("D save", nm, st$state[[nm]]$seed, st$state[[nm]]$type,
                    "-")
            }, ""), "S")
  writeLines(snap, paste0(log, ".new"))
  file.rename(paste0(log, ".new"), log)
  # operations done by the writer since the last snapshot
  since <- seq_along(lines) > max(0, which(lines == "S"))
  res$ops <- sum(startsWith(lines[since], "D "))
  s <- res$summary
  expect_equal(unname(s$records["damaged"]), 0)
  expect_true(all(res$states %in% c("committed", "tombstone")))
  expect_true(all(res$recoverable[res$states == "committed"]))
  expect_equal(unname(s$records["recoverable"]),
               unname(s$records["committed"]))
  expect_same(s$recovered, killed)
  # nothing uncommitted survives the crash: the space in use is the
  # catalog and the committed records
  expect_equal(s$uncommitted_blocks, 0)
  # (each record's metadata is a block of its own, rounded up to 64 bytes)
  expect_lte(s$used_bytes, res$runtime$catalog_bytes +
               res$runtime$record_bytes + res$meta + 128 * length(res$states))
  # elements of a list whose save was cut off stay as unnamed records;
  # only a list save that was running may leave new ones
  new_leak <- setdiff(res$leaked, allow_leak)
  if (length(new_leak)) {
    expect_true(identical(cc$inflight[2L], "save") &&
                identical(cc$inflight[5L], "list"),
                info = "unnamed records not held by any list")
  }
  res
}

test_that("kill -9 of a writer keeps every committed vector intact", {
  rounds <- as.integer(Sys.getenv("RFMALLOC_CRASH_ROUNDS", "8"))
  if (is.na(rounds) || rounds < 1L) rounds <- 8L
  kill_seed <- as.integer(Sys.getenv("RFMALLOC_CRASH_SEED", NA))
  if (is.na(kill_seed)) kill_seed <- sample.int(1e6, 1)
  old_seed <- get0(".Random.seed", globalenv(), inherits = FALSE)
  set.seed(kill_seed)
  delays <- runif(rounds, 0.2, 1.5)
  if (is.null(old_seed)) rm(".Random.seed", envir = globalenv())
  else assign(".Random.seed", old_seed, globalenv())

  d <- heap_dir()
  on.exit(unlink(d, recursive = TRUE), add = TRUE)
  path <- file.path(d, "crash.fmr")
  log <- file.path(d, "crash.log")
  w <- NULL
  on.exit(if (!is.null(w) && w$p$is_alive()) w$p$kill(), add = TRUE)
  kills <- 0L
  leaked <- numeric()
  ops <- 0
  t0 <- Sys.time()
  for (r in seq_len(rounds)) {
    done_before <- sum(startsWith(crash_read_log(log), "D "))
    w <- crash_start_writer(path, log, r)
    expect_true(crash_wait(w, function() {
      sum(startsWith(crash_read_log(log), "D ")) > done_before
    }))
    Sys.sleep(delays[r])
    if (crash_kill(w)) kills <- kills + 1L
    res <- crash_verify(path, log, allow_leak = leaked)
    leaked <- union(leaked, res$leaked)
    ops <- ops + res$ops
  }
  # The writer goes on after the last crash and closes the heap cleanly.
  expect_equal(crash_run_writer(path, log, rounds + 1L, max_ops = 30), 30)
  res <- crash_verify(path, log, killed = FALSE, allow_leak = leaked)
  expect_null(crash_candidates(crash_read_log(log))$inflight)
  # Some real work was checked.
  st <- crash_replay(crash_read_log(log))
  expect_gt(length(st$state), 5)
  expect_gt(ops, rounds)
  expect_setequal(names(res$match), names(st$state))
  expect_equal(kills, rounds)
  message(sprintf(paste("kill -9 test: %d of %d kills survived,",
                        "%.0f operations logged before the kills, %d names",
                        "checked at the end, %d unnamed records leaked by",
                        "cut list saves, seed %d, %.1f s"),
                  kills, rounds, ops, length(st$state), length(leaked),
                  kill_seed,
                  as.numeric(difftime(Sys.time(), t0, units = "secs"))))
})

test_that("kill -9 while a large vector is filled reclaims its space", {
  d <- heap_dir()
  on.exit(unlink(d, recursive = TRUE), add = TRUE)
  path <- file.path(d, "big.fmr")
  log <- file.path(d, "big.log")
  t0 <- Sys.time()
  kills <- 0L
  expect_equal(crash_run_writer(path, log, 1L, max_ops = 25), 25)
  base <- crash_verify(path, log, killed = FALSE)
  used0 <- base$summary$used_bytes
  sizes <- numeric()
  w <- NULL
  on.exit(if (!is.null(w) && w$p$is_alive()) w$p$kill(), add = TRUE)
  for (r in 1:2) {
    w <- crash_start_writer(path, log, 100L + r, big = TRUE)
    filling <- function() "FILLING" %in% crash_read_log(log)
    expect_true(crash_wait(w, filling))
    Sys.sleep(0.2 + 0.3 * r)
    expect_false("BIGSAVED" %in% crash_read_log(log))
    ok <- crash_kill(w)
    expect_true(ok)
    kills <- kills + ok
    res <- crash_verify(path, log)
    # the half-written vector is gone and its 400 MB are free again
    expect_false("big" %in% names(res$match))
    expect_equal(res$summary$used_bytes, used0)
    expect_gt(res$summary$free_bytes, 4e8)
    sizes[r] <- res$summary$file_size
  }
  expect_gt(sizes[1], 4e8)
  # the second fill reused the space of the first instead of growing
  expect_equal(sizes[2], sizes[1])
  # and the writer goes on
  expect_equal(crash_run_writer(path, log, 200L, max_ops = 10), 10)
  res <- crash_verify(path, log, killed = FALSE)
  expect_lt(res$summary$used_bytes, used0 + 5e7)
  message(sprintf(paste("kill -9 test, large vector: %d of 2 kills survived,",
                        "file %.0f MB, %.1f s"), kills, sizes[1] / 1e6,
                  as.numeric(difftime(Sys.time(), t0, units = "secs"))))
})

test_that("kill -9 anywhere inside fmalloc_destroy of a list: all or nothing", {
  # the statements of destroy_list(): flag the elements, destroy the
  # list's record, destroy the elements; die before each in turn
  n_steps <- length(body(Rfmalloc:::destroy_list)) - 1L
  expect_gte(n_steps, 3)
  for (step in seq_len(n_steps)) {
    path <- heap_file()
    rt <- open_fmalloc(path)
    fmalloc_save(list(a = 1:3, b = c("x", "y"), c = NULL), "L", runtime = rt)
    fmalloc_save(c(u = 1.5), "keep", runtime = rt)
    cleanup_fmalloc(rt)
    rm(rt)
    invisible(gc())
    marker <- tempfile()
    try(in_fresh_r(function(path, marker, step) {
      rt <- Rfmalloc::open_fmalloc(path)
      trace(Rfmalloc:::destroy_list, at = step + 1L, print = FALSE,
            tracer = bquote({
              file.create(.(marker))
              tools::pskill(Sys.getpid(), tools::SIGKILL)
            }))
      Rfmalloc::fmalloc_destroy("L", runtime = rt)
    }, list(path = path, marker = marker, step = step)), silent = TRUE)
    # else the kill point must be found again
    expect_true(file.exists(marker), info = step)
    got <- in_fresh_r(function(path) {
      rt <- Rfmalloc::open_fmalloc(path)
      l <- tryCatch(Rfmalloc::fmalloc_load("L", runtime = rt),
                    error = function(e) NULL)
      if (!is.null(l)) l <- lapply(l, function(e) e[])
      d <- Rfmalloc::diagnose_fmalloc_runtime(rt)
      cat <- d$catalog
      list(l = l, names = cat$name[cat$state == "committed"],
           committed = unname(d$summary$records["committed"]),
           keep = Rfmalloc::fmalloc_load("keep", runtime = rt)[],
           used = d$summary$used_bytes,
           catalog = d$runtime$catalog_bytes, record = d$summary$record_bytes)
    }, list(path = path))
    expect_same(got$keep, c(u = 1.5), info = step)
    # either the list is still whole or it is gone without a trace
    if ("L" %in% got$names) {
      expect_same(got$l, list(a = 1:3, b = c("x", "y"), c = NULL),
                       info = step)
    } else {
      expect_same(got$names, "keep", info = step)
      expect_equal(got$committed, 1, info = step)
    }
  }
})

test_that("kill -9 inside fmalloc_save of a list leaves no records behind", {
  path <- heap_file()
  marker <- tempfile()
  try(in_fresh_r(function(path, marker) {
    rt <- Rfmalloc::open_fmalloc(path)
    Rfmalloc::fmalloc_save(c(u = 1.5), "keep", runtime = rt)
    big <- as.double(1:1e6)
    # stop just before the statement that commits the list's own record
    b <- as.list(body(Rfmalloc:::save_list))
    at <- which(vapply(b, function(e) {
      any(grepl("enc2utf8(name)", deparse(e), fixed = TRUE))
    }, NA))
    trace(Rfmalloc:::save_list, at = at, print = FALSE,
          tracer = bquote({
            file.create(.(marker))
            tools::pskill(Sys.getpid(), tools::SIGKILL)
          }))
    Rfmalloc::fmalloc_save(list(a = big, b = big), "L", runtime = rt)
  }, list(path = path, marker = marker)), silent = TRUE)
  expect_true(file.exists(marker)) # else the kill point must be found again
  got <- in_fresh_r(function(path) {
    rt <- Rfmalloc::open_fmalloc(path)
    d <- Rfmalloc::diagnose_fmalloc_runtime(rt)
    list(records = d$summary$records, used = d$summary$used_bytes,
         swept = d$summary$orphans_freed,
         swept_bytes = d$summary$orphan_bytes_freed,
         keep = Rfmalloc::fmalloc_load("keep", runtime = rt)[])
  }, list(path = path))
  # the two 8 MB elements were freed by the open; the vector saved
  # before is intact
  expect_equal(got$swept, 2)
  expect_gte(got$swept_bytes, 2 * 8e6)
  expect_equal(unname(got$records["committed"]), 1)
  expect_lt(got$used, 1e6)
  expect_same(got$keep, c(u = 1.5))
})

test_that("elements a re-saved list let go of are freed at the next open", {
  path <- heap_file()
  rt <- open_fmalloc(path)
  l <- as_fmalloc_list(list(a = as.double(1:1e5), b = 1:3), runtime = rt)
  fmalloc_save(l, "L", runtime = rt)
  l$a <- as_fmalloc(c(9, 8), runtime = rt)
  fmalloc_save(l, "L", runtime = rt)
  # a named vector that is also a list element is left alone
  fmalloc_save(l$b, "b-too", runtime = rt)
  before <- diagnose_fmalloc_runtime(rt)$summary
  expect_equal(unname(before$records["committed"]), 4)
  cleanup_fmalloc(rt)
  rm(rt, l)
  invisible(gc())
  got <- in_fresh_r(function(path) {
    rt <- Rfmalloc::open_fmalloc(path)
    d <- Rfmalloc::diagnose_fmalloc_runtime(rt)$summary
    l <- Rfmalloc::fmalloc_load("L", runtime = rt)
    list(d = d, a = l$a[], b = l$b[],
         b2 = Rfmalloc::fmalloc_load("b-too", runtime = rt)[])
  }, list(path = path))
  expect_equal(got$d$orphans_freed, 1)
  expect_gte(got$d$orphan_bytes_freed, 8e5)
  expect_equal(unname(got$d$records["committed"]), 3)
  expect_same(got$a, c(9, 8))
  expect_same(got$b, 1:3)
  expect_same(got$b2, 1:3)
})
