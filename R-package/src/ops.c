/* ops.c: arithmetic, comparison, Math functions and matrix reducers
   computed in C, with results in an fmalloc heap above the size
   threshold (option Rfmalloc.threshold) and in ordinary R memory below
   it.

   The element rules copy R 4.2's src/main/arithmetic.c and relop.c:
   recycling with the "longer object length" warning, NA and NaN
   propagation, integer overflow to NA with "NAs produced by integer
   overflow", int %/% 0 and int %% 0 giving NA, R's fmod/floor division
   for doubles, R_pow for ^ (x^2 as x*x), and the attribute rules (dim
   and dimnames or names from the operands; for arithmetic, the other
   attributes of each operand as long as the answer, x's winning).  Cases
   that are rare and intricate (time series, S4 objects, a length-1
   array with a longer vector, complex and character operands) return
   NULL and the R caller lets base R do them.  */

#include "ops.h"

#include <Rmath.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <string.h>

#define R_INT_MIN (1 + INT_MIN)

enum {
  OP_PLUS = 1,
  OP_MINUS,
  OP_TIMES,
  OP_DIV,
  OP_POW,
  OP_MOD,
  OP_IDIV,
  OP_EQ,
  OP_NE,
  OP_LT,
  OP_LE,
  OP_GT,
  OP_GE,
  OP_AND,
  OP_OR,
  OP_NOT /* logic.c: & | ! */
};

/* A result vector: file-backed (in the runtime of the operand RT, or
   the scratch runtime) when it is at least the threshold long, else in
   ordinary memory.  */
#define alloc_result rfm_alloc_result

/* --- element rules (arithmetic.c) ------------------------------------ */

#define I2D(v) ((v) == NA_INTEGER ? NA_REAL : (double)(v))

static R_INLINE double r_pow(double x, double y)
{
  return y == 2.0 ? x * x : R_pow(x, y);
}

/* set by myfmod: R warns "probable complete loss of accuracy" */
static int fmod_lost;

static R_INLINE double myfmod(double x1, double x2)
{
  if (x2 == 0.0)
    return R_NaN;
  if (fabs(x2) * DBL_EPSILON > 1 && R_FINITE(x1) && fabs(x1) <= fabs(x2)) {
    return (fabs(x1) == fabs(x2))                       ? 0
           : ((x1 < 0 && x2 > 0) || (x2 < 0 && x1 > 0)) ? x1 + x2
                                                        : x1;
  }
  double q = x1 / x2;
  if (R_FINITE(q) && (fabs(q) * DBL_EPSILON > 1))
    fmod_lost = 1;
  long double tmp = (long double)x1 - floor(q) * (long double)x2;
  return (double)(tmp - floorl(tmp / x2) * x2);
}

static R_INLINE double myfloor(double x1, double x2)
{
  double q = x1 / x2;
  if (x2 == 0.0 || fabs(q) * DBL_EPSILON > 1 || !R_FINITE(q))
    return q;
  if (fabs(q) < 1)
    return (q < 0) ? -1 : ((x1 < 0 && x2 > 0) || (x1 > 0 && x2 < 0)) ? -1 : 0;
  long double tmp = (long double)x1 - floor(q) * (long double)x2;
  return (double)(floor(q) + floorl(tmp / x2));
}

/* Loop over the answer with recycling: BODY uses i, i1, i2.  The common
   shapes get their own loops so that the compiler can vectorize them. */
#define LOOP2(...)                                                            \
  do {                                                                        \
    if (n1 == n2) {                                                           \
      for (R_xlen_t i = 0; i < n; i++) {                                      \
        const R_xlen_t i1 = i, i2 = i;                                        \
        __VA_ARGS__;                                                          \
      }                                                                       \
    } else if (n2 == 1) {                                                     \
      for (R_xlen_t i = 0; i < n; i++) {                                      \
        const R_xlen_t i1 = i, i2 = 0;                                        \
        __VA_ARGS__;                                                          \
      }                                                                       \
    } else if (n1 == 1) {                                                     \
      for (R_xlen_t i = 0; i < n; i++) {                                      \
        const R_xlen_t i1 = 0, i2 = i;                                        \
        __VA_ARGS__;                                                          \
      }                                                                       \
    } else {                                                                  \
      R_xlen_t i1 = 0, i2 = 0;                                                \
      for (R_xlen_t i = 0; i < n; i++) {                                      \
        __VA_ARGS__;                                                          \
        if (++i1 == n1)                                                       \
          i1 = 0;                                                             \
        if (++i2 == n2)                                                       \
          i2 = 0;                                                             \
      }                                                                       \
    }                                                                         \
  } while (0)

/* double answers of double (or int, converted by GA/GB) operands */
#define ID(v) (v)
#define REAL_ARITH(NAME, TA, GA, TB, GB)                                      \
  static void NAME(int op, const TA *a, R_xlen_t n1, const TB *b,             \
                   R_xlen_t n2, double *r, R_xlen_t n)                        \
  {                                                                           \
    switch (op) {                                                             \
    case OP_PLUS:                                                             \
      LOOP2(r[i] = GA(a[i1]) + GB(b[i2]));                                    \
      break;                                                                  \
    case OP_MINUS:                                                            \
      LOOP2(r[i] = GA(a[i1]) - GB(b[i2]));                                    \
      break;                                                                  \
    case OP_TIMES:                                                            \
      LOOP2(r[i] = GA(a[i1]) * GB(b[i2]));                                    \
      break;                                                                  \
    case OP_DIV:                                                              \
      LOOP2(r[i] = GA(a[i1]) / GB(b[i2]));                                    \
      break;                                                                  \
    case OP_POW:                                                              \
      LOOP2(r[i] = r_pow(GA(a[i1]), GB(b[i2])));                              \
      break;                                                                  \
    case OP_MOD:                                                              \
      LOOP2(r[i] = myfmod(GA(a[i1]), GB(b[i2])));                             \
      break;                                                                  \
    case OP_IDIV:                                                             \
      LOOP2(r[i] = myfloor(GA(a[i1]), GB(b[i2])));                            \
      break;                                                                  \
    }                                                                         \
  }
REAL_ARITH(arith_dd, double, ID, double, ID)
REAL_ARITH(arith_id, int, I2D, double, ID)
REAL_ARITH(arith_di, double, ID, int, I2D)

/* integer (and logical) operands */
static int arith_ii(int op, const int *a, R_xlen_t n1, const int *b,
                    R_xlen_t n2, void *out, R_xlen_t n)
{
  int *r = out;
  double *d = out;
  int ovf = 0;
  switch (op) {
  case OP_PLUS:
  case OP_MINUS:
  case OP_TIMES:
    LOOP2({
      int x1 = a[i1], x2 = b[i2];
      if (x1 == NA_INTEGER || x2 == NA_INTEGER) {
        r[i] = NA_INTEGER;
      } else {
        int64_t v = op == OP_PLUS    ? (int64_t)x1 + x2
                    : op == OP_MINUS ? (int64_t)x1 - x2
                                     : (int64_t)x1 * x2;
        if (v > INT_MAX || v < R_INT_MIN) {
          r[i] = NA_INTEGER;
          ovf = 1;
        } else {
          r[i] = (int)v;
        }
      }
    });
    break;
  case OP_DIV:
    LOOP2({
      int x1 = a[i1], x2 = b[i2];
      d[i] = (x1 == NA_INTEGER || x2 == NA_INTEGER) ? NA_REAL
                                                    : (double)x1 / (double)x2;
    });
    break;
  case OP_POW:
    LOOP2({
      int x1 = a[i1], x2 = b[i2];
      if (x1 == 1 || x2 == 0)
        d[i] = 1.0;
      else if (x1 == NA_INTEGER || x2 == NA_INTEGER)
        d[i] = NA_REAL;
      else
        d[i] = r_pow((double)x1, (double)x2);
    });
    break;
  case OP_MOD:
    LOOP2({
      int x1 = a[i1], x2 = b[i2];
      if (x1 == NA_INTEGER || x2 == NA_INTEGER || x2 == 0)
        r[i] = NA_INTEGER;
      else
        r[i] = (x1 >= 0 && x2 > 0) ? x1 % x2 : (int)myfmod(x1, x2);
    });
    break;
  case OP_IDIV:
    LOOP2({
      int x1 = a[i1], x2 = b[i2];
      if (x1 == NA_INTEGER || x2 == NA_INTEGER || x2 == 0)
        r[i] = NA_INTEGER;
      else
        r[i] = (int)floor((double)x1 / (double)x2);
    });
    break;
  }
  return ovf;
}

#define CMP(OPER, NA1, NA2)                                                   \
  LOOP2({                                                                     \
    r[i] =                                                                    \
        (NA1(a[i1]) || NA2(b[i2])) ? NA_LOGICAL : (GA(a[i1]) OPER GB(b[i2])); \
  })
#define RELOP(NAME, TA, GA_, NA1, TB, GB_, NA2)                               \
  static void NAME(int op, const TA *a, R_xlen_t n1, const TB *b,             \
                   R_xlen_t n2, int *r, R_xlen_t n)                           \
  {                                                                           \
    switch (op) {                                                             \
    case OP_EQ:                                                               \
      CMP(==, NA1, NA2);                                                      \
      break;                                                                  \
    case OP_NE:                                                               \
      CMP(!=, NA1, NA2);                                                      \
      break;                                                                  \
    case OP_LT:                                                               \
      CMP(<, NA1, NA2);                                                       \
      break;                                                                  \
    case OP_LE:                                                               \
      CMP(<=, NA1, NA2);                                                      \
      break;                                                                  \
    case OP_GT:                                                               \
      CMP(>, NA1, NA2);                                                       \
      break;                                                                  \
    case OP_GE:                                                               \
      CMP(>=, NA1, NA2);                                                      \
      break;                                                                  \
    }                                                                         \
  }
#define INA(v) ((v) == NA_INTEGER)
#define DNA(v) ISNAN(v)
#define GA     ID
#define GB     ID
RELOP(rel_dd, double, ID, DNA, double, ID, DNA)
RELOP(rel_ii, int, ID, INA, int, ID, INA)
#undef GA
#undef GB
#define GA(v) ((double)(v))
#define GB    ID
RELOP(rel_id, int, ID, INA, double, ID, DNA)
#undef GA
#undef GB
#define GA    ID
#define GB(v) ((double)(v))
RELOP(rel_di, double, ID, DNA, int, ID, INA)
#undef GA
#undef GB

/* --- & and | (logic.c): operands as logical (nonzero TRUE, NaN NA) ---- */

#define DLG(v) (ISNAN(v) ? NA_LOGICAL : (v) != 0)
#define ILG(v) ((v) == NA_INTEGER ? NA_LOGICAL : (v) != 0)
#define LOGIC(NAME, TA, GA, TB, GB)                                           \
  static void NAME(int op, const TA *a, R_xlen_t n1, const TB *b,             \
                   R_xlen_t n2, int *r, R_xlen_t n)                           \
  {                                                                           \
    if (op == OP_AND)                                                         \
      LOOP2({                                                                 \
        int u = GA(a[i1]), w = GB(b[i2]);                                     \
        r[i] = (u == 0 || w == 0)                     ? 0                     \
               : (u == NA_LOGICAL || w == NA_LOGICAL) ? NA_LOGICAL            \
                                                      : 1;                    \
      });                                                                     \
    else                                                                      \
      LOOP2({                                                                 \
        int u = GA(a[i1]), w = GB(b[i2]);                                     \
        r[i] = (u == 1 || w == 1)                     ? 1                     \
               : (u == NA_LOGICAL || w == NA_LOGICAL) ? NA_LOGICAL            \
                                                      : 0;                    \
      });                                                                     \
  }
LOGIC(logic_dd, double, DLG, double, DLG)
LOGIC(logic_di, double, DLG, int, ILG)
LOGIC(logic_id, int, ILG, double, DLG)
LOGIC(logic_ii, int, ILG, int, ILG)

/* --- attributes (arithmetic.c R_binary, relop.c) ---------------------- */

static int is_array(SEXP x)
{
  return Rf_getAttrib(x, R_DimSymbol) != R_NilValue;
}

static int conformable(SEXP x, SEXP y)
{
  SEXP dx = Rf_getAttrib(x, R_DimSymbol), dy = Rf_getAttrib(y, R_DimSymbol);
  if (XLENGTH(dx) != XLENGTH(dy))
    return 0;
  for (R_xlen_t i = 0; i < XLENGTH(dx); i++)
    if (INTEGER(dx)[i] != INTEGER(dy)[i])
      return 0;
  return 1;
}

/* Dims of the answer, or R_NilValue; errors as R does.  */
static SEXP answer_dims(SEXP x, SEXP y, R_xlen_t nx, R_xlen_t ny)
{
  int xa = is_array(x), ya = is_array(y);
  if (xa && ya) {
    if (!conformable(x, y))
      Rf_error("non-conformable arrays");
    return Rf_getAttrib(x, R_DimSymbol);
  }
  if (xa && (ny != 0 || nx == 0))
    return Rf_getAttrib(x, R_DimSymbol);
  if (ya && (nx != 0 || ny == 0))
    return Rf_getAttrib(y, R_DimSymbol);
  return R_NilValue;
}

static void set_binary_attrib(SEXP ans, SEXP x, SEXP y, SEXP dims, int arith)
{
  R_xlen_t n = XLENGTH(ans), nx = XLENGTH(x), ny = XLENGTH(y);
  int xattr = ATTRIB(x) != R_NilValue, yattr = ATTRIB(y) != R_NilValue;
  if (!xattr && !yattr)
    return;
  if (arith) {
    if (yattr && n == ny)
      Rf_copyMostAttrib(y, ans);
    if (xattr && n == nx)
      Rf_copyMostAttrib(x, ans); /* second: x's attributes win */
  }
  if (dims != R_NilValue) {
    Rf_setAttrib(ans, R_DimSymbol, dims);
    SEXP xn = Rf_getAttrib(x, R_DimNamesSymbol);
    SEXP yn = Rf_getAttrib(y, R_DimNamesSymbol);
    if (xn != R_NilValue)
      Rf_setAttrib(ans, R_DimNamesSymbol, xn);
    else if (yn != R_NilValue)
      Rf_setAttrib(ans, R_DimNamesSymbol, yn);
  } else if (!is_array(x) && !is_array(y)) {
    SEXP xn = Rf_getAttrib(x, R_NamesSymbol);
    SEXP yn = Rf_getAttrib(y, R_NamesSymbol);
    if (xn != R_NilValue && XLENGTH(xn) == n)
      Rf_setAttrib(ans, R_NamesSymbol, xn);
    else if (yn != R_NilValue && XLENGTH(yn) == n)
      Rf_setAttrib(ans, R_NamesSymbol, yn);
  }
}

static int numeric_type(SEXP x)
{
  int t = TYPEOF(x);
  return t == LGLSXP || t == INTSXP || t == REALSXP;
}

/* Operands we leave to base R. */
static int unsupported(SEXP x)
{
  if (!numeric_type(x) || Rf_isS4(x))
    return 1;
  if (Rf_getAttrib(x, R_TspSymbol) != R_NilValue)
    return 1;
  return 0;
}

/* --- entry points ------------------------------------------------------ */

/* Give ANS the names, dim and dimnames of X (those it has).  */
void rfm_copy_shape(SEXP ans, SEXP x)
{
  SEXP names = Rf_getAttrib(x, R_NamesSymbol);
  SEXP dim = Rf_getAttrib(x, R_DimSymbol);
  SEXP dimnames = Rf_getAttrib(x, R_DimNamesSymbol);
  if (names != R_NilValue)
    Rf_setAttrib(ans, R_NamesSymbol, names);
  if (dim != R_NilValue)
    Rf_setAttrib(ans, R_DimSymbol, dim);
  if (dimnames != R_NilValue)
    Rf_setAttrib(ans, R_DimNamesSymbol, dimnames);
}

/* !x (logic.c lunary): a logical x keeps all its attributes, a numeric
   one its names, dim and dimnames.  */
static SEXP logical_not(SEXP x, SEXP rt)
{
  R_xlen_t n = XLENGTH(x);
  SEXP ans = PROTECT(alloc_result(rt, LGLSXP, n));
  int *r = LOGICAL(ans);
  if (TYPEOF(x) == REALSXP) {
    const double *a = REAL_RO(x);
    for (R_xlen_t i = 0; i < n; i++)
      r[i] = ISNAN(a[i]) ? NA_LOGICAL : a[i] == 0;
  } else {
    const int *a = TYPEOF(x) == LGLSXP ? LOGICAL_RO(x) : INTEGER_RO(x);
    for (R_xlen_t i = 0; i < n; i++)
      r[i] = a[i] == NA_INTEGER ? NA_LOGICAL : a[i] == 0;
  }
  if (TYPEOF(x) == LGLSXP)
    SHALLOW_DUPLICATE_ATTRIB(ans, x);
  else
    rfm_copy_shape(ans, x);
  UNPROTECT(1);
  return ans;
}

static SEXP unary(int op, SEXP x, SEXP rt)
{
  if (op == OP_NOT)
    return logical_not(x, rt);
  if (op != OP_MINUS && op != OP_PLUS)
    Rf_error("invalid unary operator");
  R_xlen_t n = XLENGTH(x);
  int type = TYPEOF(x) == REALSXP ? REALSXP : INTSXP;
  if (op == OP_PLUS && TYPEOF(x) != LGLSXP)
    return x;
  SEXP ans = PROTECT(alloc_result(rt, type, n));
  if (type == REALSXP) {
    const double *a = REAL_RO(x);
    double *r = REAL(ans);
    for (R_xlen_t i = 0; i < n; i++)
      r[i] = -a[i];
  } else {
    const int *a = TYPEOF(x) == LGLSXP ? LOGICAL_RO(x) : INTEGER_RO(x);
    int *r = INTEGER(ans);
    if (op == OP_PLUS)
      for (R_xlen_t i = 0; i < n; i++)
        r[i] = a[i];
    else
      for (R_xlen_t i = 0; i < n; i++)
        r[i] = a[i] == NA_INTEGER ? NA_INTEGER : -a[i];
  }
  SHALLOW_DUPLICATE_ATTRIB(ans, x);
  UNPROTECT(1);
  return ans;
}

static const void *ro(SEXP x)
{
  switch (TYPEOF(x)) {
  case LGLSXP:
    return LOGICAL_RO(x);
  case INTSXP:
    return INTEGER_RO(x);
  default:
    return REAL_RO(x);
  }
}

/* Call the kernel NAME_xy for the operand types (d double, i integer or
   logical) of C_rfm_arith's locals.  */
#define BY_TYPES(NAME)                                                        \
  do {                                                                        \
    if (tx && ty)                                                             \
      NAME##_dd(op, a, n1, b, n2, r, n);                                      \
    else if (tx)                                                              \
      NAME##_di(op, a, n1, b, n2, r, n);                                      \
    else if (ty)                                                              \
      NAME##_id(op, a, n1, b, n2, r, n);                                      \
    else                                                                      \
      NAME##_ii(op, a, n1, b, n2, r, n);                                      \
  } while (0)

/* x OP y (OP an integer code above), y = NULL for unary - and +.
   Returns NULL when base R should do it.  */
SEXP C_rfm_arith(SEXP op_, SEXP x, SEXP y, SEXP rt)
{
  int op = Rf_asInteger(op_);
  if (op < OP_PLUS || op > OP_NOT)
    Rf_error("invalid operator code");
  if (unsupported(x))
    return R_NilValue;
  if (y == R_NilValue)
    return unary(op, x, rt);
  if (op == OP_NOT)
    Rf_error("'!' takes one operand");
  if (unsupported(y))
    return R_NilValue;
  R_xlen_t nx = XLENGTH(x), ny = XLENGTH(y);
  int xa = is_array(x), ya = is_array(y);
  if ((xa && !ya && nx == 1 && ny != 1) || (ya && !xa && ny == 1 && nx != 1))
    return R_NilValue; /* R drops the dims with a deprecation warning */
  R_xlen_t n = (nx == 0 || ny == 0) ? 0 : (nx > ny ? nx : ny);
  SEXP dims = PROTECT(answer_dims(x, y, nx, ny));
  if (dims != R_NilValue) {
    double p = 1;
    for (R_xlen_t k = 0; k < XLENGTH(dims); k++)
      p *= INTEGER(dims)[k];
    if (p != (double)n)
      Rf_error("dims [product %.0f] do not match the length of object "
               "[%.0f]",
               p, (double)n);
  }
  int mismatch = n > 0 && nx != ny && nx != 1 && ny != 1 &&
                 (nx > ny ? nx % ny : ny % nx) != 0;
  int tx = TYPEOF(x) == REALSXP, ty = TYPEOF(y) == REALSXP;
  int relop = op >= OP_EQ; /* comparison or logic: logical answer */
  int type;
  if (relop)
    type = LGLSXP;
  else if (tx || ty || op == OP_DIV || op == OP_POW)
    type = REALSXP;
  else
    type = INTSXP;
  SEXP ans = PROTECT(alloc_result(rt, type, n));
  void *r = type == REALSXP  ? (void *)REAL(ans)
            : type == INTSXP ? (void *)INTEGER(ans)
                             : (void *)LOGICAL(ans);
  const void *a = ro(x), *b = ro(y);
  R_xlen_t n1 = nx, n2 = ny;
  int ovf = 0;
  if ((op == OP_PLUS || op == OP_TIMES) && tx && ty && n1 == 1 && n2 > 1) {
    /* double scalar + double vector: R's compiled loop puts the vector
       element first, which decides whether NA + NaN gives NA or NaN; do
       the same (R says either may come out; we match this build) */
    const void *t = a;
    a = b;
    b = t;
    n1 = ny;
    n2 = nx;
  }
  fmod_lost = 0;
  if (n > 0) {
    if (op == OP_AND || op == OP_OR) {
      BY_TYPES(logic);
    } else if (relop) {
      BY_TYPES(rel);
    } else if (tx && ty) {
      arith_dd(op, a, n1, b, n2, r, n);
    } else if (tx) {
      arith_di(op, a, n1, b, n2, r, n);
    } else if (ty) {
      arith_id(op, a, n1, b, n2, r, n);
    } else {
      ovf = arith_ii(op, a, n1, b, n2, r, n);
    }
  }
  if (mismatch)
    Rf_warning("longer object length is not a multiple of shorter object "
               "length");
  if (ovf)
    Rf_warning("NAs produced by integer overflow");
  if (fmod_lost)
    Rf_warning("probable complete loss of accuracy in modulus");
  set_binary_attrib(ans, x, y, dims, !relop);
  UNPROTECT(2);
  return ans;
}

/* --- Math ---------------------------------------------------------------- */

enum {
  M_SQRT = 1,
  M_EXP,
  M_LOG,
  M_ABS,
  M_FLOOR,
  M_CEILING,
  M_ROUND,
  M_SIGNIF,
  M_SIN,
  M_COS,
  M_TAN,
  M_TRUNC,
  M_LOG2,
  M_LOG10,
  M_LOG1P,
  M_EXPM1,
  M_SIGN
};

static R_INLINE double r_log(double x)
{
  return x > 0 ? log(x) : x == 0 ? R_NegInf : R_NaN;
}

static R_INLINE double r_sign(double x)
{
  return ISNAN(x) ? x : (x > 0) ? 1 : (x == 0 ? 0 : -1);
}

#define MATH1(EXPR)                                                           \
  for (R_xlen_t i = 0; i < n; i++) {                                          \
    double x = GET(i);                                                        \
    double y = (EXPR);                                                        \
    if (ISNAN(y)) {                                                           \
      if (ISNAN(x))                                                           \
        y = x; /* NA stays NA, NaN stays NaN (R's math1) */                   \
      else                                                                    \
        naflag = 1;                                                           \
    }                                                                         \
    r[i] = y;                                                                 \
  }

#define MATH_SWITCH                                                           \
  switch (fun) {                                                              \
  case M_SQRT:                                                                \
    MATH1(sqrt(x));                                                           \
    break;                                                                    \
  case M_EXP:                                                                 \
    MATH1(exp(x));                                                            \
    break;                                                                    \
  case M_LOG:                                                                 \
    if (base == 10) {                                                         \
      MATH1(x > 0 ? log10(x) : x == 0 ? R_NegInf : R_NaN);                    \
    } else if (base == 2) {                                                   \
      MATH1(x > 0 ? log2(x) : x == 0 ? R_NegInf : R_NaN);                     \
    } else if (base == M_E) {                                                 \
      MATH1(r_log(x));                                                        \
    } else {                                                                  \
      double lb = r_log(base);                                                \
      MATH1(r_log(x) / lb);                                                   \
    }                                                                         \
    break;                                                                    \
  case M_ABS:                                                                 \
    MATH1(fabs(x));                                                           \
    break;                                                                    \
  case M_FLOOR:                                                               \
    MATH1(floor(x));                                                          \
    break;                                                                    \
  case M_CEILING:                                                             \
    MATH1(ceil(x));                                                           \
    break;                                                                    \
  case M_ROUND:                                                               \
    MATH1(fround(x, digits));                                                 \
    break;                                                                    \
  case M_SIGNIF:                                                              \
    MATH1(fprec(x, digits));                                                  \
    break;                                                                    \
  case M_SIN:                                                                 \
    MATH1(sin(x));                                                            \
    break;                                                                    \
  case M_COS:                                                                 \
    MATH1(cos(x));                                                            \
    break;                                                                    \
  case M_TAN:                                                                 \
    MATH1(tan(x));                                                            \
    break;                                                                    \
  case M_TRUNC:                                                               \
    MATH1(trunc(x));                                                          \
    break;                                                                    \
  case M_LOG2:                                                                \
    MATH1(x > 0 ? log2(x) : x == 0 ? R_NegInf : R_NaN);                       \
    break;                                                                    \
  case M_LOG10:                                                               \
    MATH1(x > 0 ? log10(x) : x == 0 ? R_NegInf : R_NaN);                      \
    break;                                                                    \
  case M_LOG1P:                                                               \
    MATH1(log1p(x));                                                          \
    break;                                                                    \
  case M_EXPM1:                                                               \
    MATH1(expm1(x));                                                          \
    break;                                                                    \
  case M_SIGN:                                                                \
    MATH1(r_sign(x));                                                         \
    break;                                                                    \
  }

/* FUN(x) for the code FUN; ARG is the base of log or the digits of
   round and signif.  Result double, except abs() of integer or logical,
   which is integer.  All attributes of x are kept.  NULL: let R do it. */
SEXP C_rfm_math(SEXP fun_, SEXP sx, SEXP arg, SEXP rt)
{
  int fun = Rf_asInteger(fun_);
  if (fun < M_SQRT || fun > M_SIGN)
    Rf_error("invalid function code");
  if (unsupported(sx))
    return R_NilValue;
  R_xlen_t n = XLENGTH(sx);
  int isreal = TYPEOF(sx) == REALSXP;
  double base = M_E, digits = 0;
  if (fun == M_LOG) {
    base = Rf_asReal(arg);
  } else if (fun == M_ROUND || fun == M_SIGNIF) {
    digits = Rf_asReal(arg);
    /* R 4.x keeps integers integer in round() and signif() with some
       digits; leave those to R */
    if (!isreal || ISNAN(digits))
      return R_NilValue;
  }
  int naflag = 0;
  SEXP ans;
  if (fun == M_ABS && !isreal) {
    ans = PROTECT(alloc_result(rt, INTSXP, n));
    const int *a = TYPEOF(sx) == LGLSXP ? LOGICAL_RO(sx) : INTEGER_RO(sx);
    int *r = INTEGER(ans);
    for (R_xlen_t i = 0; i < n; i++)
      r[i] = a[i] == NA_INTEGER ? NA_INTEGER : abs(a[i]);
  } else {
    ans = PROTECT(alloc_result(rt, REALSXP, n));
    double *r = REAL(ans);
    if (isreal) {
      const double *a = REAL_RO(sx);
#define GET(i) a[i]
      MATH_SWITCH
#undef GET
    } else {
      const int *a = TYPEOF(sx) == LGLSXP ? LOGICAL_RO(sx) : INTEGER_RO(sx);
#define GET(i) I2D(a[i])
      MATH_SWITCH
#undef GET
    }
  }
  if (naflag)
    Rf_warning("NaNs produced");
  SHALLOW_DUPLICATE_ATTRIB(ans, sx);
  UNPROTECT(1);
  return ans;
}

/* --- cumsum, cumprod, cummax, cummin (cum.c) ---------------------------- */

enum { C_SUM = 1, C_PROD, C_MAX, C_MIN };

/* Integer cumsum, cummax, cummin: stop at the first NA (the rest stays
   NA); cumsum stops with R's warning on overflow.  */
static void int_cum(int fun, const int *a, int *r, R_xlen_t n)
{
  for (R_xlen_t i = 0; i < n; i++)
    r[i] = NA_INTEGER;
  if (fun == C_SUM) {
    double sum = 0.0;
    for (R_xlen_t i = 0; i < n; i++) {
      if (a[i] == NA_INTEGER)
        break;
      sum += a[i];
      if (sum > INT_MAX || sum < R_INT_MIN) {
        Rf_warning("integer overflow in 'cumsum'; use "
                   "'cumsum(as.numeric(.))'");
        break;
      }
      r[i] = (int)sum;
    }
    return;
  }
  if (n == 0 || a[0] == NA_INTEGER)
    return;
  int m = a[0];
  r[0] = m;
  for (R_xlen_t i = 1; i < n; i++) {
    if (a[i] == NA_INTEGER)
      break;
    if (fun == C_MAX ? a[i] > m : a[i] < m)
      m = a[i];
    r[i] = m;
  }
}

/* Double cumsum, cumprod (long double accumulators), cummax, cummin:
   NA and NaN propagate from where they occur.  With NA_WINS (R >= 4.5
   and any R whose cumsum(c(NaN, NA)) is NA), an NA makes that element
   and all after it NA even after a NaN; before, the first of the two
   stayed.  */
static void real_cum(int fun, const double *a, double *r, R_xlen_t n,
                     int na_wins)
{
  switch (fun) {
  case C_SUM: {
    long double sum = 0.0;
    for (R_xlen_t i = 0; i < n; i++) {
      sum += a[i];
      r[i] = (double)sum;
    }
    break;
  }
  case C_PROD: {
    long double prod = 1.0;
    for (R_xlen_t i = 0; i < n; i++) {
      prod *= a[i];
      r[i] = (double)prod;
    }
    break;
  }
  default: {
    double m = fun == C_MAX ? R_NegInf : R_PosInf;
    for (R_xlen_t i = 0; i < n; i++) {
      if (ISNAN(a[i]) || ISNAN(m)) {
        /* the first NA or NaN wins, and stays */
        if (!ISNAN(m))
          m = a[i];
      } else if (fun == C_MAX ? a[i] > m : a[i] < m) {
        m = a[i];
      }
      r[i] = m;
    }
    break;
  }
  }
  if (na_wins) {
    R_xlen_t i = 0;
    while (i < n && !R_IsNA(a[i]))
      i++;
    for (; i < n; i++)
      r[i] = NA_REAL;
  }
}

/* FUN(x) for FUN 1 cumsum, 2 cumprod, 3 cummax, 4 cummin, with R's
   types: integer for cumsum, cummax, cummin of integer or logical x,
   double otherwise; the answer keeps only the names of x.  NA_WINS: see
   real_cum().  NULL: let R do it.  */
SEXP C_rfm_cum(SEXP fun_, SEXP x, SEXP na_wins_, SEXP rt)
{
  int fun = Rf_asInteger(fun_), na_wins = Rf_asLogical(na_wins_) == TRUE;
  if (fun < C_SUM || fun > C_MIN)
    Rf_error("invalid function code");
  if (unsupported(x))
    return R_NilValue;
  R_xlen_t n = XLENGTH(x);
  SEXP ans;
  if (TYPEOF(x) != REALSXP && fun != C_PROD) {
    ans = PROTECT(alloc_result(rt, INTSXP, n));
    int_cum(fun, TYPEOF(x) == LGLSXP ? LOGICAL_RO(x) : INTEGER_RO(x),
            INTEGER(ans), n);
  } else if (TYPEOF(x) != REALSXP) {
    /* cumprod of integers: as doubles */
    ans = PROTECT(alloc_result(rt, REALSXP, n));
    const int *a = TYPEOF(x) == LGLSXP ? LOGICAL_RO(x) : INTEGER_RO(x);
    double *r = REAL(ans);
    long double prod = 1.0;
    int na = 0;
    for (R_xlen_t i = 0; i < n; i++) {
      na = na || a[i] == NA_INTEGER;
      prod *= I2D(a[i]);
      r[i] = na && na_wins ? NA_REAL : (double)prod;
    }
  } else {
    ans = PROTECT(alloc_result(rt, REALSXP, n));
    real_cum(fun, REAL_RO(x), REAL(ans), n, na_wins);
  }
  SEXP names = Rf_getAttrib(x, R_NamesSymbol);
  if (names != R_NilValue)
    Rf_setAttrib(ans, R_NamesSymbol, names);
  UNPROTECT(1);
  return ans;
}

/* --- colSums, colMeans, rowSums, rowMeans -------------------------------- */

/* WHAT: 0 colSums, 1 colMeans, 2 rowSums, 3 rowMeans, of the numeric
   array X seen as a matrix of NR rows (the product of its first dims
   extents) and NC columns (R's do_colsum: long double accumulators,
   NA_integer_ counts as NA_real_).  The answer has no attributes; the
   R caller names and shapes it.  NULL: let R do it.  */
SEXP C_rfm_colsums(SEXP x, SEXP what_, SEXP narm_, SEXP nr_, SEXP nc_, SEXP rt)
{
  int what = Rf_asInteger(what_), narm = Rf_asLogical(narm_) == TRUE;
  if (unsupported(x))
    return R_NilValue;
  double dnr = Rf_asReal(nr_), dnc = Rf_asReal(nc_);
  if (ISNAN(dnr) || ISNAN(dnc) || dnr < 0 || dnc < 0 ||
      dnr * dnc != (double)XLENGTH(x))
    Rf_error("the matrix shape does not match the length of 'x'");
  R_xlen_t nr = (R_xlen_t)dnr, nc = (R_xlen_t)dnc;
  int isreal = TYPEOF(x) == REALSXP;
  SEXP ans;
  if (what < 2) {
    ans = PROTECT(alloc_result(rt, REALSXP, nc));
    double *r = REAL(ans);
    for (R_xlen_t j = 0; j < nc; j++) {
      long double s = 0.0;
      R_xlen_t cnt = nr;
      if (isreal) {
        const double *c = REAL_RO(x) + nr * j;
        if (narm) {
          cnt = 0;
          for (R_xlen_t i = 0; i < nr; i++)
            if (!ISNAN(c[i])) {
              s += c[i];
              cnt++;
            }
        } else {
          for (R_xlen_t i = 0; i < nr; i++)
            s += c[i];
        }
      } else {
        const int *c =
            (TYPEOF(x) == LGLSXP ? LOGICAL_RO(x) : INTEGER_RO(x)) + nr * j;
        cnt = 0;
        for (R_xlen_t i = 0; i < nr; i++) {
          if (c[i] == NA_INTEGER) {
            if (!narm) {
              s = NA_REAL;
              break;
            }
          } else {
            s += c[i];
            cnt++;
          }
        }
      }
      if (what == 1)
        s /= cnt;
      r[j] = (double)s;
    }
  } else {
    long double *acc =
        (long double *)R_alloc((size_t)(nr > 0 ? nr : 1), sizeof(long double));
    R_xlen_t *cnt = NULL;
    if (narm && what == 3)
      cnt = (R_xlen_t *)R_alloc((size_t)(nr > 0 ? nr : 1), sizeof(R_xlen_t));
    for (R_xlen_t i = 0; i < nr; i++) {
      acc[i] = 0.0;
      if (cnt)
        cnt[i] = 0;
    }
    for (R_xlen_t j = 0; j < nc; j++) {
      if (isreal) {
        const double *c = REAL_RO(x) + nr * j;
        if (!narm)
          for (R_xlen_t i = 0; i < nr; i++)
            acc[i] += c[i];
        else
          for (R_xlen_t i = 0; i < nr; i++)
            if (!ISNAN(c[i])) {
              acc[i] += c[i];
              if (cnt)
                cnt[i]++;
            }
      } else {
        const int *c =
            (TYPEOF(x) == LGLSXP ? LOGICAL_RO(x) : INTEGER_RO(x)) + nr * j;
        for (R_xlen_t i = 0; i < nr; i++) {
          if (c[i] == NA_INTEGER) {
            if (!narm)
              acc[i] = NA_REAL;
          } else {
            acc[i] += c[i];
            if (cnt)
              cnt[i]++;
          }
        }
      }
    }
    ans = PROTECT(alloc_result(rt, REALSXP, nr));
    double *r = REAL(ans);
    for (R_xlen_t i = 0; i < nr; i++) {
      long double s = acc[i];
      if (what == 3)
        s /= cnt ? cnt[i] : nc;
      r[i] = (double)s;
    }
  }
  UNPROTECT(1);
  return ans;
}

/* --- colVars, rowVars -----------------------------------------------------
 */

static R_INLINE double elt_as_double(SEXP x, int isreal, R_xlen_t k)
{
  if (isreal)
    return REAL_RO(x)[k];
  int v = TYPEOF(x) == LGLSXP ? LOGICAL_RO(x)[k] : INTEGER_RO(x)[k];
  return v == NA_INTEGER ? NA_REAL : (double)v;
}

/* Sample variances (denominator n - 1) of the columns (ROWS false) or
   rows of the numeric matrix X of NR rows and NC columns, in two passes
   (the means, then the squared deviations, in long double) over the
   data in storage order.  NA_real_ where fewer than two values count.
   NULL: let R do it.  */
SEXP C_rfm_vars(SEXP x, SEXP rows_, SEXP narm_, SEXP nr_, SEXP nc_, SEXP rt)
{
  int rows = Rf_asLogical(rows_) == TRUE, narm = Rf_asLogical(narm_) == TRUE;
  if (unsupported(x))
    return R_NilValue;
  R_xlen_t nr = (R_xlen_t)Rf_asReal(nr_), nc = (R_xlen_t)Rf_asReal(nc_);
  if ((double)nr * (double)nc != (double)XLENGTH(x))
    Rf_error("the matrix shape does not match the length of 'x'");
  int isreal = TYPEOF(x) == REALSXP;
  R_xlen_t nout = rows ? nr : nc;
  SEXP ans = PROTECT(alloc_result(rt, REALSXP, nout));
  double *r = REAL(ans);
  if (!rows) {
    for (R_xlen_t j = 0; j < nc; j++) {
      long double s = 0, ss = 0;
      R_xlen_t cnt = 0;
      int na = 0;
      for (R_xlen_t i = 0; i < nr; i++) {
        double v = elt_as_double(x, isreal, i + nr * j);
        if (ISNAN(v)) {
          if (!narm)
            na = 1;
        } else {
          s += v;
          cnt++;
        }
      }
      if (na || cnt < 2) {
        r[j] = NA_REAL;
        continue;
      }
      long double m = s / cnt;
      for (R_xlen_t i = 0; i < nr; i++) {
        double v = elt_as_double(x, isreal, i + nr * j);
        if (!ISNAN(v))
          ss += (v - m) * (v - m);
      }
      r[j] = (double)(ss / (cnt - 1));
    }
  } else {
    long double *sum =
        (long double *)R_alloc((size_t)(nr ? nr : 1), sizeof(long double));
    R_xlen_t *cnt =
        (R_xlen_t *)R_alloc((size_t)(nr ? nr : 1), sizeof(R_xlen_t));
    int *na = (int *)R_alloc((size_t)(nr ? nr : 1), sizeof(int));
    for (R_xlen_t i = 0; i < nr; i++) {
      sum[i] = 0;
      cnt[i] = 0;
      na[i] = 0;
    }
    for (R_xlen_t j = 0; j < nc; j++)
      for (R_xlen_t i = 0; i < nr; i++) {
        double v = elt_as_double(x, isreal, i + nr * j);
        if (ISNAN(v)) {
          if (!narm)
            na[i] = 1;
        } else {
          sum[i] += v;
          cnt[i]++;
        }
      }
    for (R_xlen_t i = 0; i < nr; i++)
      sum[i] = cnt[i] ? sum[i] / cnt[i] : 0; /* the means */
    long double *ss =
        (long double *)R_alloc((size_t)(nr ? nr : 1), sizeof(long double));
    for (R_xlen_t i = 0; i < nr; i++)
      ss[i] = 0;
    for (R_xlen_t j = 0; j < nc; j++)
      for (R_xlen_t i = 0; i < nr; i++) {
        double v = elt_as_double(x, isreal, i + nr * j);
        if (!ISNAN(v))
          ss[i] += (v - sum[i]) * (v - sum[i]);
      }
    for (R_xlen_t i = 0; i < nr; i++)
      r[i] = na[i] || cnt[i] < 2 ? NA_REAL : (double)(ss[i] / (cnt[i] - 1));
  }
  UNPROTECT(1);
  return ans;
}

/* --- the Ops and Math methods of the default objects ---------------------

   Ops.fmalloc and Math.fmalloc call these directly: no R helper function
   in between, as every R closure call that keeps a reference to an
   operand (a list(...), a NextMethod()) leaves R counting it for ever,
   and then R copies the vector before the next assignment.  */

SEXP C_rfm_finish(SEXP x, SEXP fresh);

static const char *const ops_names[] = {"+",   "-",  "*",  "/", "^",  "%%",
                                        "%/%", "==", "!=", "<", "<=", ">",
                                        ">=",  "&",  "|",  "!", NULL};
static const char *const math_names[] = {
    "sqrt",  "exp",    "log",   "abs",   "floor", "ceiling",
    "round", "signif", "sin",   "cos",   "tan",   "trunc",
    "log2",  "log10",  "log1p", "expm1", "sign",  NULL};
static const char *const cum_names[] = {"cumsum", "cumprod", "cummax",
                                        "cummin", NULL};

static int name_code(SEXP name, const char *const *table)
{
  if (!Rf_isString(name) || XLENGTH(name) != 1)
    return 0;
  const char *s = CHAR(STRING_ELT(name, 0));
  for (int i = 0; table[i] != NULL; i++)
    if (strcmp(s, table[i]) == 0)
      return i + 1;
  return 0;
}

static int fm_class_only(SEXP x)
{
  SEXP cls = Rf_getAttrib(x, R_ClassSymbol);
  for (R_xlen_t i = 0; i < Rf_xlength(cls); i++) {
    const char *c = CHAR(STRING_ELT(cls, i));
    if (strcmp(c, "fmalloc") != 0 && strcmp(c, "fmalloc_vector") != 0 &&
        strcmp(c, "fmalloc_matrix") != 0 && strcmp(c, "fmalloc_array") != 0)
      return 0;
  }
  return 1;
}

/* A numeric or logical operand the kernels take (R's plain_numeric). */
static int kernel_operand(SEXP x)
{
  int t = TYPEOF(x);
  return (t == LGLSXP || t == INTSXP || t == REALSXP) && !Rf_isS4(x) &&
         fm_class_only(x);
}

/* The runtime external pointer of X if it is an fmalloc vector. */
static SEXP operand_runtime(SEXP x)
{
  SEXP y = rfm_unwrap(x);
  return rfm_is_fmalloc(y) ? rfm_runtime_ext_of(y) : R_NilValue;
}

static int cum_na_wins = -1;

SEXP C_rfm_set_cum_na_wins(SEXP v)
{
  cum_na_wins = Rf_asLogical(v) == TRUE;
  return R_NilValue;
}

/* One operand of string_equal: an fmalloc vector's block, read without
   making CHARSXPs, or a plain character vector.  */
typedef struct str_operand {
  SEXP x;
  int block; /* read through R (0) or from the block (1) */
  rfm_str_reader r;
} str_operand;

static void str_operand_init(str_operand *o, SEXP x)
{
  SEXP y = rfm_unwrap(x);
  o->x = x;
  o->block = rfm_is_fmalloc(y);
  if (o->block) {
    rfm_str_flush(y); /* what R wrote through STRING_PTR, into the block */
    rfm_str_reader_init(&o->r, rfm_vec(y)->store);
  }
}

/* Element I of O: its bytes (NULL for NA), *LEN and *ENC as
   rfm_str_read.  */
static const char *str_operand_get(const str_operand *o, R_xlen_t i,
                                   int32_t *len, int *enc)
{
  if (o->block)
    return rfm_str_read(&o->r, i, len, enc);
  SEXP c = STRING_ELT(o->x, i);
  uint8_t f = rfm_str_char_flags(c);
  if (f & RFM_STR_NA)
    return NULL;
  *len = LENGTH(c);
  *enc = f;
  return CHAR(c);
}

/* R's Seql (memory.c) on two strings given by their bytes: equal bytes
   in one encoding are one cached CHARSXP; otherwise strings whose
   declared encodings (UTF-8, latin1 or neither) agree differ, "bytes"
   equals nothing else, and the rest compare translated to UTF-8.  */
static int seql_bytes(const char *a, int32_t la, int ea, const char *b,
                    int32_t lb, int eb)
{
  if (ea == eb)
    return la == lb && memcmp(a, b, (size_t)la) == 0;
  int ka = ea == 1 || ea == 2 ? ea : 0, kb = eb == 1 || eb == 2 ? eb : 0;
  if (ka == kb || ea == 3 || eb == 3)
    return 0;
  SEXP ca = PROTECT(rfm_str_mkchar(a, la, ea));
  SEXP cb = PROTECT(rfm_str_mkchar(b, lb, eb));
  int v = strcmp(Rf_translateCharUTF8(ca), Rf_translateCharUTF8(cb)) == 0;
  UNPROTECT(2);
  return v;
}

/* x == y and x != y for character X and Y, R's rules (relop.c: Seql),
   NA where either is NA.  An fmalloc operand is read from its block:
   comparing makes no CHARSXPs.  */
static SEXP string_equal(int ne, SEXP x, SEXP y)
{
  R_xlen_t nx = XLENGTH(x), ny = XLENGTH(y);
  R_xlen_t n = (nx == 0 || ny == 0) ? 0 : (nx > ny ? nx : ny);
  if (ATTRIB(x) != R_NilValue && !fm_class_only(x))
    return R_NilValue;
  if (ATTRIB(y) != R_NilValue && !fm_class_only(y))
    return R_NilValue;
  if (Rf_getAttrib(x, R_DimSymbol) != R_NilValue ||
      Rf_getAttrib(y, R_DimSymbol) != R_NilValue ||
      Rf_getAttrib(x, R_NamesSymbol) != R_NilValue ||
      Rf_getAttrib(y, R_NamesSymbol) != R_NilValue)
    return R_NilValue; /* attributes of the answer: R's rules */
  SEXP rt = operand_runtime(x);
  if (rt == R_NilValue)
    rt = operand_runtime(y);
  SEXP ans = PROTECT(alloc_result(rt, LGLSXP, n));
  /* read the blocks after the allocation, which may run R code */
  str_operand ox, oy;
  str_operand_init(&ox, x);
  str_operand_init(&oy, y);
  int *r = LOGICAL(ans);
  const void *vmax = vmaxget();
  for (R_xlen_t i = 0, i1 = 0, i2 = 0; i < n; i++) {
    int32_t la = 0, lb = 0;
    int ea = 0, eb = 0;
    const char *a = str_operand_get(&ox, i1, &la, &ea);
    const char *b = str_operand_get(&oy, i2, &lb, &eb);
    int v;
    if (a == NULL || b == NULL)
      v = NA_LOGICAL;
    else
      v = seql_bytes(a, la, ea, b, lb, eb) != ne;
    r[i] = v;
    if (++i1 == nx)
      i1 = 0;
    if (++i2 == ny)
      i2 = 0;
    if ((i & 0xffff) == 0)
      vmaxset(vmax);
  }
  vmaxset(vmax);
  if (n > 0 && nx != ny && (nx > ny ? nx % ny : ny % nx) != 0)
    Rf_warning("longer object length is not a multiple of shorter object "
               "length");
  UNPROTECT(1);
  return ans;
}

/* Ops.fmalloc: E1 .Generic E2 (UNARY: E2 missing), or NULL (R's own
   method: NextMethod).  */
SEXP C_rfm_ops_method(SEXP generic, SEXP e1, SEXP e2, SEXP unary_)
{
  int code = name_code(generic, ops_names);
  int unary = Rf_asLogical(unary_) == TRUE;
  if (code == 0)
    return R_NilValue;
  SEXP ans;
  if (!unary && (code == OP_EQ || code == OP_NE) && TYPEOF(e1) == STRSXP &&
      TYPEOF(e2) == STRSXP) {
    ans = string_equal(code == OP_NE, e1, e2);
  } else {
    if (!kernel_operand(e1) || (!unary && !kernel_operand(e2)))
      return R_NilValue;
    if (unary && code != OP_PLUS && code != OP_MINUS && code != OP_NOT)
      return R_NilValue;
    SEXP rt = operand_runtime(e1);
    if (rt == R_NilValue && !unary)
      rt = operand_runtime(e2);
    SEXP op = PROTECT(Rf_ScalarInteger(code));
    ans = C_rfm_arith(op, e1, unary ? R_NilValue : e2, rt);
    UNPROTECT(1);
  }
  if (ans == R_NilValue)
    return ans;
  PROTECT(ans);
  SEXP fresh = PROTECT(Rf_ScalarLogical(FALSE));
  ans = C_rfm_finish(ans, fresh);
  UNPROTECT(2);
  return ans;
}

/* Math.fmalloc: .Generic(X, ARG) (ARG: digits or base, or NULL), or
   NULL (NextMethod).  */
SEXP C_rfm_math_method(SEXP generic, SEXP x, SEXP arg)
{
  int code = name_code(generic, math_names);
  int cum = code ? 0 : name_code(generic, cum_names);
  if ((code == 0 && cum == 0) || !kernel_operand(x))
    return R_NilValue;
  SEXP rt = operand_runtime(x);
  SEXP ans;
  if (cum) {
    if (cum_na_wins < 0)
      return R_NilValue;
    SEXP c = PROTECT(Rf_ScalarInteger(cum));
    SEXP w = PROTECT(Rf_ScalarLogical(cum_na_wins));
    ans = C_rfm_cum(c, x, w, rt);
    UNPROTECT(2);
  } else {
    SEXP a = arg;
    if (code == M_LOG && a == R_NilValue)
      a = Rf_ScalarReal(M_E);
    else if ((code == M_ROUND || code == M_SIGNIF) && a == R_NilValue)
      a = Rf_ScalarReal(code == M_SIGNIF ? 6 : 0);
    PROTECT(a);
    if (a != R_NilValue &&
        (XLENGTH(a) != 1 || !(Rf_isNumeric(a) || Rf_isLogical(a)) ||
         ATTRIB(a) != R_NilValue)) {
      UNPROTECT(1);
      return R_NilValue;
    }
    SEXP c = PROTECT(Rf_ScalarInteger(code));
    ans = C_rfm_math(c, x, a, rt);
    UNPROTECT(2);
  }
  if (ans == R_NilValue)
    return ans;
  PROTECT(ans);
  SEXP fresh = PROTECT(Rf_ScalarLogical(FALSE));
  ans = C_rfm_finish(ans, fresh);
  UNPROTECT(2);
  return ans;
}
