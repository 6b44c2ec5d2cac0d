/* Elementwise kernels with NumPy broadcasting. `out` must already have the broadcast
 * shape of the inputs (see lc_broadcast_shape). `out` may be one of the inputs (in-place
 * ops) when it has the same layout; the binding layer copies inputs that overlap `out`
 * any other way. Comparisons write masks of 1.0 and 0.0. */
#ifndef LC_ELEMENTWISE_H
#define LC_ELEMENTWISE_H

#include "tensor.h"

typedef enum lc_binop {
  LC_ADD, LC_SUB, LC_MUL, LC_DIV, LC_POW, LC_MAXIMUM, LC_MINIMUM,
  LC_EQ, LC_NE, LC_LT, LC_LE, LC_GT, LC_GE
} lc_binop;

typedef enum lc_unop {
  LC_NEG, LC_EXP, LC_LOG, LC_SQRT, LC_RSQRT, LC_TANH, LC_SIGMOID, LC_RELU, LC_ABS,
  LC_SQUARE, LC_SIGN, LC_FLOOR, LC_CEIL, LC_ROUND, LC_SIN, LC_COS, LC_RECIPROCAL
} lc_unop;

const char *lc_binop_name(lc_binop op);
const char *lc_unop_name(lc_unop op);

/* out = a op b */
int lc_binary(lc_binop op, lc_tensor *out, const lc_tensor *a, const lc_tensor *b, lc_error *e);
/* out = a op s, or s op a when scalar_first */
int lc_binary_scalar(lc_binop op, lc_tensor *out, const lc_tensor *a, float s, int scalar_first, lc_error *e);
int lc_unary(lc_unop op, lc_tensor *out, const lc_tensor *a, lc_error *e);
/* out = min(max(a, lo), hi) */
int lc_clamp(lc_tensor *out, const lc_tensor *a, float lo, float hi, lc_error *e);
/* out = mask != 0 ? a : b, all three broadcast to out */
int lc_where(lc_tensor *out, const lc_tensor *mask, const lc_tensor *a, const lc_tensor *b, lc_error *e);
void lc_fill(lc_tensor *out, float v);
/* out = src, src broadcast to out's shape */
int lc_copy(lc_tensor *out, const lc_tensor *src, lc_error *e);
/* out += alpha * x (same shape or broadcast) */
int lc_axpy(lc_tensor *out, float alpha, const lc_tensor *x, lc_error *e);

#endif
