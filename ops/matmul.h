/* Matrix products through OpenBLAS cblas_sgemm. Transposed views are passed with the
 * transpose flags rather than copied; only layouts BLAS cannot express are copied. */
#ifndef LC_MATMUL_H
#define LC_MATMUL_H

#include "pool.h"
#include "tensor.h"

/* Shape of matmul(a, b) with PyTorch/NumPy rules: 1-D operands are promoted (and the
 * added dim removed again), batch dims (all but the last two) broadcast. */
int lc_matmul_shape(const lc_tensor *a, const lc_tensor *b, int *ndim, int64_t *shape, lc_error *e);

/* out = a @ b (beta = 0) or out += a @ b (accumulate = 1). out must have
 * lc_matmul_shape(a, b) and must not overlap a or b. `scratch` provides copies for
 * layouts BLAS cannot take; `pool` (may be NULL) runs large products on several threads. */
int lc_matmul(lc_tensor *out, const lc_tensor *a, const lc_tensor *b, int accumulate, lc_allocator *scratch,
              lc_pool *pool, lc_error *e);

/* out[m,n] = alpha * op(a)[m,k] @ op(b)[k,n] + beta * out for 2-D tensors, op = transpose
 * when ta/tb. With a pool, C is split into column (or row) blocks, one sgemm each, and
 * OpenBLAS itself stays single-threaded. */
int lc_gemm(lc_tensor *out, const lc_tensor *a, int ta, const lc_tensor *b, int tb, float alpha, float beta,
            lc_allocator *scratch, lc_pool *pool, lc_error *e);

/* The naive triple loop, for tests to compare against. 2-D contiguous only. */
void lc_gemm_reference(float *c, const float *a, const float *b, int64_t m, int64_t k, int64_t n);

#endif
