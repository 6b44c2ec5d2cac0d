/* Dimension letters: M rows of a and out, K the shared dim, N columns of b and out. */
#include "matmul.h"

#include <cblas.h>
#include <limits.h>
#include <string.h>

#include "elementwise.h"

/* How BLAS can read a 2-D strided matrix [r, c]: row-major with leading dim `ld`
 * (trans = 0), or as the transpose of a row-major [c, r] (trans = 1). Returns 0 when
 * neither works and the matrix must be copied. */
static int blas_layout(int64_t r, int64_t c, int64_t s0, int64_t s1, int *trans, int64_t *ld) {
  /* a size-1 dim is never stepped over, so its stride is free to choose */
  if (c == 1) s1 = 1;
  if (r == 1) s0 = c > 1 ? c : 1;
  if (s1 == 1 && s0 >= (c > 1 ? c : 1)) {
    *trans = 0;
    *ld = s0;
    return 1;
  }
  if (r == 1) s0 = 1;
  if (c == 1) s1 = r > 1 ? r : 1;
  if (s0 == 1 && s1 >= (r > 1 ? r : 1)) {
    *trans = 1;
    *ld = s1;
    return 1;
  }
  return 0;
}

static int too_big(int64_t v) { return v > INT_MAX; }

/* Copies a 2-D view into contiguous scratch when BLAS cannot read it in place. */
static int blas_operand(lc_tensor *view, lc_tensor *copy, int *owned, int *trans, int64_t *ld,
                        lc_allocator *scratch, lc_error *e) {
  *owned = 0;
  if (blas_layout(view->shape[0], view->shape[1], view->stride[0], view->stride[1], trans, ld)) return 0;
  if (lc_tensor_init(copy, scratch, 2, view->shape, e)) return -1;
  lc_copy(copy, view, NULL);
  *owned = 1;
  *view = *copy;
  *trans = 0;
  *ld = view->shape[1] > 1 ? view->shape[1] : 1;
  return 0;
}

void lc_gemm_reference(float *c, const float *a, const float *b, int64_t m, int64_t k, int64_t n) {
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < n; j++) {
      double s = 0;
      for (int64_t p = 0; p < k; p++) s += (double)a[i * k + p] * b[p * n + j];
      c[i * n + j] = (float)s;
    }
}

/* One sgemm call's arguments; parts of it run on the pool's threads. */
typedef struct gemm_job {
  int tra, trb;
  int64_t M, N, K, lda, ldb, ldc;
  float alpha, beta;
  const float *a, *b;
  float *c;
  int split_n;  /* split the columns of C (else its rows) */
} gemm_job;

/* Splits land on multiples of 16 floats, one 64-byte cache line. */
#define GEMM_ALIGN 16
/* Below this many multiply-adds a second thread costs more than it saves. */
#define GEMM_PARALLEL_MIN ((int64_t)1 << 18)

static void gemm_part(void *ctx, int part, int nparts) {
  const gemm_job *j = ctx;
  long long b, e;
  if (j->split_n) {
    lc_split_range(j->N, nparts, part, GEMM_ALIGN, &b, &e);
    if (e <= b) return;
    /* columns b..e of op(B) and of C */
    const float *bp = j->trb ? j->b + b * j->ldb : j->b + b;
    cblas_sgemm(CblasRowMajor, j->tra ? CblasTrans : CblasNoTrans, j->trb ? CblasTrans : CblasNoTrans, (int)j->M,
                (int)(e - b), (int)j->K, j->alpha, j->a, (int)j->lda, bp, (int)j->ldb, j->beta, j->c + b, (int)j->ldc);
  } else {
    lc_split_range(j->M, nparts, part, 1, &b, &e);
    if (e <= b) return;
    /* rows b..e of op(A) and of C */
    const float *ap = j->tra ? j->a + b : j->a + b * j->lda;
    cblas_sgemm(CblasRowMajor, j->tra ? CblasTrans : CblasNoTrans, j->trb ? CblasTrans : CblasNoTrans, (int)(e - b),
                (int)j->N, (int)j->K, j->alpha, ap, (int)j->lda, j->b, (int)j->ldb, j->beta, j->c + b * j->ldc,
                (int)j->ldc);
  }
}

int lc_gemm(lc_tensor *out, const lc_tensor *a, int ta, const lc_tensor *b, int tb, float alpha, float beta,
            lc_allocator *scratch, lc_pool *pool, lc_error *e) {
  if (a->ndim != 2 || b->ndim != 2 || out->ndim != 2) {
    char x[200], y[200], z[200];
    return lc_fail(e, "gemm: expects 2-D matrices, got %s x %s -> %s", lc_shape_str(x, sizeof x, a->ndim, a->shape),
                   lc_shape_str(y, sizeof y, b->ndim, b->shape), lc_shape_str(z, sizeof z, out->ndim, out->shape));
  }
  lc_tensor va = *a, vb = *b, ca, cb;
  if (ta) lc_view_transpose(&va, 0, 1, NULL);
  if (tb) lc_view_transpose(&vb, 0, 1, NULL);
  int64_t M = va.shape[0], K = va.shape[1], N = vb.shape[1];
  if (vb.shape[0] != K || out->shape[0] != M || out->shape[1] != N) {
    char x[100], y[100], z[100];
    return lc_fail(e, "gemm: %s x %s -> %s: shapes do not agree", lc_shape_str(x, sizeof x, 2, va.shape),
                   lc_shape_str(y, sizeof y, 2, vb.shape), lc_shape_str(z, sizeof z, 2, out->shape));
  }
  if (too_big(M) || too_big(N) || too_big(K))
    return lc_fail(e, "matmul: dimensions above 2^31 are not supported by BLAS");
  if (M == 0 || N == 0) return 0;
  int tc;
  int64_t ldc;
  if (!blas_layout(M, N, out->stride[0], out->stride[1], &tc, &ldc) || tc)
    return lc_fail(e, "matmul: the output must be a row-major matrix");
  if (K == 0) {
    if (beta == 0) lc_fill(out, 0);
    else lc_binary_scalar(LC_MUL, out, out, beta, 0, NULL);
    return 0;
  }
  int owned_a, owned_b, tra, trb;
  int64_t lda, ldb;
  if (blas_operand(&va, &ca, &owned_a, &tra, &lda, scratch, e)) return -1;
  if (blas_operand(&vb, &cb, &owned_b, &trb, &ldb, scratch, e)) {
    if (owned_a) lc_tensor_release(&ca);
    return -1;
  }
  gemm_job job = {tra, trb, M, N, K, lda, ldb, ldc, alpha, beta, va.data, vb.data, out->data, 0};
  int threads = lc_pool_threads(pool);
  if (threads > 1 && M * N * K >= GEMM_PARALLEL_MIN && (N >= 2 * GEMM_ALIGN || M >= 2)) {
    /* split the longer side of C, columns when they are wide enough to align */
    job.split_n = N >= 2 * GEMM_ALIGN && (N >= M || M < threads);
    int64_t units = job.split_n ? (N + GEMM_ALIGN - 1) / GEMM_ALIGN : M;
    int parts = units < threads ? (int)units : threads;
    lc_pool_run(pool, parts, gemm_part, &job);
  } else {
    gemm_part(&job, 0, 1);
  }
  if (owned_a) lc_tensor_release(&ca);
  if (owned_b) lc_tensor_release(&cb);
  return 0;
}

int lc_matmul_shape(const lc_tensor *a, const lc_tensor *b, int *ndim, int64_t *shape, lc_error *e) {
  char x[200], y[200];
  if (a->ndim == 0 || b->ndim == 0)
    return lc_fail(e, "matmul: %s x %s: both operands need at least one dimension",
                   lc_shape_str(x, sizeof x, a->ndim, a->shape), lc_shape_str(y, sizeof y, b->ndim, b->shape));
  int64_t k1 = a->shape[a->ndim - 1];
  int64_t k2 = b->ndim == 1 ? b->shape[0] : b->shape[b->ndim - 2];
  if (k1 != k2)
    return lc_fail(e, "matmul: %s x %s: inner dims %lld and %lld differ", lc_shape_str(x, sizeof x, a->ndim, a->shape),
                   lc_shape_str(y, sizeof y, b->ndim, b->shape), (long long)k1, (long long)k2);
  /* batch dims: all but the matrix dims, broadcast against each other */
  int ba = a->ndim > 2 ? a->ndim - 2 : 0, bb = b->ndim > 2 ? b->ndim - 2 : 0;
  int nb = ba > bb ? ba : bb, n = 0;
  for (int i = 0; i < nb; i++) {
    int da = ba - nb + i, db = bb - nb + i;
    int64_t sa = da >= 0 ? a->shape[da] : 1, sb = db >= 0 ? b->shape[db] : 1;
    if (sa != sb && sa != 1 && sb != 1)
      return lc_fail(e, "matmul: %s x %s: batch dimensions %lld and %lld cannot be broadcast",
                     lc_shape_str(x, sizeof x, a->ndim, a->shape), lc_shape_str(y, sizeof y, b->ndim, b->shape),
                     (long long)sa, (long long)sb);
    shape[n++] = sa == 1 ? sb : sa;
  }
  if (a->ndim >= 2) shape[n++] = a->shape[a->ndim - 2];
  if (b->ndim >= 2) shape[n++] = b->shape[b->ndim - 1];
  *ndim = n;
  return lc_check_shape("matmul", n, shape, NULL, e);
}

int lc_matmul(lc_tensor *out, const lc_tensor *a, const lc_tensor *b, int accumulate, lc_allocator *scratch,
              lc_pool *pool, lc_error *e) {
  int ndim;
  int64_t shape[LC_MAX_DIMS];
  if (lc_matmul_shape(a, b, &ndim, shape, e)) return -1;
  if (out->ndim != ndim || memcmp(out->shape, shape, sizeof(int64_t) * (size_t)ndim)) {
    char x[200], y[200];
    return lc_fail(e, "matmul: output has shape %s, expected %s", lc_shape_str(x, sizeof x, out->ndim, out->shape),
                   lc_shape_str(y, sizeof y, ndim, shape));
  }
  if (!lc_is_contiguous(out)) return lc_fail(e, "matmul: the output must be contiguous");
  /* promote 1-D operands to matrices: [k] -> [1,k] on the left, [k] -> [k,1] on the right */
  lc_tensor va = *a, vb = *b;
  if (va.ndim == 1) lc_view_unsqueeze(&va, 0, NULL);
  if (vb.ndim == 1) lc_view_unsqueeze(&vb, 1, NULL);
  int64_t M = va.shape[va.ndim - 2], N = vb.shape[vb.ndim - 1];
  float beta = accumulate ? 1.0f : 0.0f;

  /* [..., m, k] @ [k, n]: fold a's batch dims into m when its layout allows, one GEMM */
  if (vb.ndim == 2) {
    lc_tensor fa = va;
    int64_t fshape[2] = {-1, va.shape[va.ndim - 1]};
    if (va.ndim == 2 || lc_view_reshape(&fa, "matmul", 2, fshape, NULL) == 0) {
      lc_tensor fo = *out;
      fo.ndim = 2;
      fo.shape[0] = fa.shape[0];
      fo.shape[1] = N;
      fo.stride[0] = N;
      fo.stride[1] = 1;
      return lc_gemm(&fo, &fa, 0, &vb, 0, 1.0f, beta, scratch, pool, e);
    }
  }

  /* batched: one GEMM per batch element; broadcast batch dims have stride 0 */
  int nb = ndim - (a->ndim >= 2) - (b->ndim >= 2);
  lc_tensor ea = va, eb = vb;
  int64_t bshape[LC_MAX_DIMS + 2];
  memcpy(bshape, shape, sizeof(int64_t) * (size_t)nb);
  bshape[nb] = va.shape[va.ndim - 2];
  bshape[nb + 1] = va.shape[va.ndim - 1];
  if (lc_view_expand(&ea, nb + 2, bshape, e)) return -1;
  bshape[nb] = vb.shape[vb.ndim - 2];
  bshape[nb + 1] = N;
  if (lc_view_expand(&eb, nb + 2, bshape, e)) return -1;
  int64_t batches = 1, idx[LC_MAX_DIMS] = {0};
  for (int i = 0; i < nb; i++) batches *= shape[i];
  for (int64_t t = 0; t < batches; t++) {
    lc_tensor ma = ea, mb = eb, mo;
    int64_t oa = 0, ob = 0, oo = 0, ostride = M * N;
    for (int i = nb - 1; i >= 0; i--) {
      oa += idx[i] * ea.stride[i];
      ob += idx[i] * eb.stride[i];
      oo += idx[i] * ostride;
      ostride *= shape[i];
    }
    ma.ndim = mb.ndim = 2;
    ma.data = ea.data + oa;
    ma.shape[0] = ea.shape[nb], ma.shape[1] = ea.shape[nb + 1];
    ma.stride[0] = ea.stride[nb], ma.stride[1] = ea.stride[nb + 1];
    mb.data = eb.data + ob;
    mb.shape[0] = eb.shape[nb], mb.shape[1] = eb.shape[nb + 1];
    mb.stride[0] = eb.stride[nb], mb.stride[1] = eb.stride[nb + 1];
    mo = *out;
    mo.ndim = 2;
    mo.data = out->data + oo;
    mo.shape[0] = M, mo.shape[1] = N;
    mo.stride[0] = N, mo.stride[1] = 1;
    if (lc_gemm(&mo, &ma, 0, &mb, 0, 1.0f, beta, scratch, pool, e)) return -1;
    for (int i = nb - 1; i >= 0; i--) {
      if (++idx[i] < shape[i]) break;
      idx[i] = 0;
    }
  }
  return 0;
}
