/* Reductions (ops/reduce.c) over all elements and along each dim, on contiguous,
 * strided, transposed and expanded inputs, against naive double-precision loops. */
#include "check.h"
#include "elementwise.h"
#include "reduce.h"

static lc_allocator *A;

/* The naive reference over the elements of `a` whose index has idx[d] fixed to the
 * values in `fix` for every d != dim (dim < 0: all elements). Returns the result and
 * the 0-based position of the extreme along dim (or flat index when dim < 0). */
static double ref_reduce(lc_redop op, const lc_tensor *a, int dim, const int64_t *fix, int correction, int64_t *where) {
  int64_t idx[LC_MAX_DIMS] = {0}, k = 0;
  double sum = 0, prod = 1, best = 0;
  int64_t count = 0, best_at = -1;
  if (dim >= 0) memcpy(idx, fix, sizeof(int64_t) * (size_t)a->ndim), idx[dim] = 0;
  int64_t n = dim >= 0 ? a->shape[dim] : lc_numel(a);
  double *vals = malloc(sizeof(double) * (size_t)(n ? n : 1));
  for (k = 0; k < n; k++) {
    double v = *at(a, idx);
    vals[count++] = v;
    sum += v, prod *= v;
    int better = op == LC_RMAX ? v > best : v < best;
    if (best_at < 0 || (!isnan(best) && (isnan(v) || better))) best = v, best_at = k;
    if (dim >= 0) idx[dim]++;
    else next_index(a->ndim, a->shape, idx);
  }
  double mean = sum / (double)count, ss = 0;
  for (int64_t i = 0; i < count; i++) ss += (vals[i] - mean) * (vals[i] - mean);
  free(vals);
  if (where) *where = best_at;
  switch (op) {
    case LC_RSUM: return sum;
    case LC_RMEAN: return mean;
    case LC_RPROD: return prod;
    case LC_RMAX:
    case LC_RMIN: return best;
    case LC_RVAR: return count - correction > 0 ? ss / (double)(count - correction) : NAN;
    case LC_RSTD: return count - correction > 0 ? sqrt(ss / (double)(count - correction)) : NAN;
  }
  return NAN;
}

static void test_reduce_all(void) {
  lc_error e;
  for (int trial = 0; trial < 200; trial++) {
    lc_redop op = (lc_redop)test_int(LC_RSUM, LC_RPROD);
    int ndim = (int)test_int(0, 4);
    int64_t s[4];
    test_shape(ndim, s, 1, 6);
    /* prod of many numbers away from 1 under- or overflows: keep them near 1 */
    float lo = op == LC_RPROD ? 0.8f : -5, hi = op == LC_RPROD ? 1.25f : 5;
    lc_tensor a = test_tensor(A, ndim, s, (int)test_int(0, 3), lo, hi);
    if ((op == LC_RMAX || op == LC_RMIN) && lc_numel(&a) > 2) {  /* ties: the first one wins */
      int64_t i1[4] = {0}, i2[4] = {0};
      next_index(ndim, s, i2), next_index(ndim, s, i2);
      *at(&a, i2) = *at(&a, i1) = op == LC_RMAX ? 10 : -10;
    }
    int corr = (int)test_int(0, 1);
    double r = -12345;
    int64_t where = -7, want_at;
    CHECK_OK(lc_reduce_all(op, &a, corr, &r, &where, &e), e);
    double want = ref_reduce(op, &a, -1, NULL, corr, &want_at);
    char sh[100];
    CHECK(check_close(r, want, 1e-9), "%s over %s (layout strided): %.12g instead of %.12g", lc_redop_name(op),
          lc_shape_str(sh, sizeof sh, a.ndim, a.shape), r, want);
    if (op == LC_RMAX || op == LC_RMIN)
      CHECK(where == want_at, "%s index %lld instead of %lld", lc_redop_name(op), (long long)where, (long long)want_at);
    lc_tensor_release(&a);
  }
  /* sums accumulate in double: 2^24 + many ones would stall in float */
  int64_t n[1] = {1 << 20};
  lc_tensor t;
  lc_tensor_init(&t, A, 1, n, &e);
  lc_fill(&t, 1);
  t.data[0] = 16777216.0f;
  double s;
  CHECK_OK(lc_reduce_all(LC_RSUM, &t, 0, &s, NULL, &e), e);
  CHECK(s == 16777216.0 + (1 << 20) - 1, "double accumulation: %.1f", s);
  /* var of a constant + offset is tiny and not negative (two-pass) */
  lc_fill(&t, 1000.1f);
  CHECK_OK(lc_reduce_all(LC_RVAR, &t, 1, &s, NULL, &e), e);
  CHECK(s >= 0 && s < 1e-9, "var of a constant: %g", s);
  lc_tensor_release(&t);

  /* an expanded tensor: every element read through stride 0 */
  int64_t one[1] = {1}, big[3] = {5, 7, 9};
  lc_tensor o;
  lc_tensor_init(&o, A, 1, one, &e);
  o.data[0] = 2;
  lc_view_expand(&o, 3, big, &e);
  CHECK_OK(lc_reduce_all(LC_RSUM, &o, 0, &s, NULL, &e), e);
  CHECK(s == 2 * 315, "sum of expanded: %g", s);
  lc_tensor_release(&o);
}

static void test_nan_and_empty(void) {
  lc_error e;
  int64_t n[1] = {5};
  lc_tensor t;
  lc_tensor_init(&t, A, 1, n, &e);
  float xs[5] = {1, NAN, 7, NAN, -3};
  memcpy(t.data, xs, sizeof xs);
  double r;
  int64_t i;
  CHECK_OK(lc_reduce_all(LC_RMAX, &t, 0, &r, &i, &e), e);
  CHECK(isnan(r) && i == 1, "max propagates the first NaN: %g at %lld", r, (long long)i);
  CHECK_OK(lc_reduce_all(LC_RMIN, &t, 0, &r, &i, &e), e);
  CHECK(isnan(r) && i == 1, "min propagates the first NaN: %g at %lld", r, (long long)i);
  CHECK_OK(lc_reduce_all(LC_RSUM, &t, 0, &r, &i, &e), e);
  CHECK(isnan(r), "sum with NaN");
  t.data[1] = t.data[3] = INFINITY;
  CHECK_OK(lc_reduce_all(LC_RMAX, &t, 0, &r, &i, &e), e);
  CHECK(r == INFINITY && i == 1, "max inf at 1");
  int64_t one[1] = {1};
  lc_tensor u = t;
  lc_view_narrow(&u, 0, 0, 1, &e);
  CHECK_OK(lc_reduce_all(LC_RVAR, &u, 1, &r, NULL, &e), e);
  CHECK(isnan(r), "unbiased var of one element is NaN, got %g", r);
  CHECK_OK(lc_reduce_all(LC_RVAR, &u, 0, &r, NULL, &e), e);
  CHECK(r == 0, "biased var of one element is 0, got %g", r);
  (void)one;
  lc_tensor_release(&t);

  int64_t z[2] = {3, 0};
  lc_tensor emp;
  lc_tensor_init(&emp, A, 2, z, &e);
  CHECK_OK(lc_reduce_all(LC_RSUM, &emp, 0, &r, NULL, &e), e);
  CHECK(r == 0, "empty sum 0");
  CHECK_OK(lc_reduce_all(LC_RPROD, &emp, 0, &r, NULL, &e), e);
  CHECK(r == 1, "empty prod 1");
  CHECK_FAILS(lc_reduce_all(LC_RMAX, &emp, 0, &r, &i, &e), e, "max:", "empty");
  CHECK_FAILS(lc_reduce_all(LC_RMEAN, &emp, 0, &r, &i, &e), e, "mean:", "empty");
  int64_t three[1] = {3};
  lc_tensor out;
  lc_tensor_init(&out, A, 1, three, &e);
  CHECK_OK(lc_reduce_dim(LC_RSUM, &out, NULL, &emp, 1, 0, 0, &e), e);
  CHECK(out.data[0] == 0 && out.data[2] == 0, "sum over an empty dim is 0");
  CHECK_OK(lc_reduce_dim(LC_RPROD, &out, NULL, &emp, 1, 0, 0, &e), e);
  CHECK(out.data[0] == 1 && out.data[2] == 1, "prod over an empty dim is 1");
  CHECK_FAILS(lc_reduce_dim(LC_RMAX, &out, NULL, &emp, 1, 0, 0, &e), e, "max:", "dimension 2", "empty");
  lc_tensor_release(&out);
  lc_tensor_release(&emp);
}

static void test_reduce_dim(void) {
  lc_error e;
  for (int trial = 0; trial < 300; trial++) {
    lc_redop op = (lc_redop)test_int(LC_RSUM, LC_RPROD);
    int ndim = (int)test_int(1, 4);
    int64_t s[4];
    test_shape(ndim, s, 1, 6);
    float lo = op == LC_RPROD ? 0.8f : -5, hi = op == LC_RPROD ? 1.25f : 5;
    lc_tensor a = test_tensor(A, ndim, s, (int)test_int(0, 3), lo, hi);
    int d = (int)test_int(0, ndim - 1);
    if ((op == LC_RMAX || op == LC_RMIN) && s[d] > 2) {  /* a tie along d at 0 and 2 in the first slice */
      int64_t i0[4] = {0}, i2[4] = {0};
      i2[d] = 2;
      *at(&a, i0) = *at(&a, i2) = op == LC_RMAX ? 10 : -10;
    }
    int64_t os[4];
    int on = 0;
    int keepdim = (int)test_int(0, 1);
    for (int k = 0; k < ndim; k++)
      if (k != d) os[on++] = s[k];
      else if (keepdim) os[on++] = 1;
    lc_tensor out, idx;
    lc_tensor_init(&out, A, on, os, &e);
    lc_tensor_init(&idx, A, on, os, &e);
    int corr = (int)test_int(0, 1);
    int with_idx = op == LC_RMAX || op == LC_RMIN;
    float base = (float)test_int(0, 1);
    CHECK_OK(lc_reduce_dim(op, &out, with_idx ? &idx : NULL, &a, d, corr, base, &e), e);
    /* walk the output positions in row-major order, i.e. a's index with dim d skipped */
    int64_t fix[4] = {0}, bad = 0, badi = 0, k = 0;
    double got = 0, want0 = 0;
    do {
      int64_t want_at;
      double want = ref_reduce(op, &a, d, fix, corr, &want_at);
      if (!check_close(out.data[k], (float)want, 2e-6)) {
        if (!bad) got = out.data[k], want0 = want;
        bad++;
      }
      if (with_idx && idx.data[k] != base + (float)want_at) badi++;
      k++;
      /* next fix, skipping d */
      int q;
      for (q = ndim - 1; q >= 0; q--) {
        if (q == d) continue;
        if (++fix[q] < s[q]) break;
        fix[q] = 0;
      }
      if (q < 0) break;
    } while (1);
    char sh[100];
    CHECK(k == lc_numel(&out), "visited %lld of %lld outputs", (long long)k, (long long)lc_numel(&out));
    CHECK(bad == 0, "%s(dim %d) of %s: %lld wrong, e.g. %.9g instead of %.9g", lc_redop_name(op), d + 1,
          lc_shape_str(sh, sizeof sh, a.ndim, a.shape), (long long)bad, got, want0);
    CHECK(badi == 0, "%s(dim %d) of %s: %lld wrong indices", lc_redop_name(op), d + 1,
          lc_shape_str(sh, sizeof sh, a.ndim, a.shape), (long long)badi);
    lc_tensor_release(&a);
    lc_tensor_release(&out);
    lc_tensor_release(&idx);
  }
}

static void test_errors(void) {
  lc_error e;
  int64_t s[2] = {3, 4}, w[1] = {5}, ok[1] = {3};
  lc_tensor a, out, good;
  lc_tensor_init(&a, A, 2, s, &e);
  lc_tensor_init(&out, A, 1, w, &e);
  lc_tensor_init(&good, A, 1, ok, &e);
  lc_fill(&a, 1);
  CHECK_FAILS(lc_reduce_dim(LC_RSUM, &out, NULL, &a, 1, 0, 0, &e), e, "sum:", "output");
  CHECK_FAILS(lc_reduce_dim(LC_RMAX, &good, &out, &a, 1, 0, 0, &e), e, "max:", "output");
  CHECK_FAILS(lc_reduce_dim(LC_RMEAN, &good, NULL, &a, 2, 0, 0, &e), e, "mean:", "dimension 3", "2-dimensional");
  CHECK_FAILS(lc_reduce_dim(LC_RSTD, &good, NULL, &a, -1, 0, 0, &e), e, "std:");
  lc_tensor strided = a;
  lc_view_transpose(&strided, 0, 1, &e);
  lc_view_narrow(&strided, 0, 0, 3, &e);  /* [3,3] strided output */
  lc_tensor a3;
  int64_t s3[3] = {3, 5, 3};
  lc_tensor_init(&a3, A, 3, s3, &e);
  lc_fill(&a3, 1);
  CHECK_FAILS(lc_reduce_dim(LC_RSUM, &strided, NULL, &a3, 1, 0, 0, &e), e, "sum:");
  CHECK_OK(lc_reduce_dim(LC_RSUM, &good, NULL, &a, 1, 0, 0, &e), e);
  CHECK(good.data[0] == 4 && good.data[2] == 4, "row sums");
  lc_tensor_release(&a), lc_tensor_release(&out), lc_tensor_release(&good), lc_tensor_release(&a3);
  CHECK(strcmp(lc_redop_name(LC_RPROD), "prod") == 0 && strcmp(lc_redop_name(LC_RVAR), "var") == 0, "names");
}

int main(void) {
  test_seed(3);
  A = lc_allocator_new((size_t)64 << 20);
  test_reduce_all();
  test_nan_and_empty();
  test_reduce_dim();
  test_errors();
  CHECK(lc_allocator_live_bytes(A) == 0, "every test tensor was released (%zu bytes live)", lc_allocator_live_bytes(A));
  lc_allocator_release(A);
  return check_done("test_reduce");
}
