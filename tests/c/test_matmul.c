/* Matrix products (ops/matmul.c): lc_gemm and lc_matmul against lc_gemm_reference on
 * contiguous copies, with transposed, strided and expanded operands, batched shapes with
 * broadcast batch dims, 1-D operands, empty dims (k = 0, m = 0) and accumulation. */
#include <math.h>

#include "check.h"
#include "elementwise.h"
#include "matmul.h"

static lc_allocator *A;
static lc_pool *P;  /* NULL, then 2 threads: every test runs serial and split */

/* A contiguous copy of t (the caller releases it). */
static lc_tensor contiguous(const lc_tensor *t) {
  lc_tensor c = test_empty(A, t->ndim, t->shape);
  lc_error e;
  lc_copy(&c, t, &e);
  return c;
}

static void test_reference(void) {
  /* the reference itself, on numbers worked out by hand */
  float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {7, 8, 9, 10, 11, 12}, c[4];
  lc_gemm_reference(c, a, b, 2, 3, 2);
  CHECK(c[0] == 58 && c[1] == 64 && c[2] == 139 && c[3] == 154, "[[1,2,3],[4,5,6]] x [[7,8],[9,10],[11,12]] = %g %g %g %g",
        c[0], c[1], c[2], c[3]);
  float d[4] = {-1, -1, -1, -1};
  lc_gemm_reference(d, a, b, 2, 0, 2);
  CHECK(d[0] == 0 && d[3] == 0, "k = 0 gives zeros");
}

/* op(x) for gemm: x itself or x transposed, as a view */
static lc_tensor maybe_t(const lc_tensor *x, int t) {
  lc_tensor v = *x;
  if (t) lc_view_transpose(&v, 0, 1, NULL);
  return v;
}

static void test_gemm(void) {
  lc_error e;
  for (int trial = 0; trial < 300; trial++) {
    int64_t M = test_int(0, 9), K = test_int(0, 9), N = test_int(0, 9);
    if (trial < 30) M = test_int(1, 70), K = test_int(1, 70), N = test_int(1, 70);  /* past BLAS's small kernels */
    int ta = (int)test_int(0, 1), tb = (int)test_int(0, 1);
    /* stored shapes: op(a) is [M,K] */
    int64_t as[2] = {ta ? K : M, ta ? M : K}, bs[2] = {tb ? N : K, tb ? K : N};
    lc_tensor a = test_tensor(A, 2, as, (int)test_int(0, 3), -1, 1);
    lc_tensor b = test_tensor(A, 2, bs, (int)test_int(0, 3), -1, 1);
    /* the output: contiguous, or rows of a wider matrix (ld > N) */
    lc_tensor wide, out;
    int64_t ws[2] = {M, N + test_int(0, 3)};
    lc_tensor_init(&wide, A, 2, ws, &e);
    lc_fill(&wide, 3);
    out = wide;
    lc_view_narrow(&out, 1, 0, N, &e);
    float alpha = test_int(0, 1) ? 1.0f : test_float(-2, 2), beta = test_int(0, 1) ? 0.0f : test_float(-1, 1);
    lc_tensor va = maybe_t(&a, ta), vb = maybe_t(&b, tb), ca = contiguous(&va), cb = contiguous(&vb);
    float *ref = malloc(sizeof(float) * (size_t)(M * N + 1));
    lc_gemm_reference(ref, ca.data, cb.data, M, K, N);
    CHECK_OK(lc_gemm(&out, &a, ta, &b, tb, alpha, beta, A, P, &e), e);
    int64_t bad = 0;
    double got = 0, want = 0;
    for (int64_t i = 0; i < M; i++)
      for (int64_t j = 0; j < N; j++) {
        double w = alpha * ref[i * N + j] + beta * 3.0, g = out.data[i * out.stride[0] + j];
        if (!check_close(g, w, 1e-4)) {
          if (!bad) got = g, want = w;
          bad++;
        }
      }
    for (int64_t i = 0; i < M; i++)
      for (int64_t j = N; j < ws[1]; j++)
        if (wide.data[i * ws[1] + j] != 3) bad++;  /* the padding stays untouched */
    CHECK(bad == 0, "gemm M=%lld K=%lld N=%lld ta=%d tb=%d alpha=%g beta=%g: %lld wrong, e.g. %g instead of %g",
          (long long)M, (long long)K, (long long)N, ta, tb, alpha, beta, (long long)bad, got, want);
    free(ref);
    lc_tensor_release(&a), lc_tensor_release(&b), lc_tensor_release(&ca), lc_tensor_release(&cb);
    lc_tensor_release(&wide);
  }
  /* operands BLAS cannot read in place (stride 0 along a matrix dim, rows or columns,
   * as either operand, transposed or not) are copied */
  for (int trial = 0; trial < 64; trial++) {
    int64_t M = test_int(1, 6), K = test_int(1, 6), N = test_int(1, 6);
    int which = trial % 4, ta = (trial / 4) % 2, tb = (trial / 8) % 2;
    /* which: 0 a's rows repeat, 1 a's columns repeat, 2 b's rows repeat, 3 b's columns repeat */
    int64_t as[2] = {ta ? K : M, ta ? M : K}, bs[2] = {tb ? N : K, tb ? K : N};
    lc_tensor a = test_tensor(A, 2, as, (int)test_int(0, 3), -1, 1), b = test_tensor(A, 2, bs, (int)test_int(0, 3), -1, 1);
    lc_tensor *x = which < 2 ? &a : &b;
    int rows = which % 2 == 0;  /* keep one row (stride 0 over rows) or one column */
    lc_tensor small = *x, exp_;
    lc_view_narrow(&small, rows ? 0 : 1, 0, 1, &e);
    exp_ = small;
    CHECK_OK(lc_view_expand(&exp_, 2, x->shape, &e), e);
    lc_tensor va = maybe_t(which < 2 ? &exp_ : &a, ta), vb = maybe_t(which < 2 ? &b : &exp_, tb);
    lc_tensor ca = contiguous(&va), cb = contiguous(&vb), out;
    int64_t os[2] = {M, N};
    lc_tensor_init(&out, A, 2, os, &e);
    float *ref = malloc(sizeof(float) * (size_t)(M * N));
    lc_gemm_reference(ref, ca.data, cb.data, M, K, N);
    CHECK_OK(lc_gemm(&out, which < 2 ? &exp_ : &a, ta, which < 2 ? &b : &exp_, tb, 1, 0, A, P, &e), e);
    int64_t bad = 0;
    for (int64_t i = 0; i < M * N; i++)
      if (!check_close(out.data[i], ref[i], 1e-5)) bad++;
    CHECK(bad == 0, "gemm with a stride-0 %s of %s (ta=%d tb=%d, M=%lld K=%lld N=%lld): %lld wrong", rows ? "row" : "column",
          which < 2 ? "a" : "b", ta, tb, (long long)M, (long long)K, (long long)N, (long long)bad);
    free(ref);
    lc_tensor_release(&a), lc_tensor_release(&b), lc_tensor_release(&ca), lc_tensor_release(&cb), lc_tensor_release(&out);
  }
  int64_t rs[2] = {1, 4}, es[2] = {3, 4}, bs[2] = {4, 2}, cs[2] = {3, 2};
  lc_tensor row, b, c;
  lc_tensor_init(&row, A, 2, rs, &e);
  lc_tensor_init(&b, A, 2, bs, &e);
  lc_tensor_init(&c, A, 2, cs, &e);
  for (int i = 0; i < 4; i++) row.data[i] = (float)(i + 1);
  for (int i = 0; i < 8; i++) b.data[i] = (float)(i % 3);
  lc_tensor ex = row;
  lc_view_expand(&ex, 2, es, &e);
  size_t live_before = lc_allocator_live_bytes(A);
  CHECK_OK(lc_gemm(&c, &ex, 0, &b, 0, 1, 0, A, P, &e), e);
  CHECK(lc_allocator_live_bytes(A) == live_before, "scratch copies are released");
  float want[2];
  lc_gemm_reference(want, row.data, b.data, 1, 4, 2);
  for (int i = 0; i < 3; i++)
    CHECK(c.data[2 * i] == want[0] && c.data[2 * i + 1] == want[1], "expanded row %d: %g %g", i, c.data[2 * i],
          c.data[2 * i + 1]);
  lc_tensor_release(&row), lc_tensor_release(&b), lc_tensor_release(&c);
}

/* The naive batched product: out[batch..., i, j] = sum_k a[batch..., i, k] * b[batch..., k, j]
 * with batch dims broadcast and 1-D operands promoted, computed from lc_matmul_shape's
 * result and element-wise reads. */
static int64_t check_matmul_result(const lc_tensor *out, const lc_tensor *a, const lc_tensor *b, double *got,
                                   double *want) {
  int nd = out->ndim, nb = nd - (a->ndim >= 2) - (b->ndim >= 2);
  int64_t K = a->shape[a->ndim - 1], idx[LC_MAX_DIMS] = {0}, bad = 0;
  if (lc_numel(out) == 0) return 0;
  do {
    int64_t i = a->ndim >= 2 ? idx[nb] : 0, j = b->ndim >= 2 ? idx[nd - 1] : 0;
    double s = 0;
    for (int64_t k = 0; k < K; k++) {
      int64_t ia[LC_MAX_DIMS], ib[LC_MAX_DIMS];
      /* batch dims of the operand, aligned to the right of out's batch dims */
      int bna = a->ndim - 2, bnb = b->ndim - 2;
      for (int q = 0; q < bna; q++) ia[q] = a->shape[q] == 1 ? 0 : idx[nb - bna + q];
      for (int q = 0; q < bnb; q++) ib[q] = b->shape[q] == 1 ? 0 : idx[nb - bnb + q];
      if (a->ndim >= 2) ia[a->ndim - 2] = i, ia[a->ndim - 1] = k;
      else ia[0] = k;
      if (b->ndim >= 2) ib[b->ndim - 2] = k, ib[b->ndim - 1] = j;
      else ib[0] = k;
      s += (double)*at(a, ia) * *at(b, ib);
    }
    double g = *at(out, idx);
    if (!check_close(g, s, 1e-4)) {
      if (!bad) *got = g, *want = s;
      bad++;
    }
  } while (next_index(nd, out->shape, idx));
  return bad;
}

static void test_matmul(void) {
  lc_error e;
  for (int trial = 0; trial < 400; trial++) {
    int na = (int)test_int(1, 4), nb = (int)test_int(1, 4);
    int64_t M = test_int(0, 5), K = test_int(0, 5), N = test_int(0, 5);
    if (trial % 7) K = test_int(1, 5), M = test_int(1, 5), N = test_int(1, 5);
    /* batch dims: a common shape, each operand keeps a trailing part with some 1s */
    int64_t batch[2];
    test_shape(2, batch, 1, 3);
    int64_t as[4], bs[4];
    int ba = na > 2 ? na - 2 : 0, bb = nb > 2 ? nb - 2 : 0;
    for (int q = 0; q < ba; q++) as[q] = test_int(0, 2) ? batch[2 - ba + q] : 1;
    for (int q = 0; q < bb; q++) bs[q] = test_int(0, 2) ? batch[2 - bb + q] : 1;
    if (na == 1) as[0] = K;
    else as[ba] = M, as[ba + 1] = K;
    if (nb == 1) bs[0] = K;
    else bs[bb] = K, bs[bb + 1] = N;
    lc_tensor a = test_tensor(A, na, as, (int)test_int(0, 3), -1, 1), b = test_tensor(A, nb, bs, (int)test_int(0, 3), -1, 1);
    int nd;
    int64_t os[LC_MAX_DIMS];
    CHECK_OK(lc_matmul_shape(&a, &b, &nd, os, &e), e);
    /* rank of the result: batch dims + kept matrix dims */
    int want_nd = (ba > bb ? ba : bb) + (na >= 2) + (nb >= 2);
    CHECK(nd == want_nd, "matmul of %d-D and %d-D has %d dims, expected %d", na, nb, nd, want_nd);
    lc_tensor out;
    lc_tensor_init(&out, A, nd, os, &e);
    lc_fill(&out, NAN);  /* beta = 0 must not read the old contents */
    CHECK_OK(lc_matmul(&out, &a, &b, 0, A, P, &e), e);
    double got = 0, want = 0;
    int64_t bad = check_matmul_result(&out, &a, &b, &got, &want);
    char x[100], y[100];
    CHECK(bad == 0, "matmul %s x %s: %lld wrong, e.g. %g instead of %g", lc_shape_str(x, sizeof x, a.ndim, a.shape),
          lc_shape_str(y, sizeof y, b.ndim, b.shape), (long long)bad, got, want);
    /* accumulate: out += a @ b doubles it */
    if (lc_numel(&out) > 0 && K > 0) {
      lc_tensor twice = contiguous(&out);
      lc_binary_scalar(LC_MUL, &twice, &twice, 2, 0, &e);
      CHECK_OK(lc_matmul(&out, &a, &b, 1, A, P, &e), e);
      int64_t n = lc_numel(&out), badacc = 0;
      for (int64_t k = 0; k < n; k++)
        if (!check_close(out.data[k], twice.data[k], 1e-5)) badacc++;
      CHECK(badacc == 0, "accumulating matmul %s x %s: %lld wrong", x, y, (long long)badacc);
      lc_tensor_release(&twice);
    }
    lc_tensor_release(&a), lc_tensor_release(&b), lc_tensor_release(&out);
  }
  /* larger batched case with a transposed a whose batch dims cannot fold into rows */
  int64_t as[3] = {4, 33, 17}, bs[2] = {33, 21};
  lc_tensor a = test_tensor(A, 3, as, 0, -1, 1), b = test_tensor(A, 2, bs, 2, -1, 1);
  lc_tensor at_ = a;
  lc_view_transpose(&at_, 1, 2, &e);  /* [4,17,33] */
  int64_t os[3] = {4, 17, 21};
  lc_tensor out;
  lc_tensor_init(&out, A, 3, os, &e);
  CHECK_OK(lc_matmul(&out, &at_, &b, 0, A, P, &e), e);
  double got = 0, want = 0;
  CHECK(check_matmul_result(&out, &at_, &b, &got, &want) == 0, "transposed batch: %g instead of %g", got, want);
  lc_tensor_release(&a), lc_tensor_release(&b), lc_tensor_release(&out);
}

static void test_shapes_and_errors(void) {
  lc_error e;
  struct { int na; int64_t a[4]; int nb; int64_t b[4]; int nw; int64_t w[4]; } ok[] = {
    {1, {3}, 1, {3}, 0, {0}},                        /* dot product: a scalar */
    {1, {3}, 2, {3, 4}, 1, {4}},                     /* vector @ matrix */
    {2, {2, 3}, 1, {3}, 1, {2}},                     /* matrix @ vector */
    {3, {5, 2, 3}, 1, {3}, 2, {5, 2}},
    {1, {3}, 3, {5, 3, 4}, 2, {5, 4}},
    {3, {1, 2, 3}, 4, {6, 5, 3, 4}, 4, {6, 5, 2, 4}},
    {2, {2, 0}, 2, {0, 4}, 2, {2, 4}},               /* k = 0 */
  };
  for (size_t k = 0; k < sizeof ok / sizeof ok[0]; k++) {
    lc_tensor a = {0}, b = {0};
    a.ndim = ok[k].na, b.ndim = ok[k].nb;
    memcpy(a.shape, ok[k].a, sizeof ok[k].a);
    memcpy(b.shape, ok[k].b, sizeof ok[k].b);
    int nd = -1;
    int64_t sh[LC_MAX_DIMS];
    CHECK_OK(lc_matmul_shape(&a, &b, &nd, sh, &e), e);
    CHECK(nd == ok[k].nw && memcmp(sh, ok[k].w, sizeof(int64_t) * (size_t)nd) == 0, "matmul shape case %zu", k);
  }
  /* k = 0 gives zeros (and leaves out += nothing when accumulating) */
  int64_t as[2] = {2, 0}, bs[2] = {0, 3}, os[2] = {2, 3};
  lc_tensor a, b, o;
  lc_tensor_init(&a, A, 2, as, &e);
  lc_tensor_init(&b, A, 2, bs, &e);
  lc_tensor_init(&o, A, 2, os, &e);
  lc_fill(&o, 5);
  CHECK_OK(lc_matmul(&o, &a, &b, 1, A, P, &e), e);
  CHECK(o.data[0] == 5 && o.data[5] == 5, "k = 0 accumulate leaves out");
  CHECK_OK(lc_matmul(&o, &a, &b, 0, A, P, &e), e);
  CHECK(o.data[0] == 0 && o.data[5] == 0, "k = 0 gives zeros: %g", o.data[0]);
  lc_tensor_release(&a), lc_tensor_release(&b), lc_tensor_release(&o);

  int64_t s34[2] = {3, 4}, s52[2] = {5, 2}, s32[2] = {3, 2}, s42[2] = {4, 2}, s234[3] = {2, 3, 4}, s345[3] = {3, 4, 5};
  lc_tensor x, y, z, w, b3, c3, sc;
  lc_tensor_init(&x, A, 2, s34, &e);
  lc_tensor_init(&y, A, 2, s52, &e);
  lc_tensor_init(&z, A, 2, s32, &e);
  lc_tensor_init(&w, A, 2, s42, &e);
  lc_tensor_init(&b3, A, 3, s234, &e);
  lc_tensor_init(&c3, A, 3, s345, &e);
  lc_tensor_init(&sc, A, 0, NULL, &e);
  lc_fill(&x, 1), lc_fill(&y, 1), lc_fill(&z, 1), lc_fill(&w, 1), lc_fill(&b3, 1), lc_fill(&c3, 1), lc_fill(&sc, 1);
  int nd;
  int64_t sh[LC_MAX_DIMS];
  CHECK_FAILS(lc_matmul_shape(&x, &y, &nd, sh, &e), e, "matmul: [3,4] x [5,2]: inner dims 4 and 5 differ");
  CHECK_FAILS(lc_matmul_shape(&sc, &x, &nd, sh, &e), e, "matmul:", "[]", "[3,4]");
  CHECK_FAILS(lc_matmul_shape(&b3, &c3, &nd, sh, &e), e, "matmul:", "[2,3,4]", "[3,4,5]", "batch");
  CHECK_FAILS(lc_matmul(&z, &x, &y, 0, A, P, &e), e, "matmul:", "inner dims");
  CHECK_FAILS(lc_matmul(&x, &x, &w, 0, A, P, &e), e, "matmul:", "output", "[3,4]", "[3,2]");
  lc_tensor zt = z;  /* non-contiguous output */
  lc_tensor_init(&zt, A, 2, (int64_t[]){2, 3}, &e);
  lc_tensor ztv = zt;
  lc_view_transpose(&ztv, 0, 1, &e);
  CHECK_FAILS(lc_matmul(&ztv, &x, &w, 0, A, P, &e), e, "matmul:", "contiguous");
  CHECK_FAILS(lc_gemm(&z, &x, 0, &y, 0, 1, 0, A, P, &e), e, "gemm:", "[3,4]", "[5,2]");
  CHECK_FAILS(lc_gemm(&w, &x, 0, &w, 0, 1, 0, A, P, &e), e, "gemm:", "[3,4] x [4,2] -> [4,2]");
  CHECK_FAILS(lc_gemm(&z, &x, 1, &w, 0, 1, 0, A, P, &e), e, "gemm:");
  CHECK_FAILS(lc_gemm(&z, &b3, 0, &w, 0, 1, 0, A, P, &e), e, "gemm:", "2-D");
  CHECK_FAILS(lc_gemm(&z, &x, 0, &sc, 0, 1, 0, A, P, &e), e, "gemm:", "2-D");
  CHECK_FAILS(lc_gemm(&ztv, &x, 0, &w, 0, 1, 0, A, P, &e), e, "output");
  /* a result over 2^40 elements is refused by the shape check */
  lc_tensor big_a = {0}, big_b = {0};
  big_a.ndim = big_b.ndim = 2;
  big_a.shape[0] = (int64_t)1 << 30, big_a.shape[1] = 1;
  big_b.shape[0] = 1, big_b.shape[1] = (int64_t)1 << 30;
  CHECK_FAILS(lc_matmul_shape(&big_a, &big_b, &nd, sh, &e), e, "matmul:", "2^40");
  lc_tensor_release(&x), lc_tensor_release(&y), lc_tensor_release(&z), lc_tensor_release(&w);
  lc_tensor_release(&b3), lc_tensor_release(&c3), lc_tensor_release(&sc), lc_tensor_release(&zt);
}

/* Products large enough for the pool to split them, in every layout, against the
 * naive reference: row splits, column splits, transposed operands, accumulation. */
static void test_parallel_gemm(void) {
  static const int64_t shapes[][3] = {{32, 784, 128}, {128, 32, 784}, {7, 300, 1000}, {513, 129, 47}, {1000, 64, 5}};
  lc_error e;
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
    int64_t M = shapes[s][0], K = shapes[s][1], N = shapes[s][2];
    for (int ta = 0; ta <= 1; ta++)
      for (int tb = 0; tb <= 1; tb++) {
        lc_tensor a, b, c, r;
        int64_t sa[2] = {ta ? K : M, ta ? M : K}, sb[2] = {tb ? N : K, tb ? K : N}, sc[2] = {M, N};
        CHECK_OK(lc_tensor_init(&a, A, 2, sa, &e), e);
        CHECK_OK(lc_tensor_init(&b, A, 2, sb, &e), e);
        CHECK_OK(lc_tensor_init(&c, A, 2, sc, &e), e);
        CHECK_OK(lc_tensor_init(&r, A, 2, sc, &e), e);
        for (int64_t i = 0; i < lc_numel(&a); i++) a.data[i] = test_float(-0.5f, 0.5f);
        for (int64_t i = 0; i < lc_numel(&b); i++) b.data[i] = test_float(-0.5f, 0.5f);
        for (int64_t i = 0; i < M * N; i++) c.data[i] = 1.0f;
        CHECK_OK(lc_gemm(&c, &a, ta, &b, tb, 2.0f, 1.0f, A, P, &e), e);
        /* reference on contiguous copies of op(a), op(b) */
        lc_tensor va = a, vb = b, ca, cb;
        if (ta) lc_view_transpose(&va, 0, 1, NULL);
        if (tb) lc_view_transpose(&vb, 0, 1, NULL);
        CHECK_OK(lc_tensor_init(&ca, A, 2, va.shape, &e), e);
        CHECK_OK(lc_tensor_init(&cb, A, 2, vb.shape, &e), e);
        lc_copy(&ca, &va, NULL);
        lc_copy(&cb, &vb, NULL);
        lc_gemm_reference(r.data, ca.data, cb.data, M, K, N);
        int64_t bad = 0;
        for (int64_t i = 0; i < M * N; i++)
          if (fabsf(c.data[i] - (2.0f * r.data[i] + 1.0f)) > 1e-3f * (1.0f + fabsf(r.data[i]))) bad++;
        CHECK(bad == 0, "parallel gemm %lldx%lldx%lld ta=%d tb=%d: %lld wrong elements", (long long)M, (long long)K,
              (long long)N, ta, tb, (long long)bad);
        lc_tensor_release(&a), lc_tensor_release(&b), lc_tensor_release(&c), lc_tensor_release(&r);
        lc_tensor_release(&ca), lc_tensor_release(&cb);
      }
  }
}

int main(void) {
  test_seed(4);
  A = lc_allocator_new((size_t)64 << 20);
  for (int round = 0; round < 2; round++) {
    if (round == 1) {
      P = lc_pool_new(2);
      CHECK(P != NULL, "a pool of 2 threads starts");
    }
    test_reference();
    test_gemm();
    test_matmul();
    test_parallel_gemm();
    test_shapes_and_errors();
  }
  lc_pool_free(P);
  CHECK(lc_allocator_live_bytes(A) == 0, "every test tensor was released (%zu bytes live)", lc_allocator_live_bytes(A));
  lc_allocator_release(A);
  return check_done("test_matmul");
}
