#include "optim.h"

#include "simd.h"

#include <math.h>

/* Each optimizer's arguments; the update runs on ranges [begin, end) of the parameters. */
typedef struct step_args {
  float *p, *v, *m, *s;
  const float *g;
  int64_t n;
  float lr, momentum, weight_decay, beta1, beta2, eps, rho, lr_t, decay;
  int nesterov;
  void (*range)(const struct step_args *a, int64_t begin, int64_t end);
} step_args;

/* Chunks of at least this many parameters per thread, aligned to cache lines. */
#define STEP_PARALLEL_MIN 32768
#define STEP_ALIGN 16

/* Optimizer state decays geometrically where a gradient stays 0 (weights of pixels that
 * are always blank), down into denormal floats, which the CPU handles ~100x slower:
 * 4% of Adam's moments on MNIST made the whole step 3x slower. Updates run with
 * denormals flushed to zero (FTZ/DAZ), set only around the update and restored after. */
#if defined(__x86_64__) && defined(__SSE__)
#include <xmmintrin.h>
#define FLUSH_DENORMALS_BEGIN \
  unsigned saved_csr_ = _mm_getcsr(); \
  _mm_setcsr(saved_csr_ | 0x8040u);  /* FTZ (bit 15) | DAZ (bit 6) */
#define FLUSH_DENORMALS_END _mm_setcsr(saved_csr_);
#else
#define FLUSH_DENORMALS_BEGIN
#define FLUSH_DENORMALS_END
#endif

static void step_part(void *ctx, int part, int nparts) {
  const step_args *a = ctx;
  long long b, e;
  lc_split_range(a->n, nparts, part, STEP_ALIGN, &b, &e);
  if (e <= b) return;
  FLUSH_DENORMALS_BEGIN
  a->range(a, b, e);
  FLUSH_DENORMALS_END
}

static void run_step(lc_pool *pool, step_args *a) {
  int threads = lc_pool_threads(pool);
  int64_t parts = a->n / STEP_PARALLEL_MIN;
  if (parts > threads) parts = threads;
  if (parts < 1) parts = 1;
  lc_pool_run(pool, (int)parts, step_part, a);
}

LC_VECTOR_CLONES static void sgd_range(const step_args *a, int64_t b, int64_t e) {
  float *p = a->p, *v = a->v;
  const float *g = a->g;
  float lr = a->lr, momentum = a->momentum, wd = a->weight_decay;
  if (momentum == 0.0f || !v) {
    for (int64_t i = b; i < e; i++) p[i] -= lr * (g[i] + wd * p[i]);
    return;
  }
  for (int64_t i = b; i < e; i++) {
    float gi = g[i] + wd * p[i];
    v[i] = momentum * v[i] + gi;
    p[i] -= lr * (a->nesterov ? gi + momentum * v[i] : v[i]);
  }
}

void lc_sgd_step(lc_pool *pool, float *p, const float *g, float *v, int64_t n, float lr, float momentum, int nesterov,
                 float weight_decay) {
  step_args a = {.p = p, .g = g, .v = v, .n = n, .lr = lr, .momentum = momentum, .nesterov = nesterov,
                 .weight_decay = weight_decay, .range = sgd_range};
  run_step(pool, &a);
}

LC_VECTOR_CLONES static void adam_range(const step_args *a, int64_t b, int64_t e) {
  float *p = a->p, *m = a->m, *v = a->v;
  const float *g = a->g;
  float beta1 = a->beta1, beta2 = a->beta2, lr_t = a->lr_t, eps = a->eps, decay = a->decay;
  for (int64_t i = b; i < e; i++) {
    float gi = g[i];
    m[i] = beta1 * m[i] + (1.0f - beta1) * gi;
    v[i] = beta2 * v[i] + (1.0f - beta2) * gi * gi;
    p[i] -= lr_t * m[i] / (sqrtf(v[i]) + eps) + decay * p[i];
  }
}

void lc_adam_step(lc_pool *pool, float *p, const float *g, float *m, float *v, int64_t n, float lr, float beta1,
                  float beta2, float eps, float weight_decay, int64_t t) {
  double bc1 = 1.0 - pow(beta1, (double)t), bc2 = 1.0 - pow(beta2, (double)t);
  step_args a = {.p = p, .g = g, .m = m, .v = v, .n = n, .beta1 = beta1, .beta2 = beta2, .eps = eps,
                 .lr_t = (float)(lr * sqrt(bc2) / bc1), .decay = lr * weight_decay, .range = adam_range};
  run_step(pool, &a);
}

LC_VECTOR_CLONES static void rmsprop_range(const step_args *a, int64_t b, int64_t e) {
  float *p = a->p, *s = a->s, *mom = a->m;
  const float *g = a->g;
  float rho = a->rho, lr = a->lr, eps = a->eps, momentum = a->momentum;
  for (int64_t i = b; i < e; i++) {
    float gi = g[i];
    s[i] = rho * s[i] + (1.0f - rho) * gi * gi;
    float step = lr * gi / (sqrtf(s[i]) + eps);
    if (mom) {
      mom[i] = momentum * mom[i] + step;
      step = mom[i];
    }
    p[i] -= step;
  }
}

void lc_rmsprop_step(lc_pool *pool, float *p, const float *g, float *s, float *mom, int64_t n, float lr, float rho,
                     float eps, float momentum) {
  step_args a = {.p = p, .g = g, .s = s, .m = mom, .n = n, .lr = lr, .rho = rho, .eps = eps, .momentum = momentum,
                 .range = rmsprop_range};
  run_step(pool, &a);
}
