/* Dimension letters as in batchnorm.h: channel c's values are x[n*C*S + c*S + s]. */
#include "batchnorm.h"

#include <math.h>
#include <string.h>

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

static void forward_part(void *ctx, int part, int nparts) {
  const bn_job *j = ctx;
  long long cb, ce;
  lc_split_range(j->C, nparts, part, 1, &cb, &ce);
  int64_t M = j->N * j->S;
  for (int64_t c = cb; c < ce; c++) {
    float mean, invstd;
    if (j->training) {
      /* two passes in double: the mean, then the squared deviations from it */
      double s = 0, q = 0;
      for (int64_t n = 0; n < j->N; n++) {
        const float *r = j->x + (n * j->C + c) * j->S;
        for (int64_t i = 0; i < j->S; i++) s += r[i];
      }
      double m = s / (double)M;
      for (int64_t n = 0; n < j->N; n++) {
        const float *r = j->x + (n * j->C + c) * j->S;
        for (int64_t i = 0; i < j->S; i++) q += (r[i] - m) * (r[i] - m);
      }
      double var = q / (double)M;
      mean = (float)m;
      invstd = (float)(1.0 / sqrt(var + j->eps));
      j->rmean[c] = (1 - j->momentum) * j->rmean[c] + j->momentum * mean;
      j->rvar[c] = (1 - j->momentum) * j->rvar[c] + j->momentum * (float)(var * (double)M / (double)(M - 1));
    } else {
      mean = j->rmean[c];
      invstd = (float)(1.0 / sqrt((double)j->rvar[c] + j->eps));
    }
    j->mean[c] = mean, j->invstd[c] = invstd;
    float a = invstd * j->gamma[c], b = j->beta[c] - mean * a;  /* y = x * a + b */
    for (int64_t n = 0; n < j->N; n++) {
      const float *r = j->x + (n * j->C + c) * j->S;
      float *o = j->y + (n * j->C + c) * j->S;
      for (int64_t i = 0; i < j->S; i++) o[i] = r[i] * a + b;
    }
  }
}

static void backward_part(void *ctx, int part, int nparts) {
  const bn_job *j = ctx;
  long long cb, ce;
  lc_split_range(j->C, nparts, part, 1, &cb, &ce);
  int64_t M = j->N * j->S;
  for (int64_t c = cb; c < ce; c++) {
    double sdy = 0, sdyx = 0;
    float mean = j->mean[c], invstd = j->invstd[c];
    for (int64_t n = 0; n < j->N; n++) {
      const float *r = j->x + (n * j->C + c) * j->S, *g = j->dy + (n * j->C + c) * j->S;
      for (int64_t i = 0; i < j->S; i++) {
        sdy += g[i];
        sdyx += (double)g[i] * ((r[i] - mean) * invstd);
      }
    }
    j->dbeta[c] += (float)sdy;
    j->dgamma[c] += (float)sdyx;
    if (!j->dx) continue;
    float k = j->gamma[c] * invstd;
    float mdy = j->training ? (float)(sdy / (double)M) : 0, mdyx = j->training ? (float)(sdyx / (double)M) : 0;
    for (int64_t n = 0; n < j->N; n++) {
      const float *r = j->x + (n * j->C + c) * j->S, *g = j->dy + (n * j->C + c) * j->S;
      float *d = j->dx + (n * j->C + c) * j->S;
      for (int64_t i = 0; i < j->S; i++) d[i] = k * (g[i] - mdy - (r[i] - mean) * invstd * mdyx);
    }
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
