/* The CNN kernels against their direct loops: convolution (im2col + GEMM, the pointwise
 * path, the batch split over threads, the direct AVX2 kernels, Winograd (more in
 * test_winograd.c), a fused ReLU) over a grid of kernel, stride, padding, dilation
 * and groups, forward and backward; pooling and batch norm against naive loops written
 * here; and every error path. */
#include "batchnorm.h"
#include "check.h"
#include "conv.h"
#include "conv_direct.h"
#include "pool.h"
#include "pool2d.h"

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
  snprintf(what + strlen(what), sizeof what - strlen(what), " relu%d algo%d", (int)p->relu, (int)p->algo);
  CHECK_OK(lc_conv2d_forward(&y, &x, &w, bias ? &b : NULL, p, NULL, A, pool, &e), e);
  CHECK_OK(lc_conv2d_forward_reference(&yr, &x, &w, bias ? &b : NULL, p, &e), e);
  /* Winograd's transforms round more than a dot product: up to ~1e-5 on these inputs
   * (test_winograd bounds it against sum |w||x|) */
  double ftol = lc_conv2d_algo(&x, &w, p) == LC_CONV_WINOGRAD ? 3e-5 : 1e-5;
  CHECK(max_diff(&y, &yr) < ftol, "%s: forward differs by %g", what, max_diff(&y, &yr));

  /* backward: dw and db start from nonzero values, which both kernels must add to; the
   * reference takes dy masked as a fused ReLU masks it */
  lc_tensor dy = tensor4(k->N, k->O, OH, OW, -1, 1), dym = copy_of(&dy);
  if (p->relu)
    for (int64_t i = 0; i < lc_numel(&dy); i++) dym.data[i] = yr.data[i] > 0 ? dy.data[i] : 0.0f;
  lc_tensor dw = tensor4(k->O, k->C / p->groups, k->KH, k->KW, -1, 1), dwr = copy_of(&dw);
  lc_tensor db = tensor1(k->O, -1, 1), dbr = copy_of(&db);
  lc_tensor dx = tensor4(k->N, k->C, k->H, k->W, 5, 6), dxr = tensor4(k->N, k->C, k->H, k->W, -6, -5);
  CHECK_OK(lc_conv2d_backward(want_dx ? &dx : NULL, &dw, bias ? &db : NULL, &dy, &y, &x, &w, p, NULL, A, pool, &e), e);
  CHECK_OK(lc_conv2d_backward_reference(want_dx ? &dxr : NULL, &dwr, bias ? &dbr : NULL, &dym, &x, &w, p, &e), e);
  CHECK(max_diff(&dw, &dwr) < 1e-4, "%s: dw differs by %g", what, max_diff(&dw, &dwr));
  if (bias) CHECK(max_diff(&db, &dbr) < 1e-5, "%s: db differs by %g", what, max_diff(&db, &dbr));
  if (want_dx) CHECK(max_diff(&dx, &dxr) < 5e-5, "%s: dx differs by %g", what, max_diff(&dx, &dxr));

  /* again with the columns kept from forward to backward: the same results */
  int64_t ncols = lc_conv2d_cols_numel(&x, &w, p);
  int keeps_none = lc_conv2d_algo(&x, &w, p) != LC_CONV_GEMM;
  CHECK(ncols == (keeps_none ? 0 : k->N * k->C * k->KH * k->KW * OH * OW),
        "%s: %lld kept columns", what, (long long)ncols);
  lc_tensor cols = tensor1(ncols > 0 ? ncols : 1, 0, 1), y2 = tensor4(k->N, k->O, OH, OW, 0, 1);
  lc_tensor dw2 = copy_of(&dw), db2 = copy_of(&db), dx2 = tensor4(k->N, k->C, k->H, k->W, 5, 6);
  lc_tensor dw2r = copy_of(&dw), db2r = copy_of(&db), dx2r = tensor4(k->N, k->C, k->H, k->W, 5, 6);
  if (ncols == 0) cols.shape[0] = 0;
  CHECK_OK(lc_conv2d_forward(&y2, &x, &w, bias ? &b : NULL, p, &cols, A, pool, &e), e);
  CHECK(max_diff(&y2, &yr) < ftol, "%s: forward keeping columns differs by %g", what, max_diff(&y2, &yr));
  CHECK_OK(lc_conv2d_backward(want_dx ? &dx2 : NULL, &dw2, bias ? &db2 : NULL, &dy, &y2, &x, &w, p, &cols, A, pool, &e), e);
  CHECK_OK(lc_conv2d_backward(want_dx ? &dx2r : NULL, &dw2r, bias ? &db2r : NULL, &dy, &y, &x, &w, p, NULL, A, pool, &e), e);
  CHECK(max_diff(&dw2, &dw2r) < 1e-4, "%s: dw from kept columns differs by %g", what, max_diff(&dw2, &dw2r));
  if (want_dx) CHECK(max_diff(&dx2, &dx2r) < 1e-5, "%s: dx from kept columns differs by %g", what, max_diff(&dx2, &dx2r));
  cols.shape[0] = ncols > 0 ? ncols : 1;
  lc_tensor *more[] = {&dym, &cols, &y2, &dw2, &db2, &dx2, &dw2r, &db2r, &dx2r};
  for (size_t i = 0; i < sizeof more / sizeof more[0]; i++) lc_tensor_release(more[i]);
  lc_tensor *all[] = {&x, &w, &b, &y, &yr, &dy, &dw, &dwr, &db, &dbr, &dx, &dxr};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) lc_tensor_release(all[i]);
}

/* The reference itself on a case worked by hand: a 3x3 input, a 2x2 kernel of ones. */
static void conv_by_hand(void) {
  lc_error e;
  lc_tensor x = tensor4(1, 1, 3, 3, 0, 1), w = tensor4(1, 1, 2, 2, 0, 1), y = tensor4(1, 1, 2, 2, 0, 1);
  for (int i = 0; i < 9; i++) x.data[i] = (float)(i + 1);
  for (int i = 0; i < 4; i++) w.data[i] = 1;
  lc_conv2d_params p = {1, 1, 0, 0, 1, 1, 1, 0, 0};
  float want[4] = {12, 16, 24, 28};
  CHECK_OK(lc_conv2d_forward_reference(&y, &x, &w, NULL, &p, &e), e);
  for (int i = 0; i < 4; i++) CHECK(y.data[i] == want[i], "reference by hand: y[%d] = %g, want %g", i, y.data[i], want[i]);
  CHECK_OK(lc_conv2d_forward(&y, &x, &w, NULL, &p, NULL, A, NULL, &e), e);
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
                                     dils[di][1], groups[gi], 0, 0};
            if (gi == 2) k.O = 8;
            int64_t OH = lc_conv2d_out_size(k.H, k.KH, k.p.stride_h, k.p.pad_h, k.p.dilation_h);
            int64_t OW = lc_conv2d_out_size(k.W, k.KW, k.p.stride_w, k.p.pad_w, k.p.dilation_w);
            if (OH < 1 || OW < 1) continue;
            k.p.relu = (ki + pi) % 2;
            conv_compare(&k, pool, (int)((si + di) % 2 == 0), (int)(pi != 1 || gi != 0));
            cases++;
            /* each algorithm that can run the case, forced */
            lc_tensor x = tensor4(k.N, k.C, k.H, k.W, 0, 1), w = tensor4(k.O, k.C / k.p.groups, k.KH, k.KW, 0, 1);
            for (int64_t algo = LC_CONV_GEMM; algo <= LC_CONV_WINOGRAD; algo++) {
              k.p.algo = algo;
              if (lc_conv2d_algo(&x, &w, &k.p) == algo) conv_compare(&k, pool, (int)(gi % 2 == 0), 1), cases++;
            }
            lc_tensor_release(&x), lc_tensor_release(&w);
          }
  CHECK(cases > 300, "the grid ran %d cases", cases);
}

/* The direct kernels' tiles: row widths around the tile sizes (4, 6, 8, 12 pixels and the
 * columns past the row's end), channel counts around the 8- and 16-channel slabs, kernel
 * rows wider than the weight tile's 5 and 8 taps, and LeNet's two layers. */
static void conv_direct_shapes(lc_pool *pool) {
  lc_error e;
  static const int64_t widths[] = {1, 3, 5, 7, 10, 13, 14, 28};
  static const int64_t outs[] = {1, 6, 8, 9, 16, 17, 40};
  static const int64_t ks[][2] = {{1, 1}, {3, 3}, {5, 5}, {2, 9}};
  /* 8 and 16 input channels with 'same' padding take the direct input gradient, fewer the GEMM one */
  static const int64_t chans[] = {1, 3, 8, 16};
  int cases = 0;
  if (!lc_direct_available()) return;
  for (size_t wi = 0; wi < sizeof widths / sizeof widths[0]; wi++)
    for (size_t oi = 0; oi < sizeof outs / sizeof outs[0]; oi++)
      for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++) {
        conv_case k = {.N = 1 + (int64_t)(wi + oi) % 3, .C = chans[(oi + ki) % 4], .H = 4 + (int64_t)wi % 3,
                       .W = widths[wi], .O = outs[oi], .KH = ks[ki][0], .KW = ks[ki][1]};
        k.p = (lc_conv2d_params){1, 1, (k.KH - 1) / 2, (k.KW - 1) / 2, 1, 1, 1, (int64_t)(wi + ki) % 2, LC_CONV_DIRECT};
        if (k.W + 2 * k.p.pad_w < k.KW || k.H + 2 * k.p.pad_h < k.KH) continue;
        conv_compare(&k, pool, (int)(oi % 2), (int)(ki % 2 == 0 || wi % 2));
        cases++;
      }
  conv_case lenet1 = {.N = 5, .C = 1, .H = 28, .W = 28, .O = 6, .KH = 5, .KW = 5, .p = {1, 1, 2, 2, 1, 1, 1, 1, 0}};
  conv_case lenet2 = {.N = 5, .C = 6, .H = 14, .W = 14, .O = 16, .KH = 5, .KW = 5, .p = {1, 1, 0, 0, 1, 1, 1, 1, 0}};
  lc_tensor x = tensor4(1, 1, 28, 28, 0, 1), w = tensor4(6, 1, 5, 5, 0, 1);
  CHECK(lc_conv2d_algo(&x, &w, &lenet1.p) == LC_CONV_DIRECT, "LeNet's first layer runs direct");
  lc_tensor_release(&x), lc_tensor_release(&w);
  conv_compare(&lenet1, pool, 1, 0);
  conv_compare(&lenet2, pool, 1, 1);
  /* a fused ReLU keeps a NaN a NaN in every algorithm (as T.relu does) */
  for (int64_t algo = LC_CONV_GEMM; algo <= LC_CONV_DIRECT; algo++) {
    lc_tensor xn = tensor4(2, 1, 6, 6, 0, 1), wn = tensor4(8, 1, 3, 3, -1, 1), yn = tensor4(2, 8, 6, 6, 0, 1);
    lc_conv2d_params pn = {1, 1, 1, 1, 1, 1, 1, 1, algo};
    xn.data[7] = NAN;
    CHECK_OK(lc_conv2d_forward(&yn, &xn, &wn, NULL, &pn, NULL, A, pool, &e), e);
    int64_t nans = 0, negs = 0;
    for (int64_t i = 0; i < lc_numel(&yn); i++) nans += isnan(yn.data[i]), negs += yn.data[i] < 0;
    /* input (1,1) of sample 0 reaches a 3x3 block of outputs in each of 8 channels */
    CHECK(nans == 8 * 9 && negs == 0, "fused ReLU, algo %d: %lld NaN outputs (want 72), %lld negative", (int)algo,
          (long long)nans, (long long)negs);
    lc_tensor_release(&xn), lc_tensor_release(&wn), lc_tensor_release(&yn);
  }
  /* a forced direct convolution it cannot run is an error */
  lc_tensor x2 = tensor4(1, 2, 6, 6, 0, 1), w2 = tensor4(2, 2, 3, 3, 0, 1), y2 = tensor4(1, 2, 2, 2, 0, 1);
  lc_conv2d_params s2 = {2, 2, 0, 0, 1, 1, 1, 0, LC_CONV_DIRECT};
  CHECK_FAILS(lc_conv2d_forward(&y2, &x2, &w2, NULL, &s2, NULL, A, NULL, &e), e, "direct algorithm needs stride 1");
  lc_tensor_release(&x2), lc_tensor_release(&w2), lc_tensor_release(&y2);
  CHECK(cases > 150, "the direct grid ran %d cases", cases);
}

/* The tiny-map algorithm (taps that only read padding dropped) forced on small maps of
 * every kernel, stride and padding, odd channel counts; chosen by itself for ResNet-18's
 * later stages on 32x32 images and not for larger maps or 1x1 kernels. */
static void conv_tiny_shapes(lc_pool *pool) {
  static const int64_t sizes[][2] = {{1, 1}, {2, 2}, {1, 3}, {3, 2}, {4, 4}, {5, 3}};
  static const int64_t ks[][2] = {{3, 3}, {1, 1}, {2, 3}, {5, 5}, {3, 1}};
  static const int64_t chans[][2] = {{1, 1}, {3, 5}, {8, 16}, {17, 9}};
  int cases = 0;
  for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++)
    for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++)
      for (int64_t stride = 1; stride <= 2; stride++)
        for (int64_t pad = 0; pad <= 2; pad++) {
          size_t ci = (si + ki + (size_t)stride + (size_t)pad) % 4;
          conv_case k = {.N = 1 + (int64_t)(si + ki) % 4, .C = chans[ci][0], .H = sizes[si][0], .W = sizes[si][1],
                         .O = chans[ci][1], .KH = ks[ki][0], .KW = ks[ki][1]};
          k.p = (lc_conv2d_params){stride, stride == 2 ? 1 : stride, pad, pad > 0 ? pad - 1 : 0, 1, 1, 1,
                                   (int64_t)(si + ki + (size_t)pad) % 2, LC_CONV_TINY};
          if (lc_conv2d_out_size(k.H, k.KH, k.p.stride_h, k.p.pad_h, 1) < 1 ||
              lc_conv2d_out_size(k.W, k.KW, k.p.stride_w, k.p.pad_w, 1) < 1)
            continue;
          conv_compare(&k, pool, (int)(ki % 2), (int)(pad % 2 == 0 || si % 2));
          cases++;
        }
  CHECK(cases > 90, "the tiny-map grid ran %d cases", cases);
  /* ResNet-18's layer1-4 shapes (a smaller batch), chosen by the automatic choice */
  static const conv_case resnet[] = {
    {.N = 3, .C = 64, .H = 1, .W = 1, .O = 48, .KH = 3, .KW = 3, .p = {1, 1, 1, 1, 1, 1, 1, 0, 0}},
    {.N = 5, .C = 40, .H = 2, .W = 2, .O = 33, .KH = 3, .KW = 3, .p = {1, 1, 1, 1, 1, 1, 1, 0, 0}},
    {.N = 4, .C = 24, .H = 2, .W = 2, .O = 40, .KH = 3, .KW = 3, .p = {2, 2, 1, 1, 1, 1, 1, 0, 0}},
    {.N = 3, .C = 16, .H = 8, .W = 8, .O = 24, .KH = 3, .KW = 3, .p = {2, 2, 1, 1, 1, 1, 1, 0, 0}},
    {.N = 2, .C = 9, .H = 7, .W = 7, .O = 17, .KH = 3, .KW = 3, .p = {2, 2, 1, 1, 1, 1, 1, 1, 0}},
    {.N = 7, .C = 32, .H = 4, .W = 4, .O = 24, .KH = 3, .KW = 3, .p = {1, 1, 1, 1, 1, 1, 1, 0, 0}},
    {.N = 5, .C = 16, .H = 8, .W = 8, .O = 16, .KH = 3, .KW = 3, .p = {1, 1, 1, 1, 1, 1, 1, 1, 0}},
  };
  for (size_t i = 0; i < sizeof resnet / sizeof resnet[0]; i++) {
    lc_tensor x = tensor4(1, resnet[i].C, resnet[i].H, resnet[i].W, 0, 1);
    lc_tensor w = tensor4(resnet[i].O, resnet[i].C, 3, 3, 0, 1);
    CHECK(lc_conv2d_algo(&x, &w, &resnet[i].p) == LC_CONV_TINY, "ResNet shape %d takes the tiny-map path", (int)i);
    lc_tensor_release(&x), lc_tensor_release(&w);
    conv_compare(&resnet[i], pool, (int)i % 2, 1);
  }
  /* Winograd's layers (3x3, stride 1, 32 channels or more on maps of 4x4 up) and larger
   * maps do not take the tiny-map path, nor does a strided 1x1 kernel; 8x8 maps of 16
   * channels and a 2x2 map from a 4x4 input without padding (every tap useful) do */
  lc_conv2d_params same = {1, 1, 1, 1, 1, 1, 1, 0, 0}, valid = {1, 1, 0, 0, 1, 1, 1, 0, 0};
  lc_tensor x8 = tensor4(1, 64, 8, 8, 0, 1), x4 = tensor4(1, 64, 4, 4, 0, 1), w = tensor4(64, 64, 3, 3, 0, 1);
  lc_tensor x98 = tensor4(1, 64, 9, 8, 0, 1), x16 = tensor4(1, 16, 8, 8, 0, 1), w16 = tensor4(16, 16, 3, 3, 0, 1);
  lc_tensor x20 = tensor4(1, 64, 20, 20, 0, 1);
  lc_conv2d_params s2 = {2, 2, 1, 1, 1, 1, 1, 0, 0};
  CHECK(lc_conv2d_algo(&x98, &w, &same) != LC_CONV_TINY, "a 9x8 map does not take the tiny-map path");
  CHECK(lc_conv2d_algo(&x8, &w, &same) != LC_CONV_TINY, "an 8x8 map of 64 channels goes to Winograd");
  CHECK(lc_conv2d_algo(&x4, &w, &same) != LC_CONV_TINY, "a 4x4 map of 64 channels goes to Winograd");
  CHECK(lc_conv2d_algo(&x16, &w16, &same) == LC_CONV_TINY, "an 8x8 map of 16 channels takes the tiny-map path");
  CHECK(lc_conv2d_algo(&x20, &w, &s2) == LC_CONV_GEMM, "a 3x3/2 layer onto 10x10 runs GEMM");
  CHECK(lc_conv2d_algo(&x4, &w, &valid) == LC_CONV_TINY, "a 2x2 map with every tap useful takes the tiny-map path");
  lc_tensor_release(&x98), lc_tensor_release(&x16), lc_tensor_release(&w16), lc_tensor_release(&x20);
  lc_conv2d_params down = {2, 2, 0, 0, 1, 1, 1, 0, 0};
  lc_tensor w1 = tensor4(64, 64, 1, 1, 0, 1);
  CHECK(lc_conv2d_algo(&x8, &w1, &down) == LC_CONV_GEMM, "a 1x1 stride-2 shortcut runs GEMM");
  lc_tensor_release(&w1);
  lc_tensor_release(&x8), lc_tensor_release(&x4), lc_tensor_release(&w);
  /* forced where it cannot run: an error that names the algorithm */
  lc_error e;
  lc_tensor xg = tensor4(1, 4, 2, 2, 0, 1), wg = tensor4(4, 2, 3, 3, 0, 1), yg = tensor4(1, 4, 2, 2, 0, 1);
  lc_conv2d_params grouped = {1, 1, 1, 1, 1, 1, 2, 0, LC_CONV_TINY};
  CHECK_FAILS(lc_conv2d_forward(&yg, &xg, &wg, NULL, &grouped, NULL, A, NULL, &e), e, "tiny-map algorithm needs");
  lc_tensor_release(&xg), lc_tensor_release(&wg), lc_tensor_release(&yg);
}

static void conv_errors(void) {
  lc_error e;
  lc_tensor x = tensor4(2, 3, 6, 6, -1, 1), w = tensor4(4, 3, 3, 3, -1, 1), y = tensor4(2, 4, 4, 4, 0, 1);
  lc_conv2d_params ok = {1, 1, 0, 0, 1, 1, 1, 0, 0}, p;
  int64_t OH, OW;
  CHECK_OK(lc_conv2d_forward(&y, &x, &w, NULL, &ok, NULL, A, NULL, &e), e);
  p = ok, p.stride_h = 0;
  CHECK_FAILS(lc_conv2d_forward(&y, &x, &w, NULL, &p, NULL, A, NULL, &e), e, "stride must be at least 1", "0x1");
  p = ok, p.dilation_w = 0;
  CHECK_FAILS(lc_conv2d_forward(&y, &x, &w, NULL, &p, NULL, A, NULL, &e), e, "dilation must be at least 1");
  p = ok, p.pad_w = -1;
  CHECK_FAILS(lc_conv2d_forward(&y, &x, &w, NULL, &p, NULL, A, NULL, &e), e, "padding must not be negative", "0x-1");
  p = ok, p.groups = 2;
  CHECK_FAILS(lc_conv2d_forward(&y, &x, &w, NULL, &p, NULL, A, NULL, &e), e, "groups (2) must divide the input channels (3)");
  p = ok, p.groups = 3;
  CHECK_FAILS(lc_conv2d_forward(&y, &x, &w, NULL, &p, NULL, A, NULL, &e), e, "groups (3) must divide the output channels (4)");
  p = ok, p.groups = 0;
  CHECK_FAILS(lc_conv2d_forward(&y, &x, &w, NULL, &p, NULL, A, NULL, &e), e, "groups must be at least 1");
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
  CHECK_FAILS(lc_conv2d_forward(&y2, &x, &w, NULL, &ok, NULL, A, NULL, &e), e, "output has shape [2,4,4,5], expected [2,4,4,4]");
  lc_tensor b = tensor1(5, 0, 1);
  CHECK_FAILS(lc_conv2d_forward(&y, &x, &w, &b, &ok, NULL, A, NULL, &e), e, "bias has shape [5], expected [4]");
  lc_tensor xt = x;
  lc_view_transpose(&xt, 2, 3, &e);
  CHECK_FAILS(lc_conv2d_forward(&y, &xt, &w, NULL, &ok, NULL, A, NULL, &e), e, "input must be contiguous");
  lc_tensor dw = tensor4(4, 3, 3, 2, 0, 1);
  CHECK_FAILS(lc_conv2d_backward(NULL, &dw, NULL, &y, NULL, &x, &w, &ok, NULL, A, NULL, &e), e, "weight gradient has shape");
  p = ok, p.relu = 1;
  lc_tensor dw3 = tensor4(4, 3, 3, 3, 0, 1);
  CHECK_FAILS(lc_conv2d_backward(NULL, &dw3, NULL, &y, NULL, &x, &w, &p, NULL, A, NULL, &e), e, "fused ReLU needs the forward's output");
  lc_tensor_release(&dw3);
  lc_tensor x3 = x;
  x3.ndim = 3;
  CHECK_FAILS(lc_conv2d_forward(&y, &x3, &w, NULL, &ok, NULL, A, NULL, &e), e, "expected 4 dims [N,C,H,W]");
  /* the output-size formula, including a kernel that does not fit */
  CHECK(lc_conv2d_out_size(28, 5, 1, 0, 1) == 24, "28, k5");
  CHECK(lc_conv2d_out_size(28, 5, 2, 2, 1) == 14, "28, k5 s2 p2");
  CHECK(lc_conv2d_out_size(7, 3, 2, 0, 2) == 2, "7, k3 s2 d2");
  CHECK(lc_conv2d_out_size(3, 5, 2, 0, 1) < 1, "3, k5 does not fit: %lld", (long long)lc_conv2d_out_size(3, 5, 2, 0, 1));
  lc_tensor *all[] = {&x, &w, &y, &y2, &b, &dw};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) lc_tensor_release(all[i]);
}

/* ---- pooling: windows read element by element, padding skipped ---- */

/* The output size by PyTorch's formula in floating point (the kernel's is integer). */
static int64_t ref_out_size(int64_t in, int64_t k, int64_t s, int64_t pad, int64_t ceil_mode) {
  double q = (double)(in + 2 * pad - k) / (double)s;
  int64_t out = (int64_t)(ceil_mode ? ceil(q) : floor(q)) + 1;
  if (ceil_mode && (out - 1) * s >= in + pad) out--;
  return out;
}

/* specials: some inputs NaN (a window's maximum, the first one getting the gradient) and
 * some -inf (a window of only -inf must still pick its first input, not the padding) */
static void pool_case_specials(int64_t N, int64_t C, int64_t H, int64_t W, lc_pool2d_params p, lc_pool *pool,
                               int specials) {
  lc_error e;
  int64_t OH = ref_out_size(H, p.kernel_h, p.stride_h, p.pad_h, p.ceil_mode);
  int64_t OW = ref_out_size(W, p.kernel_w, p.stride_w, p.pad_w, p.ceil_mode);
  if (OH < 1 || OW < 1) return; /* the window does not fit this input: the error tests cover that */
  int64_t KOH = 0, KOW = 0;
  CHECK_OK(lc_pool2d_output_size("pool", H, W, &p, &KOH, &KOW, &e), e);
  CHECK(KOH == OH && KOW == OW, "output size %lldx%lld, expected %lldx%lld", (long long)KOH, (long long)KOW,
        (long long)OH, (long long)OW);
  lc_tensor x = tensor4(N, C, H, W, -1, 1), y = tensor4(N, C, OH, OW, 0, 1), ya = tensor4(N, C, OH, OW, 0, 1);
  lc_tensor dy = tensor4(N, C, OH, OW, -1, 1), dx = tensor4(N, C, H, W, 3, 4), dxa = tensor4(N, C, H, W, 3, 4);
  /* a few ties, so the first maximum must be the one both directions pick */
  for (int64_t i = 0; i + 1 < lc_numel(&x); i += 7) x.data[i + 1] = x.data[i];
  if (specials) {
    for (int64_t i = 0; i < lc_numel(&x); i += 13) x.data[i] = NAN;
    for (int64_t i = 5; i < lc_numel(&x); i += 29) x.data[i] = NAN;
    /* a -inf block in the top left corner, under the padding */
    for (int64_t h = 0; h < H && h < 3; h++)
      for (int64_t w = 0; w < W && w < 3; w++) x.data[h * W + w] = -INFINITY;
    for (int64_t i = 3; i < lc_numel(&x); i += 11) x.data[i] = -INFINITY;
  }
  CHECK_OK(lc_maxpool2d_forward(&y, &x, &p, pool, &e), e);
  CHECK_OK(lc_maxpool2d_backward(&dx, &dy, &x, &p, pool, &e), e);
  CHECK_OK(lc_avgpool2d_forward(&ya, &x, &p, pool, &e), e);
  CHECK_OK(lc_avgpool2d_backward(&dxa, &dy, &p, pool, &e), e);
  int64_t planes = N * C, bad_max = 0, bad_avg = 0, bad_dmax = 0, bad_davg = 0;
  double *gmax = calloc((size_t)(planes * H * W), sizeof(double)), *gavg = calloc((size_t)(planes * H * W), sizeof(double));
  for (int64_t n = 0; n < planes; n++)
    for (int64_t oh = 0; oh < OH; oh++)
      for (int64_t ow = 0; ow < OW; ow++) {
        float m = 0;
        int64_t arg = -1;
        double s = 0, count = 0;
        for (int64_t i = 0; i < p.kernel_h; i++)
          for (int64_t j = 0; j < p.kernel_w; j++) {
            int64_t h = oh * p.stride_h - p.pad_h + i, w = ow * p.stride_w - p.pad_w + j;
            /* the divisor: cells of the padded input, or with exclude_pad of the input */
            int in_padded = h < H + p.pad_h && w < W + p.pad_w, in_input = h >= 0 && h < H && w >= 0 && w < W;
            count += p.exclude_pad ? in_input : in_padded;
            if (!in_input) continue;
            float v = x.data[(n * H + h) * W + w];
            s += v;
            if (arg < 0 || (!isnan(m) && (v > m || isnan(v)))) m = v, arg = (n * H + h) * W + w;
          }
        int64_t o = (n * OH + oh) * OW + ow;
        if (arg < 0 || (isnan(m) ? !isnan(y.data[o]) : y.data[o] != m)) bad_max++;
        if (arg < 0) continue;
        if (!check_close(ya.data[o], s / count, 1e-6)) bad_avg++;
        gmax[arg] += dy.data[o];
        for (int64_t i = 0; i < p.kernel_h; i++)
          for (int64_t j = 0; j < p.kernel_w; j++) {
            int64_t h = oh * p.stride_h - p.pad_h + i, w = ow * p.stride_w - p.pad_w + j;
            if (h >= 0 && h < H && w >= 0 && w < W) gavg[(n * H + h) * W + w] += dy.data[o] / count;
          }
      }
  for (int64_t i = 0; i < planes * H * W; i++) {
    if (!check_close(dx.data[i], gmax[i], 1e-5)) bad_dmax++;
    if (!check_close(dxa.data[i], gavg[i], 1e-5)) bad_davg++;
  }
  CHECK(bad_max + bad_avg + bad_dmax + bad_davg == 0,
        "pool %lldx%lld k%lldx%lld s%lldx%lld p%lldx%lld ceil %d exclude_pad %d threads %d: %lld max, %lld avg, "
        "%lld dmax, %lld davg wrong",
        (long long)H, (long long)W, (long long)p.kernel_h, (long long)p.kernel_w, (long long)p.stride_h,
        (long long)p.stride_w, (long long)p.pad_h, (long long)p.pad_w, (int)p.ceil_mode, (int)p.exclude_pad,
        lc_pool_threads(pool), (long long)bad_max,
        (long long)bad_avg, (long long)bad_dmax, (long long)bad_davg);
  free(gmax), free(gavg);
  lc_tensor *all[] = {&x, &y, &ya, &dy, &dx, &dxa};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) lc_tensor_release(all[i]);
}

static void pool_case(int64_t N, int64_t C, int64_t H, int64_t W, lc_pool2d_params p, lc_pool *pool) {
  pool_case_specials(N, C, H, W, p, pool, 0);
}

static void pool_tests(lc_pool *pool) {
  lc_error e;
  /* {kernel, stride, padding, ceil_mode, exclude_pad}; on 9x8 and 20x20 the ceil-mode
   * cases get a clipped last window (2x2/2 on 9 rows, 3x3/2 pad 1 on 8 and 20) */
  static const lc_pool2d_params cases[] = {
    {2, 2, 2, 2, 0, 0, 0, 0}, {3, 3, 2, 2, 1, 1, 0, 0}, {3, 2, 1, 1, 1, 0, 0, 0}, {2, 3, 1, 2, 0, 1, 0, 0},
    {5, 5, 3, 3, 2, 2, 0, 0}, {1, 1, 1, 1, 0, 0, 0, 0}, {2, 2, 2, 2, 0, 0, 1, 0}, {3, 3, 2, 2, 1, 1, 1, 0},
    {3, 3, 2, 2, 1, 1, 1, 1}, {3, 3, 2, 2, 1, 1, 0, 1}, {3, 2, 3, 2, 0, 1, 1, 0}, {5, 4, 3, 3, 2, 1, 1, 1}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    pool_case(2, 3, 9, 8, cases[i], NULL);
    pool_case(16, 8, 20, 20, cases[i], pool);
    pool_case(1, 2, 2, 3, cases[i], NULL);
  }
  /* the 2x2 vector loops: 8 windows at a time, rows of 7 and 14 (and odd sizes) leave 1-7 */
  lc_pool2d_params two = {2, 2, 2, 2, 0, 0, 0, 0};
  pool_case(3, 2, 11, 14, two, NULL);
  pool_case(2, 3, 28, 28, two, pool);
  pool_case(1, 2, 6, 31, two, NULL);
  /* the stride-2 vector loops (ResNet's 3x3/2 pad 1 and other windows up to 8 wide):
   * rows of 1-19 outputs, row strides 1-3, with NaNs and -inf */
  static const lc_pool2d_params s2[] = {
    {3, 3, 2, 2, 1, 1, 0, 0}, {3, 3, 2, 2, 0, 0, 0, 0}, {5, 5, 2, 2, 2, 2, 0, 0}, {2, 3, 1, 2, 1, 1, 0, 0},
    {3, 3, 2, 2, 1, 1, 1, 0}, {8, 8, 3, 2, 4, 4, 0, 0}, {1, 1, 2, 2, 0, 0, 0, 0}, {3, 4, 2, 2, 0, 2, 1, 0}};
  for (size_t i = 0; i < sizeof s2 / sizeof s2[0]; i++)
    for (int64_t w = 1; w <= 38; w += 3) {
      pool_case_specials(2, 3, 5 + w % 4, w, s2[i], w % 2 ? pool : NULL, 0);
      pool_case_specials(1, 2, 7, w, s2[i], NULL, 1);
    }
  pool_case_specials(4, 8, 16, 16, s2[0], pool, 1);
  /* ceil mode: 2x2/2 over 5 gives 3 (the last window holds one row); a window that would
   * start in the right padding is dropped: 3/2 pad 1 over 6 gives 4, over 5 gives 3 */
  CHECK(lc_pool_out_size(5, 2, 2, 0, 0) == 2 && lc_pool_out_size(5, 2, 2, 0, 1) == 3, "2x2/2 over 5");
  CHECK(lc_pool_out_size(6, 3, 2, 1, 1) == 4 && lc_pool_out_size(5, 3, 2, 1, 1) == 3, "3/2 pad 1 ceil");
  CHECK(lc_pool_out_size(2, 3, 2, 0, 1) == 1 && lc_pool_out_size(2, 3, 2, 0, 0) < 1, "kernel 3 over 2");
  CHECK(lc_pool_out_size(1, 3, 1, 0, 1) < 1, "kernel 3 over 1, stride 1, ceil");
  /* padding acts as -inf: an all-negative plane keeps its own values at the border */
  lc_pool2d_params p = {2, 2, 1, 1, 1, 1, 0, 0};
  lc_tensor x = tensor4(1, 1, 2, 2, -2, -1), y = tensor4(1, 1, 3, 3, 0, 1);
  CHECK_OK(lc_maxpool2d_forward(&y, &x, &p, NULL, &e), e);
  CHECK(y.data[0] == x.data[0] && y.data[8] == x.data[3], "max pooling of padding: %g %g", y.data[0], y.data[8]);
  /* a NaN in a window is its maximum */
  x.data[1] = NAN;
  CHECK_OK(lc_maxpool2d_forward(&y, &x, &p, NULL, &e), e);
  CHECK(isnan(y.data[1]) && isnan(y.data[4]) && !isnan(y.data[6]), "NaN propagates through max pooling");
  /* the same in the 2x2 stride-2 fast path, with the NaN at each of the four window places */
  {
    lc_pool2d_params q = {2, 2, 2, 2, 0, 0, 0, 0};
    lc_tensor x4 = tensor4(1, 1, 4, 4, -1, 1), y4 = tensor4(1, 1, 2, 2, 0, 1);
    lc_tensor dx4 = tensor4(1, 1, 4, 4, 5, 6), dy4 = tensor4(1, 1, 2, 2, 0, 1);
    for (int k = 0; k < 4; k++) {
      for (int i = 0; i < 16; i++) x4.data[i] = (float)i;
      x4.data[(k / 2) * 4 + (k % 2)] = NAN;  /* window (1,1), place k */
      CHECK_OK(lc_maxpool2d_forward(&y4, &x4, &q, NULL, &e), e);
      CHECK(isnan(y4.data[0]) && y4.data[1] == 7 && y4.data[2] == 13 && y4.data[3] == 15,
            "2x2 fast path: NaN at place %d gives %g %g %g %g", k, y4.data[0], y4.data[1], y4.data[2], y4.data[3]);
      /* backward sends the gradient to the (first) NaN; a second NaN after it gets none */
      if (k < 3) x4.data[((k + 1) / 2) * 4 + ((k + 1) % 2)] = NAN;
      for (int i = 0; i < 4; i++) dy4.data[i] = (float)(i + 1);
      CHECK_OK(lc_maxpool2d_backward(&dx4, &dy4, &x4, &q, NULL, &e), e);
      for (int i = 0; i < 4; i++) {
        float want = i == k ? 1.0f : 0.0f;
        float got = dx4.data[(i / 2) * 4 + (i % 2)];
        CHECK(got == want, "2x2 fast path backward: NaN at place %d, gradient %g at place %d", k, got, i);
      }
      CHECK(dx4.data[15] == 4 && dx4.data[7] == 2 && dx4.data[3] == 0, "2x2 fast path backward: other windows %g %g", dx4.data[15], dx4.data[7]);
    }
    lc_tensor_release(&x4), lc_tensor_release(&y4), lc_tensor_release(&dx4), lc_tensor_release(&dy4);
  }
  /* errors */
  int64_t OH, OW;
  lc_pool2d_params bad = {2, 2, 0, 1, 0, 0, 0, 0};
  CHECK_FAILS(lc_pool2d_output_size("maxpool2d", 4, 4, &bad, &OH, &OW, &e), e, "maxpool2d: stride must be at least 1");
  bad = (lc_pool2d_params){2, 2, 1, 1, 2, 0, 0, 0};
  CHECK_FAILS(lc_pool2d_output_size("avgpool2d", 4, 4, &bad, &OH, &OW, &e), e, "padding 2x0 must be at most half the kernel 2x2");
  bad = (lc_pool2d_params){2, 2, 1, 1, -1, 0, 0, 0};
  CHECK_FAILS(lc_pool2d_output_size("avgpool2d", 4, 4, &bad, &OH, &OW, &e), e, "padding must not be negative");
  bad = (lc_pool2d_params){0, 2, 1, 1, 0, 0, 0, 0};
  CHECK_FAILS(lc_pool2d_output_size("avgpool2d", 4, 4, &bad, &OH, &OW, &e), e, "kernel size must be at least 1");
  bad = (lc_pool2d_params){5, 2, 1, 1, 0, 0, 0, 0};
  CHECK_FAILS(lc_pool2d_output_size("maxpool2d", 4, 4, &bad, &OH, &OW, &e), e, "kernel 5x2 is larger than the padded input 4x4");
  bad.ceil_mode = 1, bad.stride_h = 2;
  CHECK_OK(lc_pool2d_output_size("maxpool2d", 4, 4, &bad, &OH, &OW, &e), e);
  CHECK(OH == 1 && OW == 3, "ceil mode forgives a kernel up to stride - 1 past the input: %lldx%lld", (long long)OH,
        (long long)OW);
  bad = (lc_pool2d_params){6, 2, 1, 1, 0, 0, 1, 0};
  CHECK_FAILS(lc_pool2d_output_size("avgpool2d", 4, 4, &bad, &OH, &OW, &e), e,
              "kernel 6x2 is larger than the padded input 4x4 (4x4 plus padding 0x0, ceil mode)");
  lc_tensor y2 = tensor4(1, 1, 2, 3, 0, 1);
  CHECK_FAILS(lc_maxpool2d_forward(&y2, &x, &p, NULL, &e), e, "output has shape [1,1,2,3], expected [1,1,3,3]");
  CHECK_FAILS(lc_maxpool2d_backward(&y2, &y, &x, &p, NULL, &e), e, "input gradient has shape [1,1,2,3], expected [1,1,2,2]");
  lc_tensor_release(&x), lc_tensor_release(&y), lc_tensor_release(&y2);
}

/* ---- adaptive average pooling: windows from floor/ceil in floating point ---- */

static void adaptive_case(int64_t N, int64_t C, int64_t H, int64_t W, int64_t OH, int64_t OW, lc_pool *pool) {
  lc_error e;
  lc_tensor x = tensor4(N, C, H, W, -1, 1), y = tensor4(N, C, OH, OW, 0, 1);
  lc_tensor dy = tensor4(N, C, OH, OW, -1, 1), dx = tensor4(N, C, H, W, 3, 4);
  CHECK_OK(lc_adaptive_avgpool2d_forward(&y, &x, pool, &e), e);
  CHECK_OK(lc_adaptive_avgpool2d_backward(&dx, &dy, pool, &e), e);
  double *g = calloc((size_t)(N * C * H * W), sizeof(double));
  int64_t bad_y = 0, bad_dx = 0;
  for (int64_t n = 0; n < N * C; n++)
    for (int64_t oh = 0; oh < OH; oh++)
      for (int64_t ow = 0; ow < OW; ow++) {
        int64_t h0 = (int64_t)floor((double)oh * H / OH), h1 = (int64_t)ceil((double)(oh + 1) * H / OH);
        int64_t w0 = (int64_t)floor((double)ow * W / OW), w1 = (int64_t)ceil((double)(ow + 1) * W / OW);
        double s = 0, cnt = (double)((h1 - h0) * (w1 - w0));
        for (int64_t h = h0; h < h1; h++)
          for (int64_t w = w0; w < w1; w++) s += x.data[(n * H + h) * W + w];
        int64_t o = (n * OH + oh) * OW + ow;
        if (!check_close(y.data[o], s / cnt, 1e-6)) bad_y++;
        for (int64_t h = h0; h < h1; h++)
          for (int64_t w = w0; w < w1; w++) g[(n * H + h) * W + w] += dy.data[o] / cnt;
      }
  for (int64_t i = 0; i < N * C * H * W; i++)
    if (!check_close(dx.data[i], g[i], 1e-5)) bad_dx++;
  CHECK(bad_y + bad_dx == 0, "adaptive %lldx%lld -> %lldx%lld threads %d: %lld outputs, %lld input gradients wrong",
        (long long)H, (long long)W, (long long)OH, (long long)OW, lc_pool_threads(pool), (long long)bad_y,
        (long long)bad_dx);
  free(g);
  lc_tensor *all[] = {&x, &y, &dy, &dx};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) lc_tensor_release(all[i]);
}

static void adaptive_tests(lc_pool *pool) {
  lc_error e;
  /* dividing, overlapping (7 -> 3: rows 0-2, 2-4, 4-6), identity, and growing (2 -> 5) */
  static const int64_t sizes[][4] = {{8, 8, 4, 2}, {7, 6, 3, 4}, {9, 8, 9, 8}, {2, 3, 5, 4}, {1, 1, 7, 7}, {20, 20, 7, 7}};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    adaptive_case(2, 3, sizes[i][0], sizes[i][1], sizes[i][2], sizes[i][3], NULL);
    adaptive_case(16, 8, sizes[i][0], sizes[i][1], sizes[i][2], sizes[i][3], pool);
  }
  /* 5 -> 3 by hand: windows [0,2) [1,4) [3,5) over 1 2 3 4 5 */
  lc_tensor x = tensor4(1, 1, 1, 5, 0, 1), y = tensor4(1, 1, 1, 3, 0, 1);
  for (int i = 0; i < 5; i++) x.data[i] = (float)(i + 1);
  CHECK_OK(lc_adaptive_avgpool2d_forward(&y, &x, NULL, &e), e);
  CHECK(y.data[0] == 1.5f && y.data[1] == 3.0f && y.data[2] == 4.5f, "5 -> 3: %g %g %g", y.data[0], y.data[1],
        y.data[2]);
  lc_tensor yc = tensor4(1, 2, 1, 3, 0, 1), y0 = tensor4(1, 1, 0, 3, 0, 1), x0 = tensor4(1, 1, 0, 5, 0, 1);
  CHECK_FAILS(lc_adaptive_avgpool2d_forward(&yc, &x, NULL, &e), e, "output has shape [1,2,1,3], expected [1,1,OH,OW]",
              "input of shape [1,1,1,5]");
  CHECK_FAILS(lc_adaptive_avgpool2d_forward(&y0, &x, NULL, &e), e, "output size must be at least 1x1, got 0x3");
  CHECK_FAILS(lc_adaptive_avgpool2d_forward(&y, &x0, NULL, &e), e, "input is empty (0x5)");
  CHECK_FAILS(lc_adaptive_avgpool2d_backward(&y, &yc, NULL, &e), e, "adaptive_avgpool2d backward: output gradient");
  lc_tensor x3 = x;
  x3.ndim = 3;
  CHECK_FAILS(lc_adaptive_avgpool2d_forward(&y, &x3, NULL, &e), e, "expected 4 dims [N,C,H,W]");
  lc_tensor *all[] = {&x, &y, &yc, &y0, &x0};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) lc_tensor_release(all[i]);
}

/* ---- batch norm: the textbook formulas in double ---- */

/* x uniform in [offset - 2, offset + 3] */
static void batchnorm_case(int64_t N, int64_t C, int64_t S, int training, float offset, lc_pool *pool) {
  lc_error e;
  int64_t shape[4] = {N, C, S, 1};
  lc_tensor x = test_tensor(A, 4, shape, 0, offset - 2, offset + 3), y = test_tensor(A, 4, shape, 0, 0, 1);
  lc_tensor dy = test_tensor(A, 4, shape, 0, -1, 1), dx = test_tensor(A, 4, shape, 0, 0, 1);
  lc_tensor g = tensor1(C, 0.5f, 2), b = tensor1(C, -1, 1), rm = tensor1(C, -1, 1), rv = tensor1(C, 0.5f, 2);
  lc_tensor rm0 = copy_of(&rm), rv0 = copy_of(&rv), sm = tensor1(C, 0, 1), si = tensor1(C, 0, 1);
  lc_tensor dg = tensor1(C, -1, 1), db = tensor1(C, -1, 1), dg0 = copy_of(&dg), db0 = copy_of(&db);
  float momentum = 0.1f, eps = 1e-5f;
  CHECK_OK(lc_batchnorm_forward(&y, &x, &g, &b, &rm, &rv, &sm, &si, training, momentum, eps, pool, &e), e);
  CHECK_OK(lc_batchnorm_backward(&dx, &dg, &db, &dy, &x, &g, &sm, &si, training, pool, &e), e);
  int64_t M = N * S, bad = 0;
  /* float x, mean and y near the offset carry its rounding into xhat; the running
   * variance must hold to 1e-5 all the same */
  double t = 1 + fabs(offset) / 100;
  for (int64_t c = 0; c < C; c++) {
    double mean = 0, var = 0;
    for (int64_t n = 0; n < N; n++)
      for (int64_t s = 0; s < S; s++) mean += x.data[(n * C + c) * S + s];
    mean /= (double)M;
    for (int64_t n = 0; n < N; n++)
      for (int64_t s = 0; s < S; s++) var += pow(x.data[(n * C + c) * S + s] - mean, 2);
    var /= (double)M;
    double um = training ? mean : rm0.data[c], uv = training ? var : rv0.data[c];
    double inv = 1 / sqrt(uv + eps);
    if (training) {
      if (!check_close(rm.data[c], 0.9 * rm0.data[c] + 0.1 * mean, 1e-5)) bad++;
      if (!check_close(rv.data[c], 0.9 * rv0.data[c] + 0.1 * var * (double)M / (double)(M - 1), 1e-5)) bad++;
    } else if (rm.data[c] != rm0.data[c] || rv.data[c] != rv0.data[c]) {
      bad++;
    }
    double sdy = 0, sdyx = 0;
    for (int64_t n = 0; n < N; n++)
      for (int64_t s = 0; s < S; s++) {
        int64_t i = (n * C + c) * S + s;
        double xhat = (x.data[i] - um) * inv;
        if (!check_close(y.data[i], xhat * g.data[c] + b.data[c], 1e-5 * t)) bad++;
        sdy += dy.data[i], sdyx += dy.data[i] * xhat;
      }
    if (!check_close(db.data[c], db0.data[c] + sdy, 1e-4)) bad++;
    if (!check_close(dg.data[c], dg0.data[c] + sdyx, 1e-4 * t)) bad++;
    for (int64_t n = 0; n < N; n++)
      for (int64_t s = 0; s < S; s++) {
        int64_t i = (n * C + c) * S + s;
        double xhat = (x.data[i] - um) * inv;
        double want = training ? g.data[c] * inv / (double)M * ((double)M * dy.data[i] - sdy - xhat * sdyx)
                               : g.data[c] * inv * dy.data[i];
        if (!check_close(dx.data[i], want, 1e-4 * t)) bad++;
      }
  }
  CHECK(bad == 0, "batchnorm N%lld C%lld S%lld offset %g training %d threads %d: %lld values wrong", (long long)N,
        (long long)C, (long long)S, (double)offset, training, lc_pool_threads(pool), (long long)bad);
  lc_tensor *all[] = {&x, &y, &dy, &dx, &g, &b, &rm, &rv, &rm0, &rv0, &sm, &si, &dg, &db, &dg0, &db0};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) lc_tensor_release(all[i]);
}

static void batchnorm_tests(lc_pool *pool) {
  lc_error e;
  for (int training = 0; training <= 1; training++) {
    batchnorm_case(4, 3, 5, training, 0, NULL);
    batchnorm_case(7, 2, 1, training, 0, NULL);
    batchnorm_case(32, 16, 144, training, 0, pool);
    /* runs around the 8- and 16-float loops: tails, single values, ResNet's 2x2 maps */
    static const int64_t runs[] = {1, 4, 7, 8, 9, 15, 16, 17, 31, 64, 1027};
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++)
      batchnorm_case(2 + (int64_t)(i * 5) % 9, 1 + (int64_t)i % 4 * 3, runs[i], training, 0, i % 2 ? pool : NULL);
    /* more runs than the float lanes take between two flushes into double */
    batchnorm_case(70, 3, 4, training, 0, pool);
    batchnorm_case(20, 2, 100, training, 0, NULL);
    /* a mean far above the spread: the variance must not come from E[x^2] - E[x]^2 in float */
    batchnorm_case(16, 3, 100, training, 3000, pool);
  }
  lc_tensor x = tensor4(1, 2, 1, 1, 0, 1), v = tensor1(2, 0, 1), w = tensor1(3, 0, 1);
  lc_tensor *vv = &v;
  CHECK_FAILS(lc_batchnorm_forward(&x, &x, vv, vv, vv, vv, vv, vv, 1, 0.1f, 1e-5f, NULL, &e), e,
              "training needs more than one value per channel");
  CHECK_OK(lc_batchnorm_forward(&x, &x, vv, vv, vv, vv, vv, vv, 0, 0.1f, 1e-5f, NULL, &e), e);
  CHECK_FAILS(lc_batchnorm_forward(&x, &x, &w, vv, vv, vv, vv, vv, 0, 0.1f, 1e-5f, NULL, &e), e,
              "weight has shape [3], expected [2]");
  CHECK_FAILS(lc_batchnorm_forward(&x, &x, vv, vv, vv, vv, vv, vv, 0, 1.5f, 1e-5f, NULL, &e), e, "momentum must be in [0, 1]");
  CHECK_FAILS(lc_batchnorm_forward(&x, &x, vv, vv, vv, vv, vv, vv, 0, 0.1f, 0, NULL, &e), e, "eps must be positive");
  CHECK_FAILS(lc_batchnorm_backward(NULL, vv, vv, &w, &x, vv, vv, vv, 1, NULL, &e), e, "output gradient has shape [3]");
  lc_tensor_release(&x), lc_tensor_release(&v), lc_tensor_release(&w);
}

int main(void) {
  A = lc_allocator_new(1 << 24);
  test_seed(11);
  conv_by_hand();
  conv_errors();
  conv_grid(NULL);
  lc_pool *pool = lc_pool_new(3);
  conv_grid(pool);
  conv_direct_shapes(NULL);
  conv_direct_shapes(pool);
  conv_tiny_shapes(NULL);
  conv_tiny_shapes(pool);
  /* a batch larger than the threads (split over samples) and smaller (split GEMMs) */
  conv_case big = {.N = 7, .C = 6, .H = 14, .W = 14, .O = 16, .KH = 5, .KW = 5, .p = {1, 1, 2, 2, 1, 1, 1, 0, 0}};
  conv_compare(&big, pool, 1, 1);
  big.N = 2;
  conv_compare(&big, pool, 1, 1);
  pool_tests(NULL);
  pool_tests(pool);
  adaptive_tests(NULL);
  adaptive_tests(pool);
  batchnorm_tests(pool);
  lc_pool_free(pool);
  lc_allocator_release(A);
  return check_done("test_conv");
}
