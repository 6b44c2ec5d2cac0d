#include "linear.h"

#include <string.h>

#include "elementwise.h"
#include "matmul.h"

static int check(const char *what, const lc_tensor *x, const lc_tensor *w, const lc_tensor *b, const lc_tensor *y,
                 lc_error *e) {
  char s1[100], s2[100], s3[100];
  if (x->ndim != 2 || w->ndim != 2 || x->shape[1] != w->shape[1])
    return lc_fail(e, "%s: input %s does not fit weight %s (expected [N,%lld])", what,
                   lc_shape_str(s1, sizeof s1, x->ndim, x->shape), lc_shape_str(s2, sizeof s2, w->ndim, w->shape),
                   w->ndim == 2 ? (long long)w->shape[1] : -1LL);
  if (b && (b->ndim != 1 || b->shape[0] != w->shape[0]))
    return lc_fail(e, "%s: bias %s does not fit weight %s", what, lc_shape_str(s1, sizeof s1, b->ndim, b->shape),
                   lc_shape_str(s2, sizeof s2, w->ndim, w->shape));
  if (y->ndim != 2 || y->shape[0] != x->shape[0] || y->shape[1] != w->shape[0])
    return lc_fail(e, "%s: output %s, expected [%lld,%lld] for input %s", what,
                   lc_shape_str(s3, sizeof s3, y->ndim, y->shape), (long long)x->shape[0], (long long)w->shape[0],
                   lc_shape_str(s1, sizeof s1, x->ndim, x->shape));
  return 0;
}

int lc_linear_forward(lc_tensor *y, const lc_tensor *x, const lc_tensor *w, const lc_tensor *b, lc_allocator *scratch,
                      lc_pool *pool, lc_error *e) {
  if (check("linear", x, w, b, y, e)) return -1;
  /* start from the bias rows, then let sgemm add x W^T on top (beta = 1): one pass */
  float beta = 0.0f;
  if (b) {
    if (lc_copy(y, b, e)) return -1;
    beta = 1.0f;
  }
  return lc_gemm(y, x, 0, w, 1, 1.0f, beta, scratch, pool, e);
}

int lc_linear_backward(lc_tensor *dx, lc_tensor *dw, lc_tensor *db, const lc_tensor *dy, const lc_tensor *x,
                       const lc_tensor *w, lc_allocator *scratch, lc_pool *pool, lc_error *e) {
  if (check("linear backward", x, w, db, dy, e)) return -1;
  if (!lc_same_shape(dw, w)) return lc_fail(e, "linear backward: weight gradient has the wrong shape");
  if (dx && !lc_same_shape(dx, x)) return lc_fail(e, "linear backward: input gradient has the wrong shape");
  if (dx && lc_gemm(dx, dy, 0, w, 0, 1.0f, 0.0f, scratch, pool, e)) return -1;   /* dx = dy W */
  if (lc_gemm(dw, dy, 1, x, 0, 1.0f, 1.0f, scratch, pool, e)) return -1;         /* dW += dy^T x */
  if (db) {
    /* db += column sums of dy */
    int64_t N = dy->shape[0], O = dy->shape[1];
    for (int64_t n = 0; n < N; n++) {
      const float *row = dy->data + n * dy->stride[0];
      float *g = db->data;
      if (dy->stride[1] == 1 && db->stride[0] == 1)
        for (int64_t o = 0; o < O; o++) g[o] += row[o];
      else
        for (int64_t o = 0; o < O; o++) g[o * db->stride[0]] += row[o * dy->stride[1]];
    }
  }
  return 0;
}
