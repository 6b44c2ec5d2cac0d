/* Walks up to four same-shaped strided tensors together, in runs along the innermost
 * dimension. Dims that are contiguous over each other in every operand are merged
 * first, so contiguous tensors come out as a single run and kernels get tight loops.
 *
 *   lc_iter it; lc_iter_init(&it, 2, (const lc_tensor *[]){out, a});
 *   float *p[LC_ITER_MAX]; int64_t n, s[LC_ITER_MAX];
 *   while (lc_iter_next(&it, p, &n, s)) for (i < n) p[0][i*s[0]] = f(p[1][i*s[1]]);
 */
#ifndef LC_ITER_H
#define LC_ITER_H

#include "tensor.h"

#define LC_ITER_MAX 4

typedef struct lc_iter {
  int nops, ndim;
  int64_t shape[LC_MAX_DIMS];
  int64_t stride[LC_ITER_MAX][LC_MAX_DIMS];
  float *base[LC_ITER_MAX];
  int64_t idx[LC_MAX_DIMS];  /* position in the outer dims (all but the last) */
  int done;
} lc_iter;

/* All operands must have the shape of ops[0]. */
void lc_iter_init(lc_iter *it, int nops, const lc_tensor *const *ops);
/* Yields the next run: p[k] = first element of operand k, n elements, stride s[k]. */
int lc_iter_next(lc_iter *it, float **p, int64_t *n, int64_t *s);

#endif
