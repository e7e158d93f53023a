# fmalloc_library(): which libfmalloc-r the package was built with.

test_that("fmalloc_library() names the library the package runs with", {
  lib <- fmalloc_library()
  expect_named(lib, c("version", "header_version", "bundled", "file"))
  expect_match(lib$version, "^[0-9]+\\.[0-9]+\\.[0-9]+")
  expect_match(lib$header_version, "^[0-9]+\\.[0-9]+\\.[0-9]+")
  expect_type(lib$bundled, "logical")
  expect_false(is.na(lib$bundled))
  expect_true(file.exists(lib$file))
  pkg_so <- normalizePath(getLoadedDLLs()[["Rfmalloc"]][["path"]])
  if (lib$bundled) {
    # The bundled copy is linked into the package's own shared object.
    expect_identical(lib$version, lib$header_version)
    expect_identical(normalizePath(lib$file), pkg_so)
  } else {
    expect_match(basename(lib$file), "^libfmalloc-r\\.so")
    expect_false(identical(normalizePath(lib$file), pkg_so))
  }
})

test_that("the bundled library's symbols stay inside the package", {
  lib <- fmalloc_library()
  skip_if_not(lib$bundled, "the package uses an installed libfmalloc-r")
  # Another package loading a system libfmalloc-r must not meet ours.
  expect_error(getNativeSymbolInfo("fmr_open", PACKAGE = "Rfmalloc"))
  expect_error(getNativeSymbolInfo("fmr_version", PACKAGE = "Rfmalloc"))
})
