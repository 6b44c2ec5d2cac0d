/* Dimension letters for softmax: R rows (everything but the last dim), C classes. */
#include "activation.h"

#include "simd.h"

#include <math.h>
#include <string.h>

static const char *names[] = {"linear", "relu", "leaky_relu", "sigmoid", "tanh", "softmax", "log_softmax",
                              "elu", "softplus", "gelu"};

int lc_act_from_name(const char *name) {
  for (int i = 0; i < (int)(sizeof names / sizeof names[0]); i++)
    if (!strcmp(name, names[i])) return i;
  return -1;
}

const char *lc_act_name(lc_act act) { return names[act]; }

static int check(const char *what, lc_act act, const lc_tensor *a, const lc_tensor *b, lc_error *e) {
  char s1[200], s2[200];
  if (!lc_same_shape(a, b))
    return lc_fail(e, "%s %s: shapes %s and %s differ", names[act], what, lc_shape_str(s1, sizeof s1, a->ndim, a->shape),
                   lc_shape_str(s2, sizeof s2, b->ndim, b->shape));
  if (!lc_is_contiguous(a) || !lc_is_contiguous(b))
    return lc_fail(e, "%s %s: tensors must be contiguous", names[act], what);
  if ((act == LC_ACT_SOFTMAX || act == LC_ACT_LOG_SOFTMAX) && a->ndim == 0)
    return lc_fail(e, "%s: needs at least one dimension (the classes)", names[act]);
  return 0;
}

static const float SQRT_2_OVER_PI = 0.7978845608f;

static void softmax_rows(float *y, const float *x, int64_t R, int64_t C, int log_out) {
  for (int64_t r = 0; r < R; r++) {
    const float *xr = x + r * C;
    float *yr = y + r * C;
    float m = -INFINITY;
    for (int64_t c = 0; c < C; c++) m = xr[c] > m ? xr[c] : m;
    /* subtracting the row maximum keeps exp() from overflowing */
    double s = 0;
    for (int64_t c = 0; c < C; c++) s += exp((double)(xr[c] - m));
    if (log_out) {
      float lse = m + (float)log(s);
      for (int64_t c = 0; c < C; c++) yr[c] = xr[c] - lse;
    } else {
      float inv = (float)(1.0 / s);
      for (int64_t c = 0; c < C; c++) yr[c] = expf(xr[c] - m) * inv;
    }
  }
}

LC_VECTOR_CLONES int lc_act_forward(lc_act act, lc_tensor *y, const lc_tensor *x, float alpha, lc_error *e) {
  if (check("forward", act, y, x, e)) return -1;
  int64_t n = lc_numel(x);
  const float *a = x->data;
  float *o = y->data;
  switch (act) {
    case LC_ACT_LINEAR:
      if (o != a) memcpy(o, a, sizeof(float) * (size_t)n);
      break;
    case LC_ACT_RELU:
      /* !(a <= 0) keeps a NaN a NaN, as T.relu does: `a > 0 ? a : 0` turned NaN weights
       * into zeros, so a network whose weights had gone NaN trained on with a finite loss */
      for (int64_t i = 0; i < n; i++) o[i] = !(a[i] <= 0) ? a[i] : 0.0f;
      break;
    case LC_ACT_LEAKY_RELU:
      for (int64_t i = 0; i < n; i++) o[i] = a[i] > 0 ? a[i] : alpha * a[i];
      break;
    case LC_ACT_SIGMOID:
      for (int64_t i = 0; i < n; i++) {
        float v = a[i];
        if (v >= 0) {
          o[i] = 1.0f / (1.0f + expf(-v));
        } else {
          float z = expf(v);
          o[i] = z / (1.0f + z);
        }
      }
      break;
    case LC_ACT_TANH:
      for (int64_t i = 0; i < n; i++) o[i] = tanhf(a[i]);
      break;
    case LC_ACT_ELU:
      for (int64_t i = 0; i < n; i++) o[i] = a[i] > 0 ? a[i] : alpha * expm1f(a[i]);
      break;
    case LC_ACT_SOFTPLUS:
      /* log(1 + e^x) without overflow for large x */
      for (int64_t i = 0; i < n; i++) o[i] = a[i] > 20 ? a[i] : log1pf(expf(a[i]));
      break;
    case LC_ACT_GELU:
      /* the tanh approximation, as Keras and PyTorch's approximate='tanh' */
      for (int64_t i = 0; i < n; i++) {
        float v = a[i];
        o[i] = 0.5f * v * (1.0f + tanhf(SQRT_2_OVER_PI * (v + 0.044715f * v * v * v)));
      }
      break;
    case LC_ACT_SOFTMAX:
    case LC_ACT_LOG_SOFTMAX: {
      int64_t C = x->shape[x->ndim - 1];
      if (C > 0) softmax_rows(o, a, n / C, C, act == LC_ACT_LOG_SOFTMAX);
      break;
    }
  }
  return 0;
}

LC_VECTOR_CLONES int lc_act_backward(lc_act act, lc_tensor *dx, const lc_tensor *dy, const lc_tensor *x, const lc_tensor *y, float alpha,
                    lc_error *e) {
  if (check("backward", act, dx, dy, e) || check("backward", act, dx, x, e) || check("backward", act, dx, y, e))
    return -1;
  int64_t n = lc_numel(x);
  float *g = dx->data;
  const float *d = dy->data, *a = x->data, *o = y->data;
  switch (act) {
    case LC_ACT_LINEAR:
      if (g != d) memcpy(g, d, sizeof(float) * (size_t)n);
      break;
    /* both values loaded unconditionally, so the select vectorizes instead of branching */
    case LC_ACT_RELU:
      for (int64_t i = 0; i < n; i++) {
        float di = d[i];
        g[i] = a[i] > 0 ? di : 0.0f;
      }
      break;
    case LC_ACT_LEAKY_RELU:
      for (int64_t i = 0; i < n; i++) {
        float di = d[i];
        g[i] = a[i] > 0 ? di : alpha * di;
      }
      break;
    case LC_ACT_SIGMOID:
      for (int64_t i = 0; i < n; i++) g[i] = d[i] * o[i] * (1.0f - o[i]);
      break;
    case LC_ACT_TANH:
      for (int64_t i = 0; i < n; i++) g[i] = d[i] * (1.0f - o[i] * o[i]);
      break;
    case LC_ACT_ELU:
      /* for x <= 0: y = alpha (e^x - 1), so dy/dx = y + alpha */
      for (int64_t i = 0; i < n; i++) g[i] = a[i] > 0 ? d[i] : d[i] * (o[i] + alpha);
      break;
    case LC_ACT_SOFTPLUS:
      for (int64_t i = 0; i < n; i++) {
        float v = a[i];
        float s = v >= 0 ? 1.0f / (1.0f + expf(-v)) : expf(v) / (1.0f + expf(v));
        g[i] = d[i] * s;
      }
      break;
    case LC_ACT_GELU:
      for (int64_t i = 0; i < n; i++) {
        float v = a[i];
        float u = SQRT_2_OVER_PI * (v + 0.044715f * v * v * v);
        float t = tanhf(u);
        float du = SQRT_2_OVER_PI * (1.0f + 3.0f * 0.044715f * v * v);
        g[i] = d[i] * (0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * du);
      }
      break;
    case LC_ACT_SOFTMAX: {
      /* dx_c = y_c (dy_c - sum_k dy_k y_k) */
      int64_t C = x->shape[x->ndim - 1];
      for (int64_t r = 0; C > 0 && r < n / C; r++) {
        const float *yr = o + r * C, *dr = d + r * C;
        float *gr = g + r * C;
        double dot = 0;
        for (int64_t c = 0; c < C; c++) dot += (double)dr[c] * yr[c];
        for (int64_t c = 0; c < C; c++) gr[c] = yr[c] * (dr[c] - (float)dot);
      }
      break;
    }
    case LC_ACT_LOG_SOFTMAX: {
      /* dx_c = dy_c - softmax_c * sum_k dy_k, softmax = exp(y) */
      int64_t C = x->shape[x->ndim - 1];
      for (int64_t r = 0; C > 0 && r < n / C; r++) {
        const float *yr = o + r * C, *dr = d + r * C;
        float *gr = g + r * C;
        double s = 0;
        for (int64_t c = 0; c < C; c++) s += dr[c];
        for (int64_t c = 0; c < C; c++) gr[c] = dr[c] - expf(yr[c]) * (float)s;
      }
      break;
    }
  }
  return 0;
}
