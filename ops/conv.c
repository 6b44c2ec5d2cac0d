/* Dimension letters as in conv.h: N samples, C/O input/output channels, G groups,
 * Cg/Og channels per group, H x W input, KH x KW kernel, OH x OW output,
 * K = Cg*KH*KW rows of the column matrix, P = OH*OW its columns. */
#include "conv.h"

#include <stdio.h>
#include <string.h>

#include "conv_direct.h"
#include "conv_winograd.h"
#include "matmul.h"

int64_t lc_conv2d_out_size(int64_t in, int64_t k, int64_t stride, int64_t pad, int64_t dilation) {
  int64_t span = in + 2 * pad - dilation * (k - 1) - 1;
  /* floor division: a negative span (kernel larger than the padded input) gives <= 0 */
  int64_t q = span >= 0 ? span / stride : -((-span + stride - 1) / stride);
  return q + 1;
}

int lc_conv2d_output_size(int64_t C, int64_t H, int64_t W, const int64_t *wshape, const lc_conv2d_params *p,
                          int64_t *OH, int64_t *OW, lc_error *e) {
  if (p->stride_h < 1 || p->stride_w < 1)
    return lc_fail(e, "conv2d: stride must be at least 1, got %lldx%lld", (long long)p->stride_h,
                   (long long)p->stride_w);
  if (p->dilation_h < 1 || p->dilation_w < 1)
    return lc_fail(e, "conv2d: dilation must be at least 1, got %lldx%lld", (long long)p->dilation_h,
                   (long long)p->dilation_w);
  if (p->pad_h < 0 || p->pad_w < 0)
    return lc_fail(e, "conv2d: padding must not be negative, got %lldx%lld", (long long)p->pad_h,
                   (long long)p->pad_w);
  if (p->groups < 1) return lc_fail(e, "conv2d: groups must be at least 1, got %lld", (long long)p->groups);
  int64_t O = wshape[0], Cg = wshape[1], KH = wshape[2], KW = wshape[3];
  if (O < 1 || Cg < 1 || KH < 1 || KW < 1)
    return lc_fail(e, "conv2d: weight [%lld,%lld,%lld,%lld] has an empty dimension", (long long)O, (long long)Cg,
                   (long long)KH, (long long)KW);
  if (O % p->groups)
    return lc_fail(e, "conv2d: groups (%lld) must divide the output channels (%lld)", (long long)p->groups,
                   (long long)O);
  if (C % p->groups)
    return lc_fail(e, "conv2d: groups (%lld) must divide the input channels (%lld)", (long long)p->groups,
                   (long long)C);
  if (C != Cg * p->groups)
    return lc_fail(e, "conv2d: input has %lld channels, expected %lld", (long long)C, (long long)(Cg * p->groups));
  if (H < 1 || W < 1) return lc_fail(e, "conv2d: input is empty (%lldx%lld)", (long long)H, (long long)W);
  int64_t eh = p->dilation_h * (KH - 1) + 1, ew = p->dilation_w * (KW - 1) + 1;
  if (eh > H + 2 * p->pad_h || ew > W + 2 * p->pad_w) {
    char dil[64] = "";
    if (eh != KH || ew != KW) snprintf(dil, sizeof dil, " (dilated %lldx%lld)", (long long)eh, (long long)ew);
    return lc_fail(e, "conv2d: kernel %lldx%lld%s is larger than the padded input %lldx%lld (%lldx%lld plus padding %lldx%lld)",
                   (long long)KH, (long long)KW, dil, (long long)(H + 2 * p->pad_h), (long long)(W + 2 * p->pad_w),
                   (long long)H, (long long)W, (long long)p->pad_h, (long long)p->pad_w);
  }
  *OH = lc_conv2d_out_size(H, KH, p->stride_h, p->pad_h, p->dilation_h);
  *OW = lc_conv2d_out_size(W, KW, p->stride_w, p->pad_w, p->dilation_w);
  return 0;
}

/* The sizes of one convolution, checked against every tensor given. */
typedef struct conv_dims {
  int64_t N, C, H, W, O, G, Cg, Og, KH, KW, OH, OW, K, P;
} conv_dims;

static int check_4d(const char *what, const char *name, const lc_tensor *t, const int64_t *want, lc_error *e) {
  char s1[100], s2[100];
  if (t->ndim != 4 || memcmp(t->shape, want, 4 * sizeof(int64_t)))
    return lc_fail(e, "%s: %s has shape %s, expected %s", what, name, lc_shape_str(s1, sizeof s1, t->ndim, t->shape),
                   lc_shape_str(s2, sizeof s2, 4, want));
  if (!lc_is_contiguous(t)) return lc_fail(e, "%s: %s must be contiguous", what, name);
  return 0;
}

static int check_bias(const char *what, const char *name, const lc_tensor *b, int64_t O, lc_error *e) {
  char s[100];
  if (b->ndim != 1 || b->shape[0] != O)
    return lc_fail(e, "%s: %s has shape %s, expected [%lld]", what, name, lc_shape_str(s, sizeof s, b->ndim, b->shape),
                   (long long)O);
  if (!lc_is_contiguous(b)) return lc_fail(e, "%s: %s must be contiguous", what, name);
  return 0;
}

/* Checks x and w and fills d; y (the output or its gradient) must be [N,O,OH,OW]. */
static int conv_check(const char *what, const lc_tensor *x, const lc_tensor *w, const lc_tensor *y, const char *yname,
                      const lc_conv2d_params *p, conv_dims *d, lc_error *e) {
  char s1[100];
  if (x->ndim != 4)
    return lc_fail(e, "%s: input has shape %s, expected 4 dims [N,C,H,W]", what,
                   lc_shape_str(s1, sizeof s1, x->ndim, x->shape));
  if (w->ndim != 4)
    return lc_fail(e, "%s: weight has shape %s, expected 4 dims [O,C/groups,KH,KW]", what,
                   lc_shape_str(s1, sizeof s1, w->ndim, w->shape));
  if (!lc_is_contiguous(x)) return lc_fail(e, "%s: input must be contiguous", what);
  if (!lc_is_contiguous(w)) return lc_fail(e, "%s: weight must be contiguous", what);
  d->N = x->shape[0], d->C = x->shape[1], d->H = x->shape[2], d->W = x->shape[3];
  if (lc_conv2d_output_size(d->C, d->H, d->W, w->shape, p, &d->OH, &d->OW, e)) return -1;
  d->O = w->shape[0], d->KH = w->shape[2], d->KW = w->shape[3], d->G = p->groups;
  d->Cg = d->C / d->G, d->Og = d->O / d->G;
  d->K = d->Cg * d->KH * d->KW, d->P = d->OH * d->OW;
  int64_t ys[4] = {d->N, d->O, d->OH, d->OW};
  return check_4d(what, yname, y, ys, e);
}

/* The 1x1, stride-1, unpadded case: the input plane of a group is the column matrix. */
static int is_pointwise(const conv_dims *d, const lc_conv2d_params *p) {
  return d->KH == 1 && d->KW == 1 && p->stride_h == 1 && p->stride_w == 1 && p->pad_h == 0 && p->pad_w == 0;
}

/* The range [lo, hi) of output positions o with 0 <= o*stride + off < in. */
static void valid_range(int64_t off, int64_t stride, int64_t in, int64_t out, int64_t *lo, int64_t *hi) {
  int64_t l = off >= 0 ? 0 : (-off + stride - 1) / stride;
  int64_t h = in - 1 - off < 0 ? 0 : (in - 1 - off) / stride + 1;
  if (h > out) h = out;
  if (l > h) l = h;
  *lo = l, *hi = h;
}

/* col [K,P] (rows ld apart) <- the patches of x [Cg,H,W] (one sample's group). Row
 * (c,kh,kw) holds x[c, oh*sh - ph + kh*dh, ow*sw - pw + kw*dw] for every output position
 * (oh,ow). With ld = S*P, S samples side by side make one [K, S*P] matrix. */
static void im2col(float *col, int64_t ld, const float *x, const conv_dims *d, const lc_conv2d_params *p) {
  for (int64_t c = 0; c < d->Cg; c++)
    for (int64_t i = 0; i < d->KH; i++)
      for (int64_t j = 0; j < d->KW; j++) {
        float *row = col + ((c * d->KH + i) * d->KW + j) * ld;
        int64_t xoff = j * p->dilation_w - p->pad_w, lo, hi;
        valid_range(xoff, p->stride_w, d->W, d->OW, &lo, &hi);
        for (int64_t oh = 0; oh < d->OH; oh++) {
          float *r = row + oh * d->OW;
          int64_t ih = oh * p->stride_h - p->pad_h + i * p->dilation_h;
          if (ih < 0 || ih >= d->H) {
            memset(r, 0, sizeof(float) * (size_t)d->OW);
            continue;
          }
          const float *src = x + (c * d->H + ih) * d->W + xoff;
          for (int64_t ow = 0; ow < lo; ow++) r[ow] = 0;
          if (p->stride_w == 1)
            memcpy(r + lo, src + lo, sizeof(float) * (size_t)(hi - lo));
          else
            for (int64_t ow = lo; ow < hi; ow++) r[ow] = src[ow * p->stride_w];
          for (int64_t ow = hi; ow < d->OW; ow++) r[ow] = 0;
        }
      }
}

/* dx [Cg,H,W] += the columns dcol [K,P] (rows ld apart) put back where im2col took them from. */
static void col2im(float *dx, const float *col, int64_t ld, const conv_dims *d, const lc_conv2d_params *p) {
  for (int64_t c = 0; c < d->Cg; c++)
    for (int64_t i = 0; i < d->KH; i++)
      for (int64_t j = 0; j < d->KW; j++) {
        const float *row = col + ((c * d->KH + i) * d->KW + j) * ld;
        int64_t xoff = j * p->dilation_w - p->pad_w, lo, hi;
        valid_range(xoff, p->stride_w, d->W, d->OW, &lo, &hi);
        for (int64_t oh = 0; oh < d->OH; oh++) {
          int64_t ih = oh * p->stride_h - p->pad_h + i * p->dilation_h;
          if (ih < 0 || ih >= d->H) continue;
          const float *r = row + oh * d->OW;
          float *dst = dx + (c * d->H + ih) * d->W + xoff;
          for (int64_t ow = lo; ow < hi; ow++) dst[ow * p->stride_w] += r[ow];
        }
      }
}

/* A 2-D row-major matrix over raw memory, rows ld apart (0: contiguous), for lc_gemm. */
static lc_tensor mat(const float *data, int64_t rows, int64_t cols, int64_t ld) {
  lc_tensor t;
  memset(&t, 0, sizeof t);
  t.data = (float *)data;
  t.ndim = 2;
  t.shape[0] = rows, t.shape[1] = cols;
  t.stride[0] = ld ? ld : cols > 1 ? cols : 1, t.stride[1] = 1;
  return t;
}

/* c [M,Nc] = op(a) @ op(b) + beta c, with a stored [M,K] (or [K,M] when ta) and b stored
 * [K,Nc] (or [Nc,K] when tb) with rows ldb apart (0: contiguous). Row-major operands
 * never need scratch copies. */
static int gemm(float *c, const float *a, int ta, const float *b, int64_t ldb, int tb, int64_t M, int64_t Nc, int64_t K,
                float beta, lc_pool *pool, lc_error *e) {
  lc_tensor tc = mat(c, M, Nc, 0), tA = ta ? mat(a, K, M, 0) : mat(a, M, K, 0);
  lc_tensor tB = tb ? mat(b, Nc, K, ldb) : mat(b, K, Nc, ldb);
  return lc_gemm(&tc, &tA, ta, &tB, tb, 1.0f, beta, NULL, pool, e);
}

/* Samples lowered together into one column matrix [K, S*P]: one GEMM per chunk instead of
 * one per sample, since small maps make thin products (ResNet-18 on 32x32 images: [64,576]
 * x [576,64] per sample at 8x8), where BLAS spends its time packing. The budget (floats
 * per matrix, 1 MB): ResNet-18's training step at 2 threads took 0.33 s at 2^16, 0.29 s at
 * 2^18 and at 2^20; the small CIFAR VGG did not change. */
#define COL_BUDGET ((int64_t)1 << 18)

static int64_t chunk_samples(const conv_dims *d, int64_t have) {
  int64_t s = COL_BUDGET / (d->K * d->P > 0 ? d->K * d->P : 1);
  if (s < 1) s = 1;
  return s < have ? s : have;
}

/* One convolution call, shared by the parts that run on the pool's threads. */
typedef struct conv_job {
  const conv_dims *d;
  const lc_conv2d_params *p;
  const float *x, *w, *b, *dy;
  float *y, *dx;
  float *col;      /* per part: 3 matrices of S*K*P floats (columns, their gradient, outputs) */
  float *kept;     /* all samples' columns, per group [K, N*P] (NULL: lower per chunk) */
  int reuse;       /* backward: kept already holds this x's columns */
  int64_t col_stride;
  int64_t chunk;   /* samples per lowered matrix */
  float *dw;       /* per part: O*K floats when the batch is split, else the gradient itself */
  int64_t dw_stride;
  lc_pool *inner;  /* pool for the GEMMs: NULL when the batch is split over the threads */
  int failed;
  lc_error err;
} conv_job;

/* Dimension letters: S samples in a chunk, s one of them; P = OH*OW output positions. */
static void forward_part(void *ctx, int part, int nparts) {
  conv_job *j = ctx;
  const conv_dims *d = j->d;
  long long nb, ne;
  lc_split_range(d->N, nparts, part, 1, &nb, &ne);
  float *col = j->col + part * j->col_stride;
  float *out = col + j->chunk * d->K * d->P;  /* [Og, S*P] */
  int direct = is_pointwise(d, j->p);
  for (int64_t n0 = nb; n0 < ne; n0 += j->chunk) {
    int64_t S = ne - n0 < j->chunk ? ne - n0 : j->chunk, ld = S * d->P;
    for (int64_t g = 0; g < d->G; g++) {
      const float *wg = j->w + g * d->Og * d->K;
      if (direct && S == 1) {
        /* pointwise, one sample: x is already the column matrix and y the output */
        const float *xg = j->x + (n0 * d->C + g * d->Cg) * d->H * d->W;
        if (gemm(j->y + (n0 * d->O + g * d->Og) * d->P, wg, 0, xg, 0, 0, d->Og, d->P, d->K, 0, j->inner, &j->err))
          j->failed = 1;
      } else {
        /* the chunk's columns: in the kept matrix (rows N*P apart) or in this part's scratch */
        float *cc = j->kept && !direct ? j->kept + g * d->K * d->N * d->P + n0 * d->P : col;
        int64_t ldc = j->kept && !direct ? d->N * d->P : ld;
        for (int64_t s = 0; s < S; s++) {
          const float *xg = j->x + ((n0 + s) * d->C + g * d->Cg) * d->H * d->W;
          if (direct)
            for (int64_t k = 0; k < d->K; k++) memcpy(cc + k * ldc + s * d->P, xg + k * d->P, sizeof(float) * (size_t)d->P);
          else
            im2col(cc + s * d->P, ldc, xg, d, j->p);
        }
        /* out [Og, S*P] = w_g [Og,K] @ col [K, S*P] */
        if (gemm(out, wg, 0, cc, ldc, 0, d->Og, ld, d->K, 0, j->inner, &j->err)) j->failed = 1;
        for (int64_t s = 0; s < S; s++)
          for (int64_t o = 0; o < d->Og; o++)
            memcpy(j->y + ((n0 + s) * d->O + g * d->Og + o) * d->P, out + o * ld + s * d->P,
                   sizeof(float) * (size_t)d->P);
      }
      if (j->b || j->p->relu)
        for (int64_t s = 0; s < S; s++)
          for (int64_t o = 0; o < d->Og; o++) {
            float bias = j->b ? j->b[g * d->Og + o] : 0.0f, *yr = j->y + ((n0 + s) * d->O + g * d->Og + o) * d->P;
            if (j->p->relu)
              for (int64_t q = 0; q < d->P; q++) {
                float v = yr[q] + bias;
                yr[q] = v <= 0 ? 0.0f : v;  /* NaN stays NaN */
              }
            else
              for (int64_t q = 0; q < d->P; q++) yr[q] += bias;
          }
    }
  }
}

static void backward_part(void *ctx, int part, int nparts) {
  conv_job *j = ctx;
  const conv_dims *d = j->d;
  long long nb, ne;
  lc_split_range(d->N, nparts, part, 1, &nb, &ne);
  float *col = j->col + part * j->col_stride;
  float *dcol = col + j->chunk * d->K * d->P;
  float *dyc = dcol + j->chunk * d->K * d->P;  /* [Og, S*P]: dy of the chunk, side by side */
  float *dw = j->dw + part * j->dw_stride;
  int direct = is_pointwise(d, j->p);
  int gather_col2im = j->p->stride_h == 1 && j->p->stride_w == 1 && j->p->dilation_h == 1 && j->p->dilation_w == 1 &&
                      lc_direct_available();
  for (int64_t n0 = nb; n0 < ne; n0 += j->chunk) {
    int64_t S = ne - n0 < j->chunk ? ne - n0 : j->chunk, ld = S * d->P;
    /* col2im adds into dx; the gathering one writes every pixel itself */
    if (j->dx && !direct && !gather_col2im)
      memset(j->dx + n0 * d->C * d->H * d->W, 0, sizeof(float) * (size_t)(S * d->C * d->H * d->W));
    for (int64_t g = 0; g < d->G; g++) {
      const float *wg = j->w + g * d->Og * d->K;
      int reuse = j->reuse && !direct;
      const float *cc = reuse ? j->kept + g * d->K * d->N * d->P + n0 * d->P : col;
      int64_t ldc = reuse ? d->N * d->P : ld;
      for (int64_t s = 0; s < S; s++) {
        const float *xg = j->x + ((n0 + s) * d->C + g * d->Cg) * d->H * d->W;
        if (direct)
          for (int64_t k = 0; k < d->K; k++) memcpy(col + k * ld + s * d->P, xg + k * d->P, sizeof(float) * (size_t)d->P);
        else if (!reuse)
          im2col(col + s * d->P, ld, xg, d, j->p);
        for (int64_t o = 0; o < d->Og; o++)
          memcpy(dyc + o * ld + s * d->P, j->dy + ((n0 + s) * d->O + g * d->Og + o) * d->P, sizeof(float) * (size_t)d->P);
      }
      /* dw_g [Og,K] += dy [Og, S*P] @ col^T [S*P, K] */
      if (gemm(dw + g * d->Og * d->K, dyc, 0, cc, ldc, 1, d->Og, d->K, ld, 1, j->inner, &j->err)) j->failed = 1;
      if (!j->dx) continue;
      /* dcol [K, S*P] = w_g^T [K,Og] @ dy [Og, S*P], then back to each sample's pixels */
      if (gemm(dcol, wg, 1, dyc, 0, 0, d->K, ld, d->Og, 0, j->inner, &j->err)) j->failed = 1;
      for (int64_t s = 0; s < S; s++) {
        float *dxg = j->dx + ((n0 + s) * d->C + g * d->Cg) * d->H * d->W;
        if (direct)
          for (int64_t k = 0; k < d->K; k++) memcpy(dxg + k * d->P, dcol + k * ld + s * d->P, sizeof(float) * (size_t)d->P);
        else if (gather_col2im)
          lc_direct_col2im(dxg, dcol + s * d->P, ld, d->Cg, d->H, d->W, d->KH, d->KW, d->OH, d->OW, j->p->pad_h,
                           j->p->pad_w);
        else
          col2im(dxg, dcol + s * d->P, ld, d, j->p);
      }
    }
  }
}

/* How to run a job: split the batch over the threads (each GEMM single-threaded), or,
 * with fewer samples than threads, go through the samples in turn and split each GEMM. */
static int batch_parts(const conv_dims *d, lc_pool *pool) {
  int threads = lc_pool_threads(pool);
  if (threads <= 1) return 1;
  if (d->N < threads) return 1;
  return threads;
}

/* The sum of a row of dy for the bias gradient: eight float lanes, then a double. One
 * double accumulator would chain every add behind the last (4 cycles each: 0.4 ms of a
 * LeNet-5 step). */
static double row_sum(const float *r, int64_t n) {
  float acc[8] = {0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; k++) acc[k] += r[i + k];
  double s = 0;
  for (; i < n; i++) s += r[i];
  for (int k = 0; k < 8; k++) s += acc[k];
  return s;
}

/* ---- the direct algorithm (conv_direct.h) ---- */

static int64_t round_up(int64_t n, int64_t m) { return (n + m - 1) / m * m; }

/* The input gradient runs the forward kernel over dy padded by K-1-pad, so the padding
 * must stay below the kernel size. */
static int direct_fits(const conv_dims *d, const lc_conv2d_params *p) {
  return p->stride_h == 1 && p->stride_w == 1 && p->dilation_h == 1 && p->dilation_w == 1 && d->G == 1 &&
         p->pad_h <= d->KH - 1 && p->pad_w <= d->KW - 1;
}

/* Direct wins while the lowered matrix is thin: K = C*KH*KW taps per output. Measured with
 * bench/conv_c (fastest of 9 rounds, 1 thread): direct 1.3-3x faster for LeNet's layers
 * (K = 25, 150), 3->64 3x3 (27), 32->32 3x3 (288) and Inception's 5x5 16->32 (400); the
 * GEMM faster from 64->64 3x3 (576) up, and for 1x1 layers, whose GEMM needs no im2col. */
#define DIRECT_MAX_TAPS 512

/* Winograd F(4x4, 3x3): 3x3 kernels, stride 1, no dilation, one group; its input
 * gradient is a 3x3 convolution padded by 2 - pad, so the padding is at most 2. */
static int winograd_fits(const conv_dims *d, const lc_conv2d_params *p) {
  return d->KH == 3 && d->KW == 3 && p->stride_h == 1 && p->stride_w == 1 && p->dilation_h == 1 &&
         p->dilation_w == 1 && d->G == 1 && p->pad_h <= 2 && p->pad_w <= 2;
}

/* Winograd wins where its GEMMs are wide enough and the 4x4 tiles cover the output with
 * little waste. Measured with bench/conv_c (2 threads, medians, forward and backward):
 * 2-3.5x faster than im2col+GEMM from 64 channels at 8x8 up to VGG-16's 224x224 layers,
 * 1.2-1.5x on 128 channels at 4x4 and 32->32 at 16x16 (also faster than direct there);
 * slower than direct for 16->16 at 32x32 and than both for 3 input channels, and 2-7x
 * slower than GEMM on 2x2 and 1x1 maps (one 4x4 tile for 4 or 1 outputs). The rule: at
 * least 32 channels in and out, and at least half of the tiles' outputs inside the
 * output (OH*OW >= 8 TH*TW: 4x4, 3x3, 7x7, 14x14 pass; 2x2, 1x1, 5x5 do not). */
#define WINOGRAD_MIN_CHANNELS 32

static int winograd_pays(const conv_dims *d) {
  int64_t th = (d->OH + 3) / 4, tw = (d->OW + 3) / 4;
  return d->Cg >= WINOGRAD_MIN_CHANNELS && d->O >= WINOGRAD_MIN_CHANNELS && d->OH * d->OW * 2 >= th * tw * 16;
}

#define TINY_MAX_TAPS 256
static int tiny_possible(const conv_dims *d, const lc_conv2d_params *p);
static int tiny_chosen(const conv_dims *d, const lc_conv2d_params *p);

static int choose_algo(const conv_dims *d, const lc_conv2d_params *p) {
  if (p->algo == LC_CONV_GEMM) return LC_CONV_GEMM;
  if (p->algo == LC_CONV_WINOGRAD) return winograd_fits(d, p) ? LC_CONV_WINOGRAD : -1;
  if (p->algo == LC_CONV_TINY) return tiny_possible(d, p) ? LC_CONV_TINY : -1;
  if (p->algo == LC_CONV_AUTO && winograd_fits(d, p) && winograd_pays(d)) return LC_CONV_WINOGRAD;
  if (tiny_chosen(d, p)) return LC_CONV_TINY;
  int ok = direct_fits(d, p) && lc_direct_available();
  if (p->algo == LC_CONV_DIRECT) return ok ? LC_CONV_DIRECT : -1;
  return ok && d->K <= DIRECT_MAX_TAPS && d->KH * d->KW > 1 ? LC_CONV_DIRECT : LC_CONV_GEMM;
}

static int algo_failed(const char *what, const lc_conv2d_params *p, lc_error *e) {
  if (p->algo == LC_CONV_TINY)
    return lc_fail(e, "%s: the tiny-map algorithm needs dilation 1, one group and at most %d kernel taps", what,
                   TINY_MAX_TAPS);
  if (p->algo == LC_CONV_WINOGRAD)
    return lc_fail(e, "%s: the Winograd algorithm needs a 3x3 kernel, stride 1, dilation 1, one group and padding "
                   "of at most 2", what);
  return lc_fail(e, "%s: the direct algorithm needs stride 1, dilation 1, one group, padding below the kernel size "
                 "and a CPU with AVX2 and FMA", what);
}


/* The input gradient as a direct forward pass computes over dy padded to the input's size,
 * and over the input channels rounded up to 8: worth it near 'same' padding with channels
 * in eights; otherwise dcol = w^T dy and col2im (the GEMM path's way, no columns of x). */
static int direct_input_grad(const conv_dims *d) {
  return round_up(d->C, 8) * d->H * d->W * 2 <= 3 * d->C * d->OH * d->OW;
}

typedef struct direct_job {
  const conv_dims *d;
  const lc_conv2d_params *p;
  int dx_direct;
  lc_direct_dims fd, bd;   /* the forward's dims, the input gradient's */
  const float *x, *y, *dy, *w, *wt, *wflip, *bias;
  float *out, *dx;
  float *work;             /* per part: part_stride floats */
  int64_t part_stride;
  int64_t dx_chunk;        /* samples per input-gradient GEMM */
  int failed;
  lc_error err;
} direct_job;

/* The direct kernels split the batch over the pool's threads, a sample at least each. */
static int direct_parts(const conv_dims *d, lc_pool *pool) {
  int parts = lc_pool_threads(pool);
  if (parts > d->N) parts = (int)d->N;
  return parts < 1 ? 1 : parts;
}

static lc_direct_dims forward_dims(const conv_dims *d, const lc_conv2d_params *p) {
  lc_direct_dims f = {d->C, d->H + 2 * p->pad_h, d->OW + d->KW - 1 + LC_DIRECT_SLACK, d->O, round_up(d->O, 8),
                      d->KH, d->KW, d->OH, d->OW};
  return f;
}

/* dx = the forward kernel over dy padded by K-1-pad, with the weights flipped */
static lc_direct_dims input_grad_dims(const conv_dims *d) {
  lc_direct_dims b = {d->O, d->H + d->KH - 1, d->W + d->KW - 1 + LC_DIRECT_SLACK, d->C, round_up(d->C, 8),
                      d->KH, d->KW, d->H, d->W};
  return b;
}

static void direct_forward_part(void *ctx, int part, int nparts) {
  direct_job *j = ctx;
  const conv_dims *d = j->d;
  long long nb, ne;
  lc_split_range(d->N, nparts, part, 1, &nb, &ne);
  float *xp = j->work + part * j->part_stride;
  for (int64_t n = nb; n < ne; n++) {
    lc_direct_pad(xp, j->x + n * d->C * d->H * d->W, d->C, d->H, d->W, j->p->pad_h, j->p->pad_w, j->fd.Hp, j->fd.Wp);
    lc_direct_forward(j->out + n * d->O * d->P, xp, j->wt, j->bias, (int)j->p->relu, &j->fd);
  }
}

static int direct_forward(lc_tensor *y, const lc_tensor *x, const lc_tensor *w, const lc_tensor *b, const conv_dims *d,
                          const lc_conv2d_params *p, lc_allocator *scratch, lc_pool *pool, lc_error *e) {
  int parts = direct_parts(d, pool);
  direct_job j = {.d = d, .p = p, .fd = forward_dims(d, p), .x = x->data, .out = y->data};
  int64_t Opad = j.fd.Opad, wsize = round_up(d->K * Opad + Opad, 16);
  j.part_stride = round_up(d->C * j.fd.Hp * j.fd.Wp, 16);
  lc_tensor work = {0};
  int64_t shape[1] = {wsize + parts * j.part_stride};
  if (lc_tensor_init(&work, scratch, 1, shape, e)) return -1;
  float *wt = work.data, *bias = wt + d->K * Opad;
  lc_direct_pack(wt, w->data, d->O, d->C, d->KH, d->KW, Opad);
  for (int64_t o = 0; o < Opad; o++) bias[o] = b && o < d->O ? b->data[o] : 0.0f;
  j.wt = wt, j.bias = bias, j.work = work.data + wsize;
  if (parts > 1) lc_pool_run(pool, parts, direct_forward_part, &j);
  else direct_forward_part(&j, 0, 1);
  lc_tensor_release(&work);
  return 0;
}

/* Per part: [db sums as doubles: Opad][one sample's db: Opad][dwt: K*Opad][xp][dyt: P*Opad]
 * [masked dy: O*P][padded dy or dcol] */
static void direct_backward_part(void *ctx, int part, int nparts) {
  direct_job *j = ctx;
  const conv_dims *d = j->d;
  long long nb, ne;
  lc_split_range(d->N, nparts, part, 1, &nb, &ne);
  int64_t Opad = j->fd.Opad;
  float *base = j->work + part * j->part_stride;
  double *db = (double *)base;
  float *dbs = base + 2 * Opad;
  float *dwt = dbs + Opad;
  float *xp = dwt + d->K * Opad;
  float *dyt = xp + d->C * j->fd.Hp * j->fd.Wp;
  float *dym = dyt + d->P * Opad;              /* [O, S*P]: the chunk's masked dy, side by side */
  float *dyp = dym + d->O * j->dx_chunk * d->P;  /* padded dy, or dcol [K, S*P] */
  memset(base, 0, sizeof(float) * (size_t)(3 * Opad + d->K * Opad));
  for (int64_t n0 = nb; n0 < ne; n0 += j->dx_chunk) {
    int64_t S = ne - n0 < j->dx_chunk ? ne - n0 : j->dx_chunk, ld = S * d->P;
    for (int64_t s = 0; s < S; s++) {
      int64_t n = n0 + s;
      const float *g = j->dy + n * d->O * d->P, *yn = j->p->relu ? j->y + n * d->O * d->P : NULL;
      if (Opad > 8) {
        lc_direct_transpose_grad(dyt, dbs, g, yn, d->O, d->P, Opad);
        for (int64_t o = 0; o < d->O; o++) db[o] += dbs[o];
      }
      lc_direct_pad(xp, j->x + n * d->C * d->H * d->W, d->C, d->H, d->W, j->p->pad_h, j->p->pad_w, j->fd.Hp, j->fd.Wp);
      /* the masked dy, channels side by side with the chunk's other samples */
      if (j->dx || Opad == 8)
        for (int64_t o = 0; o < d->O; o++) {
          float *row = dym + o * ld + s * d->P;
          if (yn) lc_direct_relu_mask(row, g + o * d->P, yn + o * d->P, d->P);
          else memcpy(row, g + o * d->P, sizeof(float) * (size_t)d->P);
        }
      if (Opad == 8) {
        for (int64_t o = 0; o < d->O; o++) db[o] += row_sum(dym + o * ld + s * d->P, d->P);
        lc_direct_weight_grad_px(dwt, xp, dym + s * d->P, ld, &j->fd);
      } else
        lc_direct_weight_grad(dwt, xp, dyt, &j->fd);
      if (!j->dx) continue;
      if (j->dx_direct) {
        /* (a chunk of one sample: dym is this sample's [O, P]) */
        lc_direct_pad(dyp, dym, d->O, d->OH, d->OW, d->KH - 1 - j->p->pad_h, d->KW - 1 - j->p->pad_w, j->bd.Hp,
                      j->bd.Wp);
        lc_direct_forward(j->dx + n * d->C * d->H * d->W, dyp, j->wflip, NULL, 0, &j->bd);
      }
    }
    if (!j->dx || j->dx_direct) continue;
    /* dcol [K, S*P] = w^T [K, O] @ dy [O, S*P] in one GEMM for the chunk, then back onto
     * each sample's pixels */
    lc_error e;
    if (gemm(dyp, j->w, 1, dym, 0, 0, d->K, ld, d->O, 0, NULL, &e)) {
      j->failed = 1;
      j->err = e;
    }
    for (int64_t s = 0; s < S; s++)
      lc_direct_col2im(j->dx + (n0 + s) * d->C * d->H * d->W, dyp + s * d->P, ld, d->C, d->H, d->W, d->KH, d->KW,
                       d->OH, d->OW, j->p->pad_h, j->p->pad_w);
  }
}

static int direct_backward(lc_tensor *dx, lc_tensor *dw, lc_tensor *db, const lc_tensor *dy, const lc_tensor *y,
                           const lc_tensor *x, const lc_tensor *w, const conv_dims *d, const lc_conv2d_params *p,
                           lc_allocator *scratch, lc_pool *pool, lc_error *e) {
  int parts = direct_parts(d, pool);
  direct_job j = {.d = d, .p = p, .dx_direct = direct_input_grad(d), .fd = forward_dims(d, p),
                  .bd = input_grad_dims(d), .x = x->data, .y = p->relu ? y->data : NULL, .dy = dy->data,
                  .w = w->data, .dx = dx ? dx->data : NULL};
  int64_t Opad = j.fd.Opad;
  int64_t wsize = dx && j.dx_direct ? round_up(d->O * d->KH * d->KW * j.bd.Opad, 16) : 0;
  /* the last region: the padded dy (direct input gradient) or dcol (K x S*P) */
  /* samples per input-gradient GEMM: [K, O] @ [O, S*P] with S*P wide enough for BLAS and
   * the dcol matrix within ~512 KB */
  int64_t per_part = (d->N + parts - 1) / parts;
  j.dx_chunk = j.dx_direct ? 1 : ((int64_t)1 << 17) / (d->K * d->P > 0 ? d->K * d->P : 1);
  if (j.dx_chunk < 1) j.dx_chunk = 1;
  if (j.dx_chunk > per_part) j.dx_chunk = per_part;
  int64_t dx_work = !dx ? 0 : j.dx_direct ? d->O * j.bd.Hp * j.bd.Wp : d->K * d->P * j.dx_chunk;
  j.part_stride = round_up(3 * Opad + d->K * Opad + d->C * j.fd.Hp * j.fd.Wp + d->P * Opad +
                           d->O * d->P * j.dx_chunk + dx_work, 16);
  lc_tensor work = {0};
  int64_t shape[1] = {wsize + parts * j.part_stride};
  if (lc_tensor_init(&work, scratch, 1, shape, e)) return -1;
  if (dx && j.dx_direct) {
    lc_direct_pack_flipped(work.data, w->data, d->O, d->C, d->KH, d->KW, j.bd.Opad);
    j.wflip = work.data;
  }
  j.work = work.data + wsize;
  if (parts > 1) lc_pool_run(pool, parts, direct_backward_part, &j);
  else direct_backward_part(&j, 0, 1);
  /* the parts' sums, in part order (the same for a given thread count) */
  for (int part = 0; part < parts; part++) {
    const float *base = j.work + part * j.part_stride;
    const double *dbp = (const double *)base;
    const float *dwt = base + 3 * Opad;
    for (int64_t o = 0; o < d->O; o++)
      for (int64_t t = 0; t < d->K; t++) dw->data[o * d->K + t] += dwt[t * Opad + o];
    if (db)
      for (int64_t o = 0; o < d->O; o++) db->data[o] += (float)dbp[o];
  }
  lc_tensor_release(&work);
  if (j.failed) return lc_fail(e, "%s", j.err.msg);
  return 0;
}

/* ---- tiny maps: the taps that only read padding dropped ---- */

/* ResNet-18 on 32x32 images ends with 2x2 and 1x1 maps under 3x3 pad-1 kernels: at 1x1
 * only the centre tap ever reads the input, at 2x2 each output reads 4 of its 9 taps, so
 * im2col + GEMM multiplies mostly zeros (9x and 2.25x the useful work). Here each output
 * position p runs its own products over the taps that land inside the input. In the
 * channels-last layouts these are plain strided matrices, one GEMM per kernel row of the
 * valid rectangle, whose taps are adjacent pixels of one input row:
 *   xt  [N, H*W, C]       the input, channels last
 *   wt  [O, KH*KW, C]     the weights, taps before channels (only taps some output reads)
 *   yt  [N, P, O]         the output (or dy), channels last
 *   yt[:, p, :] += xt[:, pixel(p, i, j0..j1), :] [N, (j1-j0)*C] @ wt[:, i*KW + j0..j1, :]^T
 * Dimension letters as at the top of the file; T = KH*KW taps. */

/* The taps [k0, k1) of a kernel dim that read inside the input for output coordinate o. */
static void tiny_taps(int64_t o, int64_t stride, int64_t pad, int64_t in, int64_t k, int64_t *k0, int64_t *k1) {
  int64_t start = o * stride - pad;  /* input coordinate of tap 0 */
  *k0 = start < 0 ? -start : 0;
  *k1 = in - start < k ? in - start : k;
  if (*k1 < *k0) *k1 = *k0;
}

/* The (output position, tap) pairs that read the input, of P*KH*KW: times N*O*C, the
 * multiply-adds the tiny-map algorithm does. */
static int64_t tiny_useful_taps(const conv_dims *d, const lc_conv2d_params *p) {
  int64_t rows = 0, cols = 0, i0, i1;
  for (int64_t oh = 0; oh < d->OH; oh++) tiny_taps(oh, p->stride_h, p->pad_h, d->H, d->KH, &i0, &i1), rows += i1 - i0;
  for (int64_t ow = 0; ow < d->OW; ow++) tiny_taps(ow, p->stride_w, p->pad_w, d->W, d->KW, &i0, &i1), cols += i1 - i0;
  return rows * cols;
}

static int tiny_possible(const conv_dims *d, const lc_conv2d_params *p) {
  return d->G == 1 && p->dilation_h == 1 && p->dilation_w == 1 && d->KH * d->KW <= TINY_MAX_TAPS;
}

/* Chosen (after Winograd, which takes the 3x3 stride-1 layers with enough channels and
 * pixels) for output maps of at most 16 positions, and of at most 64 with at most 64
 * input channels: ResNet-18's 2x2 and 1x1 maps and its 3x3/2 layers on 32x32 images,
 * where im2col's short rows, the output copies and the batch split's per-part weight
 * gradients cost more than the products. Measured with batch 64, 1 thread, ms forward /
 * backward, im2col + GEMM -> this: 64->128 3x3/2 on 8x8 4.2 / 8.1 -> 3.0 / 5.9 (2 threads,
 * backward 9.0 -> 4.9); 128->256 3x3/2 on 4x4 4.3 / 7.9 -> 2.4 / 4.8; 128->128 3x3 on 4x4
 * unpadded (every tap useful) 2.9 / 4.9 -> 1.7 / 3.3; 64->64 3x3 on 8x8 8.5 / 15.8 -> 5.0
 * / 8.3 (Winograd there: 2.6 / 7.9); 128->128 3x3 on 4x4 8.9 / 18.9 -> 4.3 / 8.2
 * (Winograd 2.4 / 9.2); 128->256 3x3 on 8x8 even with GEMM (36.9 / 69.4); on 16x16 maps
 * GEMM won. */
#define TINY_MAX_P 16
#define TINY_MAX_P_FEW_CHANNELS 64
#define TINY_FEW_CHANNELS 64
static int tiny_chosen(const conv_dims *d, const lc_conv2d_params *p) {
  if (p->algo != LC_CONV_AUTO || !tiny_possible(d, p) || d->KH * d->KW == 1) return 0;
  return d->P <= TINY_MAX_P || (d->P <= TINY_MAX_P_FEW_CHANNELS && d->C <= TINY_FEW_CHANNELS);
}

/* dst [A, B] (rows B apart) = src [B, A] transposed, for each of `n` matrices. */
static void transpose_each(float *dst, const float *src, int64_t n, int64_t B, int64_t A) {
  for (int64_t m = 0; m < n; m++) {
    const float *s = src + m * A * B;
    float *t = dst + m * A * B;
    for (int64_t b = 0; b < B; b++)
      for (int64_t a = 0; a < A; a++) t[a * B + b] = s[b * A + a];
  }
}

/* The taps some output reads, as a list of tap numbers i*KW + j; returns their count.
 * list has room for KH*KW entries. */
static int64_t tiny_used_taps(const conv_dims *d, const lc_conv2d_params *p, int64_t *list) {
  unsigned char used[TINY_MAX_TAPS] = {0};
  for (int64_t oh = 0; oh < d->OH; oh++)
    for (int64_t ow = 0; ow < d->OW; ow++) {
      int64_t i0, i1, j0, j1;
      tiny_taps(oh, p->stride_h, p->pad_h, d->H, d->KH, &i0, &i1);
      tiny_taps(ow, p->stride_w, p->pad_w, d->W, d->KW, &j0, &j1);
      for (int64_t i = i0; i < i1; i++)
        for (int64_t j = j0; j < j1; j++) used[i * d->KW + j] = 1;
    }
  int64_t count = 0;
  for (int64_t t = 0; t < d->KH * d->KW; t++)
    if (used[t]) list[count++] = t;
  return count;
}

/* wt [O, T, C] <- w [O, C, T] for output channels [o0, o1) and the taps in the list (the
 * others are never read). */
static void tiny_pack_weights(float *wt, const float *w, const conv_dims *d, const int64_t *taps, int64_t ntaps,
                              int64_t o0, int64_t o1) {
  int64_t T = d->KH * d->KW, C = d->C;
  /* tap by tap, a tight loop over the channels (one strided load, one store each) */
  for (int64_t o = o0; o < o1; o++)
    for (int64_t k = 0; k < ntaps; k++) {
      const float *src = w + o * C * T + taps[k];
      float *dst = wt + (o * T + taps[k]) * C;
      for (int64_t c = 0; c < C; c++) dst[c] = src[c * T];
    }
}

/* For output position q and kernel row i of its valid rectangle: the columns [j0, j1) and
 * the offset in one sample's xt [H*W, C] of the first tap's pixel. Returns 0 when the
 * row has no valid tap. */
static int tiny_row(const conv_dims *d, const lc_conv2d_params *p, int64_t q, int64_t i, int64_t *j0, int64_t *j1,
                    int64_t *xoff) {
  int64_t oh = q / d->OW, ow = q % d->OW, i0, i1;
  tiny_taps(oh, p->stride_h, p->pad_h, d->H, d->KH, &i0, &i1);
  tiny_taps(ow, p->stride_w, p->pad_w, d->W, d->KW, j0, j1);
  if (i < i0 || i >= i1 || *j1 <= *j0) return 0;
  int64_t ih = oh * p->stride_h - p->pad_h + i, iw = ow * p->stride_w - p->pad_w + *j0;
  *xoff = (ih * d->W + iw) * d->C;
  return 1;
}

/* One call's operands. Each pass is one run on the pool: the parts take samples (the
 * layout changes, the forward products, the input gradient) and output channels (the
 * weight packing and the weight gradient), with single-threaded GEMMs: two waits a call
 * each way, not one per product. */
typedef struct tiny_job {
  const conv_dims *d;
  const lc_conv2d_params *p;
  const float *x, *w, *b, *dy, *y;
  float *out, *dx, *dw;
  double *db;                       /* per output channel, for the bias gradient */
  const int64_t *taps;
  int64_t ntaps;
  float *xt, *wt, *yt, *dxt, *dwt;  /* yt holds dy in backward */
  int failed;
  lc_error err;
} tiny_job;

/* c [M, Nc] (rows ldc apart) = op(a) @ op(b) + beta c, single-threaded */
static int tiny_gemm(float *c, int64_t ldc, const float *a, int64_t lda, int ta, const float *b, int64_t ldb, int tb,
                     int64_t M, int64_t Nc, int64_t K, float beta, lc_error *e) {
  lc_tensor tc = mat(c, M, Nc, ldc), tA = ta ? mat(a, K, M, lda) : mat(a, M, K, lda);
  lc_tensor tB = tb ? mat(b, Nc, K, ldb) : mat(b, K, Nc, ldb);
  return lc_gemm(&tc, &tA, ta, &tB, tb, 1.0f, beta, NULL, NULL, e);
}

/* This part's samples [*n0, *n1) and output channels [*o0, *o1) (in 16s). */
static void tiny_ranges(const conv_dims *d, int part, int nparts, long long *n0, long long *n1, long long *o0,
                        long long *o1) {
  lc_split_range(d->N, nparts, part, 1, n0, n1);
  lc_split_range(d->O, nparts, part, 16, o0, o1);
}

/* Forward, first pass: xt for this part's samples, wt for its output channels. */
static void tiny_forward_prepare(void *ctx, int part, int nparts) {
  tiny_job *j = ctx;
  const conv_dims *d = j->d;
  int64_t HW = d->H * d->W;
  long long n0, n1, o0, o1;
  tiny_ranges(d, part, nparts, &n0, &n1, &o0, &o1);
  if (n1 > n0) transpose_each(j->xt + n0 * HW * d->C, j->x + n0 * d->C * HW, n1 - n0, d->C, HW);
  if (o1 > o0) tiny_pack_weights(j->wt, j->w, d, j->taps, j->ntaps, o0, o1);
}

/* Forward, second pass: this part's samples, every output channel, back to [N, O, P]. */
static void tiny_forward_part(void *ctx, int part, int nparts) {
  tiny_job *j = ctx;
  const conv_dims *d = j->d;
  int64_t T = d->KH * d->KW, HW = d->H * d->W;
  long long n0, n1, o0, o1;
  tiny_ranges(d, part, nparts, &n0, &n1, &o0, &o1);
  if (n1 <= n0) return;
  int64_t S = n1 - n0;
  float *yt = j->yt + n0 * d->P * d->O;
  for (int64_t q = 0; q < d->P; q++) {
    float beta = 0.0f;
    for (int64_t i = 0; i < d->KH; i++) {
      int64_t j0, j1, xoff;
      if (!tiny_row(d, j->p, q, i, &j0, &j1, &xoff)) continue;
      int64_t K = (j1 - j0) * d->C;
      if (tiny_gemm(yt + q * d->O, d->P * d->O, j->xt + n0 * HW * d->C + xoff, HW * d->C, 0,
                    j->wt + (i * d->KW + j0) * d->C, T * d->C, 1, S, d->O, K, beta, &j->err))
        j->failed = 1;
      beta = 1.0f;
    }
    if (beta == 0.0f)  /* no tap reads the input: the output is the bias alone */
      for (int64_t n = 0; n < S; n++) memset(yt + (n * d->P + q) * d->O, 0, sizeof(float) * (size_t)d->O);
  }
  float *y = j->out + n0 * d->O * d->P;
  transpose_each(y, yt, S, d->P, d->O);
  if (j->b || j->p->relu)
    for (int64_t n = 0; n < S; n++)
      for (int64_t o = 0; o < d->O; o++) {
        float bias = j->b ? j->b[o] : 0.0f, *yr = y + (n * d->O + o) * d->P;
        for (int64_t q = 0; q < d->P; q++) {
          float v = yr[q] + bias;
          yr[q] = j->p->relu && v <= 0 ? 0.0f : v;  /* NaN stays NaN */
        }
      }
}

/* Backward, first pass: xt and dy channels last (masked by a fused ReLU) for this part's
 * samples; wt and a zeroed dwt for its output channels. */
static void tiny_backward_prepare(void *ctx, int part, int nparts) {
  tiny_job *j = ctx;
  const conv_dims *d = j->d;
  int64_t T = d->KH * d->KW, HW = d->H * d->W;
  long long n0, n1, o0, o1;
  tiny_ranges(d, part, nparts, &n0, &n1, &o0, &o1);
  if (n1 > n0) {
    transpose_each(j->xt + n0 * HW * d->C, j->x + n0 * d->C * HW, n1 - n0, d->C, HW);
    for (int64_t n = n0; n < n1; n++)
      for (int64_t o = 0; o < d->O; o++) {
        const float *g = j->dy + (n * d->O + o) * d->P, *yr = j->p->relu ? j->y + (n * d->O + o) * d->P : NULL;
        for (int64_t q = 0; q < d->P; q++) j->yt[(n * d->P + q) * d->O + o] = yr && !(yr[q] > 0) ? 0.0f : g[q];
      }
  }
  if (o1 > o0 && j->dx) tiny_pack_weights(j->wt, j->w, d, j->taps, j->ntaps, o0, o1);
  for (int64_t o = o0; o < o1; o++)
    for (int64_t k = 0; k < j->ntaps; k++) memset(j->dwt + (o * T + j->taps[k]) * d->C, 0, sizeof(float) * (size_t)d->C);
}

/* Backward, second pass. Output channels [o0, o1): dwt[o, taps] = sum over q of
 * dy_q^T [O, N] @ xt[:, pixels of q's row] [N, K], added onto dw [O, C, T], and the bias
 * sums. Samples [n0, n1): dxt[n, pixels] += dy_q [n, O] @ wt[:, taps], back to [N, C, H*W]. */
static void tiny_backward_part(void *ctx, int part, int nparts) {
  tiny_job *j = ctx;
  const conv_dims *d = j->d;
  int64_t T = d->KH * d->KW, HW = d->H * d->W;
  long long n0, n1, o0, o1;
  tiny_ranges(d, part, nparts, &n0, &n1, &o0, &o1);
  if (o1 > o0) {
    for (int64_t q = 0; q < d->P; q++)
      for (int64_t i = 0; i < d->KH; i++) {
        int64_t j0, j1, xoff;
        if (!tiny_row(d, j->p, q, i, &j0, &j1, &xoff)) continue;
        int64_t K = (j1 - j0) * d->C;
        if (tiny_gemm(j->dwt + o0 * T * d->C + (i * d->KW + j0) * d->C, T * d->C, j->yt + q * d->O + o0, d->P * d->O,
                      1, j->xt + xoff, HW * d->C, 0, o1 - o0, K, d->N, 1.0f, &j->err))
          j->failed = 1;
      }
    for (int64_t o = o0; o < o1; o++)
      for (int64_t k = 0; k < j->ntaps; k++) {
        float *dst = j->dw + o * d->C * T + j->taps[k];
        const float *src = j->dwt + (o * T + j->taps[k]) * d->C;
        for (int64_t c = 0; c < d->C; c++) dst[c * T] += src[c];
      }
    if (j->db) {
      for (int64_t o = o0; o < o1; o++) j->db[o] = 0;
      for (int64_t r = 0; r < d->N * d->P; r++)
        for (int64_t o = o0; o < o1; o++) j->db[o] += j->yt[r * d->O + o];
    }
  }
  if (n1 <= n0 || !j->dx) return;
  int64_t S = n1 - n0;
  float *dxt = j->dxt + n0 * HW * d->C;
  memset(dxt, 0, sizeof(float) * (size_t)(S * HW * d->C));
  for (int64_t q = 0; q < d->P; q++)
    for (int64_t i = 0; i < d->KH; i++) {
      int64_t j0, j1, xoff;
      if (!tiny_row(d, j->p, q, i, &j0, &j1, &xoff)) continue;
      int64_t K = (j1 - j0) * d->C;
      if (tiny_gemm(dxt + xoff, HW * d->C, j->yt + n0 * d->P * d->O + q * d->O, d->P * d->O, 0,
                    j->wt + (i * d->KW + j0) * d->C, T * d->C, 0, S, K, d->O, 1.0f, &j->err))
        j->failed = 1;
    }
  transpose_each(j->dx + n0 * d->C * HW, dxt, S, HW, d->C);
}

/* Parts: the pool's threads when there is work for them (multiply-adds) and at least a
 * sample each. */
static int tiny_parts(lc_pool *pool, const conv_dims *d, int64_t macs) {
  int threads = lc_pool_threads(pool);
  if (macs < ((int64_t)1 << 18)) return 1;
  return d->N < threads ? (int)(d->N > 0 ? d->N : 1) : threads;
}

static void tiny_run(lc_pool *pool, int parts, lc_task_fn fn, tiny_job *j) {
  if (parts > 1) lc_pool_run(pool, parts, fn, j);
  else fn(j, 0, 1);
}

static int tiny_forward(lc_tensor *y, const lc_tensor *x, const lc_tensor *w, const lc_tensor *b, const conv_dims *d,
                        const lc_conv2d_params *p, lc_allocator *scratch, lc_pool *pool, lc_error *e) {
  int64_t T = d->KH * d->KW, HW = d->H * d->W;
  int64_t taps[TINY_MAX_TAPS], ntaps = tiny_used_taps(d, p, taps);
  lc_tensor work = {0};
  int64_t shape[1] = {d->N * HW * d->C + d->O * T * d->C + d->N * d->P * d->O};
  if (lc_tensor_init(&work, scratch, 1, shape, e)) return -1;
  tiny_job j = {.d = d, .p = p, .x = x->data, .w = w->data, .b = b ? b->data : NULL, .out = y->data, .taps = taps,
                .ntaps = ntaps};
  j.xt = work.data, j.wt = j.xt + d->N * HW * d->C, j.yt = j.wt + d->O * T * d->C;
  int parts = tiny_parts(pool, d, d->N * d->O * d->C * tiny_useful_taps(d, p));
  tiny_run(pool, parts, tiny_forward_prepare, &j);
  tiny_run(pool, parts, tiny_forward_part, &j);
  lc_tensor_release(&work);
  return j.failed ? lc_fail(e, "%s", j.err.msg) : 0;
}

static int tiny_backward(lc_tensor *dx, lc_tensor *dw, lc_tensor *db, const lc_tensor *dy, const lc_tensor *y,
                         const lc_tensor *x, const lc_tensor *w, const conv_dims *d, const lc_conv2d_params *p,
                         lc_allocator *scratch, lc_pool *pool, lc_error *e) {
  int64_t T = d->KH * d->KW, HW = d->H * d->W;
  int64_t taps[TINY_MAX_TAPS], ntaps = tiny_used_taps(d, p, taps);
  lc_tensor work = {0};
  int64_t xsize = d->N * HW * d->C, wsize = d->O * T * d->C, dbsize = db ? 2 * d->O : 0;  /* doubles as 2 floats */
  int64_t shape[1] = {dbsize + 2 * xsize + 2 * wsize + d->N * d->P * d->O};
  if (lc_tensor_init(&work, scratch, 1, shape, e)) return -1;
  tiny_job j = {.d = d, .p = p, .x = x->data, .w = w->data, .dy = dy->data, .y = p->relu ? y->data : NULL,
                .dx = dx ? dx->data : NULL, .dw = dw->data, .db = db ? (double *)work.data : NULL, .taps = taps,
                .ntaps = ntaps};
  j.xt = work.data + dbsize, j.dxt = j.xt + xsize, j.wt = j.dxt + xsize, j.dwt = j.wt + wsize, j.yt = j.dwt + wsize;
  int parts = tiny_parts(pool, d, d->N * d->O * d->C * tiny_useful_taps(d, p));
  tiny_run(pool, parts, tiny_backward_prepare, &j);
  tiny_run(pool, parts, tiny_backward_part, &j);
  if (db)
    for (int64_t o = 0; o < d->O; o++) db->data[o] += (float)j.db[o];
  lc_tensor_release(&work);
  return j.failed ? lc_fail(e, "%s", j.err.msg) : 0;
}

/* ---- entry points ---- */

int lc_conv2d_algo(const lc_tensor *x, const lc_tensor *w, const lc_conv2d_params *p) {
  conv_dims d;
  if (x->ndim != 4 || w->ndim != 4 || lc_conv2d_output_size(x->shape[1], x->shape[2], x->shape[3], w->shape, p, &d.OH, &d.OW, NULL))
    return -1;
  d.N = x->shape[0], d.C = x->shape[1], d.H = x->shape[2], d.W = x->shape[3], d.O = w->shape[0];
  d.KH = w->shape[2], d.KW = w->shape[3], d.G = p->groups, d.Cg = d.C / d.G, d.Og = d.O / d.G;
  d.K = d.Cg * d.KH * d.KW, d.P = d.OH * d.OW;
  return choose_algo(&d, p);
}

int64_t lc_conv2d_cols_numel(const lc_tensor *x, const lc_tensor *w, const lc_conv2d_params *p) {
  int64_t OH, OW;
  if (x->ndim != 4 || w->ndim != 4 || lc_conv2d_output_size(x->shape[1], x->shape[2], x->shape[3], w->shape, p, &OH, &OW, NULL))
    return -1;
  int algo = lc_conv2d_algo(x, w, p);
  if (algo != LC_CONV_GEMM) return 0;
  return x->shape[0] * x->shape[1] * w->shape[2] * w->shape[3] * OH * OW;
}

static int check_cols(const char *what, const lc_tensor *cols, const conv_dims *d, lc_error *e) {
  int64_t want = d->N * d->C * d->KH * d->KW * d->P;
  if (!lc_is_contiguous(cols) || lc_numel(cols) != want)
    return lc_fail(e, "%s: the kept columns hold %lld values, expected %lld (contiguous)", what,
                   (long long)lc_numel(cols), (long long)want);
  return 0;
}

int lc_conv2d_forward(lc_tensor *y, const lc_tensor *x, const lc_tensor *w, const lc_tensor *b,
                      const lc_conv2d_params *p, lc_tensor *kept, lc_allocator *scratch, lc_pool *pool, lc_error *e) {
  conv_dims d;
  if (conv_check("conv2d", x, w, y, "output", p, &d, e)) return -1;
  if (b && check_bias("conv2d", "bias", b, d.O, e)) return -1;
  int algo = choose_algo(&d, p);
  if (algo < 0) return algo_failed("conv2d", p, e);
  if (algo == LC_CONV_DIRECT) return d.N ? direct_forward(y, x, w, b, &d, p, scratch, pool, e) : 0;
  if (algo == LC_CONV_WINOGRAD)
    return lc_winograd_forward(y->data, x->data, w->data, b ? b->data : NULL, (int)p->relu, 0, d.N, d.C, d.H, d.W, d.O,
                               p->pad_h, p->pad_w, scratch, pool, e);
  if (algo == LC_CONV_TINY) return d.N ? tiny_forward(y, x, w, b, &d, p, scratch, pool, e) : 0;
  if (kept && check_cols("conv2d", kept, &d, e)) return -1;
  if (d.N == 0) return 0;
  int parts = batch_parts(&d, pool);
  conv_job j = {.d = &d, .p = p, .x = x->data, .w = w->data, .b = b ? b->data : NULL, .y = y->data,
                .kept = kept ? kept->data : NULL, .inner = parts > 1 ? NULL : pool};
  lc_tensor cols = {0};
  j.chunk = chunk_samples(&d, (d.N + parts - 1) / parts);
  if (!(is_pointwise(&d, p) && j.chunk == 1)) {
    /* columns [K, S*P] and outputs [Og, S*P] per part */
    int64_t shape[2] = {parts, j.chunk * d.P * (d.K + d.Og)};
    if (lc_tensor_init(&cols, scratch, 2, shape, e)) return -1;
    j.col = cols.data;
    j.col_stride = shape[1];
  }
  if (parts > 1) lc_pool_run(pool, parts, forward_part, &j);
  else forward_part(&j, 0, 1);
  lc_tensor_release(&cols);
  if (j.failed) return lc_fail(e, "%s", j.err.msg);
  return 0;
}

int lc_conv2d_backward(lc_tensor *dx, lc_tensor *dw, lc_tensor *db, const lc_tensor *dy, const lc_tensor *y, const lc_tensor *x,
                       const lc_tensor *w, const lc_conv2d_params *p, const lc_tensor *kept, lc_allocator *scratch,
                       lc_pool *pool, lc_error *e) {
  conv_dims d;
  if (conv_check("conv2d backward", x, w, dy, "output gradient", p, &d, e)) return -1;
  if (check_4d("conv2d backward", "weight gradient", dw, w->shape, e)) return -1;
  if (dx && check_4d("conv2d backward", "input gradient", dx, x->shape, e)) return -1;
  if (db && check_bias("conv2d backward", "bias gradient", db, d.O, e)) return -1;
  if (p->relu && (!y || check_4d("conv2d backward", "output", y, dy->shape, e)))
    return y ? -1 : lc_fail(e, "conv2d backward: a fused ReLU needs the forward's output");
  int algo = choose_algo(&d, p);
  if (algo < 0) return algo_failed("conv2d backward", p, e);
  if (algo == LC_CONV_DIRECT) return d.N ? direct_backward(dx, dw, db, dy, y, x, w, &d, p, scratch, pool, e) : 0;
  if (algo == LC_CONV_TINY) return d.N ? tiny_backward(dx, dw, db, dy, y, x, w, &d, p, scratch, pool, e) : 0;
  int wino = algo == LC_CONV_WINOGRAD;  /* (keeps no columns) */
  if (wino) kept = NULL;
  if (kept && check_cols("conv2d backward", kept, &d, e)) return -1;
  if (d.N == 0) return 0;
  /* a fused ReLU passes dy where the output is positive */
  lc_tensor masked = {0};
  const float *g = dy->data;
  if (p->relu) {
    int64_t shape[1] = {d.N * d.O * d.P};
    if (lc_tensor_init(&masked, scratch, 1, shape, e)) return -1;
    if (lc_direct_available())
      lc_direct_relu_mask(masked.data, dy->data, y->data, shape[0]);
    else
      for (int64_t i = 0; i < shape[0]; i++) masked.data[i] = y->data[i] > 0 ? dy->data[i] : 0.0f;
    g = masked.data;
  }
  /* db += sums of dy over the samples and positions */
  if (db)
    for (int64_t n = 0; n < d.N; n++)
      for (int64_t o = 0; o < d.O; o++) db->data[o] += (float)row_sum(g + (n * d.O + o) * d.P, d.P);
  if (wino) {
    /* both gradients in the Winograd domain: dw from the tiles of x and dy; dx = the
     * masked dy padded by 2 - pad, convolved with w turned around (a full correlation) */
    int rc = lc_winograd_backward_weight(dw->data, g, x->data, d.N, d.C, d.H, d.W, d.O, p->pad_h, p->pad_w, scratch,
                                         pool, e);
    if (!rc && dx)
      rc = lc_winograd_forward(dx->data, g, w->data, NULL, 0, 1, d.N, d.O, d.OH, d.OW, d.C, 2 - p->pad_h, 2 - p->pad_w,
                               scratch, pool, e);
    lc_tensor_release(&masked);
    return rc;
  }
  int parts = batch_parts(&d, pool);
  conv_job j = {.d = &d, .p = p, .x = x->data, .w = w->data, .dy = g, .dx = dx ? dx->data : NULL,
                .kept = kept ? kept->data : NULL, .reuse = kept != NULL, .inner = parts > 1 ? NULL : pool};
  lc_tensor cols = {0}, dws = {0};
  j.chunk = chunk_samples(&d, (d.N + parts - 1) / parts);
  {
    /* columns and their gradient [K, S*P] each, and dy [Og, S*P], per part */
    int64_t shape[2] = {parts, j.chunk * d.P * (2 * d.K + d.Og)};
    if (lc_tensor_init(&cols, scratch, 2, shape, e)) {
      lc_tensor_release(&masked);
      return -1;
    }
    j.col = cols.data;
    j.col_stride = shape[1];
  }
  if (parts > 1) {
    /* each part sums its samples' weight gradients on its own; the sums are added at the end */
    int64_t shape[2] = {parts, d.O * d.K};
    if (lc_tensor_init(&dws, scratch, 2, shape, e)) {
      lc_tensor_release(&cols);
      lc_tensor_release(&masked);
      return -1;
    }
    memset(dws.data, 0, sizeof(float) * (size_t)(parts * d.O * d.K));
    j.dw = dws.data;
    j.dw_stride = d.O * d.K;
    lc_pool_run(pool, parts, backward_part, &j);
    for (int part = 0; part < parts; part++)
      for (int64_t i = 0; i < d.O * d.K; i++) dw->data[i] += dws.data[part * d.O * d.K + i];
  } else {
    j.dw = dw->data;
    backward_part(&j, 0, 1);
  }
  lc_tensor_release(&cols);
  lc_tensor_release(&dws);
  lc_tensor_release(&masked);
  if (j.failed) return lc_fail(e, "%s", j.err.msg);
  return 0;
}

/* ---- the direct loops ---- */

int lc_conv2d_forward_reference(lc_tensor *y, const lc_tensor *x, const lc_tensor *w, const lc_tensor *b,
                                const lc_conv2d_params *p, lc_error *e) {
  conv_dims d;
  if (conv_check("conv2d", x, w, y, "output", p, &d, e)) return -1;
  if (b && check_bias("conv2d", "bias", b, d.O, e)) return -1;
  for (int64_t n = 0; n < d.N; n++)
    for (int64_t o = 0; o < d.O; o++)
      for (int64_t oh = 0; oh < d.OH; oh++)
        for (int64_t ow = 0; ow < d.OW; ow++) {
          int64_t g = o / d.Og;
          double s = b ? b->data[o] : 0;
          for (int64_t c = 0; c < d.Cg; c++)
            for (int64_t i = 0; i < d.KH; i++)
              for (int64_t k = 0; k < d.KW; k++) {
                int64_t ih = oh * p->stride_h - p->pad_h + i * p->dilation_h;
                int64_t iw = ow * p->stride_w - p->pad_w + k * p->dilation_w;
                if (ih < 0 || ih >= d.H || iw < 0 || iw >= d.W) continue;
                s += (double)w->data[((o * d.Cg + c) * d.KH + i) * d.KW + k] *
                     x->data[((n * d.C + g * d.Cg + c) * d.H + ih) * d.W + iw];
              }
          y->data[((n * d.O + o) * d.OH + oh) * d.OW + ow] = p->relu && s <= 0 ? 0.0f : (float)s;
        }
  return 0;
}

int lc_conv2d_backward_reference(lc_tensor *dx, lc_tensor *dw, lc_tensor *db, const lc_tensor *dy,
                                 const lc_tensor *x, const lc_tensor *w, const lc_conv2d_params *p, lc_error *e) {
  conv_dims d;
  if (conv_check("conv2d backward", x, w, dy, "output gradient", p, &d, e)) return -1;
  if (check_4d("conv2d backward", "weight gradient", dw, w->shape, e)) return -1;
  if (dx && check_4d("conv2d backward", "input gradient", dx, x->shape, e)) return -1;
  if (db && check_bias("conv2d backward", "bias gradient", db, d.O, e)) return -1;
  /* each gradient element is one double sum over everything it touches (a gather, unlike
   * the fast kernels' scatter through col2im) */
  for (int64_t o = 0; o < d.O; o++) {
    int64_t g = o / d.Og;
    if (db) {
      double s = 0;
      for (int64_t n = 0; n < d.N; n++)
        for (int64_t q = 0; q < d.P; q++) s += dy->data[(n * d.O + o) * d.P + q];
      db->data[o] += (float)s;
    }
    for (int64_t c = 0; c < d.Cg; c++)
      for (int64_t i = 0; i < d.KH; i++)
        for (int64_t k = 0; k < d.KW; k++) {
          double s = 0;
          for (int64_t n = 0; n < d.N; n++)
            for (int64_t oh = 0; oh < d.OH; oh++)
              for (int64_t ow = 0; ow < d.OW; ow++) {
                int64_t ih = oh * p->stride_h - p->pad_h + i * p->dilation_h;
                int64_t iw = ow * p->stride_w - p->pad_w + k * p->dilation_w;
                if (ih < 0 || ih >= d.H || iw < 0 || iw >= d.W) continue;
                s += (double)dy->data[((n * d.O + o) * d.OH + oh) * d.OW + ow] *
                     x->data[((n * d.C + g * d.Cg + c) * d.H + ih) * d.W + iw];
              }
          dw->data[((o * d.Cg + c) * d.KH + i) * d.KW + k] += (float)s;
        }
  }
  if (!dx) return 0;
  for (int64_t n = 0; n < d.N; n++)
    for (int64_t ci = 0; ci < d.C; ci++)
      for (int64_t ih = 0; ih < d.H; ih++)
        for (int64_t iw = 0; iw < d.W; iw++) {
          int64_t g = ci / d.Cg, c = ci % d.Cg;
          double s = 0;
          for (int64_t o = g * d.Og; o < (g + 1) * d.Og; o++)
            for (int64_t i = 0; i < d.KH; i++)
              for (int64_t k = 0; k < d.KW; k++) {
                /* the output position (oh, ow) whose tap (i, k) reads input (ih, iw), if any */
                int64_t th = ih + p->pad_h - i * p->dilation_h, tw = iw + p->pad_w - k * p->dilation_w;
                if (th < 0 || tw < 0 || th % p->stride_h || tw % p->stride_w) continue;
                int64_t oh = th / p->stride_h, ow = tw / p->stride_w;
                if (oh >= d.OH || ow >= d.OW) continue;
                s += (double)dy->data[((n * d.O + o) * d.OH + oh) * d.OW + ow] *
                     w->data[((o * d.Cg + c) * d.KH + i) * d.KW + k];
              }
          dx->data[((n * d.C + ci) * d.H + ih) * d.W + iw] = (float)s;
        }
  return 0;
}
