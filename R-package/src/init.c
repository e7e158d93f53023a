/* init.c: registration of the .Call entry points and ALTREP classes,
   and the unload hook that closes every heap before the shared library
   goes away.  */

#include "ops.h" /* C_rfm_arith, C_rfm_math, C_rfm_cum, C_rfm_colsums */
#include "rfmalloc.h"

SEXP C_rfm_open(SEXP, SEXP, SEXP, SEXP, SEXP);
SEXP C_rfm_close(SEXP, SEXP);
SEXP C_rfm_holders(SEXP);
SEXP C_rfm_info(SEXP);
SEXP C_rfm_catalog(SEXP);
SEXP C_rfm_runtime_count(void);
SEXP C_rfm_create(SEXP, SEXP, SEXP, SEXP);
SEXP C_rfm_copy_in(SEXP, SEXP);
SEXP C_rfm_alias(SEXP);
SEXP C_rfm_set_attributes(SEXP, SEXP);
SEXP C_rfm_is_fmalloc(SEXP);
SEXP C_rfm_runtime_of(SEXP);
SEXP C_rfm_runtime_inherited(SEXP);
SEXP C_rfm_vector_info(SEXP);
SEXP C_rfm_save(SEXP, SEXP, SEXP, SEXP);
SEXP C_rfm_find(SEXP, SEXP);
SEXP C_rfm_destroy(SEXP);
SEXP C_rfm_destroy_each(SEXP);
SEXP C_rfm_get_id(SEXP, SEXP);
SEXP C_rfm_check_save(SEXP);
SEXP C_rfm_list_fill(SEXP, SEXP, SEXP);
SEXP C_rfm_list_attrs(SEXP);
SEXP C_rfm_unname(SEXP);
SEXP C_rfm_free_records(SEXP, SEXP);
SEXP C_rfm_record_role(SEXP);
SEXP C_rfm_is_current(SEXP);
SEXP C_rfm_library(void);
SEXP C_rfm_same_store(SEXP, SEXP);
SEXP C_rfm_reachable(SEXP, SEXP, SEXP);
SEXP C_rfm_subtree(SEXP, SEXP);
SEXP C_rfm_mark_records(SEXP, SEXP);
SEXP C_rfm_list_new(SEXP, SEXP, SEXP);
SEXP C_rfm_list_ids(SEXP);
SEXP C_rfm_list_set(SEXP, SEXP, SEXP);
SEXP C_rfm_has_altlist(void);
SEXP C_rfm_compact(SEXP);
SEXP C_rfm_record_info(SEXP, SEXP);
SEXP C_rfm_drop_unnamed(SEXP);
SEXP C_rfm_assign(SEXP, SEXP, SEXP, SEXP);
SEXP C_rfm_assign1(SEXP, SEXP, SEXP, SEXP);
SEXP C_rfm_set(SEXP, SEXP, SEXP);
SEXP C_rfm_set_tempdir(SEXP);
SEXP C_rfm_set_reader_frame(SEXP);
SEXP C_rfm_scratch_runtime(SEXP);
SEXP C_rfm_finish(SEXP, SEXP);
SEXP C_rfm_meta(SEXP);
SEXP C_rfm_payload_ptr(SEXP);
SEXP C_rfm_advise(SEXP, SEXP, SEXP, SEXP);
SEXP C_rfm_sync(SEXP);
SEXP C_rfm_subset1(SEXP, SEXP);
SEXP C_rfm_is_saved_view(SEXP);
SEXP C_rfm_assign_attr(SEXP, SEXP, SEXP, SEXP, SEXP);
SEXP C_rfm_set_owner(SEXP, SEXP);
SEXP C_rfm_view(SEXP);
SEXP C_rfm_gc_info(SEXP);
SEXP C_rfm_isna(SEXP);
SEXP C_rfm_anyna(SEXP);
SEXP C_rfm_which(SEXP);
SEXP C_rfm_to_file(SEXP, SEXP);
void rfm_register_ccallables(void);
SEXP C_rfm_unload(void);

#define ENTRY(name, n)                                                        \
  {                                                                           \
#name, (DL_FUNC)&name, n                                                  \
  }

static const R_CallMethodDef call_methods[] = {
    ENTRY(C_rfm_open, 5),
    ENTRY(C_rfm_close, 2),
    ENTRY(C_rfm_holders, 1),
    ENTRY(C_rfm_info, 1),
    ENTRY(C_rfm_catalog, 1),
    ENTRY(C_rfm_runtime_count, 0),
    ENTRY(C_rfm_unload, 0),
    ENTRY(C_rfm_create, 4),
    ENTRY(C_rfm_copy_in, 2),
    ENTRY(C_rfm_alias, 1),
    ENTRY(C_rfm_set_attributes, 2),
    ENTRY(C_rfm_is_fmalloc, 1),
    ENTRY(C_rfm_runtime_of, 1),
    ENTRY(C_rfm_runtime_inherited, 1),
    ENTRY(C_rfm_vector_info, 1),
    ENTRY(C_rfm_save, 4),
    ENTRY(C_rfm_find, 2),
    ENTRY(C_rfm_destroy, 1),
    ENTRY(C_rfm_destroy_each, 1),
    ENTRY(C_rfm_get_id, 2),
    ENTRY(C_rfm_check_save, 1),
    ENTRY(C_rfm_list_fill, 3),
    ENTRY(C_rfm_list_attrs, 1),
    ENTRY(C_rfm_unname, 1),
    ENTRY(C_rfm_free_records, 2),
    ENTRY(C_rfm_record_role, 1),
    ENTRY(C_rfm_is_current, 1),
    ENTRY(C_rfm_library, 0),
    ENTRY(C_rfm_same_store, 2),
    ENTRY(C_rfm_reachable, 3),
    ENTRY(C_rfm_subtree, 2),
    ENTRY(C_rfm_mark_records, 2),
    ENTRY(C_rfm_list_new, 3),
    ENTRY(C_rfm_list_ids, 1),
    ENTRY(C_rfm_list_set, 3),
    ENTRY(C_rfm_has_altlist, 0),
    ENTRY(C_rfm_compact, 1),
    ENTRY(C_rfm_record_info, 2),
    ENTRY(C_rfm_drop_unnamed, 1),
    ENTRY(C_rfm_assign, 4),
    ENTRY(C_rfm_assign1, 4),
    ENTRY(C_rfm_set, 3),
    ENTRY(C_rfm_set_tempdir, 1),
    ENTRY(C_rfm_set_reader_frame, 1),
    ENTRY(C_rfm_scratch_runtime, 1),
    ENTRY(C_rfm_finish, 2),
    ENTRY(C_rfm_meta, 1),
    ENTRY(C_rfm_payload_ptr, 1),
    ENTRY(C_rfm_advise, 4),
    ENTRY(C_rfm_sync, 1),
    ENTRY(C_rfm_subset1, 2),
    ENTRY(C_rfm_is_saved_view, 1),
    ENTRY(C_rfm_assign_attr, 5),
    ENTRY(C_rfm_set_owner, 2),
    ENTRY(C_rfm_view, 1),
    ENTRY(C_rfm_gc_info, 1),
    ENTRY(C_rfm_isna, 1),
    ENTRY(C_rfm_anyna, 1),
    ENTRY(C_rfm_which, 1),
    ENTRY(C_rfm_to_file, 2),
    ENTRY(C_rfm_arith, 4),
    ENTRY(C_rfm_math, 4),
    ENTRY(C_rfm_cum, 4),
    ENTRY(C_rfm_colsums, 6),
    ENTRY(C_rfm_vars, 6),
    ENTRY(C_rfm_ops_method, 4),
    ENTRY(C_rfm_math_method, 3),
    ENTRY(C_rfm_set_cum_na_wins, 1),
    {NULL, NULL, 0}};

void R_init_Rfmalloc(DllInfo *dll)
{
  R_registerRoutines(dll, NULL, call_methods, NULL, NULL);
  R_useDynamicSymbols(dll, FALSE);
  R_forceSymbols(dll, TRUE);
  rfm_init_runtime();
  rfm_init_classes(dll);
  rfm_init_list_class(dll);
  rfm_register_ccallables();
}

void R_unload_Rfmalloc(DllInfo *dll)
{
  (void)dll;
  rfm_unload_all();
}
