/* The CNN kernels against their direct loops: convolution (im2col + GEMM, the pointwise
 * path, the batch split over threads) over a grid of kernel, stride, padding, dilation
 * and groups, forward and backward; pooling and batch norm against naive loops written
 * here; and every error path. */
#include "check.h"
#include "conv.h"
#include "pool.h"

static lc_allocator *A;

static lc_tensor tensor4(int64_t a, int64_t b, int64_t c, int64_t d, float lo, float hi) {
  int64_t s[4] = {a, b, c, d};
  return test_tensor(A, 4, s, 0, lo, hi);
}

static lc_tensor tensor1(int64_t n, float lo, float hi) {
  int64_t s[1] = {n};
  return test_tensor(A, 1, s, 0, lo, hi);
}

static lc_tensor copy_of(const lc_tensor *t) {
  lc_tensor c = test_tensor(A, t->ndim, t->shape, 0, 0, 1);
  memcpy(c.data, t->data, sizeof(float) * (size_t)lc_numel(t));
  return c;
}

/* largest |a - b| relative to max(1, |b|) */
static double max_diff(const lc_tensor *a, const lc_tensor *b) {
  double worst = 0;
  for (int64_t i = 0; i < lc_numel(a); i++) {
    double r = fabs((double)a->data[i] - b->data[i]) / (fabs(b->data[i]) > 1 ? fabs(b->data[i]) : 1);
    if (r > worst) worst = r;
  }
  return worst;
}

/* ---- convolution ---- */

typedef struct conv_case {
  int64_t N, C, H, W, O, KH, KW;
  lc_conv2d_params p;
} conv_case;

static void conv_compare(const conv_case *k, lc_pool *pool, int bias, int want_dx) {
  lc_error e;
  const lc_conv2d_params *p = &k->p;
  int64_t OH = lc_conv2d_out_size(k->H, k->KH, p->stride_h, p->pad_h, p->dilation_h);
  int64_t OW = lc_conv2d_out_size(k->W, k->KW, p->stride_w, p->pad_w, p->dilation_w);
  lc_tensor x = tensor4(k->N, k->C, k->H, k->W, -1, 1);
  lc_tensor w = tensor4(k->O, k->C / p->groups, k->KH, k->KW, -1, 1);
  lc_tensor b = tensor1(k->O, -1, 1);
  lc_tensor y = tensor4(k->N, k->O, OH, OW, 0, 1), yr = tensor4(k->N, k->O, OH, OW, 0, 1);
  char what[200];
  snprintf(what, sizeof what, "N%lld C%lld %lldx%lld O%lld k%lldx%lld s%lldx%lld p%lldx%lld d%lldx%lld g%lld bias%d threads%d",
           (long long)k->N, (long long)k->C, (long long)k->H, (long long)k->W, (long long)k->O, (long long)k->KH,
           (long long)k->KW, (long long)p->stride_h, (long long)p->stride_w, (long long)p->pad_h, (long long)p->pad_w,
           (long long)p->dilation_h, (long long)p->dilation_w, (long long)p->groups, bias, lc_pool_threads(pool));
  CHECK_OK(lc_conv2d_forward(&y, &x, &w, bias ? &b : NULL, p, A, pool, &e), e);
  CHECK_OK(lc_conv2d_forward_reference(&yr, &x, &w, bias ? &b : NULL, p, &e), e);
  CHECK(max_diff(&y, &yr) < 1e-5, "%s: forward differs by %g", what, max_diff(&y, &yr));

  /* backward: dw and db start from nonzero values, which both kernels must add to */
  lc_tensor dy = tensor4(k->N, k->O, OH, OW, -1, 1);
  lc_tensor dw = tensor4(k->O, k->C / p->groups, k->KH, k->KW, -1, 1), dwr = copy_of(&dw);
  lc_tensor db = tensor1(k->O, -1, 1), dbr = copy_of(&db);
  lc_tensor dx = tensor4(k->N, k->C, k->H, k->W, 5, 6), dxr = tensor4(k->N, k->C, k->H, k->W, -6, -5);
  CHECK_OK(lc_conv2d_backward(want_dx ? &dx : NULL, &dw, bias ? &db : NULL, &dy, &x, &w, p, A, pool, &e), e);
  CHECK_OK(lc_conv2d_backward_reference(want_dx ? &dxr : NULL, &dwr, bias ? &dbr : NULL, &dy, &x, &w, p, &e), e);
  CHECK(max_diff(&dw, &dwr) < 1e-4, "%s: dw differs by %g", what, max_diff(&dw, &dwr));
  if (bias) CHECK(max_diff(&db, &dbr) < 1e-5, "%s: db differs by %g", what, max_diff(&db, &dbr));
  if (want_dx) CHECK(max_diff(&dx, &dxr) < 1e-5, "%s: dx differs by %g", what, max_diff(&dx, &dxr));
  lc_tensor *all[] = {&x, &w, &b, &y, &yr, &dy, &dw, &dwr, &db, &dbr, &dx, &dxr};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) lc_tensor_release(all[i]);
}

/* The reference itself on a case worked by hand: a 3x3 input, a 2x2 kernel of ones. */
static void conv_by_hand(void) {
  lc_error e;
  lc_tensor x = tensor4(1, 1, 3, 3, 0, 1), w = tensor4(1, 1, 2, 2, 0, 1), y = tensor4(1, 1, 2, 2, 0, 1);
  for (int i = 0; i < 9; i++) x.data[i] = (float)(i + 1);
  for (int i = 0; i < 4; i++) w.data[i] = 1;
  lc_conv2d_params p = {1, 1, 0, 0, 1, 1, 1};
  float want[4] = {12, 16, 24, 28};
  CHECK_OK(lc_conv2d_forward_reference(&y, &x, &w, NULL, &p, &e), e);
  for (int i = 0; i < 4; i++) CHECK(y.data[i] == want[i], "reference by hand: y[%d] = %g, want %g", i, y.data[i], want[i]);
  CHECK_OK(lc_conv2d_forward(&y, &x, &w, NULL, &p, A, NULL, &e), e);
  for (int i = 0; i < 4; i++) CHECK(y.data[i] == want[i], "fast by hand: y[%d] = %g, want %g", i, y.data[i], want[i]);
  lc_tensor_release(&x), lc_tensor_release(&w), lc_tensor_release(&y);
}

static void conv_grid(lc_pool *pool) {
  static const int64_t kernels[][2] = {{1, 1}, {3, 3}, {2, 3}, {5, 5}};
  static const int64_t strides[][2] = {{1, 1}, {2, 2}, {1, 3}};
  static const int64_t pads[][2] = {{0, 0}, {1, 1}, {2, 0}};
  static const int64_t dils[][2] = {{1, 1}, {2, 2}, {1, 2}};
  static const int64_t groups[] = {1, 2, 4};
  int cases = 0;
  for (size_t ki = 0; ki < sizeof kernels / sizeof kernels[0]; ki++)
    for (size_t si = 0; si < sizeof strides / sizeof strides[0]; si++)
      for (size_t pi = 0; pi < sizeof pads / sizeof pads[0]; pi++)
        for (size_t di = 0; di < sizeof dils / sizeof dils[0]; di++)
          for (size_t gi = 0; gi < sizeof groups / sizeof groups[0]; gi++) {
            conv_case k = {.N = 1 + (int64_t)((ki + si + gi) % 3) * 2, .C = 4, .H = 9, .W = 8, .O = 4,
                           .KH = kernels[ki][0], .KW = kernels[ki][1]};
            k.p = (lc_conv2d_params){strides[si][0], strides[si][1], pads[pi][0], pads[pi][1], dils[di][0],
                                     dils[di][1], groups[gi]};
            if (gi == 2) k.O = 8;
            int64_t OH = lc_conv2d_out_size(k.H, k.KH, k.p.stride_h, k.p.pad_h, k.p.dilation_h);
            int64_t OW = lc_conv2d_out_size(k.W, k.KW, k.p.stride_w, k.p.pad_w, k.p.dilation_w);
            if (OH < 1 || OW < 1) continue;
            conv_compare(&k, pool, (int)((si + di) % 2 == 0), (int)(pi != 1 || gi != 0));
            cases++;
          }
  CHECK(cases > 200, "the grid ran %d cases", cases);
}

static void conv_errors(void) {
  lc_error e;
  lc_tensor x = tensor4(2, 3, 6, 6, -1, 1), w = tensor4(4, 3, 3, 3, -1, 1), y = tensor4(2, 4, 4, 4, 0, 1);
  lc_conv2d_params ok = {1, 1, 0, 0, 1, 1, 1}, p;
  int64_t OH, OW;
  CHECK_OK(lc_conv2d_forward(&y, &x, &w, NULL, &ok, A, NULL, &e), e);
  p = ok, p.stride_h = 0;
  CHECK_FAILS(lc_conv2d_forward(&y, &x, &w, NULL, &p, A, NULL, &e), e, "stride must be at least 1", "0x1");
  p = ok, p.dilation_w = 0;
  CHECK_FAILS(lc_conv2d_forward(&y, &x, &w, NULL, &p, A, NULL, &e), e, "dilation must be at least 1");
  p = ok, p.pad_w = -1;
  CHECK_FAILS(lc_conv2d_forward(&y, &x, &w, NULL, &p, A, NULL, &e), e, "padding must not be negative", "0x-1");
  p = ok, p.groups = 2;
  CHECK_FAILS(lc_conv2d_forward(&y, &x, &w, NULL, &p, A, NULL, &e), e, "groups (2) must divide the input channels (3)");
  p = ok, p.groups = 3;
  CHECK_FAILS(lc_conv2d_forward(&y, &x, &w, NULL, &p, A, NULL, &e), e, "groups (3) must divide the output channels (4)");
  p = ok, p.groups = 0;
  CHECK_FAILS(lc_conv2d_forward(&y, &x, &w, NULL, &p, A, NULL, &e), e, "groups must be at least 1");
  int64_t ws[4] = {4, 2, 3, 3};
  CHECK_FAILS(lc_conv2d_output_size(3, 6, 6, ws, &ok, &OH, &OW, &e), e, "input has 3 channels, expected 2");
  int64_t big[4] = {4, 3, 7, 3};
  CHECK_FAILS(lc_conv2d_output_size(3, 6, 6, big, &ok, &OH, &OW, &e), e, "kernel 7x3", "larger than the padded input 6x6");
  p = ok, p.pad_h = 1, p.dilation_h = 2;
  int64_t k5[4] = {4, 3, 5, 3};
  CHECK_FAILS(lc_conv2d_output_size(3, 6, 6, k5, &p, &OH, &OW, &e), e, "kernel 5x3 (dilated 9x3)", "padded input 8x6",
              "6x6 plus padding 1x0");
  CHECK_OK(lc_conv2d_output_size(3, 7, 6, k5, &p, &OH, &OW, &e), e);
  CHECK(OH == 1 && OW == 4, "a dilated kernel that just fits: %lldx%lld", (long long)OH, (long long)OW);
  lc_tensor y2 = tensor4(2, 4, 4, 5, 0, 1);
  CHECK_FAILS(lc_conv2d_forward(&y2, &x, &w, NULL, &ok, A, NULL, &e), e, "output has shape [2,4,4,5], expected [2,4,4,4]");
  lc_tensor b = tensor1(5, 0, 1);
  CHECK_FAILS(lc_conv2d_forward(&y, &x, &w, &b, &ok, A, NULL, &e), e, "bias has shape [5], expected [4]");
  lc_tensor xt = x;
  lc_view_transpose(&xt, 2, 3, &e);
  CHECK_FAILS(lc_conv2d_forward(&y, &xt, &w, NULL, &ok, A, NULL, &e), e, "input must be contiguous");
  lc_tensor dw = tensor4(4, 3, 3, 2, 0, 1);
  CHECK_FAILS(lc_conv2d_backward(NULL, &dw, NULL, &y, &x, &w, &ok, A, NULL, &e), e, "weight gradient has shape");
  lc_tensor x3 = x;
  x3.ndim = 3;
  CHECK_FAILS(lc_conv2d_forward(&y, &x3, &w, NULL, &ok, A, NULL, &e), e, "expected 4 dims [N,C,H,W]");
  /* the output-size formula, including a kernel that does not fit */
  CHECK(lc_conv2d_out_size(28, 5, 1, 0, 1) == 24, "28, k5");
  CHECK(lc_conv2d_out_size(28, 5, 2, 2, 1) == 14, "28, k5 s2 p2");
  CHECK(lc_conv2d_out_size(7, 3, 2, 0, 2) == 2, "7, k3 s2 d2");
  CHECK(lc_conv2d_out_size(3, 5, 2, 0, 1) < 1, "3, k5 does not fit: %lld", (long long)lc_conv2d_out_size(3, 5, 2, 0, 1));
  lc_tensor *all[] = {&x, &w, &y, &y2, &b, &dw};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) lc_tensor_release(all[i]);
}

int main(void) {
  A = lc_allocator_new(1 << 24);
  test_seed(11);
  conv_by_hand();
  conv_errors();
  conv_grid(NULL);
  lc_pool *pool = lc_pool_new(3);
  conv_grid(pool);
  /* a batch larger than the threads (split over samples) and smaller (split GEMMs) */
  conv_case big = {.N = 7, .C = 6, .H = 14, .W = 14, .O = 16, .KH = 5, .KW = 5, .p = {1, 1, 2, 2, 1, 1, 1}};
  conv_compare(&big, pool, 1, 1);
  big.N = 2;
  conv_compare(&big, pool, 1, 1);
  lc_pool_free(pool);
  lc_allocator_release(A);
  return check_done("test_conv");
}
