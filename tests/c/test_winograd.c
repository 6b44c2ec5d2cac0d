/* The Winograd convolution (conv_winograd.h, forced through lc_conv2d_forward/backward)
 * against the double-precision reference loops, over random shapes: odd sizes and sizes
 * that are not multiples of the 4x4 tile, padding 0, 1, 2 (different per side), one and
 * many channels, batches of one and several, a fused ReLU or not, bias or none, one
 * thread or a pool, the AVX2 transforms and the portable ones, one chunk of tiles or
 * several. The error is measured relative to sum |w| |x| over each output's taps (what
 * bounds the rounding error of any summation order), and its maximum is printed. */
#include "check.h"
#include "conv.h"
#include "conv_winograd.h"
#include "pool.h"

static lc_allocator *A;

/* Largest error of any output, relative to sum |w||x|: F(4x4, 3x3) in float32 measured
 * 4.2e-7 (AVX2) and 4.0e-7 (portable) here over these cases, the GEMM algorithm 6e-8.
 * The transforms scale values by up to 10 (B^T's row sums of |.|: 10; A^T's: 19; G's 1)
 * before the sums and the multiplies, so their rounding errors reach a few tens of
 * float epsilons (1.2e-7) relative to sum |w||x|; the bound leaves room for that. */
#define WINO_BOUND 2e-5

static double worst_fwd, worst_dx, worst_dw, worst_gemm;

static lc_tensor tensor4(int64_t a, int64_t b, int64_t c, int64_t d, float lo, float hi) {
  int64_t s[4] = {a, b, c, d};
  return test_tensor(A, 4, s, 0, lo, hi);
}

static lc_tensor abs_of(const lc_tensor *t) {
  lc_tensor c = test_tensor(A, t->ndim, t->shape, 0, 0, 1);
  for (int64_t i = 0; i < lc_numel(t); i++) c.data[i] = fabsf(t->data[i]);
  return c;
}

/* largest |got - want| relative to sum |w||x| (the scale), where the scale of an output
 * is the largest in its plane: Winograd's rounding errors come from the transformed 6x6
 * input tile, so an output whose own taps are small or zero (padding, masked gradients)
 * still carries errors of the size of its neighbours' sums. */
static double scaled_err(const lc_tensor *got, const lc_tensor *want, const lc_tensor *scale, int64_t plane) {
  double worst = 0;
  for (int64_t b = 0; b < lc_numel(got); b += plane) {
    double s = 1e-30;
    for (int64_t i = b; i < b + plane; i++) s = scale->data[i] > s ? scale->data[i] : s;
    for (int64_t i = b; i < b + plane; i++) {
      double r = fabs((double)got->data[i] - want->data[i]) / s;
      if (isnan(got->data[i]) != isnan(want->data[i])) r = INFINITY;
      if (r > worst) worst = r;
    }
  }
  return worst;
}

typedef struct wcase {
  int64_t N, C, H, W, O, ph, pw;
  int relu, bias, portable;
} wcase;

static void wino_case(const wcase *k, lc_pool *pool) {
  lc_error e;
  lc_conv2d_params p = {1, 1, k->ph, k->pw, 1, 1, 1, k->relu, LC_CONV_WINOGRAD};
  lc_conv2d_params pr = p;
  pr.relu = 0;
  int64_t OH = k->H + 2 * k->ph - 2, OW = k->W + 2 * k->pw - 2;
  char what[160];
  snprintf(what, sizeof what, "N%lld C%lld %lldx%lld O%lld pad %lldx%lld relu%d bias%d portable%d threads%d",
           (long long)k->N, (long long)k->C, (long long)k->H, (long long)k->W, (long long)k->O, (long long)k->ph,
           (long long)k->pw, k->relu, k->bias, k->portable, lc_pool_threads(pool));
  lc_tensor x = tensor4(k->N, k->C, k->H, k->W, -1, 1), w = tensor4(k->O, k->C, 3, 3, -1, 1);
  int64_t bs[1] = {k->O};
  lc_tensor b = test_tensor(A, 1, bs, 0, -1, 1), b0 = test_tensor(A, 1, bs, 0, 0, 0);
  lc_tensor y = tensor4(k->N, k->O, OH, OW, 7, 8), yr = tensor4(k->N, k->O, OH, OW, 0, 1);
  lc_tensor xa = abs_of(&x), wa = abs_of(&w), ba = abs_of(&b), ys = tensor4(k->N, k->O, OH, OW, 0, 1);
  CHECK(lc_conv2d_algo(&x, &w, &p) == LC_CONV_WINOGRAD, "%s: forced Winograd runs", what);
  CHECK(lc_conv2d_cols_numel(&x, &w, &p) == 0, "%s: Winograd keeps no columns", what);
  lc_winograd_force_portable(k->portable);
  CHECK_OK(lc_conv2d_forward(&y, &x, &w, k->bias ? &b : NULL, &p, NULL, A, pool, &e), e);
  CHECK_OK(lc_conv2d_forward_reference(&yr, &x, &w, k->bias ? &b : NULL, &p, &e), e);
  /* the scale: sum |w||x| (+ |b|) over each output's taps */
  CHECK_OK(lc_conv2d_forward_reference(&ys, &xa, &wa, k->bias ? &ba : NULL, &pr, &e), e);
  double ef = scaled_err(&y, &yr, &ys, OH * OW);
  CHECK(ef < WINO_BOUND, "%s: forward error %g of sum |w||x|", what, ef);
  if (ef > worst_fwd) worst_fwd = ef;
  /* the GEMM algorithm's error by the same measure, for comparison */
  lc_conv2d_params pg = p;
  pg.algo = LC_CONV_GEMM;
  lc_tensor yg = tensor4(k->N, k->O, OH, OW, 0, 1);
  CHECK_OK(lc_conv2d_forward(&yg, &x, &w, k->bias ? &b : NULL, &pg, NULL, A, pool, &e), e);
  double eg = scaled_err(&yg, &yr, &ys, OH * OW);
  if (eg > worst_gemm) worst_gemm = eg;
  lc_tensor_release(&yg);

  /* backward: dy masked where the kernel's ReLU output is not positive (its own output:
   * the reference's may fall on the other side of 0 where the sum is near 0) */
  lc_tensor dy = tensor4(k->N, k->O, OH, OW, -1, 1), dym = tensor4(k->N, k->O, OH, OW, 0, 1);
  for (int64_t i = 0; i < lc_numel(&dy); i++) dym.data[i] = !k->relu || y.data[i] > 0 ? dy.data[i] : 0.0f;
  lc_tensor dya = abs_of(&dym);
  lc_tensor dx = tensor4(k->N, k->C, k->H, k->W, 5, 6), dxr = tensor4(k->N, k->C, k->H, k->W, 0, 1);
  lc_tensor dxs = tensor4(k->N, k->C, k->H, k->W, 0, 1);
  lc_tensor dw = tensor4(k->O, k->C, 3, 3, -1, 1), dwr = tensor4(k->O, k->C, 3, 3, 0, 0);
  lc_tensor dws = tensor4(k->O, k->C, 3, 3, 0, 0), dw0 = tensor4(k->O, k->C, 3, 3, 0, 0);
  memcpy(dwr.data, dw.data, sizeof(float) * (size_t)lc_numel(&dw));
  memcpy(dw0.data, dw.data, sizeof(float) * (size_t)lc_numel(&dw));
  lc_tensor db = test_tensor(A, 1, bs, 0, -1, 1), dbr = test_tensor(A, 1, bs, 0, 0, 0);
  memcpy(dbr.data, db.data, sizeof(float) * (size_t)k->O);
  CHECK_OK(lc_conv2d_backward(&dx, &dw, k->bias ? &db : NULL, &dy, &y, &x, &w, &p, NULL, A, pool, &e), e);
  CHECK_OK(lc_conv2d_backward_reference(&dxr, &dwr, k->bias ? &dbr : NULL, &dym, &x, &w, &pr, &e), e);
  CHECK_OK(lc_conv2d_backward_reference(&dxs, &dws, NULL, &dya, &xa, &wa, &pr, &e), e);
  double ex = scaled_err(&dx, &dxr, &dxs, k->H * k->W);
  CHECK(ex < WINO_BOUND, "%s: input gradient error %g of sum |w||dy|", what, ex);
  if (ex > worst_dx) worst_dx = ex;
  /* dw started from random values (dw0) that both add to: the scale counts them */
  for (int64_t i = 0; i < lc_numel(&dws); i++) dws.data[i] += fabsf(dw0.data[i]);
  double ew = scaled_err(&dw, &dwr, &dws, 9);
  CHECK(ew < WINO_BOUND, "%s: weight gradient error %g of sum |dy||x|", what, ew);
  if (ew > worst_dw) worst_dw = ew;
  if (k->bias)
    for (int64_t o = 0; o < k->O; o++)
      CHECK(check_close(db.data[o], dbr.data[o], 1e-4), "%s: db[%lld] %g, want %g", what, (long long)o, db.data[o],
            dbr.data[o]);
  /* no input gradient: the weight gradient alone */
  lc_tensor dw2 = tensor4(k->O, k->C, 3, 3, 0, 0);
  CHECK_OK(lc_conv2d_backward(NULL, &dw2, NULL, &dy, &y, &x, &w, &p, NULL, A, pool, &e), e);
  lc_winograd_force_portable(0);
  lc_tensor *all[] = {&x, &w, &b, &b0, &y, &yr, &xa, &wa, &ba, &ys, &dy, &dym, &dya, &dx, &dxr, &dxs, &dw, &dwr,
                      &dws, &dw0, &db, &dbr, &dw2};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) lc_tensor_release(all[i]);
}

static void random_cases(lc_pool *pool, int count) {
  for (int i = 0; i < count; i++) {
    wcase k = {.N = test_int(1, 3), .ph = test_int(0, 2), .pw = test_int(0, 2), .relu = (int)test_int(0, 1),
               .bias = (int)test_int(0, 1), .portable = (int)test_int(0, 1)};
    k.H = test_int(3 - 2 * k.ph > 1 ? 3 - 2 * k.ph : 1, 19), k.W = test_int(3 - 2 * k.pw > 1 ? 3 - 2 * k.pw : 1, 19);
    /* one channel, a few, and more than a vector's worth */
    static const int64_t chans[] = {1, 2, 3, 8, 13, 33};
    k.C = chans[test_int(0, 5)], k.O = chans[test_int(0, 5)];
    wino_case(&k, pool);
  }
}

/* Shapes that take other paths: several chunks of tiles per thread (256 channels make
 * the chunks 112 tiles), tile rows wider than a chunk, a 1x1 output, many channels. */
static void fixed_cases(lc_pool *pool) {
  static const wcase cases[] = {
    {4, 256, 30, 30, 8, 1, 1, 1, 1, 0},   /* 256 tiles in chunks of 112 */
    {4, 256, 30, 30, 8, 1, 1, 0, 0, 1},
    {1, 8, 5, 150, 4, 1, 1, 1, 1, 0},     /* 38 tiles in a row */
    {2, 3, 1, 1, 5, 1, 1, 0, 1, 0},       /* 1x1 input, 1x1 output */
    {1, 1, 3, 3, 1, 0, 0, 1, 0, 1},       /* one output */
    {2, 64, 8, 8, 64, 1, 1, 1, 1, 0},
    {3, 5, 17, 9, 7, 2, 0, 0, 1, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) wino_case(&cases[i], pool);
}

static void nan_and_errors(lc_pool *pool) {
  lc_error e;
  /* a fused ReLU keeps a NaN a NaN, as the other algorithms do */
  for (int portable = 0; portable <= 1; portable++) {
    lc_tensor xn = tensor4(2, 1, 6, 6, 0, 1), wn = tensor4(8, 1, 3, 3, -1, 1), yn = tensor4(2, 8, 6, 6, 0, 1);
    lc_conv2d_params pn = {1, 1, 1, 1, 1, 1, 1, 1, LC_CONV_WINOGRAD};
    xn.data[7] = NAN;
    lc_winograd_force_portable(portable);
    CHECK_OK(lc_conv2d_forward(&yn, &xn, &wn, NULL, &pn, NULL, A, pool, &e), e);
    lc_winograd_force_portable(0);
    int64_t nans = 0, negs = 0;
    for (int64_t i = 0; i < lc_numel(&yn); i++) nans += isnan(yn.data[i]), negs += yn.data[i] < 0;
    /* a NaN in a tile's input spreads to the whole 4x4 tile through the transforms: the
     * 3x3 block it reaches lies in tiles (0,0), (0,1) of its sample, so 2 tiles x 16 x 8 */
    CHECK(nans >= 8 * 9 && negs == 0, "fused ReLU, portable %d: %lld NaN outputs, %lld negative", portable,
          (long long)nans, (long long)negs);
    lc_tensor_release(&xn), lc_tensor_release(&wn), lc_tensor_release(&yn);
  }
  /* a forced Winograd convolution it cannot run is an error */
  lc_tensor x = tensor4(1, 2, 6, 6, 0, 1), w3 = tensor4(2, 2, 3, 3, 0, 1), w5 = tensor4(2, 2, 5, 5, 0, 1);
  lc_tensor y2 = tensor4(1, 2, 2, 2, 0, 1), y4 = tensor4(1, 2, 4, 4, 0, 1), y10 = tensor4(1, 2, 10, 10, 0, 1);
  lc_tensor w1 = tensor4(2, 1, 3, 3, 0, 1);
  lc_conv2d_params s2 = {2, 2, 0, 0, 1, 1, 1, 0, LC_CONV_WINOGRAD};
  CHECK_FAILS(lc_conv2d_forward(&y2, &x, &w3, NULL, &s2, NULL, A, NULL, &e), e, "Winograd algorithm needs a 3x3 kernel, stride 1");
  lc_conv2d_params k5 = {1, 1, 0, 0, 1, 1, 1, 0, LC_CONV_WINOGRAD};
  CHECK_FAILS(lc_conv2d_forward(&y2, &x, &w5, NULL, &k5, NULL, A, NULL, &e), e, "3x3 kernel");
  lc_conv2d_params p3 = {1, 1, 3, 3, 1, 1, 1, 0, LC_CONV_WINOGRAD};
  CHECK_FAILS(lc_conv2d_forward(&y10, &x, &w3, NULL, &p3, NULL, A, NULL, &e), e, "padding of at most 2");
  lc_conv2d_params g2 = {1, 1, 0, 0, 1, 1, 2, 0, LC_CONV_WINOGRAD};
  CHECK_FAILS(lc_conv2d_forward(&y4, &x, &w1, NULL, &g2, NULL, A, NULL, &e), e, "one group");
  CHECK_FAILS(lc_conv2d_backward(NULL, &w1, NULL, &y4, NULL, &x, &w1, &g2, NULL, A, NULL, &e), e,
              "conv2d backward: the Winograd algorithm");
  lc_conv2d_params d2 = {1, 1, 2, 2, 2, 2, 1, 0, LC_CONV_WINOGRAD};
  CHECK(lc_conv2d_algo(&x, &w3, &d2) == -1, "dilation 2 cannot run Winograd");
  lc_tensor *all[] = {&x, &w3, &w5, &y2, &y4, &y10, &w1};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) lc_tensor_release(all[i]);
}

int main(void) {
  A = lc_allocator_new(1 << 26);
  const char *seed_env = getenv("LUACNN_SEED");
  uint64_t seed = seed_env ? strtoull(seed_env, NULL, 10) : 23;
  printf("seed %llu (LUACNN_SEED)\n", (unsigned long long)seed);
  test_seed(seed);
  lc_pool *pool = lc_pool_new(3);
  random_cases(NULL, 60);
  random_cases(pool, 60);
  fixed_cases(NULL);
  fixed_cases(pool);
  nan_and_errors(pool);
  printf("largest error relative to sum |w||x|: forward %.2e, input gradient %.2e, weight gradient %.2e (bound %.0e); "
         "GEMM algorithm's forward %.2e\n", worst_fwd, worst_dx, worst_dw, WINO_BOUND, worst_gemm);
  lc_pool_free(pool);
  lc_allocator_release(A);
  return check_done("test_winograd");
}
