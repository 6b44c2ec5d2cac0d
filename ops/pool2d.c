/* Dimension letters as in pool2d.h; a plane is one (sample, channel) pair, H*W floats. */
#include "pool2d.h"

#include <math.h>
#include <string.h>

#include "simd.h"

int64_t lc_pool_out_size(int64_t in, int64_t k, int64_t stride, int64_t pad, int64_t ceil_mode) {
  int64_t span = in + 2 * pad - k;
  /* rounding toward -inf (floor) or +inf (ceil) also for a negative span */
  int64_t q = ceil_mode ? (span >= 0 ? (span + stride - 1) / stride : -(-span / stride))
                        : (span >= 0 ? span / stride : -((-span + stride - 1) / stride));
  int64_t out = q + 1;
  /* the last window must start inside the input or the left/top padding */
  if (ceil_mode && out > 0 && (out - 1) * stride >= in + pad) out--;
  return out;
}

int lc_pool2d_output_size(const char *what, int64_t H, int64_t W, const lc_pool2d_params *p, int64_t *OH,
                          int64_t *OW, lc_error *e) {
  if (p->kernel_h < 1 || p->kernel_w < 1)
    return lc_fail(e, "%s: kernel size must be at least 1, got %lldx%lld", what, (long long)p->kernel_h,
                   (long long)p->kernel_w);
  if (p->stride_h < 1 || p->stride_w < 1)
    return lc_fail(e, "%s: stride must be at least 1, got %lldx%lld", what, (long long)p->stride_h,
                   (long long)p->stride_w);
  if (p->pad_h < 0 || p->pad_w < 0)
    return lc_fail(e, "%s: padding must not be negative, got %lldx%lld", what, (long long)p->pad_h,
                   (long long)p->pad_w);
  if (2 * p->pad_h > p->kernel_h || 2 * p->pad_w > p->kernel_w)
    return lc_fail(e, "%s: padding %lldx%lld must be at most half the kernel %lldx%lld", what, (long long)p->pad_h,
                   (long long)p->pad_w, (long long)p->kernel_h, (long long)p->kernel_w);
  if (H < 1 || W < 1) return lc_fail(e, "%s: input is empty (%lldx%lld)", what, (long long)H, (long long)W);
  *OH = lc_pool_out_size(H, p->kernel_h, p->stride_h, p->pad_h, p->ceil_mode);
  *OW = lc_pool_out_size(W, p->kernel_w, p->stride_w, p->pad_w, p->ceil_mode);
  /* floor mode: exactly when the kernel exceeds the padded input; ceil mode forgives
   * up to stride - 1 more, as PyTorch does */
  if (*OH < 1 || *OW < 1)
    return lc_fail(e, "%s: kernel %lldx%lld is larger than the padded input %lldx%lld (%lldx%lld plus padding %lldx%lld%s)",
                   what, (long long)p->kernel_h, (long long)p->kernel_w, (long long)(H + 2 * p->pad_h),
                   (long long)(W + 2 * p->pad_w), (long long)H, (long long)W, (long long)p->pad_h, (long long)p->pad_w,
                   p->ceil_mode ? ", ceil mode" : "");
  return 0;
}

/* Checks x [N,C,H,W] (xname) against y [N,C,OH,OW] (yname). */
static int check(const char *what, const lc_tensor *x, const char *xname, const lc_tensor *y, const char *yname,
                 const lc_pool2d_params *p, int64_t *OH, int64_t *OW, lc_error *e) {
  char s1[100], s2[100];
  if (x->ndim != 4)
    return lc_fail(e, "%s: %s has shape %s, expected 4 dims [N,C,H,W]", what, xname,
                   lc_shape_str(s1, sizeof s1, x->ndim, x->shape));
  if (lc_pool2d_output_size(what, x->shape[2], x->shape[3], p, OH, OW, e)) return -1;
  int64_t want[4] = {x->shape[0], x->shape[1], *OH, *OW};
  if (y->ndim != 4 || memcmp(y->shape, want, sizeof want))
    return lc_fail(e, "%s: %s has shape %s, expected %s", what, yname, lc_shape_str(s1, sizeof s1, y->ndim, y->shape),
                   lc_shape_str(s2, sizeof s2, 4, want));
  if (!lc_is_contiguous(x) || !lc_is_contiguous(y)) return lc_fail(e, "%s: tensors must be contiguous", what);
  return 0;
}

typedef struct pool_job {
  const lc_pool2d_params *p;
  int64_t planes, H, W, OH, OW;
  const float *x, *dy;
  float *y, *dx;
} pool_job;

/* The window of output (oh, ow) clipped to the input: rows [*h0, *h1), columns [*w0, *w1). */
static void window(const pool_job *j, int64_t oh, int64_t ow, int64_t *h0, int64_t *h1, int64_t *w0, int64_t *w1) {
  int64_t hs = oh * j->p->stride_h - j->p->pad_h, ws = ow * j->p->stride_w - j->p->pad_w;
  int64_t he = hs + j->p->kernel_h, we = ws + j->p->kernel_w;
  *h0 = hs < 0 ? 0 : hs, *w0 = ws < 0 ? 0 : ws;
  *h1 = he > j->H ? j->H : he, *w1 = we > j->W ? j->W : we;
}

/* The average's divisor for the window of output (oh, ow), clipped to [h0, h1) x [w0, w1). */
static float avg_divisor(const pool_job *j, int64_t oh, int64_t ow, int64_t h0, int64_t h1, int64_t w0, int64_t w1) {
  const lc_pool2d_params *p = j->p;
  if (p->exclude_pad) return (float)((h1 - h0) * (w1 - w0));
  int64_t hs = oh * p->stride_h - p->pad_h, ws = ow * p->stride_w - p->pad_w;
  int64_t he = hs + p->kernel_h, we = ws + p->kernel_w;
  if (he > j->H + p->pad_h) he = j->H + p->pad_h;
  if (we > j->W + p->pad_w) we = j->W + p->pad_w;
  return (float)((he - hs) * (we - ws));
}

/* Index in the plane of the window's maximum: the first one, or the first NaN. */
static int64_t argmax(const pool_job *j, const float *plane, int64_t oh, int64_t ow) {
  int64_t h0, h1, w0, w1, best = -1;
  float m = -INFINITY;
  window(j, oh, ow, &h0, &h1, &w0, &w1);
  for (int64_t h = h0; h < h1; h++)
    for (int64_t w = w0; w < w1; w++) {
      float v = plane[h * j->W + w];
      if (best < 0 || v > m || isnan(v)) {
        m = v, best = h * j->W + w;
        if (isnan(v)) return best;
      }
    }
  return best;
}

/* The pooling of almost every CNN (2x2 windows, stride 2, no padding) gets its own
 * loops (AVX2, below): the general window arithmetic costs ~100 instructions per output,
 * and scalar selects mispredict; together a fifth of a LeNet-5 training step. */
static int is_2x2(const pool_job *j) {
  const lc_pool2d_params *p = j->p;
  /* ceil mode on an odd size adds a clipped last window the fast loop would overrun */
  return p->kernel_h == 2 && p->kernel_w == 2 && p->stride_h == 2 && p->stride_w == 2 && p->pad_h == 0 &&
         p->pad_w == 0 && 2 * j->OH <= j->H && 2 * j->OW <= j->W;
}

/* The 2x2 fast path in AVX2: 8 windows of a row pair at once. Even and odd columns are
 * split with shuffles, which leave the windows in the order 0 1 4 5 2 3 6 7; a 64-bit
 * permute (its own inverse) maps the outputs and gradients to and from that order, and
 * unpacklo/hi put the columns back. Same choices as the scalar loops: first maximum,
 * first NaN. */
#if LC_HAVE_AVX2
#define AVX2_INLINE static inline __attribute__((always_inline, target("avx2")))

/* columns of n windows (2n floats) of row r, split into even and odd */
AVX2_INLINE void load_cols(const float *r, int64_t n, __m256 *even, __m256 *odd) {
  __m256 a, b;
  if (n == 8) {
    a = _mm256_loadu_ps(r), b = _mm256_loadu_ps(r + 8);
  } else {
    a = _mm256_maskload_ps(r, lc_first_lanes(2 * n));
    b = n > 4 ? _mm256_maskload_ps(r + 8, lc_first_lanes(2 * n - 8)) : _mm256_setzero_ps();
  }
  *even = _mm256_shuffle_ps(a, b, 0x88), *odd = _mm256_shuffle_ps(a, b, 0xDD);
}

AVX2_INLINE __m256 swap_mid(__m256 v) { return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(v), 0xD8)); }

/* lanes where candidate v replaces the maximum m so far: m is a number and v is larger or NaN */
AVX2_INLINE __m256 takes(__m256 m, __m256 v) {
  __m256 bigger = _mm256_or_ps(_mm256_cmp_ps(v, m, _CMP_GT_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
  return _mm256_and_ps(_mm256_cmp_ps(m, m, _CMP_ORD_Q), bigger);
}

__attribute__((target("avx2"))) static void max2x2_rows(float *o, const float *r0, const float *r1, int64_t OW) {
  for (int64_t w = 0; w < OW; w += 8) {
    int64_t n = OW - w < 8 ? OW - w : 8;
    __m256 e0, o0, e1, o1;
    load_cols(r0 + 2 * w, n, &e0, &o0);
    load_cols(r1 + 2 * w, n, &e1, &o1);
    __m256 m = e0;
    m = _mm256_blendv_ps(m, o0, takes(m, o0));
    m = _mm256_blendv_ps(m, e1, takes(m, e1));
    m = _mm256_blendv_ps(m, o1, takes(m, o1));
    m = swap_mid(m);
    if (n == 8) _mm256_storeu_ps(o + w, m);
    else _mm256_maskstore_ps(o + w, lc_first_lanes(n), m);
  }
}

AVX2_INLINE void store_cols(float *d, int64_t n, __m256 even, __m256 odd) {
  __m256 a = _mm256_unpacklo_ps(even, odd), b = _mm256_unpackhi_ps(even, odd);
  if (n == 8) {
    _mm256_storeu_ps(d, a), _mm256_storeu_ps(d + 8, b);
  } else {
    _mm256_maskstore_ps(d, lc_first_lanes(2 * n), a);
    if (n > 4) _mm256_maskstore_ps(d + 8, lc_first_lanes(2 * n - 8), b);
  }
}

__attribute__((target("avx2"))) static void max2x2_back_rows(float *d0, float *d1, const float *r0, const float *r1,
                                                             const float *g, int64_t OW) {
  for (int64_t w = 0; w < OW; w += 8) {
    int64_t n = OW - w < 8 ? OW - w : 8;
    __m256 e0, o0, e1, o1;
    load_cols(r0 + 2 * w, n, &e0, &o0);
    load_cols(r1 + 2 * w, n, &e1, &o1);
    /* s0..s3: which of the four places holds the window's maximum */
    __m256 m = e0, s0 = _mm256_castsi256_ps(_mm256_set1_epi32(-1)), t;
    t = takes(m, o0), m = _mm256_blendv_ps(m, o0, t);
    __m256 s1 = t;
    s0 = _mm256_andnot_ps(t, s0);
    t = takes(m, e1), m = _mm256_blendv_ps(m, e1, t);
    __m256 s2 = t;
    s0 = _mm256_andnot_ps(t, s0), s1 = _mm256_andnot_ps(t, s1);
    t = takes(m, o1);
    __m256 s3 = t;
    s0 = _mm256_andnot_ps(t, s0), s1 = _mm256_andnot_ps(t, s1), s2 = _mm256_andnot_ps(t, s2);
    __m256 gv = n == 8 ? _mm256_loadu_ps(g + w) : _mm256_maskload_ps(g + w, lc_first_lanes(n));
    gv = swap_mid(gv);
    store_cols(d0 + 2 * w, n, _mm256_and_ps(gv, s0), _mm256_and_ps(gv, s1));
    store_cols(d1 + 2 * w, n, _mm256_and_ps(gv, s2), _mm256_and_ps(gv, s3));
  }
}

/* Max pooling with stride 2 along rows and windows up to 8x8 (ResNet's 3x3/s2 pad-1 pool
 * after the stem): 8 outputs of a row at once. Each input row the window reads is copied
 * into a buffer with -inf where the padding and the clipped edge are, so every tap is two
 * plain loads whose even lanes are that tap's inputs for the 8 outputs (in the order
 * 0 1 4 5 2 3 6 7, undone at the end by swap_mid). Taps are taken in the scalar order
 * (rows, then columns; first maximum, first NaN), so the value and the winning tap are
 * the scalar loops'. A window whose maximum is -inf may have let a padding cell win:
 * such a row is left to the scalar loops. */
#define S2_MAX_W 1024
#define S2_MAX_K 8
#define S2_BUF (2 * S2_MAX_W + 2 * 16 + S2_MAX_K + 16)

static int is_s2(const pool_job *j) {
  const lc_pool2d_params *p = j->p;
  return p->stride_w == 2 && p->kernel_w <= S2_MAX_K && p->kernel_h <= S2_MAX_K && j->W <= S2_MAX_W &&
         j->OW <= S2_MAX_W;
}

/* buf <- row r of the plane at column offset pad_w, -inf around it */
static void s2_pad_row(float *buf, const float *row, const pool_job *j) {
  int64_t pw = j->p->pad_w, width = 2 * (j->OW + 8) + j->p->kernel_w + 16;
  for (int64_t i = 0; i < pw; i++) buf[i] = -INFINITY;
  memcpy(buf + pw, row, sizeof(float) * (size_t)j->W);
  for (int64_t i = pw + j->W; i < width; i++) buf[i] = -INFINITY;
}

/* Output row oh of a plane: the maxima into out, the winning taps (r*KW + c over the
 * whole window) into win (may be NULL). rows: S2_MAX_K buffers. Returns 0 when some
 * window's maximum is -inf (the caller redoes the row with the scalar loops). */
__attribute__((target("avx2"))) static int max_s2_row(const pool_job *j, const float *plane, int64_t oh,
                                                       float (*rows)[S2_BUF], float *out, int32_t *win) {
  const lc_pool2d_params *p = j->p;
  int64_t hs = oh * p->stride_h - p->pad_h, r0 = hs < 0 ? -hs : 0;
  int64_t r1 = j->H - hs < p->kernel_h ? j->H - hs : p->kernel_h;
  for (int64_t r = r0; r < r1; r++) s2_pad_row(rows[r], plane + (hs + r) * j->W, j);
  int ok = 1;
  for (int64_t w = 0; w < j->OW; w += 8) {
    int64_t n = j->OW - w < 8 ? j->OW - w : 8;
    __m256 m = _mm256_set1_ps(-INFINITY), idx = _mm256_set1_ps(-1.0f);
    for (int64_t r = r0; r < r1; r++)
      for (int64_t c = 0; c < p->kernel_w; c++) {
        const float *src = rows[r] + 2 * w + c;
        __m256 v = _mm256_shuffle_ps(_mm256_loadu_ps(src), _mm256_loadu_ps(src + 8), 0x88);
        __m256 t = takes(m, v);
        m = _mm256_blendv_ps(m, v, t);
        idx = _mm256_blendv_ps(idx, _mm256_set1_ps((float)(r * p->kernel_w + c)), t);
      }
    m = swap_mid(m), idx = swap_mid(idx);
    __m256i lanes = lc_first_lanes(n);
    int bad = _mm256_movemask_ps(_mm256_and_ps(_mm256_cmp_ps(m, _mm256_set1_ps(-INFINITY), _CMP_EQ_OQ),
                                               _mm256_castsi256_ps(lanes)));
    if (bad) ok = 0;
    if (out) _mm256_maskstore_ps(out + w, lanes, m);
    if (win) _mm256_maskstore_epi32(win + w, lanes, _mm256_cvtps_epi32(idx));
  }
  return ok;
}
#endif

static void max_forward_part(void *ctx, int part, int nparts) {
  const pool_job *j = ctx;
  long long b, e;
  lc_split_range(j->planes, nparts, part, 1, &b, &e);
#if LC_HAVE_AVX2
  if (is_2x2(j) && lc_cpu_has_avx2(0)) {
    for (int64_t n = b; n < e; n++)
      for (int64_t oh = 0; oh < j->OH; oh++) {
        const float *r0 = j->x + (n * j->H + 2 * oh) * j->W;
        max2x2_rows(j->y + (n * j->OH + oh) * j->OW, r0, r0 + j->W, j->OW);
      }
    return;
  }
  int s2 = is_s2(j) && lc_cpu_has_avx2(0);
  float rows[S2_MAX_K][S2_BUF];
#endif
  for (int64_t n = b; n < e; n++) {
    const float *plane = j->x + n * j->H * j->W;
    float *out = j->y + n * j->OH * j->OW;
    for (int64_t oh = 0; oh < j->OH; oh++) {
#if LC_HAVE_AVX2
      if (s2 && max_s2_row(j, plane, oh, rows, out + oh * j->OW, NULL)) continue;
#endif
      for (int64_t ow = 0; ow < j->OW; ow++) out[oh * j->OW + ow] = plane[argmax(j, plane, oh, ow)];
    }
  }
}

static void max_backward_part(void *ctx, int part, int nparts) {
  const pool_job *j = ctx;
  long long b, e;
  lc_split_range(j->planes, nparts, part, 1, &b, &e);
#if LC_HAVE_AVX2
  int fast = is_2x2(j) && lc_cpu_has_avx2(0), s2 = !fast && is_s2(j) && lc_cpu_has_avx2(0);
  float rows[S2_MAX_K][S2_BUF];
  int32_t win[S2_MAX_W];
#endif
  for (int64_t n = b; n < e; n++) {
    const float *plane = j->x + n * j->H * j->W, *g = j->dy + n * j->OH * j->OW;
    float *d = j->dx + n * j->H * j->W;
#if LC_HAVE_AVX2
    if (fast) {
      /* the windows tile the plane: each writes its four gradients (dy at the maximum,
       * zeros elsewhere), no memset and no scatter; an odd last row or column belongs to
       * no window */
      for (int64_t oh = 0; oh < j->OH; oh++) {
        const float *r0 = plane + 2 * oh * j->W;
        float *d0 = d + 2 * oh * j->W;
        max2x2_back_rows(d0, d0 + j->W, r0, r0 + j->W, g + oh * j->OW, j->OW);
        if (j->W > 2 * j->OW) d0[j->W - 1] = 0.0f, d0[2 * j->W - 1] = 0.0f;
      }
      if (j->H > 2 * j->OH) memset(d + (j->H - 1) * j->W, 0, sizeof(float) * (size_t)j->W);
      continue;
    }
#endif
    memset(d, 0, sizeof(float) * (size_t)(j->H * j->W));
    for (int64_t oh = 0; oh < j->OH; oh++) {
#if LC_HAVE_AVX2
      if (s2 && max_s2_row(j, plane, oh, rows, NULL, win)) {
        /* the winning tap (r, c) of window (oh, ow) is input (hs + r, 2 ow - pad_w + c) */
        int64_t hs = oh * j->p->stride_h - j->p->pad_h, kw = j->p->kernel_w;
        for (int64_t ow = 0; ow < j->OW; ow++) {
          int64_t t = win[ow];
          d[(hs + t / kw) * j->W + 2 * ow - j->p->pad_w + t % kw] += g[oh * j->OW + ow];
        }
        continue;
      }
#endif
      for (int64_t ow = 0; ow < j->OW; ow++) d[argmax(j, plane, oh, ow)] += g[oh * j->OW + ow];
    }
  }
}

static void avg_forward_part(void *ctx, int part, int nparts) {
  const pool_job *j = ctx;
  long long b, e;
  lc_split_range(j->planes, nparts, part, 1, &b, &e);
  for (int64_t n = b; n < e; n++) {
    const float *plane = j->x + n * j->H * j->W;
    float *out = j->y + n * j->OH * j->OW;
    for (int64_t oh = 0; oh < j->OH; oh++)
      for (int64_t ow = 0; ow < j->OW; ow++) {
        int64_t h0, h1, w0, w1;
        window(j, oh, ow, &h0, &h1, &w0, &w1);
        double s = 0;
        for (int64_t h = h0; h < h1; h++)
          for (int64_t w = w0; w < w1; w++) s += plane[h * j->W + w];
        out[oh * j->OW + ow] = (float)s * (1.0f / avg_divisor(j, oh, ow, h0, h1, w0, w1));
      }
  }
}

static void avg_backward_part(void *ctx, int part, int nparts) {
  const pool_job *j = ctx;
  long long b, e;
  lc_split_range(j->planes, nparts, part, 1, &b, &e);
  for (int64_t n = b; n < e; n++) {
    const float *g = j->dy + n * j->OH * j->OW;
    float *d = j->dx + n * j->H * j->W;
    memset(d, 0, sizeof(float) * (size_t)(j->H * j->W));
    for (int64_t oh = 0; oh < j->OH; oh++)
      for (int64_t ow = 0; ow < j->OW; ow++) {
        int64_t h0, h1, w0, w1;
        window(j, oh, ow, &h0, &h1, &w0, &w1);
        float v = g[oh * j->OW + ow] * (1.0f / avg_divisor(j, oh, ow, h0, h1, w0, w1));
        for (int64_t h = h0; h < h1; h++)
          for (int64_t w = w0; w < w1; w++) d[h * j->W + w] += v;
      }
  }
}

/* Splits the planes over the pool when there is enough work (elements read) to share. */
static void run_planes(lc_pool *pool, int64_t planes, int64_t work, lc_task_fn fn, void *ctx) {
  int threads = lc_pool_threads(pool);
  int parts = work < (1 << 14) ? 1 : (planes < threads ? (int)planes : threads);
  if (parts > 1) lc_pool_run(pool, parts, fn, ctx);
  else if (planes > 0) fn(ctx, 0, 1);
}

static void run(lc_pool *pool, pool_job *j, lc_task_fn fn) {
  run_planes(pool, j->planes, j->planes * j->OH * j->OW * j->p->kernel_h * j->p->kernel_w, fn, j);
}

static pool_job job_of(const lc_pool2d_params *p, const lc_tensor *x, int64_t OH, int64_t OW) {
  pool_job j = {p, x->shape[0] * x->shape[1], x->shape[2], x->shape[3], OH, OW, NULL, NULL, NULL, NULL};
  return j;
}

int lc_maxpool2d_forward(lc_tensor *y, const lc_tensor *x, const lc_pool2d_params *p, lc_pool *pool, lc_error *e) {
  int64_t OH, OW;
  if (check("maxpool2d", x, "input", y, "output", p, &OH, &OW, e)) return -1;
  pool_job j = job_of(p, x, OH, OW);
  j.x = x->data, j.y = y->data;
  run(pool, &j, max_forward_part);
  return 0;
}

int lc_maxpool2d_backward(lc_tensor *dx, const lc_tensor *dy, const lc_tensor *x, const lc_pool2d_params *p,
                          lc_pool *pool, lc_error *e) {
  int64_t OH, OW;
  char s1[100], s2[100];
  if (check("maxpool2d backward", x, "input", dy, "output gradient", p, &OH, &OW, e)) return -1;
  if (!lc_same_shape(dx, x) || !lc_is_contiguous(dx))
    return lc_fail(e, "maxpool2d backward: input gradient has shape %s, expected %s (contiguous)",
                   lc_shape_str(s1, sizeof s1, dx->ndim, dx->shape), lc_shape_str(s2, sizeof s2, x->ndim, x->shape));
  pool_job j = job_of(p, x, OH, OW);
  j.x = x->data, j.dy = dy->data, j.dx = dx->data;
  run(pool, &j, max_backward_part);
  return 0;
}

int lc_avgpool2d_forward(lc_tensor *y, const lc_tensor *x, const lc_pool2d_params *p, lc_pool *pool, lc_error *e) {
  int64_t OH, OW;
  if (check("avgpool2d", x, "input", y, "output", p, &OH, &OW, e)) return -1;
  pool_job j = job_of(p, x, OH, OW);
  j.x = x->data, j.y = y->data;
  run(pool, &j, avg_forward_part);
  return 0;
}

int lc_avgpool2d_backward(lc_tensor *dx, const lc_tensor *dy, const lc_pool2d_params *p, lc_pool *pool, lc_error *e) {
  int64_t OH, OW;
  if (check("avgpool2d backward", dx, "input gradient", dy, "output gradient", p, &OH, &OW, e)) return -1;
  pool_job j = job_of(p, dx, OH, OW);
  j.dy = dy->data, j.dx = dx->data;
  run(pool, &j, avg_backward_part);
  return 0;
}

/* ---- adaptive average pooling ---- */

typedef struct adaptive_job {
  int64_t planes, H, W, OH, OW;
  const float *x, *dy;
  float *y, *dx;
} adaptive_job;

/* Output i of `out` over an input of n covers [ad_start, ad_end): floor(i n / out) and
 * ceil((i + 1) n / out). */
static inline int64_t ad_start(int64_t i, int64_t n, int64_t out) { return i * n / out; }
static inline int64_t ad_end(int64_t i, int64_t n, int64_t out) { return ((i + 1) * n + out - 1) / out; }

static void adaptive_forward_part(void *ctx, int part, int nparts) {
  const adaptive_job *j = ctx;
  long long b, e;
  lc_split_range(j->planes, nparts, part, 1, &b, &e);
  for (int64_t n = b; n < e; n++) {
    const float *plane = j->x + n * j->H * j->W;
    float *out = j->y + n * j->OH * j->OW;
    for (int64_t oh = 0; oh < j->OH; oh++) {
      int64_t h0 = ad_start(oh, j->H, j->OH), h1 = ad_end(oh, j->H, j->OH);
      for (int64_t ow = 0; ow < j->OW; ow++) {
        int64_t w0 = ad_start(ow, j->W, j->OW), w1 = ad_end(ow, j->W, j->OW);
        double s = 0;
        for (int64_t h = h0; h < h1; h++)
          for (int64_t w = w0; w < w1; w++) s += plane[h * j->W + w];
        out[oh * j->OW + ow] = (float)(s / (double)((h1 - h0) * (w1 - w0)));
      }
    }
  }
}

static void adaptive_backward_part(void *ctx, int part, int nparts) {
  const adaptive_job *j = ctx;
  long long b, e;
  lc_split_range(j->planes, nparts, part, 1, &b, &e);
  for (int64_t n = b; n < e; n++) {
    const float *g = j->dy + n * j->OH * j->OW;
    float *d = j->dx + n * j->H * j->W;
    memset(d, 0, sizeof(float) * (size_t)(j->H * j->W));
    for (int64_t oh = 0; oh < j->OH; oh++) {
      int64_t h0 = ad_start(oh, j->H, j->OH), h1 = ad_end(oh, j->H, j->OH);
      for (int64_t ow = 0; ow < j->OW; ow++) {
        int64_t w0 = ad_start(ow, j->W, j->OW), w1 = ad_end(ow, j->W, j->OW);
        float v = g[oh * j->OW + ow] / (float)((h1 - h0) * (w1 - w0));
        for (int64_t h = h0; h < h1; h++)
          for (int64_t w = w0; w < w1; w++) d[h * j->W + w] += v;
      }
    }
  }
}

/* in [N,C,H,W] (inname) against out [N,C,OH,OW] (outname): same N and C, no empty plane. */
static int adaptive_check(const char *what, const lc_tensor *in, const char *inname, const lc_tensor *out,
                          const char *outname, adaptive_job *j, lc_error *e) {
  char s1[100], s2[100];
  if (in->ndim != 4)
    return lc_fail(e, "%s: %s has shape %s, expected 4 dims [N,C,H,W]", what, inname,
                   lc_shape_str(s1, sizeof s1, in->ndim, in->shape));
  if (out->ndim != 4 || out->shape[0] != in->shape[0] || out->shape[1] != in->shape[1])
    return lc_fail(e, "%s: %s has shape %s, expected [%lld,%lld,OH,OW] for the %s of shape %s", what, outname,
                   lc_shape_str(s1, sizeof s1, out->ndim, out->shape), (long long)in->shape[0],
                   (long long)in->shape[1], inname, lc_shape_str(s2, sizeof s2, in->ndim, in->shape));
  if (in->shape[2] < 1 || in->shape[3] < 1)
    return lc_fail(e, "%s: %s is empty (%lldx%lld)", what, inname, (long long)in->shape[2], (long long)in->shape[3]);
  if (out->shape[2] < 1 || out->shape[3] < 1)
    return lc_fail(e, "%s: output size must be at least 1x1, got %lldx%lld", what, (long long)out->shape[2],
                   (long long)out->shape[3]);
  if (!lc_is_contiguous(in) || !lc_is_contiguous(out)) return lc_fail(e, "%s: tensors must be contiguous", what);
  *j = (adaptive_job){in->shape[0] * in->shape[1], in->shape[2], in->shape[3], out->shape[2], out->shape[3],
                      NULL, NULL, NULL, NULL};
  return 0;
}

int lc_adaptive_avgpool2d_forward(lc_tensor *y, const lc_tensor *x, lc_pool *pool, lc_error *e) {
  adaptive_job j;
  if (adaptive_check("adaptive_avgpool2d", x, "input", y, "output", &j, e)) return -1;
  j.x = x->data, j.y = y->data;
  /* the window lengths along a dim add up to at most H + OH (each rounds out by < 1 per end) */
  run_planes(pool, j.planes, j.planes * (j.H + j.OH) * (j.W + j.OW), adaptive_forward_part, &j);
  return 0;
}

int lc_adaptive_avgpool2d_backward(lc_tensor *dx, const lc_tensor *dy, lc_pool *pool, lc_error *e) {
  adaptive_job j;
  if (adaptive_check("adaptive_avgpool2d backward", dx, "input gradient", dy, "output gradient", &j, e)) return -1;
  j.dy = dy->data, j.dx = dx->data;
  run_planes(pool, j.planes, j.planes * (j.H + j.OH) * (j.W + j.OW), adaptive_backward_part, &j);
  return 0;
}
