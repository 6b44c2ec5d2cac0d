#include "elementwise.h"

#include <math.h>
#include <string.h>

#include "iter.h"
#include "simd.h"

static const char *binop_names[] = {"add", "sub", "mul", "div", "pow", "maximum", "minimum",
                                    "eq", "ne", "lt", "le", "gt", "ge"};
static const char *unop_names[] = {"neg", "exp", "log", "sqrt", "rsqrt", "tanh", "sigmoid", "relu", "abs",
                                   "square", "sign", "floor", "ceil", "round", "sin", "cos", "reciprocal"};

const char *lc_binop_name(lc_binop op) { return binop_names[op]; }
const char *lc_unop_name(lc_unop op) { return unop_names[op]; }

/* Views `t` broadcast to out's shape, so the iterator sees same-shaped operands. */
static int expand_to(lc_tensor *view, const lc_tensor *t, const lc_tensor *out, const char *what, lc_error *e) {
  *view = *t;
  if (lc_same_shape(t, out)) return 0;
  if (lc_view_expand(view, out->ndim, out->shape, NULL)) {
    char a[200], b[200];
    return lc_fail(e, "%s: shape %s cannot be broadcast to %s", what, lc_shape_str(a, sizeof a, t->ndim, t->shape),
                   lc_shape_str(b, sizeof b, out->ndim, out->shape));
  }
  return 0;
}

/* One loop body per operation, run over a strided run; the stride-1 case is split out
 * so the compiler vectorizes it. */
#define BINARY_RUN(EXPR)                                                      \
  do {                                                                        \
    if (so == 1 && sa == 1 && sb == 1) {                                      \
      for (int64_t i = 0; i < n; i++) { float x = a[i], y = b[i]; o[i] = (EXPR); } \
    } else {                                                                  \
      for (int64_t i = 0; i < n; i++) {                                       \
        float x = a[i * sa], y = b[i * sb];                                   \
        o[i * so] = (EXPR);                                                   \
      }                                                                       \
    }                                                                         \
  } while (0)

LC_VECTOR_CLONES static void binary_run(lc_binop op, int64_t n, float *o, int64_t so, const float *a, int64_t sa,
                       const float *b, int64_t sb) {
  switch (op) {
    case LC_ADD: BINARY_RUN(x + y); break;
    case LC_SUB: BINARY_RUN(x - y); break;
    case LC_MUL: BINARY_RUN(x * y); break;
    case LC_DIV: BINARY_RUN(x / y); break;
    case LC_POW: BINARY_RUN(powf(x, y)); break;
    case LC_MAXIMUM: BINARY_RUN(x != x || x > y ? x : y); break;  /* NaN propagates */
    case LC_MINIMUM: BINARY_RUN(x != x || x < y ? x : y); break;
    case LC_EQ: BINARY_RUN(x == y ? 1.0f : 0.0f); break;
    case LC_NE: BINARY_RUN(x != y ? 1.0f : 0.0f); break;
    case LC_LT: BINARY_RUN(x < y ? 1.0f : 0.0f); break;
    case LC_LE: BINARY_RUN(x <= y ? 1.0f : 0.0f); break;
    case LC_GT: BINARY_RUN(x > y ? 1.0f : 0.0f); break;
    case LC_GE: BINARY_RUN(x >= y ? 1.0f : 0.0f); break;
  }
}

int lc_binary(lc_binop op, lc_tensor *out, const lc_tensor *a, const lc_tensor *b, lc_error *e) {
  lc_tensor va, vb;
  if (expand_to(&va, a, out, binop_names[op], e) || expand_to(&vb, b, out, binop_names[op], e)) return -1;
  lc_iter it;
  lc_iter_init(&it, 3, (const lc_tensor *[]){out, &va, &vb});
  float *p[LC_ITER_MAX];
  int64_t n, s[LC_ITER_MAX];
  while (lc_iter_next(&it, p, &n, s)) binary_run(op, n, p[0], s[0], p[1], s[1], p[2], s[2]);
  return 0;
}

int lc_binary_scalar(lc_binop op, lc_tensor *out, const lc_tensor *a, float scalar, int scalar_first, lc_error *e) {
  lc_tensor va;
  if (expand_to(&va, a, out, binop_names[op], e)) return -1;
  lc_iter it;
  lc_iter_init(&it, 2, (const lc_tensor *[]){out, &va});
  float *p[LC_ITER_MAX];
  int64_t n, s[LC_ITER_MAX];
  while (lc_iter_next(&it, p, &n, s)) {
    if (scalar_first) binary_run(op, n, p[0], s[0], &scalar, 0, p[1], s[1]);
    else binary_run(op, n, p[0], s[0], p[1], s[1], &scalar, 0);
  }
  return 0;
}

#define UNARY_RUN(EXPR)                                                       \
  do {                                                                        \
    if (so == 1 && sa == 1) {                                                 \
      for (int64_t i = 0; i < n; i++) { float x = a[i]; o[i] = (EXPR); }      \
    } else {                                                                  \
      for (int64_t i = 0; i < n; i++) { float x = a[i * sa]; o[i * so] = (EXPR); } \
    }                                                                         \
  } while (0)

static float sigmoidf(float x) {
  /* split by sign so exp never overflows */
  if (x >= 0) return 1.0f / (1.0f + expf(-x));
  float z = expf(x);
  return z / (1.0f + z);
}

static float signf(float x) { return x > 0 ? 1.0f : x < 0 ? -1.0f : x; }

LC_VECTOR_CLONES static void unary_run(lc_unop op, int64_t n, float *o, int64_t so, const float *a, int64_t sa) {
  switch (op) {
    case LC_NEG: UNARY_RUN(-x); break;
    case LC_EXP: UNARY_RUN(expf(x)); break;
    case LC_LOG: UNARY_RUN(logf(x)); break;
    case LC_SQRT: UNARY_RUN(sqrtf(x)); break;
    case LC_RSQRT: UNARY_RUN(1.0f / sqrtf(x)); break;
    case LC_TANH: UNARY_RUN(tanhf(x)); break;
    case LC_SIGMOID: UNARY_RUN(sigmoidf(x)); break;
    case LC_RELU: UNARY_RUN(x > 0 ? x : (x != x ? x : 0.0f)); break;
    case LC_ABS: UNARY_RUN(fabsf(x)); break;
    case LC_SQUARE: UNARY_RUN(x * x); break;
    case LC_SIGN: UNARY_RUN(signf(x)); break;
    case LC_FLOOR: UNARY_RUN(floorf(x)); break;
    case LC_CEIL: UNARY_RUN(ceilf(x)); break;
    case LC_ROUND: UNARY_RUN(nearbyintf(x)); break;  /* half to even, as NumPy and PyTorch */
    case LC_SIN: UNARY_RUN(sinf(x)); break;
    case LC_COS: UNARY_RUN(cosf(x)); break;
    case LC_RECIPROCAL: UNARY_RUN(1.0f / x); break;
  }
}

int lc_unary(lc_unop op, lc_tensor *out, const lc_tensor *a, lc_error *e) {
  lc_tensor va;
  if (expand_to(&va, a, out, unop_names[op], e)) return -1;
  lc_iter it;
  lc_iter_init(&it, 2, (const lc_tensor *[]){out, &va});
  float *p[LC_ITER_MAX];
  int64_t n, s[LC_ITER_MAX];
  while (lc_iter_next(&it, p, &n, s)) unary_run(op, n, p[0], s[0], p[1], s[1]);
  return 0;
}

int lc_clamp(lc_tensor *out, const lc_tensor *a, float lo, float hi, lc_error *e) {
  if (lo > hi) return lc_fail(e, "clamp: lower bound %g is above upper bound %g", lo, hi);
  lc_tensor va;
  if (expand_to(&va, a, out, "clamp", e)) return -1;
  lc_iter it;
  lc_iter_init(&it, 2, (const lc_tensor *[]){out, &va});
  float *p[LC_ITER_MAX];
  int64_t n, s[LC_ITER_MAX];
  while (lc_iter_next(&it, p, &n, s)) {
    float *o = p[0];
    const float *x = p[1];
    for (int64_t i = 0; i < n; i++) {
      float v = x[i * s[1]];
      o[i * s[0]] = v < lo ? lo : v > hi ? hi : v;
    }
  }
  return 0;
}

int lc_where(lc_tensor *out, const lc_tensor *mask, const lc_tensor *a, const lc_tensor *b, lc_error *e) {
  lc_tensor vm, va, vb;
  if (expand_to(&vm, mask, out, "where", e) || expand_to(&va, a, out, "where", e) ||
      expand_to(&vb, b, out, "where", e))
    return -1;
  lc_iter it;
  lc_iter_init(&it, 4, (const lc_tensor *[]){out, &vm, &va, &vb});
  float *p[LC_ITER_MAX];
  int64_t n, s[LC_ITER_MAX];
  while (lc_iter_next(&it, p, &n, s))
    for (int64_t i = 0; i < n; i++)
      p[0][i * s[0]] = p[1][i * s[1]] != 0.0f ? p[2][i * s[2]] : p[3][i * s[3]];
  return 0;
}

void lc_fill(lc_tensor *out, float v) {
  if (v == 0.0f && !signbit(v) && lc_is_contiguous(out)) {  /* zeroing gradients: memset is fastest */
    memset(out->data, 0, sizeof(float) * (size_t)lc_numel(out));
    return;
  }
  lc_iter it;
  lc_iter_init(&it, 1, (const lc_tensor *[]){out});
  float *p[LC_ITER_MAX];
  int64_t n, s[LC_ITER_MAX];
  while (lc_iter_next(&it, p, &n, s))
    for (int64_t i = 0; i < n; i++) p[0][i * s[0]] = v;
}

int lc_copy(lc_tensor *out, const lc_tensor *src, lc_error *e) {
  lc_tensor vs;
  if (expand_to(&vs, src, out, "copy", e)) return -1;
  lc_iter it;
  lc_iter_init(&it, 2, (const lc_tensor *[]){out, &vs});
  float *p[LC_ITER_MAX];
  int64_t n, s[LC_ITER_MAX];
  while (lc_iter_next(&it, p, &n, s)) {
    if (s[0] == 1 && s[1] == 1) {
      for (int64_t i = 0; i < n; i++) p[0][i] = p[1][i];
    } else {
      for (int64_t i = 0; i < n; i++) p[0][i * s[0]] = p[1][i * s[1]];
    }
  }
  return 0;
}

int lc_axpy(lc_tensor *out, float alpha, const lc_tensor *x, lc_error *e) {
  lc_tensor vx;
  if (expand_to(&vx, x, out, "axpy", e)) return -1;
  lc_iter it;
  lc_iter_init(&it, 2, (const lc_tensor *[]){out, &vx});
  float *p[LC_ITER_MAX];
  int64_t n, s[LC_ITER_MAX];
  while (lc_iter_next(&it, p, &n, s))
    for (int64_t i = 0; i < n; i++) p[0][i * s[0]] += alpha * p[1][i * s[1]];
  return 0;
}
