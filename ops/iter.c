#include "iter.h"

void lc_iter_init(lc_iter *it, int nops, const lc_tensor *const *ops) {
  const lc_tensor *t0 = ops[0];
  it->nops = nops;
  it->done = lc_numel(t0) == 0;
  /* copy, dropping size-1 dims (their stride never matters) */
  int nd = 0;
  for (int d = 0; d < t0->ndim; d++) {
    if (t0->shape[d] == 1) continue;
    it->shape[nd] = t0->shape[d];
    for (int k = 0; k < nops; k++) it->stride[k][nd] = ops[k]->stride[d];
    nd++;
  }
  if (nd == 0) {  /* a single element */
    it->shape[0] = 1;
    for (int k = 0; k < nops; k++) it->stride[k][0] = 1;
    nd = 1;
  }
  /* merge dim d into d+1 where every operand steps over d exactly as one run of d+1 */
  int out = 0;
  for (int d = 1; d < nd; d++) {
    int merge = 1;
    for (int k = 0; k < nops; k++)
      if (it->stride[k][out] != it->stride[k][d] * it->shape[d]) merge = 0;
    if (merge) {
      it->shape[out] *= it->shape[d];
      for (int k = 0; k < nops; k++) it->stride[k][out] = it->stride[k][d];
    } else {
      out++;
      it->shape[out] = it->shape[d];
      for (int k = 0; k < nops; k++) it->stride[k][out] = it->stride[k][d];
    }
  }
  it->ndim = out + 1;
  for (int k = 0; k < nops; k++) it->base[k] = ops[k]->data;
  for (int d = 0; d < it->ndim; d++) it->idx[d] = 0;
}

int lc_iter_next(lc_iter *it, float **p, int64_t *n, int64_t *s) {
  if (it->done) return 0;
  int last = it->ndim - 1;
  for (int k = 0; k < it->nops; k++) {
    int64_t off = 0;
    for (int d = 0; d < last; d++) off += it->idx[d] * it->stride[k][d];
    p[k] = it->base[k] + off;
    s[k] = it->stride[k][last];
  }
  *n = it->shape[last];
  /* advance the outer counter */
  int d = last - 1;
  while (d >= 0) {
    if (++it->idx[d] < it->shape[d]) break;
    it->idx[d] = 0;
    d--;
  }
  if (d < 0) it->done = 1;
  return 1;
}
