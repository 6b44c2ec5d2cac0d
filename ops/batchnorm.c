/* Dimension letters as in batchnorm.h: channel c's values are x[n*C*S + c*S + s]. */
#include "batchnorm.h"

#include <math.h>
#include <string.h>

#include "simd.h"

static int check_vec(const char *what, const char *name, const lc_tensor *t, int64_t C, lc_error *e) {
  char s[100];
  if (t->ndim != 1 || t->shape[0] != C || !lc_is_contiguous(t))
    return lc_fail(e, "%s: %s has shape %s, expected [%lld] (contiguous)", what, name,
                   lc_shape_str(s, sizeof s, t->ndim, t->shape), (long long)C);
  return 0;
}

static int check_like(const char *what, const char *name, const lc_tensor *t, const lc_tensor *x, lc_error *e) {
  char s1[100], s2[100];
  if (!lc_same_shape(t, x) || !lc_is_contiguous(t))
    return lc_fail(e, "%s: %s has shape %s, expected %s (contiguous)", what, name,
                   lc_shape_str(s1, sizeof s1, t->ndim, t->shape), lc_shape_str(s2, sizeof s2, x->ndim, x->shape));
  return 0;
}

static int check_input(const char *what, const lc_tensor *x, int64_t *N, int64_t *C, int64_t *S, lc_error *e) {
  char s[100];
  if (x->ndim < 2)
    return lc_fail(e, "%s: input has shape %s, expected [N,C] or [N,C,H,W]", what,
                   lc_shape_str(s, sizeof s, x->ndim, x->shape));
  if (!lc_is_contiguous(x)) return lc_fail(e, "%s: input must be contiguous", what);
  *N = x->shape[0], *C = x->shape[1], *S = 1;
  for (int d = 2; d < x->ndim; d++) *S *= x->shape[d];
  return 0;
}

typedef struct bn_job {
  int64_t N, C, S;
  const float *x, *dy, *gamma, *beta;
  float *y, *dx, *rmean, *rvar, *mean, *invstd, *dgamma, *dbeta;
  int training;
  float momentum, eps;
} bn_job;

/* The per-channel passes. A channel's values are N runs of S contiguous floats, `stride`
 * (C*S) apart. Sums are float in 8 lanes and go into double every few runs (at most ~64
 * terms per lane in between: ResNet's 1x1 and 2x2 maps have runs of 1 and 4 floats, and
 * a horizontal sum per run would cost more than the run). The squares are taken about a
 * shift, the channel's first value, so the variance does not come from the difference of
 * two large sums (E[x^2] - E[x]^2 loses every digit when the mean is far above the
 * spread). Two passes over x forward (statistics, then y = (x - mean)*a + b), two over x
 * and dy backward (sums, then dx): the fewest when the statistics of all of x precede
 * any output. */
typedef struct chan_ops {
  void (*sums)(const float *x, int64_t N, int64_t stride, int64_t S, float shift, double *s, double *q);
  void (*affine)(float *y, const float *x, int64_t N, int64_t stride, int64_t S, float mean, float a, float b);
  void (*grad_sums)(const float *x, const float *g, int64_t N, int64_t stride, int64_t S, float mean, double *sdy,
                    double *sdxm);
  void (*grad)(float *d, const float *x, const float *g, int64_t N, int64_t stride, int64_t S, float k, float mean,
               float u, float v);
} chan_ops;

static void sums_scalar(const float *x, int64_t N, int64_t stride, int64_t S, float shift, double *s, double *q) {
  double a = 0, b = 0;
  for (int64_t n = 0; n < N; n++)
    for (int64_t i = 0; i < S; i++) {
      double v = (double)x[n * stride + i] - shift;
      a += v, b += v * v;
    }
  *s += a, *q += b;
}

/* y = (x - mean) * a + b: x * a + (b - mean * a) would cancel when the mean is large */
static void affine_scalar(float *y, const float *x, int64_t N, int64_t stride, int64_t S, float mean, float a,
                          float b) {
  for (int64_t n = 0; n < N; n++)
    for (int64_t i = 0; i < S; i++) y[n * stride + i] = (x[n * stride + i] - mean) * a + b;
}

static void grad_sums_scalar(const float *x, const float *g, int64_t N, int64_t stride, int64_t S, float mean,
                             double *sdy, double *sdxm) {
  double a = 0, b = 0;
  for (int64_t n = 0; n < N; n++)
    for (int64_t i = 0; i < S; i++) a += g[n * stride + i], b += (double)g[n * stride + i] * (x[n * stride + i] - mean);
  *sdy += a, *sdxm += b;
}

/* dx = k*dy - (x - mean)*u - v */
static void grad_scalar(float *d, const float *x, const float *g, int64_t N, int64_t stride, int64_t S, float k,
                        float mean, float u, float v) {
  for (int64_t n = 0; n < N; n++)
    for (int64_t i = 0; i < S; i++) {
      int64_t o = n * stride + i;
      d[o] = g[o] * k - (x[o] - mean) * u - v;
    }
}

#if LC_HAVE_AVX2
#define AVX2_FN static __attribute__((target("avx2")))
#define AVX2_INLINE static inline __attribute__((always_inline, target("avx2")))

AVX2_INLINE double hsum(__m256 v) {
  __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  h = _mm_add_ps(h, _mm_movehl_ps(h, h));
  h = _mm_add_ss(h, _mm_movehdup_ps(h));
  return (double)_mm_cvtss_f32(h);
}

/* runs between two flushes of the float lanes into double */
static int64_t flush_every(int64_t S) {
  int64_t per_run = (S + 7) / 8, runs = 64 / per_run;
  return runs < 1 ? 1 : runs;
}

AVX2_FN void sums_avx2(const float *x, int64_t N, int64_t stride, int64_t S, float shift, double *s, double *q) {
  __m256 k = _mm256_set1_ps(shift), s0 = _mm256_setzero_ps(), s1 = s0, q0 = s0, q1 = s0;
  __m256i tail = lc_first_lanes(S % 8);
  int64_t every = flush_every(S);
  for (int64_t n = 0; n < N; n++) {
    const float *r = x + n * stride;
    int64_t i = 0;
    for (; i + 16 <= S; i += 16) {
      __m256 v0 = _mm256_sub_ps(_mm256_loadu_ps(r + i), k), v1 = _mm256_sub_ps(_mm256_loadu_ps(r + i + 8), k);
      s0 = _mm256_add_ps(s0, v0), s1 = _mm256_add_ps(s1, v1);
      q0 = _mm256_add_ps(q0, _mm256_mul_ps(v0, v0)), q1 = _mm256_add_ps(q1, _mm256_mul_ps(v1, v1));
    }
    if (i + 8 <= S) {
      __m256 v = _mm256_sub_ps(_mm256_loadu_ps(r + i), k);
      s0 = _mm256_add_ps(s0, v), q0 = _mm256_add_ps(q0, _mm256_mul_ps(v, v));
      i += 8;
    }
    if (i < S) {
      /* lanes past the end read 0 and must not count as -shift */
      __m256 v = _mm256_and_ps(_mm256_sub_ps(_mm256_maskload_ps(r + i, tail), k), _mm256_castsi256_ps(tail));
      s1 = _mm256_add_ps(s1, v), q1 = _mm256_add_ps(q1, _mm256_mul_ps(v, v));
    }
    if ((n + 1) % every == 0 || n + 1 == N) {
      *s += hsum(_mm256_add_ps(s0, s1)), *q += hsum(_mm256_add_ps(q0, q1));
      s0 = s1 = q0 = q1 = _mm256_setzero_ps();
    }
  }
}

AVX2_FN void affine_avx2(float *y, const float *x, int64_t N, int64_t stride, int64_t S, float mean, float a,
                         float b) {
  __m256 mu = _mm256_set1_ps(mean), va = _mm256_set1_ps(a), vb = _mm256_set1_ps(b);
  __m256i tail = lc_first_lanes(S % 8);
  for (int64_t n = 0; n < N; n++) {
    const float *r = x + n * stride;
    float *o = y + n * stride;
    int64_t i = 0;
    for (; i + 8 <= S; i += 8)
      _mm256_storeu_ps(o + i, _mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(r + i), mu), va), vb));
    if (i < S)
      _mm256_maskstore_ps(o + i, tail,
                          _mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(_mm256_maskload_ps(r + i, tail), mu), va), vb));
  }
}

AVX2_FN void grad_sums_avx2(const float *x, const float *g, int64_t N, int64_t stride, int64_t S, float mean,
                            double *sdy, double *sdxm) {
  __m256 mu = _mm256_set1_ps(mean), a0 = _mm256_setzero_ps(), a1 = a0, b0 = a0, b1 = a0;
  __m256i tail = lc_first_lanes(S % 8);
  int64_t every = flush_every(S);
  for (int64_t n = 0; n < N; n++) {
    const float *r = x + n * stride, *gr = g + n * stride;
    int64_t i = 0;
    for (; i + 16 <= S; i += 16) {
      __m256 g0 = _mm256_loadu_ps(gr + i), g1 = _mm256_loadu_ps(gr + i + 8);
      a0 = _mm256_add_ps(a0, g0), a1 = _mm256_add_ps(a1, g1);
      b0 = _mm256_add_ps(b0, _mm256_mul_ps(g0, _mm256_sub_ps(_mm256_loadu_ps(r + i), mu)));
      b1 = _mm256_add_ps(b1, _mm256_mul_ps(g1, _mm256_sub_ps(_mm256_loadu_ps(r + i + 8), mu)));
    }
    if (i + 8 <= S) {
      __m256 gv = _mm256_loadu_ps(gr + i);
      a0 = _mm256_add_ps(a0, gv);
      b0 = _mm256_add_ps(b0, _mm256_mul_ps(gv, _mm256_sub_ps(_mm256_loadu_ps(r + i), mu)));
      i += 8;
    }
    if (i < S) {
      __m256 gv = _mm256_maskload_ps(gr + i, tail);  /* 0 past the end: adds nothing */
      a1 = _mm256_add_ps(a1, gv);
      b1 = _mm256_add_ps(b1, _mm256_mul_ps(gv, _mm256_sub_ps(_mm256_maskload_ps(r + i, tail), mu)));
    }
    if ((n + 1) % every == 0 || n + 1 == N) {
      *sdy += hsum(_mm256_add_ps(a0, a1)), *sdxm += hsum(_mm256_add_ps(b0, b1));
      a0 = a1 = b0 = b1 = _mm256_setzero_ps();
    }
  }
}

AVX2_FN void grad_avx2(float *d, const float *x, const float *g, int64_t N, int64_t stride, int64_t S, float k,
                       float mean, float u, float v) {
  __m256 vk = _mm256_set1_ps(k), mu = _mm256_set1_ps(mean), vu = _mm256_set1_ps(u), vv = _mm256_set1_ps(v);
  __m256i tail = lc_first_lanes(S % 8);
  for (int64_t n = 0; n < N; n++) {
    const float *r = x + n * stride, *gr = g + n * stride;
    float *o = d + n * stride;
    int64_t i = 0;
    for (; i + 8 <= S; i += 8) {
      __m256 t = _mm256_sub_ps(_mm256_mul_ps(_mm256_loadu_ps(gr + i), vk),
                               _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(r + i), mu), vu));
      _mm256_storeu_ps(o + i, _mm256_sub_ps(t, vv));
    }
    if (i < S) {
      __m256 t = _mm256_sub_ps(_mm256_mul_ps(_mm256_maskload_ps(gr + i, tail), vk),
                               _mm256_mul_ps(_mm256_sub_ps(_mm256_maskload_ps(r + i, tail), mu), vu));
      _mm256_maskstore_ps(o + i, tail, _mm256_sub_ps(t, vv));
    }
  }
}
#endif

static chan_ops ops_for(void) {
#if LC_HAVE_AVX2
  if (lc_cpu_has_avx2(0)) return (chan_ops){sums_avx2, affine_avx2, grad_sums_avx2, grad_avx2};
#endif
  return (chan_ops){sums_scalar, affine_scalar, grad_sums_scalar, grad_scalar};
}

static void forward_part(void *ctx, int part, int nparts) {
  const bn_job *j = ctx;
  long long cb, ce;
  lc_split_range(j->C, nparts, part, 1, &cb, &ce);
  int64_t M = j->N * j->S, stride = j->C * j->S;
  chan_ops f = ops_for();
  for (int64_t c = cb; c < ce; c++) {
    const float *xc = j->x + c * j->S;
    float mean, invstd;
    if (j->training) {
      double s = 0, q = 0;
      float shift = xc[0];
      f.sums(xc, j->N, stride, j->S, shift, &s, &q);
      double ms = s / (double)M;              /* the mean's offset from the shift */
      double var = q / (double)M - ms * ms;
      if (var < 0) var = 0;
      mean = (float)(shift + ms);
      invstd = (float)(1.0 / sqrt(var + j->eps));
      j->rmean[c] = (1 - j->momentum) * j->rmean[c] + j->momentum * mean;
      j->rvar[c] = (1 - j->momentum) * j->rvar[c] + j->momentum * (float)(var * (double)M / (double)(M - 1));
    } else {
      mean = j->rmean[c];
      invstd = (float)(1.0 / sqrt((double)j->rvar[c] + j->eps));
    }
    j->mean[c] = mean, j->invstd[c] = invstd;
    f.affine(j->y + c * j->S, xc, j->N, stride, j->S, mean, invstd * j->gamma[c], j->beta[c]);
  }
}

static void backward_part(void *ctx, int part, int nparts) {
  const bn_job *j = ctx;
  long long cb, ce;
  lc_split_range(j->C, nparts, part, 1, &cb, &ce);
  int64_t M = j->N * j->S, stride = j->C * j->S;
  chan_ops f = ops_for();
  for (int64_t c = cb; c < ce; c++) {
    const float *xc = j->x + c * j->S, *gc = j->dy + c * j->S;
    double sdy = 0, sdxm = 0;  /* sums of dy and of dy * (x - mean) */
    float mean = j->mean[c], invstd = j->invstd[c];
    f.grad_sums(xc, gc, j->N, stride, j->S, mean, &sdy, &sdxm);
    double sdyx = sdxm * invstd;  /* sum of dy * xhat */
    j->dbeta[c] += (float)sdy;
    j->dgamma[c] += (float)sdyx;
    if (!j->dx) continue;
    float k = j->gamma[c] * invstd;
    float mdy = j->training ? (float)(sdy / (double)M) : 0, mdyx = j->training ? (float)(sdyx / (double)M) : 0;
    /* dx = k * (dy - mdy - (x - mean) * invstd * mdyx) */
    f.grad(j->dx + c * j->S, xc, gc, j->N, stride, j->S, k, mean, k * invstd * mdyx, k * mdy);
  }
}

static void run(lc_pool *pool, bn_job *j, lc_task_fn fn) {
  int threads = lc_pool_threads(pool);
  int parts = j->N * j->C * j->S < (1 << 15) ? 1 : (j->C < threads ? (int)j->C : threads);
  if (parts > 1) lc_pool_run(pool, parts, fn, j);
  else fn(j, 0, 1);
}

int lc_batchnorm_forward(lc_tensor *y, const lc_tensor *x, const lc_tensor *gamma, const lc_tensor *beta,
                         lc_tensor *running_mean, lc_tensor *running_var, lc_tensor *save_mean, lc_tensor *save_invstd,
                         int training, float momentum, float eps, lc_pool *pool, lc_error *e) {
  const char *what = "batchnorm";
  int64_t N = 0, C = 0, S = 0;
  if (check_input(what, x, &N, &C, &S, e) || check_like(what, "output", y, x, e) ||
      check_vec(what, "weight", gamma, C, e) || check_vec(what, "bias", beta, C, e) ||
      check_vec(what, "running mean", running_mean, C, e) || check_vec(what, "running variance", running_var, C, e) ||
      check_vec(what, "saved mean", save_mean, C, e) || check_vec(what, "saved invstd", save_invstd, C, e))
    return -1;
  if (!(eps > 0)) return lc_fail(e, "%s: eps must be positive, got %g", what, (double)eps);
  if (!(momentum >= 0 && momentum <= 1)) return lc_fail(e, "%s: momentum must be in [0, 1], got %g", what, (double)momentum);
  if (training && N * S < 2)
    return lc_fail(e, "%s: training needs more than one value per channel, got input %lldx%lld per channel", what,
                   (long long)N, (long long)S);
  if (C == 0) return 0;
  bn_job j = {N, C, S, x->data, NULL, gamma->data, beta->data, y->data, NULL, running_mean->data, running_var->data,
              save_mean->data, save_invstd->data, NULL, NULL, training, momentum, eps};
  run(pool, &j, forward_part);
  return 0;
}

int lc_batchnorm_backward(lc_tensor *dx, lc_tensor *dgamma, lc_tensor *dbeta, const lc_tensor *dy, const lc_tensor *x,
                          const lc_tensor *gamma, const lc_tensor *save_mean, const lc_tensor *save_invstd,
                          int training, lc_pool *pool, lc_error *e) {
  const char *what = "batchnorm backward";
  int64_t N = 0, C = 0, S = 0;
  if (check_input(what, x, &N, &C, &S, e) || check_like(what, "output gradient", dy, x, e) ||
      (dx && check_like(what, "input gradient", dx, x, e)) || check_vec(what, "weight", gamma, C, e) ||
      check_vec(what, "weight gradient", dgamma, C, e) || check_vec(what, "bias gradient", dbeta, C, e) ||
      check_vec(what, "saved mean", save_mean, C, e) || check_vec(what, "saved invstd", save_invstd, C, e))
    return -1;
  if (C == 0) return 0;
  bn_job j = {N, C, S, x->data, dy->data, gamma->data, NULL, NULL, dx ? dx->data : NULL, NULL, NULL,
              save_mean->data, save_invstd->data, dgamma->data, dbeta->data, training, 0, 0};
  run(pool, &j, backward_part);
  return 0;
}
