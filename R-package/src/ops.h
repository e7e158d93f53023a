/* ops.h: declarations shared by summary.c, ops.c, kernels.c, vectors.c
   and init.c (summary methods of the ALTREP classes; arithmetic,
   comparison, Math and matrix reducers computed in C over the mapped
   memory).  */

#ifndef RFMALLOC_OPS_H
#define RFMALLOC_OPS_H

#include "rfmalloc.h"

/* summary.c: ALTREP methods */
SEXP rfm_int_Sum(SEXP x, Rboolean narm);
SEXP rfm_int_Min(SEXP x, Rboolean narm);
SEXP rfm_int_Max(SEXP x, Rboolean narm);
SEXP rfm_real_Sum(SEXP x, Rboolean narm);
SEXP rfm_real_Min(SEXP x, Rboolean narm);
SEXP rfm_real_Max(SEXP x, Rboolean narm);
int rfm_Is_sorted(SEXP x);
int rfm_No_NA(SEXP x);

/* ops.c */
void rfm_copy_shape(SEXP ans, SEXP x);

/* ops.c: .Call entry points */
SEXP C_rfm_arith(SEXP op, SEXP x, SEXP y, SEXP rt);
SEXP C_rfm_math(SEXP fun, SEXP x, SEXP arg, SEXP rt);
SEXP C_rfm_cum(SEXP fun, SEXP x, SEXP na_wins, SEXP rt);
SEXP C_rfm_colsums(SEXP x, SEXP what, SEXP narm, SEXP nr, SEXP nc, SEXP rt);
SEXP C_rfm_vars(SEXP x, SEXP rows, SEXP narm, SEXP nr, SEXP nc, SEXP rt);
SEXP C_rfm_ops_method(SEXP generic, SEXP e1, SEXP e2, SEXP unary);
SEXP C_rfm_math_method(SEXP generic, SEXP x, SEXP arg);
SEXP C_rfm_set_cum_na_wins(SEXP v);

#endif
