# fmr-compiler.m4: configure checks for the compiler features
# libfmalloc-r relies on: C11 with atomics, -pthread and symbol
# visibility.
#
# Copyright (C) 2026 The libfmalloc-r authors.
# This file is part of libfmalloc-r, free software under the GNU Lesser
# General Public License, version 2.1 or (at your option) any later version.

# serial 1

# FMR_PROG_CC_C11
# ---------------
# Make sure $CC compiles C11 (_Static_assert, _Alignas, _Thread_local,
# <stdatomic.h>).  If it does not as invoked, try -std=gnu11 and then
# -std=c11 and add the first that works to CC.  gnu11 comes first because
# the library needs GNU extensions of the C library (O_TMPFILE), and a
# strict -std=c11 hides POSIX functions such as mkdtemp from examples and
# tests that do not define a feature macro.  Fails when neither works.
AC_DEFUN([FMR_PROG_CC_C11],
[AC_REQUIRE([AC_PROG_CC])dnl
m4_define([_FMR_C11_PROGRAM], [AC_LANG_PROGRAM([[
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
_Static_assert (sizeof (uint64_t) == 8, "uint64_t has 8 bytes");
static _Thread_local int per_thread;
struct fmr_c11_probe { _Alignas (64) unsigned char bytes[64]; };
]], [[
  atomic_uint_least64_t counter;
  struct fmr_c11_probe probe;
  atomic_init (&counter, 0);
  atomic_fetch_add (&counter, 1);
  per_thread = (int) alignof (struct fmr_c11_probe);
  probe.bytes[0] = 0;
  return probe.bytes[0] + (int) atomic_load (&counter) - 1;
]])])dnl
AC_CACHE_CHECK([for the option to make $CC compile C11 with atomics],
  [fmr_cv_prog_cc_c11],
  [fmr_cv_prog_cc_c11=no
   fmr_save_CC=$CC
   for fmr_opt in '' -std=gnu11 -std=c11; do
     CC="$fmr_save_CC${fmr_opt:+ $fmr_opt}"
     AC_COMPILE_IFELSE([_FMR_C11_PROGRAM],
       [AS_IF([test -z "$fmr_opt"],
              [fmr_cv_prog_cc_c11='none needed'],
              [fmr_cv_prog_cc_c11=$fmr_opt])
        break])
   done
   CC=$fmr_save_CC])
AS_CASE([$fmr_cv_prog_cc_c11],
  [no], [AC_MSG_ERROR([$CC does not accept C11; libfmalloc-r needs a C11 compiler with <stdatomic.h>])],
  ['none needed'], [],
  [CC="$CC $fmr_cv_prog_cc_c11"])
])

# FMR_CHECK_PTHREAD
# -----------------
# Check that $CC compiles and links a threaded program with -pthread, and
# add -pthread to CFLAGS and LIBS, so that every object and every program
# of the package is built for threads.  Substitutes PTHREAD_FLAG (for the
# pkg-config file).
AC_DEFUN([FMR_CHECK_PTHREAD],
[AC_CACHE_CHECK([whether $CC builds threaded programs with -pthread],
  [fmr_cv_pthread],
  [fmr_save_CFLAGS=$CFLAGS
   fmr_save_LIBS=$LIBS
   CFLAGS="$CFLAGS -pthread"
   LIBS="$LIBS -pthread"
   AC_LINK_IFELSE([AC_LANG_PROGRAM([[
#include <pthread.h>
static void *run (void *arg) { return arg; }
]], [[
  pthread_t thread;
  pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
  void *result;
  if (pthread_create (&thread, 0, run, 0) != 0)
    return 1;
  pthread_mutex_lock (&mutex);
  pthread_mutex_unlock (&mutex);
  return pthread_join (thread, &result);
]])], [fmr_cv_pthread=yes], [fmr_cv_pthread=no])
   CFLAGS=$fmr_save_CFLAGS
   LIBS=$fmr_save_LIBS])
AS_IF([test "$fmr_cv_pthread" != yes],
  [AC_MSG_ERROR([$CC cannot build threaded programs with -pthread])])
CFLAGS="${CFLAGS:+$CFLAGS }-pthread"
LIBS="${LIBS:+$LIBS }-pthread"
PTHREAD_FLAG=-pthread
AC_SUBST([PTHREAD_FLAG])
])

# FMR_CHECK_VISIBILITY
# --------------------
# Check whether $CC supports -fvisibility=hidden together with
# __attribute__((visibility("default"))), the way the library marks its
# exported symbols (FMR_EXPORT in fmalloc-r.h).  Substitutes
# CFLAG_VISIBILITY (the flag, or empty) and defines HAVE_VISIBILITY to 1
# or 0.  The test uses -Werror because compilers that do not support the
# attribute (or support it on some targets only) merely warn.
AC_DEFUN([FMR_CHECK_VISIBILITY],
[AC_CACHE_CHECK([whether $CC supports -fvisibility=hidden],
  [fmr_cv_visibility],
  [fmr_save_CFLAGS=$CFLAGS
   CFLAGS="$CFLAGS -Werror -fvisibility=hidden"
   AC_COMPILE_IFELSE([AC_LANG_PROGRAM([[
extern __attribute__((visibility ("hidden"))) int hidden_var;
extern __attribute__((visibility ("default"))) int exported_var;
__attribute__((visibility ("hidden"))) int hidden_fn (void);
__attribute__((visibility ("default"))) int exported_fn (void);
int exported_fn (void) { return 0; }
]], [])], [fmr_cv_visibility=yes], [fmr_cv_visibility=no])
   CFLAGS=$fmr_save_CFLAGS])
CFLAG_VISIBILITY=
HAVE_VISIBILITY=0
AS_IF([test "$fmr_cv_visibility" = yes],
  [CFLAG_VISIBILITY=-fvisibility=hidden
   HAVE_VISIBILITY=1])
AC_SUBST([CFLAG_VISIBILITY])
AC_DEFINE_UNQUOTED([HAVE_VISIBILITY], [$HAVE_VISIBILITY],
  [Define to 1 if the compiler supports -fvisibility=hidden and the
   visibility attribute, 0 otherwise.])
])

# FMR_CHECK_VERSION_SCRIPT
# ------------------------
# Whether the linker takes a symbol version script through the compiler
# driver (-Wl,--version-script=FILE, GNU ld, gold, lld), the way the
# shared library gives each exported symbol its version node
# (src/libfmalloc-r.map).  The test links a shared object with a small
# script that has a global and a local part.  Substitutes
# VERSION_SCRIPT_FLAG (the option without the file name, or empty) and
# FMR_VERSION_SCRIPT (yes or no, for tests/test_exports.sh), and sets
# the Automake conditional HAVE_LD_VERSION_SCRIPT.
# --disable-version-script skips the check.
AC_DEFUN([FMR_CHECK_VERSION_SCRIPT],
[AC_ARG_ENABLE([version-script],
  [AS_HELP_STRING([--disable-version-script],
    [link the shared library without a symbol version script])],
  [], [enable_version_script=yes])
AS_IF([test "$enable_version_script" = yes],
  [AC_CACHE_CHECK([whether the linker supports --version-script],
    [fmr_cv_ld_version_script],
    [fmr_save_LDFLAGS=$LDFLAGS
     fmr_save_CFLAGS=$CFLAGS
     cat > conftest.map <<_FMR_EOF
FMR_CONFTEST_1.0 {
  global: fmr_conftest_*;
  local: *;
};
_FMR_EOF
     CFLAGS="$CFLAGS -fPIC"
     LDFLAGS="$LDFLAGS -shared -Wl,--version-script=conftest.map"
     AC_LINK_IFELSE([AC_LANG_PROGRAM([[
int fmr_conftest_exported (void);
int fmr_conftest_exported (void) { return 1; }
int fmr_conftest_local (void);
int fmr_conftest_local (void) { return 2; }
]], [])],
       [fmr_cv_ld_version_script=yes], [fmr_cv_ld_version_script=no])
     rm -f conftest.map
     LDFLAGS=$fmr_save_LDFLAGS
     CFLAGS=$fmr_save_CFLAGS])],
  [fmr_cv_ld_version_script=no])
VERSION_SCRIPT_FLAG=
AS_IF([test "$fmr_cv_ld_version_script" = yes],
  [VERSION_SCRIPT_FLAG=-Wl,--version-script=])
AC_SUBST([VERSION_SCRIPT_FLAG])
FMR_VERSION_SCRIPT=$fmr_cv_ld_version_script
AC_SUBST([FMR_VERSION_SCRIPT])
AM_CONDITIONAL([HAVE_LD_VERSION_SCRIPT],
  [test "$fmr_cv_ld_version_script" = yes])
])
