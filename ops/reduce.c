/* Dimension letters for lc_reduce_dim on a contiguous copy of the input:
 * O = product of the sizes before d, N = size of d, I = product of the sizes after d;
 * element (o, j, i) sits at (o*N + j)*I + i. */
#include "reduce.h"

#include <math.h>
#include <stdlib.h>

#include "elementwise.h"
#include "iter.h"

static const char *names[] = {"sum", "mean", "max", "min", "var", "std", "prod"};

const char *lc_redop_name(lc_redop op) { return names[op]; }

int lc_reduce_all(lc_redop op, const lc_tensor *a, int correction, double *result, int64_t *index, lc_error *e) {
  int64_t total = lc_numel(a);
  if (total == 0) {
    if (op == LC_RSUM) return *result = 0, 0;
    if (op == LC_RPROD) return *result = 1, 0;
    return lc_fail(e, "%s: the tensor is empty", names[op]);
  }
  lc_iter it;
  float *p[LC_ITER_MAX];
  int64_t n, s[LC_ITER_MAX];
  if (op == LC_RMAX || op == LC_RMIN) {
    /* flat index needs the true element order: walk the unmerged tensor coordinates */
    float best = 0;
    int64_t best_i = -1, flat = 0, idx[LC_MAX_DIMS] = {0};
    for (; flat < total; flat++) {
      int64_t off = 0;
      for (int d = 0; d < a->ndim; d++) off += idx[d] * a->stride[d];
      float v = a->data[off];
      if (best_i < 0 || (best == best && (v != v || (op == LC_RMAX ? v > best : v < best)))) {
        best = v;
        best_i = flat;
      }
      for (int d = a->ndim - 1; d >= 0; d--) {
        if (++idx[d] < a->shape[d]) break;
        idx[d] = 0;
      }
    }
    *result = best;
    if (index) *index = best_i;
    return 0;
  }
  if (op == LC_RPROD) {
    double prod = 1;
    lc_iter_init(&it, 1, (const lc_tensor *[]){a});
    while (lc_iter_next(&it, p, &n, s))
      for (int64_t i = 0; i < n; i++) prod *= p[0][i * s[0]];
    *result = prod;
    return 0;
  }
  double sum = 0;
  lc_iter_init(&it, 1, (const lc_tensor *[]){a});
  while (lc_iter_next(&it, p, &n, s))
    for (int64_t i = 0; i < n; i++) sum += p[0][i * s[0]];
  double mean = sum / (double)total;
  if (op == LC_RSUM) return *result = sum, 0;
  if (op == LC_RMEAN) return *result = mean, 0;
  /* var/std: second pass over the deviations, more stable than E[x^2]-E[x]^2 */
  double ss = 0;
  lc_iter_init(&it, 1, (const lc_tensor *[]){a});
  while (lc_iter_next(&it, p, &n, s))
    for (int64_t i = 0; i < n; i++) {
      double dv = p[0][i * s[0]] - mean;
      ss += dv * dv;
    }
  double denom = (double)(total - correction);
  double var = denom > 0 ? ss / denom : NAN;
  *result = op == LC_RSTD ? sqrt(var) : var;
  return 0;
}

int lc_reduce_dim(lc_redop op, lc_tensor *out, lc_tensor *idx, const lc_tensor *a, int d, int correction,
                  float index_base, lc_error *e) {
  if (d < 0 || d >= a->ndim)
    return lc_fail(e, "%s: dimension %d out of range for a %d-dimensional tensor", names[op], d + 1, a->ndim);
  int64_t N = a->shape[d], O = 1, I = 1;
  for (int k = 0; k < d; k++) O *= a->shape[k];
  for (int k = d + 1; k < a->ndim; k++) I *= a->shape[k];
  if (N == 0 && op != LC_RSUM && op != LC_RPROD)
    return lc_fail(e, "%s: dimension %d is empty", names[op], d + 1);
  if (lc_numel(out) != O * I || !lc_is_contiguous(out) || (idx && (lc_numel(idx) != O * I || !lc_is_contiguous(idx))))
    return lc_fail(e, "%s: output has the wrong size", names[op]);

  /* work on a contiguous copy when a is strided */
  const float *x = a->data;
  float *copy = NULL;
  if (!lc_is_contiguous(a)) {
    copy = malloc(sizeof(float) * (size_t)(O * N * I));
    if (!copy) return lc_fail(e, "%s: out of memory", names[op]);
    lc_tensor c = *a;
    c.data = copy;
    lc_contiguous_strides(a->ndim, a->shape, c.stride);
    lc_copy(&c, a, NULL);  /* same shape: cannot fail */
    x = copy;
  }
  float *y = out->data;
  float *yi = idx ? idx->data : NULL;

  if (op == LC_RMAX || op == LC_RMIN) {
    for (int64_t o = 0; o < O; o++) {
      float *best = y + o * I;
      float *bi = yi ? yi + o * I : NULL;
      const float *row0 = x + o * N * I;
      for (int64_t i = 0; i < I; i++) {
        best[i] = row0[i];
        if (bi) bi[i] = index_base;
      }
      for (int64_t j = 1; j < N; j++) {
        const float *row = row0 + j * I;
        for (int64_t i = 0; i < I; i++) {
          float v = row[i], b = best[i];
          if (b == b && (v != v || (op == LC_RMAX ? v > b : v < b))) {
            best[i] = v;
            if (bi) bi[i] = index_base + (float)j;
          }
        }
      }
    }
  } else {
    double *acc = malloc(sizeof(double) * (size_t)(I > 0 ? I : 1));
    double *acc2 = (op == LC_RVAR || op == LC_RSTD) ? malloc(sizeof(double) * (size_t)(I > 0 ? I : 1)) : NULL;
    if (!acc || ((op == LC_RVAR || op == LC_RSTD) && !acc2)) {
      free(acc), free(acc2), free(copy);
      return lc_fail(e, "%s: out of memory", names[op]);
    }
    for (int64_t o = 0; o < O; o++) {
      const float *row0 = x + o * N * I;
      for (int64_t i = 0; i < I; i++) acc[i] = op == LC_RPROD ? 1.0 : 0.0;
      for (int64_t j = 0; j < N; j++) {
        const float *row = row0 + j * I;
        if (op == LC_RPROD)
          for (int64_t i = 0; i < I; i++) acc[i] *= row[i];
        else
          for (int64_t i = 0; i < I; i++) acc[i] += row[i];
      }
      float *yo = y + o * I;
      if (op == LC_RSUM || op == LC_RPROD) {
        for (int64_t i = 0; i < I; i++) yo[i] = (float)acc[i];
        continue;
      }
      for (int64_t i = 0; i < I; i++) acc[i] /= (double)N;
      if (op == LC_RMEAN) {
        for (int64_t i = 0; i < I; i++) yo[i] = (float)acc[i];
        continue;
      }
      for (int64_t i = 0; i < I; i++) acc2[i] = 0;
      for (int64_t j = 0; j < N; j++) {
        const float *row = row0 + j * I;
        for (int64_t i = 0; i < I; i++) {
          double dv = row[i] - acc[i];
          acc2[i] += dv * dv;
        }
      }
      double denom = (double)(N - correction);
      for (int64_t i = 0; i < I; i++) {
        double var = denom > 0 ? acc2[i] / denom : NAN;
        yo[i] = (float)(op == LC_RSTD ? sqrt(var) : var);
      }
    }
    free(acc);
    free(acc2);
  }
  free(copy);
  return 0;
}
